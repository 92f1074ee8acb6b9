from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, Response, get, post, put
from litestar.datastructures import State, UploadFile
from litestar.enums import RequestEncodingType
from litestar.params import Body as BodyParam
from litestar.response import Stream
from sqlalchemy.ext.asyncio import AsyncSession

from feesvc.auth.guards import anyone, managers, managers_or_system, staff
from feesvc.auth.principal import Principal
from feesvc.auth.scope import check_owns, owned_by_reader
from feesvc.db import business_today
from feesvc.errors import InvalidInput
from feesvc.files import FileStore
from feesvc.files.http import stream_stored
from feesvc.letters import service
from feesvc.letters.models import DeliveryChannel, Letter, Stage
from feesvc.letters.policy import StageRule
from feesvc.letters.rendering import render_progress
from feesvc.letters.runs import RunSummary, run_reminders
from feesvc.registry.masking import mask_email, mask_phone
from feesvc.registry.service import can_read_unit
from feesvc.schemas import Body, Fen, Id, Line, PathId, Reason

PROOF_UPLOAD_LIMIT = service.MAX_PROOF_BYTES + 64 * 1024


class ReminderRunCreate(Body):
    estate_id: Id
    as_of: date | None = None
    dry_run: bool = False


class StageIn(Body):
    stage: Stage
    days_from_due: Annotated[int, msgspec.Meta(ge=-30, le=3650)]
    min_overdue_fen: Fen = 0
    cooldown_days: Annotated[int, msgspec.Meta(ge=1, le=365)] = 30


class HoldCreate(Body):
    reason: Reason
    starts_on: date | None = None
    ends_on: date | None = None


class LetterOut(msgspec.Struct):
    id: int
    letter_no: str
    unit_id: int
    kind: str
    stage: str | None
    channel: str
    locale: str
    issued_on: date
    deadline: date | None
    total_fen: int
    periods: list[str]
    run_id: int | None


class LetterMessageOut(msgspec.Struct):
    """An electronic message as sent: the exact text, its hash as recorded at issue, its delivery."""

    channel: str
    recipient: str
    subject: str
    body: str
    sha256: str
    status: str
    sent_at: datetime | None


class LetterMessagesOut(msgspec.Struct):
    letter_id: int
    letter_no: str
    messages: list[LetterMessageOut]


def masked_recipient(channel: str, recipient: str) -> str:
    """The address a message went to, masked as every API response masks contact data."""
    return mask_email(recipient) if channel == "email" else mask_phone(recipient)


class DeliveryForm(msgspec.Struct):
    channel: DeliveryChannel
    delivered_on: date
    proof: UploadFile
    tracking_no: Annotated[Line, msgspec.Meta(max_length=100)] = ""
    signer: Annotated[Line, msgspec.Meta(max_length=100)] = ""


class DeliveryOut(msgspec.Struct):
    id: int
    letter_id: int
    channel: DeliveryChannel
    delivered_on: date
    proof_sha256: str
    proof_size: int


def letter_out(letter: Letter) -> LetterOut:
    assert letter.id is not None
    return LetterOut(
        letter.id,
        letter.letter_no,
        letter.unit_id,
        letter.kind,
        letter.stage,
        letter.channel,
        letter.locale,
        letter.issued_on,
        letter.deadline,
        letter.total_fen,
        letter.periods,
        letter.run_id,
    )


def _files(state: State) -> FileStore:
    files: FileStore = state.files
    return files


