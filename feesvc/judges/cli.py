"""``feesvc judges train``: fit the judges' text models from the development corpora."""

from __future__ import annotations

import click


@click.group("judges")
def judges_command() -> None:
    """The arrears classifier's and the letter check's trained models."""


@judges_command.command("train")
@click.option("--check", is_flag=True, help="Write nothing; exit 1 if the shipped models differ from a fresh fit.")
def train_command(check: bool) -> None:
    """Fit the models from tests/corpus's development parts (needs the dev extra: scikit-learn) and
    write them beside the lexicons."""
    from feesvc.judges.training import train_all
    from feesvc.rules.text_model import TextModel

    stale = []
    for path, model in train_all().items():
        if check:
            shipped = TextModel.load(path)
            if shipped.labels != model.labels or set(shipped.weights) != set(model.weights):
                stale.append(path.name)
        else:
            model.save(path)
            click.echo(f"{path.name}: {len(model.weights):,} features, labels {', '.join(model.labels)}")
    if stale:
        raise click.ClickException(f"stale models (run `feesvc judges train`): {', '.join(stale)}")
