"""Building a unit's statement from its ledger, at any past date."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from itertools import groupby
from typing import Any, NamedTuple

from dateutil.relativedelta import relativedelta
from sqlalchemy import Select, String, and_, bindparam, type_coerce
from sqlalchemy import select as sa_select  # rows wider than sqlmodel's typed select
from sqlalchemy.ext.asyncio import AsyncSession

from feesvc.errors import NotFound
from feesvc.formatting import area_text, money, period_label, rate_text
from feesvc.ledger.models import DEBIT_KINDS, EntryKind, LedgerEntry
from feesvc.payments.models import Payment, Receipt, receipt_number
from feesvc.payoff.accounts import UnitOwner, entry_owner, is_former, unit_owners
from feesvc.payoff.schemas import OtherOwner
from feesvc.payoff.service import payoff_from_entries, unit_payoff
from feesvc.registry.models import Building, Estate, Owner, Ownership, Unit
from feesvc.registry.service import ownership_covering
from feesvc.rules.late_fees import TERMS_FROM_THE_START
from feesvc.service_records.models import ACTIVITY_LABELS
from feesvc.service_records.service import service_summaries
from feesvc.standards.models import FeeStandard
from feesvc.statements.schemas import (
    AgeBucket,
    FeeBasis,
    ServiceSummaryItem,
    Settled,
    Statement,
    StatementLine,
    StatementUnit,
)

AGE_BUCKETS = ((0, 30, "0-30"), (31, 90, "31-90"), (91, 180, "91-180"), (181, 365, "181-365"), (366, None, ">365"))

# What each kind of entry is called on a statement, per script.
KIND_LABELS: dict[str, dict[str, str]] = {
    "zh_Hans": {
        "charge": "费用",
        "late_fee": "违约金",
        "payment": "缴费",
        "prepaid_credit": "预存",
        "credit_applied": "预存款抵扣",
        "discount": "预缴优惠",
        "waiver": "违约金减免",
        "reversal": "冲正",
        "refund": "退还预存款",
        "adjustment": "调整",
    },
    "zh_Hant": {
        "charge": "費用",
        "late_fee": "違約金",
        "payment": "繳費",
        "prepaid_credit": "預存",
        "credit_applied": "預存款抵扣",
        "discount": "預繳優惠",
        "waiver": "違約金減免",
        "reversal": "沖正",
        "refund": "退還預存款",
        "adjustment": "調整",
    },
    "en": {
        "charge": "Charge",
        "late_fee": "Late fee",
        "payment": "Payment",
        "prepaid_credit": "Prepaid credit",
        "credit_applied": "Prepaid credit applied",
        "discount": "Prepay discount",
        "waiver": "Late fee waived",
        "reversal": "Reversal",
        "refund": "Credit refunded",
        "adjustment": "Adjustment",
    },
}
_METHODS = {
    "zh": {"cash": "现金", "wechat": "微信", "alipay": "支付宝", "bank_transfer": "银行转账", "card": "银行卡"},
    "en": {"cash": "cash", "wechat": "WeChat", "alipay": "Alipay", "bank_transfer": "bank transfer", "card": "card"},
}


def script_of(locale: str) -> str:
    if locale.startswith("en"):
        return "en"
    return "zh_Hant" if locale in ("zh_TW", "zh_HK") else "zh_Hans"


def _lang(locale: str) -> str:
    return "en" if locale.startswith("en") else "zh"


def age_bucket(days_overdue: int) -> str:
    for low, high, label in AGE_BUCKETS:
        if days_overdue >= low and (high is None or days_overdue <= high):
            return label
    return AGE_BUCKETS[0][2]


def charge_calculation(entry: LedgerEntry | StatementEntry, locale: str) -> str | None:
    """'89.57平方米 × 2.35元/平方米·月 × 1个月 = ¥210.49': the inputs of a charge as the owner can check them."""
    detail = entry.detail or {}
    if "rate" not in detail:
        return None
    zh = _lang(locale) == "zh"
    per_m2 = "area_m2" in detail
    months = detail.get("months", 1)
    if zh:
        parts = [f"{detail['rate']}元/平方米·月" if per_m2 else f"{detail['rate']}元/月", f"{months}个月"]
    else:
        parts = [f"CNY {detail['rate']}/m²·month" if per_m2 else f"CNY {detail['rate']}/month", f"{months} month(s)"]
    if per_m2:
        parts.insert(0, area_text(Decimal(detail["area_m2"]), locale))
    if "vacancy_payable_ratio" in detail:
        parts.append(detail["vacancy_payable_ratio"] + ("（空置）" if zh else " (vacancy)"))
    return " × ".join(parts) + f" = {money(entry.amount_fen, locale)}"


def late_fee_calculation(entry: LedgerEntry | StatementEntry, locale: str) -> str | None:
    detail = entry.detail or {}
    segments = detail.get("segments") or []
    if not segments:
        return None
    zh = _lang(locale) == "zh"
    rows = []
    for s in segments:
        base = money(int(s["base_fen"]), locale)
        rate = rate_text(Decimal(s["daily_rate"]), locale)
        # Which version of the late-fee terms the days used, unless the terms never changed.
        since = s.get("terms_from")
        terms = (
            "" if not since or since <= _TERMS_ALWAYS else f"（{since} 起的条款）" if zh else f" (terms from {since})"
        )
        if zh:
            rows.append(f"{s['start']} 至 {s['end']} 共 {s['days']} 天：{base} × {rate} × {s['days']}{terms}")
        else:
            rows.append(f"{s['start']} to {s['end']}, {s['days']} days: {base} × {rate} × {s['days']}{terms}")
    text = "; ".join(rows)
    if entry.amount_fen < 0 and detail.get("total_to_date_fen") is not None:
        # A correction: the fee on the facts known at the run is below what was posted before.
        total = money(int(detail["total_to_date_fen"]), locale)
        text = f"更正为 {total}：{text}" if zh else f"Corrected to {total}: {text}"
    return text


_TERMS_ALWAYS = TERMS_FROM_THE_START.isoformat()  # the terms before versions: no date to show


class StatementEntry(NamedTuple):
    """A ledger entry as the statement reads it (not who posted it or when), with its payment's
    method and receipt and its fee standard. A plain tuple: reading a field of a SQLAlchemy Row by
    name cost ten times as much, and on a decade's hundreds of lines that was about half of the
    statement's CPU (measured in-process, 7.6 against 3.5 ms)."""

    id: int
    kind: str
    amount_fen: int
    effective_date: date
    period: str | None
    item: str | None
    due_date: date | None
    fee_standard_id: int | None
    settles_entry_id: int | None
    basis_entry_id: int | None
    reverses_entry_id: int | None
    payment_id: int | None
    owner_id: int | None
    reason: str | None
    detail: dict[str, Any] | None
    # Outer-joined, so None unless the entry has a payment with a receipt, or a fee standard.
    payment_method: Any
    receipt_year: Any
    receipt_seq: Any
    fee_item_name: Any
    fee_basis: Any
    fee_rate: Any
    fee_effective_from: Any
    fee_posted_on: Any
    fee_decision_kind: Any
    fee_decision_ref: Any


