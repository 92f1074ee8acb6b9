"""Imports: moving an estate in from spreadsheets, checked whole before anything is written.

Each test makes its own estate (building 1栋 and a service fee standard, no units) and imports into it
through the upload route as a manager would; dates are fixed, so nothing depends on today."""

from __future__ import annotations

import csv
import io
import random
from datetime import date
from typing import Any

import pytest
from openpyxl import Workbook, load_workbook

from feesvc.audit.models import AuditEvent
from feesvc.auth.models import Role
from feesvc.imports import rules
from feesvc.imports.kinds import KINDS
from feesvc.imports.template import template_bytes
from feesvc.ledger.models import EntryKind, LedgerEntry
from feesvc.ledger.position import disagreements
from feesvc.registry.models import Owner, Unit
from tests.support import Api, problem

UNITS = [["楼栋", "房号", "建筑面积", "用途"], ["1栋", "101", "100.00", "住宅"], ["1栋", "102", "80.5", "住宅"]]
OWNERS = [
    ["姓名", "手机号", "证件号码", "联系地址", "通知方式"],
    ["王一", "13900000001", "110101198001010011", "1栋101", "短信"],
    ["李二", "13900000002", "", "", ""],
    ["张三", "13900000003", "", "", "微信"],
]
OWNERSHIPS = [
    ["楼栋", "房号", "业主姓名", "业主手机号", "开始日期", "结束日期"],
    ["1栋", "101", "王一", "13900000001", "2020-01-01", ""],
    ["1栋", "102", "李二", "13900000002", "2020-01-01", "2024-06-30"],
    ["1栋", "102", "张三", "13900000003", "2024-07-01", ""],
]
BALANCES = [
    ["楼栋", "房号", "期间", "收费项目", "欠费金额", "来源系统"],
    ["1栋", "101", "2023-03", "service_fee", "250.00", "旧收费系统"],
    ["1栋", "101", "2025-12", "service_fee", "250.00", "旧收费系统"],
    ["1栋", "102", "2024-05", "service_fee", "201.25", "旧收费系统"],  # the seller's, before the handover
]
CREDITS = [["楼栋", "房号", "预存余额", "余额日期", "来源系统"], ["1栋", "102", "600", "2026-01-01", "旧收费系统"]]


# Owners are not an estate's: each test's owners get phones of their own ("1390000" → 139 + 4 random digits).
PHONES = {"prefix": "1390000"}


@pytest.fixture(autouse=True)
def own_phones() -> None:
    PHONES["prefix"] = f"139{random.randrange(10_000):04d}"


def phone(sample: str) -> str:
    return sample.replace("1390000", PHONES["prefix"])


def mine(rows: list[list[str]]) -> list[list[str]]:
    return [[phone(c) if c.replace(" ", "").startswith("1390000") else c for c in row] for row in rows]


def xlsx(rows: list[list[str]], title: str = "数据") -> bytes:
    rows = mine(rows)
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = title
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def csv_bytes(rows: list[list[str]], encoding: str) -> bytes:
    text = io.StringIO()
    csv.writer(text).writerows(mine(rows))
    return text.getvalue().encode(encoding)


async def estate(api: Api) -> Any:
    made = await api.make_estate(units=0, rate="2.50")
    return made


async def upload(
    api: Api,
    estate_id: int,
    kind: str,
    content: bytes,
    name: str = "file.xlsx",
    dry_run: bool = False,
    role: Role = Role.manager,
) -> Any:
    params = {"dry_run": "true"} if dry_run else {}
    return await api.client.post(
        f"/api/v1/estates/{estate_id}/imports/{kind}",
        files={"file": (name, content)},
        params=params,
        headers=api.headers(role),
    )


async def load(api: Api, estate_id: int) -> dict[str, Any]:
    results = {}
    for kind, rows in (("units", UNITS), ("owners", OWNERS), ("ownerships", OWNERSHIPS)):
        results[kind] = await api.ok(await upload(api, estate_id, kind, xlsx(rows)), 200)
    results["balances"] = await api.ok(
        await upload(api, estate_id, "balances", csv_bytes(BALANCES, "gb18030"), "balances.csv"), 200
    )
    results["credits"] = await api.ok(
        await upload(api, estate_id, "credits", csv_bytes(CREDITS, "utf-8-sig"), "c.csv"), 200
    )
    return results


