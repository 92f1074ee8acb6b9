"""The outbox: electronic messages wait here until a gateway takes them, and are sent at most once.

A message is marked ``sending`` (and committed) before the gateway is called, then ``sent`` or
``failed``. A failure is retried later with a growing delay; a message left ``sending`` by a crash
is not retried by itself, because it may have gone out: an operator requeues it after checking.
E-mail goes out through SMTP; SMS and WeChat messages are exported for the company's own gateway.
"""

from __future__ import annotations

import asyncio
import csv
import smtplib
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path
from typing import Protocol

import msgspec
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import and_, col, or_, select

from feesvc.db import utcnow
from feesvc.letters.models import OutboxMessage, OutboxStatus
from feesvc.settings import MailSettings

MAX_ATTEMPTS = 8


class Sender(Protocol):
    channel: str

    async def send(self, message: OutboxMessage) -> str:
        """Hand the message to the gateway; return the gateway's id for it. Raise on failure."""
        ...


class SmtpSender:
    channel = "email"

    def __init__(self, settings: MailSettings) -> None:
        self.settings = settings

    def _send_blocking(self, message: OutboxMessage) -> str:
        mail = EmailMessage()
        mail["From"] = self.settings.sender
        mail["To"] = message.recipient
        mail["Subject"] = message.subject
        # A stable Message-ID lets the receiving side drop a duplicate, should one ever be sent.
        mail["Message-ID"] = make_msgid(idstring=message.dedupe_key.replace(":", "."), domain="feesvc")
        mail.set_content(message.body)
        with smtplib.SMTP(self.settings.host, self.settings.port, timeout=30) as smtp:
            if self.settings.starttls:
                smtp.starttls()
            if self.settings.username:
                smtp.login(self.settings.username, self.settings.password or "")
            smtp.send_message(mail)
        return str(mail["Message-ID"])

    async def send(self, message: OutboxMessage) -> str:
        return await asyncio.to_thread(self._send_blocking, message)


class OutboxResult(msgspec.Struct):
    channel: str
    sent: int
    failed: int
    waiting: int


def retry_delay(attempts: int) -> timedelta:
    return timedelta(minutes=min(2**attempts, 24 * 60))


async def _due_messages(session: AsyncSession, channel: str, now: datetime, limit: int) -> list[OutboxMessage]:
    query = (
        select(OutboxMessage)
        .where(
            OutboxMessage.channel == channel,
            or_(
                OutboxMessage.status == OutboxStatus.pending,
                and_(
                    col(OutboxMessage.status) == OutboxStatus.failed,
                    col(OutboxMessage.next_attempt_at) <= now,
                    col(OutboxMessage.attempts) < MAX_ATTEMPTS,
                ),
            ),
        )
        .order_by(col(OutboxMessage.id))
        .limit(limit)
    )
    return list((await session.execute(query)).scalars())


async def deliver(session: AsyncSession, sender: Sender, limit: int = 500) -> OutboxResult:
    sent = failed = 0
    for message in await _due_messages(session, sender.channel, utcnow(), limit):
        message.status = OutboxStatus.sending
        message.attempts += 1
        await session.commit()
        try:
            external_id = await sender.send(message)
        except Exception as error:  # noqa: BLE001 - any gateway failure leaves the message to retry
            message.status = OutboxStatus.failed
            message.last_error = f"{type(error).__name__}: {error}"[:500]
            message.next_attempt_at = utcnow() + retry_delay(message.attempts)
            failed += 1
        else:
            message.status = OutboxStatus.sent
            message.sent_at = utcnow()
            message.external_id = external_id[:200]
            sent += 1
        await session.commit()
    waiting = len(await _due_messages(session, sender.channel, utcnow() + timedelta(days=365), 10_000))
    return OutboxResult(channel=sender.channel, sent=sent, failed=failed, waiting=waiting)


async def waiting_count(session: AsyncSession, channel: str) -> int:
    """Messages of ``channel`` still to go out, now or after their retry delay (as ``deliver`` counts
    them): what `outbox send` reports when no gateway is set."""
    return len(await _due_messages(session, channel, utcnow() + timedelta(days=365), 10_000))


async def export(session: AsyncSession, channel: str, path: Path) -> int:
    """Write pending messages of a channel to CSV for the company's gateway and mark them exported."""
    messages = await _due_messages(session, channel, utcnow(), 100_000)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["message_id", "recipient", "subject", "body"])
        for message in messages:
            writer.writerow([message.dedupe_key, message.recipient, message.subject, message.body])
            message.status = OutboxStatus.exported
    await session.commit()
    return len(messages)


async def requeue(session: AsyncSession, message_id: int) -> OutboxMessage | None:
    """After checking with the gateway that a message stuck in ``sending`` did not go out."""
    message = await session.get(OutboxMessage, message_id)
    if message is not None and message.status == OutboxStatus.sending:
        message.status = OutboxStatus.pending
        await session.commit()
    return message
