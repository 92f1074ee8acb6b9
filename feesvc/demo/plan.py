"""What the demo will contain, decided up front from the seed: estates, units, owners, profiles.

Pure data and pure functions; nothing here touches the database. registry.py writes the plan,
history.py plays its payment history month by month.
"""

from __future__ import annotations

import enum
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Final

from dateutil.relativedelta import relativedelta

from feesvc.demo.people import Person, fake_foreign_person, fake_hk_tw_person, fake_person
from feesvc.payments.models import Method
from feesvc.plans.models import LateFeeTreatment
from feesvc.registry.models import AllocationOrder, LateFeeCap, UnitUse
from feesvc.registry.schemas import EstateSettings
from feesvc.standards.models import Basis, DecisionKind


class Profile(enum.StrEnum):
    """How a unit's owner pays; the arrears profiles use the names of the arrears classifier."""

    on_time = "on_time"
    prepaid = "prepaid"
    hardship = "hardship"
    dissatisfied = "service_dissatisfaction"
    misunderstanding = "misunderstanding"
    long_term = "long_term_arrears"


# Share of residential units per profile, in percent (the brief's spread).
PROFILE_SHARES: Final = (
    (Profile.on_time, 70),
    (Profile.prepaid, 8),
    (Profile.hardship, 8),
    (Profile.dissatisfied, 6),
    (Profile.misunderstanding, 4),
    (Profile.long_term, 4),
)
ARREARS_PROFILES: Final = (Profile.hardship, Profile.dissatisfied, Profile.misunderstanding, Profile.long_term)

PARKING_SHARE: Final = Decimal("0.10")
COMMERCIAL_SHARE: Final = Decimal("0.03")

# What went wrong for the owners who stopped paying over the service (complaint categories of the
# arrears classifier), so a later step can file matching complaints.
INCIDENTS: Final = (
    ("leak", "楼上卫生间漏水渗到我家天花板，报修两次都没修好"),
    ("elevator", "电梯一个月坏了三次，老人被困过一次"),
    ("cleaning", "楼道卫生没人打扫，垃圾清运不及时"),
    ("security", "门禁坏了三个月没人修，外人随便进出"),
    ("parking", "地库积水泡了车，物业说不归他们管"),
    ("noise", "夜里装修噪音扰民，投诉了也没人管"),
    ("repair", "外墙渗水报修半年没有处理"),
)


@dataclass(frozen=True)
class StandardSpec:
    unit_use: UnitUse
    item: str
    item_name: str
    basis: Basis
    rate: str
    effective_from: date
    posted_on: date
    decision_kind: DecisionKind
    decision_ref: str


@dataclass(frozen=True)
class EstateSpec:
    key: str
    name: str
    company: str
    address: str
    phone: str
    settings: EstateSettings
    # Share of all demo units, in percent.
    share: int
    handover: date
    standards: tuple[StandardSpec, ...]


@dataclass(frozen=True)
class Timeline:
    """The months the demo history covers: ``years`` years ending with the month of ``today``."""

    today: date
    months: tuple[date, ...]

    @classmethod
    def ending(cls, today: date, years: int) -> Timeline:
        current = today.replace(day=1)
        first = current - relativedelta(months=12 * years - 1)
        return cls(today, tuple(first + relativedelta(months=n) for n in range(12 * years)))

    @property
    def first(self) -> date:
        return self.months[0]

    def months_ago(self, n: int) -> date:
        """The first day of the month ``n`` months before this one, never before the history starts."""
        return max(self.months[-1] - relativedelta(months=n), self.first)

    def billing_months(self, cycle_months: int) -> list[date]:
        return [m for m in self.months if (m.month - 1) % cycle_months == 0]


@dataclass
class Incident:
    on: date
    category: str
    text: str