async def units_of(api: Api, estate_id: int) -> dict[str, int]:
    async with api.sessions() as s:
        from sqlmodel import select

        rows = (await s.execute(select(Unit.number, Unit.id).where(Unit.estate_id == estate_id))).all()
    return {number: unit_id for number, unit_id in rows}


async def test_an_estate_moves_in_and_aging_and_limitation_work_from_day_one(api: Api) -> None:
    made = await estate(api)
    results = await load(api, made.id)
    assert [results[k]["created"] for k in ("units", "owners", "ownerships", "balances", "credits")] == [2, 3, 3, 3, 1]
    assert all(r["written"] and not r["problems"] for r in results.values())
    units = await units_of(api, made.id)
    ledger = await api.ledger(units["101"], "2026-01-31")
    charges = [e for e in ledger["entries"] if e["kind"] == "charge"]
    assert [(c["period"], c["amount_fen"], c["due_date"]) for c in charges] == [
        ("2023-03", 25000, "2023-03-01"),
        ("2025-12", 25000, "2025-12-01"),
    ]
    assert ledger["overdue_fen"] == 50000
    # Aging sees the imported debts by their own due dates.
    aging = await api.ok(await api.get(f"/api/v1/estates/{made.id}/reports/aging", params={"as_of": "2026-01-15"}))
    buckets = {b["label"]: b["overdue_fen"] for b in aging["estate"]["buckets"]}
    assert buckets["31-90"] == 25000 and buckets[">365"] == 25000 + 20125
    assert aging["estate"]["former_owners"]["overdue_fen"] == 20125  # 102's seller, before the handover
    # The seller's debt is theirs: owner 李二 (the owner on the period's first day), not the buyer.
    seller = await api.ledger(units["102"], "2026-01-31")
    assert seller["prepaid_credit_fen"] == 60000
    async with api.sessions() as s:
        from sqlmodel import col, select

        query = (
            select(LedgerEntry.kind, Owner.name)
            .join(Owner, col(Owner.id) == LedgerEntry.owner_id)
            .where(LedgerEntry.unit_id == units["102"])
        )
        names = {kind: name for kind, name in (await s.execute(query)).all()}
    assert names == {EntryKind.charge: "李二", EntryKind.prepaid_credit: "张三"}
    # Every unit's stored position (balance, earliest open due date) is what its ledger gives.
    async with api.sessions() as s:
        assert await disagreements(s, made.id) == []
        positions = dict(
            (await s.execute(select(Unit.number, Unit.balance_fen).where(Unit.estate_id == made.id))).all()
        )
    assert positions == {"101": 50000, "102": 20125 - 60000}


async def test_importing_the_same_files_again_changes_nothing(api: Api) -> None:
    made = await estate(api)
    await load(api, made.id)
    entries = await api.count(LedgerEntry, LedgerEntry.estate_id == made.id)
    again = await load(api, made.id)
    for kind, result in again.items():
        assert (result["created"], result["updated"], result["reversed"]) == (0, 0, 0), kind
        assert result["unchanged"] == result["rows"] > 0
    assert await api.count(LedgerEntry, LedgerEntry.estate_id == made.id) == entries


async def test_a_changed_row_updates_the_registry_with_an_audit_entry_and_reverses_a_balance(api: Api) -> None:
    made = await estate(api)
    await load(api, made.id)
    units = await units_of(api, made.id)
    changed = [UNITS[0], ["1栋", "101", "101.25", "住宅"], UNITS[2]]
    result = await api.ok(await upload(api, made.id, "units", xlsx(changed)), 200)
    assert (result["created"], result["updated"], result["unchanged"]) == (0, 1, 1)
    assert (
        await api.count(AuditEvent, AuditEvent.action == "unit.update", AuditEvent.entity_id == str(units["101"])) == 1
    )
    balances = [BALANCES[0], ["1栋", "101", "2023-03", "service_fee", "200.00", "旧收费系统"], *BALANCES[2:]]
    result = await api.ok(await upload(api, made.id, "balances", xlsx(balances)), 200)
    assert (result["created"], result["updated"], result["reversed"], result["unchanged"]) == (0, 1, 1, 2)
    ledger = await api.ledger(units["101"])  # the reversal is dated the day of the import
    march = [e for e in ledger["entries"] if e["period"] == "2023-03"]
    assert sorted(e["amount_fen"] for e in march) == [
        -25000,
        20000,
        25000,
    ]  # posted entries stay; a reversal with its reason
    reversal = next(e for e in march if e["kind"] == "reversal")
    assert reversal["reason"]
    assert ledger["overdue_fen"] == 45000
    async with api.sessions() as s:
        assert await disagreements(s, made.id) == []


