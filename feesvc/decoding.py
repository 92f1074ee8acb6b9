"""How a request's input becomes values: strictly, the same way on every route.

Litestar decodes a JSON body to plain objects and then converts them to the handler's types in
msgspec's lax mode, which takes ``"100.00"``, ``"1e3"`` and ``100.0`` for an integer (a cashier who
types yuan gets fen); it parses a ``{id:int}`` path segment with ``int()``, which takes ``"٣"``,
``"+3"``, ``" 3"`` and any size; and lax mode takes ``"1e3"`` for an integer query parameter.
Configured once for the app (:class:`feesvc.app.FeesvcPlugin`):

- :class:`StrictRequest` decodes a JSON body straight into the handler's ``data`` type in strict
  mode: a JSON integer for an int, a JSON string for a str, nothing coerced; dates within
  FIRST_YEAR … LAST_YEAR; sent as application/json (415 otherwise). One pass instead of
  Litestar's two: with the checks here a payment costs about 5,000 more instructions of 1.4
  million (bench/payments_inprocess.py), less than the benchmark's run-to-run noise.
- :func:`path_id` parses every ``{…:int}`` path segment (all of them are ids): ASCII digits naming
  a possible id, else the route does not match and the answer is 404.
- :func:`refuse_lax_query_values` refuses an integer query parameter that is not ASCII digits, and
  dates outside the years every route takes (bodies: :class:`StrictRequest`).

The bounds themselves (ids within their column, text without control characters) are the shared
types of :mod:`feesvc.schemas`; a refusal names the field and says what to send (``Meta.extra``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date
from typing import Any

import msgspec
from litestar import Request
from litestar.exceptions import ClientException, ValidationException
from litestar.handlers import HTTPRouteHandler
from litestar.params import ParameterKwarg
from litestar.routes import base as litestar_routes
from litestar.status_codes import HTTP_415_UNSUPPORTED_MEDIA_TYPE
from litestar.types import Empty

from feesvc.schemas import FIRST_YEAR, INT8_MAX, LAST_YEAR, PERIOD_PATTERN

_DIGITS = re.compile(r"[0-9]{1,19}")
_JSON_INTEGER = re.compile(r"-?(0|[1-9][0-9]{0,18})")


def path_id(segment: str) -> int:
    """A path's id: ASCII digits, 1 … 2⁶³−1. A ValueError makes Litestar answer 404."""
    if _DIGITS.fullmatch(segment) is None or not 1 <= (value := int(segment)) <= INT8_MAX:
        raise ValueError(f"{segment!r} is not an id")
    return value


def install_path_id_parser() -> None:
    """Parse ``{…:int}`` path segments with :func:`path_id`; routes read the map when they are built."""
    litestar_routes.parsers_map[int] = path_id


class StrictRequest(Request[Any, Any, Any]):
    """A request whose JSON body is decoded in one strict pass into the handler's ``data`` type."""

    async def json(self) -> Any:
        if self._json is Empty:
            media_type = _media_type(self.scope["headers"])
            if media_type != "application/json" and not media_type.endswith("+json"):
                raise ClientException(
                    f"the body must be sent as Content-Type: application/json, not {media_type or 'none'}",
                    status_code=HTTP_415_UNSUPPORTED_MEDIA_TYPE,
                )
            self._json = _decoder(self.route_handler).decode(await self.body() or b"null")
        return self._json


def _media_type(headers: Iterable[tuple[bytes, bytes]]) -> str:
    """The Content-Type's media type, lower case ("" if none), read straight from the ASGI scope
    (ASGI header names are lower case); Litestar's ``content_type`` also parses the parameters,
    which the desk's payments would pay for on every request."""
    for name, value in headers:
        if name == b"content-type":
            return value.split(b";", 1)[0].strip().decode("latin-1").lower()
    return ""


