"""``feesvc classify FILE.jsonl``: why each owner in a case file is not paying.

One JSON object out per input line, in input order, so the output lines up with the input:
a classification, or ``{"id", "line", "error"}`` for a line that cannot be read. A bad line never
stops the run; it makes the exit code 1.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any, BinaryIO

import click

from feesvc.arrears.classifier import CaseFormatError, case_facts_from_record, classification_as_dict, classify


@click.command("classify")
@click.argument("cases", metavar="FILE.jsonl", type=click.File("rb"))
@click.option(
    "--today",
    type=click.DateTime(["%Y-%m-%d"]),
    default=None,
    help="Classify as of this date, ignoring later notes and payments (default: each case's latest event).",
)
@click.pass_context
def classify_command(ctx: click.Context, cases: BinaryIO, today: datetime | None) -> None:
    """Classify the arrears cause of each case in FILE.jsonl ('-' reads stdin).

    Prints one JSON object per line: id, category, secondary, confidence, signals, approach.
    A malformed line prints {"id", "line", "error"} instead; the rest are still classified and
    the command exits with 1.
    """
    as_of = None if today is None else today.date()
    first_line_of: dict[str, int] = {}
    failed = False
    for number, raw in enumerate(cases, start=1):
        result = classify_line(raw, number, as_of, first_line_of)
        failed = failed or "error" in result
        click.echo(json.dumps(result, ensure_ascii=False))
    if failed:
        ctx.exit(1)


def classify_line(raw: bytes, number: int, today: date | None, first_line_of: dict[str, int]) -> dict[str, Any]:
    """The output object for input line ``number``; ``first_line_of`` remembers ids already seen."""
    try:
        # utf-8-sig on the first line: files saved by Windows editors start with a BOM.
        text = raw.decode("utf-8-sig" if number == 1 else "utf-8")
    except UnicodeDecodeError as error:
        return _error(None, number, f"not valid UTF-8 (byte {error.start + 1})")
    if not text.strip():
        return _error(None, number, "empty line: expected one JSON object per line")
    try:
        record = json.loads(text)
    except json.JSONDecodeError as error:
        return _error(None, number, f"not valid JSON: {error.msg} at column {error.colno}")
    try:
        facts = case_facts_from_record(record)
    except CaseFormatError as error:
        return _error(_known_id(record), number, str(error))
    if facts.id in first_line_of:
        return _error(facts.id, number, f"id: {facts.id!r} already used on line {first_line_of[facts.id]}")
    first_line_of[facts.id] = number
    return classification_as_dict(facts.id, classify(facts, today))


def _known_id(record: object) -> str | None:
    case_id = record.get("id") if isinstance(record, dict) else None
    return case_id if isinstance(case_id, str) and case_id.strip() else None


def _error(case_id: str | None, number: int, message: str) -> dict[str, Any]:
    return {"id": case_id, "line": number, "error": message}
