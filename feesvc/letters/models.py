"""Letters, reminder runs, the outbox for electronic messages and proofs of delivery."""

import enum
from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, Index, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from feesvc.db import UTCDateTime, str_enum, utcnow


class Stage(enum.StrEnum):
    """Escalation stages, in order; a unit's letter is at its highest stage reached."""

    pre_due = "pre_due"
    friendly = "friendly"
    formal = "formal"
    final_demand = "final_demand"
    legal_review = "legal_review"


class EscalationStage(SQLModel, table=True):
    """One stage of an estate's escalation policy: when it starts and how often it may repeat."""

    __tablename__ = "escalation_stage"
    __table_args__ = (UniqueConstraint("estate_id", "stage"),)

    id: int | None = Field(default=None, primary_key=True)
    estate_id: int = Field(foreign_key="estate.id", index=True)
    stage: Stage = Field(sa_type=str_enum(Stage))
    # Days relative to the oldest unpaid due date: negative before it (a pre-due notice).
    days_from_due: int
    min_overdue_fen: int = Field(default=0, sa_type=BigInteger)
    cooldown_days: int = Field(default=30)


class ReminderHold(SQLModel, table=True):
    """A manager's manual hold: no reminders for the unit while it lasts."""

    __tablename__ = "reminder_hold"

    id: int | None = Field(default=None, primary_key=True)
    unit_id: int = Field(foreign_key="unit.id", index=True)
    reason: str = Field(max_length=500)
    starts_on: date
    ends_on: date | None = Field(default=None)
    actor: str = Field(max_length=120)
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))


class RunStatus(enum.StrEnum):
    running = "running"
    completed = "completed"
    failed = "failed"


class ReminderRun(SQLModel, table=True):
    __tablename__ = "reminder_run"
    __table_args__ = (
        # One run per estate at a time, enforced by the database.
        Index(
            "ux_reminder_run_one_running",
            "estate_id",
            unique=True,
            sqlite_where=text("status = 'running'"),
            postgresql_where=text("status = 'running'"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    estate_id: int = Field(foreign_key="estate.id", index=True)
    as_of: date
    dry_run: bool = Field(default=False)
    status: RunStatus = Field(sa_type=str_enum(RunStatus))
    actor: str = Field(max_length=120)
    started_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))
    finished_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime, nullable=True))
    summary: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    print_file: str | None = Field(default=None, max_length=300)  # its ref in the file store
    print_sha256: str | None = Field(default=None, max_length=64)


class Letter(SQLModel, table=True):
    """An issued letter: to whom, what it said (its context) and the bytes it was issued as.

    The PDF is rendered once, at issue, and kept in the file store (``feesvc.files``):
    ``document_path`` is the stored file's ref there (the local store's path, or
    ``database:<sha256>``), ``document_sha256`` its hash, checked on every read. A run stores its
    paper letters a chunk at a time, as they are printed (each chunk's fonts embedded once), so the
    letter is pages ``first_page``–``last_page`` of that file; its own copy is those pages, cut the
    same way every time (``feesvc.letters.issued``).
    A run on the job queue leaves these empty and renders its letters in chunk jobs
    (``LetterRenderChunk``): the row is append-only, the chunk records where its pages are.
    ``template_version`` names the templates it was rendered with. ``message_sha256`` is the hash
    of the exact text of its electronic message (kept in the outbox). A letter issued before
    letters were stored has none: its first copy renders it once (``LetterRendering``).
    """

    __table_args__ = (Index("ix_letter_unit_stage", "unit_id", "stage", "issued_on"),)

    id: int | None = Field(default=None, primary_key=True)
    estate_id: int = Field(foreign_key="estate.id")
    unit_id: int = Field(foreign_key="unit.id")
    owner_id: int | None = Field(default=None, foreign_key="owner.id")
    run_id: int | None = Field(default=None, foreign_key="reminder_run.id", index=True)
    kind: str = Field(max_length=32)
    stage: Stage | None = Field(default=None, sa_type=str_enum(Stage))
    channel: str = Field(max_length=16)
    locale: str = Field(max_length=8)
    letter_no: str = Field(max_length=60, unique=True)
    issued_on: date
    deadline: date | None = Field(default=None)
    total_fen: int = Field(sa_type=BigInteger)
    periods: list[str] = Field(sa_column=Column(JSON, nullable=False))
    context: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    dedupe_key: str = Field(max_length=120, unique=True)
    actor: str = Field(max_length=120)
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))
    document_path: str | None = Field(default=None, max_length=300)
    document_sha256: str | None = Field(default=None, max_length=64)
    first_page: int | None = Field(default=None)
    last_page: int | None = Field(default=None)
    template_version: str | None = Field(default=None, max_length=80)
    message_sha256: str | None = Field(default=None, max_length=64)