def _statement_queries() -> tuple[Select[Any], Select[Any]]:
    """The statement's reads, built once: its header (unit, building, estate, owner on the day) and
    its entries as columns (a decade of monthly history is hundreds of entries) with each payment's
    method and receipt and each charge's fee standard joined in. Four queries fewer than reading
    them one by one; on this machine a round trip costs more than the rows."""
    unit, building, estate = Unit.__table__, Building.__table__, Estate.__table__  # type: ignore[attr-defined]
    ownership, owner = Ownership.__table__, Owner.__table__  # type: ignore[attr-defined]
    entry, payment, receipt = LedgerEntry.__table__, Payment.__table__, Receipt.__table__  # type: ignore[attr-defined]
    fee = FeeStandard.__table__  # type: ignore[attr-defined]
    day = bindparam("as_of", type_=entry.c.effective_date.type)
    header = (
        sa_select(
            unit.c.id,
            unit.c.number,
            unit.c.floor_area_m2,
            unit.c.use,
            building.c.id.label("building_id"),
            building.c.name.label("building_name"),
            estate.c.id.label("estate_id"),
            estate.c.name.label("estate_name"),
            estate.c.company_name,
            estate.c.locale,
            owner.c.name.label("owner_name"),
            ownership.c.owner_id,
        )
        .join(building, building.c.id == unit.c.building_id)
        .join(estate, estate.c.id == unit.c.estate_id)
        .outerjoin(ownership, and_(ownership.c.unit_id == unit.c.id, ownership_covering(day)))
        .outerjoin(owner, owner.c.id == ownership.c.owner_id)
        .where(unit.c.id == bindparam("unit_id"))
        .limit(1)
    )
    # Plain text, not the enums: the statement only compares and prints these, and converting a
    # decade's hundreds of values costs more than reading them.
    columns = {
        **{name: entry.c[name] for name in StatementEntry._fields if name in entry.c},
        "kind": type_coerce(entry.c.kind, String),
        "payment_method": type_coerce(payment.c.method, String),
        "receipt_year": receipt.c.year,
        "receipt_seq": receipt.c.seq,
        "fee_item_name": fee.c.item_name,
        "fee_basis": type_coerce(fee.c.basis, String),
        "fee_rate": fee.c.rate,
        "fee_effective_from": fee.c.effective_from,
        "fee_posted_on": fee.c.posted_on,
        "fee_decision_kind": type_coerce(fee.c.decision_kind, String),
        "fee_decision_ref": fee.c.decision_ref,
    }
    entries = (
        sa_select(*(columns[name].label(name) for name in StatementEntry._fields))
        .outerjoin(payment, payment.c.id == entry.c.payment_id)
        .outerjoin(receipt, receipt.c.payment_id == payment.c.id)
        .outerjoin(fee, fee.c.id == entry.c.fee_standard_id)
        .where(entry.c.unit_id == bindparam("unit_id"), entry.c.effective_date <= day)
        .order_by(entry.c.effective_date, entry.c.id)
    )
    return header, entries


