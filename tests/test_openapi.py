"""The OpenAPI document tells the truth (issue 18 item 2).

Every operation has a summary and a description naming who may call it; every error it can
answer is documented as application/problem+json with the one shared ``Problem`` schema; every
request body has an example the route itself takes; the bounds the service enforces are in the
schema; OPTIONS names every method of a path. Schemathesis holds the routes to the document
(tests/test_schemathesis.py).
"""

from __future__ import annotations

import json
import re
from typing import Any

import msgspec
import pytest
from litestar import Litestar
from litestar.routes import HTTPRoute
from litestar.serialization import encode_json

from feesvc.auth.models import Role
from feesvc.decoding import StrictRequest
from feesvc.errors import PROBLEM_JSON
from feesvc.openapi import handler_name
from feesvc.refusals import REFUSALS
from tests.support import Api

METHODS = ("get", "post", "put", "patch", "delete")
PROBLEM_REF = "#/components/schemas/Problem"


def document(app: Litestar) -> dict[str, Any]:
    return json.loads(encode_json(app.openapi_schema.to_schema()))  # type: ignore[no-any-return]


def operations(doc: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(path, m, op) for path, item in doc["paths"].items() for m, op in item.items() if m in METHODS]


def test_every_error_is_problem_json_with_the_shared_schema(app: Litestar) -> None:
    doc = document(app)
    assert set(doc["components"]["schemas"]["Problem"]["required"]) >= {"title", "status", "detail", "request_id"}
    for path, method, op in operations(doc):
        where = f"{method.upper()} {path}"
        errors = {int(s): r for s, r in op["responses"].items() if int(s) >= 400}
        for status, response in errors.items():
            # Not Litestar's default error body ({status_code, detail, extra}) under application/json.
            assert list(response["content"]) == [PROBLEM_JSON], (where, status)
            assert response["content"][PROBLEM_JSON]["schema"] == {"$ref": PROBLEM_REF}, (where, status)
            assert response["description"], (where, status)
        inputs = bool(op.get("parameters") or op.get("requestBody"))
        # A public route (signing in) has no token to refuse.
        expected = set() if "Who may call: anyone, without a token." in op["description"] else {401}
        if inputs:
            expected |= {400, 404}
        if "requestBody" in op:
            expected |= {413, 415}
        if method != "get":
            expected |= {404, 409}
        assert expected <= set(errors), (where, sorted(expected - set(errors)))


def test_every_422_names_the_business_rules_of_its_operation(app: Litestar) -> None:
    """422 is documented where a rule of the operation can refuse well-formed input, and only
    there; the answer's description and the operation's name the rules (issue 18 item 5)."""
    handlers = _handlers(app)
    documented = set()
    for path, method, op in operations(document(app)):
        rules = REFUSALS.get(handler_name(handlers[(path, method)]))
        where = f"{method.upper()} {path}"
        if rules is None:
            assert "422" not in op["responses"], where
            continue
        documented.add(handler_name(handlers[(path, method)]))
        description = op["responses"]["422"]["description"]
        assert description.endswith(f"Refused here when: {rules}."), where
        assert "Refused (422)" in op["description"], where
    assert documented == set(REFUSALS)  # every rule listed is of an operation the app serves


def test_422_says_what_each_operation_refuses(app: Litestar) -> None:
    paths = document(app)["paths"]
    payment = paths["/api/v1/payments"]["post"]["responses"]["422"]["description"]
    assert "received in the future" in payment and "did not own the unit" in payment
    sale = paths["/api/v1/units/{unit_id}/ownerships"]["post"]
    assert "starts on or before the current one's start" in sale["description"]
    monthly = paths["/api/v1/estates/{estate_id}/reports/collection-rate/monthly"]["get"]
    assert "more than 60 months" in monthly["responses"]["422"]["description"]
    # Reading an estate or searching its units refuses nothing a schema allows.
    assert "422" not in paths["/api/v1/estates/{estate_id}"]["get"]["responses"]
    assert "422" not in paths["/api/v1/estates/{estate_id}/units"]["get"]["responses"]


def test_staff_only_operations_document_403(app: Litestar) -> None:
    doc = document(app)
    tokens = doc["paths"]["/api/v1/tokens"]["get"]
    assert "403" in tokens["responses"]
    assert "Who may call: managers." in tokens["description"]


def test_every_operation_has_a_summary_and_says_who_may_call(app: Litestar) -> None:
    for path, method, op in operations(document(app)):
        where = f"{method.upper()} {path}"
        # Litestar's own summary is the handler's name in CamelCase ("AddNote"): a sentence is written.
        assert " " in op.get("summary", ""), (where, op.get("summary"))
        description = op.get("description", "")
        assert re.search(r"Who may call: [a-z]", description), where
        assert len(description) > len(op["summary"]) + 20, where