class LetterRendering(SQLModel, table=True):
    """A letter issued before letters were kept, rendered once from its stored context on its first
    copy and kept; the copy is stamped as such (the letter's row itself is append-only)."""

    __tablename__ = "letter_rendering"

    id: int | None = Field(default=None, primary_key=True)
    letter_id: int = Field(foreign_key="letter.id", unique=True)
    document_path: str = Field(max_length=300)
    document_sha256: str = Field(max_length=64)
    first_page: int
    last_page: int
    template_version: str = Field(max_length=80)
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))


class LetterSequence(SQLModel, table=True):
    """The estate's letter numbers: the last one given out in a year (JXHY-2026-HJ000123)."""

    __tablename__ = "letter_sequence"
    __table_args__ = (UniqueConstraint("estate_id", "year"),)

    id: int | None = Field(default=None, primary_key=True)
    estate_id: int = Field(foreign_key="estate.id")
    year: int
    last_number: int = Field(default=0)


class OutboxStatus(enum.StrEnum):
    pending = "pending"
    sending = "sending"
    sent = "sent"
    failed = "failed"
    exported = "exported"


class OutboxMessage(SQLModel, table=True):
    """An electronic message waiting for, or past, its gateway. Sent at most once."""

    __tablename__ = "outbox_message"

    id: int | None = Field(default=None, primary_key=True)
    # None: a message that is no letter (a sign-in code or invitation, feesvc.signin).
    letter_id: int | None = Field(default=None, foreign_key="letter.id", index=True)
    channel: str = Field(max_length=16)
    recipient: str = Field(max_length=200)
    subject: str = Field(max_length=200)
    body: str = Field(max_length=4000)
    status: OutboxStatus = Field(sa_type=str_enum(OutboxStatus), index=True)
    attempts: int = Field(default=0)
    last_error: str | None = Field(default=None, max_length=500)
    next_attempt_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime, nullable=True))
    sent_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime, nullable=True))
    external_id: str | None = Field(default=None, max_length=200)
    dedupe_key: str = Field(max_length=140, unique=True)
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))


class DeliveryChannel(enum.StrEnum):
    ems = "ems"
    registered_mail = "registered_mail"
    hand = "hand"
    sms = "sms"
    wechat = "wechat"
    email = "email"


class DeliveryRecord(SQLModel, table=True):
    """Proof that a letter reached the owner (证据规定 §14–15), with the stored proof file's hash."""

    __tablename__ = "delivery_record"

    id: int | None = Field(default=None, primary_key=True)
    letter_id: int = Field(foreign_key="letter.id", index=True)
    channel: DeliveryChannel = Field(sa_type=str_enum(DeliveryChannel))
    tracking_no: str = Field(default="", max_length=100)
    signer: str = Field(default="", max_length=100)
    delivered_on: date
    proof_path: str = Field(max_length=300)
    proof_sha256: str = Field(max_length=64)
    proof_size: int
    proof_media_type: str = Field(max_length=60)
    recorded_by: str = Field(max_length=120)
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))


class LetterRenderChunk(SQLModel, table=True):
    """Letters a reminder run issued on the job queue whose PDFs are rendered later, together, by
    whichever worker takes the chunk's job (``feesvc.letters.rendering``). Planned with the letters,
    in their transaction: a letter of a run is either kept at issue (``Letter.document_path``) or
    named by exactly one chunk. Until the chunk is rendered its letters have no copy to give.

    ``letter_ids`` in their order in the stored file; ``template_versions`` the version of each
    kind's templates at issue (a worker running other templates refuses to render the chunk);
    ``pages`` once rendered: letter id → [first page, last page] of ``document_path``."""

    __tablename__ = "letter_render_chunk"
    __table_args__ = (UniqueConstraint("run_id", "chunk"),)

    id: int | None = Field(default=None, primary_key=True)
    run_id: int = Field(foreign_key="reminder_run.id", index=True)
    chunk: int
    first_letter_id: int
    last_letter_id: int
    letter_ids: list[int] = Field(sa_column=Column(JSON, nullable=False))
    template_versions: dict[str, str] = Field(sa_column=Column(JSON, nullable=False))
    document_path: str | None = Field(default=None, max_length=300)
    document_sha256: str | None = Field(default=None, max_length=64)
    pages: dict[str, list[int]] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    hostname: str | None = Field(default=None, max_length=255)
    pid: int | None = Field(default=None)
    rendered_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime, nullable=True))