_HEADER, _ENTRIES = _statement_queries()


def _fee_basis(row: StatementEntry, known: dict[int, FeeBasis]) -> FeeBasis | None:
    """The charge's fee standard, one struct per standard on the statement (``known``)."""
    if row.fee_standard_id is None:
        return None
    fee = known.get(row.fee_standard_id)
    if fee is None:
        fee = known[row.fee_standard_id] = FeeBasis(
            row.fee_standard_id,
            row.fee_item_name,
            row.fee_basis,
            row.fee_rate,
            row.fee_effective_from,
            row.fee_posted_on,
            row.fee_decision_kind,
            row.fee_decision_ref,
        )
    return fee


# Sets, not tuples: a tuple of enum members is rebuilt (and each member looked up) at every test,
# several times a line.
_PAYMENT_KINDS = frozenset({EntryKind.payment, EntryKind.prepaid_credit})
_PAIRED_KINDS = frozenset({EntryKind.credit_applied, EntryKind.reversal})
_OF_A_PERIOD = frozenset({EntryKind.late_fee, EntryKind.discount, EntryKind.waiver})
_CORRECTION_KINDS = frozenset({EntryKind.late_fee, EntryKind.adjustment})


def _group_key(entry: StatementEntry) -> tuple[object, ...]:
    """Entries shown as one line: a payment's splits, a credit application pair, a void's reversals."""
    if entry.payment_id is not None and entry.kind in _PAYMENT_KINDS:
        return ("payment", entry.payment_id, entry.effective_date)
    if entry.kind in _PAIRED_KINDS and entry.payment_id is not None:
        return (entry.kind, entry.payment_id, entry.effective_date)
    if entry.kind in _CORRECTION_KINDS and entry.detail is not None:
        # A late-fee correction and the adjustments that book it (latefees.service): one line.
        if entry.kind == EntryKind.late_fee and "corrects" in entry.detail:
            return ("late_fee_correction", entry.id)
        if (correction := entry.detail.get("late_fee_correction")) is not None:
            return ("late_fee_correction", correction)
    return ("entry", entry.id)


def _owner_detail(entry: StatementEntry) -> dict[str, Any] | None:
    """How a charge or late fee was computed; the court-likely figure is for evidence packs, not owners."""
    if entry.kind not in DEBIT_KINDS or entry.detail is None:
        return None
    return {key: value for key, value in entry.detail.items() if key != "court_likely_fen"}


def _describe(first: StatementEntry, fee: FeeBasis | None, locale: str, kinds: dict[str, str]) -> str:
    """What the line is, in words; ``kinds`` are the entry kinds' names in the locale's script."""
    label = kinds[first.kind]
    if first.kind == EntryKind.charge:
        name = fee.item_name if fee else (first.detail or {}).get("item_name", first.item or label)
        return f"{name} {period_label(first.period, locale)}" if first.period else str(name)
    if first.kind in _PAYMENT_KINDS and first.receipt_seq is not None:
        lang = _lang(locale)
        number = receipt_number(first.receipt_year, first.receipt_seq)
        method_text = _METHODS[lang].get(first.payment_method, first.payment_method)
        return f"缴费（{method_text}）收据 {number}" if lang == "zh" else f"Payment ({method_text}), receipt {number}"
    if first.period and first.kind in _OF_A_PERIOD:
        return f"{label} {period_label(first.period, locale)}"
    return label


