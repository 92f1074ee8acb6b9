"""The owner's pages (issue 19 item 2): each page as the signed-in owner, the figures the API
gives, nobody else's records, the complaint form into the 24-hour workflow, CSRF, languages."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from typing import Any

from sqlmodel import select

from feesvc.audit.models import AuditEvent
from feesvc.auth.models import Role
from feesvc.service_records.models import Complaint
from tests.owner_pages_support import (
    TODAY,
    cookie,
    csrf_of,
    estate_with_history,
    fen_of,
    form_key_of,
    lines_of,
    months_back,
    page,
    plain,
    post_form,
)
from tests.support import Api


async def pay(api: Api, unit_id: int, amount: int, owner_id: int | None = None) -> Any:
    body: dict[str, Any] = {"unit_id": unit_id, "amount_fen": amount, "method": "wechat"}
    if owner_id is not None:
        body["owner_id"] = owner_id
    key = {"Idempotency-Key": uuid.uuid4().hex}
    return await api.ok(await api.post("/api/v1/payments", body, Role.cashier, headers=key))


async def test_each_page_shows_the_figures_the_api_gives(api: Api) -> None:
    estate = await estate_with_history(api)
    unit, _ = estate.unit_ids
    payment = await pay(api, unit, 30000)
    owner = await api.owner_token(estate.owner_ids[0])

    home = await page(api, "/owner/", owner)
    assert home.status_code == 200 and home.headers["content-type"].startswith("text/html")
    assert home.headers["cache-control"] == "no-store"
    payoff = await api.ok(await api.get(f"/api/v1/units/{unit}/payoff", owner))
    text = plain(home.text)
    assert f'data-fen="{payoff["total_fen"]}"' in text and payoff["total_fen"] > 0
    # No pay button: the estate takes no payments online (tests/test_online.py has one that does).
    assert "目前应缴" in text and f'href="/owner/units/{unit}/pay"' not in text and "button pay" not in text
    # The next due date: the earliest open charge not yet due, else the next cycle's; in days.
    upcoming = sorted(line["due_date"] for line in payoff["lines"] if line["due_date"] >= f"{TODAY}")
    days = int(text.split('data-days="')[1].split('"')[0])
    if upcoming:
        assert days == (date.fromisoformat(upcoming[0]) - TODAY).days
    assert 0 <= days <= 31
    assert ("今天是缴费日" if days == 0 else f"距缴费日还有 {days} 天") in text

    statement = await page(api, f"/owner/units/{unit}/statement", owner)
    assert statement.status_code == 200, statement.text
    api_statement = await api.ok(await api.get(f"/api/v1/units/{unit}/statement", owner))
    text = plain(statement.text)
    assert lines_of(statement.text) == [(line["entry_ids"], line["amount_fen"]) for line in api_statement["lines"]]
    assert fen_of(statement.text, "owed") == api_statement["payoff"]["total_fen"]
    calculations = [line["calculation"] for line in api_statement["lines"] if line["calculation"]]
    assert any("平方米" in c for c in calculations) and any("天" in c for c in calculations)  # charge and late fee
    for calculation in calculations:
        assert calculation in text
    assert "前期物业服务合同 第5条" in text  # each charge's fee standard and its basis
    assert "服务账单" in text and "保洁 30 次" in text  # the service bill of the period

    payoff_page = await page(api, f"/owner/units/{unit}/payoff", owner)
    assert fen_of(payoff_page.text, "payoff-total") == payoff["total_fen"]

    receipts = await page(api, "/owner/receipts", owner)
    listed = await api.ok(await api.get("/api/v1/owners/me/payments", owner))
    assert [i["id"] for i in listed["items"]] == [payment["id"]]
    assert f'data-payment="{payment["id"]}"' in receipts.text and payment["receipt_number"] in receipts.text
    pdf = await page(api, f"/owner/receipts/{payment['id']}/receipt.pdf", owner)
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    assert pdf.content == (await api.get(f"/api/v1/payments/{payment['id']}/receipt.pdf", owner)).content
    assert (
        await api.count(AuditEvent, AuditEvent.action == "payment.receipt", AuditEvent.entity_id == str(payment["id"]))
        == 2
    )

    # Letters addressed to the owner: the run's reminder, and its PDF as issued.
    await api.ok(await api.post("/api/v1/reminder-runs", {"estate_id": estate.id}), 200)
    api_letters = await api.ok(await api.get(f"/api/v1/units/{unit}/letters", owner))
    assert api_letters
    letters = await page(api, "/owner/letters", owner)
    for letter in api_letters:
        assert f'data-letter="{letter["id"]}"' in letters.text and letter["letter_no"] in letters.text
        copy = await page(api, f"/owner/letters/{letter['id']}/letter.pdf", owner)
        assert copy.content == (await api.get(f"/api/v1/letters/{letter['id']}/letter.pdf", owner)).content


async def test_another_owners_records_are_not_found_and_no_session_goes_to_sign_in(api: Api) -> None:
    estate = await estate_with_history(api)
    mine, theirs = estate.unit_ids
    their_payment = await pay(api, theirs, 10000)
    await api.ok(await api.post("/api/v1/reminder-runs", {"estate_id": estate.id}), 200)
    their_letters = await api.ok(await api.get(f"/api/v1/units/{theirs}/letters"))
    owner = await api.owner_token(estate.owner_ids[0])
    for path in (
        f"/owner/units/{theirs}/statement",
        f"/owner/units/{theirs}/payoff",
        f"/owner/units/{theirs}/requests",
        f"/owner/receipts/{their_payment['id']}/receipt.pdf",
        f"/owner/letters/{their_letters[0]['id']}/letter.pdf",
        "/owner/units/987654321/statement",
        "/owner/letters/987654321/letter.pdf",
    ):
        response = await page(api, path, owner)
        assert response.status_code == 404, path
        assert "不属于您" in response.text and "¥" not in response.text
    refused = await post_form(api, f"/owner/units/{theirs}/requests", owner, {"category": "leak", "text": "漏水"})
    assert refused.status_code == 403  # no form token
    own_form = (await page(api, f"/owner/units/{mine}/requests", owner)).text
    fields = {"category": "leak", "text": "漏水", "_csrf_token": csrf_of(own_form), "form_key": form_key_of(own_form)}
    for path in (f"/owner/units/{theirs}/requests", f"/owner/units/{theirs}/pay"):
        refused = await post_form(api, path, owner, fields)
        assert refused.status_code == 404 and "不属于您" in refused.text, path  # with a good token: still not theirs
    assert await api.count(Complaint, Complaint.unit_id == theirs) == 0
    home = await page(api, "/owner/", owner)
    assert f'data-unit="{mine}"' in home.text and f'data-unit="{theirs}"' not in home.text

    # No session, a wrong or revoked one, or a staff token: to the sign-in page, never a 401 body.
    staff = api.tokens[Role.manager]
    for secret in (None, "fsv_not-a-token", staff):
        response = await page(api, f"/owner/units/{mine}/statement", secret)
        assert response.status_code == 303, secret
        assert response.headers["location"].startswith("/owner/sign-in")
    bearer = await api.client.get("/owner/", headers={"Authorization": f"Bearer {owner}"}, follow_redirects=False)
    assert bearer.status_code == 303  # the pages read the cookie only
    # The stylesheet needs no session; nothing else of the package is served.
    css = await page(api, "/owner/assets/owner.css", None)
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    assert (await page(api, "/owner/assets/controller.py", None)).status_code == 404
    # The API itself still wants its bearer header, not the cookie.
    assert (await api.client.get(f"/api/v1/units/{mine}/payoff", headers=cookie(owner))).status_code == 401


async def test_a_sold_unit_shows_each_owner_only_their_own_periods(api: Api) -> None:
    estate = await api.make_estate(units=1, settings={"due_day": 1}, owners_from="2024-01-01")
    unit = estate.unit_ids[0]
    seller_id = estate.owner_ids[0]
    handover = months_back(1)
    for n in (3, 2):
        await api.bill(estate.id, months_back(n), f"{months_back(n)}-01")
    buyer = await api.ok(await api.post("/api/v1/owners", {"name": "买家王"}))
    await api.ok(
        await api.post(f"/api/v1/units/{unit}/ownerships", {"owner_id": buyer["id"], "starts_on": f"{handover}-01"})
    )
    for n in (1, 0):
        await api.bill(estate.id, months_back(n), f"{months_back(n)}-01")
    await pay(api, unit, 25000, owner_id=seller_id)
    seller, buyer_token = await api.owner_token(seller_id), await api.owner_token(buyer["id"])

    for token, owner_id in ((seller, seller_id), (buyer_token, buyer["id"])):
        response = await page(api, f"/owner/units/{unit}/statement", token)
        api_statement = await api.ok(await api.get(f"/api/v1/units/{unit}/statement", token))
        assert api_statement["owner_id"] == owner_id
        shown = lines_of(response.text)
        assert shown == [(line["entry_ids"], line["amount_fen"]) for line in api_statement["lines"]]
        periods = {line["period"] for line in api_statement["lines"] if line["kind"] == "charge"}
        if owner_id == seller_id:
            assert periods == {months_back(3), months_back(2)}
            assert "已过户" in response.text
        else:
            assert periods == {months_back(1), months_back(0)}
            assert "买家王" not in plain((await page(api, "/owner/", seller)).text)
    buyer_receipts = await page(api, "/owner/receipts", buyer_token)
    assert "暂无缴费记录" in buyer_receipts.text  # the seller's payment is not the buyer's
    # The seller can no longer report a problem for the unit; the buyer can.
    seller_form = await page(api, f"/owner/units/{unit}/requests", seller)
    assert "不能为它报事报修" in seller_form.text and "<form" not in seller_form.text
    # The form as the buyer's page has it, sent by the seller (what a page kept open since the sale does).
    form = (await page(api, f"/owner/units/{unit}/requests", buyer_token)).text
    fields = {"category": "leak", "text": "漏水", "form_key": form_key_of(form), "_csrf_token": csrf_of(form)}
    refused = await post_form(api, f"/owner/units/{unit}/requests", seller, fields)
    assert refused.status_code == 403 and "不能为它报事报修" in refused.text  # the workflow's own refusal
    assert await api.count(Complaint, Complaint.unit_id == unit) == 0


async def test_the_request_form_files_a_complaint_on_the_24_hour_clock_once(api: Api) -> None:
    estate = await api.make_estate(units=1)
    unit = estate.unit_ids[0]
    owner = await api.owner_token(estate.owner_ids[0])
    form = await page(api, f"/owner/units/{unit}/requests", owner)
    assert form.status_code == 200 and "24 小时" in form.text
    token = csrf_of(form.text)
    fields = {
        "_csrf_token": token,
        "form_key": form_key_of(form.text),
        "category": "leak",
        "text": "卫生间顶棚漏水\r\n已经三天了",
    }

    # Without the token, or with another's: refused, nothing written.
    for bad in (
        {**fields, "_csrf_token": ""},
        {k: v for k, v in fields.items() if k != "_csrf_token"},
        {**fields, "_csrf_token": "0" * 128},
    ):
        refused = await post_form(api, f"/owner/units/{unit}/requests", owner, bad)
        assert refused.status_code == 403 and "表单已过期" in refused.text
    assert await api.count(Complaint, Complaint.unit_id == unit) == 0
    # Bad input: the form again, saying what to send, nothing written.
    empty = await post_form(api, f"/owner/units/{unit}/requests", owner, {**fields, "text": "   "})
    assert empty.status_code == 400 and "请写下问题描述" in empty.text
    wrong = await post_form(api, f"/owner/units/{unit}/requests", owner, {**fields, "category": "teleport"})
    assert wrong.status_code == 400 and "请选择类别" in wrong.text
    too_long = await post_form(api, f"/owner/units/{unit}/requests", owner, {**fields, "text": "漏" * 2001})
    assert too_long.status_code == 400
    keyless = await post_form(
        api, f"/owner/units/{unit}/requests", owner, {k: v for k, v in fields.items() if k != "form_key"}
    )
    assert keyless.status_code == 400 and "表单已过期" in keyless.text
    assert await api.count(Complaint, Complaint.unit_id == unit) == 0

    sent = await post_form(api, f"/owner/units/{unit}/requests", owner, fields)
    assert sent.status_code == 303
    complaint_id = int(sent.headers["location"].rpartition("sent=")[2])
    again = await post_form(api, f"/owner/units/{unit}/requests", owner, fields)  # a double tap
    assert again.headers["location"] == sent.headers["location"]
    # Back, edited, sent again under the same form: refused, a fresh form to fill in instead.
    edited = await post_form(api, f"/owner/units/{unit}/requests", owner, {**fields, "text": "又漏水了"})
    assert edited.status_code == 409 and "已经提交过" in edited.text
    assert form_key_of(edited.text) != fields["form_key"]
    async with api.sessions() as s:
        [complaint] = (await s.execute(select(Complaint).where(Complaint.unit_id == unit))).scalars().all()
    assert complaint.id == complaint_id and complaint.owner_id == estate.owner_ids[0]
    assert (
        complaint.channel == "app" and complaint.category == "leak" and complaint.text == "卫生间顶棚漏水\n已经三天了"
    )
    assert complaint.plan_due_at - complaint.opened_at == timedelta(hours=24)
    # The workflow's own view of it: open, on the clock, the owner's.
    api_view = await api.ok(await api.get(f"/api/v1/complaints/{complaint_id}", owner))
    assert api_view["status"] == "open" and api_view["overdue"] is False
    assert (
        await api.count(AuditEvent, AuditEvent.action == "complaint.file", AuditEvent.entity_id == str(complaint_id))
        == 1
    )
    shown = await page(api, sent.headers["location"], owner)
    assert 'id="sent"' in shown.text and f'data-complaint="{complaint_id}"' in shown.text and "处理中" in shown.text


async def test_pages_speak_the_owners_language(api: Api) -> None:
    estate = await estate_with_history(api, units=1)
    unit, owner_id = estate.unit_ids[0], estate.owner_ids[0]
    owner = await api.owner_token(owner_id)
    payoff = await api.ok(await api.get(f"/api/v1/units/{unit}/payoff", owner))

    await api.ok(await api.patch(f"/api/v1/owners/{owner_id}", {"locale": "zh_TW"}))
    home = plain((await page(api, "/owner/", owner)).text)
    assert '<html lang="zh-TW">' in home and "目前應繳" in home and "繳費記錄" in home
    assert "人民幣" in home and "CN¥" not in home  # the estate's renminbi style, as on its letters
    assert f'data-fen="{payoff["total_fen"]}"' in home
    statement = plain((await page(api, f"/owner/units/{unit}/statement", owner)).text)
    assert "測試小區" in statement and "物業服務費" in statement and "對帳單" in statement
    assert "服務帳單" in statement and "清潔 30 次" in statement

    await api.ok(await api.patch(f"/api/v1/owners/{owner_id}", {"locale": "en"}))
    home = plain((await page(api, "/owner/", owner)).text)
    assert '<html lang="en">' in home and "Owed now" in home
    assert "days to the due date" in home or "Due today" in home
    statement = plain((await page(api, f"/owner/units/{unit}/statement", owner)).text)
    assert "month(s)" in statement and "Service bill" in statement and "30 cleaning rounds" in statement
    form = (await page(api, f"/owner/units/{unit}/requests", owner)).text
    assert "within 24 hours" in form and ">leak<" in form
