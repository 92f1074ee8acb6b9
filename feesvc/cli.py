"""The ``feesvc`` command line: serve, migrate, bootstrap tokens, and run the scheduled jobs."""

from __future__ import annotations

import asyncio
import sys
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import click
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from feesvc.arrears.classify_cli import classify_command
from feesvc.attention import UnitReport
from feesvc.auth.models import Role
from feesvc.auth.principal import COMMAND_LINE
from feesvc.banking.cli import bank_command
from feesvc.db import analyze, business_today, create_engine, session_factory
from feesvc.errors import DomainError
from feesvc.exports.cli import export_command
from feesvc.fapiao.cli import fapiao_command
from feesvc.files import FileStoreSettingError, check_setting, read_all, session_store
from feesvc.files.cli import files_command
from feesvc.imports.cli import import_command
from feesvc.jobs.cli import jobs_command, worker_command
from feesvc.judges.cli import judges_command
from feesvc.ledger.check_cli import ledger_command
from feesvc.letters.check_cli import check_command
from feesvc.logging_config import configure_logging
from feesvc.online.cli import online_command
from feesvc.registry.models import Estate
from feesvc.settings import get_settings

T = TypeVar("T")

# Exit status of a scheduled job that ran to the end but left some units out (each reported with its
# reason), or of `outbox send` leaving messages queued: 0 is clean, 1 a run that could not run at all
# (nothing written), 2 a usage error (click's own).
NEEDS_ATTENTION = 3
Progress = Callable[[int, int | None], None]


