"""The printed statement (物业费对账单): the statement route answers with a PDF when asked for one."""

from __future__ import annotations

import re
import subprocess
import uuid
from pathlib import Path
from typing import Any

from feesvc.auth.models import Role
from tests.support import Api, problem

PDF = {"Accept": "application/pdf"}


def pdf_text(pdf: bytes, tmp_path: Path, name: str = "statement.pdf") -> str:
    path = tmp_path / name
    path.write_bytes(pdf)
    return subprocess.run(["pdftotext", "-layout", str(path), "-"], check=True, capture_output=True, text=True).stdout


def compact(text: str) -> str:
    """Layout text without whitespace: letter-spaced titles and table columns come out spaced."""
    return re.sub(r"\s+", "", text)


async def pay(api: Api, unit: int, amount_fen: int, received_on: str, method: str = "wechat") -> Any:
    body = {"unit_id": unit, "amount_fen": amount_fen, "method": method, "received_on": received_on}
    headers = {"Idempotency-Key": uuid.uuid4().hex}
    return await api.ok(await api.post("/api/v1/payments", body, Role.cashier, headers=headers))


async def _history(api: Api, **settings: Any) -> tuple[Any, int]:
    """Four months billed, a payment, a late-fee run (with a court-likely figure) and a month of service."""
    estate = await api.make_estate(
        units=2, rate="2.35", area="89.57", settings={"due_day": 15, "late_fee_daily_rate": "0.0005", **settings}
    )
    unit = estate.unit_ids[0]
    await api.ok(
        await api.post(
            f"/api/v1/estates/{estate.id}/court-rates",
            {"effective_from": "2020-01-01", "annual_rate": "0.0390", "basis": "1年期LPR 3.00% × 1.3"},
        )
    )
    for month in ("2025-10", "2025-11", "2025-12", "2026-01"):
        await api.bill(estate.id, month, f"{month}-01")
    await pay(api, unit, 30000, "2025-12-20")
    await api.ok(await api.post("/api/v1/late-fee-runs", {"estate_id": estate.id, "as_of": "2026-01-31"}), 200)
    for kind, count in (("cleaning_rounds", 30), ("repairs_done", 15)):
        body = {"period": "2025-12", "kind": kind, "count": count}
        await api.ok(await api.post(f"/api/v1/estates/{estate.id}/service-activity", body))
    return estate, unit


def _path(unit: int) -> str:
    return f"/api/v1/units/{unit}/statement"


RANGE = {"from": "2025-10-01", "to": "2026-01-31", "as_of": "2026-02-01"}


async def test_statement_pdf_through_content_negotiation(api: Api, tmp_path: Path) -> None:
    _, unit = await _history(api)
    statement = await api.ok(await api.get(_path(unit), params=RANGE))

    response = await api.get(_path(unit), params=RANGE, headers=PDF)

    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/pdf"
    assert "accept" in response.headers["vary"].lower()
    assert response.content.startswith(b"%PDF")
    text = pdf_text(response.content, tmp_path)
    flat = compact(text)
    assert "物业费对账单" in flat
    assert "1栋101" in flat and "业主0" in flat
    for period in ("2025年10月", "2025年11月", "2025年12月", "2026年1月"):
        assert period in text
    assert compact("89.57平方米 × 2.35元/平方米·月 × 1个月 = ¥210.49") in flat
    assert "前期物业服务合同第5条" in flat  # the fee basis, in small print
    # The closing balance, in ¥, as the JSON statement has it.
    assert statement["closing_balance_fen"] == 4 * 21049 - 30000 + sum(
        line["amount_fen"] for line in statement["lines"] if line["kind"] == "late_fee"
    )
    assert f"期末余额{statement['totals_text']['closing']}" in flat
    assert "本期服务：保洁30次、维修15次" in flat
    # Late fees print their formula (base × rate × days) but never the court-likely figure.
    [fee, *_] = [line for line in statement["lines"] if line["kind"] == "late_fee"]
    assert "court_likely_fen" not in fee["detail"]  # not in the owner's JSON either
    assert "违约金" in flat and "万分之五" in flat and "×" in text
    assert "¥210.49×万分之五(0.05%/日)×" in flat
    assert "法院" not in flat and "LPR" not in text
    # The payment says what it paid off.
    assert "本次冲抵" in flat and "缴费（微信）收据" in flat


async def test_json_stays_the_default(api: Api) -> None:
    _, unit = await _history(api)
    for headers in ({}, {"Accept": "*/*"}, {"Accept": "application/json"}, {"Accept": "text/html,*/*;q=0.8"}):
        response = await api.get(_path(unit), params=RANGE, headers=headers)
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("application/json"), headers
        assert response.json()["unit"]["id"] == unit
    preferred = await api.get(_path(unit), params=RANGE, headers={"Accept": "application/pdf, application/json;q=0.5"})
    assert preferred.headers["content-type"] == "application/pdf"


async def test_owner_gets_own_statement_pdf_only(api: Api, tmp_path: Path) -> None:
    estate, unit = await _history(api)
    mine = await api.owner_token(estate.owner_ids[0])
    theirs = await api.owner_token(estate.owner_ids[1])

    response = await api.get(_path(unit), mine, params=RANGE, headers=PDF)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/pdf"
    assert "业主0" in pdf_text(response.content, tmp_path)

    problem(await api.get(_path(unit), theirs, params=RANGE, headers=PDF), (403, 404))
    problem(await api.get(_path(estate.unit_ids[1]), mine, params=RANGE, headers=PDF), (403, 404))


async def test_traditional_estate_prints_traditional_headings(api: Api, tmp_path: Path) -> None:
    _, unit = await _history(api, locale="zh_TW")

    response = await api.get(_path(unit), params=RANGE, headers=PDF)

    assert response.status_code == 200, response.text
    flat = compact(pdf_text(response.content, tmp_path))
    for heading in ("物業費對帳單", "房號", "期初餘額", "期末餘額", "摘要", "所屬期間", "金額", "餘額", "逾期帳齡"):
        assert heading in flat, heading
    for simplified in ("对账单", "余额", "所属期间", "违约金", "缴费", "收据", "个月", "服务电话"):
        assert simplified not in flat, simplified
    assert "平方公尺" in flat and "CN¥" in flat
    assert "本期服務：清潔30次、維修15次" in flat


async def test_english_estate_and_an_empty_range(api: Api, tmp_path: Path) -> None:
    _, unit = await _history(api, locale="en")
    params = {"from": "2026-03-01", "to": "2026-03-31", "as_of": "2026-04-01"}

    response = await api.get(_path(unit), params=params, headers=PDF)

    assert response.status_code == 200, response.text
    text = pdf_text(response.content, tmp_path)
    assert "Property Fee Statement" in text
    assert "Opening balance" in text and "Closing balance" in text
    assert "No new charges or payments" in text
    assert "Overdue by age" in text


async def test_bad_range_is_a_problem_even_for_pdf(api: Api) -> None:
    _, unit = await _history(api)
    params = {"from": "2026-02-01", "to": "2026-01-01"}
    problem(await api.get(_path(unit), params=params, headers=PDF), 422, "from")
