"""Effective-dated late-fee terms through the API and the run (issue 14 items 2 and 5)."""

from __future__ import annotations

import io
import json
import zipfile
from datetime import date
from decimal import Decimal
from pathlib import Path

import msgspec
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from feesvc.audit.models import AuditEvent
from feesvc.auth.models import Role
from feesvc.auth.principal import COMMAND_LINE
from feesvc.db import business_today
from feesvc.latefees import terms as late_fee_terms
from feesvc.ledger.models import EntryKind, LedgerEntry
from feesvc.registry.schemas import EstateSettings
from feesvc.registry.service import update_estate_settings
from feesvc.rules.late_fees import LateFeeCap
from tests.support import Api, problem
from tests.test_evidence import pdf_text

SETTINGS = {"due_day": 15, "grace_days": 10, "late_fee_daily_rate": "0.0003"}


async def _run(api: Api, estate_id: int, as_of: str) -> dict:  # type: ignore[type-arg]
    return await api.ok(await api.post("/api/v1/late-fee-runs", {"estate_id": estate_id, "as_of": as_of}), 200)


async def test_a_change_of_rate_applies_from_its_date_and_never_reaches_back(api: Api, session: AsyncSession) -> None:
    """The issue's reproduction: 0.0003 → 0.0005 used to recompute every open charge from its due date."""
    estate = await api.make_estate(units=1, rate="2.00", area="100.00", settings=SETTINGS)
    unit = estate.unit_ids[0]
    await api.bill(estate.id, "2026-01", "2026-01-01")
    assert (await _run(api, estate.id, "2026-03-31"))["posted_fen"] == 390  # 65 days × 20000 × 0.0003
    current = (await api.ok(await api.get(f"/api/v1/estates/{estate.id}")))["settings"]
    changed = msgspec.convert({**current, "late_fee_daily_rate": "0.0005"}, EstateSettings)
    # The estate settings route: by default from the business day of the change (here 2026-04-01).
    await update_estate_settings(session, COMMAND_LINE, estate.id, changed, date(2026, 4, 1))
    run = await _run(api, estate.id, "2026-04-30")
    # April at the new rate only: 30 × 20000 × 0.0005 = 300 (a rewrite would have made it 950 − 390 = 560).
    assert (run["posted_fen"], run["corrections_posted"]) == (300, 0)
    versions = await api.ok(await api.get(f"/api/v1/estates/{estate.id}/late-fee-terms", Role.cashier))
    assert [(v["effective_from"], v["daily_rate"], v["fee_standard_id"]) for v in versions] == [
        ("1900-01-01", "0.0003", None),
        ("2026-04-01", "0.0005", None),
    ]
    assert versions[1]["basis"] == "estate settings changed"
    statement = await api.ok(await api.get(f"/api/v1/units/{unit}/statement", params={"as_of": "2026-04-30"}))
    [_, april] = [x for x in statement["lines"] if x["kind"] == "late_fee"]
    assert april["calculation"] == (
        "2026-01-26 至 2026-03-31 共 65 天：¥200.00 × 万分之三 (0.03%/日) × 65; "
        "2026-04-01 至 2026-04-30 共 30 天：¥200.00 × 万分之五 (0.05%/日) × 30（2026-04-01 起的条款）"
    )
    assert [t["effective_from"] for t in april["detail"]["terms"]] == ["1900-01-01", "2026-04-01"]
    audit = (
        await session.execute(
            select(AuditEvent).where(AuditEvent.action == "late_fee_terms.add", AuditEvent.entity_id == str(estate.id))
        )
    ).scalars()
    assert [a.detail["daily_rate"] for a in audit] == ["0.0005"]


async def test_settings_without_a_late_fee_change_add_no_version(api: Api) -> None:
    estate = await api.make_estate(units=1, settings=SETTINGS)
    current = (await api.ok(await api.get(f"/api/v1/estates/{estate.id}")))["settings"]
    await api.ok(await api.put(f"/api/v1/estates/{estate.id}/settings", {**current, "prepay_cap_months": 6}))
    versions = await api.ok(await api.get(f"/api/v1/estates/{estate.id}/late-fee-terms"))
    assert len(versions) == 1
    # A change with no date takes effect on the business day it is made.
    await api.ok(await api.put(f"/api/v1/estates/{estate.id}/settings", {**current, "grace_days": 3}))
    versions = await api.ok(await api.get(f"/api/v1/estates/{estate.id}/late-fee-terms"))
    assert (versions[-1]["effective_from"], versions[-1]["grace_days"]) == (business_today().isoformat(), 3)
    # A date before today would reach into days that have run.
    stale = {**current, "grace_days": 4, "late_fee_terms_from": "2000-01-01"}
    problem(await api.put(f"/api/v1/estates/{estate.id}/settings", stale), 422, "settings.late_fee_terms_from")
    assert len(await api.ok(await api.get(f"/api/v1/estates/{estate.id}/late-fee-terms"))) == 2


