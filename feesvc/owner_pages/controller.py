"""The owner's pages under ``/owner/`` (thin: ``service`` reads, ``views`` renders), served on the
owner pages' router beside the sign-in pages (``feesvc.signin.pages.owner_pages``), whose CSRF
middleware checks every form posted here."""

from __future__ import annotations

from typing import Annotated, Any, Final

from litestar import Controller, MediaType, Request, Response, get, post
from litestar.datastructures import State
from litestar.exceptions import PermissionDeniedException
from litestar.params import Parameter
from litestar.response import Redirect
from sqlalchemy.ext.asyncio import AsyncSession

from feesvc.auth.principal import Principal
from feesvc.db import business_today, utcnow
from feesvc.errors import Conflict, DomainError, Forbidden, InvalidInput, NotFound
from feesvc.letters.content.words import COMPLAINT_CATEGORIES, SERVICE_LABELS_HANT, TITLES
from feesvc.letters.estate_terms import rate_text
from feesvc.letters.kinds import LetterKind
from feesvc.online.models import Provider
from feesvc.online.orders import create_order
from feesvc.owner_pages import pay, service
from feesvc.owner_pages.forms import (
    CSRF_FIELD,
    FORM_KEY_FIELD,
    csrf_token,
    decode_form,
    form_key,
    new_form_key,
    posted_form,
)
from feesvc.owner_pages.views import asset, page
from feesvc.owner_pages.words import methods, script_for, words
from feesvc.payments import owners
from feesvc.payments.receipt import receipt_file
from feesvc.payoff.service import unit_payoff
from feesvc.registry.masking import masking_for
from feesvc.schemas import LongPathId, PathId
from feesvc.service_records.models import ComplaintCategory, ComplaintChannel
from feesvc.service_records.schemas import ComplaintCreate
from feesvc.service_records.service import complaint_status
from feesvc.settings import Settings
from feesvc.statements.service import KIND_LABELS
from feesvc.statements.service import script_of as statement_script

OWNER_PAGES: Final = "/owner"
# What the form says of a refused field (the rest: the text).
_PROBLEMS: Final = {"category": "category_required", FORM_KEY_FIELD: "forbidden"}
PAGE_SIZE: Final = 20
ASSETS: Final = {"owner.css": "text/css; charset=utf-8"}


def _error_page(key: str, status_code: int) -> Response[Any]:
    locale = "zh_CN"
    return page(
        "error.html", {"locale": locale, "w": words(locale), "message": words(locale)[key], "nav": None}, status_code
    )


def _refused(request: Request[Any, Any, Any], error: DomainError) -> Response[Any]:
    """A page the owner may not have is not found, whether it exists or not (no probing of ids)."""
    return _error_page("not_found", 404)


def _form_expired(request: Request[Any, Any, Any], error: PermissionDeniedException) -> Response[Any]:
    """A form without its CSRF token, or with another's (the router's CSRF middleware refused it)."""
    return _error_page("forbidden", 403)


def _base(request: Request[Any, Any, Any], who: service.Reader, nav: str) -> dict[str, Any]:
    return {
        "locale": who.locale,
        "w": words(who.locale),
        "who": who,
        "nav": nav,
        "style": who.money_style,
        "csrf_field": CSRF_FIELD,
        "csrf": csrf_token(request),
    }


def _pays_online(state: State, units: list[service.OwnedUnit]) -> set[int]:
    """The units whose estate takes payments online: only they get a pay button."""
    return {u.unit_id for u in units if pay.estate_providers(state.settings, u.estate.id)}


async def _reader(db: AsyncSession, principal: Principal) -> tuple[service.Reader, list[service.OwnedUnit]]:
    assert principal.owner_id is not None
    units = await service.owned_units(db, principal.owner_id)
    return await service.reader(db, principal, units), units


