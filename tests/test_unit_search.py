"""The unit search (issue 18 item 7): a cashier finds a unit by its number, building, arrears or the
owner's phone, with owner (masked), balance, overdue amount and the open case's cause, paged."""

from __future__ import annotations

import uuid
from typing import Any

from feesvc.auth.models import Role
from tests.support import Api, Estate, problem

MONTHLY = 25000  # 2.50 元/m² × 100 m²


async def _estate(api: Api) -> tuple[Estate, dict[str, int]]:
    """Building 1栋 with units 101–105 (owners' phones end 0000–0004), 2栋 with 1201, 1202 and B1-02;
    all billed for two months of 2025; 101 paid in full, 102 half."""
    estate = await api.make_estate(units=5)
    second = await api.ok(await api.post(f"/api/v1/estates/{estate.id}/buildings", {"name": "2栋"}))
    units = {f"1栋 {101 + n}": unit_id for n, unit_id in enumerate(estate.unit_ids)}
    for number, phone in (("1201", "139-1234-5678"), ("1202", "137 0000 5678"), ("B1-02", "")):
        unit = await api.ok(
            await api.post("/api/v1/units", {"building_id": second["id"], "number": number, "floor_area_m2": "100.00"})
        )
        owner = await api.ok(await api.post("/api/v1/owners", {"name": f"住户{number}", "phone": phone or None}))
        sale = {"owner_id": owner["id"], "starts_on": "2024-01-01"}
        await api.ok(await api.post(f"/api/v1/units/{unit['id']}/ownerships", sale))
        units[f"2栋 {number}"] = unit["id"]
    for month in ("2025-01", "2025-02"):
        await api.bill(estate.id, month, f"{month}-01")
    for unit_id, amount in ((units["1栋 101"], 2 * MONTHLY), (units["1栋 102"], MONTHLY)):
        body = {"unit_id": unit_id, "amount_fen": amount, "method": "cash", "received_on": "2025-03-01"}
        await api.ok(
            await api.post("/api/v1/payments", body, Role.cashier, headers={"Idempotency-Key": uuid.uuid4().hex})
        )
    return estate, units


async def search(api: Api, estate_id: int, role: Role | str = Role.cashier, **params: Any) -> Any:
    return await api.ok(await api.get(f"/api/v1/estates/{estate_id}/units", role, params=params))


def labels(page: Any) -> list[str]:
    return [f"{u['building']} {u['number']}" for u in page["items"]]


async def test_find_units_by_number_building_phone_and_arrears(api: Api) -> None:
    estate, _ = await _estate(api)
    everything = await search(api, estate.id)
    # Stable order: building, then unit number; the total counts every page.
    assert labels(everything) == [*(f"1栋 {n}" for n in range(101, 106)), "2栋 1201", "2栋 1202", "2栋 B1-02"]
    assert everything["total"] == 8 and everything["page"] == 1 and everything["page_size"] == 20

    assert labels(await search(api, estate.id, q="12")) == ["2栋 1201", "2栋 1202"]
    assert labels(await search(api, estate.id, q="1201")) == ["2栋 1201"]
    assert labels(await search(api, estate.id, q=" 1201 ")) == ["2栋 1201"]  # pasted with spaces
    assert labels(await search(api, estate.id, q="b1")) == ["2栋 B1-02"]  # typed in lower case
    assert labels(await search(api, estate.id, q="10")) == [f"1栋 {n}" for n in range(101, 106)]
    assert (await search(api, estate.id, q="9"))["total"] == 0
    assert labels(await search(api, estate.id, building="2栋")) == ["2栋 1201", "2栋 1202", "2栋 B1-02"]
    assert labels(await search(api, estate.id, building="2栋", q="120")) == ["2栋 1201", "2栋 1202"]
    assert (await search(api, estate.id, building="9栋"))["total"] == 0

    # The owner's phone, written with or without separators: the same last 4 digits.
    assert labels(await search(api, estate.id, owner_phone_last4="5678")) == ["2栋 1201", "2栋 1202"]
    assert labels(await search(api, estate.id, owner_phone_last4="0003")) == ["1栋 104"]
    assert (await search(api, estate.id, owner_phone_last4="9999"))["total"] == 0

    # In arrears today: every unit but 101, which paid both months.
    in_arrears = await search(api, estate.id, in_arrears="true")
    assert in_arrears["total"] == 7 and "1栋 101" not in labels(in_arrears)
    assert labels(await search(api, estate.id, in_arrears="false")) == ["1栋 101"]
    assert labels(await search(api, estate.id, in_arrears="true", q="10", page_size=2)) == ["1栋 102", "1栋 103"]

    # The figures agree with each unit's ledger.
    for unit in everything["items"]:
        ledger = await api.ledger(unit["id"])
        assert (unit["balance_fen"], unit["overdue_fen"]) == (ledger["balance_fen"], ledger["overdue_fen"])
    by_label = {f"{u['building']} {u['number']}": u for u in everything["items"]}
    assert by_label["1栋 101"]["overdue_fen"] == 0 and by_label["1栋 102"]["overdue_fen"] == MONTHLY
    assert by_label["1栋 103"]["balance_fen"] == 2 * MONTHLY
    assert by_label["2栋 B1-02"]["owner"]["phone"] == ""


