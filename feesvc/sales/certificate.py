"""The settlement certificate (物业费结清证明) a manager issues for one owner of a unit, e.g. at a sale.

It states that the owner owes nothing for their own periods up to ``as_of`` (default: the last day
of their ownership, the day before the handover), or lists what is open per period and item with
the late fees. It reads only that owner's entries (each entry carries the owner of its period), so
it never shows another owner's debts, and for a former owner it says that the buyer does not answer
for them (DOMAIN.md "Change of owner"). Its text passes the letters' compliance check.

Issued documents are kept as issued: the facts, the certificate number and the PDF's SHA-256 are
stored (``SettlementCertificate``, append-only), the bytes in the file store (``feesvc.files``);
the same facts asked for again the same day give back the certificate already issued.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass
from datetime import date
from typing import Any, Final

import anyio.to_thread
import msgspec
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from feesvc import formatting
from feesvc.audit.service import record_audit
from feesvc.auth.principal import Principal
from feesvc.documents.render import render_html, render_pdf
from feesvc.errors import Conflict, InvalidInput, NotFound
from feesvc.files import CERTIFICATE_AREA, FileStore, StoredFileError, read_all
from feesvc.ledger.models import EntryKind
from feesvc.ledger.service import open_credits, open_debits
from feesvc.letters.compliance import check_html
from feesvc.letters.content.traditional import traditional
from feesvc.registry.models import Ownership
from feesvc.registry.service import get_estate, get_owner, get_unit
from feesvc.sales.models import SettlementCertificate
from feesvc.schemas import period_start
from feesvc.standards.models import FeeStandard

TEMPLATE: Final = "settlement_certificate.html"
STYLESHEETS: Final = ("letter.css",)

_LABELS: Final[dict[str, dict[str, str]]] = {
    "hans": {
        "title_clear": "物业费结清证明",
        "title_owing": "物业费欠费情况说明",
        "no": "编号",
        "date": "出具日期",
        "unit": "房屋",
        "owner": "业主",
        "period": "所属期间",
        "item": "收费项目",
        "principal": "未缴金额",
        "late_fee": "违约金",
        "subtotal": "小计",
        "total": "合计",
        "capitals": "合计人民币（大写）",
        "owned": "兹证明：{name}自{start}起{until}为{estate}{unit}的业主。",
        "until_end": "至{end}止",
        "until_now": "至今",
        "clear": "截至{as_of}，该业主名下上述期间的物业服务费及相关费用已全部结清，无欠费。",
        "owing": "截至{as_of}，该业主名下上述期间尚有以下费用未结清，合计 {total}：",
        "former_owner": "上述费用属于该业主本人为业主期间的费用，由该业主本人承担；房屋受让人不承担上述费用，"
        "本公司不会因此拒绝为受让人提供物业服务或办理相关手续。",
        "current_owner": "上述费用由该业主本人承担。",
        "buyer_clear": "房屋受让人只承担其自交房之日起的物业服务费。",
        "credit": "该业主另有预存款 {credit} 尚未使用，可申请退还。",
        "basis": "本证明依据本公司截至出具日的收费记录出具；{as_of}之后的费用不在本证明范围内。",
        "so_certified": "特此证明。",
        "seal": "（盖章）",
        "phone": "服务电话",
    },
    "hant": {
        "title_clear": "物業費結清證明",
        "title_owing": "物業費欠費情況說明",
        "no": "編號",
        "date": "出具日期",
        "unit": "房屋",
        "owner": "業主",
        "period": "所屬期間",
        "item": "收費項目",
        "principal": "未繳金額",
        "late_fee": "違約金",
        "subtotal": "小計",
        "total": "合計",
        "capitals": "合計人民幣（大寫）",
        "owned": "茲證明：{name}自{start}起{until}為{estate}{unit}的業主。",
        "until_end": "至{end}止",
        "until_now": "至今",
        "clear": "截至{as_of}，該業主名下上述期間的物業管理費及相關費用已全部結清，無欠費。",
        "owing": "截至{as_of}，該業主名下上述期間尚有以下費用未結清，合計 {total}：",
        "former_owner": "上述費用屬於該業主本人為業主期間的費用，由該業主本人承擔；房屋受讓人不承擔上述費用，"
        "本公司不會因此拒絕為受讓人提供物業服務或辦理相關手續。",
        "current_owner": "上述費用由該業主本人承擔。",
        "buyer_clear": "房屋受讓人只承擔其自交房之日起的物業管理費。",
        "credit": "該業主另有預存款 {credit} 尚未使用，可申請退還。",
        "basis": "本證明依據本公司截至出具日的收費記錄出具；{as_of}之後的費用不在本證明範圍內。",
        "so_certified": "特此證明。",
        "seal": "（蓋章）",
        "phone": "服務電話",
    },
    "en": {
        "title_clear": "Certificate of Property Fees Settled",
        "title_owing": "Statement of Property Fees Outstanding",
        "no": "Ref.",
        "date": "Issued on",
        "unit": "Home",
        "owner": "Owner",
        "period": "Period",
        "item": "Item",
        "principal": "Unpaid",
        "late_fee": "Late fee",
        "subtotal": "Subtotal",
        "total": "Total",
        "capitals": "In words (大写)",
        "owned": "We certify that {name} was the owner of {estate} {unit} from {start}{until}.",
        "until_end": " to {end}",
        "until_now": " to date",
        "clear": "As of {as_of}, the property fees and related charges of this owner's periods are fully paid; "
        "nothing is owed.",
        "owing": "As of {as_of}, the following charges of this owner's periods are unpaid, {total} in total:",
        "former_owner": "These charges belong to the periods this owner owned the home and are owed by this owner "
        "alone; the buyer of the home does not answer for them, and we will not refuse the buyer our service "
        "or any formality because of them.",
        "current_owner": "These charges are owed by this owner.",
        "buyer_clear": "The buyer of the home pays the property fee from the handover day only.",
        "credit": "This owner also holds {credit} of unused prepaid credit, which can be refunded on request.",
        "basis": "Issued on our fee records as of the date of issue; charges after {as_of} are outside this "
        "certificate.",
        "so_certified": "",
        "seal": "(company seal)",
        "phone": "Service phone",
    },
}


def _script(locale: str) -> str:
    return "en" if locale == "en" else "hant" if locale in ("zh_TW", "zh_HK") else "hans"


@dataclass(frozen=True)
class _Line:
    period: str
    item_name: str
    principal_fen: int
    late_fee_fen: int


async def _item_names(session: AsyncSession, estate_id: int, use: str) -> dict[str, str]:
    """item → name in the unit's own use's standards (a home's fee is never named as a shop's)."""
    rows = await session.execute(
        select(FeeStandard.item, FeeStandard.item_name)
        .where(FeeStandard.estate_id == estate_id, FeeStandard.unit_use == use)
        .order_by(col(FeeStandard.effective_from))
    )
    return dict(rows.all())


async def certificate_facts(
    session: AsyncSession, unit_id: int, owner_id: int, as_of: date | None, today: date
) -> dict[str, Any]:
    """What the certificate states, as plain data: the owner's span, and what is open today on the
    owner's own periods up to ``as_of``."""
    unit, building = await get_unit(session, unit_id)
    estate = await get_estate(session, unit.estate_id)
    assert estate.id is not None
    owner = await get_owner(session, owner_id, field="owner_id")
    held = list(
        (
            await session.execute(select(Ownership).where(Ownership.unit_id == unit_id, Ownership.owner_id == owner_id))
        ).scalars()
    )
    if not held:
        raise InvalidInput(f"owner {owner_id} has never owned unit {unit_id}", field="owner_id")
    start = min(o.starts_on for o in held)
    ends = [o.ends_on for o in held]
    end = None if None in ends else max(e for e in ends if e is not None)
    day = as_of or end or today
    if day < start:
        raise InvalidInput(f"as_of is before this owner's ownership starts ({start})", field="as_of")
    names = await _item_names(session, estate.id, unit.use)
    lines: dict[tuple[str, str], list[int]] = {}
    for debit in await open_debits(session, unit_id):
        if debit.owner_id != owner_id or not debit.open_fen or not debit.period or period_start(debit.period) > day:
            continue
        slot = lines.setdefault((debit.period, debit.item or "service_fee"), [0, 0])
        slot[0 if debit.kind == EntryKind.charge else 1] += debit.open_fen
    credit = -sum(fen for c, fen in await open_credits(session, unit_id) if c.owner_id == owner_id and fen < 0)
    owed = [
        _Line(period, names.get(item, item), principal, late)
        for (period, item), (principal, late) in sorted(lines.items())
        if principal + late > 0
    ]
    return {
        "locale": formatting.normalize_locale(estate.locale),
        "money_style": estate.money_style,
        "company": estate.company_name,
        "estate": estate.name,
        "estate_address": estate.address,
        "service_phone": estate.service_phone,
        "estate_code": estate.code,
        "estate_id": estate.id,
        "unit_id": unit_id,
        "unit_label": f"{building.name} {unit.number}",
        "owner_id": owner_id,
        "owner_name": owner.name,
        "owned_from": start,
        "owned_to": end,
        "as_of": day,
        "lines": [asdict(line) for line in owed],
        "principal_fen": sum(line.principal_fen for line in owed),
        "late_fees_fen": sum(line.late_fee_fen for line in owed),
        "owed_fen": sum(line.principal_fen + line.late_fee_fen for line in owed),
        "credit_fen": credit,
    }


