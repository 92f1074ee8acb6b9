"""What a sale settled, and the settlement certificates issued (kept as issued)."""

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, Index
from sqlmodel import Field, SQLModel

from feesvc.db import UTCDateTime, utcnow


class SaleSettlement(SQLModel, table=True):
    """One recorded ownership and what recording it settled; a retry of the same transfer reads it back."""

    __tablename__ = "sale_settlement"

    id: int | None = Field(default=None, primary_key=True)
    ownership_id: int = Field(foreign_key="ownership.id", unique=True)
    unit_id: int = Field(foreign_key="unit.id", index=True)
    # The request as it was first sent: a retry told differently is refused.
    request_fingerprint: str = Field(max_length=64)
    # The response of the first request, given back to a retry.
    result: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    actor: str = Field(max_length=120)
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))


class SettlementCertificate(SQLModel, table=True):
    """An issued 物业费结清证明: its facts, and the PDF's bytes kept as issued with their hash."""

    __tablename__ = "settlement_certificate"
    __table_args__ = (
        # The same facts the same day: the certificate already issued, not another number.
        Index(
            "uq_settlement_certificate_facts", "unit_id", "owner_id", "as_of", "issued_on", "facts_sha256", unique=True
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    certificate_no: str = Field(max_length=60, unique=True)
    estate_id: int = Field(foreign_key="estate.id")
    unit_id: int = Field(foreign_key="unit.id", index=True)
    owner_id: int = Field(foreign_key="owner.id")
    as_of: date
    issued_on: date
    owed_fen: int = Field(sa_type=BigInteger)
    facts_sha256: str = Field(max_length=64)
    context: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    file_path: str = Field(max_length=300)
    sha256: str = Field(max_length=64)
    size: int
    actor: str = Field(max_length=120)
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))
