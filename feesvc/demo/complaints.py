"""Complaints: the incidents behind the owners who stopped paying over the service, and the everyday
ones of owners who pay, each taken through the rectification clock by the services.

An owner who stopped paying complained when it happened (``UnitPlan.incident``). How far the
handling got depends on how long ago that was: the latest still wait for a rectification plan
(the 24-hour promise broken), then come fixes the owner has not inspected yet, fixes the owner
inspected and rejected, and, oldest, complaints staff closed although the owner was not satisfied.
Owners who pay complain too, now and then: those are fixed and inspected to their satisfaction.
"""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, date, datetime, time, timedelta
from typing import Final

from sqlalchemy.ext.asyncio import AsyncSession

from feesvc.auth.models import Role
from feesvc.auth.principal import Principal
from feesvc.db import BUSINESS_TZ
from feesvc.demo.plan import DemoPlan, Profile, UnitPlan
from feesvc.registry.models import UnitUse
from feesvc.service_records.models import ComplaintCategory, ComplaintChannel, StepKind
from feesvc.service_records.schemas import ComplaintCreate, ComplaintStepCreate
from feesvc.service_records.service import add_step, complaint_status, file_complaint

CUSTOMER_SERVICE: Final = Principal(role=Role.cashier, name="客服-王芳")
RESPONSIBLE: Final = {
    "leak": "工程部-刘强",
    "repair": "工程部-刘强",
    "elevator": "工程部-刘强",
    "cleaning": "保洁主管-杨丽",
    "greenery": "绿化主管-高峰",
    "security": "秩序维护部-马军",
    "parking": "秩序维护部-马军",
    "noise": "秩序维护部-马军",
    "other": "客服-王芳",
}

# Category → (the rectification plan, what was done, why the owner rejected the fix).
HANDLING: Final = {
    "leak": (
        "工程部上门查看，判断为楼上卫生间防水层破损，约定3日内协调楼上住户开槽维修。",
        "楼上卫生间防水层重做，闭水试验48小时无渗漏，已通知业主验收。",
        "业主验收不满意：下雨后天花板仍有水渍，墙皮发霉没有处理，要求赔偿。",
    ),
    "elevator": (
        "已联系电梯维保单位全面检修，更换门机板和层门锁，预计一周内完成。",
        "维保单位检修完成，更换门机板，已通知业主验收。",
        "业主验收不满意：检修后一周又停了一次，要求更换整台电梯。",
    ),
    "cleaning": (
        "保洁主管约谈责任保洁员，增派一名保洁员，每日清扫并在群内拍照打卡。",
        "楼道已全面清扫，垃圾清运改为每日两次。",
        "业主验收不满意：只干净了两天又恢复原样。",
    ),
    "security": (
        "门禁控制器已报厂家维修，到货前安排保安在单元门值守。",
        "更换门禁控制器和电磁锁，门禁恢复正常，已通知业主验收。",
        "业主验收不满意：门禁刷卡时好时坏，夜里还是有外人进来。",
    ),
    "parking": (
        "排查地库排水泵，加装一台备用泵，雨季前完成。",
        "备用排水泵已安装调试，已通知业主验收。",
        "业主验收不满意：泡车的损失没人管，要求物业赔偿。",
    ),
    "noise": (
        "联系装修户，约定晚上8点后、周末全天不得进行噪音施工，保安夜间巡查。",
        "装修户已签署承诺书，夜间巡查记录已发业主。",
        "业主验收不满意：晚上还是有人敲敲打打，保安来了就停，走了又开始。",
    ),
    "repair": (
        "外墙渗水需搭设吊篮施工，已提交专项维修资金使用申请，同时先做室内临时封堵。",
        "外墙打胶封堵完成，室内墙面重新粉刷，已通知业主验收。",
        "业主验收不满意：一下雨又渗，认为只是临时处理。",
    ),
}
CLOSE_NOTE: Final = "经第三方检测确认已按规范修复，业主仍不认可；按程序关闭投诉，转客服主管跟进"

