"""The daily cash-up (日结): received, voided and net per cashier and method, reconciled with the
ledger, and its printed sheet for signing."""

from __future__ import annotations

import uuid
from datetime import date
from pathlib import Path
from typing import Any

from feesvc.auth.models import Role
from feesvc.auth.principal import COMMAND_LINE, Principal
from feesvc.auth.service import create_token
from feesvc.ledger.models import EntryKind, LedgerEntry
from feesvc.payments.voids import void_payment
from tests.support import Api, Estate, problem
from tests.test_receipt import compact, page_count, pages_of

DAY1, DAY2 = date(2026, 3, 2), date(2026, 3, 3)
SUPERVISOR = Principal(Role.manager, "李主管", 900)


async def token(api: Api, role: Role, name: str) -> str:
    async with api.sessions() as s:
        secret, _ = await create_token(s, COMMAND_LINE, role, name)
    return secret


async def pay(api: Api, who: str, unit_id: int, amount: int, method: str, received_on: date) -> Any:
    body = {"unit_id": unit_id, "amount_fen": amount, "method": method, "received_on": received_on.isoformat()}
    response = await api.post("/api/v1/payments", body, who, headers={"Idempotency-Key": uuid.uuid4().hex})
    return await api.ok(response, 201)


async def void(api: Api, payment: Any, reason: str, on: date) -> None:
    """A void on a given day (the route voids today): the service, in a session of its own."""
    async with api.sessions() as s:
        await void_payment(s, SUPERVISOR, payment["id"], reason, on)


async def cash_up(api: Api, estate: Estate, day: date) -> Any:
    return await api.ok(await api.get(f"/api/v1/estates/{estate.id}/cash-up", Role.cashier, params={"day": str(day)}))


def line(result: Any, cashier: str, method: str) -> tuple[int, ...]:
    [found] = [x for x in result["lines"] if (x["cashier"], x["method"]) == (cashier, method)]
    keys = ("received_payments", "received_fen", "voided_payments", "voided_fen", "net_fen")
    return tuple(found[k] for k in keys)


async def two_days(api: Api) -> tuple[Estate, dict[str, Any]]:
    """Day 1: 王芳 takes ¥200 cash and ¥350 by WeChat, 赵敏 ¥1 cash. Day 2: 王芳 takes ¥50 cash,
    and the supervisor voids day 1's WeChat payment and day 2's cash one."""
    estate = await api.make_estate(units=2, rate="2.00", area="100.00")
    await api.bill(estate.id, "2026-01", "2026-01-01")
    wang, zhao = await token(api, Role.cashier, "王芳"), await token(api, Role.cashier, "赵敏")
    paid = {
        "cash1": await pay(api, wang, estate.unit_ids[0], 20000, "cash", DAY1),
        "wechat1": await pay(api, wang, estate.unit_ids[1], 35000, "wechat", DAY1),
        "zhao1": await pay(api, zhao, estate.unit_ids[1], 100, "cash", DAY1),
        "cash2": await pay(api, wang, estate.unit_ids[0], 5000, "cash", DAY2),
    }
    await void(api, paid["wechat1"], "收错户，已原路退回", DAY2)
    await void(api, paid["cash2"], "重复收款", DAY2)
    return estate, paid


