"""the job queue: Procrastinate's schema (PostgreSQL only), per-estate schedules, attempts (issue 21)

On PostgreSQL the queue's tables, types, functions and triggers are Procrastinate 3.10.0's own
schema, read from the installed package and applied here, so Alembic (not the library) owns every
table. Its hash is checked first: another Procrastinate version needs a migration of its own (its
``sql/migrations`` files for the versions between), never a silent different schema. On SQLite
there is no queue: the runs go from cron as before, and only the service's tables are made.

Revision ID: 0023_jobs
Revises: 0025_unit_position
Create Date: 2026-12-07 19:30:00
"""

import hashlib
from collections.abc import Sequence
from importlib import resources

import sqlalchemy as sa
from alembic import op
from sqlalchemy.util import await_only

revision: str = "0023_jobs"
down_revision: str | None = "0025_unit_position"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PROCRASTINATE_SCHEMA_SHA256 = "c70ec4b400a60ad9592787653aae5ae77ae41bf801d56b5bd2712751a07f2009"  # 3.10.0

KIND = sa.String(length=24)
UTC = sa.DateTime(timezone=True)


def _procrastinate_schema() -> str:
    sql = resources.files("procrastinate.sql").joinpath("schema.sql").read_text(encoding="utf-8")
    digest = hashlib.sha256(sql.encode()).hexdigest()
    if digest != PROCRASTINATE_SCHEMA_SHA256:
        raise RuntimeError(
            "the installed Procrastinate's schema is not 3.10.0's (pyproject pins procrastinate==3.10.0): "
            f"sha256 {digest}; a new version's schema changes go in a migration of their own"
        )
    return sql


def _run_script(sql: str) -> None:
    """Many statements (functions with ``;`` in their bodies) in the migration's transaction: by
    asyncpg's simple-query protocol, which takes a whole script; a prepared statement takes one."""
    driver = op.get_bind().connection.driver_connection
    assert driver is not None
    await_only(driver.execute(sql))


def upgrade() -> None:
    op.create_table(
        "job_schedule",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("estate_id", sa.Integer(), sa.ForeignKey("estate.id"), nullable=False, index=True),
        sa.Column("kind", KIND, nullable=False),
        sa.Column("cron", sa.String(length=100), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("updated_by", sa.String(length=120), nullable=False),
        sa.Column("updated_at", UTC, nullable=False),
        sa.UniqueConstraint("estate_id", "kind"),
    )
    op.create_table(
        "job_dispatch",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("estate_id", sa.Integer(), sa.ForeignKey("estate.id"), nullable=False, index=True),
        sa.Column("kind", KIND, nullable=False),
        sa.Column("scheduled_for", UTC, nullable=False),
        sa.Column("job_id", sa.BigInteger(), nullable=True),
        sa.Column("dispatched_at", UTC, nullable=False),
        sa.UniqueConstraint("estate_id", "kind", "scheduled_for"),
    )
    op.create_table(
        "job_attempt",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("job_id", sa.BigInteger(), nullable=False, index=True),
        sa.Column("task", sa.String(length=128), nullable=False),
        sa.Column("estate_id", sa.Integer(), nullable=True, index=True),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("hostname", sa.String(length=255), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("outcome", KIND, nullable=False),
        sa.Column("progress_done", sa.Integer(), nullable=True),
        sa.Column("progress_total", sa.Integer(), nullable=True),
        sa.Column("error", sa.String(length=2000), nullable=True),
        sa.Column("summary", sa.JSON(), nullable=True),
        sa.Column("started_at", UTC, nullable=False),
        sa.Column("finished_at", UTC, nullable=True),
    )
    op.create_table(
        "print_file_chunk",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("run_id", sa.Integer(), sa.ForeignKey("reminder_run.id"), nullable=False, index=True),
        sa.Column("chunk", sa.Integer(), nullable=False),
        sa.Column("first_letter_id", sa.Integer(), nullable=False),
        sa.Column("last_letter_id", sa.Integer(), nullable=False),
        sa.Column("letters", sa.Integer(), nullable=False),
        sa.Column("document_path", sa.String(length=300), nullable=True),
        sa.Column("document_sha256", sa.String(length=64), nullable=True),
        sa.Column("pages", sa.Integer(), nullable=True),
        sa.Column("hostname", sa.String(length=255), nullable=True),
        sa.Column("pid", sa.Integer(), nullable=True),
        sa.Column("rendered_at", UTC, nullable=True),
        sa.UniqueConstraint("run_id", "chunk"),
    )
    if op.get_bind().dialect.name == "postgresql":
        _run_script(_procrastinate_schema())


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        # Every object the schema made is named procrastinate_*: tables (with their triggers and
        # indexes), then the functions and types they used.
        _run_script(
            """
            DROP TABLE IF EXISTS procrastinate_events, procrastinate_periodic_defers,
                procrastinate_jobs, procrastinate_workers CASCADE;
            DO $$
            DECLARE item record;
            BEGIN
                FOR item IN SELECT p.oid::regprocedure AS name FROM pg_proc p
                        JOIN pg_namespace n ON n.oid = p.pronamespace
                        WHERE n.nspname = current_schema() AND p.proname LIKE 'procrastinate\\_%'
                LOOP
                    EXECUTE 'DROP FUNCTION ' || item.name || ' CASCADE';
                END LOOP;
                FOR item IN SELECT t.typname AS name FROM pg_type t
                        JOIN pg_namespace n ON n.oid = t.typnamespace
                        WHERE n.nspname = current_schema() AND t.typname LIKE 'procrastinate\\_%'
                        AND t.typtype IN ('e', 'c')
                LOOP
                    EXECUTE 'DROP TYPE IF EXISTS ' || quote_ident(item.name) || ' CASCADE';
                END LOOP;
            END $$;
            """
        )
    op.drop_table("print_file_chunk")
    op.drop_table("job_attempt")
    op.drop_table("job_dispatch")
    op.drop_table("job_schedule")
