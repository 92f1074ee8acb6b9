"""Arrears by cause.

The aging's overdue amount per unit grouped by ``arrears.service.effective_cause`` (the cause
of the unit's open case as it stands now); units with no open case or no decision are
"unclassified". Only units with an open case are looked up one by one.
"""

from __future__ import annotations

from datetime import date
from typing import Final

from sqlalchemy import case, func
from sqlalchemy import select as sa_select  # rows wider than sqlmodel's typed select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from feesvc.arrears.models import ArrearsCase
from feesvc.arrears.service import ACTIVE, effective_cause
from feesvc.registry.models import Estate
from feesvc.reports.aging import former_owner, overdue_debits
from feesvc.reports.common import int_or_zero, script
from feesvc.reports.schemas import ArrearsByCause, CauseRow

UNCLASSIFIED: Final = "unclassified"
CAUSES: Final = ("hardship", "service_dissatisfaction", "misunderstanding", "unknown", UNCLASSIFIED)
CAUSE_LABELS: Final[dict[str, dict[str, str]]] = {
    "zh_Hans": {
        "hardship": "经济困难型",
        "service_dissatisfaction": "服务不满型",
        "misunderstanding": "认知偏差型",
        "unknown": "原因不明",
        UNCLASSIFIED: "未分类",
    },
    "zh_Hant": {
        "hardship": "經濟困難型",
        "service_dissatisfaction": "服務不滿型",
        "misunderstanding": "認知偏差型",
        "unknown": "原因不明",
        UNCLASSIFIED: "未分類",
    },
    "en": {
        "hardship": "Hardship",
        "service_dissatisfaction": "Service dissatisfaction",
        "misunderstanding": "Misunderstanding",
        "unknown": "Unknown",
        UNCLASSIFIED: "Unclassified",
    },
}


async def arrears_by_cause(session: AsyncSession, estate: Estate, as_of: date) -> ArrearsByCause:
    assert estate.id is not None
    overdue = overdue_debits(estate.id, as_of)
    # An open case is one owner's account's: (unit, owner); owner None only on a unit nobody owned.
    with_case = (
        select(ArrearsCase.unit_id, ArrearsCase.owner_id)
        .where(ArrearsCase.estate_id == estate.id, col(ArrearsCase.status).in_(ACTIVE))
        .distinct()
        .subquery("with_case")
    )
    # One pass: accounts with an open case one row each (few); all the others summed in one row;
    # and what former owners owe apart (a case groups the arrears of the account it is about).
    # Per owner's account first (whether a former owner's: once per account), then by case.
    accounts = (
        sa_select(
            overdue.c.unit_id.label("unit_id"),
            overdue.c.owner_id.label("owner_id"),
            case((former_owner(overdue.c.unit_id, overdue.c.owner_id, as_of), 1), else_=0).label("former"),
            func.sum(overdue.c.open_fen).label("open_fen"),
        )
        .group_by(overdue.c.unit_id, overdue.c.owner_id)
        .subquery("accounts")
    )
    a = accounts.c
    has_case = sa_select(with_case.c.unit_id).where(
        with_case.c.unit_id == a.unit_id, with_case.c.owner_id.is_not_distinct_from(a.owner_id)
    )
    # Labelled in a subquery and grouped by name (PostgreSQL would not match bound parameters).
    keyed = sa_select(
        case((a.former == 1, None), (has_case.exists(), a.unit_id), else_=None).label("case_unit_id"),
        case((a.former == 1, None), else_=a.owner_id).label("case_owner_id"),
        a.former.label("former"),
        a.unit_id.label("unit_id"),
        a.open_fen.label("open_fen"),
    ).subquery("keyed")
    k = keyed.c
    rows = await session.execute(
        sa_select(
            k.case_unit_id, k.case_owner_id, k.former, func.sum(k.open_fen), func.count(func.distinct(k.unit_id))
        ).group_by(k.case_unit_id, k.case_owner_id, k.former)
    )
    totals: dict[str, list[int]] = {cause: [0, 0] for cause in CAUSES}
    former_fen = former_units = 0
    for unit_id, owner_id, is_former, fen, units in rows.all():
        if is_former:
            former_fen += int_or_zero(fen)
            former_units += int_or_zero(units)
            continue
        cause = UNCLASSIFIED if unit_id is None else (await effective_cause(session, unit_id, owner_id) or UNCLASSIFIED)
        line = totals.setdefault(cause, [0, 0])
        line[0] += int_or_zero(fen)
        line[1] += int_or_zero(units)
    labels = CAUSE_LABELS[script(estate.locale)]
    return ArrearsByCause(
        estate_id=estate.id,
        as_of=as_of,
        overdue_fen=sum(fen for fen, _ in totals.values()) + former_fen,
        units=sum(n for _, n in totals.values()) + former_units,
        causes=[CauseRow(cause, labels.get(cause, cause), fen, n) for cause, (fen, n) in totals.items()],
        former_owners_fen=former_fen,
        former_owners_units=former_units,
    )