async def test_cash_up_shows_received_voided_and_net_per_cashier_and_method(api: Api) -> None:
    estate, paid = await two_days(api)

    first = await cash_up(api, estate, DAY1)
    # Day 1 as it was received: the later void of its WeChat payment belongs to day 2.
    assert line(first, "王芳", "cash") == (1, 20000, 0, 0, 20000)
    assert line(first, "王芳", "wechat") == (1, 35000, 0, 0, 35000)
    assert line(first, "赵敏", "cash") == (1, 100, 0, 0, 100)
    assert (first["received_fen"], first["voided_fen"], first["net_fen"]) == (55100, 0, 55100)
    assert first["voids"] == [] and first["reconciled"] is True and first["mismatches"] == []
    assert (first["ledger_received_fen"], first["ledger_voided_fen"]) == (55100, 0)

    second = await cash_up(api, estate, DAY2)
    assert line(second, "王芳", "cash") == (1, 5000, 1, 5000, 0)
    assert line(second, "王芳", "wechat") == (0, 0, 1, 35000, -35000)  # day 1's payment, voided on day 2
    assert len(second["lines"]) == 2  # 赵敏 took nothing and voided nothing on day 2
    assert (second["received_payments"], second["received_fen"]) == (1, 5000)
    assert (second["voided_payments"], second["voided_fen"], second["net_fen"]) == (2, 40000, -35000)
    assert (second["ledger_received_fen"], second["ledger_voided_fen"]) == (5000, 40000)
    assert second["reconciled"] is True
    voids = {v["receipt_number"]: v for v in second["voids"]}
    assert voids[paid["wechat1"]["receipt_number"]] | {"payment_id": 0} == {
        "payment_id": 0,
        "receipt_number": paid["wechat1"]["receipt_number"],
        "received_on": "2026-03-02",
        "cashier": "王芳",
        "method": "wechat",
        "amount_fen": 35000,
        "reason": "收错户，已原路退回",
        "voided_by": "李主管",
    }
    assert voids[paid["cash2"]["receipt_number"]]["received_on"] == "2026-03-03"
    # Voids are listed by the day they were received.
    assert [v["received_on"] for v in second["voids"]] == ["2026-03-02", "2026-03-03"]

    # Each figure is the sum of its lines.
    for result in (first, second):
        for key in ("received_payments", "received_fen", "voided_payments", "voided_fen", "net_fen"):
            assert result[key] == sum(x[key] for x in result["lines"]), key


async def test_cash_up_names_a_payment_the_ledger_does_not_account_for(api: Api, tmp_path: Path) -> None:
    estate, paid = await two_days(api)
    # A stray entry under a payment (as a broken import would leave): its entries no longer add up to it.
    async with api.sessions() as s:
        stray = LedgerEntry(
            estate_id=estate.id,
            unit_id=estate.unit_ids[0],
            kind=EntryKind.prepaid_credit,
            amount_fen=-1,
            effective_date=DAY1,
            payment_id=paid["cash1"]["id"],
            actor="system:import",
        )
        s.add(stray)
        await s.commit()

    result = await cash_up(api, estate, DAY1)
    assert result["reconciled"] is False
    assert result["received_fen"] == 55100 and result["ledger_received_fen"] == 55101
    assert result["mismatches"] == [
        {
            "payment_id": paid["cash1"]["id"],
            "receipt_number": paid["cash1"]["receipt_number"],
            "figure": "received",
            "payment_fen": 20000,
            "ledger_fen": 20001,
        }
    ]
    response = await api.get(f"/api/v1/estates/{estate.id}/cash-up.pdf", Role.manager, params={"day": str(DAY1)})
    assert response.status_code == 200, response.text
    flat = compact(pages_of(response.content, tmp_path)[0])
    assert "不一致：当日收款¥551.00，账务记录¥551.01；" in flat
    assert f"{paid['cash1']['receipt_number']}收款¥200.00¥200.01" in flat


