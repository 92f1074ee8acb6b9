"""Every route refuses each bad value, found from the app's own OpenAPI document (issue 14 item 6).

Nothing here names a route or a field: a new route, or a new field on an old one, is walked the
day it is added. For each write operation (POST, PUT, PATCH, DELETE) and each integer or string
field of its body, at any depth, each bad value (a number as a string, a fraction, an exponent, a
float, an integer past the field's or any column's range; a control character, a far date, a text
longer than its column) is sent in turn, inside an otherwise valid body; the answer must be a 400
problem+json naming the field, and no table may gain a row. Integer path and query parameters of
every operation, and string query parameters, get the same treatment.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import msgspec
from httpx import Response
from litestar import Litestar
from sqlalchemy import select, text

from feesvc.auth.models import Role
from feesvc.models import metadata
from feesvc.schemas import END, INT8_MAX, LINE_PATTERN, MULTILINE_PATTERN, Body
from tests.support import Api, problem

WRITES = ("post", "put", "patch", "delete")
METHODS = ("get", *WRITES)

# Raw JSON, so that 1e3 and 100.0 reach the server as written (json.dumps would not keep them).
NUMBER_AS_STRING = ['"100"', '"100.00"', '"1e3"']
NOT_AN_INTEGER = ["100.5", "1e3", "1E2", "100.0", "-0.0"]
CONTROL_CHARACTERS = ["a\u0000b", "\u0001", "张三\u001b[31m", "a\u007f", "a\u0085"]
# Outside the years every route takes (PostgreSQL would store the first and last as ±infinity).
FAR_DAYS = ["0001-01-01", "1899-12-31", "3000-01-01", "9999-12-31"]
FAR_TIMES = [f"{day}T12:00:00+08:00" for day in FAR_DAYS]

# Path segments that cannot be an id; Litestar must not match the route.
NOT_AN_ID = [str(2**63), str(2**64), "%D9%A3", "+1", "-1", "0", "1e3", "1.0", "%201", "1_0"]
QUERY_NOT_AN_INTEGER = ["1e3", "10.0", "١٠", " 1", "+1", str(2**63), str(2**64)]


@dataclass(frozen=True)
class Leaf:
    """One integer or string field of a body: where it is and what the schema says of it."""

    path: tuple[str | int, ...]
    schema: dict[str, Any]
    types: frozenset[str]

    @property
    def name(self) -> str:
        return next(str(step) for step in reversed(self.path) if isinstance(step, str))


class OpenApi:
    def __init__(self, app: Litestar) -> None:
        self.document: dict[str, Any] = app.openapi_schema.to_schema()

    def resolve(self, schema: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in schema:
            schema = self.document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
        return schema

    def operations(self, methods: tuple[str, ...]) -> Iterator[tuple[str, str, dict[str, Any]]]:
        for path, item in self.document["paths"].items():
            for method, operation in item.items():
                if method in methods:
                    yield method, path, operation

    def body(self, operation: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
        content = operation.get("requestBody", {}).get("content", {})
        for media_type, entry in content.items():
            return media_type, entry["schema"]
        return None

    def is_boolean(self, schema: dict[str, Any]) -> bool:
        schema = self.resolve(schema)
        options = schema.get("oneOf") or schema.get("anyOf") or [schema]
        return {self.resolve(o).get("type") for o in options} - {"null"} == {"boolean"}

    def leaves(self, schema: dict[str, Any], path: tuple[str | int, ...] = ()) -> Iterator[Leaf]:
        schema = self.resolve(schema)
        options = schema.get("oneOf") or schema.get("anyOf")
        if options:
            present = [self.resolve(o) for o in options if self.resolve(o).get("type") != "null"]
            # Litestar puts an optional field's bounds beside its oneOf; they belong to the value.
            beside = {k: v for k, v in schema.items() if k not in ("oneOf", "anyOf")}
            if len(present) == 1:
                yield from self.leaves({**present[0], **beside}, path)
                return
            types = frozenset(o.get("type", "") for o in present)
            if types <= {"integer", "string"}:
                yield Leaf(path, beside, types)
                return
            for option in present:
                yield from self.leaves({**option, **beside}, path)
            return
        kind = schema.get("type")
        if kind == "object":
            for name, field in schema.get("properties", {}).items():
                yield from self.leaves(field, (*path, name))
        elif kind == "array":
            yield from self.leaves(schema["items"], (*path, 0))
        elif kind in ("integer", "string") and schema.get("format") != "binary":
            yield Leaf(path, schema, frozenset([kind]))


def bad_values(leaf: Leaf) -> list[str]:
    """The raw JSON values ``leaf`` must refuse."""
    values: list[str] = []
    if "integer" in leaf.types:
        # Litestar leaves the bounds of an array's items and a union's members out of the document
        # (they are enforced all the same; 2**63 and 2**64 are beyond any column).
        if leaf.types == {"integer"} and not isinstance(leaf.path[-1], int):
            assert "maximum" in leaf.schema, f"{leaf.path}: an integer with no maximum: the database refuses first"
        if "string" not in leaf.types:  # "9.5" is a fine percent_off (string or integer)
            values += NUMBER_AS_STRING
        too_large = [str(int(leaf.schema["maximum"]) + 1)] if "maximum" in leaf.schema else []
        values += [*NOT_AN_INTEGER, *too_large, str(2**63), str(2**64)]
    if "string" in leaf.types:
        too_long = ["字" * (leaf.schema["maxLength"] + 1)] if "maxLength" in leaf.schema else []
        values += [json.dumps(text) for text in [*CONTROL_CHARACTERS, *far(leaf.schema), *too_long]]
    if leaf.schema.get("format") == "date-time":
        values.append("0")  # not seconds since 1970
    return values


def far(schema: dict[str, Any]) -> list[str]:
    return {"date": FAR_DAYS, "date-time": FAR_TIMES}.get(schema.get("format", ""), [])


def valid(openapi: OpenApi, schema: dict[str, Any]) -> Any:
    """A value the schema takes (its example, else one made from its type), ids all 1: decoding
    passes, so the one bad value is the only thing wrong with the request."""
    schema = openapi.resolve(schema)
    options = schema.get("oneOf") or schema.get("anyOf")
    if options:
        present = [o for o in options if openapi.resolve(o).get("type") != "null"]
        beside = {k: v for k, v in schema.items() if k not in ("oneOf", "anyOf")}
        return valid(openapi, {**openapi.resolve(present[0]), **beside})
    if "examples" in schema:
        examples = schema["examples"]
        return examples[0] if isinstance(examples, list) else next(iter(examples.values()))["value"]
    if "const" in schema or "enum" in schema:
        return schema.get("const", (schema.get("enum") or [None])[0])
    kind = schema.get("type")
    if kind == "object":
        properties = schema.get("properties", {})
        return {name: valid(openapi, properties[name]) for name in schema.get("required", [])}
    if kind == "array":
        return [valid(openapi, schema["items"])]
    if kind == "integer":
        low = schema.get("minimum", schema.get("exclusiveMinimum", 0) + 1)
        return max(int(low), 1) if schema.get("maximum", 1) >= 1 else int(low)
    if kind == "boolean":
        return False
    assert kind == "string", schema
    if schema.get("format") == "date":
        return "2026-01-15"
    if schema.get("format") == "date-time":
        return "2026-01-15T09:30:00+08:00"
    assert schema.get("pattern") in (None, LINE_PATTERN, MULTILINE_PATTERN), f"give this text an example: {schema}"
    return "测试" * max(1, schema.get("minLength", 1))


def with_bad(base: Any, path: tuple[str | int, ...], value: Any) -> Any:
    """``base`` with ``value`` at ``path``, first at each level: msgspec stops at the first error
    in document order, so the refusal is about this value even if another were wrong too."""
    if not path:
        return value
    step, rest = path[0], path[1:]
    if isinstance(step, int):
        items = base if isinstance(base, list) and base else [None]
        return [with_bad(items[0], rest, value), *items[1:]]
    others = {k: v for k, v in (base or {}).items() if k != step} if isinstance(base, dict) else {}
    return {step: with_bad((base or {}).get(step) if isinstance(base, dict) else None, rest, value), **others}


def concrete(path: str) -> str:
    """The path with every parameter filled by 1 (never looked up: the body is refused first)."""
    return "/".join("1" if part.startswith("{") else part for part in path.split("/"))


def example(parameter: dict[str, Any]) -> Any:
    examples = parameter.get("examples") or {}
    assert examples, f"a required parameter without an example: {parameter}"
    return next(iter(examples.values()))["value"]


async def table_rows(api: Api) -> dict[str, int]:
    """Rows in every table: a refused request leaves each count as it was."""
    names = sorted(metadata.tables)
    query = select(*[text(f'(SELECT count(*) FROM "{name}")') for name in names])
    async with api.sessions() as session:
        row = (await session.execute(query)).one()
    return dict(zip(names, row, strict=True))


async def send_json(api: Api, method: str, path: str, raw: str, role: Role | str = Role.manager) -> Response:
    headers = api.headers(role, {"Content-Type": "application/json", "Idempotency-Key": uuid.uuid4().hex})
    return await api.client.request(method.upper(), path, content=raw.encode(), headers=headers)


async def send_form(api: Api, method: str, path: str, field: str, value: str) -> Response:
    headers = api.headers(Role.manager, {"Idempotency-Key": uuid.uuid4().hex})
    files = {field: (None, value.encode(), "text/plain")}
    return await api.client.request(method.upper(), path, files=files, headers=headers)


async def test_every_write_route_refuses_each_bad_value_and_writes_nothing(app: Litestar, api: Api) -> None:
    openapi = OpenApi(app)
    estate = await api.make_estate(units=1)  # rows in every registry table, so a stray write shows in the counts
    # Routes for owners only (their own payment orders) are called with an owner's token.
    owner = await api.owner_token(estate.owner_ids[0])
    walked: set[tuple[str, str]] = set()
    refusals = 0
    for method, path, operation in openapi.operations(WRITES):
        body = openapi.body(operation)
        if body is None:
            continue
        media_type, schema = body
        for leaf in openapi.leaves(schema):
            form = media_type.startswith("multipart/")
            values = [json.dumps(t) for t in CONTROL_CHARACTERS] if form else bad_values(leaf)
            if form and "string" not in leaf.types:
                continue
            for value in values:
                before = await table_rows(api)
                if form:
                    response = await send_form(api, method, concrete(path), leaf.name, json.loads(value))
                else:
                    body = with_bad(valid(openapi, schema), leaf.path, "\u0000BAD\u0000")
                    raw = json.dumps(body).replace(r'"\u0000BAD\u0000"', value)
                    role: Role | str = owner if path.startswith("/api/v1/owners/me/") else Role.manager
                    response = await send_json(api, method, concrete(path), raw, role)
                assert response.status_code == 400, (method, path, leaf.path, value, response.text)
                problem(response, 400, leaf.name)
                assert await table_rows(api) == before, (method, path, leaf.path, value)
                refusals += 1
            walked.add((method, path))
    # The walk must not pass by finding nothing: the desk's payment and its amount are in it.
    assert ("post", "/api/v1/payments") in walked and len(walked) >= 30, walked
    assert refusals > 500


async def test_every_route_refuses_path_ids_and_query_values_that_are_not_plain_integers(
    app: Litestar, api: Api
) -> None:
    openapi = OpenApi(app)
    checked = 0
    # Routes for owners only (their own payments) are called with an owner's token.
    owner = await api.owner_token((await api.make_estate(units=1)).owner_ids[0])
    for method, path, operation in openapi.operations(METHODS):
        parameters = operation.get("parameters", [])
        role: Role | str = owner if path.startswith("/api/v1/owners/me/") else Role.manager
        # Required headers (an Idempotency-Key) and query parameters get a fine value (the document's
        # example), so that what is wrong is the one value under test.
        headers = {
            p["name"]: uuid.uuid4().hex[: p["schema"].get("maxLength", 32)]
            for p in parameters
            if p["in"] == "header" and p.get("required")
        }
        query = {p["name"]: example(p) for p in parameters if p["in"] == "query" and p.get("required")}
        for parameter in (p for p in parameters if p["in"] == "path"):
            name, schema = parameter["name"], parameter["schema"]
            assert schema.get("type") == "integer" and "maximum" in schema, (path, parameter)
            for segment in [*NOT_AN_ID, str(int(schema["maximum"]) + 1)]:
                bad = concrete(path.replace("{" + name + "}", segment))
                response = await api.client.request(
                    method.upper(), bad, params=query, headers=api.headers(role, headers)
                )
                problem(response, 404)
                checked += 1
        for parameter in parameters:
            if parameter["in"] != "query":
                continue
            leaves = list(openapi.leaves(parameter["schema"]))
            if not leaves and openapi.is_boolean(parameter["schema"]):
                values = ["maybe", "1\x00"]  # a flag is true or false, nothing else
            else:
                assert len(leaves) == 1, parameter
                values = QUERY_NOT_AN_INTEGER if "integer" in leaves[0].types else []
                if "string" in leaves[0].types:
                    values = [*values, *CONTROL_CHARACTERS, *far(leaves[0].schema)]
            for value in values:
                response = await api.client.request(
                    method.upper(),
                    concrete(path),
                    params={**query, parameter["name"]: value},
                    headers=api.headers(role, headers),
                )
                problem(response, 400, parameter["name"])
                checked += 1
    assert checked > 300


def request_types() -> set[type]:
    """Every request body type (the app has imported every area by now)."""
    found: set[type] = set()
    todo = [Body]
    while todo:
        for sub in todo.pop().__subclasses__():
            found.add(sub)
            todo.append(sub)
    return found


def scalars(info: Any, path: str) -> Iterator[tuple[str, Any]]:
    inspect = msgspec.inspect
    if isinstance(info, inspect.Metadata):
        yield from scalars(info.type, path)
    elif isinstance(info, inspect.UnionType):
        for member in info.types:
            yield from scalars(member, path)
    elif isinstance(info, (inspect.ListType, inspect.SetType)):
        yield from scalars(info.item_type, f"{path}[]")
    elif isinstance(info, inspect.StructType):
        for field in info.fields:
            yield from scalars(field.type, f"{path}.{field.name}")
    elif isinstance(info, (inspect.IntType, inspect.StrType)):
        yield path, info


def test_every_integer_and_text_of_every_request_type_is_bounded(app: Litestar) -> None:
    """What the document cannot show (an array's items, a union's members), the types must hold."""
    checked = 0
    for body in request_types():
        for path, info in scalars(msgspec.inspect.type_info(body), body.__name__):
            if isinstance(info, msgspec.inspect.IntType):
                top = info.le if info.le is not None else info.lt
                bottom = info.ge if info.ge is not None else info.gt
                assert top is not None and top <= INT8_MAX and bottom is not None, path
            else:
                # A pattern for every text; ending in END, with [0-9] digits (see feesvc.schemas).
                assert info.pattern and info.pattern.endswith(END) and r"\d" not in info.pattern, (path, info)
                assert info.max_length is not None or info.pattern != LINE_PATTERN, path
            checked += 1
    assert checked > 80
