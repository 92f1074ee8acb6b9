from decimal import Decimal

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from feesvc.db import DecimalText


class PrepayDiscountTier(SQLModel, table=True):
    __tablename__ = "prepay_discount_tier"
    __table_args__ = (UniqueConstraint("estate_id", "min_months"),)

    id: int | None = Field(default=None, primary_key=True)
    estate_id: int = Field(foreign_key="estate.id", index=True)
    min_months: int
    percent_off: Decimal = Field(sa_type=DecimalText)
