"""Wire types shared by every area: exact decimals travel as strings, money as integer fen."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated

import msgspec

PERIOD_PATTERN = r"^\d{4}-(0[1-9]|1[0-2])$"

Period = Annotated[
    str, msgspec.Meta(pattern=PERIOD_PATTERN, description="billing period YYYY-MM", examples=["2026-11"])
]
AreaText = Annotated[
    str,
    msgspec.Meta(
        pattern=r"^\d{1,6}(\.\d{1,2})?$",
        description="floor area in m², exact, e.g. 89.50",
        examples=["89.50"],
    ),
]
RateText = Annotated[
    str,
    msgspec.Meta(
        pattern=r"^\d{1,6}(\.\d{1,8})?$", description="exact non-negative decimal", examples=["2.80"]
    ),
]
Fen = Annotated[int, msgspec.Meta(ge=0, le=10**13, description="amount in fen (1 yuan = 100 fen)")]
PositiveFen = Annotated[int, msgspec.Meta(gt=0, le=10**11, description="amount in fen (1 yuan = 100 fen)")]
Name = Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
Reason = Annotated[str, msgspec.Meta(min_length=2, max_length=500, description="why; kept with the entry")]


class Body(msgspec.Struct, forbid_unknown_fields=True):
    """Request bodies refuse unknown fields, so a misspelt field is an error, not silently ignored."""


def exact(value: str) -> Decimal:
    """A validated decimal string as a Decimal (the pattern already ruled out anything else)."""
    return Decimal(value)


def period_start(period: str) -> date:
    year, month = period.split("-")
    return date(int(year), int(month), 1)