def _settled(members: list[StatementEntry], by_id: dict[int, StatementEntry]) -> list[Settled]:
    """The charges and late fees the line's entries settle, with how much of each."""
    if len(members) == 1 and not members[0].settles_entry_id:
        return []
    own = {e.id for e in members}  # an entry of the line settling another of it is not shown
    return [
        Settled(t.id, t.kind, t.period, t.item, -e.amount_fen)
        for e in members
        if e.settles_entry_id
        and e.settles_entry_id not in own
        and (t := by_id.get(e.settles_entry_id)) is not None
        and t.kind in DEBIT_KINDS
    ]


def _statement_lines(
    entries: list[StatementEntry], by_id: dict[int, StatementEntry], opening: int, locale: str
) -> list[StatementLine]:
    """One line per group of entries (``_group_key``), each with the balance after it."""
    kinds = KIND_LABELS[script_of(locale)]
    fees: dict[int, FeeBasis] = {}
    lines: list[StatementLine] = []
    running = opening
    for _, group in groupby(entries, key=_group_key):
        members = list(group)
        first = members[0]
        amount = first.amount_fen if len(members) == 1 else sum(e.amount_fen for e in members)
        running += amount
        fee = _fee_basis(first, fees)
        calculation = (
            charge_calculation(first, locale)
            if first.kind == EntryKind.charge
            else late_fee_calculation(first, locale)
            if first.kind == EntryKind.late_fee
            else None
        )
        lines.append(
            StatementLine(
                date=first.effective_date,
                kind=first.kind,
                description=_describe(first, fee, locale, kinds),
                amount_fen=amount,
                amount_text=money(amount, locale),
                balance_after_fen=running,
                entry_ids=[e.id for e in members],
                period=first.period,
                due_date=first.due_date,
                calculation=calculation,
                fee_basis=fee,
                settles=_settled(members, by_id),
                payment_id=first.payment_id,
                reason=first.reason,
                detail=_owner_detail(first),
            )
        )
    return lines


async def build_statement(
    session: AsyncSession,
    unit_id: int,
    as_of: date,
    start: date,
    end: date,
    *,
    owner_id: int | None = None,
    others: bool = False,
    with_payoff: bool = False,
    locale: str | None = None,
) -> Statement:
    """The statement of ``owner_id``'s account (default: the owner on its last day) for ``start`` …
    ``end`` as it stood on ``as_of``: that owner's entries only (DOMAIN "Change of owner"), and the
    entries of others settling that owner's debts, without saying whose. The lines are the owner's
    time at the unit within the range (from the month they took it over: a charge split at the
    handover is dated the period's first day); a former owner's stop at the end of their time, while
    what they still owe or hold is told to ``end``. ``others``: the unit's other owners with
    something open, apart (staff; names unmasked, the caller masks). ``with_payoff``: with the
    account's payoff on ``as_of``. ``locale``: the words' language (default: the estate's; the
    owner's pages pass the owner's)."""
    last_day = min(end, as_of)
    head = (await session.execute(_HEADER, {"unit_id": unit_id, "as_of": last_day})).first()
    if head is None:
        raise NotFound(f"unit {unit_id} does not exist")
    locale = locale or head.locale
    owners = await unit_owners(session, unit_id)
    account = head.owner_id if owner_id is None else owner_id
    result = await session.execute(_ENTRIES, {"unit_id": unit_id, "as_of": last_day})
    entries = [StatementEntry._make(row) for row in result]
    by_id = {e.id: e for e in entries}
    shown = _account_entries(entries, owners, account)
    start, lines_to = _own_time(owners, account, start)
    stop = min(lines_to or last_day, last_day)
    opening = sum(e.amount_fen for e in shown if e.effective_date < start)
    in_range = [e for e in shown if start <= e.effective_date <= stop]

    lines = _statement_lines(in_range, by_id, opening, locale)
    closing = lines[-1].balance_after_fen if lines else opening
    owed, ages, credit = _balances(shown, by_id, last_day)
    overdue = sum(ages.values())
    payoff = None
    if with_payoff and last_day == as_of:  # the entries read are the payoff's too
        payoff = await payoff_from_entries(session, head.estate_id, unit_id, as_of, account, entries)
    elif with_payoff:
        payoff = await unit_payoff(session, unit_id, as_of, account)
    names = {o.owner_id: o.name for o in owners}
    return Statement(
        unit=StatementUnit(
            unit_id, head.estate_name, head.company_name, head.building_name, head.number, head.floor_area_m2, head.use
        ),
        owner_name=names.get(account, head.owner_name) if account is not None else head.owner_name,
        locale=locale,
        as_of=as_of,
        period_from=start,
        period_to=stop if lines_to is not None else end,
        opening_balance_fen=opening,
        lines=lines,
        closing_balance_fen=closing,
        owed_fen=owed,
        overdue_fen=overdue,
        prepaid_credit_fen=credit,
        overdue_by_age=[AgeBucket(label, fen) for label, fen in ages.items()],
        service_summary=await _service_summary(session, head.estate_id, locale, head.building_id, start, last_day),
        totals_text={
            "opening": money(opening, locale),
            "closing": money(closing, locale),
            "owed": money(owed, locale),
            "overdue": money(overdue, locale),
            "prepaid_credit": money(credit, locale),
        },
        payoff=payoff,
        owner_id=account,
        other_owners=_other_owners(entries, by_id, owners, account, last_day) if others else [],
    )


