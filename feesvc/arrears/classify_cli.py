"""``feesvc classify FILE.jsonl``: why each owner in a case file is not paying.

One JSON object out per input line, in input order, so the output lines up with the input:
a classification, or ``{"id", "line", "error"}`` for a line that cannot be read. A bad line never
stops the run; it makes the exit code 1.

A large file is classified in chunks on a pool of worker processes (``--jobs``, default one per CPU),
the output still in input order: 100,000 cases take about 30 s of CPU (bench/judgement.py).
"""

from __future__ import annotations

import json
import multiprocessing
import os
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from datetime import date, datetime
from itertools import islice
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
@click.option(
    "--jobs",
    type=click.IntRange(min=1),
    default=None,
    help="Worker processes for a large file (default: one per CPU).",
)
@click.pass_context
def classify_command(ctx: click.Context, cases: BinaryIO, today: datetime | None, jobs: int | None) -> None:
    """Classify the arrears cause of each case in FILE.jsonl ('-' reads stdin).

    Prints one JSON object per line: id, category, secondary, confidence, signals, approach.
    A malformed line prints {"id", "line", "error"} instead; the rest are still classified and
    the command exits with 1.
    """
    as_of = None if today is None else today.date()
    first_line_of: dict[str, int] = {}
    failed = False
    for chunk in _results(cases, as_of, jobs or os.cpu_count() or 1):
        out = []
        for number, case_id, text in chunk:
            if case_id is not None and case_id in first_line_of:  # the line was fine but its id is taken
                used = first_line_of[case_id]
                text = json.dumps(
                    _error(case_id, number, f"id: {case_id!r} already used on line {used}"), ensure_ascii=False
                )
            elif case_id is not None:
                first_line_of[case_id] = number
            failed = failed or case_id is None
            out.append(text)
        if out:
            click.echo("\n".join(out))
    if failed:
        ctx.exit(1)


CHUNK_LINES = 1000  # a worker's share at a time; a file of one chunk is classified in this process

# One output line: (line number, the case id when the line was classified else None, the JSON text).
_Output = tuple[int, str | None, str]


def _results(cases: BinaryIO, today: date | None, jobs: int) -> Iterator[list[_Output]]:
    """The output lines chunk by chunk, in input order, before duplicate ids are checked."""
    lines = enumerate(cases, start=1)
    first = list(islice(lines, CHUNK_LINES))
    chunks = _chunks(first, lines)
    if jobs == 1 or len(first) < CHUNK_LINES:
        for chunk in chunks:
            yield _classify_chunk(chunk, today)
        return
    # Spawned, not forked: a clean interpreter per worker, whatever the caller holds.
    with ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
        pending: deque[Future[list[_Output]]] = deque()
        for chunk in chunks:
            pending.append(pool.submit(_classify_chunk, chunk, today))
            if len(pending) >= 2 * jobs:  # bounded read-ahead: memory stays flat on a big file
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


def _chunks(first: list[tuple[int, bytes]], rest: Iterator[tuple[int, bytes]]) -> Iterator[list[tuple[int, bytes]]]:
    yield first
    while chunk := list(islice(rest, CHUNK_LINES)):
        yield chunk


def _classify_chunk(lines: Iterable[tuple[int, bytes]], today: date | None) -> list[_Output]:
    """Each line classified and serialised where it is classified (a worker, on a big file)."""
    out = []
    for number, raw in lines:
        result = classify_line(raw, number, today)
        out.append((number, None if "error" in result else result["id"], json.dumps(result, ensure_ascii=False)))
    return out


def classify_line(raw: bytes, number: int, today: date | None) -> dict[str, Any]:
    """The output object for input line ``number`` (duplicate ids are checked by the caller)."""
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
    return classification_as_dict(facts.id, classify(facts, today))


def _known_id(record: object) -> str | None:
    case_id = record.get("id") if isinstance(record, dict) else None
    return case_id if isinstance(case_id, str) and case_id.strip() else None


def _error(case_id: str | None, number: int, message: str) -> dict[str, Any]:
    return {"id": case_id, "line": number, "error": message}