async def test_adding_versions_through_the_api(api: Api) -> None:
    estate = await api.make_estate(units=1, settings=SETTINGS)
    other = await api.make_estate(units=1, settings=SETTINGS)
    path = f"/api/v1/estates/{estate.id}/late-fee-terms"
    later = "2099-01-01"  # any day from today on
    full = {"effective_from": later, "daily_rate": "0.0002", "basis": "业主大会决议", "grace_days": 5, "cap": "none"}
    problem(await api.post(path, full, Role.cashier), 403)
    problem(await api.post(path, {**full, "effective_from": "2000-01-01"}), 422, "effective_from")
    problem(await api.post(path, {k: v for k, v in full.items() if k != "grace_days"}), 422, "grace_days")
    problem(await api.post(path, {**full, "cap": "fixed"}), 422, "cap_fen")
    problem(await api.post(path, {**full, "daily_rate": "2"}), 400, "daily_rate")
    added = await api.ok(await api.post(path, {**full, "cap": "fixed", "cap_fen": 5000}))
    assert (added["effective_from"], added["cap"], added["cap_fen"], added["actor"]) == (
        later,
        "fixed",
        5000,
        added["actor"],
    )
    problem(await api.post(path, full), 409, "effective_from")
    # A fee standard's version: its own rate only, and only for this estate's standards.
    standards = await api.ok(await api.get(f"/api/v1/estates/{estate.id}/fee-standards"))
    theirs = await api.ok(await api.get(f"/api/v1/estates/{other.id}/fee-standards"))
    own = {"effective_from": later, "daily_rate": "0.0004", "basis": "车位合同", "fee_standard_id": standards[0]["id"]}
    problem(await api.post(path, {**own, "grace_days": 3}), 422, "grace_days")
    problem(await api.post(path, {**own, "fee_standard_id": theirs[0]["id"]}), 404, "fee_standard_id")
    await api.ok(await api.post(path, own))
    versions = await api.ok(await api.get(path))
    assert [(v["fee_standard_id"], v["daily_rate"]) for v in versions] == [
        (None, "0.0003"),
        (None, "0.0002"),
        (standards[0]["id"], "0.0004"),
    ]


async def test_a_fee_standards_own_rate_is_a_version_of_the_terms(api: Api) -> None:
    estate = await api.make_estate(units=1, rate="2.00", area="100.00", settings=SETTINGS)
    parking = {
        "unit_use": "residential",
        "item": "parking",
        "item_name": "车位管理费",
        "basis": "fixed_month",
        "rate": "100.00",
        "effective_from": "2025-01-01",
        "posted_on": "2025-01-01",
        "decision_kind": "contract",
        "decision_ref": "车位管理合同",
        "late_fee_daily_rate": "0.0005",
    }
    standard = await api.ok(await api.post(f"/api/v1/estates/{estate.id}/fee-standards", parking))
    versions = await api.ok(await api.get(f"/api/v1/estates/{estate.id}/late-fee-terms"))
    assert [(v["fee_standard_id"], v["effective_from"], v["daily_rate"]) for v in versions][-1] == (
        standard["id"],
        "2025-01-01",
        "0.0005",
    )


async def test_the_court_likely_figure_is_never_above_the_contract(api: Api) -> None:
    """The issue's reproduction: a milder contract (a fixed cap of ¥50, a start date, 万分之一, no
    clause at all) gave a court-likely figure above the contract figure of the same charge."""
    court_rate = {"effective_from": "2020-01-01", "annual_rate": "0.0390", "basis": "1年期LPR 3.00% × 1.3"}
    # name: (terms, contract fen, court-likely fen); the charge is ¥2,500 due 2026-01-01, as of 2026-11-30.
    # The LPR figure from the day after the due date: 250000 × 3.9 % × 333 / 365 = ¥889.52.
    contracts = {
        "fixed cap ¥50": ({"late_fee_cap": "fixed", "late_fee_cap_fen": 5000}, 5000, 5000),
        # Only October and November count, for both: 250000 × 3.9 % × 61 / 365 = 1629.45.
        "start date": ({"late_fee_starts_on": "2026-10-01"}, 61 * 75, 1629),
        "万分之一": ({"late_fee_daily_rate": "0.0001"}, 333 * 25, 333 * 25),
        "no clause": ({"late_fee_daily_rate": "0"}, 0, 0),
    }
    for name, (terms, contract_fen, court_fen) in contracts.items():
        estate = await api.make_estate(units=1, rate="2.50", area="1000.00", settings={"due_day": 1, **terms})
        await api.ok(await api.post(f"/api/v1/estates/{estate.id}/court-rates", court_rate))
        await api.bill(estate.id, "2026-01", "2026-01-01")
        await _run(api, estate.id, "2026-11-30")
        fees = [e for e in (await api.ledger(estate.unit_ids[0]))["entries"] if e["kind"] == "late_fee"]
        contract = sum(e["amount_fen"] for e in fees)
        court = fees[-1]["detail"]["court_likely_fen"] if fees else 0
        assert (contract, court) == (contract_fen, court_fen), name


