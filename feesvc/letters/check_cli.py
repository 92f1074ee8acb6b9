"""``feesvc letters check FILE``: run the letter compliance check on a text, HTML or PDF file.

Exit status: 0 when the letter is clean, 1 when it has violations, 2 when it cannot be read.
"""

from __future__ import annotations

import click

from .compliance import FAMILY_BASIS, LetterCheckError, Violation, check_file


class _UnreadableLetter(click.ClickException):
    """Kept apart from exit status 1, which means "violations found"."""

    exit_code = 2


def _describe(violation: Violation) -> str:
    return f"[{violation.family.value}] {violation.term!r} in: {violation.sentence}"


@click.command("check")
@click.argument("file", type=click.Path(dir_okay=False, allow_dash=True))
@click.pass_context
def check_command(ctx: click.Context, file: str) -> None:
    """Check a letter (text, HTML or PDF; '-' reads text or HTML from stdin) for forbidden content.

    Lists each violation with its family and sentence and exits 1 if there is any.
    """
    try:
        violations = check_file(file)
    except LetterCheckError as error:
        raise _UnreadableLetter(str(error)) from error
    name = "stdin" if file == "-" else file
    if not violations:
        click.echo(f"{name}: no violations")
        return
    for violation in violations:
        click.echo(_describe(violation))
    families = sorted({violation.family for violation in violations})
    click.echo(f"{name}: {len(violations)} violation(s)", err=True)
    for family in families:
        click.echo(f"  {family.value}: {FAMILY_BASIS[family]}", err=True)
    ctx.exit(1)
