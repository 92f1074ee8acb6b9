"""An arrears case as the classifier reads it: the record format of ``../shared/cases/FORMAT.md``
(and of the API's case facts), the cause categories and the mistaken beliefs.

``case_facts_from_record`` validates one decoded JSON record and names the first bad field.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any, Final, TypeVar

T = TypeVar("T")


class Category(StrEnum):
    HARDSHIP = "hardship"
    SERVICE_DISSATISFACTION = "service_dissatisfaction"
    MISUNDERSTANDING = "misunderstanding"
    UNKNOWN = "unknown"


#: The three causes, in tie-break order: on equal scores the gentler playbook wins, because
#: treating a hardship case as anything else (reminders, legal course) does the most harm.
CAUSES: Final[tuple[Category, ...]] = (
    Category.HARDSHIP,
    Category.SERVICE_DISSATISFACTION,
    Category.MISUNDERSTANDING,
)


class Belief(StrEnum):
    """The mistaken belief behind a misunderstanding; the letter system picks its letter by it."""

    VACANCY = "vacancy"  # "an empty home is exempt"
    UNUSED_SERVICE = "unused_service"  # "I never use the lift, so I don't pay for it"
    PUBLIC_REVENUE = "public_revenue"  # "advertising income should offset my fee"
    NO_CONTRACT = "no_contract"  # "I never signed with this company"
    DEVELOPER_PROMISE = "developer_promise"  # "the developer promised free fees"
    TENANT_PAYS = "tenant_pays"  # "my tenant should pay"
    FEE_INCREASE_WITHOUT_VOTE = "fee_increase_without_vote"  # "it rose without a vote: I pay nothing"
    FEE_START = "fee_start"  # "the fee starts when I move in / get the certificate"
    OTHER_FUNDS = "other_funds"  # "I paid the maintenance fund, that covers it"


class Origin(StrEnum):
    """Where a signal comes from. Only notes and complaints can decide a case."""

    NOTE = "note"
    COMPLAINT = "complaint"
    PAYMENT_HISTORY = "payment_history"
    UNIT = "unit"


COMPLAINT_CATEGORIES: Final = frozenset(
    {"cleaning", "security", "elevator", "repair", "leak", "parking", "noise", "greenery", "other"}
)
COMPLAINT_STATUSES: Final = frozenset({"open", "closed"})
LOCALES: Final = frozenset({"zh_CN", "zh_TW", "en"})


@dataclass(frozen=True)
class Note:
    on: date
    text: str  # without the leading date

    @property
    def source(self) -> str:
        return f"note {self.on.isoformat()}"


@dataclass(frozen=True)
class Complaint:
    opened: date
    closed: date | None
    category: str
    status: str  # "open" | "closed"
    owner_satisfied: bool | None
    text: str

    @property
    def source(self) -> str:
        return f"complaint {self.opened.isoformat()} {self.category}"


@dataclass(frozen=True)
class PaymentEntry:
    period: str  # "YYYY-MM"
    paid_on: date | None  # None: unpaid, amount_fen is what was billed
    amount_fen: int

    @property
    def period_start(self) -> date:
        return _period_start(self.period)


@dataclass(frozen=True)
class CaseFacts:
    id: str
    locale: str
    vacant: bool
    area_m2: Decimal
    amount_fen: int
    months_overdue: int
    first_unpaid_period: str
    payment_history: tuple[PaymentEntry, ...] | None  # None: the record had no history
    notes: tuple[Note, ...]
    complaints: tuple[Complaint, ...]


class CaseFormatError(ValueError):
    """A case record that cannot be read; ``field`` is a path such as ``complaints[1].opened``."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


# ---------------------------------------------------------------------------------------------
# Reading a record
# ---------------------------------------------------------------------------------------------

_PERIOD_RE: Final = re.compile(r"(\d{4})-(0[1-9]|1[0-2])")
_DATE_RE: Final = re.compile(r"\d{4}-\d{2}-\d{2}")
_AREA_RE: Final = re.compile(r"\d+\.\d{2}")
_NOTE_RE: Final = re.compile(r"(\d{4}-\d{2}-\d{2})(?:\s+(.*))?", re.DOTALL)


def case_facts_from_record(record: object) -> CaseFacts:
    """Validate one decoded JSON case record (FORMAT.md) and turn it into ``CaseFacts``.

    Raises ``CaseFormatError`` naming the first bad field. Unknown keys are ignored, and so is
    ``expected``: the classifier never sees the answer key.
    """
    rec = _as_mapping(record, "record")
    case_id = _field(rec, "id", _as_id)
    locale = _field(rec, "locale", _as_locale)
    unit = _field(rec, "unit", _as_mapping)
    arrears = _field(rec, "arrears", _as_mapping)
    history = rec.get("payment_history")  # optional: the key may be missing
    return CaseFacts(
        id=case_id,
        locale=locale,
        vacant=_field(unit, "unit.vacant", _as_bool),
        area_m2=_field(unit, "unit.area_m2", _as_area),
        amount_fen=_field(arrears, "arrears.amount_fen", _as_int),
        months_overdue=_field(arrears, "arrears.months_overdue", _as_int),
        first_unpaid_period=_field(arrears, "arrears.first_unpaid_period", _as_period),
        payment_history=None if history is None else _payment_history(history),
        notes=tuple(_note(item, f"notes[{i}]") for i, item in enumerate(_field(rec, "notes", _as_list))),
        complaints=tuple(
            _complaint(item, f"complaints[{i}]") for i, item in enumerate(_field(rec, "complaints", _as_list))
        ),
    )