def _own_time(owners: list[UnitOwner], account: int | None, start: date) -> tuple[date, date | None]:
    """The statement's start within the account owner's time at the unit (from the month it began),
    and the last day of that time (None: they own it still)."""
    spans = [(o.starts_on, o.ends_on) for o in owners if o.owner_id == account]
    if not spans:
        return start, None
    ends = [e for _, e in spans]
    last = None if None in ends else max(e for e in ends if e is not None)
    return max(start, min(s for s, _ in spans).replace(day=1)), last


def _account_entries(
    entries: list[StatementEntry], owners: list[UnitOwner], account: int | None
) -> list[StatementEntry]:
    """The account's entries, and those of another account settling its debts (a payment designated
    to them) without the payment's method and receipt: whose money it was is not the reader's."""
    mine = {e.id for e in entries if entry_owner(e.owner_id, e.effective_date, owners) == account}
    return [
        e if e.id in mine else e._replace(payment_id=None, payment_method=None, receipt_year=None, receipt_seq=None)
        for e in entries
        if e.id in mine or e.settles_entry_id in mine
    ]


def _other_owners(
    entries: list[StatementEntry],
    by_id: dict[int, StatementEntry],
    owners: list[UnitOwner],
    account: int | None,
    day: date,
) -> list[OtherOwner]:
    """The unit's other owners with something owed or held on their own account on ``day``."""
    listed = []
    for owner_id, name in {o.owner_id: o.name for o in owners}.items():
        if owner_id == account:
            continue
        owed, _, credit = _balances(_account_entries(entries, owners, owner_id), by_id, day)
        if owed or credit:
            listed.append(OtherOwner(owner_id, name, is_former(owners, owner_id, day), owed, credit))
    return listed


def _balances(
    entries: list[StatementEntry], by_id: dict[int, StatementEntry], day: date
) -> tuple[int, dict[str, int], int]:
    """What is owed (and overdue by age) and the prepaid credit held on ``day``, from the unit's
    entries up to that day, which the statement has read already: what is still open on an entry
    is its amount plus the entries settling it (ledger/models.py), as ledger.service's
    ``open_debits`` and ``prepaid_credit_fen`` compute in SQL. Two round trips fewer."""
    open_fen = {e.id: e.amount_fen for e in entries}
    for e in entries:
        if e.settles_entry_id in open_fen:
            open_fen[e.settles_entry_id] += e.amount_fen
    owed = credit = 0
    ages: dict[str, int] = {label: 0 for _, _, label in AGE_BUCKETS}
    for e in entries:
        still_open = open_fen[e.id]
        if still_open == 0:
            continue
        if e.kind == EntryKind.prepaid_credit:
            credit -= still_open
        elif e.kind in DEBIT_KINDS:
            owed += still_open
            # A late fee is as old as the charge it accrued on.
            debt = by_id[e.basis_entry_id] if e.kind == EntryKind.late_fee and e.basis_entry_id is not None else e
            due = debt.due_date or debt.effective_date
            if due < day:
                ages[age_bucket((day - due).days)] += still_open
    return owed, ages, credit


async def _service_summary(
    session: AsyncSession, estate_id: int, locale: str, building_id: int | None, start: date, end: date
) -> list[ServiceSummaryItem]:
    """What the service did month by month in the statement's range, where it was recorded."""
    labels = ACTIVITY_LABELS[_lang(locale)]
    by_period = await service_summaries(session, estate_id, building_id, f"{start:%Y-%m}", f"{end:%Y-%m}")
    return [
        ServiceSummaryItem(period, total.kind, labels[total.kind], total.count)
        for period, totals in by_period.items()
        for total in totals
    ]


def default_range(as_of: date) -> tuple[date, date]:
    """The twelve calendar months up to ``as_of``."""
    return as_of.replace(day=1) - relativedelta(months=11), as_of