class LetterController(Controller):
    path = "/api/v1"
    tags = ["letters and reminders"]

    @post("/reminder-runs", guards=[managers_or_system], status_code=200)
    async def run(self, db: AsyncSession, principal: Principal, state: State, data: ReminderRunCreate) -> RunSummary:
        """Issue the day's reminders for an estate; a rerun the same day issues nothing new."""
        today = business_today()
        as_of = data.as_of or today
        if as_of > today:
            raise InvalidInput("a reminder run cannot be dated in the future", field="as_of")
        return await run_reminders(
            db,
            principal,
            data.estate_id,
            as_of,
            dry_run=data.dry_run,
            files=_files(state),
        )

    @get("/reminder-runs/{run_id:int}", guards=[staff])
    async def get_run(self, db: AsyncSession, run_id: PathId) -> dict[str, Any]:
        """A reminder run: its estate, as-of date, status and when it started and finished; for a run
        on the job queue, how far its letters are rendered (``rendering``: until a letter's chunk is
        done, its PDF and the print file answer 409)."""
        run = await service.get_run(db, run_id)
        return {
            "id": run.id,
            "estate_id": run.estate_id,
            "as_of": run.as_of,
            "status": run.status,
            "started_at": run.started_at,
            "finished_at": run.finished_at,
            "summary": run.summary,
            "print_sha256": run.print_sha256,
            "rendering": await render_progress(db, run_id),
        }

    @get(
        "/reminder-runs/{run_id:int}/print.pdf",
        guards=[staff],
        media_type="application/pdf",
        opt={"also_answers": (409,)},
    )
    async def print_file(self, db: AsyncSession, state: State, run_id: PathId) -> Stream:
        """Every paper letter of the run in one print-ready PDF, sorted by building and unit; streamed
        from the file store, checked against its SHA-256 (``X-Content-SHA256``) as it is read. 409
        while a letter of the run is still being rendered by the job queue."""
        ref, digest = await service.print_file(db, run_id, _files(state))
        name = service.print_file_name(run_id)
        headers = {"Content-Disposition": f'inline; filename="{name}"'}
        return await stream_stored(
            _files(state), ref, digest, "application/pdf", headers, f"the print file of run {run_id}"
        )

    @get("/units/{unit_id:int}/letters", guards=[anyone])
    async def unit_letters(self, db: AsyncSession, principal: Principal, unit_id: PathId) -> list[LetterOut]:
        """The reminder letters issued for the unit. An owner: only the letters to their own account."""
        await can_read_unit(db, principal, unit_id)
        # An owner: the letters to their own account (a seller never reads the buyer's, nor the reverse).
        letters = await service.unit_letters(db, unit_id)
        shown = [letter_out(x) for x in letters if owned_by_reader(principal, x.owner_id)]
        # The escalation stage is the company's pacing, not a label of the letter: owners do not see it.
        return shown if principal.is_staff else [msgspec.structs.replace(x, stage=None) for x in shown]

    @get(
        "/letters/{letter_id:int}/letter.pdf",
        guards=[anyone],
        media_type="application/pdf",
        opt={"also_answers": (409,)},
    )
    async def letter_pdf(
        self, db: AsyncSession, principal: Principal, state: State, letter_id: PathId
    ) -> Response[bytes]:
        """The letter's PDF as issued: the bytes kept at issue, checked against their SHA-256 (a letter
        issued before letters were kept is rendered once and marked ``X-Letter-Rendered-At-Issue:
        false``). A letter of a run on the job queue whose chunk is not rendered yet: 409, nothing
        else in its place. An owner: only the letters to them (403 for any other id, one that does not exist
        included)."""
        if not principal.is_staff:
            mine = await db.get(Letter, letter_id)
            check_owns(principal, mine.owner_id if mine else None, "letter")
        letter, kept, pdf = await service.letter_pdf(db, letter_id, _files(state))
        return Response(
            pdf,
            media_type="application/pdf",
            headers={
                "Content-Disposition": f'inline; filename="{letter.letter_no}.pdf"',
                "X-Letter-Rendered-At-Issue": "true" if kept.at_issue else "false",
            },
        )

    @get("/letters/{letter_id:int}/messages", guards=[anyone], opt={"also_answers": (409,)})
    async def letter_messages(self, db: AsyncSession, principal: Principal, letter_id: PathId) -> LetterMessagesOut:
        """The letter's electronic messages (e-mail, SMS, WeChat) exactly as issued: each text is checked
        against the SHA-256 recorded when the letter was issued (409 if it does not match). 404 for a
        letter that went out on paper only. An owner: only the letters to them (403 for any other id)."""
        if not principal.is_staff:
            mine = await db.get(Letter, letter_id)
            check_owns(principal, mine.owner_id if mine else None, "letter")
        letter, messages = await service.letter_messages(db, letter_id)
        assert letter.id is not None and letter.message_sha256 is not None
        return LetterMessagesOut(
            letter_id=letter.id,
            letter_no=letter.letter_no,
            messages=[
                LetterMessageOut(
                    channel=m.channel,
                    recipient=masked_recipient(m.channel, m.recipient),
                    subject=m.subject,
                    body=m.body,
                    sha256=letter.message_sha256,
                    status=m.status.value,
                    sent_at=m.sent_at,
                )
                for m in messages
            ],
        )

    @put("/estates/{estate_id:int}/escalation-policy", guards=[managers])
    async def set_policy(
        self, db: AsyncSession, principal: Principal, estate_id: PathId, data: list[StageIn]
    ) -> list[StageIn]:
        """Replace the estate's escalation policy: each stage with its days from the due date, the least overdue amount
        (fen) and the days to wait before the next letter."""
        rules = [StageRule(s.stage, s.days_from_due, s.min_overdue_fen, s.cooldown_days) for s in data]
        await service.set_policy(db, principal, estate_id, rules)
        return data

    @post("/units/{unit_id:int}/reminder-holds", guards=[managers])
    async def hold(self, db: AsyncSession, principal: Principal, unit_id: PathId, data: HoldCreate) -> dict[str, Any]:
        """Hold reminders for the unit from ``starts_on`` (default today) to ``ends_on``, with a reason (a dispute, a
        hardship agreed)."""
        hold = await service.add_hold(
            db, principal, unit_id, data.reason, data.starts_on or business_today(), data.ends_on
        )
        return {"id": hold.id, "unit_id": unit_id, "starts_on": hold.starts_on, "ends_on": hold.ends_on}

    @post("/letters/{letter_id:int}/deliveries", guards=[staff], request_max_body_size=PROOF_UPLOAD_LIMIT)
    async def deliver(
        self,
        db: AsyncSession,
        principal: Principal,
        state: State,
        request: Request[Any, Any, Any],
        letter_id: PathId,
        data: Annotated[DeliveryForm, BodyParam(media_type=RequestEncodingType.MULTI_PART)],
    ) -> DeliveryOut:
        """Record how a letter reached the owner, with the proof file (PDF, JPEG or PNG, at most 5 MB)."""
        proof = await data.proof.read()
        record = await service.record_delivery(
            db,
            principal,
            letter_id,
            data.channel,
            data.delivered_on,
            data.tracking_no,
            data.signer,
            proof,
            _files(state),
            business_today(),
        )
        assert record.id is not None
        return DeliveryOut(
            record.id, letter_id, record.channel, record.delivered_on, record.proof_sha256, record.proof_size
        )