# Everyday complaints of owners who pay: (category, text, plan, fix).
EVERYDAY: Final = (
    (
        "cleaning",
        "电梯厅地面有油渍，一直没人拖，老人差点滑倒。",
        "已安排保洁员即时清理。",
        "地面已清洗，加贴防滑提示。",
    ),
    (
        "repair",
        "楼道感应灯6楼到9楼都不亮，晚上上楼得开手机电筒。",
        "电工当天下午上门检查线路。",
        "更换4只感应灯和1处线路接头。",
    ),
    ("greenery", "楼下草坪喷灌头坏了，一直在喷水。", "绿化班组1小时内关阀检修。", "更换喷灌头2个。"),
    ("security", "单元门闭门器坏了，门关不上。", "安排维修工当天更换闭门器。", "闭门器已更换，门能自动关闭。"),
    ("elevator", "电梯按钮失灵，按了12楼没反应。", "已通知电梯维保单位2小时内到场。", "更换按钮板，电梯运行正常。"),
    ("parking", "地库入口减速带松动，开过去哐哐响。", "工程部次日上午紧固。", "减速带螺栓全部更换紧固。"),
    (
        "noise",
        "楼上空调外机噪音很大，晚上睡不着。",
        "联系楼上业主，约请空调厂家检修。",
        "外机加装减震垫，噪音明显减小。",
    ),
    ("leak", "阳台顶上滴水，怀疑楼上空调冷凝水管脱落。", "维修工当天上门查看楼上冷凝管。", "冷凝水管重新接好并固定。"),
    ("other", "快递柜屏幕坏了，取不了件。", "已联系快递柜运营方。", "运营方更换显示屏，恢复使用。"),
)
EVERYDAY_SHARE: Final = 0.04


def _moment(day: date, hour: int, minute: int) -> datetime:
    """A business (Shanghai) date and time as the UTC instant the services store."""
    return datetime.combine(day, time(hour, minute), BUSINESS_TZ).astimezone(UTC)