def _template_context(stated: dict[str, Any], number: str, issued_on: date) -> dict[str, Any]:
    locale = stated["locale"]
    facts = _for_display(stated)
    t = _LABELS[_script(locale)]
    style = facts.get("money_style")
    as_of = formatting.date_long(facts["as_of"], locale)
    end = facts["owned_to"]
    until = t["until_end"].format(end=formatting.date_long(end, locale)) if end else t["until_now"]
    return {
        **facts,
        "t": t,
        "certificate_no": number,
        "issued_on": issued_on,
        "title": t["title_owing"] if facts["owed_fen"] else t["title_clear"],
        "owned_text": t["owned"].format(
            name=facts["owner_name"],
            start=formatting.date_long(facts["owned_from"], locale),
            until=until,
            estate=facts["estate"],
            unit=facts["unit_label"],
        ),
        "clear_text": t["clear"].format(as_of=as_of),
        "owing_text": t["owing"].format(as_of=as_of, total=formatting.money(facts["owed_fen"], locale, style)),
        "whose_text": t["former_owner"] if end else t["current_owner"],
        "credit_text": t["credit"].format(credit=formatting.money(facts["credit_fen"], locale, style)),
        "basis_text": t["basis"].format(as_of=as_of),
        "has_late_fees": facts["late_fees_fen"] > 0,
    }


