"""Reminder letters on a sold unit (issue 15): each owner is asked for their own periods only, at
their own address; a former owner who cannot be reached is listed for attention, never written to
at the unit. And the manager's route that keeps an owner's contact details."""

from __future__ import annotations

import uuid
from typing import Any

from sqlmodel import col, select

from feesvc.audit.models import AuditEvent
from feesvc.auth.models import Role
from feesvc.letters.models import Letter, OutboxMessage
from feesvc.registry.models import Owner
from tests.sale_support import SoldUnit, sold_unit
from tests.support import Api, problem

# The seller's 2026-06 fell due 2026-06-01, the buyer's 2026-09 on 2026-09-01: on 2026-12-01 both
# are past the final-demand stage (90 days), and neither owner has had a demand yet.
RUN_ON = "2026-12-01"
SELLER_ADDRESS = "北京市朝阳区卖家路1号 3单元 502"


async def run(api: Api, estate_id: int, **extra: Any) -> Any:
    body = {"estate_id": estate_id, "as_of": RUN_ON, **extra}
    return await api.ok(await api.post("/api/v1/reminder-runs", body), 200)


async def set_contact(api: Api, owner_id: int, **changes: Any) -> Any:
    return await api.ok(await api.patch(f"/api/v1/owners/{owner_id}", changes))


async def letters_of(api: Api, sale: SoldUnit) -> dict[int | None, Letter]:
    async with api.sessions() as s:
        # The reminder runs' letters (the buyer's payment notice at the sale is no run's).
        query = select(Letter).where(Letter.unit_id == sale.unit_id, col(Letter.run_id).is_not(None))
        rows = (await s.execute(query)).scalars().all()
    by_owner: dict[int | None, Letter] = {}
    for letter in rows:
        assert letter.owner_id not in by_owner, "one letter per owner per run"
        by_owner[letter.owner_id] = letter
    return by_owner


async def test_each_owner_is_demanded_their_own_periods_at_their_own_address(api: Api) -> None:
    sale = await sold_unit(api)
    await set_contact(api, sale.seller_id, postal_address=SELLER_ADDRESS)
    summary = await run(api, sale.estate.id)
    assert summary["letters_by_kind"] == {"final_demand": 2} and summary["needs_attention"] == []

    letters = await letters_of(api, sale)
    assert set(letters) == {sale.seller_id, sale.buyer_id}
    buyer, seller = letters[sale.buyer_id], letters[sale.seller_id]
    # The buyer is asked for 2026-09 and 2026-10 (50,000 fen), not the seller's 2026-06 (75,000).
    assert (buyer.kind, buyer.periods, buyer.total_fen) == ("final_demand", ["2026-09", "2026-10"], 50000)
    assert buyer.context["owner_name"] == "买受人王五"
    assert buyer.context["postal_address"] == "上海市徐汇区买家路9号"
    # The seller is asked for 2026-06 only, at the address they gave: they no longer live in the unit.
    assert (seller.kind, seller.periods, seller.total_fen) == ("final_demand", ["2026-06"], 25000)
    assert seller.context["owner_name"] == "业主0" and seller.context["postal_address"] == SELLER_ADDRESS
    assert seller.channel == "paper" and seller.letter_no != buyer.letter_no

    # A rerun the same day issues nothing: the buyer's demand is out; the seller, past 120 days and
    # demanded today, is not for legal review until that demand is delivered and its deadline passed.
    again = await run(api, sale.estate.id)
    assert again["letters_by_kind"] == {}
    assert again["skipped_by_reason"] == {
        "already issued today": 1,
        "final demand not delivered yet (record its delivery)": 1,
    }
    assert again["legal_review_units"] == []


async def test_a_former_owner_without_an_address_is_listed_for_attention_not_written_to_at_the_unit(
    api: Api,
) -> None:
    sale = await sold_unit(api)  # the seller gave no postal address and prefers paper
    await set_contact(api, sale.buyer_id, postal_address="")  # nor did the buyer, who lives in the unit
    summary = await run(api, sale.estate.id)
    assert summary["letters_by_kind"] == {"final_demand": 1}
    [attention] = summary["needs_attention"]
    assert attention["unit_id"] == sale.unit_id
    assert f"former owner #{sale.seller_id}" in attention["reason"] and "postal address" in attention["reason"]
    letters = await letters_of(api, sale)
    assert set(letters) == {sale.buyer_id}  # nothing for the seller, least of all at the unit
    # The current owner without a postal address is written to at the unit, as always.
    buyer = letters[sale.buyer_id]
    assert (buyer.channel, buyer.context["postal_address"], buyer.context["unit_label"]) == ("paper", "", "1栋 101")

    # Once the seller's address is on file, the next run writes to them there.
    await set_contact(api, sale.seller_id, postal_address=SELLER_ADDRESS)
    later = await api.ok(
        await api.post("/api/v1/reminder-runs", {"estate_id": sale.estate.id, "as_of": "2026-12-02"}), 200
    )
    assert later["letters_by_kind"] == {"final_demand": 1} and later["needs_attention"] == []
    letters = await letters_of(api, sale)
    assert letters[sale.seller_id].context["postal_address"] == SELLER_ADDRESS


