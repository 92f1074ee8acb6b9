"""The business rules each operation refuses well-formed input by (422), as the OpenAPI document
states them (:mod:`feesvc.openapi`): by the handler that answers, the rules its service checks.

An operation listed here documents 422 with its rules; one not listed cannot answer 422 and does
not document it (tests/test_openapi.py holds the two together, schemathesis the routes to both).
A new rule in a service is a line here.
"""

from __future__ import annotations

REFUSALS: dict[str, str] = {
    # registry
    "feesvc.registry.controller.RegistryController.create_estate": (
        "the billing cycle is not 1, 2, 3, 4, 6 or 12 months; a fixed late-fee cap without late_fee_cap_fen; "
        "a daily late-fee rate above 1; a vacant unit's payable share above 1; a bank account for letters "
        "without both its holder's name and number, or a bank name without the number"
    ),
    "feesvc.registry.controller.RegistryController.update_settings": (
        "as for a new estate (billing cycle, late-fee cap, rate, vacancy share, bank account); and new "
        "late-fee terms dated before today (days that have run keep their terms), or terms missing "
        "grace_days, a cap, or cap_fen for a fixed cap"
    ),
    "feesvc.registry.controller.RegistryController.create_unit": "a floor area of 0 m² or less",
    "feesvc.registry.controller.RegistryController.transfer_ownership": (
        "the new ownership starts on or before the current one's start; the seller's consent without its "
        "reference or signed in the future"
    ),
    "feesvc.registry.controller.RegistryController.update_owner_contact": (
        "a preferred channel the owner's contact details cannot reach (e-mail without an address; SMS or "
        "WeChat without a phone)"
    ),
    "feesvc.registry.controller.RegistryController.add_vacancy_notice": "a vacancy that ends before it starts",
    # fee standards, billing, late fees
    "feesvc.standards.controller.FeeStandardController.create": (
        "a standard posted after it takes effect (公示 first), or one that ends before it takes effect"
    ),
    "feesvc.billing.controller.BillingController.create": (
        "charges issued on a future date; a period that does not start one of the estate's billing cycles"
    ),
    "feesvc.latefees.controller.LateFeeController.accrue": "late fees accrued to a future date",
    "feesvc.latefees.controller.LateFeeController.add_court_rate": "an annual rate outside 0 to 1",
    "feesvc.latefees.controller.LateFeeController.add_terms": (
        "terms effective before today (days that have run keep the terms in force on them); a daily rate "
        "outside 0 to 1; a fee standard's version with terms other than its own rate; the estate's terms "
        "without grace_days, a cap, or cap_fen for a fixed cap"
    ),
    "feesvc.latefees.controller.LateFeeController.waive": "waiving more than is open on the late fee",
    # the desk, the ledger and what is read from it
    "feesvc.payments.controller.PaymentController.record": (
        "received in the future; for the account of an owner who did not own the unit by that day; "
        "designating entries or periods with nothing open on this unit"
    ),
    "feesvc.payments.controller.PaymentController.refund": (
        "more than the prepaid credit held for the owner on this unit; an owner who never owned the unit"
    ),
    "feesvc.ledger.controller.LedgerController.ledger": "owner_id names an owner who never owned the unit",
    "feesvc.payoff.controller.PayoffController.payoff": (
        "as_of in the future (late fees are not posted ahead); owner_id names an owner who never owned the unit"
    ),
    "feesvc.statements.controller.StatementController.statement": (
        "from after to; owner_id names an owner who never owned the unit"
    ),
    "feesvc.sales.controller.SalesController.settlement_certificate": (
        "an owner who never owned the unit; as_of before that owner's ownership starts"
    ),
    # prepayments
    "feesvc.prepay.controller.PrepayController.quote": (
        "more months ahead than the estate's cap (or past the service contract's end); a number of months "
        "or a first period that does not follow the estate's billing cycle; starting before the current "
        "period; no fee standard charging the unit for those months; charges too small to carry the discount"
    ),
    "feesvc.prepay.controller.PrepayController.record": (
        "as for the quote: the estate's cap and contract end, its billing cycle, no earlier than the "
        "current period, a fee standard for every month, charges large enough for the discount"
    ),
    "feesvc.prepay.controller.PrepayController.refund": (
        "from a period that has started (only periods not yet served are refunded); nothing booked from it on"
    ),
    "feesvc.prepay.controller.PrepayController.replace_tiers": (
        "two tiers for the same number of months (the percent and months bounds are the schema's, 400)"
    ),
    # plans
    "feesvc.plans.controller.InstallmentPlanController.propose": (
        "the owner has no overdue charge on the unit, or never owned it; a charge named twice, not overdue "
        "or not the owner's; an empty list of charges; a first installment due in the past; more installments "
        "than the total has fen"
    ),
    "feesvc.plans.controller.InstallmentPlanController.agree": (
        "agreed on a future date; a first installment that fell due before the agreement (propose anew)"
    ),
    "feesvc.plans.controller.InstallmentPlanController.review": "a review dated in the future",
    # letters and limitation
    "feesvc.letters.controller.LetterController.run": "a reminder run dated in the future",
    "feesvc.letters.controller.LetterController.set_policy": (
        "a stage named twice; stages that do not start later as they escalate"
    ),
    "feesvc.letters.controller.LetterController.hold": "a hold that ends before it starts",
    "feesvc.letters.controller.LetterController.deliver": (
        "delivered in the future or before the letter was issued; mail without its tracking number; hand "
        "delivery without the signer's name; a proof file missing, not a PDF, JPEG or PNG, or too large"
    ),
    "feesvc.limitation.controller.LimitationController.acknowledge": (
        "signed in the future; an owner who never owned the unit or was never charged for the periods; "
        "periods not written as YYYY-MM separated by commas; the signed copy missing, not a PDF, JPEG or "
        "PNG, or too large"
    ),
    "feesvc.limitation.controller.LimitationController.file": (
        "filed in the future; an owner who never owned the unit or was never charged for the periods"
    ),
    "feesvc.limitation.controller.LimitationController.outcome": (
        "an outcome dated in the future or before the proceedings were filed"
    ),
    "feesvc.limitation.controller.LimitationController.signed_copy": (
        "signed in the future; a first installment that fell due before the agreement; the signed copy "
        "missing, not a PDF, JPEG or PNG, or too large"
    ),
    "feesvc.limitation.controller.LimitationController.watch": "within_days outside 0 to 1098",
    "feesvc.evidence.controller.EvidencePackController.build": "a pack dated in the future",
    # cases, complaints, service records
    "feesvc.arrears.controller.ArrearsCaseController.add_note": "an empty note; a note dated in the future",
    "feesvc.arrears.controller.ArrearsCaseController.change_status": "a change of status without its reason",
    "feesvc.arrears.controller.ArrearsCaseController.override": (
        "no reason; a secondary cause that is unknown or the same as the category; a secondary cause with "
        "an unknown category; a belief with a category other than misunderstanding"
    ),
    "feesvc.service_records.controller.ServiceRecordsController.file_complaint": (
        "no description; opened in the future; an owner setting the time, the handler or the channel "
        "(an owner's complaint is timed when it arrives, through the app or WeChat)"
    ),
    "feesvc.service_records.controller.ServiceRecordsController.add_step": (
        "a step in the future or before the complaint was opened; an inspection before the fix, or without "
        "the owner's verdict; a verdict on any other step; a plan without its dated actions and inspection "
        "time, or actions before the complaint; closing without a satisfied inspection and no reason"
    ),
    "feesvc.service_records.controller.ServiceRecordsController.record_activity": (
        "a building of another estate; a month that has not begun; a count of 0; a negative count without "
        "a note, or taking off more than was recorded"
    ),
    # bank statements, online payments, signing in
    "feesvc.banking.controller.BankingController.upload": (
        "a bank with no column mapping for its statements; a payment a line posts refused as at the desk "
        "(received in the future, an account of an owner who did not own the unit by then)"
    ),
    "feesvc.banking.controller.BankingController.assign": (
        "a unit not of the line's estate; the payment refused as at the desk (received in the future, an "
        "account of an owner who did not own the unit by then, nothing open on what it designates)"
    ),
    "feesvc.online.controller.OnlinePaymentController.create_order": (
        "the estate does not take that provider's payments online; nothing owed on the unit today; charges "
        "named that are not the owner's open ones; a channel the provider does not take; a WeChat JSAPI "
        "order without the payer's openid, or payer_openid or return_url sent to the other provider"
    ),
    "feesvc.online.controller.OnlinePaymentController.my_order": (
        "the estate no longer takes that provider's payments online"
    ),
    "feesvc.online.controller.OnlinePaymentController.reconcile": "a bill file that cannot be read",
    "feesvc.online.controller.OnlinePaymentController.resolve": (
        "the payment refused as at the desk (received in the future, an account of an owner who did not own "
        "the unit by then, nothing open on what it designates)"
    ),
    "feesvc.signin.controller.SignInController.invite": "the owner has no phone number on record",
    "feesvc.signin.controller.SignInController.sign_in": "both a phone and code and an invitation, or neither",
    "feesvc.signin.controller.SignInController.sign_out": "a token not made by signing in (staff revoke those)",
    # reports and imports
    "feesvc.reports.controller.ReportsController.monthly": "from after to; a series of more than 60 months",
    "feesvc.reports.controller.ReportsController.monthly_pdf": "from after to; a series of more than 60 months",
    "feesvc.reports.controller.ReportsController.monthly_svg": "from after to; a series of more than 60 months",
    "feesvc.imports.controller.ImportController.upload": (
        "any row of the file fails its checks (nothing is written): every problem is listed with its "
        "sheet, row, column and reason in Chinese and English"
    ),
    # scheduled runs
    "feesvc.jobs.controller.JobsController.replace_schedules": (
        "a kind listed twice; a cron expression that is not five fields of minute, hour, day of month, "
        "month and day of week"
    ),
}