@contextmanager
def progress(label: str) -> Iterator[Progress]:
    """While a long run works: on a terminal (stderr a TTY) a spinner with the label, the units done
    of how many (when the run says) and the time taken, gone when the run ends; in cron nothing,
    the summary line afterwards says what was done."""
    if not sys.stderr.isatty():
        yield lambda done, total: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, SpinnerColumn, TextColumn, TimeElapsedColumn
    from rich.progress import Progress as Bar

    columns = (SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
    with Bar(*columns, TimeElapsedColumn(), console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task(label, total=None)
        yield lambda done, total: bar.update(task, completed=done, total=total)


def report_and_exit(text: str, reports: Sequence[UnitReport]) -> None:
    """Print a run's summary and the units it reported; exit ``NEEDS_ATTENTION`` if there are any."""
    lines = [text]
    if reports:
        lines.append(f"  needs attention: {len(reports)} units")
        lines += [f"    unit {r.unit_id}: {r.reason}" for r in reports]
    click.echo("\n".join(lines))
    if reports:
        raise SystemExit(NEEDS_ATTENTION)


def run_with_session(work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """Run one unit of work in its own engine and session, turning domain errors into a clean exit."""

    async def main() -> T:
        engine = create_engine()
        try:
            async with session_factory(engine)() as session:
                return await work(session)
        finally:
            await engine.dispose()

    try:
        check_setting(get_settings())  # a file store the database cannot hold: refused before any work
        return asyncio.run(main())
    except FileStoreSettingError as error:
        raise click.ClickException(str(error)) from error
    except DomainError as error:
        field = f" ({error.errors[0].field})" if error.errors else ""
        raise click.ClickException(f"{error.detail}{field}") from error
    except (DBAPIError, OSError) as error:  # exit 1 with the reason, not a traceback
        reason = getattr(error, "orig", None) or error
        raise click.ClickException(f"the database could not be used: {type(reason).__name__}: {reason}") from error


async def resolve_estate(session: AsyncSession, ref: str) -> int:
    """An estate given by id or by code."""
    query = (
        select(Estate.id).where(Estate.id == int(ref)) if ref.isdigit() else select(Estate.id).where(Estate.code == ref)
    )
    estate_id = (await session.execute(query)).scalar_one_or_none()
    if estate_id is None:
        # Exit 1 (the run could not run), as README says, not a usage error: the command was right.
        raise click.ClickException(f"no estate {ref!r} (--estate takes an estate's id or code)")
    return estate_id


@click.group()
@click.option("-v", "--verbose", is_flag=True, help="Debug logs from feesvc, INFO from the libraries it uses.")
def cli(verbose: bool) -> None:
    """feesvc: property-fee collection and arrears management.

    Exit status: 0 done; 3 done, but something needs attention (listed in the output); 1 failed,
    nothing written; 2 a usage error."""
    configure_logging(verbose)


@cli.group()
def db() -> None:
    """Database schema migrations."""


@db.command("upgrade")
@click.argument("revision", default="head")
def db_upgrade(revision: str) -> None:
    """Bring the database (FEESVC_DATABASE_URL) up to REVISION (default: the latest)."""
    from feesvc.migrate import upgrade

    upgrade(get_settings().database.url, revision)
    click.echo(f"database at {revision}")


@db.command("downgrade")
@click.argument("revision")
def db_downgrade(revision: str) -> None:
    """Take the schema back to REVISION ('base' empties it)."""
    from feesvc.migrate import downgrade

    downgrade(get_settings().database.url, revision)
    click.echo(f"database at {revision}")


@cli.command()
@click.option("--host", default=None, help="Interface to listen on (FEESVC_HOST).")
@click.option("--port", type=int, default=None, help="Port (FEESVC_PORT).")
@click.option("--workers", type=int, default=None, help="Worker processes (FEESVC_WORKERS).")
@click.option(
    "--access-log/--no-access-log",
    default=True,
    show_default=True,
    envvar="FEESVC_ACCESS_LOG",
    help="One line a request on stderr (FEESVC_ACCESS_LOG=0 turns it off).",
)
@click.pass_context
def serve(ctx: click.Context, host: str | None, port: int | None, workers: int | None, access_log: bool) -> None:
    """Run the API server; the embedded SQLite database is migrated first. Logs go to stderr: one
    access line a request (request id, principal, method, path, status, duration) and errors with
    their request id."""
    from granian import Granian
    from granian.constants import Interfaces, Loops
    from granian.log import LogLevels

    from feesvc.migrate import upgrade

    # The workers are forked from this process and keep this setup.
    configure_logging(ctx.find_root().params.get("verbose", False), access_log=access_log)
    settings = get_settings()
    try:
        check_setting(settings)
    except FileStoreSettingError as error:
        raise click.ClickException(str(error)) from error
    if settings.database.is_sqlite:
        upgrade(settings.database.url)
    # Granian parses HTTP in Rust: at the desk's rates that saves a fifth of the CPU a payment cost
    # under uvicorn (bench/README.md, "Payments over HTTP").
    Granian(
        "feesvc.app:create_app",
        factory=True,
        interface=Interfaces.ASGI,
        address=host or settings.server.host,
        port=port or settings.server.port,
        workers=workers or settings.server.workers,
        loop=Loops.uvloop,
        log_level=LogLevels.warning,
        log_access=False,
    ).serve()


@cli.group()
def token() -> None:
    """API tokens."""


@token.command("create")
@click.option("--role", type=click.Choice([r.value for r in Role]), required=True)
@click.option("--name", default=None, help="Who or what holds the token.")
@click.option("--owner-id", type=int, default=None, help="For an owner token: the owner it belongs to.")
def token_create(role: str, name: str | None, owner_id: int | None) -> None:
    """Create a token and print it once (only its hash is stored)."""
    from feesvc.auth.service import create_token

    async def work(session: AsyncSession) -> str:
        secret, _ = await create_token(session, COMMAND_LINE, Role(role), name or role, owner_id)
        return secret

    click.echo(run_with_session(work))


@token.command("list")
@click.option("--active", is_flag=True, help="Leave out revoked and expired tokens.")
def token_list(active: bool) -> None:
    """List tokens: id, kind (api, or an owner's sign_in), role, name, owner, created, expires, revoked
    (never a secret: only hashes are stored)."""
    from feesvc.auth.service import list_tokens

    def when(moment: datetime | None) -> str:
        return moment.strftime("%Y-%m-%d %H:%M UTC") if moment else "-"

    rows = [("id", "kind", "role", "name", "owner", "created", "expires", "revoked")]
    for t in run_with_session(lambda session: list_tokens(session, include_revoked=not active)):
        owner = str(t.owner_id) if t.owner_id is not None else "-"
        rows.append(
            (str(t.id), t.kind, t.role, t.name, owner, when(t.created_at), when(t.expires_at), when(t.revoked_at))
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        click.echo("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())


@token.command("revoke")
@click.argument("token_id", type=int)
def token_revoke(token_id: int) -> None:
    """Revoke token TOKEN_ID (see `feesvc token list`); a running server refuses it within 30 s.
    An owner's sign-in token ends its sign-in: its refresh token makes no new one."""
    from feesvc.auth.service import revoke_token

    revoked = run_with_session(lambda session: revoke_token(session, COMMAND_LINE, token_id))
    assert revoked.revoked_at is not None
    at = f"{revoked.revoked_at:%Y-%m-%d %H:%M} UTC"
    click.echo(f"token {revoked.id} ({revoked.role}, {revoked.name}) revoked at {at}")


@cli.command()
@click.option("--estate", "estate_ref", required=True, help="Estate id or code.")
@click.option("--period", required=True, help="Billing period, YYYY-MM.")
@click.option("--on", "issued_on", type=click.DateTime(["%Y-%m-%d"]), default=None, help="Issue date (default today).")
def bill(estate_ref: str, period: str, issued_on: object) -> None:
    """Issue a period's charges for an estate (idempotent). Exits 3 if some units were left out."""
    import re

    from feesvc.billing.service import BillingResult, run_billing
    from feesvc.schemas import PERIOD_PATTERN

    if not re.match(PERIOD_PATTERN, period):
        raise click.BadParameter("expected YYYY-MM with a month 01-12", param_hint="--period")
    day: date = issued_on.date() if issued_on is not None else business_today()  # type: ignore[attr-defined]

    async def work(session: AsyncSession) -> BillingResult:
        estate_id = await resolve_estate(session, estate_ref)
        with progress(f"billing {period}, estate {estate_ref}"):
            return await run_billing(session, COMMAND_LINE, estate_id, period, day)

    result = run_with_session(work)
    text = (
        f"period {result.period}: {result.charges_issued} charges issued, "
        f"{result.charges_already_issued} already issued, "
        f"{result.credit_applied_fen} fen of prepaid credit applied"
    )
    report_and_exit(text, result.needs_attention)


@cli.command()
@click.option("--estate", "estate_ref", required=True, help="Estate id or code.")
@click.option("--as-of", "as_of", type=click.DateTime(["%Y-%m-%d"]), default=None, help="Accrue up to (default today).")
def accrue(estate_ref: str, as_of: object) -> None:
    """Post the late fees owed up to a date (idempotent)."""
    from feesvc.latefees.service import accrue_late_fees

    day: date = as_of.date() if as_of is not None else business_today()  # type: ignore[attr-defined]
    if day > business_today():
        raise click.BadParameter("late fees cannot be accrued for a future date", param_hint="--as-of")

    async def work(session: AsyncSession) -> str:
        estate_id = await resolve_estate(session, estate_ref)
        with progress(f"late fees as of {day}, estate {estate_ref}"):
            result = await accrue_late_fees(session, COMMAND_LINE, estate_id, day)
        problems.extend(result.problems)
        return (
            f"as of {result.as_of}: {result.late_fees_posted} late fees posted, {result.posted_fen} fen, "
            f"{result.corrections_posted} corrections, -{result.corrected_fen} fen, "
            f"{result.charges_considered} overdue charges considered, "
            f"{result.credit_applied_fen} fen of late fees settled from prepaid credit"
        )

    problems: list[Any] = []
    click.echo(run_with_session(work))
    for problem in problems:
        click.echo(f"charge {problem.charge_id} (unit {problem.unit_id}) not computed: {problem.reason}", err=True)
    if problems:
        raise SystemExit(NEEDS_ATTENTION)  # the others were posted; these need attention


cli.add_command(classify_command)
cli.add_command(export_command)
cli.add_command(import_command)
cli.add_command(worker_command)
cli.add_command(files_command)
cli.add_command(jobs_command)
cli.add_command(judges_command)
cli.add_command(online_command)
cli.add_command(bank_command)
cli.add_command(fapiao_command)
cli.add_command(ledger_command)


@cli.command()
@click.option("--estate", "estate_ref", required=True, help="Estate id or code.")
@click.option("--as-of", "as_of", type=click.DateTime(["%Y-%m-%d"]), default=None, help="Run date (default today).")
@click.option("--dry-run", is_flag=True, help="Decide and report, issue nothing.")
@click.option("--print-file/--no-print-file", default=True, help="Render the run's paper letters into one PDF.")
def remind(estate_ref: str, as_of: object, dry_run: bool, print_file: bool) -> None:
    """Issue the day's reminder letters and messages for an estate (idempotent). Exits 3 if a unit
    due a letter got none (a blocked letter, a case that could not be read)."""
    from feesvc.letters.runs import run_reminders
    from feesvc.letters.service import print_file as make_print_file

    day: date = as_of.date() if as_of is not None else business_today()  # type: ignore[attr-defined]
    if day > business_today():
        raise click.BadParameter("a reminder run cannot be dated in the future", param_hint="--as-of")

    async def work(session: AsyncSession) -> tuple[str, list[UnitReport]]:
        estate_id = await resolve_estate(session, estate_ref)
        with progress(f"reminders as of {day}, estate {estate_ref}") as shown:
            summary = await run_reminders(
                session,
                COMMAND_LINE,
                estate_id,
                day,
                dry_run=dry_run,
                files=session_store(session),
                progress=shown,
            )
        # One line, for cron's mail as for a terminal: the counts, then what needs a person.
        parts = [
            _counted("letters", summary.letters_by_kind),
            _counted("messages", summary.messages_by_channel),
            _counted("skipped", summary.skipped_by_reason),
        ]
        if summary.legal_review_units:
            parts.append(f"legal review: units {', '.join(map(str, summary.legal_review_units))}")
        if summary.fallbacks:
            parts.append(f"issued otherwise than chosen {len(summary.fallbacks)} (listed below)")
        if summary.blocked:
            parts.append(f"not produced {len(summary.blocked)}: " + _not_produced(summary.blocked))
        if summary.run_id and print_file and summary.letters_by_kind:
            try:
                with progress("print file"):
                    ref, _ = await make_print_file(session, summary.run_id, session_store(session))
                parts.append(f"print file {ref}")
            except DomainError as error:
                parts.append(f"print file: {error.detail}")
        text = f"reminder run {summary.run_id or '(dry run)'} for estate {estate_id} as of {day}: " + "; ".join(parts)
        text += "".join(f"\n  unit {f['unit_id']} {f['kind']}: {f['reason']}" for f in summary.fallbacks)
        return text, summary.needs_attention

    report_and_exit(*run_with_session(work))


def _not_produced(blocked: list[dict[str, Any]]) -> str:
    """How many letters of each kind were not produced, and why in short: ``final_demand 2 (cannot be
    written 1, forbidden content 1)``; each unit's full reason is under "needs attention"."""
    why: dict[str, Counter[str]] = defaultdict(Counter)
    for letter in blocked:
        for violation in letter["violations"]:
            why[letter["kind"]][violation.split(":", 1)[0]] += 1
    return ", ".join(
        f"{kind} {sum(1 for b in blocked if b['kind'] == kind)} ("
        + ", ".join(f"{reason} {n}" for reason, n in sorted(reasons.items()))
        + ")"
        for kind, reasons in sorted(why.items())
    )


def _counted(what: str, counts: dict[str, int]) -> str:
    """``letters 5 (friendly_reminder: 3, pre_due: 2)``, or ``letters 0``."""
    if not counts:
        return f"{what} 0"
    return f"{what} {sum(counts.values())} (" + ", ".join(f"{k}: {n}" for k, n in sorted(counts.items())) + ")"


@cli.group()
def limitation() -> None:
    """Limitation (诉讼时效) per owner."""


@limitation.command("watch")
@click.option("--estate", "estate_ref", required=True, help="Estate id or code.")
@click.option("--within-days", type=click.IntRange(0, 1098), default=90, show_default=True, help="Days ahead to look.")
@click.option("--as-of", "as_of", type=click.DateTime(["%Y-%m-%d"]), default=None, help="Look from (default today).")
def limitation_watch(estate_ref: str, within_days: int, as_of: object) -> None:
    """Each owner's periods whose limitation ends within the window, with the last interruption:
    one line per period, tab-separated (unit, owner, period, open fen, last day, days left, last
    interruption, its proof, a notice on its way)."""
    from feesvc.limitation.watch import limitation_watch as watch

    day: date = as_of.date() if as_of is not None else business_today()  # type: ignore[attr-defined]

    async def work(session: AsyncSession) -> list[str]:
        report = await watch(session, await resolve_estate(session, estate_ref), day, within_days)
        lines = []
        for account in report.accounts:
            who = f"{account.owner_name} (#{account.owner_id}{'' if account.current_owner else ', former owner'})"
            for p in account.periods:
                last = p.last_interruption
                interruption = f"{last.kind} {last.on} {last.source}" if last else f"none (due {p.due_date})"
                lines.append(
                    "\t".join(
                        [
                            account.unit_label,
                            who,
                            p.period,
                            str(p.principal_fen + p.late_fee_fen),
                            p.expires_on.isoformat(),
                            str(p.days_left),
                            interruption,
                            last.proof if last else "",
                            p.notice_in_flight or "",
                        ]
                    )
                )
        return lines

    lines = run_with_session(work)
    for line in lines:
        click.echo(line)
    click.echo(f"{len(lines)} period(s) of limitation ending by {day + timedelta(days=within_days)}", err=True)


@cli.group()
def plans() -> None:
    """Installment plans (分期)."""


@plans.command("review")
@click.option("--estate", "estate_ref", required=True, help="Estate id or code.")
@click.option("--as-of", "as_of", type=click.DateTime(["%Y-%m-%d"]), default=None, help="Review as of (default today).")
def plans_review(estate_ref: str, as_of: object) -> None:
    """Complete or break the estate's active installment plans as of a date (idempotent). Exits 3 if
    some plans could not be reviewed."""
    from feesvc.plans.review import review_plans
    from feesvc.plans.schemas import PlanReview

    day: date = as_of.date() if as_of is not None else business_today()  # type: ignore[attr-defined]
    if day > business_today():
        raise click.BadParameter("plans cannot be reviewed as of a future date", param_hint="--as-of")

    async def work(session: AsyncSession) -> PlanReview:
        estate_id = await resolve_estate(session, estate_ref)
        with progress(f"installment plans as of {day}, estate {estate_ref}"):
            return await review_plans(session, COMMAND_LINE, estate_id, day)

    result = run_with_session(work)
    reinstated = f"reinstated {result.reinstated} (paid in time, recorded late), " if result.reinstated else ""
    text = (
        f"as of {result.as_of}: {result.plans_reviewed} active plans reviewed, "
        f"completed {result.completed or 'none'}, broken {result.broken or 'none'}, {reinstated}"
        f"{result.late_fees_waived_fen} fen of late fees waived, {result.late_fees_restored_fen} fen restored"
    )
    report_and_exit(text, result.needs_attention)


@cli.group()
def outbox() -> None:
    """Electronic messages waiting for their gateway."""


@outbox.command("send")
@click.option("--limit", type=int, default=500, show_default=True)
def outbox_send(limit: int) -> None:
    """Send waiting e-mail through SMTP (FEESVC_SMTP_HOST); each message at most once. Exits 0 when
    everything due went out (or nothing was waiting), 3 when messages stay queued: some failed (they
    are retried later) or no SMTP host is set."""
    from feesvc.letters.outbox import SmtpSender, deliver, waiting_count

    mail = get_settings().mail
    if not mail.host:
        waiting = run_with_session(lambda session: waiting_count(session, "email"))
        if waiting:
            click.echo(f"email: {waiting} waiting, none sent: set FEESVC_SMTP_HOST to send them")
            raise SystemExit(NEEDS_ATTENTION)
        click.echo("email: nothing to send (no SMTP host set: FEESVC_SMTP_HOST)")
        return
    result = run_with_session(lambda session: deliver(session, SmtpSender(mail), limit))
    click.echo(f"email: {result.sent} sent, {result.failed} failed, {result.waiting} waiting")
    if result.failed:
        raise SystemExit(NEEDS_ATTENTION)  # each is retried later; the reason is on the message


@outbox.command("export")
@click.option("--channel", type=click.Choice(["sms", "wechat"]), required=True)
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
def outbox_export(channel: str, path: Path) -> None:
    """Write waiting SMS or WeChat messages to a CSV file for the company's gateway."""
    from feesvc.letters.outbox import export

    count = run_with_session(lambda session: export(session, channel, path))
    click.echo(f"{count} {channel} messages written to {path}")


@cli.group(invoke_without_command=True)
@click.option("--unit", "unit_id", type=int, default=None, help="The unit's id.")
@click.option("--as-of", "as_of", type=click.DateTime(["%Y-%m-%d"]), default=None, help="Pack date (default today).")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None, help="ZIP file to write.")
@click.option(
    "--owner", "owner_id", type=int, default=None, help="The defendant's owner id (required when several owe)."
)
@click.pass_context
def evidence(ctx: click.Context, unit_id: int | None, as_of: object, out: Path | None, owner_id: int | None) -> None:
    """Build one owner's evidence pack (证据包) for a property-fee case on a unit, or verify one."""
    if ctx.invoked_subcommand is not None:
        return
    if unit_id is None:
        raise click.UsageError("--unit is required to build a pack (or: feesvc evidence verify PACK.zip)")
    from feesvc.evidence.pack import keep_evidence_pack, pack_filename

    day: date = as_of.date() if as_of is not None else business_today()  # type: ignore[attr-defined]
    if day > business_today():
        raise click.BadParameter("an evidence pack cannot be dated in the future", param_hint="--as-of")
    path = out or Path(pack_filename(unit_id, day))

    async def work(session: AsyncSession) -> int:
        files = session_store(session)
        kept = await keep_evidence_pack(session, unit_id, day, COMMAND_LINE, files, owner_id=owner_id)
        path.write_bytes(await read_all(files, kept.ref, kept.sha256))  # checked as the route's copy is
        return kept.size

    size = run_with_session(work)
    click.echo(f"evidence pack of unit {unit_id} as of {day}: {path} ({size:,} bytes)")


@evidence.command("verify")
@click.argument("pack", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def evidence_verify(pack: Path) -> None:
    """Check every file of PACK against its manifest; exit 1 on any changed, missing or added file."""
    from feesvc.evidence.manifest import report_lines, verify_pack

    result = verify_pack(pack)
    for line in report_lines(result, str(pack)):
        click.echo(line)
    if not result.ok:
        raise SystemExit(1)


@cli.group()
def letters() -> None:
    """Reminder and demand letters."""


letters.add_command(check_command)


@cli.command()
@click.option("--units", type=int, default=1000, show_default=True, help="Roughly how many units in all.")
@click.option("--years", type=int, default=3, show_default=True)
@click.option("--seed", type=int, default=7, show_default=True)
@click.option("--skip-if-loaded", is_flag=True, help="Do nothing (and succeed) when the demo data is already there.")
@click.option(
    "--export-files",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Then write each demo estate as import files (DIR/<code>/: estate.json and five .xlsx).",
)
def demo(units: int, years: int, seed: int, skip_if_loaded: bool, export_files: Path | None) -> None:
    """Load demo data: 2 estates with charges, payments and a realistic spread of arrears."""
    from feesvc.demo.builder import DEFAULT_CODE_PREFIX, build_demo
    from feesvc.migrate import upgrade

    upgrade(get_settings().database.url)

    async def loaded(session: AsyncSession) -> bool:
        query = select(Estate.id).where(col(Estate.code).startswith(DEFAULT_CODE_PREFIX))
        return (await session.execute(query.limit(1))).first() is not None

    if (skip_if_loaded or export_files is not None) and run_with_session(loaded):
        click.echo("demo data is already loaded")
        if export_files is not None:
            _demo_files(export_files)
        return
    summary = run_with_session(
        lambda session: build_demo(
            session, units=units, years=years, seed=seed, progress=lambda line: click.echo(line, err=True)
        )
    )
    # The planner's statistics of the tables just filled (PostgreSQL): without, the first runs plan
    # as if they were empty (a run took 55 s instead of 3 s).
    run_with_session(analyze)
    click.echo(summary)
    if export_files is not None:
        _demo_files(export_files)


def _demo_files(folder: Path) -> None:
    """Each demo estate as import files, as it stands today, and the commands that load them."""
    from feesvc.demo.builder import DEFAULT_CODE_PREFIX
    from feesvc.exports.import_files import import_folder, write_folder

    async def work(session: AsyncSession) -> dict[str, dict[str, bytes]]:
        query = select(Estate).where(col(Estate.code).startswith(DEFAULT_CODE_PREFIX)).order_by(col(Estate.code))
        estates = (await session.execute(query)).scalars().all()
        return {estate.code: await import_folder(session, estate, business_today()) for estate in estates}

    for code, files in run_with_session(work).items():
        write_folder(folder / code, files)
        click.echo(
            f"{folder / code}: load it into another database with\n"
            f"  feesvc db upgrade\n  feesvc import estate {folder / code / 'estate.json'}\n"
            f"  feesvc import all {folder / code} --estate {code}"
        )