async def test_a_former_owner_who_prefers_email_gets_the_demand_by_email(api: Api) -> None:
    sale = await sold_unit(api)
    await set_contact(api, sale.seller_id, email="seller@example.test", preferred_channel="email")
    summary = await run(api, sale.estate.id)
    assert summary["letters_by_kind"] == {"final_demand": 2} and summary["needs_attention"] == []
    seller = (await letters_of(api, sale))[sale.seller_id]
    # No postal address: no paper copy (it could only go to the unit); the e-mail is the letter.
    assert seller.channel == "email" and seller.periods == ["2026-06"]
    async with api.sessions() as s:
        messages = (await s.execute(select(OutboxMessage).where(OutboxMessage.letter_id == seller.id))).scalars().all()
    assert [(m.channel, m.recipient) for m in messages] == [("email", "seller@example.test")]


async def test_a_seller_who_paid_gets_nothing_and_the_buyer_still_gets_their_letter(api: Api) -> None:
    sale = await sold_unit(api)
    # The seller settles 2026-06 at the desk, designating it (民法典 560): the debt is the seller's.
    body = {"unit_id": sale.unit_id, "amount_fen": 25000, "method": "cash", "designation": {"periods": ["2026-06"]}}
    await api.ok(await api.post("/api/v1/payments", body, Role.cashier, headers={"Idempotency-Key": uuid.uuid4().hex}))
    summary = await run(api, sale.estate.id)
    assert summary["letters_by_kind"] == {"final_demand": 1} and summary["needs_attention"] == []
    assert set(await letters_of(api, sale)) == {sale.buyer_id}


async def test_a_manager_keeps_an_owners_contact_details_audited_and_masked(api: Api) -> None:
    sale = await sold_unit(api)
    url = f"/api/v1/owners/{sale.seller_id}"
    changed = await api.ok(
        await api.patch(
            url,
            {
                "phone": "13911112222",
                "email": "seller@example.test",
                "postal_address": SELLER_ADDRESS,
                "preferred_channel": "email",
                "locale": "en",
            },
        )
    )
    # Numbers masked as everywhere; the postal address never appears in a response, only whether one is on file.
    assert changed["phone"] == "*******2222" and changed["email"] == "s***@example.test"
    assert changed["preferred_channel"] == "email" and changed["locale"] == "en"
    assert changed["has_postal_address"] is True and SELLER_ADDRESS not in str(changed)
    async with api.sessions() as s:
        owner = await s.get(Owner, sale.seller_id)
        assert owner is not None
        assert (owner.phone, owner.email, owner.postal_address) == (
            "13911112222",
            "seller@example.test",
            SELLER_ADDRESS,
        )
        audit = (await s.execute(select(AuditEvent).where(AuditEvent.action == "owner.contact"))).scalars().all()
    [event] = [a for a in audit if a.entity_id == str(sale.seller_id) or a.entity_id == sale.seller_id]
    # What changed, by name; the values (personal data) stay out of the log.
    assert sorted(event.detail["changed"]) == ["email", "locale", "phone", "postal_address", "preferred_channel"]
    assert SELLER_ADDRESS not in str(event.detail) and "13911112222" not in str(event.detail)

    # A field left out stays as it was; an empty address or e-mail clears it.
    problem(await api.patch(url, {"email": ""}), 422, "email")  # letters go by e-mail: one is needed
    cleared = await api.ok(await api.patch(url, {"postal_address": "", "email": "", "preferred_channel": "paper"}))
    assert cleared["has_postal_address"] is False and cleared["email"] == "" and cleared["phone"] == "*******2222"

    problem(await api.patch(url, {"email": "not an address"}), 400, "email")
    problem(await api.patch(url, {"preferred_channel": "fax"}), 400, "preferred_channel")
    problem(await api.patch(url, {"name": "改名"}), 400, "name")
    problem(await api.patch(url, {"phone": "13911112222"}, Role.cashier), 403)
    problem(await api.patch(url, {"phone": "13911112222"}, sale.seller_token), 403)
    problem(await api.patch("/api/v1/owners/999999999", {"phone": "13911112222"}), 404)
