"""Every table, imported in one place for Alembic and the test database."""

from sqlmodel import SQLModel

from feesvc.arrears.models import ArrearsAction, ArrearsCase, ArrearsClassification, ArrearsNote, ArrearsOverride
from feesvc.audit.models import AuditEvent
from feesvc.auth.models import ApiToken
from feesvc.banking.models import BankLine, BankStatement
from feesvc.billing.models import BillingRun
from feesvc.files.models import FileChunk, FileRecord
from feesvc.jobs.models import JobAttempt, JobDispatch, JobSchedule, PrintFileChunk
from feesvc.latefees.models import CourtRate, LateFeeTermsVersion
from feesvc.ledger.limitation import LimitationEvent
from feesvc.ledger.models import LedgerEntry
from feesvc.letters.models import (
    DeliveryRecord,
    EscalationStage,
    Letter,
    OutboxMessage,
    ReminderHold,
    ReminderRun,
)
from feesvc.limitation.models import Acknowledgement, LegalFiling
from feesvc.online.models import HeldNotification, PaymentOrder
from feesvc.payments.models import Payment, PaymentVoid, Receipt, ReceiptCounter
from feesvc.plans.models import Installment, InstallmentPlan, PlanCharge
from feesvc.prepay.models import PrepayDiscountTier
from feesvc.registry.models import Building, Estate, Owner, Ownership, Unit, VacancyNotice
from feesvc.sales.models import SaleSettlement, SettlementCertificate
from feesvc.service_records.models import Complaint, ComplaintStep, ServiceActivity
from feesvc.signin.models import Invitation, RefreshToken, SignInCode, SignInRateCount, SignInSession
from feesvc.standards.models import FeeStandard

metadata = SQLModel.metadata

__all__ = [
    "Acknowledgement",
    "ApiToken",
    "ArrearsAction",
    "ArrearsCase",
    "ArrearsClassification",
    "ArrearsNote",
    "ArrearsOverride",
    "AuditEvent",
    "BankLine",
    "BankStatement",
    "BillingRun",
    "Building",
    "Complaint",
    "ComplaintStep",
    "CourtRate",
    "DeliveryRecord",
    "EscalationStage",
    "Estate",
    "FeeStandard",
    "FileChunk",
    "FileRecord",
    "HeldNotification",
    "Installment",
    "InstallmentPlan",
    "Invitation",
    "JobAttempt",
    "JobDispatch",
    "JobSchedule",
    "LateFeeTermsVersion",
    "LedgerEntry",
    "LegalFiling",
    "Letter",
    "LimitationEvent",
    "OutboxMessage",
    "Owner",
    "Ownership",
    "Payment",
    "PaymentOrder",
    "PaymentVoid",
    "PlanCharge",
    "PrepayDiscountTier",
    "PrintFileChunk",
    "Receipt",
    "ReceiptCounter",
    "RefreshToken",
    "ReminderHold",
    "ReminderRun",
    "SaleSettlement",
    "ServiceActivity",
    "SettlementCertificate",
    "SignInCode",
    "SignInRateCount",
    "SignInSession",
    "Unit",
    "VacancyNotice",
    "metadata",
]
