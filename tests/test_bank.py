"""Bank transfers: a statement file imported through the upload route as a cashier would, each credit
matched to a unit and owner by its reference and amount, posted once; the rest assigned by a cashier.

Each test makes its own estate: building 1栋 with units 101-103 (owners 业主0-2) and building 2栋
with a unit 101 of its own, a service fee of 250.00 a month billed for 2026-01 and 2026-02. Every
date is fixed and in the past, so nothing depends on today."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from typing import Any

from feesvc.auth.models import Role
from feesvc.banking.models import BankLine, BankStatement
from feesvc.payments.models import Method, Payment
from tests.support import Api, problem

HEADER = ["交易日期", "交易金额", "借贷标志", "对方户名", "对方账号", "附言", "交易流水号"]
MONTH_FEN = 25_000  # 100 m² × 2.50 元


@dataclass
class Estate:
    id: int
    code: str
    units: dict[str, int]  # "1栋101" -> unit id
    owners: dict[str, int]  # "1栋101" -> owner id


async def estate(api: Api) -> Estate:
    made = await api.make_estate(units=3)
    units = {f"1栋{101 + n}": u for n, u in enumerate(made.unit_ids)}
    owners = {f"1栋{101 + n}": o for n, o in enumerate(made.owner_ids)}
    building = await api.ok(await api.post(f"/api/v1/estates/{made.id}/buildings", {"name": "2栋"}))
    unit = await api.ok(
        await api.post("/api/v1/units", {"building_id": building["id"], "number": "101", "floor_area_m2": "100.00"})
    )
    owner = await api.ok(await api.post("/api/v1/owners", {"name": "钱七", "phone": "13700000007"}))
    await api.ok(
        await api.post(f"/api/v1/units/{unit['id']}/ownerships", {"owner_id": owner["id"], "starts_on": "2024-01-01"})
    )
    units["2栋101"], owners["2栋101"] = unit["id"], owner["id"]
    for month in ("2026-01", "2026-02"):
        await api.bill(made.id, month, f"{month}-01")
    return Estate(made.id, made.code, units, owners)


def statement_csv(rows: list[list[str]], encoding: str = "gb18030") -> bytes:
    text = io.StringIO()
    writer = csv.writer(text)
    # Banks put a title and the account above the header: the header is found below them.
    writer.writerows([["某某银行 账户交易明细"], ["账号：3301 0400 1234 5678 901", "币种：人民币"], HEADER, *rows])
    return text.getvalue().encode(encoding)


# Row numbers in the file: the header is row 3, so the first line is row 4.
LINES = [
    ["2026-03-02", "250.00", "贷", "业主0", "6222000000000001", "1栋101 物业费", "T0001"],  # matched by unit
    ["2026-03-02", "500.00", "贷", "业主1", "6222000000000002", "物业费", "T0002"],  # matched by the payer's name
    ["2026-03-03", "123.45", "贷", "某贸易公司", "6222000000000003", "货款", "T0003"],  # unmatched: no reference
    ["2026-03-03", "250.00", "贷", "", "6222000000000004", "101室", "T0004"],  # ambiguous: 1栋101 and 2栋101
    ["2026-03-04", "100.00", "贷", "业主2", "6222000000000005", "1栋103", "T0005"],  # amount fits nothing owed
    ["2026-03-02", "250.00", "贷", "业主0", "6222000000000001", "1栋101 物业费", "T0001"],  # the same transfer again
    ["2026-03-05", "80.00", "借", "电费", "", "电费代扣", "T0006"],  # a debit: left alone
]


async def upload(
    api: Api, estate_id: int, content: bytes, name: str = "statement.csv", role: Role = Role.cashier, **params: str
) -> Any:
    return await api.client.post(
        f"/api/v1/estates/{estate_id}/bank-statements",
        files={"file": (name, content)},
        params=params,
        headers=api.headers(role),
    )


async def payments_of(api: Api, estate_id: int) -> list[Payment]:
    async with api.sessions() as s:
        from sqlmodel import col, select

        query = select(Payment).where(Payment.estate_id == estate_id).order_by(col(Payment.id))
        return list((await s.execute(query)).scalars())


async def test_a_statement_posts_matched_lines_once_and_lists_the_rest(api: Api) -> None:
    e = await estate(api)
    result = await api.ok(await upload(api, e.id, statement_csv(LINES)), 200)
    assert (result["lines"], result["debits_skipped"], result["new_lines"], result["duplicates"]) == (6, 1, 5, 1)
    assert (result["matched"], result["posted"], result["unmatched"], result["ambiguous"]) == (2, 2, 2, 1)
    waiting = {w["line_no"]: w for w in result["waiting"]}
    assert set(waiting) == {6, 7, 8}
    assert waiting[6]["status"] == "unmatched" and "no unit" in waiting[6]["reason"]
    assert waiting[7]["status"] == "ambiguous"
    assert {c["unit_id"] for c in waiting[7]["candidates"]} == {e.units["1栋101"], e.units["2栋101"]}
    assert waiting[8]["status"] == "unmatched" and "amount" in waiting[8]["reason"]
    assert waiting[8]["payer_name"] != "业主2" and "*" in waiting[8]["payer_name"]  # masked for a cashier
    paid = {
        (p.unit_id, p.owner_id, p.amount_fen, p.method, p.received_on.isoformat()) for p in await payments_of(api, e.id)
    }
    assert paid == {
        (e.units["1栋101"], e.owners["1栋101"], 25_000, Method.bank_transfer, "2026-03-02"),
        (e.units["1栋102"], e.owners["1栋102"], 50_000, Method.bank_transfer, "2026-03-02"),
    }
    ledger = await api.ledger(e.units["1栋102"], as_of="2026-03-31")
    assert ledger["balance_fen"] == 0

    # The same file again (or a later one overlapping it) posts nothing.
    again = await api.ok(await upload(api, e.id, statement_csv(LINES)), 200)
    assert (again["new_lines"], again["duplicates"], again["posted"], again["waiting"]) == (0, 6, 0, [])
    assert len(await payments_of(api, e.id)) == 2
    assert await api.count(BankLine, BankLine.estate_id == e.id) == 5
    assert await api.count(BankStatement, BankStatement.estate_id == e.id) == 2


async def test_a_cashier_assigns_a_waiting_line_and_it_is_posted_once(api: Api) -> None:
    e = await estate(api)
    await api.ok(await upload(api, e.id, statement_csv(LINES)), 200)
    listed = await api.ok(await api.get(f"/api/v1/estates/{e.id}/bank-lines", Role.cashier), 200)
    assert listed["total"] == 3 and {i["status"] for i in listed["items"]} == {"unmatched", "ambiguous"}
    ambiguous = await api.ok(
        await api.get(f"/api/v1/estates/{e.id}/bank-lines", Role.cashier, params={"status": "ambiguous"}), 200
    )
    assert ambiguous["total"] == 1
    line = ambiguous["items"][0]
    body = {"unit_id": e.units["2栋101"]}
    first = await api.ok(await api.post(f"/api/v1/bank-lines/{line['id']}/assign", body, Role.cashier), 200)
    assert first["status"] == "posted" and first["owner_id"] == e.owners["2栋101"] and first["payment_id"]
    retry = await api.ok(await api.post(f"/api/v1/bank-lines/{line['id']}/assign", body, Role.cashier), 200)
    assert retry["payment_id"] == first["payment_id"]
    other = {"unit_id": e.units["1栋101"]}
    problem(await api.post(f"/api/v1/bank-lines/{line['id']}/assign", other, Role.cashier), 409, "unit_id")
    posted = [p for p in await payments_of(api, e.id) if p.unit_id == e.units["2栋101"]]
    assert [(p.amount_fen, p.owner_id) for p in posted] == [(25_000, e.owners["2栋101"])]
    # Re-importing the file leaves the assigned line as it is: still one payment.
    await api.ok(await upload(api, e.id, statement_csv(LINES)), 200)
    assert len(await payments_of(api, e.id)) == 3
    # A unit of another estate, an owner who never held the unit: refused, nothing posted.
    waiting = await api.ok(await api.get(f"/api/v1/estates/{e.id}/bank-lines", Role.cashier), 200)
    unmatched = waiting["items"][0]["id"]
    wrong_owner = {"unit_id": e.units["1栋103"], "owner_id": e.owners["1栋101"]}
    problem(await api.post(f"/api/v1/bank-lines/{unmatched}/assign", wrong_owner, Role.cashier), 422, "owner_id")
    other_estate = await api.make_estate(units=1)
    elsewhere = {"unit_id": other_estate.unit_ids[0]}
    problem(await api.post(f"/api/v1/bank-lines/{unmatched}/assign", elsewhere, Role.cashier), 422, "unit_id")
    assert len(await payments_of(api, e.id)) == 3
    owner = await api.owner_token(e.owners["1栋101"])
    problem(await api.get(f"/api/v1/estates/{e.id}/bank-lines", owner), 403)


async def test_a_dry_run_matches_and_writes_nothing(api: Api) -> None:
    e = await estate(api)
    result = await api.ok(await upload(api, e.id, statement_csv(LINES, "utf-8-sig"), dry_run="true"), 200)
    assert (result["dry_run"], result["statement_id"], result["matched"], result["posted"]) == (True, None, 2, 0)
    assert len(result["waiting"]) == 3
    assert await api.count(BankLine, BankLine.estate_id == e.id) == 0
    assert await payments_of(api, e.id) == []


BILLION_LAUGHS = (
    b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    + b"".join(f'<!ENTITY lol{i} "{("&lol" + str(i - 1) + ";") * 10}">'.encode() for i in range(2, 10)).replace(
        b"&lol1;", b"&lol;"
    )
    + b"]><Document><BkToCstmrStmt>&lol9;</BkToCstmrStmt></Document>"
)
EXTERNAL_ENTITY = (
    b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
    b"<Document><BkToCstmrStmt><Stmt>&xxe;</Stmt></BkToCstmrStmt></Document>"
)


def one_bad(cell: int, value: str) -> bytes:
    rows = [list(r) for r in LINES[:3]]
    rows[1][cell] = value
    return statement_csv(rows)


async def test_bad_and_hostile_files_are_refused_whole_naming_the_line_and_column(api: Api) -> None:
    e = await estate(api)
    cases: list[tuple[str, bytes, dict[str, str], str]] = [
        ("bomb.xml", BILLION_LAUGHS, {}, "file"),
        ("xxe.xml", EXTERNAL_ENTITY, {}, "file"),
        ("utf16.csv", "\ufeff".encode("utf-16-le") + "交易日期,交易金额".encode("utf-16-le") + b"\xff\xfe", {}, "file"),
        ("amount.csv", one_bad(1, "二百五十"), {}, "line 5, column 交易金额"),
        ("negative.csv", one_bad(1, "-250.00"), {}, "line 5, column 交易金额"),
        ("fen.csv", one_bad(1, "250.001"), {}, "line 5, column 交易金额"),
        ("date.csv", one_bad(0, "2026-02-30"), {}, "line 5, column 交易日期"),
        ("bank.csv", statement_csv(LINES), {"bank": "nosuchbank"}, "bank"),
        ("header.csv", statement_csv(LINES), {"bank": "split"}, "file"),
    ]
    for name, content, params, field in cases:
        body = problem(await upload(api, e.id, content, name, **params), 422, field)
        assert body["detail"], name
    negative = problem(await upload(api, e.id, one_bad(1, "-250.00"), "n.csv"), 422)
    assert "negative" in negative["errors"][0]["message"]
    assert await api.count(BankLine, BankLine.estate_id == e.id) == 0
    assert await api.count(BankStatement, BankStatement.estate_id == e.id) == 0
    assert await payments_of(api, e.id) == []


CAMT = """<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02">
  <BkToCstmrStmt>
    <GrpHdr><MsgId>STMT-20260310</MsgId><CreDtTm>2026-03-10T08:00:00</CreDtTm></GrpHdr>
    <Stmt>
      <Id>3301040012345678901-20260309</Id>
      <Acct><Id><Othr><Id>3301040012345678901</Id></Othr></Id><Ccy>CNY</Ccy></Acct>
      <Ntry>
        <Amt Ccy="CNY">500.00</Amt><CdtDbtInd>CRDT</CdtDbtInd><Sts>BOOK</Sts>
        <BookgDt><Dt>2026-03-09</Dt></BookgDt><ValDt><Dt>2026-03-09</Dt></ValDt>
        <AcctSvcrRef>B20260309000017</AcctSvcrRef>
        <BkTxCd><Prtry><Cd>TRANSFER</Cd></Prtry></BkTxCd>
        <NtryDtls><TxDtls>
          <Refs><AcctSvcrRef>B20260309000017</AcctSvcrRef><EndToEndId>NOTPROVIDED</EndToEndId></Refs>
          <RltdPties><Dbtr><Nm>业主2</Nm></Dbtr><DbtrAcct><Id><Othr><Id>6222000000000005</Id></Othr></Id></DbtrAcct></RltdPties>
          <RmtInf><Ustrd>1栋103 2026年1-2月物业费</Ustrd></RmtInf>
        </TxDtls></NtryDtls>
      </Ntry>
      <Ntry>
        <Amt Ccy="CNY">80.00</Amt><CdtDbtInd>DBIT</CdtDbtInd><Sts>BOOK</Sts>
        <BookgDt><Dt>2026-03-09</Dt></BookgDt><AcctSvcrRef>B20260309000018</AcctSvcrRef>
      </Ntry>
      <Ntry>
        <Amt Ccy="CNY">250.00</Amt><CdtDbtInd>CRDT</CdtDbtInd><Sts>PDNG</Sts>
        <BookgDt><Dt>2026-03-09</Dt></BookgDt><AcctSvcrRef>B20260309000019</AcctSvcrRef>
      </Ntry>
    </Stmt>
  </BkToCstmrStmt>
