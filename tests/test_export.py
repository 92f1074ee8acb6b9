# ruff: noqa: F811  (the story fixture is imported from test_reports and named as a parameter)
"""Spreadsheet exports: the figures of the JSON reports, as typed .xlsx cells that sum to the fen.

The estate is test_reports' story (two buildings, seven periods, payments, a prepayment, a void);
every workbook is read back with openpyxl and checked against the API's own JSON figures."""

from __future__ import annotations

import asyncio
import io
import os
from datetime import date, datetime
from pathlib import Path
from typing import Any

from click.testing import CliRunner
from openpyxl import load_workbook
from openpyxl.worksheet.worksheet import Worksheet

from feesvc.auth.models import Role
from feesvc.cli import cli
from feesvc.exports.sheet import XLSX, Column, Kind, Table, workbook_bytes
from feesvc.settings import get_settings
from tests.support import Api, problem
from tests.test_reports import Story, story  # noqa: F401 - the fixture

ACCEPT = {"Accept": XLSX}


def sheets(content: bytes) -> dict[str, Worksheet]:
    book = load_workbook(io.BytesIO(content))
    return {ws.title: ws for ws in book.worksheets}


def rows(ws: Worksheet) -> list[tuple[Any, ...]]:
    return list(ws.iter_rows(values_only=True))


def header_and_body(ws: Worksheet) -> tuple[list[str], list[tuple[Any, ...]], tuple[Any, ...] | None]:
    """(header, data rows, sums row or None) of a sheet with one caption line above its header."""
    everything = rows(ws)
    header = list(everything[1])
    body = everything[2:]
    if body and body[-1][0] in ("合计", "Total"):
        return header, body[:-1], body[-1]
    return header, body, None


def check_money_cells(ws: Worksheet) -> None:
    """Every money pair: the yuan cell a number formatted with two decimals, equal to the fen beside it."""
    header = [c.value for c in ws[2]]
    for index, name in enumerate(header):
        if not str(name).endswith(("（元）", "(yuan)")):
            continue
        assert str(header[index + 1]).endswith(("（分）", "(fen)"))
        for row in ws.iter_rows(min_row=3):
            yuan, fen = row[index], row[index + 1]
            if fen.value is None:
                continue
            assert isinstance(fen.value, int) and fen.number_format == "0"
            assert isinstance(yuan.value, int | float) and yuan.number_format == "#,##0.00"
            assert round(yuan.value * 100) == fen.value


def column(header: list[str], body: list[tuple[Any, ...]], name: str) -> list[Any]:
    return [r[header.index(name)] for r in body]


async def xlsx(api: Api, url: str, role: Role = Role.manager, **params: Any) -> bytes:
    response = await api.get(url, role, params=params, headers=ACCEPT)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith(XLSX)
    assert response.headers["content-disposition"].startswith("attachment;")
    return response.content


async def test_aging_as_xlsx_has_the_reports_figures_typed_frozen_and_summed(api: Api, story: Story) -> None:
    report = await api.ok(await api.get(story.url("aging"), params={"as_of": "2026-10-15"}))
    ws = sheets(await xlsx(api, story.url("aging"), as_of="2026-10-15"))["账龄分析"]
    assert ws.freeze_panes == "A3"  # caption and header stay in view
    header, body, sums = header_and_body(ws)
    assert header[:6] == ["楼栋", "总户数", "欠费户数", "欠费合计（元）", "欠费合计（分）", "逾期0-30天（元）"]
    assert [r[0] for r in body] == ["1栋", "2栋"]
    assert column(header, body, "欠费合计（分）") == [b["overdue_fen"] for b in report["buildings"]]
    assert sums is not None
    estate = report["estate"]
    assert sums[header.index("欠费合计（分）")] == estate["overdue_fen"] == 263000
    assert sums[header.index("欠费户数")] == estate["units_overdue"]
    for bucket in estate["buckets"]:
        assert sums[header.index(f"逾期{bucket['label']}天（分）")] == bucket["overdue_fen"]
    assert sums[header.index("原业主欠费（分）")] == estate["former_owners"]["overdue_fen"]
    assert isinstance(ws.cell(3, 2).value, int)
    check_money_cells(ws)
    # The download route answers the same figures.
    response = await api.get(f"/api/v1/estates/{story.estate_id}/exports/aging.xlsx", params={"as_of": "2026-10-15"})
    assert response.status_code == 200, response.text
    assert rows(sheets(response.content)["账龄分析"])[1:] == rows(ws)[1:]


async def test_json_is_still_the_default(api: Api, story: Story) -> None:
    response = await api.get(story.url("aging"), params={"as_of": "2026-10-15"}, headers={"Accept": "*/*"})
    assert response.headers["content-type"].startswith("application/json")