class OwnerPagesController(Controller):
    path = "/"  # under the owner pages' router, /owner
    include_in_schema = False
    # Without a session the app's handler sends the owner to sign in (feesvc.signin.pages).
    exception_handlers = {DomainError: _refused, PermissionDeniedException: _form_expired}

    @get("/")
    async def home(
        self, request: Request[Any, Any, Any], db: AsyncSession, principal: Principal, state: State
    ) -> Response[str]:
        """Each unit: what pays it off today, what of it is overdue, the next due date, and the pay
        button where its estate takes payments online."""
        who, units = await _reader(db, principal)
        today = business_today()
        cards = [await service.unit_card(db, unit, who.owner_id, today) for unit in units]
        return page(
            "home.html",
            {**_base(request, who, "home"), "cards": cards, "today": today, "pays": _pays_online(state, units)},
        )

    @get("/units/{unit_id:int}/statement")
    async def statement(
        self, request: Request[Any, Any, Any], db: AsyncSession, principal: Principal, unit_id: PathId
    ) -> Response[str]:
        """The statement of the owner's own periods: each charge with its calculation and fee
        standard, late fees by days and rate, payments, and the service bill."""
        who, units = await _reader(db, principal)
        unit = service.find_unit(units, unit_id)
        statement = await service.statement(db, who, unit, business_today())
        # The service bill, month by month; Traditional readers get the letters' own words for it.
        hant = script_for(who.locale) == "hant"
        by_period: dict[str, list[tuple[str, int]]] = {}
        for item in statement.service_summary:
            label = SERVICE_LABELS_HANT.get(item.label, item.label) if hant else item.label
            by_period.setdefault(item.period, []).append((label, item.count))
        return page(
            "statement.html",
            {
                **_base(request, who, "statement"),
                "unit": unit,
                "s": statement,
                "service": sorted(by_period.items(), reverse=True),
                # Each fee standard the lines were charged under, once.
                "standards": list(
                    {
                        line.fee_basis.fee_standard_id: line.fee_basis for line in statement.lines if line.fee_basis
                    }.values()
                ),
                "kinds": KIND_LABELS[statement_script(who.locale)],
                "rate_text": rate_text,
            },
        )

    @get("/units/{unit_id:int}/payoff")
    async def payoff(
        self, request: Request[Any, Any, Any], db: AsyncSession, principal: Principal, state: State, unit_id: PathId
    ) -> Response[str]:
        """What a payment today must be to leave the owner owing nothing on the unit."""
        who, units = await _reader(db, principal)
        unit = service.find_unit(units, unit_id)
        card = await service.unit_card(db, unit, who.owner_id, business_today())
        return page("payoff.html", {**_base(request, who, "home"), "card": card, "pays": _pays_online(state, [unit])})

    @get("/units/{unit_id:int}/pay")
    async def pay_page(
        self, request: Request[Any, Any, Any], db: AsyncSession, principal: Principal, state: State, unit_id: PathId
    ) -> Response[str]:
        """The payoff amount and the estate's providers to pay it with."""
        who, units = await _reader(db, principal)
        return await self._pay_page(request, db, state, who, service.find_unit(units, unit_id))

    @post("/units/{unit_id:int}/pay", status_code=200)
    async def pay(
        self, request: Request[Any, Any, Any], db: AsyncSession, principal: Principal, state: State, unit_id: PathId
    ) -> Response[Any]:
        """The payoff order (the form's key makes a resent form the same order): WeChat Pay's QR
        code to scan, or Alipay's page."""
        fields = await posted_form(request)
        who, units = await _reader(db, principal)
        unit = service.find_unit(units, unit_id)
        settings: Settings = state.settings
        w = words(who.locale)
        chosen = fields.get("provider", "")
        if chosen not in {p.value for p in pay.estate_providers(settings, unit.estate.id)}:
            return await self._pay_page(request, db, state, who, unit, problem=w["pay_choose_one"], status_code=400)
        try:
            key = form_key(fields)
            data = pay.order_for(settings, unit_id, Provider(chosen))
            order, _ = await create_order(db, settings, principal, data, key, business_today())
        except DomainError as error:
            problem = (
                w["forbidden"]
                if isinstance(error, InvalidInput) and error.errors and error.errors[0].field == FORM_KEY_FIELD
                else error.detail
            )
            return await self._pay_page(request, db, state, who, unit, problem=problem, status_code=error.status_code)
        if "pay_url" in order.pay:
            return Redirect(order.pay["pay_url"], status_code=303)
        return page(
            "pay.html",
            {
                **_base(request, who, "home"),
                "unit": unit,
                "amount_fen": order.amount_fen,
                "qr_svg": pay.qr_svg(order.pay.get("code_url", "")),
                "order_no": order.out_trade_no,
                "expires": order.expires_at,
                "problem": None,
            },
        )

    @get("/pay", opt={"exclude_from_auth": True, "exclude_from_csrf": True})
    async def old_pay_address(self, unit: Annotated[int, Parameter(ge=1, le=2**31 - 1)]) -> Redirect:
        """The pay page's first address (``/owner/pay?unit=``), which Alipay orders made before
        still send payers back to."""
        return Redirect(pay.pay_path(unit), status_code=301)

    async def _pay_page(
        self,
        request: Request[Any, Any, Any],
        db: AsyncSession,
        state: State,
        who: service.Reader,
        unit: service.OwnedUnit,
        *,
        problem: str | None = None,
        status_code: int = 200,
    ) -> Response[str]:
        payoff = await unit_payoff(db, unit.unit_id, business_today(), who.owner_id)
        return page(
            "pay.html",
            {
                **_base(request, who, "home"),
                "unit": unit,
                "payoff": payoff,
                "providers": [p.value for p in pay.estate_providers(state.settings, unit.estate.id)],
                "qr_svg": None,
                "problem": problem,
                "form_key_field": FORM_KEY_FIELD,
                "form_key": new_form_key(),
            },
            status_code=status_code,
        )

    @get("/receipts")
    async def receipts(
        self,
        request: Request[Any, Any, Any],
        db: AsyncSession,
        principal: Principal,
        page_no: Annotated[int, Parameter(query="page", ge=1, le=10_000)] = 1,
    ) -> Response[str]:
        """The owner's payments, newest first, each with its receipt to download."""
        who, _ = await _reader(db, principal)
        items, total = await service.payments(db, who, page_no, PAGE_SIZE)
        more = page_no * PAGE_SIZE < total
        return page(
            "receipts.html",
            {
                **_base(request, who, "receipts"),
                "items": items,
                "page_no": page_no,
                "more": more,
                "methods": methods(who.locale),
            },
        )

    @get("/receipts/{payment_id:int}/receipt.pdf", media_type="application/pdf")
    async def receipt(self, db: AsyncSession, principal: Principal, payment_id: LongPathId) -> Response[bytes]:
        """The printable receipt, as ``GET /payments/{id}/receipt.pdf`` gives it; audited."""
        await owners.check_owner_may_read(db, principal, payment_id)
        filename, pdf = await receipt_file(db, payment_id, masking_for(principal))
        await owners.audit_read(db, principal, "payment.receipt", "payment", payment_id)
        return Response(
            pdf,
            media_type="application/pdf",
            headers={"Content-Disposition": f'inline; filename="{filename}"', "Cache-Control": "no-store"},
        )

    @get("/letters")
    async def letters(self, request: Request[Any, Any, Any], db: AsyncSession, principal: Principal) -> Response[str]:
        """The letters addressed to the owner, newest first."""
        who, units = await _reader(db, principal)
        found = await service.owner_letters(db, who, units)
        titles = TITLES[script_for(who.locale)]
        names = {letter.id: titles[LetterKind(letter.kind)] for letter in found}
        return page("letters.html", {**_base(request, who, "letters"), "letters": found, "titles": names})

    @get("/letters/{letter_id:int}/letter.pdf", media_type="application/pdf")
    async def letter(self, db: AsyncSession, principal: Principal, state: State, letter_id: PathId) -> Response[bytes]:
        """A letter addressed to the owner, the bytes kept as issued."""
        who, _ = await _reader(db, principal)
        letter, pdf = await service.letter_pdf(db, who, letter_id, state.files)
        return Response(
            pdf,
            media_type="application/pdf",
            headers={"Content-Disposition": f'inline; filename="{letter.letter_no}.pdf"', "Cache-Control": "no-store"},
        )

    @get("/units/{unit_id:int}/requests")
    async def requests(
        self,
        request: Request[Any, Any, Any],
        db: AsyncSession,
        principal: Principal,
        unit_id: PathId,
        sent: Annotated[int | None, Parameter(ge=1, le=2**31 - 1)] = None,
    ) -> Response[str]:
        """The form to report a problem or ask for a repair, and what the owner reported before."""
        who, units = await _reader(db, principal)
        unit = service.find_unit(units, unit_id)
        return await self._requests_page(request, db, who, unit, sent=sent)

    @post("/units/{unit_id:int}/requests", status_code=303)
    async def raise_request(
        self, request: Request[Any, Any, Any], db: AsyncSession, principal: Principal, unit_id: PathId
    ) -> Response[Any]:
        """File it in the complaint workflow (the 24-hour clock starts), then back to the page."""
        fields = await posted_form(request)
        who, units = await _reader(db, principal)
        unit = service.find_unit(units, unit_id)
        text = fields.get("text", "").replace("\r\n", "\n")
        body = {"category": fields.get("category", ""), "text": text, "channel": ComplaintChannel.app.value}
        try:
            key = form_key(fields)
            if not text.strip():
                raise InvalidInput("say what the complaint is about", field="text")
            data = decode_form(body, ComplaintCreate)
            complaint = await service.file_complaint(db, who, unit, data, utcnow(), key)
        except InvalidInput as error:
            field = error.errors[0].field if error.errors else "text"
            problem = words(who.locale)[_PROBLEMS.get(field, "text_required")]
            return await self._requests_page(request, db, who, unit, problem=problem, form=body, status_code=400)
        except Conflict:
            # The form was sent before with other content (back, edited, sent again): a new form.
            problem = words(who.locale)["sent_before"]
            return await self._requests_page(request, db, who, unit, problem=problem, form=body, status_code=409)
        except Forbidden:
            return await self._requests_page(
                request, db, who, unit, problem=words(who.locale)["not_current"], form=body, status_code=403
            )
        return Redirect(f"{OWNER_PAGES}/units/{unit_id}/requests?sent={complaint.id}", status_code=303)

    async def _requests_page(
        self,
        request: Request[Any, Any, Any],
        db: AsyncSession,
        who: service.Reader,
        unit: service.OwnedUnit,
        *,
        sent: int | None = None,
        problem: str | None = None,
        form: dict[str, str] | None = None,
        status_code: int = 200,
    ) -> Response[str]:
        mine = await service.my_complaints(db, who, unit)
        names = COMPLAINT_CATEGORIES[script_for(who.locale)]
        categories = [(c.value, names[c.value]) for c in ComplaintCategory]
        just_sent = next((c for c in mine if c.id == sent), None)
        return page(
            "requests.html",
            {
                **_base(request, who, "request"),
                "unit": unit,
                "complaints": mine,
                "status": {c.id: complaint_status(c) for c in mine},
                "just_sent": just_sent,
                "problem": problem,
                "form": form or {},
                "categories": categories,
                "category_names": dict(categories),
                "form_key_field": FORM_KEY_FIELD,
                "form_key": new_form_key(),
            },
            status_code=status_code,
        )

    @get("/assets/{name:str}", opt={"exclude_from_auth": True, "exclude_from_csrf": True}, media_type=MediaType.TEXT)
    async def assets(self, name: str) -> Response[bytes]:
        """The pages' stylesheet, shipped in the package (no CDN)."""
        if name not in ASSETS:
            raise NotFound(f"no asset {name!r}")
        return Response(asset(name), media_type=ASSETS[name], headers={"Cache-Control": "public, max-age=3600"})