def _for_display(facts: dict[str, Any]) -> dict[str, Any]:
    """The recorded text (names, addresses, fee names) in the reader's script: a Traditional
    certificate is Traditional throughout; the facts kept with it stay as recorded."""
    locale = facts["locale"]
    keys = ("company", "estate", "estate_address", "unit_label", "owner_name")
    shown = {key: traditional(facts[key], locale) for key in keys}
    lines = [{**line, "item_name": traditional(line["item_name"], locale)} for line in facts["lines"]]
    return {**facts, **shown, "lines": lines}


def _facts_sha256(facts: dict[str, Any]) -> str:
    return hashlib.sha256(msgspec.json.encode(facts, order="sorted")).hexdigest()


def render_certificate(facts: dict[str, Any], number: str, issued_on: date) -> bytes:
    """The certificate's PDF; refused (ValueError) if its text fails the compliance check."""
    context = _template_context(facts, number, issued_on)
    violations = check_html(render_html(TEMPLATE, context))
    if violations:
        raise ValueError("the settlement certificate fails the compliance check: " + "; ".join(map(str, violations)))
    return render_pdf(TEMPLATE, context, STYLESHEETS)


async def _existing(
    session: AsyncSession, unit_id: int, owner_id: int, as_of: date, issued_on: date, facts_sha: str
) -> SettlementCertificate | None:
    query = select(SettlementCertificate).where(
        SettlementCertificate.unit_id == unit_id,
        SettlementCertificate.owner_id == owner_id,
        SettlementCertificate.as_of == as_of,
        SettlementCertificate.issued_on == issued_on,
        SettlementCertificate.facts_sha256 == facts_sha,
    )
    return (await session.execute(query)).scalar_one_or_none()


async def stored_pdf(files: FileStore, certificate: SettlementCertificate) -> bytes:
    """The certificate's bytes as issued, checked against the hash kept with it."""
    try:
        return await read_all(files, certificate.file_path, certificate.sha256)
    except StoredFileError as error:
        raise Conflict(f"certificate {certificate.certificate_no} cannot be given as issued: {error}") from error


async def issue_certificate(
    session: AsyncSession,
    actor: Principal,
    unit_id: int,
    owner_id: int,
    as_of: date | None,
    today: date,
    files: FileStore,
) -> tuple[SettlementCertificate, bytes]:
    """Issue (or, the same facts the same day, give back) the owner's settlement certificate."""
    facts = await certificate_facts(session, unit_id, owner_id, as_of, today)
    facts_sha = _facts_sha256(facts)
    found = await _existing(session, unit_id, owner_id, facts["as_of"], today, facts_sha)
    if found is not None:
        return found, await stored_pdf(files, found)
    # A number from the facts and the day: no row to update after the insert (the table is append-only).
    number = f"{facts['estate_code']}-JQ{today:%Y%m%d}-{facts_sha[:10].upper()}"
    pdf = await anyio.to_thread.run_sync(render_certificate, facts, number, today)
    kept = await files.put(CERTIFICATE_AREA, pdf, "application/pdf")
    certificate = SettlementCertificate(
        certificate_no=number,
        estate_id=facts["estate_id"],
        unit_id=unit_id,
        owner_id=owner_id,
        as_of=facts["as_of"],
        issued_on=today,
        owed_fen=facts["owed_fen"],
        facts_sha256=facts_sha,
        context=msgspec.to_builtins(facts),
        file_path=kept.ref,
        sha256=kept.sha256,
        size=kept.size,
        actor=actor.label,
    )
    session.add(certificate)
    try:
        await session.flush()
    except IntegrityError:
        # The same certificate issued by a request racing this one: theirs stands (and its file).
        await session.rollback()
        found = await _existing(session, unit_id, owner_id, facts["as_of"], today, facts_sha)
        if found is None:
            raise
        return found, await stored_pdf(files, found)
    await record_audit(
        session,
        actor,
        "settlement_certificate.issue",
        "unit",
        unit_id,
        {
            "certificate_no": number,
            "owner_id": owner_id,
            "as_of": facts["as_of"].isoformat(),
            "owed_fen": facts["owed_fen"],
        },
    )
    await session.commit()
    return certificate, pdf


async def get_certificate(session: AsyncSession, certificate_id: int) -> SettlementCertificate:
    certificate = await session.get(SettlementCertificate, certificate_id)
    if certificate is None:
        raise NotFound(f"settlement certificate {certificate_id} does not exist")
    return certificate