async def test_collection_rate_as_xlsx(api: Api, story: Story) -> None:
    params = {"period": "2026-07", "as_of": "2026-07-31"}
    report = await api.ok(await api.get(story.url("collection-rate"), params=params))
    ws = sheets(await xlsx(api, story.url("collection-rate"), **params))["收缴率"]
    header, body, sums = header_and_body(ws)
    assert sums is None  # the lines are parts of one another
    by_name = {r[0]: r for r in body}
    fen = header.index("金额（分）")
    assert by_name["本期应收"][fen] == report["billed_fen"]
    assert by_name["本期实收"][fen] == report["collected_fen"]
    assert by_name["未收"][fen] == report["outstanding_fen"]
    assert by_name["本期应收"][header.index("户数")] == report["units_billed"]
    rate = by_name["收缴率（按金额）"][header.index("比率")]
    assert f"{rate:.4f}" == report["rate_by_amount"]
    assert ws.cell(2 + 1 + list(by_name).index("收缴率（按金额）"), header.index("比率") + 1).number_format == "0.00%"
    check_money_cells(ws)


async def test_cashup_as_xlsx_for_a_day_and_for_the_day_of_the_void(api: Api, story: Story) -> None:
    url = f"/api/v1/estates/{story.estate_id}/cash-up"
    for params in ({"day": "2025-12-10"}, {}):  # {}: today, the day B's payment was voided
        report = await api.ok(await api.get(url, Role.cashier, params=params))
        book = sheets(await xlsx(api, url, Role.cashier, **params))
        header, body, sums = header_and_body(book["日结"])
        assert len(body) == len(report["lines"])
        assert sums is not None
        assert sums[header.index("收款（分）")] == report["received_fen"]
        assert sums[header.index("作废（分）")] == report["voided_fen"]
        assert sums[header.index("净额（分）")] == report["net_fen"]
        assert sums[header.index("收款笔数")] == report["received_payments"]
        check_money_cells(book["日结"])
        vh, voids, vsums = header_and_body(book["作废"])
        assert len(voids) == len(report["voids"])
        assert vsums is not None and vsums[vh.index("金额（分）")] == sum(v["amount_fen"] for v in report["voids"])
        for row in voids:
            assert isinstance(row[vh.index("收款日期")], datetime)
    assert report["voided_fen"] == 20000  # the void is in today's sheet


async def test_ledger_export_holds_every_entry_of_the_range_and_sums_to_the_ledgers(api: Api, story: Story) -> None:
    first, last = date(2025, 12, 1), date(2026, 7, 31)
    expected: list[dict[str, Any]] = []
    for unit in story.units:
        ledger = await api.ok(await api.get(f"/api/v1/units/{unit}/ledger"))
        expected += [e for e in ledger["entries"] if first <= date.fromisoformat(e["effective_date"]) <= last]
    response = await api.get(
        f"/api/v1/estates/{story.estate_id}/exports/ledger.xlsx",
        params={"from": first.isoformat(), "to": last.isoformat()},
    )
    assert response.status_code == 200, response.text
    ws = sheets(response.content)["台账"]
    assert ws.freeze_panes == "A3"
    header, body, sums = header_and_body(ws)
    assert len(body) == len(expected)
    assert sorted(int(r[header.index("分录号")]) for r in body) == sorted(e["id"] for e in expected)
    assert sums is not None and sums[header.index("金额（分）")] == sum(e["amount_fen"] for e in expected)
    days = column(header, body, "记账日期")
    assert all(isinstance(d, datetime) for d in days) and days == sorted(days)
    assert first <= days[0].date() and days[-1].date() <= last
    charges = [r for r in body if r[header.index("类型")] == "应收费用"]
    assert charges and all(isinstance(r[header.index("应缴日期")], datetime) for r in charges)
    assert {r[header.index("楼栋")] for r in body} == {"1栋", "2栋"}
    check_money_cells(ws)


async def test_ledger_export_refuses_a_backwards_or_overlong_range(api: Api, story: Story) -> None:
    url = f"/api/v1/estates/{story.estate_id}/exports/ledger.xlsx"
    problem(await api.get(url, params={"from": "2026-07-01", "to": "2026-06-30"}), 400, "to")
    problem(await api.get(url, params={"from": "2025-01-01", "to": "2026-06-30"}), 400, "to")
    problem(await api.get(url, params={"from": "2026-07-01"}), 400, "to")
    problem(await api.get(url, Role.cashier, params={"from": "2026-07-01", "to": "2026-07-02"}), 403)


async def test_accept_xlsx_refuses_bad_query_values_like_json(api: Api, story: Story) -> None:
    problem(await api.get(story.url("aging"), params={"as_of": "2026-13-01"}, headers=ACCEPT), 400, "as_of")
    problem(await api.get(story.url("collection-rate"), params={"period": "2026-13"}, headers=ACCEPT), 400, "period")
    problem(await api.get(story.url("aging"), Role.cashier, headers=ACCEPT), 403)
    problem(await api.get("/api/v1/estates/999999999/reports/aging", headers=ACCEPT), 404)


