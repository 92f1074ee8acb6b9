"""Statements and payoffs per account after a sale (issue 15 item 2).

Reproduction: "The buyer's statement shows the seller's overdue amount." Each owner's statement and
payoff hold their own periods and amounts; staff read the account of the owner they choose
(``?owner_id=``, default the owner then) and see the unit's other owners with something open apart,
the name masked as their role may see it. The printed statement is the account owner's document:
it carries no other owner's name or debt.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from feesvc.auth.models import Role
from tests.sale_support import SoldUnit, sold_unit
from tests.support import Api, problem
from tests.test_receipt import compact, pdf_text

AS_OF = {"as_of": "2026-11-30"}
PDF = {"Accept": "application/pdf"}
SELLER, BUYER = "业主0", "买受人王五"


async def statement(api: Api, sold: SoldUnit, reader: Role | str, **params: Any) -> Any:
    return await api.ok(await api.get(f"/api/v1/units/{sold.unit_id}/statement", reader, params={**AS_OF, **params}))


async def payoff(api: Api, sold: SoldUnit, reader: Role | str, **params: Any) -> Any:
    return await api.ok(await api.get(f"/api/v1/units/{sold.unit_id}/payoff", reader, params={**AS_OF, **params}))


def periods(read: dict[str, Any]) -> set[str]:
    return {line["period"] for line in read["lines"] if line.get("period")}


async def test_the_buyers_statement_holds_the_buyers_periods_and_the_sellers_the_sellers(api: Api) -> None:
    sold = await sold_unit(api)

    buyers = await statement(api, sold, sold.buyer_token)
    assert buyers["owner_name"] == BUYER and buyers["owner_id"] == sold.buyer_id
    assert periods(buyers) == {"2026-09", "2026-10"}
    assert (buyers["owed_fen"], buyers["overdue_fen"]) == (50000, 50000)  # not 75,000: 2026-06 is the seller's
    assert buyers["opening_balance_fen"] == 0 and buyers["closing_balance_fen"] == 50000
    assert buyers["period_from"] == "2026-08-01"  # their time at the unit
    assert buyers["other_owners"] == []  # an owner never sees another owner
    assert {line["period"] for line in buyers["payoff"]["lines"]} == {"2026-09", "2026-10"}
    assert buyers["payoff"]["other_owners"] == []

    sellers = await statement(api, sold, sold.seller_token)
    assert sellers["owner_name"] == SELLER and sellers["owner_id"] == sold.seller_id
    assert periods(sellers) == {"2026-06"} and sellers["period_to"] == "2026-07-31"
    assert (sellers["owed_fen"], sellers["overdue_fen"]) == (25000, 25000)
    assert {line["period"] for line in sellers["payoff"]["lines"]} == {"2026-06"}
    # The payoff route agrees, for each.
    assert (await payoff(api, sold, sold.seller_token))["principal_fen"] == 25000
    assert (await payoff(api, sold, sold.buyer_token))["principal_fen"] == 50000


async def test_staff_read_each_account_with_the_other_owners_apart_and_masked(api: Api) -> None:
    sold = await sold_unit(api)

    # Default: the owner then (the buyer); the seller's arrears apart, masked for a cashier.
    desk = await statement(api, sold, Role.cashier)
    assert desk["owner_id"] == sold.buyer_id and desk["owner_name"] == "买***五"
    assert desk["owed_fen"] == 50000 and periods(desk) == {"2026-09", "2026-10"}
    assert desk["period_from"] == "2026-08-01"  # the account's time at the unit, as its owner reads it
    [seller] = desk["other_owners"]
    assert seller == {
        "owner_id": sold.seller_id,
        "name": "业*0",
        "former": True,
        "owed_fen": 25000,
        "prepaid_credit_fen": 0,
    }
    assert BUYER not in str(desk["other_owners"]) and SELLER not in str(desk)
    managers = await statement(api, sold, Role.manager)
    assert managers["owner_name"] == BUYER and managers["other_owners"][0]["name"] == SELLER

    # The seller's account, chosen: their period, the buyer's total apart.
    chosen = await statement(api, sold, Role.cashier, owner_id=sold.seller_id)
    assert chosen["owner_id"] == sold.seller_id and chosen["owner_name"] == "业*0"
    assert chosen["owed_fen"] == 25000 and periods(chosen) == {"2026-06"}
    assert [(o["owner_id"], o["former"], o["owed_fen"]) for o in chosen["other_owners"]] == [
        (sold.buyer_id, False, 50000)
    ]

    # The payoff the same way: the chosen account's lines, each other owner's total apart.
    buyers = await payoff(api, sold, Role.cashier)
    assert buyers["owner_id"] == sold.buyer_id and {line["period"] for line in buyers["lines"]} == {
        "2026-09",
        "2026-10",
    }
    [apart] = buyers["other_owners"]
    assert (apart["owner_id"], apart["name"], apart["former"]) == (sold.seller_id, "业*0", True)
    assert apart["owed_fen"] == (await payoff(api, sold, sold.seller_token))["total_fen"] >= 25000
    sellers = await payoff(api, sold, Role.manager, owner_id=sold.seller_id)
    assert sellers["owner_id"] == sold.seller_id and [line["period"] for line in sellers["lines"]] == ["2026-06"]
    assert [(o["name"], o["former"]) for o in sellers["other_owners"]] == [(BUYER, False)]

    # Someone who never owned the unit: refused, naming the field.
    stranger = (await api.ok(await api.post("/api/v1/owners", {"name": "路人甲"})))["id"]
    path = f"/api/v1/units/{sold.unit_id}"
    problem(await api.get(f"{path}/statement", Role.cashier, params={"owner_id": stranger}), 422, "owner_id")
    problem(await api.get(f"{path}/payoff", Role.cashier, params={"owner_id": stranger}), 422, "owner_id")
    # An owner cannot choose: their own account whatever they ask.
    theirs = await statement(api, sold, sold.buyer_token, owner_id=sold.seller_id)
    assert theirs["owner_id"] == sold.buyer_id and periods(theirs) == {"2026-09", "2026-10"}


async def test_the_printed_statement_is_the_account_owners_alone(api: Api, tmp_path: Path) -> None:
    sold = await sold_unit(api)
    url = f"/api/v1/units/{sold.unit_id}/statement"

    for reader, params in ((Role.manager, {}), (sold.buyer_token, {})):
        pdf = await api.get(url, reader, params={**AS_OF, **params}, headers=PDF)
        assert pdf.status_code == 200, pdf.text
        text = compact(pdf_text(pdf.content, tmp_path))
        assert BUYER in text and "2026年9月" in text and "2026年10月" in text and "500.00" in text
        assert SELLER not in text and "业*0" not in text and "2026年6月" not in text and "750.00" not in text
    for reader, params in ((Role.manager, {"owner_id": sold.seller_id}), (sold.seller_token, {})):
        pdf = await api.get(url, reader, params={**AS_OF, **params}, headers=PDF)
        assert pdf.status_code == 200, pdf.text
        text = compact(pdf_text(pdf.content, tmp_path))
        assert SELLER in text and "2026年6月" in text and "250.00" in text
        assert BUYER not in text and "2026年9月" not in text and "2026年10月" not in text


async def test_a_buyer_from_the_middle_of_a_period_reads_from_that_period_on(api: Api) -> None:
    sold = await sold_unit(api, handover="2026-08-16")
    buyers = await statement(api, sold, sold.buyer_token)
    assert buyers["period_from"] == "2026-08-01" and periods(buyers) == {"2026-09", "2026-10"}
    sellers = await statement(api, sold, sold.seller_token)
    assert sellers["period_to"] == "2026-08-15" and periods(sellers) == {"2026-06"}