</Document>
"""


async def test_a_camt053_statement_is_read_matched_and_posted_once(api: Api) -> None:
    e = await estate(api)
    result = await api.ok(await upload(api, e.id, CAMT.encode(), "camt053.xml"), 200)
    assert (result["file_format"], result["lines"], result["debits_skipped"], result["posted"]) == ("camt.053", 1, 2, 1)
    [payment] = await payments_of(api, e.id)
    assert (payment.unit_id, payment.amount_fen, payment.external_ref) == (e.units["1栋103"], 50_000, "B20260309000017")
    again = await api.ok(await upload(api, e.id, CAMT.encode(), "camt053.xml"), 200)
    assert (again["duplicates"], again["posted"]) == (1, 0)
    # An amount in another currency is refused, naming the entry.
    dollars = CAMT.replace('<Amt Ccy="CNY">500.00', '<Amt Ccy="USD">500.00').replace("B20260309000017", "X1")
    problem(await upload(api, e.id, dollars.encode(), "usd.xml"), 422, "line 1, column Ntry[1]/Amt")


async def test_bank_import_command_dry_run_and_import(api: Api, database_url: str, tmp_path: Any) -> None:
    import asyncio
    import os

    from click.testing import CliRunner

    from feesvc.cli import cli
    from feesvc.settings import get_settings

    e = await estate(api)
    path = tmp_path / "statement.csv"
    path.write_bytes(statement_csv(LINES))
    env = {k: v for k, v in os.environ.items() if not k.startswith("FEESVC_")}
    env["FEESVC_DATABASE_URL"] = database_url

    def run(args: list[str]) -> Any:
        get_settings.cache_clear()
        try:
            return CliRunner().invoke(cli, args, env=env)
        finally:
            get_settings.cache_clear()

    dry = await asyncio.to_thread(run, ["bank", "import", str(path), "--estate", e.code, "--dry-run"])
    assert dry.exit_code == 3 and "dry run" in dry.output and "2 matched" in dry.output, dry.output
    assert await payments_of(api, e.id) == []
    done = await asyncio.to_thread(run, ["bank", "import", str(path), "--estate", e.code])
    assert done.exit_code == 3 and "2 payments posted" in done.output, done.output
    assert len(await payments_of(api, e.id)) == 2
    unknown = await asyncio.to_thread(run, ["bank", "import", str(path), "--estate", e.code, "--bank", "nosuchbank"])
    assert unknown.exit_code == 1 and "nosuchbank" in unknown.output


async def test_two_transfers_for_one_unit_in_a_file_settle_its_months_in_turn_with_receipts_in_order(api: Api) -> None:
    e = await estate(api)
    rows = [
        ["2026-03-02", "250.00", "贷", "业主0", "6222000000000001", "1栋101 一月", "U0001"],
        ["2026-03-02", "250.00", "贷", "业主1", "6222000000000002", "1栋102", "U0002"],
        ["2026-03-03", "250.00", "贷", "业主0", "6222000000000001", "1栋101 二月", "U0003"],
    ]
    result = await api.ok(await upload(api, e.id, statement_csv(rows)), 200)
    assert (result["matched"], result["posted"]) == (3, 3)
    payments = await payments_of(api, e.id)
    body = {"unit_id": e.units["1栋103"], "amount_fen": 100, "method": "cash"}
    desk = await api.ok(
        await api.post("/api/v1/payments", body, Role.cashier, headers={"Idempotency-Key": "desk-after-bank"})
    )
    numbers = []
    for payment in payments:
        out = await api.ok(await api.get(f"/api/v1/payments/{payment.id}", Role.manager), 200)
        numbers.append(out["receipt_number"])
        months = {"U0001": ["2026-01"], "U0002": ["2026-01"], "U0003": ["2026-02"]}[payment.external_ref]
        assert [a["period"] for a in out["allocations"]] == months
    assert numbers == ["2026-000001", "2026-000002", "2026-000003"] and desk["receipt_number"] == "2026-000004"
    assert (await api.ledger(e.units["1栋101"], as_of="2026-03-31"))["balance_fen"] == 0