async def test_pages_are_stable_and_complete(api: Api) -> None:
    estate, _ = await _estate(api)
    seen: list[int] = []
    for page in (1, 2, 3):
        found = await search(api, estate.id, page=page, page_size=3)
        assert found["total"] == 8
        seen += [u["id"] for u in found["items"]]
    assert len(seen) == len(set(seen)) == 8
    assert seen == [u["id"] for u in (await search(api, estate.id))["items"]]
    assert (await search(api, estate.id, page=4, page_size=3))["items"] == []


async def test_owner_is_masked_for_the_role_and_the_open_case_shows_its_cause(api: Api) -> None:
    estate, units = await _estate(api)
    unit = units["1栋 103"]
    case = await api.ok(await api.post(f"/api/v1/units/{unit}/arrears-case", None, Role.cashier))
    found = (await search(api, estate.id, q="103"))["items"][0]
    assert found["arrears_case"] == {"id": case["id"], "status": "open", "cause": None}  # not classified yet
    override = {"category": "hardship", "reason": "业主失业，电话中说明"}
    await api.ok(await api.post(f"/api/v1/arrears-cases/{case['id']}/override", override), 201)
    found = (await search(api, estate.id, q="103"))["items"][0]
    assert found["arrears_case"]["cause"] == "hardship"
    assert (await search(api, estate.id, q="104"))["items"][0]["arrears_case"] is None

    owner_of = {
        role: (await search(api, estate.id, role, q="103"))["items"][0]["owner"] for role in Role if role != Role.owner
    }
    assert owner_of[Role.manager]["name"] == "业主2"
    assert owner_of[Role.cashier]["name"] == "业*2"
    assert owner_of[Role.system]["name"] == "***"
    assert {o["phone"] for o in owner_of.values()} == {"*******0002"}


async def test_only_staff_search_and_bad_parameters_are_refused(api: Api) -> None:
    estate, _ = await _estate(api)
    owner = await api.owner_token(estate.owner_ids[0])
    problem(await api.get(f"/api/v1/estates/{estate.id}/units", owner), 403)
    problem(await api.get("/api/v1/estates/987654321/units"), 404)
    problem(await api.get("/api/v1/estates/987654321/units", params={"building": "1栋"}), 404)
    for params, field in (
        ({"page_size": 0}, "page_size"),
        ({"page_size": 101}, "page_size"),
        ({"page": 0}, "page"),
        ({"owner_phone_last4": "12a4"}, "owner_phone_last4"),
        ({"owner_phone_last4": "12345"}, "owner_phone_last4"),
        ({"in_arrears": "maybe"}, "in_arrears"),
        ({"q": "x" * 41}, "q"),
    ):
        problem(await api.get(f"/api/v1/estates/{estate.id}/units", params=params), 400, field)