class _BodyDecoder:
    """The route's strict JSON decoder; a refusal names the field and what to send."""

    def __init__(self, target: Any) -> None:
        self.target = target
        self.decoder = msgspec.json.Decoder(target, strict=True)

    def decode(self, body: bytes) -> Any:
        try:
            value = self.decoder.decode(body)
        except msgspec.ValidationError as error:
            raise _refusal(self.target, str(error)) from None
        except msgspec.DecodeError as error:
            message = f"not valid JSON ({error}); send a JSON document in UTF-8"
            raise ValidationException(
                detail=message, extra=[{"key": "body", "message": message, "source": "body"}]
            ) from None
        if (far := _far_day(value, "")) is not None:
            raise ValidationException(detail=f"{far}: {DATE_RANGE}", extra=[_date_refusal(far)])
        return value


DATE_RANGE = f"a date from {FIRST_YEAR}-01-01 to {LAST_YEAR}-12-31 is expected; send YYYY-MM-DD"


def _date_refusal(field: str, source: str = "body") -> dict[str, str]:
    return {"key": field, "message": DATE_RANGE, "source": source}


def _far_day(value: Any, path: str) -> str | None:
    """Where the first date (or time) outside FIRST_YEAR … LAST_YEAR is in a decoded body, if one is:
    msgspec bounds no dates itself. Only fields that can hold a date are looked at."""
    if isinstance(value, date):
        return None if FIRST_YEAR <= value.year <= LAST_YEAR else path.lstrip(".") or "body"
    if isinstance(value, list):
        for index, item in enumerate(value):
            if (far := _far_day(item, f"{path}[{index}]")) is not None:
                return far
    elif isinstance(value, msgspec.Struct):
        for name in _fields_with_days(type(value)):
            item = getattr(value, name)
            if item is not None and (far := _far_day(item, f"{path}.{name}")) is not None:
                return far
    return None


_FIELDS_WITH_DAYS: dict[type, tuple[str, ...]] = {}


def _fields_with_days(struct: type) -> tuple[str, ...]:
    """The fields of ``struct`` that can hold a date, at any depth (the rest need no look)."""
    fields = _FIELDS_WITH_DAYS.get(struct)
    if fields is None:
        info: Any = msgspec.inspect.type_info(struct)
        fields = _FIELDS_WITH_DAYS[struct] = tuple(f.name for f in info.fields if _can_hold_days(f.type, set()))
    return fields


def _can_hold_days(info: Any, seen: set[type]) -> bool:
    inspect = msgspec.inspect
    if isinstance(info, inspect.Metadata):
        return _can_hold_days(info.type, seen)
    if isinstance(info, inspect.UnionType):
        return any(_can_hold_days(t, seen) for t in info.types)
    if isinstance(info, inspect.ListType):
        return _can_hold_days(info.item_type, seen)
    if isinstance(info, inspect.StructType):
        if info.cls in seen:
            return False
        seen.add(info.cls)
        return any(_can_hold_days(f.type, seen) for f in info.fields)
    return isinstance(info, (inspect.DateType, inspect.DateTimeType))


_DECODERS: dict[HTTPRouteHandler, _BodyDecoder] = {}


def _decoder(handler: HTTPRouteHandler) -> _BodyDecoder:
    decoder = _DECODERS.get(handler)
    if decoder is None:
        data = handler.parsed_data_field
        decoder = _DECODERS[handler] = _BodyDecoder(data.annotation if data is not None else Any)
    return decoder


_AT = re.compile(r"^(?P<message>.*?)(?: - at `\$(?P<path>[^`]*)`)?$", re.DOTALL)
# msgspec's wording, as a person sending the request reads it (the hint after it says what to send).
_REWORDED = [
    (re.compile(r"^Expected `str` matching regex '.*'$", re.DOTALL), "Not in the form expected"),
    (re.compile(r"^Invalid RFC3339 encoded date$"), "Not a date"),
    (re.compile(r"^Invalid RFC3339 encoded (datetime|time)$"), "Not a time"),
    (re.compile(r"^Expected `datetime` with a timezone component$"), "A time without its zone"),
    (re.compile(r"^Invalid enum value (?P<value>.*)$", re.DOTALL), r"\g<value> is not one of the allowed values"),
]
DATE_HINT = "a date as YYYY-MM-DD, e.g. 2026-11-30"
PERIOD_HINT = "a month as YYYY-MM, e.g. 2026-11"
TIME_HINT = "a date and time with its zone (RFC 3339), e.g. 2026-11-30T09:30:00+08:00"