async def test_a_charge_that_cannot_be_computed_is_reported_and_the_run_goes_on(
    api: Api, session: AsyncSession
) -> None:
    estate = await api.make_estate(units=2, rate="2.00", area="100.00", settings=SETTINGS)
    await api.bill(estate.id, "2026-01", "2026-01-01")
    good = (
        (
            await session.execute(
                select(LedgerEntry).where(LedgerEntry.kind == EntryKind.charge, LedgerEntry.estate_id == estate.id)
            )
        )
        .scalars()
        .first()
    )
    assert good is not None
    # A charge with a negative amount (imported wrongly) cannot carry a late fee.
    bad = LedgerEntry(
        estate_id=estate.id,
        unit_id=estate.unit_ids[1],
        owner_id=good.owner_id,
        kind=EntryKind.charge,
        amount_fen=-500,
        effective_date=date(2026, 1, 1),
        period="2026-01",
        item="import_error",
        due_date=date(2026, 1, 15),
        dedupe_key=f"test-bad-charge-{estate.id}",
        actor="import",
    )
    session.add(bad)
    await session.commit()
    run = await _run(api, estate.id, "2026-03-31")
    assert run["late_fees_posted"] == 2 and run["posted_fen"] == 780
    assert run["problems"] == [
        {
            "charge_id": bad.id,
            "unit_id": estate.unit_ids[1],
            "reason": "ValueError: principal_fen must be at least 0: -500",
        }
    ]
    posted = (
        await session.execute(
            select(col(LedgerEntry.basis_entry_id)).where(
                LedgerEntry.kind == EntryKind.late_fee, LedgerEntry.estate_id == estate.id
            )
        )
    ).scalars()
    assert bad.id not in set(posted)


async def test_the_evidence_pack_quotes_the_terms_that_applied(api: Api, session: AsyncSession, tmp_path: Path) -> None:
    estate = await api.make_estate(units=1, rate="2.00", area="100.00", settings={"due_day": 15, "grace_days": 10})
    unit = estate.unit_ids[0]
    parking = {
        "unit_use": "residential",
        "item": "parking",
        "item_name": "车位管理费",
        "basis": "fixed_month",
        "rate": "100.00",
        "effective_from": "2025-01-01",
        "posted_on": "2025-01-01",
        "decision_kind": "contract",
        "decision_ref": "车位管理合同",
        "late_fee_daily_rate": "0.0005",
    }
    await api.ok(await api.post(f"/api/v1/estates/{estate.id}/fee-standards", parking))
    court_rate = {"effective_from": "2020-01-01", "annual_rate": "0.0390", "basis": "1年期LPR 3.00% × 1.3"}
    await api.ok(await api.post(f"/api/v1/estates/{estate.id}/court-rates", court_rate))
    await api.bill(estate.id, "2026-01", "2026-01-01")
    await _run(api, estate.id, "2026-03-31")
    change = late_fee_terms.TermsChange(
        effective_from=date(2026, 4, 1),
        daily_rate=Decimal("0.0002"),
        basis="业主大会决议",
        grace_days=10,
        cap=LateFeeCap.principal,
    )
    await late_fee_terms.add_version(session, COMMAND_LINE, estate.id, change, date(2026, 4, 1))
    await _run(api, estate.id, "2026-05-31")
    response = await api.post(f"/api/v1/units/{unit}/evidence-packs", {"as_of": "2026-05-31"})
    assert response.status_code == 200, response.text
    with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
        filing = json.loads(archive.read("filing.json"))
        parties = await pdf_text(archive.read("02_parties_and_basis.pdf"), tmp_path, "parties.pdf")
    claims = filing["claims"]
    basis = claims["late_fee_basis"]
    # The estate's first terms, the new rate from April, and the parking standard's own rate.
    assert "自始，日利率万分之三，宽限10天，不超过欠费本金" in basis
    assert "自2026-04-01起，日利率万分之二，宽限10天，不超过欠费本金" in basis
    assert "日利率万分之五（收费标准自有利率）" in basis
    # Service fee: 65 days at 0.0003 and 61 at 0.0002 on 200 元; parking: 65 at 0.0005 and 61 at
    # its own 0.0005 on 100 元 (its own rate stays in force over the estate's new one).
    assert claims["late_fee_contract"]["fen"] == (390 + 244) + (325 + 305)
    assert claims["late_fee_court_likely"]["fen"] <= claims["late_fee_contract"]["fen"]
    # The parties and basis document: the terms in force on the pack's day, and how they changed.
    flat = "".join(parties.split())
    assert "万分之二" in flat and "条款沿革" in flat
    assert "自始，日利率万分之三" in flat and "自2026-04-01起，日利率万分之二" in flat