async def test_cash_up_pdf_for_signing(api: Api, tmp_path: Path) -> None:
    estate, paid = await two_days(api)
    url = f"/api/v1/estates/{estate.id}/cash-up.pdf"

    response = await api.get(url, Role.cashier, params={"day": str(DAY2)})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/pdf"
    filename = f"cash-up-{estate.code}-2026-03-03.pdf"
    assert response.headers["content-disposition"] == f'inline; filename="{filename}"'
    pdf = response.content
    (tmp_path / "cashup.pdf").write_bytes(pdf)
    assert page_count(pdf, tmp_path) == 1
    [page] = pages_of(pdf, tmp_path)
    flat = compact(page)
    assert "收款日结表" in flat and "2026年3月3日" in flat
    # Per cashier and method: received, voided, net; the net of the earlier day's void is negative.
    assert "王芳现金1¥50.001¥50.00¥0.00" in flat
    assert "微信0¥0.001¥350.00-¥350.00" in flat
    assert "王芳小计1¥50.002¥400.00-¥350.00" in flat
    assert "合计1¥50.002¥400.00-¥350.00" in flat
    # The void of day 1's payment, with its own day, marked as from an earlier day.
    assert f"{paid['wechat1']['receipt_number']}2026年3月2日*王芳微信¥350.00收错户，已原路退回李主管" in flat
    assert f"{paid['cash2']['receipt_number']}2026年3月3日王芳现金¥50.00重复收款李主管" in flat
    assert "以前日期收取的款项在作废当日计入本表作废金额" in flat
    assert "当日收款¥50.00与账务记录¥50.00一致；当日作废¥400.00与冲销记录¥400.00一致。" in flat
    # Signature lines: the cashier's and the supervisor's.
    assert "收款人签字（王芳）：" in flat and "复核人（主管）签字：" in flat and "赵敏" not in flat

    # The desk only, and a 404 for an estate that does not exist.
    owner = await api.owner_token(estate.owner_ids[0])
    problem(await api.get(url, owner, params={"day": str(DAY2)}), 403)
    problem(await api.get("/api/v1/estates/999999999/cash-up.pdf", Role.cashier), 404)
    problem(await api.get(url, Role.cashier, params={"day": "2026-02-30"}), 400, "day")


async def test_cash_up_pdf_of_a_quiet_day_and_in_traditional_chinese(api: Api, tmp_path: Path) -> None:
    estate = await api.make_estate(units=1, settings={"locale": "zh_HK"})
    response = await api.get(f"/api/v1/estates/{estate.id}/cash-up.pdf", Role.manager, params={"day": "2026-03-01"})
    assert response.status_code == 200, response.text
    flat = compact(pages_of(response.content, tmp_path)[0])
    assert "收款日結表" in flat and "當日沒有收款或作廢記錄。" in flat
    assert "覆核人（主管）簽字" in flat and "收款人簽字" not in flat
    assert "合計0CN¥0.000CN¥0.00CN¥0.00" in flat  # outside the mainland a bare ¥ reads as yen


async def test_a_long_cash_up_continues_with_the_signatures_at_the_end(api: Api, tmp_path: Path) -> None:
    """Forty voids of the previous day's payments: the voids table runs over pages, its head
    repeating; later pages name the estate and day; the signatures come once, at the end."""
    estate = await api.make_estate(units=1, settings={"locale": "en"})
    await api.bill(estate.id, "2026-01", "2026-01-01")
    wang = await token(api, Role.cashier, "王芳")
    payments = [await pay(api, wang, estate.unit_ids[0], 100 + n, "cash", DAY1) for n in range(40)]
    for payment in payments:
        await void(api, payment, "Entered twice", DAY2)

    result = await cash_up(api, estate, DAY2)
    assert line(result, "王芳", "cash") == (0, 0, 40, sum(100 + n for n in range(40)), -sum(100 + n for n in range(40)))
    assert result["reconciled"] is True and len(result["voids"]) == 40

    response = await api.get(f"/api/v1/estates/{estate.id}/cash-up.pdf", Role.cashier, params={"day": str(DAY2)})
    pages = [compact(page) for page in pages_of(response.content, tmp_path)]
    assert len(pages) > 1
    assert all(f"Dailycash-up·{compact(estate_name(estate))}·3March2026" in page for page in pages[1:])
    assert all("Receivedon" in page for page in pages[1:])  # the voids table's head on each page
    assert [("Checkedby(supervisor):" in page) for page in pages] == [False] * (len(pages) - 1) + [True]
    whole = "".join(pages)
    assert all(whole.count(p["receipt_number"]) == 1 for p in payments)


def estate_name(estate: Estate) -> str:
    return f"测试小区 {estate.code}"