class Complaints:
    def __init__(self, session: AsyncSession, plan: DemoPlan, seed: int) -> None:
        self.session = session
        self.plan = plan
        self.rng = random.Random(f"{seed}:complaints")
        # Nothing is recorded after the start of the demo's today.
        self.until = _moment(plan.timeline.today, 0, 0)
        self.counts: Counter[str] = Counter()
        self._last_status = "open"
        # Units whose incident complaint staff closed without the owner's satisfaction.
        self.closed_units: set[int] = set()

    async def file_all(self) -> Counter[str]:
        """File and handle every complaint; returns the count by status (open, resolved, closed)."""
        dissatisfied = sorted(
            (u for u in self.plan.units if u.profile == Profile.dissatisfied and u.incident is not None),
            key=lambda u: (u.incident.on if u.incident else date.min, u.unit_id or 0),
            reverse=True,
        )
        for n, unit in enumerate(dissatisfied):
            # Newest first: no plan yet, fixed but not inspected, rejected by the owner, closed by staff.
            await self._incident(unit, ("no_plan", "not_inspected", "rejected", "rejected", "closed")[n % 5])
        paying = [
            u
            for u in self.plan.units
            if u.use == UnitUse.residential and u.profile in (Profile.on_time, Profile.prepaid) and u.sale is None
        ]
        for unit in self.rng.sample(paying, max(1, round(len(paying) * EVERYDAY_SHARE))):
            await self._everyday(unit)
        return self.counts

    async def _file(self, unit: UnitPlan, category: str, text: str, opened: datetime) -> tuple[int, datetime] | None:
        """File the complaint as it came in; None if that would be after the demo's today."""
        assert unit.unit_id is not None
        if opened >= self.until:
            return None
        roll = self.rng.random()
        channel = (
            ComplaintChannel.phone if roll < 0.4 else ComplaintChannel.desk if roll < 0.65 else ComplaintChannel.app
        )
        if channel is ComplaintChannel.app:
            owner = unit.payer(opened.astimezone(BUSINESS_TZ).date())
            actor = Principal(role=Role.owner, name=owner.name, owner_id=owner.owner_id)
            data = ComplaintCreate(category=ComplaintCategory(category), text=text, channel=channel)
        else:
            actor = CUSTOMER_SERVICE
            data = ComplaintCreate(
                category=ComplaintCategory(category),
                text=text,
                channel=channel,
                opened_at=opened,
                responsible=RESPONSIBLE[category],
            )
        complaint = await file_complaint(self.session, actor, unit.unit_id, data, opened)
        assert complaint.id is not None
        return complaint.id, opened

    async def _step(
        self, complaint_id: int, step: StepKind, at: datetime, note: str = "", satisfied: bool | None = None
    ) -> bool:
        """Record the step if its time has come by the demo's today; False if it has not."""
        if at >= self.until:
            return False
        data = ComplaintStepCreate(step=step, at=at, satisfied=satisfied, note=note)
        complaint = await add_step(self.session, CUSTOMER_SERVICE, complaint_id, data, at)
        self._last_status = complaint_status(complaint)
        return True

    async def _incident(self, unit: UnitPlan, outcome: str) -> None:
        incident = unit.incident
        assert incident is not None
        filed = await self._file(
            unit,
            incident.category,
            incident.text,
            _moment(incident.on, self.rng.randint(8, 20), self.rng.randrange(60)),
        )
        if filed is None:
            return
        complaint_id, opened = filed
        self._last_status = "open"
        plan_text, fixed_text, rejected_text = HANDLING[incident.category]
        # Mostly within the 24 hours; now and then late.
        plan_at = opened + timedelta(
            hours=self.rng.randint(2, 20) if self.rng.random() < 0.8 else self.rng.randint(26, 40)
        )
        fixed_at = plan_at + timedelta(days=self.rng.randint(3, 20), hours=self.rng.randint(0, 6))
        inspected_at = fixed_at + timedelta(days=self.rng.randint(1, 4))
        steps: list[tuple[StepKind, datetime, str, bool | None]] = []
        if outcome != "no_plan":
            steps += [(StepKind.plan_given, plan_at, plan_text, None), (StepKind.fixed, fixed_at, fixed_text, None)]
        if outcome in ("rejected", "closed"):
            steps.append((StepKind.inspected, inspected_at, rejected_text, False))
        if outcome == "closed":
            steps.append((StepKind.closed, inspected_at + timedelta(days=self.rng.randint(7, 20)), CLOSE_NOTE, None))
        for step, at, note, satisfied in steps:
            if not await self._step(complaint_id, step, at, note, satisfied):
                break
        self.counts[self._last_status] += 1
        if self._last_status == "closed" and unit.unit_id is not None:
            self.closed_units.add(unit.unit_id)

    async def _everyday(self, unit: UnitPlan) -> None:
        category, text, plan_text, fixed_text = self.rng.choice(EVERYDAY)
        months = self.plan.timeline.months
        day = months[self.rng.randrange(len(months))] + timedelta(days=self.rng.randrange(28))
        filed = await self._file(unit, category, text, _moment(day, self.rng.randint(7, 21), self.rng.randrange(60)))
        if filed is None:
            return
        complaint_id, opened = filed
        self._last_status = "open"
        plan_at = opened + timedelta(minutes=self.rng.randint(20, 360))
        fixed_at = plan_at + timedelta(days=self.rng.randint(0, 4), hours=self.rng.randint(1, 8))
        inspected_at = fixed_at + timedelta(days=self.rng.randint(0, 2), hours=self.rng.randint(1, 6))
        for step, at, note, satisfied in (
            (StepKind.plan_given, plan_at, plan_text, None),
            (StepKind.fixed, fixed_at, fixed_text, None),
            (StepKind.inspected, inspected_at, "业主现场查看，表示满意。", True),
            (
                StepKind.follow_up,
                inspected_at + timedelta(days=self.rng.randint(3, 7)),
                "电话回访，业主表示问题未再出现。",
                None,
            ),
        ):
            if not await self._step(complaint_id, step, at, note, satisfied):
                break
        self.counts[self._last_status] += 1