@dataclass
class PlanStory:
    """An installment plan a hardship owner agrees to, and how it goes: kept, broken or completed."""

    outcome: str  # "completed", "broken" or "kept"
    proposed_on: date
    agreed_on: date
    first_due: date
    installments: int
    treatment: LateFeeTreatment
    # The days the owner paid an installment, one per installment paid (the rest were missed or are not due).
    paid_on: list[date]

    def due(self, number: int) -> date:
        """Installment ``number`` (1-based) falls due ``number - 1`` months after the first, from the anchor."""
        return self.first_due + relativedelta(months=number - 1)


@dataclass
class Sale:
    """A unit changing hands (过户) in the middle of a billing period: ``on`` is the handover date."""

    on: date
    buyer: Person
    # True: the seller stopped paying before the sale and the arrears stay theirs.
    seller_leaves_arrears: bool
    seller_stops_on: date
    # Where the seller lives now: letters for the seller's periods go there ("" = no address on
    # file: such a letter needs staff's attention, it is never sent to the sold unit).
    seller_address: str = ""
    # The buyer pays the first bills, then stops for periods from this billing month on.
    buyer_stops_on: date | None = None
    # The seller had booked a prepayment (预缴) running past the handover.
    seller_prepaid: bool = False


@dataclass
class UnitPlan:
    estate: EstateSpec
    building: str
    number: str
    area: Decimal
    use: UnitUse
    owner: Person
    owner_since: date
    profile: Profile = Profile.on_time
    # Pays every ``habit_months`` months (1, 3 or 12), in months where (month - 1) % habit == anchor.
    habit_months: int = 1
    anchor: int = 0
    method: Method = Method.wechat
    # Regular payments stop for periods starting on or after this date.
    stops_on: date | None = None
    partial_payments: list[date] = field(default_factory=list)
    vacant_from: date | None = None
    vacancy_notified_on: date | None = None
    incident: Incident | None = None
    sale: Sale | None = None
    # "duplicate" or "wrong_amount": a desk mistake the manager voids, at the first payment from mistake_from.
    mistake: str | None = None
    mistake_from: date | None = None
    refund_on: date | None = None
    # Pays a year ahead through the prepayment booking (with the estate's discount) once its credit is used up.
    books_prepayment: bool = False
    installment_plan: PlanStory | None = None
    unit_id: int | None = None

    def is_anchor(self, month: date) -> bool:
        return (month.month - 1 - self.anchor) % self.habit_months == 0

    def payer(self, on: date) -> Person:
        return self.sale.buyer if self.sale is not None and on >= self.sale.on else self.owner


@dataclass
class DemoPlan:
    timeline: Timeline
    estates: tuple[EstateSpec, ...]
    units: list[UnitPlan]

    def units_of(self, estate: EstateSpec) -> list[UnitPlan]:
        return [u for u in self.units if u.estate is estate]


# ---------------------------------------------------------------------------------------------
# Estates and fee standards
# ---------------------------------------------------------------------------------------------

COMPANY: Final = "杭州安居物业服务有限公司"


