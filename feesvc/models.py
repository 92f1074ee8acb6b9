"""Every table, imported in one place for Alembic and the test database."""

from sqlmodel import SQLModel

from feesvc.audit.models import AuditEvent
from feesvc.auth.models import ApiToken
from feesvc.billing.models import BillingRun
from feesvc.latefees.models import CourtRate
from feesvc.ledger.limitation import LimitationEvent
from feesvc.ledger.models import LedgerEntry
from feesvc.payments.models import Payment, PaymentVoid, Receipt, ReceiptCounter
from feesvc.plans.models import Installment, InstallmentPlan, PlanCharge
from feesvc.prepay.models import PrepayDiscountTier
from feesvc.registry.models import Building, Estate, Owner, Ownership, Unit, VacancyNotice
from feesvc.standards.models import FeeStandard

metadata = SQLModel.metadata

__all__ = [
    "ApiToken",
    "AuditEvent",
    "BillingRun",
    "Building",
    "CourtRate",
    "Installment",
    "InstallmentPlan",
    "LimitationEvent",
    "PlanCharge",
    "PrepayDiscountTier",
    "Estate",
    "FeeStandard",
    "LedgerEntry",
    "Owner",
    "Ownership",
    "Payment",
    "PaymentVoid",
    "Receipt",
    "ReceiptCounter",
    "Unit",
    "VacancyNotice",
    "metadata",
]
