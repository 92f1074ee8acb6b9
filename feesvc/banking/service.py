"""Importing a bank statement: read whole and checked first (any problem: nothing written), each new
credit matched (feesvc.banking.matching), the lines kept once by their key, and each matched line
posted through the desk's idempotent path with that key, so a file imported again posts nothing.
A line that waits for a cashier is posted when it is assigned, under the same key."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, NamedTuple

from sqlalchemy import bindparam, func, update
from sqlalchemy import select as sa_select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from feesvc.audit.service import record_audit
from feesvc.auth.principal import Principal
from feesvc.banking import matching
from feesvc.banking.mappings import BankMapping, UnknownMapping, load_mappings, mapping_named
from feesvc.banking.matching import Account, AccountFacts, Decision, Directory, Holding
from feesvc.banking.models import BankLine, BankLineStatus, BankStatement
from feesvc.banking.schemas import AccountOut, BankImportOut, BankLineOut, BankLinePage
from feesvc.banking.statement import CAMT_FORMAT, Problem, Statement, StatementLine, is_camt, line_keys, read_statement
from feesvc.db import Database, is_postgres, utcnow
from feesvc.errors import Conflict, DomainError, FieldError, InvalidInput, NotFound
from feesvc.ledger.models import EntryKind, LedgerEntry
from feesvc.ledger.service import open_debits_by_unit
from feesvc.letters.models import Letter
from feesvc.payments.lookup import current_owner
from feesvc.payments.models import Method, Payment, Receipt
from feesvc.payments.recording import post_payment, record_payments
from feesvc.payments.schemas import PaymentCreate
from feesvc.registry.masking import Masking
from feesvc.registry.models import Building, Estate, Owner, Ownership, Unit

CHUNK = 1_000
WAITING_SHOWN = 500
# Matched lines posted in one transaction: a commit per line cost more than the line's SQL.
POSTING_BATCH = 500
_LINE = BankLine.__table__  # type: ignore[attr-defined]


class StatementRefused(DomainError):
    """A file with problems: nothing was written; every problem is listed with its line and column."""

    status_code = 422
    title = "The statement cannot be imported"

    def __init__(self, problems: Sequence[Problem]) -> None:
        errors = [FieldError(_where(p), f"{p.zh} / {p.en}") for p in problems]
        detail = f"{len(problems)} problem(s) in the file; nothing was written: " + "; ".join(
            f"{e.field}: {e.message}" for e in errors[:5]
        )
        super().__init__(detail, errors=errors)
        self.problems = list(problems)


def _where(problem: Problem) -> str:
    if not problem.line:
        return "file"
    return f"line {problem.line}" + (f", column {problem.column}" if problem.column else "")


def _mapping(mappings_file: str, bank: str, filename: str, content: bytes) -> BankMapping | None:
    if is_camt(filename, content):
        return None
    try:
        return mapping_named(load_mappings(mappings_file), bank)
    except UnknownMapping as unknown:
        raise InvalidInput(str(unknown), field="bank") from None


# ---------------------------------------------------------------------------------------------
# Import
# ---------------------------------------------------------------------------------------------


@dataclass
class _NewLine:
    line: StatementLine
    key: str
    decision: Decision


async def import_statement(
    database: Database,
    actor: Principal,
    estate: Estate,
    bank: str,
    filename: str,
    content: bytes,
    *,
    dry_run: bool,
    today: date,
    mappings_file: str = "",
) -> BankImportOut:
    """Import a statement file of the estate's account; see the module's docstring. A CSV is read
    with the column mapping of ``bank`` (built in, or from ``mappings_file``)."""
    assert estate.id is not None
    mapping = _mapping(mappings_file, bank, filename, content)
    statement = read_statement(filename, content, mapping, today)
    if statement.problems:
        raise StatementRefused(statement.problems)
    sha = hashlib.sha256(content).hexdigest()
    keys = line_keys(estate.id, statement.lines)
    bank_name = bank if statement.file_format != CAMT_FORMAT or bank != "default" else "camt.053"
    async with database.session() as session:
        known = await _known_keys(session, keys)
        fresh: dict[str, StatementLine] = {}
        for line, key in zip(statement.lines, keys, strict=True):
            if key not in known and key not in fresh:
                fresh[key] = line
        duplicates = len(keys) - len(fresh)
        decided = await _decide(session, estate, list(fresh.items()))
        if dry_run:
            await session.rollback()
            waiting = [_preview(n) for n in decided if n.decision.status != "matched"]
            return _result(
                None, bank_name, statement.file_format, sha, statement, decided, duplicates, 0, True, waiting
            )
        statement_id = await _write_lines(
            session, actor, estate.id, bank_name, filename, sha, statement, decided, duplicates
        )
        # Every matched line of the estate not yet posted: this file's, and any an import cut off
        # before its payments left (posted now under the same keys).
        to_post = await _lines_to_post(session, estate.id)
    posted = await post_lines(database, actor, to_post, today)
    async with database.session() as session:
        await session.execute(update(BankStatement).where(col(BankStatement.id) == statement_id).values(posted=posted))
        await session.commit()
        waiting_rows = await _lines(
            session,
            [
                col(BankLine.statement_id) == statement_id,
                col(BankLine.status).in_([BankLineStatus.unmatched, BankLineStatus.ambiguous]),
            ],
            limit=WAITING_SHOWN,
        )
    waiting = [line_out(row) for row in waiting_rows]
    return _result(
        statement_id, bank_name, statement.file_format, sha, statement, decided, duplicates, posted, False, waiting
    )


def _result(
    statement_id: int | None,
    bank: str,
    file_format: str,
    sha: str,
    statement: Statement,
    decided: list[_NewLine],
    duplicates: int,
    posted: int,
    dry_run: bool,
    waiting: list[BankLineOut],
) -> BankImportOut:
    counts = {s: sum(1 for n in decided if n.decision.status == s) for s in ("matched", "unmatched", "ambiguous")}
    return BankImportOut(
        statement_id=statement_id,
        bank=bank,
        file_format=file_format,
        file_sha256=sha,
        lines=len(statement.lines),
        debits_skipped=statement.debits,
        new_lines=len(decided),
        duplicates=duplicates,
        matched=counts["matched"],
        posted=posted,
        unmatched=counts["unmatched"],
        ambiguous=counts["ambiguous"],
        dry_run=dry_run,
        waiting=waiting,
    )


def _preview(new: _NewLine) -> BankLineOut:
    line, decision = new.line, new.decision
    return BankLineOut(
        id=0,
        statement_id=0,
        line_no=line.line_no,
        booked_on=line.booked_on,
        amount_fen=line.amount_fen,
        payer_name=line.payer_name,
        payer_account=line.payer_account,
        reference=line.reference,
        bank_txn_id=line.txn_id,
        status=BankLineStatus(decision.status),
        reason=decision.reason,
        candidates=[AccountOut(a.unit_id, a.owner_id) for a in decision.candidates],
        unit_id=None,
        owner_id=None,
        payment_id=None,
        assigned_by="",
    )


async def _known_keys(session: AsyncSession, keys: Sequence[str]) -> set[str]:
    known: set[str] = set()
    for start in range(0, len(keys), CHUNK):
        query = select(BankLine.line_key).where(col(BankLine.line_key).in_(keys[start : start + CHUNK]))
        known.update((await session.execute(query)).scalars())
    return known


async def _write_lines(
    session: AsyncSession,
    actor: Principal,
    estate_id: int,
    bank: str,
    filename: str,
    sha: str,
    statement: Statement,
    decided: list[_NewLine],
    duplicates: int,
) -> int:
    """The import's record and its new lines, in one transaction."""
    record = BankStatement(
        estate_id=estate_id,
        bank=bank,
        file_format=statement.file_format,
        filename=filename[:200],
        file_sha256=sha,
        lines=len(statement.lines),
        new_lines=len(decided),
        duplicates=duplicates,
        posted=0,
        imported_by=actor.label,
    )
    session.add(record)
    await session.flush()
    assert record.id is not None
    rows = [_line_row(estate_id, record.id, n) for n in decided]
    # A line another import of an overlapping file wrote meanwhile stays as that import wrote it.
    dialect = postgresql if is_postgres(session) else sqlite
    statement_insert = dialect.insert(_LINE).on_conflict_do_nothing(index_elements=["line_key"])
    for start in range(0, len(rows), CHUNK):
        await session.execute(statement_insert, rows[start : start + CHUNK])
    counts = {s: sum(1 for n in decided if n.decision.status == s) for s in ("matched", "unmatched", "ambiguous")}
    detail = {"statement_id": record.id, "file_sha256": sha, "lines": len(statement.lines), "duplicates": duplicates}
    await record_audit(session, actor, "bank.import", "estate", estate_id, detail | counts)
    await session.commit()
    return record.id