BAD_UNITS = [
    UNITS[0],
    ["9栋", "101", "100", "住宅"],  # unknown building
    ["1栋", "201", "100", ""],
    ["1栋", "201", "90", ""],  # duplicate unit
    ["1栋", "202", "-3", ""],  # area not a positive decimal
]


async def test_a_file_with_one_bad_row_in_each_way_is_refused_whole_with_every_problem(api: Api) -> None:
    made = await estate(api)
    body = problem(await upload(api, made.id, "units", xlsx(BAD_UNITS, "房屋")), 422)
    fields = [e["field"] for e in body["errors"]]
    assert fields == ["房屋!楼栋 row 2", "房屋!房号 row 4", "房屋!建筑面积 row 5"], fields
    assert all(" / " in e["message"] for e in body["errors"])  # Chinese / English
    assert await api.count(Unit, Unit.estate_id == made.id) == 0  # the good row was not written either

    await load(api, made.id)
    bad_owners = [OWNERS[0], ["赵四", "12345", "", "", ""]]  # not a mainland mobile
    body = problem(await upload(api, made.id, "owners", xlsx(bad_owners)), 422)
    assert [e["field"] for e in body["errors"]] == ["数据!手机号 row 2"]
    overlapping = [OWNERSHIPS[0], ["1栋", "101", "张三", "13900000003", "2024-01-01", ""]]
    body = problem(await upload(api, made.id, "ownerships", xlsx(overlapping)), 422)
    assert [e["field"] for e in body["errors"]] == ["数据!开始日期 row 2"]
    assert "重叠" in body["errors"][0]["message"] and "overlapping" in body["errors"][0]["message"]
    bad_balances = [
        BALANCES[0],
        ["1栋", "101", "2999-01", "service_fee", "10", "旧"],  # a period in the future
        ["1栋", "101", "2024-01", "service_fee", "10.005", "旧"],  # not whole fen
        ["1栋", "999", "2024-01", "service_fee", "10", "旧"],  # unknown unit
    ]
    entries = await api.count(LedgerEntry, LedgerEntry.estate_id == made.id)
    body = problem(await upload(api, made.id, "balances", xlsx(bad_balances)), 422)
    assert [e["field"] for e in body["errors"]] == ["数据!期间 row 2", "数据!欠费金额 row 3", "数据!房号 row 4"]
    assert await api.count(LedgerEntry, LedgerEntry.estate_id == made.id) == entries


async def test_dry_run_checks_and_writes_nothing_and_only_managers_import(api: Api) -> None:
    made = await estate(api)
    result = await api.ok(await upload(api, made.id, "units", xlsx(UNITS), dry_run=True), 200)
    assert (result["created"], result["dry_run"], result["written"]) == (2, True, False)
    assert await api.count(Unit, Unit.estate_id == made.id) == 0
    problem(await upload(api, made.id, "units", xlsx(UNITS), role=Role.cashier), 403)
    problem(await upload(api, made.id, "flats", xlsx(UNITS)), 404)
    problem(await upload(api, made.id, "units", b"not a workbook", "x.xlsx"), 422)
    problem(await upload(api, made.id, "units", b"a,b", "x.txt"), 422)
    missing = [["楼栋", "房号"], ["1栋", "101"]]
    body = problem(await upload(api, made.id, "units", xlsx(missing)), 422)
    assert "建筑面积" in body["errors"][0]["field"]


