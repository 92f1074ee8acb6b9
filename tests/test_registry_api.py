from __future__ import annotations

from feesvc.auth.models import Role
from feesvc.registry.models import Estate, Unit
from tests.support import Api, problem


async def test_estate_building_unit_owner_roundtrip(api: Api) -> None:
    estate = await api.make_estate(units=1)
    unit = await api.ok(await api.get(f"/api/v1/units/{estate.unit_ids[0]}"))
    assert unit["floor_area_m2"] == "100.00" and unit["building"] == "1栋" and unit["use"] == "residential"
    owner = await api.ok(await api.get(f"/api/v1/owners/{estate.owner_ids[0]}"))
    # Phone and ID number are masked in every API response; a manager needs the whole name
    # (registry/masking.py; every route and role: tests/test_masking.py).
    assert owner["name"] == "业主0"
    assert owner["phone"] == "*******0000"
    assert owner["id_number"] == "11**************00"


async def test_bad_registry_input_is_refused_and_nothing_written(api: Api) -> None:
    estate = await api.make_estate(units=1)
    units_before = await api.count(Unit)
    cases = [
        ({"building_id": estate.building_id, "number": "9", "floor_area_m2": "-5"}, 400, "floor_area_m2"),
        ({"building_id": estate.building_id, "number": "9", "floor_area_m2": "0"}, 422, "floor_area_m2"),
        ({"building_id": estate.building_id, "number": "9", "floor_area_m2": "abc"}, 400, "floor_area_m2"),
        ({"building_id": estate.building_id, "number": "101", "floor_area_m2": "80"}, 409, "number"),
        ({"building_id": 999_999, "number": "9", "floor_area_m2": "80"}, 404, "building_id"),
    ]
    for body, status, field in cases:
        problem(await api.post("/api/v1/units", body), status, field)
    assert await api.count(Unit) == units_before

    problem(
        await api.post(
            f"/api/v1/estates/{estate.id}/fee-standards",
            {
                "unit_use": "residential",
                "item": "garbage",
                "item_name": "垃圾费",
                "basis": "fixed_month",
                "rate": "abc",
                "effective_from": "2026-01-01",
                "posted_on": "2025-12-01",
                "decision_kind": "contract",
                "decision_ref": "合同",
            },
        ),
        400,
        "rate",
    )
    problem(await api.post("/api/v1/estates/999999/buildings", {"name": "x"}), 404)
    problem(
        await api.post("/api/v1/estates", {"code": estate.code, "name": "x", "company_name": "y"}),
        409,
        "code",
    )


async def test_unknown_field_is_named(api: Api) -> None:
    before = await api.count(Estate)
    body = problem(
        await api.post("/api/v1/estates", {"code": "X1", "name": "x", "company_name": "y", "colour": 1}), 400
    )
    assert "colour" in body["detail"]
    assert await api.count(Estate) == before


async def test_tokens_and_roles(api: Api) -> None:
    problem(await api.client.get("/api/v1/estates"), 401)
    problem(await api.client.get("/api/v1/estates", headers={"Authorization": "Bearer fsv_wrong"}), 401)
    problem(
        await api.post("/api/v1/estates", {"code": "C", "name": "x", "company_name": "y"}, Role.cashier), 403
    )


async def test_owner_sees_only_own_units(api: Api) -> None:
    estate = await api.make_estate(units=2)
    mine, theirs = estate.unit_ids
    token = await api.owner_token(estate.owner_ids[0])
    await api.ok(await api.get(f"/api/v1/units/{mine}", token))
    problem(await api.get(f"/api/v1/units/{theirs}", token), (403, 404))
    problem(await api.get(f"/api/v1/units/{theirs}/ledger", token), (403, 404))
    problem(await api.get("/api/v1/estates", token), 403)


async def test_sale_closes_previous_ownership(api: Api) -> None:
    estate = await api.make_estate(units=1)
    unit = estate.unit_ids[0]
    buyer = await api.ok(await api.post("/api/v1/owners", {"name": "新业主"}))
    await api.ok(
        await api.post(
            f"/api/v1/units/{unit}/ownerships", {"owner_id": buyer["id"], "starts_on": "2026-03-01"}
        )
    )
    history = await api.ok(await api.get(f"/api/v1/units/{unit}/ownerships"))
    assert [(h["owner_id"], h["starts_on"], h["ends_on"]) for h in history] == [
        (estate.owner_ids[0], "2024-01-01", "2026-02-28"),
        (buyer["id"], "2026-03-01", None),
    ]
    problem(
        await api.post(
            f"/api/v1/units/{unit}/ownerships", {"owner_id": buyer["id"], "starts_on": "2025-01-01"}
        ),
        422,
        "starts_on",
    )


async def test_openapi_schema_is_served(api: Api) -> None:
    schema = await api.ok(await api.client.get("/schema/openapi.json"))
    assert "/api/v1/billing-runs" in schema["paths"]
