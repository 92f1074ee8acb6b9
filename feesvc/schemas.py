"""Wire types shared by every area: exact decimals travel as strings, money as integer fen."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated

import msgspec
from litestar.params import Parameter

# Patterns are read by two engines: msgspec (Python's re) and OpenAPI readers (ECMA). In Python `$`
# also matches before a final newline and `\d` takes any script's digits, so the patterns end with
# END and spell digits [0-9]; to an ECMA reader both mean what they say.
END = r"$(?!\n)"
# Dates and periods fall in these years on every route: PostgreSQL stores 0001-01-01 and 9999-12-31
# from asyncpg as ±infinity, and nothing this service records is older or that far ahead.
FIRST_YEAR, LAST_YEAR = 1900, 2999
PERIOD_PATTERN = r"^(19|2[0-9])[0-9]{2}-(0[1-9]|1[0-2])" + END
# The same years for a date or a date-time, as the OpenAPI document states them beside their format
# (feesvc.openapi); the decoders check the dates themselves (feesvc.decoding).
DATE_YEARS_PATTERN = r"^(19|2[0-9])[0-9]{2}-"

# What to send, in the refusal of a value that is not it (feesvc.decoding reads ``extra["send"]``).
FEN_HINT = "integer fen: 12345 means ¥123.45"

Period = Annotated[
    str,
    msgspec.Meta(
        pattern=PERIOD_PATTERN,
        description="billing period YYYY-MM, 1900-01 … 2999-12",
        examples=["2026-11"],
        extra={"send": "a month as YYYY-MM, e.g. 2026-11"},
    ),
]
AreaText = Annotated[
    str,
    msgspec.Meta(
        pattern=r"^[0-9]{1,6}(\.[0-9]{1,2})?" + END,
        description="floor area in m², exact, e.g. 89.50",
        examples=["89.50"],
        extra={"send": 'the area in m² as a string with at most 2 decimals, e.g. "89.50"'},
    ),
]
RateText = Annotated[
    str,
    msgspec.Meta(
        pattern=r"^[0-9]{1,6}(\.[0-9]{1,8})?" + END,
        description="exact non-negative decimal",
        examples=["2.80"],
        extra={"send": 'an exact decimal as a string, e.g. "2.80"'},
    ),
]
# Bounds from the domain: a daily late-fee rate of more than 1 % is a typing error (万分之三 is
# 0.0003), and a share payable is at most the whole.
DailyRateText = Annotated[
    str,
    msgspec.Meta(
        pattern=r"^(0|0\.0|0\.00[0-9]{0,6}|0\.010{0,6})" + END,
        description="daily late-fee rate, exact, at most 0.01 (1 %)",
        examples=["0.0003"],
        extra={"send": 'a daily rate from "0" to "0.01" as a string, e.g. "0.0003" (万分之三)'},
    ),
]
ShareText = Annotated[
    str,
    msgspec.Meta(
        pattern=r"^(0(\.[0-9]{1,4})?|1(\.0{1,4})?)" + END,
        description="a share from 0 to 1, exact",
        examples=["0.6"],
        extra={"send": 'a share from "0" to "1" as a string, e.g. "0.6"'},
    ),
]
Fen = Annotated[
    int, msgspec.Meta(ge=0, le=10**13, description="amount in fen (1 yuan = 100 fen)", extra={"send": FEN_HINT})
]
PositiveFen = Annotated[
    int, msgspec.Meta(gt=0, le=10**11, description="amount in fen (1 yuan = 100 fen)", extra={"send": FEN_HINT})
]

# Ids are JSON integers within their column's range, so the database is never the first to refuse.
INT4_MAX = 2**31 - 1  # PostgreSQL integer: most tables' ids
INT8_MAX = 2**63 - 1  # bigint: the append-only tables' ids (ledger entries, payments)
Id = Annotated[
    int,
    msgspec.Meta(ge=1, le=INT4_MAX, extra={"send": f"a record id: a JSON integer from 1 to {INT4_MAX}"}),
]
LongId = Annotated[
    int,
    msgspec.Meta(ge=1, le=INT8_MAX, extra={"send": f"a record id: a JSON integer from 1 to {INT8_MAX}"}),
]
# The same in a path ({unit_id:int}): Litestar reads a handler parameter's bounds from Parameter only.
# Out of range, the path names nothing, and the answer is 404 (feesvc.errors).
PathId = Annotated[int, Parameter(ge=1, le=INT4_MAX, description="a record id")]
LongPathId = Annotated[int, Parameter(ge=1, le=INT8_MAX, description="a record id")]
# A count the rules bound (they name the limit in their refusal); here only the database's range.
Count = Annotated[int, msgspec.Meta(ge=-INT4_MAX, le=INT4_MAX, extra={"send": "a JSON integer"})]

# Text never carries control characters (NUL, ESC, DEL, C1 …): the database would refuse some
# (PostgreSQL: NUL) and documents would print the rest. Multi-line text also takes tab and newlines.
LINE_PATTERN = r"^[^\x00-\x1f\x7f-\x9f]*" + END
MULTILINE_PATTERN = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]*" + END
Line = Annotated[str, msgspec.Meta(pattern=LINE_PATTERN, extra={"send": "one line of text without control characters"})]
MultilineText = Annotated[
    str,
    msgspec.Meta(
        pattern=MULTILINE_PATTERN,
        extra={"send": "text without control characters (tabs and line breaks are fine)"},
    ),
]
Name = Annotated[Line, msgspec.Meta(min_length=1, max_length=100)]
Reason = Annotated[Line, msgspec.Meta(min_length=2, max_length=500, description="why; kept with the entry")]


class Body(msgspec.Struct, forbid_unknown_fields=True):
    """Request bodies refuse unknown fields, so a misspelt field is an error, not silently ignored."""


def exact(value: str) -> Decimal:
    """A validated decimal string as a Decimal (the pattern already ruled out anything else)."""
    return Decimal(value)


def period_start(period: str) -> date:
    year, month = period.split("-")
    return date(int(year), int(month), 1)
