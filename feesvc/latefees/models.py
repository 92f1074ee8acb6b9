from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import BigInteger, CheckConstraint, Column, Index, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from feesvc.db import DecimalText, UTCDateTime, str_enum, utcnow
from feesvc.rules.late_fees import LateFeeCap


class CourtRate(SQLModel, table=True):
    """An annual rate a court would likely allow (e.g. 1-year LPR × 1.3), from a date, per estate."""

    __tablename__ = "court_rate"
    __table_args__ = (UniqueConstraint("estate_id", "effective_from"),)

    id: int | None = Field(default=None, primary_key=True)
    estate_id: int = Field(foreign_key="estate.id", index=True)
    effective_from: date
    annual_rate: Decimal = Field(sa_type=DecimalText)
    basis: str = Field(max_length=200)
    actor: str = Field(max_length=120)
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))


class LateFeeTermsVersion(SQLModel, table=True):
    """One version of an estate's late-fee terms (违约金条款), in force from ``effective_from`` until
    the next version's date (DOMAIN.md "Terms change over time"). Never rewritten: a change is a
    new version from its effective date, like a fee standard.

    An estate version (``fee_standard_id`` NULL) carries every term. A fee standard's version
    carries only its own daily rate, which overrides the estate's rate for the charges of that
    standard from its date on; the other terms stay the estate's.

    (The estate row's late-fee columns and the fee standard's ``late_fee_daily_rate`` keep what was
    last sent through the settings and standards routes, for those forms; accrual reads only these.)
    """

    __tablename__ = "late_fee_terms"
    __table_args__ = (
        Index(
            "uq_late_fee_terms_estate_from",
            "estate_id",
            "effective_from",
            unique=True,
            postgresql_where=text("fee_standard_id IS NULL"),
            sqlite_where=text("fee_standard_id IS NULL"),
        ),
        Index(
            "uq_late_fee_terms_standard_from",
            "fee_standard_id",
            "effective_from",
            unique=True,
            postgresql_where=text("fee_standard_id IS NOT NULL"),
            sqlite_where=text("fee_standard_id IS NOT NULL"),
        ),
        CheckConstraint(
            "(fee_standard_id IS NULL AND grace_days IS NOT NULL AND cap IS NOT NULL)"
            " OR (fee_standard_id IS NOT NULL AND grace_days IS NULL AND cap IS NULL"
            " AND cap_fen IS NULL AND starts_on IS NULL)",
            name="ck_late_fee_terms_complete",
        ),
        CheckConstraint("cap <> 'fixed' OR cap_fen IS NOT NULL", name="ck_late_fee_terms_fixed_cap"),
    )

    id: int | None = Field(default=None, primary_key=True)
    estate_id: int = Field(foreign_key="estate.id", index=True)
    fee_standard_id: int | None = Field(default=None, foreign_key="fee_standard.id")
    effective_from: date
    daily_rate: Decimal = Field(sa_type=DecimalText)
    grace_days: int | None = Field(default=None)
    cap: LateFeeCap | None = Field(default=None, sa_type=str_enum(LateFeeCap))
    cap_fen: int | None = Field(default=None, sa_type=BigInteger)
    starts_on: date | None = Field(default=None)
    basis: str = Field(max_length=200)  # why: the contract clause, the owners' decision, the change
    actor: str = Field(max_length=120)
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))