def reworded(message: str) -> str:
    for pattern, replacement in _REWORDED:
        if pattern.match(message):
            return pattern.sub(replacement, message)
    return message


def type_hint(info: Any) -> str | None:
    """What to send for a value of this type when its declaration says nothing (``Meta.extra``):
    dates and times by their format, enums and literals by their allowed values."""
    inspect = msgspec.inspect
    if isinstance(info, inspect.DateType):
        return DATE_HINT
    if isinstance(info, inspect.DateTimeType):
        return TIME_HINT
    if isinstance(info, inspect.EnumType):
        return one_of([member.value for member in info.cls])
    if isinstance(info, inspect.LiteralType):
        return one_of(list(info.values))
    return None


def one_of(values: list[Any]) -> str:
    return "one of " + ", ".join(msgspec.json.encode(v).decode() for v in values)


def _refusal(target: Any, error: str) -> ValidationException:
    """msgspec's "Expected `int`, got `str` - at `$.amount_fen`" as a field error saying what to send."""
    match = _AT.match(error)
    assert match is not None  # the pattern matches any text
    message, path = match["message"], match["path"] or ""
    field = path.lstrip(".") or "body"
    send = _hint(target, path)
    if send:
        message = f"{reworded(message)}; send {send}"
    return ValidationException(
        detail=f"{field}: {message}", extra=[{"key": field, "message": message, "source": "body"}]
    )


_STEP = re.compile(r"\.([^.\[]+)|\[(\d+)\]")


def _hint(target: Any, path: str) -> str | None:
    """The ``extra["send"]`` of the type at ``path`` (``.designation.entry_ids[0]``) in ``target``,
    or what the type itself says to send (:func:`type_hint`)."""
    info: Any = msgspec.inspect.type_info(target)
    send: str | None = None
    steps = [m[1] or int(m[2]) for m in _STEP.finditer(path)]
    for step in [*steps, None]:
        while True:  # unwrap to the type the step applies to, noting the innermost hint on the way
            if isinstance(info, msgspec.inspect.Metadata):
                send = (info.extra or {}).get("send", send)
                info = info.type
            elif isinstance(info, msgspec.inspect.UnionType):
                inner = [t for t in info.types if not isinstance(t, msgspec.inspect.NoneType)]
                if len(inner) != 1:
                    return send
                info = inner[0]
            else:
                break
        if step is None:
            return send or type_hint(info)
        if isinstance(step, str) and isinstance(info, msgspec.inspect.StructType):
            fields = {f.encode_name: f.type for f in info.fields}
            if step not in fields:
                return None
            info, send = fields[step], None
        elif isinstance(step, int) and isinstance(info, (msgspec.inspect.ListType, msgspec.inspect.SetType)):
            info, send = info.item_type, None
        else:
            return None
    return send


def _query_keys(handler: HTTPRouteHandler, path_params: dict[str, Any], kind: type) -> list[str]:
    """The query keys of the handler's parameters of type ``kind`` (or ``kind | None``)."""
    keys = []
    for name, field in handler.parsed_fn_signature.parameters.items():
        if name in path_params or name in handler.dependency_name_set:
            continue
        kwarg = field.kwarg_definition
        if isinstance(kwarg, ParameterKwarg) and (kwarg.header or kwarg.cookie):
            continue
        types = (
            [t.annotation for t in field.inner_types if not t.is_none_type] if field.is_union else [field.annotation]
        )
        if kind in types:
            # Parameter(query=…) or QueryParameter(name=…): the key sent, not the handler's name.
            alias = (kwarg.query or getattr(kwarg, "name", None)) if isinstance(kwarg, ParameterKwarg) else None
            keys.append(alias or name)
    return keys


