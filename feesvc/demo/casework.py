"""Arrears cases for most units in arrears: dated contact notes, the classifier's verdict, and a few
manager overrides, all through the arrears services.

Four in five units in arrears get a case (every owner from Hong Kong, Taiwan or abroad and every
owner with an installment plan among them). Their notes tell the story of the unit's payment
profile in the owner's own words where staff wrote them down (notes.py); the classifier then reads
the case as it stands today, with the owner's complaints and payment history, exactly as it would
for a real case. A manager overrides two or three results, with the reason.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Final

from sqlalchemy.ext.asyncio import AsyncSession

from feesvc.arrears.classifier import Belief
from feesvc.arrears.models import Cause
from feesvc.arrears.schemas import NoteCreate, OverrideCreate
from feesvc.arrears.service import add_note, classify_case, open_case, override_cause
from feesvc.auth.models import Role
from feesvc.auth.principal import Principal
from feesvc.demo import notes as n
from feesvc.demo.people import Person
from feesvc.demo.plan import DemoPlan, Profile, UnitPlan
from feesvc.demo.summary import BUYER_ARREARS, SELLER_ARREARS, arrears_label

COLLECTIONS: Final = Principal(role=Role.cashier, name="客服-陈晓燕")
MANAGER: Final = Principal(role=Role.manager, name="客服主管-陈静")
CASE_SKIP_SHARE: Final = 0.2  # of the units in arrears, the share that has no case yet

PLAN_LINES: Final = {
    "agreed": n.Line(n.DESK, "{who}来物业中心签了分期还款协议，欠费分3期补缴，每期按时交。"),
    "broken": n.Line(n.CALL, "第二期分期款逾期未交，电话联系{who}，说这个月钱又没到手，请求再宽限几天。"),
    "completed": n.Line(n.CALL, "三期分期款已全部交清，{who}说谢谢物业体谅。"),
}

OVERRIDE_HARDSHIP: Final = (
    "经社区网格员核实：业主前年在外地承包工程亏损，长期在外打工还债，家中只有老人。按经济困难型跟进，"
    "暂不走法律程序，先联系家属商谈分期。"
)
OVERRIDE_SECONDARY_HARDSHIP: Final = (
    "业主退休后仅靠养老金生活，房子是给儿子准备的婚房一直空着。按认知偏差型讲清空置房政策，同时可提供分期。"
)
OVERRIDE_UNKNOWN: Final = (
    "投诉的问题经第三方检测确认已修复，业主拒绝验收后按程序关闭；近两次沟通业主未再提服务问题，按一般欠费处理。"
)


@dataclass
class CaseCounts:
    cases: int = 0
    notes: int = 0
    overrides: int = 0


def _english_title(lines: tuple[n.Line, ...]) -> str:
    text = " ".join(line.text for line in lines)
    return "Ms." if any(word in text.split() for word in ("she", "She", "her", "Her")) else "Mr."


class Casework:
    def __init__(self, session: AsyncSession, plan: DemoPlan, seed: int, closed_complaints: set[int]) -> None:
        self.session = session
        self.plan = plan
        # Units whose complaint staff closed although the owner was not satisfied with the fix.
        self.closed_complaints = closed_complaints
        self.today = plan.timeline.today
        self.rng = random.Random(f"{seed}:cases")
        self.counts = CaseCounts()
        # case id → (unit, the label its arrears are filed under, the classified cause)
        self.classified: dict[int, tuple[UnitPlan, str, Cause]] = {}

    def select(self, labels: dict[int, str]) -> list[tuple[UnitPlan, str]]:
        """The units in arrears that get a case: four in five, and always every owner written to in
        another language, every owner with an installment plan and at least one unit of each label."""
        units = {u.unit_id: u for u in self.plan.units}
        skippable = [
            unit_id
            for unit_id in sorted(labels)
            if units[unit_id].owner.locale is None and units[unit_id].installment_plan is None
        ]
        self.rng.shuffle(skippable)
        skipped: set[int] = set()
        for unit_id in skippable:
            if len(skipped) >= round(len(labels) * CASE_SKIP_SHARE):
                break
            label = labels[unit_id]
            if sum(1 for other, same in labels.items() if same == label and other not in skipped) > 1:
                skipped.add(unit_id)
        return [(units[unit_id], labels[unit_id]) for unit_id in sorted(labels) if unit_id not in skipped]

    async def work(self, labels: dict[int, str]) -> CaseCounts:
        """Open, note and classify the cases of the units in arrears (unit id → label), then override a few."""
        for unit, label in self.select(labels):
            await self._case(unit, label)
        await self._overrides()
        return self.counts

    async def _case(self, unit: UnitPlan, label: str) -> None:
        assert unit.unit_id is not None
        case, _ = await open_case(self.session, COLLECTIONS, unit.unit_id, self.today)
        assert case.id is not None
        self.counts.cases += 1
        for note in self._notes(unit, label):
            data = NoteCreate(kind=note.kind, text=note.text, noted_on=note.on, claim=note.claim, author=note.author)
            await add_note(self.session, COLLECTIONS, case.id, data, self.today)
            self.counts.notes += 1
        row = await classify_case(self.session, COLLECTIONS, case.id, self.today)
        self.classified[case.id] = (unit, label, row.category)

    # -- the notes ----------------------------------------------------------------------------------

    def _notes(self, unit: UnitPlan, label: str) -> list[n.DraftNote]:
        rng = self.rng
        owner = unit.owner
        language = owner.writes
        last = self.today - timedelta(days=rng.randint(1, 6))
        stopped = unit.stops_on or (unit.sale.seller_stops_on if unit.sale else self.plan.timeline.first)
        first = stopped + timedelta(days=rng.randint(35, 60))
        if label == SELLER_ARREARS:
            assert unit.sale is not None
            lines = n.SELLER_STORY[: rng.randint(2, 3)]
            first = max(first, unit.sale.on + timedelta(days=rng.randint(20, 40)))
            return n.write_notes(rng, lines, first, last, self._values(unit, "先生", unit.sale.on))
        if label == BUYER_ARREARS:
            # The case is the buyer's: calls and messages that go unanswered, in the buyer's language.
            assert unit.sale is not None and unit.sale.buyer_stops_on is not None
            buyer = unit.sale.buyer
            lines = n.contact_attempts(rng, buyer.writes, rng.randint(1, 3))
            first = unit.sale.buyer_stops_on + timedelta(days=rng.randint(35, 60))
            values = self._values(unit, self._title(buyer.writes, lines), None, buyer)
            return n.write_notes(rng, lines, first, last, values)
        if unit.profile == Profile.long_term:
            lines = n.contact_attempts(rng, language, rng.randint(1, 4))
        elif unit.profile == Profile.hardship:
            lines = n.pick_story(rng, n.HARDSHIP_STORIES[language])
            if language == "zh_CN" and rng.random() < 0.3:
                lines = (n.ATTEMPTS["zh_CN"][0], *lines)
        elif unit.profile == Profile.dissatisfied:
            lines = n.pick_story(rng, n.DISSATISFIED_STORIES[language])
        else:
            lines = self._misunderstanding(unit, language)
        lines = lines[:4]
        title = self._title(language, lines)
        values = self._values(unit, title, None)
        story = unit.installment_plan
        if story is None:
            return n.write_notes(rng, lines, first, last, values)
        # The talk before the plan, the signing, and how it went.
        before = n.write_notes(rng, lines[:3], first, story.proposed_on - timedelta(days=3), values)
        after = [(story.agreed_on, PLAN_LINES["agreed"])]
        if story.outcome == "broken":
            after.append((story.due(2) + timedelta(days=rng.randint(3, 8)), PLAN_LINES["broken"]))
        elif story.outcome == "completed":
            after.append((story.paid_on[-1] + timedelta(days=rng.randint(1, 5)), PLAN_LINES["completed"]))
        author = before[0].author if before else n.AUTHORS[0]
        return before + [
            n.DraftNote(day, line.kind, line.text.format(**values), line.claim, author)
            for day, line in after
            if day <= self.today
        ]

    def _misunderstanding(self, unit: UnitPlan, language: str) -> tuple[n.Line, ...]:
        vote = next((s for s in unit.estate.standards if s.decision_kind.value == "owners_vote"), None)
        after_vote = vote is not None and unit.stops_on is not None and unit.stops_on >= vote.effective_from
        if language == "zh_CN" and after_vote and self.rng.random() < 0.4:
            return n.FEE_RISE_STORY
        return n.pick_story(self.rng, n.MISUNDERSTANDING_STORIES[language])

    def _title(self, language: str, lines: tuple[n.Line, ...]) -> str:
        if language == "en":
            return _english_title(lines)
        if language == "zh_TW":
            return self.rng.choice(("先生", "小姐"))
        return self.rng.choice(("先生", "女士"))

    def _values(self, unit: UnitPlan, title: str, sold_on: date | None, owner: Person | None = None) -> dict[str, str]:
        owner = owner or unit.owner
        language = owner.writes
        category = unit.incident.category if unit.incident else "repair"
        problem, fix = n.PROBLEMS[language][category]
        vacancy_rule = unit.estate.settings.vacancy_rule_enabled
        vote = next((s for s in unit.estate.standards if s.decision_kind.value == "owners_vote"), None)
        who = owner.called(title)
        return {
            "who": who,
            "surname": owner.name.split()[-1] if language == "en" else owner.name[0],
            "p": problem,
            "fix": fix,
            "explained": n.VACANCY_EXPLAINED[vacancy_rule].format(who=who),
            "vote": vote.decision_ref if vote else "业主大会决议",
            "sold_on": f"{sold_on.year}年{sold_on.month}月" if sold_on else "",
        }

    # -- a manager's overrides ------------------------------------------------------------------------

    async def _overrides(self) -> None:
        """Two or three: an unexplained case the manager knows to be hardship, a misunderstanding that
        is also money trouble, and a service case whose complaint was settled."""
        by_cause: dict[tuple[str, Cause], list[int]] = {}
        for case_id, (_, label, cause) in self.classified.items():
            by_cause.setdefault((label, cause), []).append(case_id)
        long_term = by_cause.get((Profile.long_term.value, Cause.unknown), [])
        # One of them, as long as another case stays unexplained (a seller's or buyer's, another long one).
        unexplained = sum(len(ids) for (_, cause), ids in by_cause.items() if cause == Cause.unknown)
        if long_term and unexplained >= 2:
            await self._override(long_term[0], OverrideCreate(category=Cause.hardship, reason=OVERRIDE_HARDSHIP))
        vacancy = by_cause.get((Profile.misunderstanding.value, Cause.misunderstanding), [])
        if vacancy:
            data = OverrideCreate(
                category=Cause.misunderstanding,
                secondary=Cause.hardship,
                belief=Belief.VACANCY,
                reason=OVERRIDE_SECONDARY_HARDSHIP,
            )
            await self._override(vacancy[0], data)
        service = by_cause.get((Profile.dissatisfied.value, Cause.service_dissatisfaction), [])
        settled = [case_id for case_id in service if self.classified[case_id][0].unit_id in self.closed_complaints]
        if settled and len(service) >= 3:
            await self._override(settled[0], OverrideCreate(category=Cause.unknown, reason=OVERRIDE_UNKNOWN))

    async def _override(self, case_id: int, data: OverrideCreate) -> None:
        await override_cause(self.session, MANAGER, case_id, data, self.today)
        self.counts.overrides += 1


def labels_in_arrears(overdue: dict[int, int], plan: DemoPlan) -> dict[int, str]:
    """Unit id → the label its arrears are filed under, for the units with something overdue."""
    return {
        unit.unit_id: arrears_label(unit)
        for unit in plan.units
        if unit.unit_id is not None and overdue.get(unit.unit_id, 0) > 0
    }
