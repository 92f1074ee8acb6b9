"""The letter's data: ``LetterContext`` and its parts, plain values checked on construction."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Final

from feesvc import formatting
from feesvc.letters.kinds import LetterKind
from feesvc.rules.installments import Installment

#: Days between a final demand and its deadline when the estate sets none (DOMAIN.md: ≥ N days).
DEFAULT_DEMAND_DAYS: Final = 15

#: The letters' own layout (``letters/letter.css``), parsed once per process and applied after base.css.
LETTER_STYLESHEETS: Final = ("letter.css",)

#: Longest short message, in characters (a Chinese character counts one, as SMS gateways bill it).
SHORT_MESSAGE_MAX: Final = 200


@dataclass(frozen=True)
class PeriodLine:
    """One open charge: its billing period "YYYY-MM", item, open principal and late fee shown."""

    period: str
    item_name: str
    amount_fen: int
    late_fee_fen: int = 0

    @property
    def total_fen(self) -> int:
        return self.amount_fen + self.late_fee_fen


@dataclass(frozen=True)
class PrepayOffer:
    """The estate's prepay tier offered in a letter: prepay ``months`` months for ``percent_off`` %
    off; ``saving_fen`` is what that saves this owner at the current monthly fee."""

    months: int
    percent_off: Decimal
    saving_fen: int


@dataclass(frozen=True)
class FirstDays:
    """A new owner's share of the period the handover falls inside, already on their account: which
    days, how many, the amount (pro-rated by days) and when it falls due (payment notice)."""

    first_day: date
    last_day: date
    days: int
    amount_fen: int
    due_on: date


@dataclass(frozen=True)
class FeeStandardLine:
    """A fee standard as a payment notice states it: the item, its rate with its unit as printed
    ("2.50 元/平方米·月"), what it rests on (contract clause, owners' vote …) and when it was posted."""

    item_name: str
    rate_text: str
    decision_ref: str
    posted_on: date


@dataclass(frozen=True)
class PaymentWays:
    """How and where to pay, as the estate's settings record it; a letter prints each part only when
    it is set. ``desk_address`` empty: the service centre at the estate's address. ``online_url``: the
    estate's online payment page, set only once the estate has online payment (until then no letter
    mentions paying online)."""

    desk_address: str = ""
    desk_hours: str = ""
    bank_account_name: str = ""
    bank_name: str = ""
    bank_account_no: str = ""
    online_url: str = ""

    @property
    def has_bank(self) -> bool:
        return bool(self.bank_account_no and self.bank_account_name)


@dataclass(frozen=True)
class DisputeWays:
    """How an owner raises a dispute: whom to contact at the company and the outside complaint
    channel (the estate's settings); ``arbitration``: the service contract has an arbitration clause,
    so a final demand may name arbitration beside suit."""

    contact: str = ""
    complaint_channel: str = ""
    arbitration: bool = False


#: Standard wordings of the late-fee treatment of a plan (``feesvc.plans.models.LateFeeTreatment``).
LATE_FEE_TREATMENTS: Final = ("freeze", "waive_on_completion", "waive_now")


@dataclass(frozen=True)
class PlanTerms:
    """An installment plan as the letters show it.

    ``installments``: the schedule (``feesvc.rules.installments.schedule`` gives it).
    ``late_fee_treatment``: one of ``LATE_FEE_TREATMENTS`` (the standard wording is printed, with
    the late fees of the covered periods), or the agreed wording itself, in the letter's language.
    ``grace_days``: how late an installment may be before the plan ends (the estate's setting).
    ``waived_fees_return``: whether waived late fees come back when the plan ends early.
    """

    installments: tuple[Installment, ...]
    late_fee_treatment: str = "waive_on_completion"
    grace_days: int = 0
    waived_fees_return: bool = True

    @property
    def total_fen(self) -> int:
        return sum(installment.amount_fen for installment in self.installments)


@dataclass(frozen=True)
class RectificationStep:
    """One step of a rectification plan: when and what we do.

    Times are datetimes, never bare dates: letter contexts are stored with msgspec, which cannot
    tell a date from a datetime in a ``date | datetime`` field. An aware datetime prints on the
    estate's clock (``BUSINESS_TZ``), a naive one as it is."""

    at: datetime
    action: str


@dataclass(frozen=True)
class ComplaintInfo:
    """The complaint a rectification reply answers.

    ``category``: a ``ComplaintCategory`` value ("elevator", "leak", …; printed in the letter's
    language) or a label of your own. ``text``: what the owner reported, as recorded.
    ``inspect_at``: when we invite the owner to inspect the result (default: the last step).
    ``contact``: who follows it up, e.g. "客服主管 李敏" (staff only; never another owner).
    """

    opened: datetime
    category: str
    text: str
    steps: tuple[RectificationStep, ...]
    inspect_at: datetime | None = None
    contact: str = ""


#: The misunderstandings an explanation letter answers: the classifier's ``Belief`` values.
BELIEFS: Final = (
    "vacancy",
    "unused_service",
    "public_revenue",
    "no_contract",
    "developer_promise",
    "tenant_pays",
    "fee_increase_without_vote",
    "fee_start",
    "other_funds",
)
_BELIEF_ALIASES: Final = {"fee_rise_without_vote": "fee_increase_without_vote"}


@dataclass(frozen=True)
class LetterContext:
    """Everything one letter shows. Plain data: strings, ints (fen), dates, tuples.

    ``periods`` are the lines of the amounts table and ``total_fen`` their sum (principal plus the
    late fees shown); a letter whose table does not add up is refused. Kind-specific fields:
    ``due_on`` (pre-due notice), ``deadline`` (final demand: ``demand_deadline``), ``plan``
    (hardship offer, plan agreement), ``belief`` (explanation), ``complaint`` (rectification
    reply). ``service_summary`` and ``prepay_offer`` are shown where the kind has room for them.
    """

    kind: LetterKind
    locale: str
    letter_no: str
    issued_on: date
    company: str
    estate: str
    estate_address: str
    service_phone: str
    owner_name: str
    postal_address: str
    unit_label: str
    periods: tuple[PeriodLine, ...]
    total_fen: int
    due_on: date | None = None
    deadline: date | None = None
    service_summary: tuple[tuple[str, int], ...] = ()
    prepay_offer: PrepayOffer | None = None
    plan: PlanTerms | None = None
    belief: str | None = None
    complaint: ComplaintInfo | None = None
    # The owner's pages (``feesvc.owner_pages.links.owner_page_link``): the letter prints the link in
    # the how-to-pay box, a short message ends with it; None: no link. ``owner_page_pays_online``:
    # the estate takes payments there, so the letter offers paying online and prints the QR code.
    owner_page_url: str | None = None
    owner_page_pays_online: bool = False
    # Payment notice (缴费须知) of a new owner: the day billing starts for them (the handover date)
    # and the fee standards in force, with their posting (DOMAIN.md "Change of owner").
    billing_starts_on: date | None = None
    # ... and their share of the handover's own period, when it is already on their account.
    first_days: FirstDays | None = None
    # The fee standards of the unit's own use, with their posting: the payment notice's table and
    # the final demand's basis (with the contract's late-fee clause, when recorded).
    fee_standards: tuple[FeeStandardLine, ...] = ()
    late_fee_clause: str = ""
    payment: PaymentWays = PaymentWays()
    dispute: DisputeWays = DisputeWays()
    # How Traditional letters write renminbi (``formatting.MONEY_STYLES``); the estate's choice.
    money_style: str = "renminbi"

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", LetterKind(self.kind))
        object.__setattr__(self, "locale", formatting.normalize_locale(self.locale))
        if self.belief is not None:
            object.__setattr__(self, "belief", _BELIEF_ALIASES.get(self.belief, self.belief))
        _validate(self)


def _refuse(field_name: str, message: str) -> ValueError:
    return ValueError(f"{field_name}: {message}")


def _validate(ctx: LetterContext) -> None:
    for name in ("letter_no", "company", "estate", "owner_name", "unit_label"):
        if not str(getattr(ctx, name)).strip():
            raise _refuse(name, "must not be empty")
    shown = sum(line.total_fen for line in ctx.periods)
    if ctx.periods and shown != ctx.total_fen:
        raise _refuse("total_fen", f"{ctx.total_fen} fen, but the periods shown add up to {shown} fen")
    if ctx.total_fen < 0:
        raise _refuse("total_fen", "must not be negative")
    if ctx.money_style not in formatting.MONEY_STYLES:
        raise _refuse("money_style", f"must be one of {', '.join(formatting.MONEY_STYLES)}")
    kind = ctx.kind
    if kind is LetterKind.pre_due_notice and ctx.due_on is None:
        raise _refuse("due_on", "a pre-due notice needs the due date")
    if kind is LetterKind.final_demand:
        if ctx.deadline is None:
            raise _refuse("deadline", "a final demand needs a deadline")
        if ctx.deadline <= ctx.issued_on:
            raise _refuse("deadline", "must be after the day the demand is issued")
        if not ctx.periods or ctx.total_fen <= 0:
            raise _refuse("periods", "a final demand states the periods and the amount owed")
    if kind in (LetterKind.hardship_offer, LetterKind.plan_agreement):
        if ctx.plan is None or not ctx.plan.installments:
            raise _refuse("plan", f"a {kind.value} letter needs the plan's installments")
        if ctx.plan.grace_days < 0:
            raise _refuse("plan.grace_days", "must not be negative")
    if kind is LetterKind.explanation and ctx.belief not in BELIEFS:
        raise _refuse("belief", f"must be one of {', '.join(BELIEFS)}, not {ctx.belief!r}")
    if kind is LetterKind.rectification_reply and (ctx.complaint is None or not ctx.complaint.steps):
        raise _refuse("complaint", "a rectification reply needs the complaint and the plan's steps")
    if ctx.prepay_offer is not None and (ctx.prepay_offer.months < 1 or not 0 < ctx.prepay_offer.percent_off < 100):
        raise _refuse("prepay_offer", "months ≥ 1 and 0 < percent_off < 100")


def demand_deadline(issued_on: date, days: int = DEFAULT_DEMAND_DAYS) -> date:
    """The deadline of a final demand issued on ``issued_on``: ``days`` (the estate's setting) later."""
    if days < 1:
        raise ValueError(f"a final demand gives at least one day, not {days}")
    return issued_on + timedelta(days=days)