def _parameter(handler: HTTPRouteHandler, key: str) -> Any | None:
    """The handler's parameter sent as ``key`` (a query key, header or path name), if it has one."""
    for name, field in handler.parsed_fn_signature.parameters.items():
        kwarg = field.kwarg_definition
        alias = None
        if isinstance(kwarg, ParameterKwarg):  # Parameter(query=…) or QueryParameter(name=…) and the like
            alias = kwarg.query or kwarg.header or kwarg.cookie or getattr(kwarg, "name", None)
        if (alias or name).lower() == key.lower():  # header names are case-insensitive
            return field
    return None


def _parameter_hint(handler: HTTPRouteHandler, key: str) -> str | None:
    """What to send as the parameter ``key``: its format, allowed values or description."""
    field = _parameter(handler, key)
    if field is None:
        return None
    kwarg = field.kwarg_definition
    if isinstance(kwarg, ParameterKwarg) and kwarg.pattern == PERIOD_PATTERN:
        return PERIOD_HINT
    types = [t.annotation for t in field.inner_types if not t.is_none_type] if field.is_union else [field.annotation]
    if len(types) == 1:
        try:
            hint = type_hint(msgspec.inspect.type_info(types[0]))
        except (TypeError, ValueError):  # not a type msgspec knows; the description says it
            hint = None
        if hint:
            return hint
    description = kwarg.description if isinstance(kwarg, ParameterKwarg) else None
    return description or None


_MISSING = re.compile(r"^Missing required (?P<source>\w+) parameter '(?P<key>[^']+)'")


def explain_parameters(
    request: Request[Any, Any, Any], items: list[dict[str, Any]], detail: str
) -> list[dict[str, Any]]:
    """Litestar's refusals of query parameters, headers and cookies, each saying what to send: a
    format instead of a regex or "RFC3339", the allowed values of an enum; a parameter left out is
    named as a field."""
    try:
        handler = request.route_handler
    except (AttributeError, KeyError):  # refused before a route was found
        return items
    if not items and (missing := _MISSING.match(detail)):
        hint = _parameter_hint(handler, missing["key"])
        message = f"required; send {hint}" if hint else "required"
        return [{"key": missing["key"], "message": message, "source": missing["source"]}]
    explained = []
    for item in items:
        key, message = str(item.get("key") or ""), str(item.get("message") or "")
        if item.get("source") != "body" and "; send " not in message:
            hint = _parameter_hint(handler, key)
            if hint:
                message = f"{reworded(message)}; send {hint}"
        explained.append({**item, "message": message})
    return explained


_QUERY_KEYS: dict[HTTPRouteHandler, tuple[list[str], list[str]]] = {}
_YEAR = re.compile(r"([0-9]{4})-")


async def refuse_lax_query_values(request: Request[Any, Any, Any]) -> None:
    """Before the handler (app-level ``before_request``): integer query values are plain digits and
    dates fall within the years every route takes (Litestar parses both leniently or not at all)."""
    handler = request.route_handler
    keys = _QUERY_KEYS.get(handler)
    if keys is None:
        params = request.path_params
        keys = _QUERY_KEYS[handler] = (_query_keys(handler, params, int), _query_keys(handler, params, date))
    integers, days = keys
    refused = [
        {"key": key, "message": "send an integer in plain digits, e.g. 100", "source": "query"}
        for key in integers
        for value in request.query_params.getall(key, [])
        if _JSON_INTEGER.fullmatch(value) is None
    ]
    refused += [
        _date_refusal(key, "query")
        for key in days
        for value in request.query_params.getall(key, [])
        if (year := _YEAR.match(value)) and not FIRST_YEAR <= int(year[1]) <= LAST_YEAR
    ]
    if refused:
        raise ValidationException(detail="; ".join(f"{r['key']}: {r['message']}" for r in refused), extra=refused)