def _vote_month(timeline: Timeline, cycle_months: int) -> date:
    """The owners' vote raising the fee takes effect at the cycle start nearest the middle of the history."""
    middle = timeline.months[len(timeline.months) // 2]
    return next(m for m in timeline.billing_months(cycle_months) if m >= middle)


def estate_specs(timeline: Timeline, code_prefix: str) -> tuple[EstateSpec, EstateSpec]:
    first = timeline.first
    jinxiu_handover = date(first.year - 4, 6, 30)
    vote = _vote_month(timeline, 1)
    vote_posted = vote - timedelta(days=45)
    contract = "前期物业服务合同 第六条"
    jinxiu = EstateSpec(
        key=code_prefix + "JXHY",
        name="锦绣花园",
        company=COMPANY,
        address="浙江省杭州市西湖区文三路188号",
        phone="0571-8888 6601",
        settings=EstateSettings(
            cycle_months=1,
            due_day=15,
            grace_days=10,
            late_fee_daily_rate="0.0003",
            late_fee_cap=LateFeeCap.principal,
            prepay_cap_months=12,
            locale="zh_CN",
        ),
        share=40,
        handover=jinxiu_handover,
        standards=(
            _standard(
                UnitUse.residential,
                "service_fee",
                "物业服务费",
                Basis.per_m2_month,
                "2.20",
                jinxiu_handover,
                DecisionKind.contract,
                contract,
            ),
            _standard(
                UnitUse.residential,
                "service_fee",
                "物业服务费",
                Basis.per_m2_month,
                "2.50",
                vote,
                DecisionKind.owners_vote,
                f"{vote_posted.year}年第一次业主大会决议（物业服务费调整）",
                posted_on=vote_posted,
            ),
            _standard(
                UnitUse.commercial,
                "service_fee",
                "物业服务费（商铺）",
                Basis.per_m2_month,
                "4.80",
                jinxiu_handover,
                DecisionKind.contract,
                contract,
            ),
            _standard(
                UnitUse.parking,
                "parking_fee",
                "车位管理服务费",
                Basis.fixed_month,
                "80.00",
                jinxiu_handover,
                DecisionKind.contract,
                "车位管理服务协议 第三条",
            ),
        ),
    )
    haitang_handover = date(first.year - 2, 9, 28)
    haitang = EstateSpec(
        key=code_prefix + "HTW",
        name="海棠湾",
        company=COMPANY,
        address="浙江省杭州市滨江区江南大道966号",
        phone="0571-8888 6602",
        settings=EstateSettings(
            cycle_months=3,
            due_day=10,
            grace_days=15,
            late_fee_daily_rate="0.0003",
            late_fee_cap=LateFeeCap.principal,
            prepay_cap_months=12,
            # A local rule: a home notified vacant for 6 months pays 60% of the service fee.
            vacancy_rule_enabled=True,
            vacancy_payable_ratio="0.6",
            vacancy_min_months=6,
            allocation_order=AllocationOrder.late_fee_first,
            locale="zh_CN",
        ),
        share=60,
        handover=haitang_handover,
        standards=(
            _standard(
                UnitUse.residential,
                "service_fee",
                "物业服务费",
                Basis.per_m2_month,
                "2.60",
                haitang_handover,
                DecisionKind.contract,
                "前期物业服务合同 第五条第二款",
            ),
            _standard(
                UnitUse.commercial,
                "service_fee",
                "物业服务费（沿街商铺）",
                Basis.per_m2_month,
                "5.50",
                haitang_handover,
                DecisionKind.contract,
                "前期物业服务合同 第五条第三款",
            ),
            _standard(
                UnitUse.parking,
                "parking_fee",
                "地下车位管理服务费",
                Basis.fixed_month,
                "120.00",
                haitang_handover,
                DecisionKind.filing,
                "杭滨价备〔2021〕17号 车位服务收费备案",
            ),
        ),
    )
    return jinxiu, haitang


def _standard(
    use: UnitUse,
    item: str,
    item_name: str,
    basis: Basis,
    rate: str,
    effective_from: date,
    kind: DecisionKind,
    ref: str,
    posted_on: date | None = None,
) -> StandardSpec:
    # 民法典 943: posted publicly before it applies; three weeks before handover by default.
    posted = posted_on or effective_from - timedelta(days=21)
    return StandardSpec(use, item, item_name, basis, rate, effective_from, posted, kind, ref)


# ---------------------------------------------------------------------------------------------
# Units
# ---------------------------------------------------------------------------------------------


def _area(rng: random.Random, low: int, high: int) -> Decimal:
    """An exact surveyed area with two decimals, between ``low`` and ``high`` m²."""
    return Decimal(rng.randrange(low * 100, high * 100 + 1)).scaleb(-2)


def split_units(total: int, shares: list[int]) -> list[int]:
    """Largest-remainder split of ``total`` by percentage ``shares``."""
    exact = [Decimal(total * s) / 100 for s in shares]
    counts = [int(e) for e in exact]
    by_remainder = sorted(range(len(shares)), key=lambda i: exact[i] - counts[i], reverse=True)
    for i in by_remainder[: total - sum(counts)]:
        counts[i] += 1
    return counts


def _residential_slots(estate: EstateSpec, rng: random.Random) -> Iterator[tuple[str, str, Decimal]]:
    """(building, number, area) of homes, building by building; one floor plan per stack of flats."""
    plans: dict[tuple[int, int, int], Decimal] = {}
    tower_style = estate.settings.cycle_months != 1  # 海棠湾: towers with "1502"; 锦绣花园: "3-1-1502"
    building = 0
    while True:
        building += 1
        entrances, floors, rooms = (1, range(2, 27), 4) if tower_style else (2, range(2, 19), 2)
        for entrance in range(1, entrances + 1):
            for floor in floors:
                for room in range(1, rooms + 1):
                    key = (building, entrance, room)
                    if key not in plans:
                        plans[key] = _area(rng, 60, 180)
                    if tower_style:
                        yield f"{building}幢", f"{floor}{room:02d}", plans[key]
                    else:
                        yield f"{building}栋", f"{building}-{entrance}-{floor}{room:02d}", plans[key]


def plan_units(estate: EstateSpec, count: int, timeline: Timeline, rng: random.Random) -> list[UnitPlan]:
    parking = int((count * PARKING_SHARE).to_integral_value())
    commercial = max(1, int((count * COMMERCIAL_SHARE).to_integral_value()))
    residential = count - parking - commercial
    units: list[UnitPlan] = []
    slots = _residential_slots(estate, rng)
    for _ in range(residential):
        building, number, area = next(slots)
        units.append(_new_unit(estate, building, number, area, UnitUse.residential, timeline, rng))
    tower_style = estate.settings.cycle_months != 1
    shops = "沿街商铺" if tower_style else "商业街"
    for n in range(1, commercial + 1):
        number = f"{100 + n}" if tower_style else f"S-{100 + n}"
        units.append(_new_unit(estate, shops, number, _area(rng, 40, 250), UnitUse.commercial, timeline, rng))
    level = "B2" if tower_style else "B1"
    for n in range(1, parking + 1):
        units.append(
            _new_unit(estate, "地下车库", f"{level}-{n:03d}", _area(rng, 12, 15), UnitUse.parking, timeline, rng)
        )
    return units


def _new_unit(
    estate: EstateSpec,
    building: str,
    number: str,
    area: Decimal,
    use: UnitUse,
    timeline: Timeline,
    rng: random.Random,
) -> UnitPlan:
    # Owners moved in between handover and the start of the history.
    span = max((timeline.first - timedelta(days=1) - estate.handover).days, 0)
    owner_since = estate.handover + timedelta(days=rng.randrange(span + 1))
    return UnitPlan(estate, building, number, area, use, fake_person(rng), owner_since)


# ---------------------------------------------------------------------------------------------
# Profiles and habits
# ---------------------------------------------------------------------------------------------


def profile_quota(count: int) -> list[Profile]:
    """Profiles for ``count`` homes by the shares, each arrears profile at least once when there is room."""
    counts = split_units(count, [share for _, share in PROFILE_SHARES])
    if count >= 15:
        for i in range(1, len(counts)):
            if counts[i] == 0:
                counts[i] = 1
                counts[0] -= 1
    return [profile for (profile, _), n in zip(PROFILE_SHARES, counts, strict=True) for _ in range(n)]


def _method(rng: random.Random, use: UnitUse) -> Method:
    if use == UnitUse.commercial:
        return Method.bank_transfer
    roll = rng.random()
    for method, upto in (
        (Method.wechat, 0.42),
        (Method.alipay, 0.66),
        (Method.card, 0.80),
        (Method.cash, 0.90),
        (Method.bank_transfer, 1.0),
    ):
        if roll < upto:
            return method
    return Method.wechat


def _habit(rng: random.Random, cycle: int, profile: Profile, use: UnitUse) -> int:
    """Months covered by one regular payment: bill by bill for most, quarterly or yearly for some.

    Paying ahead leaves credit that every later billing run applies unit by unit, the slowest
    part of building the demo; so most owners here pay bill by bill, as they do with WeChat.
    """
    roll = rng.random()
    if profile in ARREARS_PROFILES or use == UnitUse.commercial:
        return cycle
    if use == UnitUse.parking:
        return 12 if roll < 0.2 else cycle
    if cycle == 1:
        return 1 if roll < 0.86 else 3 if roll < 0.93 else 12
    return 3 if roll < 0.75 else 12


def _some_day(rng: random.Random, month: date) -> date:
    return month + timedelta(days=rng.randrange(28))


def _months_back(rng: random.Random, timeline: Timeline, low: int, high: int, latest: int) -> date:
    """A month start ``low``-``high`` months ago, inside the history and at least ``latest`` months ago."""
    earliest_back = len(timeline.months) - 1
    back = min(rng.randint(low, high), earliest_back)
    return timeline.months_ago(max(back, min(latest, earliest_back)))


def assign_profiles(plan: DemoPlan, rng: random.Random) -> None:
    timeline = plan.timeline
    for estate in plan.estates:
        units = plan.units_of(estate)
        homes = [u for u in units if u.use == UnitUse.residential]
        profiles = profile_quota(len(homes))
        rng.shuffle(profiles)
        for unit, profile in zip(homes, profiles, strict=True):
            unit.profile = profile
        paying_homes = [u for u in homes if u.profile in (Profile.on_time, Profile.prepaid)] or homes
        for unit in units:
            if unit.use != UnitUse.residential:
                unit.profile = Profile.prepaid if rng.random() < 0.1 else Profile.on_time
            if unit.use == UnitUse.parking and paying_homes:
                # A parking space belongs to someone who also owns a home here (and pays for it).
                unit.owner = rng.choice(paying_homes).owner
            _give_habits(unit, rng)
            _give_story(unit, timeline, rng)


def _give_habits(unit: UnitPlan, rng: random.Random) -> None:
    cycle = unit.estate.settings.cycle_months
    unit.method = _method(rng, unit.use)
    unit.habit_months = 12 if unit.profile == Profile.prepaid else _habit(rng, cycle, unit.profile, unit.use)
    # Yearly payers mostly pay in January; others at any bill.
    starts = [m for m in range(0, unit.habit_months, cycle)]
    unit.anchor = 0 if unit.habit_months == 12 and rng.random() < 0.5 else rng.choice(starts)


def _give_story(unit: UnitPlan, timeline: Timeline, rng: random.Random) -> None:
    today = timeline.today
    if unit.profile == Profile.hardship:
        # Paid regularly, then lost the income 8-14 months ago; a few small payments since.
        unit.stops_on = _months_back(rng, timeline, 8, 14, 3)
        first, last = unit.stops_on + relativedelta(months=2), today - timedelta(days=5)
        days = max((last - first).days, 1)
        unit.partial_payments = sorted(first + timedelta(days=rng.randrange(days)) for _ in range(rng.randint(1, 3)))
    elif unit.profile == Profile.dissatisfied:
        unit.stops_on = _months_back(rng, timeline, 4, 18, 3)
        category, text = rng.choice(INCIDENTS)
        unit.incident = Incident(unit.stops_on - timedelta(days=rng.randint(3, 20)), category, text)
    elif unit.profile == Profile.misunderstanding:
        # Moved out, told the office the home stands empty, and stopped paying: "empty homes are exempt".
        vacant = _some_day(rng, _months_back(rng, timeline, 8, 30, 7))
        unit.vacant_from = vacant
        unit.vacancy_notified_on = min(vacant + timedelta(days=rng.randint(5, 40)), today)
        unit.stops_on = vacant.replace(day=1) + relativedelta(months=1)
    elif unit.profile == Profile.long_term:
        unit.stops_on = _months_back(rng, timeline, 24, 36, 12)


# Of the homes whose owners stop paying, the share whose owners are from Hong Kong or Taiwan, and foreign.
HK_TW_SHARE: Final = 0.04
FOREIGN_SHARE: Final = 0.03
PLAN_OUTCOMES: Final = ("completed", "broken", "kept")


def _arrears_homes(plan: DemoPlan) -> list[UnitPlan]:
    return [u for u in plan.units if u.use == UnitUse.residential and u.profile in ARREARS_PROFILES and u.sale is None]


def plan_owner_origins(plan: DemoPlan, rng: random.Random) -> None:
    """Some owners in arrears are from Hong Kong or Taiwan, some are foreigners: staff write to them
    in Traditional Chinese or English. At least one of each once there are enough homes in arrears."""
    homes = _arrears_homes(plan)
    rng.shuffle(homes)
    hk_tw = max(1, round(len(homes) * HK_TW_SHARE)) if len(homes) >= 6 else 0
    foreign = max(1, round(len(homes) * FOREIGN_SHARE)) if len(homes) >= 6 else 0
    for n, unit in enumerate(homes[: hk_tw + foreign]):
        unit.owner = fake_hk_tw_person(rng) if n < hk_tw else fake_foreign_person(rng)


def plan_prepayments(plan: DemoPlan, rng: random.Random) -> None:
    """A third of the prepaying homes of the estates with a prepay discount book their prepayments
    (each booking is a service call of some 50 queries; the rest keep paying ahead as credit)."""
    for estate in plan.estates:
        if estate.settings.cycle_months != 1:
            continue  # the quarterly estate offers no prepay discount: its prepaying owners hold credit
        homes = [
            u
            for u in plan.units_of(estate)
            if u.use == UnitUse.residential and u.profile == Profile.prepaid and u.refund_on is None and u.sale is None
        ]
        for unit in rng.sample(homes, (len(homes) + 2) // 3):
            unit.books_prepayment = True


def plan_installment_plans(plan: DemoPlan, rng: random.Random) -> None:
    """Three owners in hardship agree an installment plan: one completes it, one breaks it, one keeps it.

    They could pay nothing at all until the plan (so every bill since they stopped is overdue when
    it is proposed); then they pay the installments, their only small payments since they stopped.
    """
    today = plan.timeline.today
    homes = [u for u in _arrears_homes(plan) if u.profile == Profile.hardship and u.owner.locale is None]
    rng.shuffle(homes)
    # (outcome, proposed this many days ago, first installment due so many days after the proposal,
    #  installments paid, late-fee treatment)
    shapes = (
        ("completed", 160, 14, 3, LateFeeTreatment.waive_on_completion),
        ("broken", 130, 14, 1, LateFeeTreatment.waive_now),
        ("kept", 58, 12, 2, LateFeeTreatment.freeze),
    )
    for unit, (outcome, ago, first_in, paid, treatment) in zip(homes, shapes, strict=False):
        assert unit.stops_on is not None
        proposed = today - timedelta(days=ago + rng.randint(-6, 6))
        if proposed < unit.stops_on + relativedelta(months=3):
            continue  # too little overdue yet to need a plan
        story = PlanStory(
            outcome, proposed, proposed + timedelta(days=2), proposed + timedelta(days=first_in), 3, treatment, []
        )
        story.paid_on = [
            max(story.due(n) - timedelta(days=rng.randint(0, 3)), story.agreed_on) for n in range(1, paid + 1)
        ]
        unit.installment_plan = story
        unit.partial_payments = list(story.paid_on)


def make_plan(units: int, years: int, seed: int, today: date, code_prefix: str) -> DemoPlan:
    rng = random.Random(seed)
    timeline = Timeline.ending(today, years)
    estates = estate_specs(timeline, code_prefix)
    counts = split_units(units, [e.share for e in estates])
    unit_plans = [u for estate, n in zip(estates, counts, strict=True) for u in plan_units(estate, n, timeline, rng)]
    plan = DemoPlan(timeline, estates, unit_plans)
    assign_profiles(plan, rng)
    from feesvc.demo.sales import plan_sales_and_mistakes  # sales.py builds on this module's types

    plan_sales_and_mistakes(plan, rng)
    # The stories of the arrears get their own generator: the payment history above stays as it was.
    stories = random.Random(f"{seed}:stories")
    plan_owner_origins(plan, stories)
    plan_prepayments(plan, stories)
    plan_installment_plans(plan, stories)
    return plan
