"""The bank rules on plain data: reading statements, keys, and matching (no database)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from feesvc.banking.mappings import BUILT_IN, UnknownMapping, load_mappings, mapping_named
from feesvc.banking.matching import (
    Account,
    AccountFacts,
    Directory,
    Holding,
    candidates,
    decide,
    fitting_amounts,
    normalize,
    period_amounts,
    references,
)
from feesvc.banking.statement import line_keys, read_statement

TODAY = date(2026, 6, 30)


def directory() -> Directory:
    d = Directory()
    for unit_id, building, number in [
        (1, "3栋", "3-1-201"),
        (2, "1幢", "101"),
        (3, "2幢", "101"),
        (4, "商铺", "S-101"),
    ]:
        d.add_unit(unit_id, building, number)
    d.add_holding(Holding(1, 10, date(2020, 1, 1), date(2025, 12, 31)), "张三")
    d.add_holding(Holding(1, 11, date(2026, 1, 1), None), "李四")
    d.add_holding(Holding(2, 12, date(2020, 1, 1), None), "王五")
    d.add_holding(Holding(3, 13, date(2020, 1, 1), None), "王五")
    d.add_holding(Holding(4, 14, date(2020, 1, 1), None), "赵六")
    d.letters["2026-HJ000123"] = (Account(2, 12), 31_000)
    d.receipts["2026-000045"] = Account(4, 14)
    return d


def named(reference: str, payer: str = "", day: date = date(2026, 3, 1)) -> tuple[set[Account], str]:
    accounts, basis = candidates(references(reference, payer), day, directory())
    return set(accounts), basis


def test_references_as_owners_write_them() -> None:
    assert normalize("３栋１单元２０１室") == "3-1-201"
    assert named("锦绣华苑 3栋 3-1-201") == ({Account(1, 11)}, "unit")
    assert named("3栋1单元201室物业费") == ({Account(1, 11)}, "unit")
    # The owner of the day of the transfer: before the sale, the seller's account.
    assert named("3-1-201", day=date(2025, 6, 1)) == ({Account(1, 10)}, "unit")
    assert named("1幢101") == ({Account(2, 12)}, "unit")
    assert named("101") == ({Account(2, 12), Account(3, 13)}, "unit")
    assert named("s-101 租金") == ({Account(4, 14)}, "unit")
    assert named("缴费通知 JXHY-2026-HJ000123") == ({Account(2, 12)}, "letter")
    assert named("补交 收据2026-000045") == ({Account(4, 14)}, "receipt")
    assert named("物业费", payer="赵六") == ({Account(4, 14)}, "name")
    assert named("赵六交物业费") == ({Account(4, 14)}, "name")
    assert named("王五 物业费") == ({Account(2, 12), Account(3, 13)}, "name")
    assert named("货款", payer="某贸易公司") == (set(), "")


def test_the_amount_decides_among_candidates() -> None:
    owes = {
        Account(2, 12): AccountFacts((25_000, 25_000), 25_000, 12),
        Account(3, 13): AccountFacts((30_000,), 30_000, 12),
    }
    accounts = [Account(2, 12), Account(3, 13)]
    assert decide(25_000, accounts, "unit", owes.__getitem__).account == Account(2, 12)
    assert decide(50_000, accounts, "unit", owes.__getitem__).status == "matched"
    # 600.00 = 300.00 owed + one month ahead for 3; for 2 it is owed + 100.00, no whole month.
    assert decide(60_000, accounts, "unit", owes.__getitem__).account == Account(3, 13)
    both = decide(75_000, accounts, "unit", owes.__getitem__)  # 2: owed + 1 month; 3: owed + 1.5 months: no
    assert both.account == Account(2, 12)
    ambiguous = decide(12_345, accounts, "unit", owes.__getitem__)
    assert (ambiguous.status, set(ambiguous.candidates)) == ("ambiguous", set(accounts))
    alone = decide(12_345, accounts[:1], "unit", owes.__getitem__)
    assert alone.status == "unmatched" and "amount" in alone.reason
    assert decide(1, [], "", owes.__getitem__).status == "unmatched"
    # A letter's total fits its account even when it is not a sum of periods (late fees accrued since).
    letter = decide(31_000, accounts[:1], "letter", owes.__getitem__, [31_000])
    assert letter.status == "matched"
    assert fitting_amounts(AccountFacts((), 25_000, 2)) == {25_000, 50_000}
    assert period_amounts(
        [("2026-02", date(2026, 2, 1), 100), ("2026-01", date(2026, 1, 1), 5), ("2026-01", date(2026, 1, 1), 7)]
    ) == (12, 100)


def test_split_columns_and_a_mapping_from_the_settings_file(tmp_path: Path) -> None:
    rows = (
        "交易日期,贷方发生额,借方发生额,对方户名,用途,流水号\n"
        '20260301,"1,234.50",,王五,1幢101,A1\n'
        "2026/03/02,,80,电力公司,电费,A2\n"
    )
    statement = read_statement("s.csv", rows.encode("gb18030"), BUILT_IN["split"], TODAY)
    assert statement.problems == [] and statement.debits == 1
    [line] = statement.lines
    assert (line.booked_on, line.amount_fen, line.payer_name, line.reference, line.txn_id) == (
        date(2026, 3, 1),
        123_450,
        "王五",
        "1幢101",
        "A1",
    )
    settings = tmp_path / "banks.toml"
    settings.write_text(
        '[banks.mybank]\ndate = "记账日"\namount = "发生额"\ndirection = "方向"\ncredit_values = ["收"]\n'
    )
    mapping = mapping_named(load_mappings(str(settings)), "mybank")
    text = "记账日,发生额,方向,附言\n2026-03-01,10.00,收,3-1-201\n2026-03-01,10.00,付,\n".encode()
    mine = read_statement("m.csv", text, mapping, TODAY)
    assert (len(mine.lines), mine.debits, mine.lines[0].txn_id) == (1, 1, "")
    with pytest.raises(UnknownMapping, match="nosuch"):
        mapping_named(load_mappings(str(settings)), "nosuch")
    settings.write_text('[banks.broken]\ndate = "日期"\n')
    with pytest.raises(UnknownMapping, match="lacks"):
        load_mappings(str(settings))


def test_a_future_date_a_control_character_and_each_problem_named() -> None:
    text = "交易日期,交易金额,借贷标志,附言\n2026-07-01,10,贷,x\n2026-03-01,10,贷,a\x07b\n2026-03-01,10,,c\n"
    statement = read_statement("f.csv", text.encode(), BUILT_IN["default"], TODAY)
    assert [(p.line, p.column) for p in statement.problems] == [(2, "交易日期"), (3, "附言"), (4, "借贷标志")]


def test_keys_one_per_transfer() -> None:
    text = "交易日期,交易金额,借贷标志,对方账号,附言,交易流水号\n" + "\n".join(
        [
            "2026-03-01,10,贷,6222,101,T1",
            "2026-03-01,10,贷,6222,101,T1",  # the bank's id again: the same transfer
            "2026-03-01,10,贷,6222,101,",  # no id: keyed by its content …
            "2026-03-01,10,贷,6222,101,",  # … and how many such came before: a second transfer
        ]
    )
    statement = read_statement("k.csv", text.encode(), BUILT_IN["default"], TODAY)
    keys = line_keys(7, statement.lines)
    assert keys[0] == keys[1] and len(set(keys)) == 3
    assert keys == line_keys(7, statement.lines)  # the same file, the same keys
    assert keys[0] != line_keys(8, statement.lines)[0]  # another estate's line is another line
    assert all(len(k) <= 100 for k in keys)


def test_camt053_entry_with_several_transactions() -> None:
    xml = """<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.08"><BkToCstmrStmt><Stmt><Ntry>
      <Amt Ccy="CNY">300.00</Amt><CdtDbtInd>CRDT</CdtDbtInd><Sts><Cd>BOOK</Cd></Sts>
      <BookgDt><DtTm>2026-03-09T10:00:00</DtTm></BookgDt><AcctSvcrRef>E1</AcctSvcrRef>
      <NtryDtls>
        <TxDtls><Amt Ccy="CNY">100.00</Amt><RltdPties><Dbtr><Pty><Nm>王五</Nm></Pty></Dbtr></RltdPties>
          <RmtInf><Ustrd>1幢101</Ustrd></RmtInf></TxDtls>
        <TxDtls><Refs><AcctSvcrRef>E1-2</AcctSvcrRef></Refs><Amt Ccy="CNY">200.00</Amt>
          <RmtInf><Strd><CdtrRefInf><Ref>JXHY-2026-HJ000123</Ref></CdtrRefInf></Strd></RmtInf></TxDtls>
      </NtryDtls></Ntry></Stmt></BkToCstmrStmt></Document>"""
    statement = read_statement("s.xml", xml.encode(), None, TODAY)
    assert statement.problems == []
    assert [(x.amount_fen, x.txn_id, x.payer_name, x.reference) for x in statement.lines] == [
        (10_000, "E1/1", "王五", "1幢101"),
        (20_000, "E1-2", "", "JXHY-2026-HJ000123"),
    ]
    broken = read_statement("b.xml", b"<Document><BkToCstmrStmt>", None, TODAY)
    assert broken.problems and broken.problems[0].en.startswith("not well-formed")