def _line_row(estate_id: int, statement_id: int, new: _NewLine) -> dict[str, Any]:
    line, decision = new.line, new.decision
    account = decision.account
    return {
        "estate_id": estate_id,
        "statement_id": statement_id,
        "line_no": line.line_no,
        "line_key": new.key,
        "bank_txn_id": line.txn_id,
        "booked_on": line.booked_on,
        "amount_fen": line.amount_fen,
        "payer_name": line.payer_name,
        "payer_account": line.payer_account,
        "reference": line.reference,
        "status": BankLineStatus(decision.status),
        "reason": decision.reason[:300],
        "candidates": [{"unit_id": a.unit_id, "owner_id": a.owner_id} for a in decision.candidates],
        "unit_id": account.unit_id if account else None,
        "owner_id": account.owner_id if account else None,
        "payment_id": None,
        "assigned_by": "",
        "created_at": utcnow(),
    }


# ---------------------------------------------------------------------------------------------
# Matching: the estate read once as plain data
# ---------------------------------------------------------------------------------------------


async def _decide(session: AsyncSession, estate: Estate, fresh: list[tuple[str, StatementLine]]) -> list[_NewLine]:
    if not fresh:
        return []
    assert estate.id is not None
    refs = [matching.references(line.reference, line.payer_name) for _, line in fresh]
    directory = await _directory(session, estate, refs)
    named = [matching.candidates(r, line.booked_on, directory) for r, (_, line) in zip(refs, fresh, strict=True)]
    units = sorted({a.unit_id for accounts, _ in named for a in accounts})
    facts = await _facts(session, estate, units)
    decided = []
    for (key, line), r, (accounts, basis) in zip(fresh, refs, named, strict=True):
        totals = [directory.letters[k][1] for k in r.letters if k in directory.letters]
        decision = matching.decide(line.amount_fen, accounts, basis, facts, totals)
        decided.append(_NewLine(line, key, decision))
    return decided