@pytest.mark.parametrize("kind", list(KINDS))
def test_each_template_has_headers_an_example_and_notes_and_its_example_passes_the_rules(kind: str) -> None:
    book = load_workbook(io.BytesIO(template_bytes(KINDS[kind])))
    data, notes = book.worksheets
    assert notes.title == "说明"
    header = [c.value for c in data[1]]
    assert header == [f.zh for f in KINDS[kind].fields]
    example = [c.value for c in data[2]]
    assert len(example) == len(header)
    assert notes.max_row >= len(header) + 1


def test_row_rules() -> None:
    assert rules.yuan_to_fen("1,234.5") == 123450
    assert rules.mobile("+86 139-0000-0001") == "13900000001"
    assert rules.positive_area("89.5") == rules.positive_area("89.50")
    for bad in ("1.001", "abc", "0", "-1", "NaN"):
        with pytest.raises(rules.Refused):
            rules.yuan_to_fen(bad)
    with pytest.raises(rules.Refused):
        rules.past_period("2026-02", date(2026, 1, 31))
    assert rules.past_period("2026-01", date(2026, 1, 1)) == "2026-01"
    assert rules.overlapping([(date(2020, 1, 1), date(2020, 6, 30)), (date(2020, 7, 1), None)]) == []
    assert rules.overlapping([(date(2020, 1, 1), date(2020, 7, 1)), (date(2020, 7, 1), None)]) == [(0, 1)]


async def test_owners_phone_and_id_number_never_come_back_and_an_empty_cell_keeps_the_record(api: Api) -> None:
    made = await estate(api)
    result = await upload(api, made.id, "owners", xlsx(OWNERS))
    assert phone("13900000001") not in result.text and "110101198001010011" not in result.text
    problem(await upload(api, made.id, "owners", b"", "x.csv"), 422)
    changed = [OWNERS[0], ["王一", "13900000001", "", "新地址", ""]]  # id number and channel left empty
    result = await api.ok(await upload(api, made.id, "owners", xlsx(changed)), 200)
    assert (result["updated"], result["created"]) == (1, 0)
    async with api.sessions() as s:
        from sqlmodel import select

        query = select(Owner).where(Owner.phone == phone("13900000001"), Owner.name == "王一")
        owner = (await s.execute(query)).scalars().first()
    assert owner is not None
    assert (owner.postal_address, owner.id_number, owner.preferred_channel) == ("新地址", "110101198001010011", "sms")
    assert await api.count(AuditEvent, AuditEvent.action == "owner.update", AuditEvent.entity_id == str(owner.id)) == 1


async def test_import_command_with_a_template_and_a_dry_run(api: Api, database_url: str, tmp_path: Any) -> None:
    import asyncio
    import os

    from click.testing import CliRunner

    from feesvc.cli import cli
    from feesvc.settings import get_settings

    made = await estate(api)
    env = {k: v for k, v in os.environ.items() if not k.startswith("FEESVC_")}
    env["FEESVC_DATABASE_URL"] = database_url
    template = tmp_path / "units.xlsx"

    def run(args: list[str]) -> Any:
        get_settings.cache_clear()
        try:
            return CliRunner().invoke(cli, args, env=env)
        finally:
            get_settings.cache_clear()

    result = await asyncio.to_thread(run, ["import", "template", "units", "--out", str(template)])
    assert result.exit_code == 0, result.output
    result = await asyncio.to_thread(run, ["import", "units", str(template), "--estate", made.code, "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "1 new" in result.output and "dry run" in result.output
    assert await api.count(Unit, Unit.estate_id == made.id) == 0
    result = await asyncio.to_thread(run, ["import", "units", str(template), "--estate", made.code])
    assert result.exit_code == 0 and "written" in result.output, result.output
    assert await api.count(Unit, Unit.estate_id == made.id) == 1
    bad = tmp_path / "bad.csv"
    bad.write_bytes(csv_bytes(BAD_UNITS, "gb18030"))
    result = await asyncio.to_thread(run, ["import", "units", str(bad), "--estate", made.code])
    assert result.exit_code == 1 and "3 problems" in result.output, result.output