def _payment_history(value: object) -> tuple[PaymentEntry, ...]:
    entries = []
    for i, item in enumerate(_as_list(value, "payment_history")):
        entry = _as_mapping(item, f"payment_history[{i}]")
        paid_on = _field(entry, f"payment_history[{i}].paid_on", _as_optional_date)
        entries.append(
            PaymentEntry(
                period=_field(entry, f"payment_history[{i}].period", _as_period),
                paid_on=paid_on,
                amount_fen=_field(entry, f"payment_history[{i}].amount_fen", _as_int),
            )
        )
    return tuple(entries)


def _note(value: object, path: str) -> Note:
    text = _as_str(value, path)
    match = _NOTE_RE.fullmatch(text)
    if match is None:
        raise CaseFormatError(path, "must be 'YYYY-MM-DD <text>'")
    return Note(on=_as_date(match.group(1), path), text=match.group(2) or "")


def _complaint(value: object, path: str) -> Complaint:
    rec = _as_mapping(value, path)
    return Complaint(
        opened=_field(rec, f"{path}.opened", _as_date),
        closed=_field(rec, f"{path}.closed", _as_optional_date),
        category=_field(rec, f"{path}.category", _as_complaint_category),
        status=_field(rec, f"{path}.status", _as_complaint_status),
        owner_satisfied=_field(rec, f"{path}.owner_satisfied", _as_optional_bool),
        text=_field(rec, f"{path}.text", _as_str),
    )


def _field(rec: Mapping[str, Any], path: str, convert: Callable[[object, str], T]) -> T:
    """The value at ``path`` (its last component is the key in ``rec``), checked by ``convert``."""
    key = path.rsplit(".", 1)[-1]
    if key not in rec:
        raise CaseFormatError(path, "required field is missing")
    return convert(rec[key], path)


def _as_mapping(value: object, path: str) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise CaseFormatError(path, f"must be an object, not {_json_type(value)}")
    return value


def _as_list(value: object, path: str) -> list[object]:
    if not isinstance(value, list):
        raise CaseFormatError(path, f"must be a list, not {_json_type(value)}")
    return value


def _as_str(value: object, path: str) -> str:
    if not isinstance(value, str):
        raise CaseFormatError(path, f"must be a string, not {_json_type(value)}")
    return value


def _as_id(value: object, path: str) -> str:
    text = _as_str(value, path)
    if not text.strip():
        raise CaseFormatError(path, "must not be empty")
    return text


def _as_locale(value: object, path: str) -> str:
    return _as_choice(value, path, LOCALES)


def _as_complaint_category(value: object, path: str) -> str:
    return _as_choice(value, path, COMPLAINT_CATEGORIES)


def _as_complaint_status(value: object, path: str) -> str:
    return _as_choice(value, path, COMPLAINT_STATUSES)


def _as_bool(value: object, path: str) -> bool:
    if not isinstance(value, bool):
        raise CaseFormatError(path, f"must be true or false, not {_json_type(value)}")
    return value


def _as_optional_bool(value: object, path: str) -> bool | None:
    return None if value is None else _as_bool(value, path)


def _as_int(value: object, path: str) -> int:
    # bool is an int subclass in Python, but true is not an amount.
    if isinstance(value, bool) or not isinstance(value, int):
        raise CaseFormatError(path, f"must be an integer, not {_json_type(value)}")
    if value < 0:
        raise CaseFormatError(path, "must not be negative")
    return value


def _as_choice(value: object, path: str, choices: frozenset[str]) -> str:
    text = _as_str(value, path)
    if text not in choices:
        raise CaseFormatError(path, f"must be one of {', '.join(sorted(choices))}, not {text!r}")
    return text


def _as_date(value: object, path: str) -> date:
    text = _as_str(value, path)
    try:
        # fromisoformat alone would also take "20250619"; the format says YYYY-MM-DD.
        if _DATE_RE.fullmatch(text):
            return date.fromisoformat(text)
    except ValueError:
        pass
    raise CaseFormatError(path, f"must be a date YYYY-MM-DD, not {text!r}")


def _as_optional_date(value: object, path: str) -> date | None:
    return None if value is None else _as_date(value, path)


def _as_period(value: object, path: str) -> str:
    text = _as_str(value, path)
    if _PERIOD_RE.fullmatch(text) is None:
        raise CaseFormatError(path, f"must be a period YYYY-MM, not {text!r}")
    return text


def _as_area(value: object, path: str) -> Decimal:
    text = _as_str(value, path)
    try:
        area = Decimal(text) if _AREA_RE.fullmatch(text) else None
    except InvalidOperation:
        area = None
    if area is None or area <= 0:
        raise CaseFormatError(path, f"must be a positive decimal with 2 places such as '89.50', not {text!r}")
    return area


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    return "an object" if isinstance(value, dict) else type(value).__name__


def _period_start(period: str) -> date:
    return date(int(period[:4]), int(period[5:7]), 1)