async def _directory(session: AsyncSession, estate: Estate, refs: Sequence[matching.References]) -> Directory:
    directory = Directory()
    units = sa_select(col(Unit.id), col(Unit.number), col(Building.name)).join(
        Building, col(Building.id) == Unit.building_id
    )
    for unit_id, number, building in await session.execute(units.where(col(Unit.estate_id) == estate.id)):
        directory.add_unit(int(unit_id or 0), building, number)
    holdings = (
        sa_select(
            col(Ownership.unit_id),
            col(Ownership.owner_id),
            col(Ownership.starts_on),
            col(Ownership.ends_on),
            col(Owner.name),
        )
        .join(Unit, col(Unit.id) == Ownership.unit_id)
        .join(Owner, col(Owner.id) == Ownership.owner_id)
        .where(col(Unit.estate_id) == estate.id)
        .order_by(col(Ownership.starts_on))
    )
    for unit_id, owner_id, starts_on, ends_on, name in await session.execute(holdings):
        directory.add_holding(Holding(unit_id, owner_id, starts_on, ends_on), name)
    letter_keys = sorted({k for r in refs for k in r.letters})
    for start in range(0, len(letter_keys), CHUNK):
        numbers = [f"{estate.code}-{k}" for k in letter_keys[start : start + CHUNK]]
        letters = sa_select(
            col(Letter.letter_no), col(Letter.unit_id), col(Letter.owner_id), col(Letter.total_fen)
        ).where(col(Letter.estate_id) == estate.id, col(Letter.letter_no).in_(numbers))
        for number, letter_unit, letter_owner, total in await session.execute(letters):
            directory.letters[number.removeprefix(f"{estate.code}-")] = (Account(letter_unit, letter_owner), total)
    receipt_keys = sorted({k for r in refs for k in r.receipts})
    for start in range(0, len(receipt_keys), CHUNK):
        wanted = {(int(k[:4]), int(k[5:])) for k in receipt_keys[start : start + CHUNK]}
        receipts = (
            sa_select(col(Receipt.year), col(Receipt.seq), col(Payment.unit_id), col(Payment.owner_id))
            .join(Payment, col(Payment.id) == Receipt.payment_id)
            .where(
                col(Receipt.estate_id) == estate.id,
                col(Receipt.year).in_({y for y, _ in wanted}),
                col(Receipt.seq).in_({s for _, s in wanted}),
            )
        )
        for year, seq, paid_unit, paid_owner in await session.execute(receipts):
            if (year, seq) in wanted:
                directory.receipts[f"{year}-{seq:06d}"] = Account(paid_unit, paid_owner)
    return directory