async def test_prepaid_credit_export_matches_each_units_ledger(api: Api, story: Story) -> None:
    url = f"/api/v1/estates/{story.estate_id}/exports/prepaid-credit.xlsx"
    for as_of in ("2026-06-30", "2026-07-31", "2026-09-30"):
        response = await api.get(url, params={"as_of": as_of})
        assert response.status_code == 200, response.text
        ws = sheets(response.content)["预存款"]
        header, body, sums = header_and_body(ws)
        held = {}
        for unit in story.units:
            fen = (await api.ledger(unit, as_of))["prepaid_credit_fen"]
            if fen:
                held[unit] = fen
        assert len(body) == len(held)
        assert sums is not None and sums[header.index("预存余额（分）")] == sum(held.values())
        check_money_cells(ws)
    assert held == {}  # D's credit was used up by September


def test_english_estates_get_english_headers_and_money_stays_exact() -> None:
    table = Table(
        "表",
        "Sheet",
        [Column("日期", "Date", Kind.date), Column("金额", "Amount", Kind.money), Column("户数", "Units", Kind.number)],
        [[date(2026, 1, 31), 1, 1], [date(2026, 2, 28), 10_000_000_001, 2], [date(2026, 3, 31), -3, 0]],
    )
    ws = sheets(workbook_bytes([table], "en"))["Sheet"]
    assert [c.value for c in ws[1]] == ["Date", "Amount (yuan)", "Amount (fen)", "Units"]
    assert ws.freeze_panes == "A2"
    total = [c.value for c in ws[5]]
    assert total[0] == "Total" and total[2:] == [1 + 10_000_000_001 - 3, 3]  # the fen sum exact
    assert isinstance(ws[2][0].value, datetime) and ws[2][0].number_format == "yyyy-mm-dd"
    check_money_cells(ws)


async def test_export_command_writes_the_workbook(
    api: Api,
    story: Story,
    database_url: str,
    tmp_path: Path,
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FEESVC_")}
    env["FEESVC_DATABASE_URL"] = database_url
    out = tmp_path / "aging.xlsx"

    def run() -> Any:
        get_settings.cache_clear()
        try:
            args = ["export", "aging", "--estate", str(story.estate_id), "--as-of", "2026-10-15", "--out", str(out)]
            return CliRunner().invoke(cli, args, env=env)
        finally:
            get_settings.cache_clear()

    result = await asyncio.to_thread(run)
    assert result.exit_code == 0, result.output
    _, _, sums = header_and_body(sheets(out.read_bytes())["账龄分析"])
    assert sums is not None and 263000 in sums
    result = await asyncio.to_thread(
        lambda: CliRunner().invoke(cli, ["export", "collection", "--estate", "1", "--period", "2026-13"], env=env)
    )
    assert result.exit_code == 2 and "--period" in result.output


async def test_round_trip_export_as_import_files_then_import_keeps_balances_and_aging(api: Api, story: Story) -> None:
    """The story estate as import files, imported into a new estate: the same open balances per unit
    and the same aging, bucket by bucket (late fees aside: none in the story)."""
    from feesvc.exports.import_files import import_files
    from feesvc.registry.models import Estate

    async with api.sessions() as s:
        source = await s.get(Estate, story.estate_id)
        assert source is not None
        files = await import_files(s, source, date(2026, 10, 15))
    target = await api.make_estate(units=0, rate="2.00")
    await api.ok(await api.post(f"/api/v1/estates/{target.id}/buildings", {"name": "2栋"}))
    for kind, content in files.items():
        response = await api.client.post(
            f"/api/v1/estates/{target.id}/imports/{kind}",
            files={"file": (f"{kind}.xlsx", content)},
            headers=api.headers(Role.manager),
        )
        assert response.status_code == 200, (kind, response.text)
    before = await api.ok(await api.get(story.url("aging"), params={"as_of": "2026-10-15"}))
    after = await api.ok(await api.get(f"/api/v1/estates/{target.id}/reports/aging", params={"as_of": "2026-10-15"}))
    for field in ("overdue_fen", "units_overdue", "units_total", "buckets"):
        assert after["estate"][field] == before["estate"][field], field
    assert [(b["name"], b["overdue_fen"]) for b in after["buildings"]] == [
        (b["name"], b["overdue_fen"]) for b in before["buildings"]
    ]
    # Importing the same files again changes nothing.
    for kind, content in files.items():
        response = await api.client.post(
            f"/api/v1/estates/{target.id}/imports/{kind}",
            files={"file": (f"{kind}.xlsx", content)},
            headers=api.headers(Role.manager),
        )
        result = response.json()
        assert (result["created"], result["updated"], result["reversed"]) == (0, 0, 0), (kind, result)
