"""The OpenAPI document, made to tell the truth in one place, when the app is assembled.

Litestar documents a route's success answer and a 400 in its own error shape. Every error this
service sends is ``application/problem+json`` (:mod:`feesvc.errors`), and which errors a route can
send follows from what the route takes, so :func:`document_operations` walks the built document
with each operation's handler and adds:

- the errors it can answer, each with the one shared ``Problem`` schema: a guard → 401, and 403
  when some role is refused or owners may call (an owner asking for another owner's record); an
  input (path, query, header or body) → 400 (malformed) and 404 (a path or body names no record);
  a body → 413 and 415; a write → 404 and 409 (a conflict with what is recorded, an idempotency
  key reused for another request), and so does a read whose handler names it in
  ``opt["also_answers"]`` (a copy failing its hash); 422 where a business rule of the operation
  can refuse well-formed input, its description naming the rules (:data:`feesvc.refusals.REFUSALS`);
- a summary (the docstring's first sentence) and a description (the docstring, then who may call);
- an example for every request body, built from the body's schema (its fields' own examples
  where they have them); ``tests/test_openapi.py`` decodes each one with the route's own decoder.

:func:`fix_options_allow` makes ``OPTIONS`` name every method of a path (a Litestar bug, below).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from inspect import cleandoc
from typing import Any

import msgspec
from litestar import Litestar
from litestar._openapi.plugin import OpenAPIPlugin
from litestar.enums import ParamType
from litestar.handlers import HTTPRouteHandler
from litestar.openapi.spec import (
    OpenAPI,
    OpenAPIMediaType,
    OpenAPIResponse,
    OpenAPIType,
    Operation,
    Parameter,
    PathItem,
    Reference,
    RequestBody,
    Schema,
)
from litestar.routes import HTTPRoute

from feesvc.auth.guards import GUARD_ROLES
from feesvc.auth.models import Role
from feesvc.errors import PROBLEM_JSON
from feesvc.refusals import REFUSALS
from feesvc.schemas import DATE_YEARS_PATTERN, FIRST_YEAR, LAST_YEAR

PROBLEM = "Problem"
REF_TEMPLATE = "#/components/schemas/{name}"
SAMPLE_TEXT = "示例说明"
WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# Who a role is, in a description.
ROLE_NAMES = {
    Role.manager: "managers",
    Role.cashier: "cashiers",
    Role.system: "the scheduler's system token",
    Role.owner: "owners (their own accounts only)",
}
# What each error answer means, the same on every operation.
ERROR_TEXT = {
    400: "Malformed input: a value of the wrong type, format or range; `errors` names each field and what to send.",
    401: "No valid bearer token (missing, unknown, revoked or expired).",
    403: "The token's role may not call this, or an owner asked for another owner's record.",
    404: "The path, or an id in the request, names no record (or none the caller may see).",
    409: (
        "Nothing was written: the request conflicts with what is recorded (a record already there, a "
        "concurrent write, or an Idempotency-Key already used for another request); read the current state first."
    ),
    413: "The body is larger than the server takes.",
    415: "The body was not sent as `Content-Type: application/json`.",
    422: "Well-formed input that a business rule refuses; `detail` says which rule and what would be accepted.",
    429: "Too many attempts from this phone number or address; `Retry-After` says in how many seconds to try again.",
}
# Errors a route declares itself (``opt={"answers": …}``), beyond those that follow from its input.
SIGN_IN_REFUSED = "The sign-in was refused: a wrong, used or expired code, invitation or refresh token."
ERROR_TITLES = {
    400: "Invalid input",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not found",
    409: "Conflict",
    413: "Request body too large",
    415: "Unsupported media type",
    422: "Invalid input",
    429: "Too many attempts",
}


def problem_schema() -> Schema:
    """RFC 9457 problem details as :func:`feesvc.errors.problem` writes them."""
    field_error = Schema(
        type=OpenAPIType.OBJECT,
        required=["field", "message"],
        properties={
            "field": Schema(type=OpenAPIType.STRING, description="the input at fault: body field, parameter, header"),
            "message": Schema(type=OpenAPIType.STRING, description="what is wrong and what to send"),
        },
    )
    return Schema(
        type=OpenAPIType.OBJECT,
        description="An error, as RFC 9457 problem details (application/problem+json).",
        required=["type", "title", "status", "detail", "instance", "request_id"],
        properties={
            "type": Schema(type=OpenAPIType.STRING, description='always "about:blank"'),
            "title": Schema(type=OpenAPIType.STRING, description="the kind of error"),
            "status": Schema(type=OpenAPIType.INTEGER, description="the HTTP status"),
            "detail": Schema(type=OpenAPIType.STRING, description="what went wrong and what to do"),
            "instance": Schema(type=OpenAPIType.STRING, description="the request's path"),
            "request_id": Schema(
                type=[OpenAPIType.STRING, OpenAPIType.NULL], description="the request's id, as in the server's log"
            ),
            "errors": Schema(type=OpenAPIType.ARRAY, items=field_error, description="one item per field at fault"),
        },
    )


@dataclass(frozen=True)
class Operated:
    """One documented operation with the handler that answers it."""

    path: str
    method: str
    handler: HTTPRouteHandler
    operation: Operation


def operations(app: Litestar, openapi: OpenAPI) -> Iterator[Operated]:
    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        item = (openapi.paths or {}).get(route.path_format or "/")
        if not isinstance(item, PathItem):
            continue
        for method, (handler, _) in route.route_handler_map.items():
            operation = getattr(item, method.lower(), None)
            if isinstance(operation, Operation) and handler.resolve_include_in_schema():
                yield Operated(route.path_format or "/", method, handler, operation)


def allowed_roles(handler: HTTPRouteHandler) -> frozenset[Role]:
    roles = [GUARD_ROLES[guard] for guard in handler.resolve_guards() if guard in GUARD_ROLES]
    if not roles:
        return frozenset()
    return frozenset.intersection(*roles)


def error_statuses(method: str, operation: Operation, roles: frozenset[Role], refuses: bool) -> list[int]:
    """The errors an operation can answer, from what it takes and whether a business rule of its
    can refuse (see the module's docstring)."""
    parameters = [p for p in operation.parameters or [] if not isinstance(p, Reference)]
    body = operation.request_body is not None
    statuses: set[int] = set()
    if roles:
        statuses.add(401)
        if roles != frozenset(Role) or Role.owner in roles:
            statuses.add(403)
    if parameters or body:
        statuses |= {400, 404}
    if body:
        statuses |= {413, 415}
    if method in WRITES:
        statuses |= {404, 409}
    if refuses:
        statuses.add(422)
    return sorted(statuses)


def who_may_call(roles: frozenset[Role]) -> str:
    if not roles:
        return "Who may call: anyone, without a token."
    names = [ROLE_NAMES[role] for role in (Role.manager, Role.cashier, Role.system, Role.owner) if role in roles]
    return "Who may call: " + ", ".join(names) + "."


def summary_of(docstring: str) -> str:
    """The docstring's first sentence, on one line."""
    text = " ".join(docstring.split())
    match = re.match(r"(.+?[.:;])(\s|$)", text)
    first = match.group(1) if match else text
    return first.rstrip(".:;")


def handler_name(handler: HTTPRouteHandler) -> str:
    """The handler as :data:`feesvc.refusals.REFUSALS` names it: module and qualified name."""
    return f"{handler.fn.__module__}.{handler.fn.__qualname__}"


def error_response(status: int, text: str | None = None) -> OpenAPIResponse:
    text = text or ERROR_TEXT[status]
    example = {
        "type": "about:blank",
        "title": ERROR_TITLES[status],
        "status": status,
        "detail": text,
        "instance": "/api/v1/…",
        "request_id": "3f2c9a1e5b7d4c08",
    }
    return OpenAPIResponse(
        description=text,
        content={PROBLEM_JSON: OpenAPIMediaType(schema=Reference(REF_TEMPLATE.format(name=PROBLEM)), example=example)},
    )


class DocumentedOpenAPIPlugin(OpenAPIPlugin):
    """Litestar's OpenAPI plugin, whose document, built on first use, is completed here."""

    __slots__ = ()

    def _build_openapi(self) -> OpenAPI:
        openapi = super()._build_openapi()
        document_operations(self.app, openapi)
        return openapi


def install_documentation(app: Litestar) -> None:
    """Complete the document when Litestar first builds it (the first /schema request or
    ``app.openapi_schema``), not at start-up: building it costs about a second."""
    app.plugins.get(OpenAPIPlugin).__class__ = DocumentedOpenAPIPlugin
    fix_options_allow(app)


def document_operations(app: Litestar, openapi: OpenAPI) -> None:
    """Complete the app's OpenAPI document in place, before it is first served."""
    schemas: dict[str, Any] = dict(openapi.components.schemas or {})
    bodies = body_components(app)
    _bound_dates(bodies)
    schemas.update(bodies)
    schemas[PROBLEM] = problem_schema()
    openapi.components.schemas = schemas
    for op in operations(app, openapi):
        docstring = cleandoc(op.handler.fn.__doc__ or "")
        roles = allowed_roles(op.handler)
        if docstring:
            op.operation.summary = summary_of(docstring)
        rules = REFUSALS.get(handler_name(op.handler))
        refused = "" if rules is None or "Refused (422)" in docstring else f"\n\nRefused (422) when: {rules}."
        op.operation.description = f"{docstring}{refused}\n\n{who_may_call(roles)}".strip()
        if not roles:
            op.operation.security = []  # public (signing in): no token asked for
        responses = op.operation.responses or {}
        # A read that checks what it serves against a recorded hash also answers 409 (the handler's
        # ``opt["also_answers"]``): the route cannot tell that from what it takes.
        also = op.handler.opt.get("also_answers", ())
        for status in sorted({*error_statuses(op.method, op.operation, roles, rules is not None), *also}):
            refusal = f"{ERROR_TEXT[422]} Refused here when: {rules}." if status == 422 and rules else None
            responses[str(status)] = error_response(status, refusal)
        for status in op.handler.opt.get("answers", ()):
            responses[str(status)] = error_response(status, SIGN_IN_REFUSED if status == 401 and not roles else None)
        op.operation.responses = responses
        add_body_example(op.operation.request_body, schemas)
        for response in responses.values():
            for media in (response.content or {}).values() if isinstance(response, OpenAPIResponse) else []:
                _tuples_as_arrays(media.schema)
        for parameter in op.operation.parameters or []:
            if isinstance(parameter, Parameter) and isinstance(parameter.schema, Schema):
                _bound_date_schema(parameter.schema)
                if parameter.param_in == ParamType.HEADER:
                    _header_never_null(parameter.schema)


def add_body_example(body: RequestBody | Reference | None, schemas: dict[str, Any]) -> None:
    if not isinstance(body, RequestBody):
        return
    for media in body.content.values():
        if media.schema is not None and media.example is None and not media.examples:
            media.example = example_of(_plain(media.schema), schemas)


def _plain(schema: Any) -> dict[str, Any]:
    """A schema as JSON: Litestar's objects by their own rendering, msgspec's as they are."""
    if isinstance(schema, Schema | Reference):
        rendered: dict[str, Any] = schema.to_schema()
        return rendered
    return dict(schema)


def example_of(schema: dict[str, Any], schemas: dict[str, Any], depth: int = 0) -> Any:
    """A value the schema takes: its own example where it has one, else one built from its type and bounds."""
    if "$ref" in schema:
        return example_of(_plain(schemas[schema["$ref"].rsplit("/", 1)[-1]]), schemas, depth)
    if schema.get("examples"):
        return schema["examples"][0]
    if "const" in schema:
        return schema["const"]
    if schema.get("enum"):
        return schema["enum"][0]
    for key in ("oneOf", "anyOf"):
        if schema.get(key):
            typed = [_plain(c) for c in schema[key] if _plain(c).get("type") != "null"]
            return example_of(typed[0], schemas, depth)
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((t for t in kind if t != "null"), None)
    if kind == "object":
        properties = schema.get("properties", {})
        # Optional fields only at the top level: enough to show their form, short enough to read.
        names = list(properties) if depth == 0 else list(schema.get("required", []))
        return {name: example_of(_plain(properties[name]), schemas, depth + 1) for name in names}
    if kind == "array":
        count = max(1, int(schema.get("minItems", 0)))
        items = schema.get("items")
        return [example_of(_plain(items), schemas, depth + 1) for _ in range(count)] if items else []
    if kind in ("integer", "number"):
        return _number_in(schema)
    if kind == "boolean":
        return True
    if kind == "string":
        return _string_in(schema)
    return None


def _number_in(schema: dict[str, Any]) -> int:
    low = schema.get("minimum")
    if schema.get("exclusiveMinimum") is not None:
        low = schema["exclusiveMinimum"] + 1
    high = schema.get("maximum")
    value = 1 if low is None else max(1, int(low))
    return value if high is None else min(value, int(high))


def _string_in(schema: dict[str, Any]) -> str:
    if schema.get("format") == "date":
        return date(2026, 11, 2).isoformat()
    if schema.get("format") == "date-time":
        return "2026-11-02T09:30:00+08:00"
    low = int(schema.get("minLength", 0))
    high = schema.get("maxLength")
    text = SAMPLE_TEXT * (low // len(SAMPLE_TEXT) + 1)
    text = text[: max(low, min(len(text), int(high) if high is not None else len(text)))]
    pattern = schema.get("pattern")
    if pattern and not re.search(pattern, text) and low == 0 and re.search(pattern, ""):
        return ""  # e.g. an optional link left empty; a type with a stricter pattern gives its own example
    return text


def body_components(app: Litestar) -> dict[str, Any]:
    """msgspec's own JSON Schema of every JSON request body's types, by component name.

    msgspec decodes the bodies, so its schema is what a route takes: Litestar's rendering drops
    the bounds of a union's members (``PositiveFen | None`` loses its minimum, ``"9.5" or 5``
    its pattern and range) and does not say that unknown fields are refused.
    """
    components: dict[str, Any] = {}
    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        for handler, _ in route.route_handler_map.values():
            data = handler.parsed_fn_signature.parameters.get("data")
            if data is None or not handler.resolve_include_in_schema():
                continue
            try:
                _, found = msgspec.json.schema_components([data.annotation], ref_template=REF_TEMPLATE)
            except TypeError:
                continue  # a multipart form with a file: Litestar's rendering stands
            components.update(found)
    return components


def _tuples_as_arrays(schema: Any) -> None:
    """A tuple as an array of exactly its length, each item one of its kinds: Litestar writes
    3.1's ``prefixItems``, which schemathesis turns into a draft-4 item list and then refuses."""
    if not isinstance(schema, Schema):
        return
    if schema.prefix_items:
        kinds = list(schema.prefix_items)
        schema.prefix_items = None
        schema.items = kinds[0] if len(kinds) == 1 else Schema(any_of=kinds)
        schema.min_items = schema.max_items = len(kinds)
    for child in [schema.items, *(schema.one_of or []), *(schema.any_of or [])]:
        _tuples_as_arrays(child)
    for child in (schema.properties or {}).values():
        _tuples_as_arrays(child)


DATE_FORMATS = frozenset({"date", "date-time"})


def _bound_dates(node: Any) -> None:
    """Give every date and date-time in a JSON schema the years a route takes (feesvc.schemas)."""
    if isinstance(node, dict):
        if node.get("format") in DATE_FORMATS and "pattern" not in node:
            node["pattern"] = DATE_YEARS_PATTERN
            node.setdefault("description", f"from {FIRST_YEAR} to {LAST_YEAR}")
        for value in node.values():
            _bound_dates(value)
    elif isinstance(node, list):
        for value in node:
            _bound_dates(value)


def _header_never_null(schema: Schema) -> None:
    """An optional header is absent or a string, never JSON null: ``str | None`` documents as
    ``oneOf [string, null]``, which would invite a client to send an empty value."""
    choices = [c for c in schema.one_of or [] if not (isinstance(c, Schema) and c.type == OpenAPIType.NULL)]
    if schema.one_of and len(choices) == 1 and isinstance(choices[0], Schema):
        schema.type = choices[0].type
        schema.one_of = None


def _bound_date_schema(schema: Schema) -> None:
    for choice in [schema, *(schema.one_of or []), *(schema.any_of or [])]:
        fmt = getattr(choice, "format", None)
        if isinstance(choice, Schema) and getattr(fmt, "value", fmt) in DATE_FORMATS:
            choice.pattern = choice.pattern or DATE_YEARS_PATTERN


def fix_options_allow(app: Litestar) -> None:
    """Let each path's automatic OPTIONS handler read the methods of the path's final route.

    Litestar builds an HTTPRoute again each time a handler joins a path and keeps the OPTIONS
    handler of the first build, whose ``Allow`` names only the methods registered by then. Its
    handler function reads the route from its closure, so that closure is pointed at the route
    that serves the path.
    """
    for route in app.routes:
        if not isinstance(route, HTTPRoute) or "OPTIONS" not in route.route_handler_map:
            continue
        handler, _ = route.route_handler_map["OPTIONS"]
        fn = handler.fn
        if getattr(fn, "__name__", "") != "options_handler" or not fn.__closure__:
            continue
        for cell in fn.__closure__:
            if isinstance(cell.cell_contents, HTTPRoute):
                cell.cell_contents = route