def test_owner_routes_say_owners_see_only_their_own(app: Litestar) -> None:
    op = document(app)["paths"]["/api/v1/units/{unit_id}"]["get"]
    assert "owners (their own accounts only)" in op["description"]


def _handlers(app: Litestar) -> dict[tuple[str, str], Any]:
    found = {}
    for route in app.routes:
        if isinstance(route, HTTPRoute):
            for method, (handler, _) in route.route_handler_map.items():
                found[(route.path_format, method.lower())] = handler
    return found


def test_every_request_body_has_an_example_the_route_takes(app: Litestar) -> None:
    handlers = _handlers(app)
    bodies = 0
    for path, method, op in operations(document(app)):
        if "requestBody" not in op:
            continue
        for media_type, media in op["requestBody"]["content"].items():
            assert media.get("example") is not None or media.get("examples"), (method, path, media_type)
            if media_type != "application/json":
                continue  # a multipart upload: its example shows the form's fields
            data = handlers[(path, method)].parsed_fn_signature.parameters["data"].annotation
            # Decoded as the route decodes a body: strictly, into the handler's own type.
            msgspec.json.decode(json.dumps(media["example"]).encode(), type=data, strict=True)
            bodies += 1
    assert bodies > 30


def test_request_decoder_is_the_strict_one(app: Litestar) -> None:
    # The example check above decodes as StrictRequest does; if the app stopped using it, say so.
    assert app.request_class is StrictRequest


def test_arrears_case_documents_both_answers(app: Litestar) -> None:
    responses = document(app)["paths"]["/api/v1/units/{unit_id}/arrears-case"]["post"]["responses"]
    assert responses["201"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/CaseOut"}
    assert responses["200"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/CaseOut"}


def _schema_of(doc: dict[str, Any], component: str, field: str) -> dict[str, Any]:
    return doc["components"]["schemas"][component]["properties"][field]  # type: ignore[no-any-return]


def _choices(schema: dict[str, Any]) -> list[dict[str, Any]]:
    return schema.get("anyOf") or schema.get("oneOf") or [schema]  # type: ignore[no-any-return]


def test_bounds_the_service_enforces_are_in_the_schema(app: Litestar) -> None:
    doc = document(app)
    waiver = _schema_of(doc, "WaiverCreate", "amount_fen")
    amounts = [s for s in _choices(waiver) if s.get("type") == "integer"]
    assert amounts and amounts[0].get("exclusiveMinimum") == 0

    tier = doc["components"]["schemas"]["TierIn"]["properties"]
    months = tier["min_months"]
    assert months["minimum"] == 1 and months["maximum"] == 120
    percent = _choices(tier["percent_off"])
    text = next(s for s in percent if s.get("type") == "string")
    number = next(s for s in percent if s.get("type") == "integer")
    assert (number["minimum"], number["maximum"]) == (1, 99)
    pattern = re.compile(text["pattern"])
    assert all(pattern.search(v) for v in ["5", "9.5", "0.5", "99.9999", "12"])
    assert not any(pattern.search(v) for v in ["-5", "0", "0.0", "100", "100.0", "120", "5.12345", "05"])


async def test_bounds_in_the_schema_are_the_services(api: Api) -> None:
    """A percent the schema now refuses is refused by the route with 400, as the schema says."""
    estate = await api.make_estate(units=1)
    for bad in ["-5", "0", "100", 0, 100]:
        response = await api.put(
            f"/api/v1/estates/{estate.id}/prepay-tiers", [{"min_months": 6, "percent_off": bad}], Role.manager
        )
        assert response.status_code == 400, (bad, response.text)
    ok = await api.put(f"/api/v1/estates/{estate.id}/prepay-tiers", [{"min_months": 6, "percent_off": "9.5"}])
    assert ok.status_code == 200, ok.text


@pytest.mark.parametrize("role", [Role.manager, Role.cashier])
async def test_options_names_every_method_of_the_path(app: Litestar, api: Api, role: Role) -> None:
    for path, item in document(app)["paths"].items():
        methods = {m.upper() for m in item if m in METHODS}
        url = re.sub(r"\{[a-z_]+\}", "1", path)
        response = await api.client.options(url, headers=api.headers(role))
        allow = {m.strip() for m in response.headers.get("allow", "").split(",") if m.strip()}
        assert response.status_code == 204, (path, response.status_code, response.text)
        assert methods | {"OPTIONS"} <= allow, (path, sorted(methods - allow))


def test_a_read_that_checks_a_recorded_hash_documents_409(app: Litestar) -> None:
    """The letter's copies are served only if they match the hash recorded at issue (409 otherwise)."""
    paths = app.openapi_schema.paths or {}
    for path in ("/api/v1/letters/{letter_id}/letter.pdf", "/api/v1/letters/{letter_id}/messages"):
        operation = paths[path].get
        assert operation is not None and operation.responses is not None
        assert "409" in operation.responses, path