class _Facts:
    """What each candidate account owes (read for the candidates' units only), for the amount check."""

    def __init__(self, debits: dict[int, list[Any]], charge: dict[int, int], cap_periods: int) -> None:
        self.debits, self.charge, self.cap_periods = debits, charge, cap_periods

    def __call__(self, account: Account) -> AccountFacts:
        debits = [
            (d.period, d.debt_due, d.open_fen)
            for d in self.debits.get(account.unit_id, [])
            if d.owner_id in (None, account.owner_id)
        ]
        return AccountFacts(matching.period_amounts(debits), self.charge.get(account.unit_id, 0), self.cap_periods)


async def _facts(session: AsyncSession, estate: Estate, units: Sequence[int]) -> _Facts:
    debits: dict[int, list[Any]] = {}
    charge: dict[int, int] = {}
    entry = LedgerEntry.__table__  # type: ignore[attr-defined]
    for start in range(0, len(units), CHUNK):
        chunk = list(units[start : start + CHUNK])
        debits.update(await open_debits_by_unit(session, chunk))
        latest = (
            sa_select(func.max(entry.c.id))
            .where(entry.c.unit_id.in_(chunk), entry.c.kind == EntryKind.charge)
            .group_by(entry.c.unit_id)
        )
        rows = await session.execute(sa_select(entry.c.unit_id, entry.c.amount_fen).where(entry.c.id.in_(latest)))
        charge.update({unit_id: int(fen) for unit_id, fen in rows})
    return _Facts(debits, charge, estate.prepay_cap_months // max(estate.cycle_months, 1))


# ---------------------------------------------------------------------------------------------
# Posting
# ---------------------------------------------------------------------------------------------


class LineToPost(NamedTuple):
    """What posting a matched line reads of it: plain columns, where a line entity (and its
    candidates' JSON) cost more to load than the payment's allocation."""

    id: int
    line_key: str
    unit_id: int | None
    owner_id: int | None
    amount_fen: int
    bank_txn_id: str
    reference: str
    payer_name: str
    booked_on: date


_TO_POST = (
    sa_select(*(_LINE.c[name] for name in LineToPost._fields))
    .where(_LINE.c.estate_id == bindparam("estate_id"), _LINE.c.status == BankLineStatus.matched)
    .order_by(_LINE.c.id)
)


async def _lines_to_post(session: AsyncSession, estate_id: int) -> list[LineToPost]:
    return [LineToPost(*row) for row in await session.execute(_TO_POST, {"estate_id": estate_id})]


def payment_of(line: BankLine | LineToPost, unit_id: int, owner_id: int | None) -> PaymentCreate:
    """The desk's payment for a line: the same request each time, so a retry replays it."""
    return PaymentCreate(
        unit_id=unit_id,
        amount_fen=line.amount_fen,
        method=Method.bank_transfer,
        external_ref=(line.bank_txn_id or line.reference)[:100],
        payer_name=line.payer_name[:100] or None,
        received_on=line.booked_on,
        owner_id=owner_id,
    )


async def post_lines(database: Database, actor: Principal, lines: Sequence[LineToPost], today: date) -> int:
    """Post matched lines through the desk's idempotent path (the line's key is the payment's), a
    batch a transaction; returns how many payments were new. A line the desk refuses waits for a
    cashier with the reason."""
    mark = (
        update(_LINE)
        .where(_LINE.c.id == bindparam("b_id"))
        .values(status=bindparam("b_status"), reason=bindparam("b_reason"), payment_id=bindparam("b_payment"))
    )
    new = 0
    for start in range(0, len(lines), POSTING_BATCH):
        batch = lines[start : start + POSTING_BATCH]
        requests = [(payment_of(line, line.unit_id or 0, line.owner_id), line.line_key) for line in batch]
        async with database.session() as session:
            answers = await record_payments(session, actor, requests, today)
            outcomes = []
            for line, answer in zip(batch, answers, strict=True):
                if isinstance(answer, DomainError):
                    status, reason, payment_id = BankLineStatus.unmatched, answer.detail[:300], None
                else:
                    new += answer[1]
                    status, reason, payment_id = BankLineStatus.posted, "", answer[0].id
                outcomes.append({"b_id": line.id, "b_status": status, "b_reason": reason, "b_payment": payment_id})
            await session.execute(mark, outcomes)
            await session.commit()
    return new


# ---------------------------------------------------------------------------------------------
# Reading and assigning
# ---------------------------------------------------------------------------------------------


async def _lines(session: AsyncSession, where: Iterable[Any], limit: int | None = None) -> list[BankLine]:
    query = select(BankLine).where(*where).order_by(col(BankLine.id))
    if limit is not None:
        query = query.limit(limit)
    return list((await session.execute(query)).scalars())


def line_out(line: BankLine) -> BankLineOut:
    assert line.id is not None
    return BankLineOut(
        id=line.id,
        statement_id=line.statement_id,
        line_no=line.line_no,
        booked_on=line.booked_on,
        amount_fen=line.amount_fen,
        payer_name=line.payer_name,
        payer_account=line.payer_account,
        reference=line.reference,
        bank_txn_id=line.bank_txn_id,
        status=line.status,
        reason=line.reason,
        candidates=[AccountOut(c["unit_id"], c.get("owner_id")) for c in line.candidates],
        unit_id=line.unit_id,
        owner_id=line.owner_id,
        payment_id=line.payment_id,
        assigned_by=line.assigned_by,
    )


WAITING = (BankLineStatus.unmatched, BankLineStatus.ambiguous)


async def list_lines(
    session: AsyncSession, estate_id: int, status: BankLineStatus | None, page: int, page_size: int, masking: Masking
) -> BankLinePage:
    """The estate's lines of a status, oldest first; without a status, those waiting for a cashier."""
    statuses = [status] if status is not None else list(WAITING)
    where = [col(BankLine.estate_id) == estate_id, col(BankLine.status).in_(statuses)]
    total = (await session.execute(sa_select(func.count()).select_from(BankLine).where(*where))).scalar_one()
    query = select(BankLine).where(*where).order_by(col(BankLine.id)).offset((page - 1) * page_size).limit(page_size)
    items = [line_out(line).masked(masking) for line in (await session.execute(query)).scalars()]
    return BankLinePage(items=items, total=int(total), page=page, page_size=page_size)


async def assign_line(
    database: Database, actor: Principal, line_id: int, unit_id: int, owner_id: int | None, today: date
) -> BankLineOut:
    """Post a waiting line to the account a cashier chose, once: the line's key is the payment's, so
    a retry (or a second cashier choosing the same) answers the same payment, and a different choice
    after it was posted is refused."""
    async with database.session() as session:
        line = await session.get(BankLine, line_id)
        if line is None:
            raise NotFound(f"bank line {line_id} does not exist")
        unit = await session.get(Unit, unit_id)
        if unit is None or unit.estate_id != line.estate_id:
            raise InvalidInput(f"unit {unit_id} is not a unit of this line's estate", field="unit_id")
        if line.status in (BankLineStatus.posted, BankLineStatus.matched):
            # Posted (or about to be) already: only the same choice again, which answers the same payment.
            if line.unit_id != unit_id or owner_id not in (None, line.owner_id):
                raise Conflict(
                    f"bank line {line_id} is already {line.status.value} to unit {line.unit_id}; "
                    "it is never posted twice",
                    field="unit_id",
                )
            owner_id = line.owner_id
        elif owner_id is None:
            # Named in the payment, so that a retry of this assignment is the same request.
            owner_id = await current_owner(session, unit_id, line.booked_on)
        session.expunge(line)
    try:
        payment, _ = await post_payment(database, actor, payment_of(line, unit_id, owner_id), line.line_key, today)
    except Conflict:
        # Its key was just used by another cashier's assignment of the line to another account.
        raise Conflict(
            f"bank line {line_id} was just posted to another unit or owner; read it again", field="unit_id"
        ) from None
    async with database.session() as session:
        values = {
            "status": BankLineStatus.posted,
            "unit_id": unit_id,
            "owner_id": payment.owner_id,
            "payment_id": payment.id,
        }
        if line.status in WAITING:
            values |= {"assigned_by": actor.label, "reason": f"assigned by {actor.label}"}
        await session.execute(update(BankLine).where(col(BankLine.id) == line_id).values(**values))
        detail = {"unit_id": unit_id, "owner_id": payment.owner_id, "payment_id": payment.id}
        await record_audit(session, actor, "bank_line.assign", "bank_line", line_id, detail)
        await session.commit()
        refreshed = await session.get(BankLine, line_id, populate_existing=True)
        assert refreshed is not None
        return line_out(refreshed)
