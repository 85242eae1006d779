"""Resident feedback: categories, reports, photos, history, notices, bars

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30 09:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.models

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC = storage.models.UTCDateTime


def _fk(
    table: str, column: str, target: str, ondelete: str | None = None
) -> sa.ForeignKeyConstraint:
    name = f"fk_{table}_{column}_{target}"
    return sa.ForeignKeyConstraint([column], [f"{target}.id"], name=op.f(name), ondelete=ondelete)


def upgrade() -> None:
    op.create_table(
        "feedback_categories",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=24), nullable=True),
        sa.Column("name", sa.String(length=80), nullable=True),
        sa.Column("route_role", sa.String(length=16), nullable=True),
        sa.Column("route_person_id", sa.Integer(), nullable=True),
        sa.Column("asks_now", sa.Boolean(), nullable=False),
        sa.Column("accept_hours", sa.Float(), nullable=True),
        sa.Column("resolve_days", sa.Float(), nullable=True),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        _fk("feedback_categories", "route_person_id", "people", "SET NULL"),
        _fk("feedback_categories", "unit_id", "units"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feedback_categories")),
    )
    with op.batch_alter_table("feedback_categories", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_feedback_categories_unit_id"), ["unit_id"], unique=False
        )

    op.create_table(
        "feedback_reports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("category_id", sa.Integer(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("text_digest", sa.String(length=64), nullable=False),
        sa.Column("place", sa.String(length=300), nullable=True),
        sa.Column("latitude", sa.Float(), nullable=True),
        sa.Column("longitude", sa.Float(), nullable=True),
        sa.Column("area", sa.String(length=40), nullable=True),
        sa.Column("urgent", sa.Boolean(), nullable=False),
        sa.Column("privacy", sa.String(length=16), nullable=False),
        sa.Column("reporter_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("route_role", sa.String(length=16), nullable=True),
        sa.Column("route_person_id", sa.Integer(), nullable=True),
        sa.Column("duplicate_of_id", sa.Integer(), nullable=True),
        sa.Column("created_at", UTC(), nullable=False),
        sa.Column("accept_due", UTC(), nullable=False),
        sa.Column("resolve_due", UTC(), nullable=False),
        sa.Column("accepted_at", UTC(), nullable=True),
        sa.Column("closed_at", UTC(), nullable=True),
        sa.Column("accept_stage", sa.Integer(), nullable=False),
        sa.Column("resolve_stage", sa.Integer(), nullable=False),
        sa.Column("fixed", sa.Boolean(), nullable=True),
        sa.Column("rating", sa.Integer(), nullable=True),
        sa.Column("reopened", sa.Integer(), nullable=False),
        sa.Column("purged_at", UTC(), nullable=True),
        _fk("feedback_reports", "category_id", "feedback_categories"),
        _fk("feedback_reports", "duplicate_of_id", "feedback_reports", "SET NULL"),
        _fk("feedback_reports", "reporter_id", "people", "SET NULL"),
        _fk("feedback_reports", "route_person_id", "people", "SET NULL"),
        _fk("feedback_reports", "unit_id", "units"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feedback_reports")),
    )
    with op.batch_alter_table("feedback_reports", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_feedback_reports_duplicate_of_id"), ["duplicate_of_id"], unique=False
        )
        batch_op.create_index(
            "ix_feedback_reports_reporter_created", ["reporter_id", "created_at"], unique=False
        )
        batch_op.create_index(
            "ix_feedback_reports_unit_status", ["unit_id", "status"], unique=False
        )

    op.create_table(
        "feedback_photos",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("report_id", sa.Integer(), nullable=False),
        sa.Column("file_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        _fk("feedback_photos", "file_id", "stored_files", "CASCADE"),
        _fk("feedback_photos", "report_id", "feedback_reports", "CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feedback_photos")),
    )
    with op.batch_alter_table("feedback_photos", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_feedback_photos_report_id"), ["report_id"], unique=False
        )

    op.create_table(
        "feedback_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("report_id", sa.Integer(), nullable=False),
        sa.Column("at", UTC(), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        _fk("feedback_events", "actor_id", "people", "SET NULL"),
        _fk("feedback_events", "report_id", "feedback_reports", "CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feedback_events")),
    )
    with op.batch_alter_table("feedback_events", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_feedback_events_report_id"), ["report_id"], unique=False
        )

    op.create_table(
        "feedback_notices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("report_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("created_at", UTC(), nullable=False),
        _fk("feedback_notices", "report_id", "feedback_reports", "CASCADE"),
        _fk("feedback_notices", "unit_id", "units"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feedback_notices")),
    )
    with op.batch_alter_table("feedback_notices", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_feedback_notices_report_id"), ["report_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_feedback_notices_unit_id"), ["unit_id"], unique=False)

    op.create_table(
        "feedback_bars",
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("barred_by", sa.Integer(), nullable=True),
        sa.Column("at", UTC(), nullable=False),
        _fk("feedback_bars", "barred_by", "people", "SET NULL"),
        _fk("feedback_bars", "person_id", "people", "CASCADE"),
        _fk("feedback_bars", "unit_id", "units"),
        sa.PrimaryKeyConstraint("unit_id", "person_id", name=op.f("pk_feedback_bars")),
    )


def downgrade() -> None:
    op.drop_table("feedback_bars")
    with op.batch_alter_table("feedback_notices", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_feedback_notices_unit_id"))
        batch_op.drop_index(batch_op.f("ix_feedback_notices_report_id"))
    op.drop_table("feedback_notices")
    with op.batch_alter_table("feedback_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_feedback_events_report_id"))
    op.drop_table("feedback_events")
    with op.batch_alter_table("feedback_photos", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_feedback_photos_report_id"))
    op.drop_table("feedback_photos")
    with op.batch_alter_table("feedback_reports", schema=None) as batch_op:
        batch_op.drop_index("ix_feedback_reports_unit_status")
        batch_op.drop_index("ix_feedback_reports_reporter_created")
        batch_op.drop_index(batch_op.f("ix_feedback_reports_duplicate_of_id"))
    op.drop_table("feedback_reports")
    with op.batch_alter_table("feedback_categories", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_feedback_categories_unit_id"))
    op.drop_table("feedback_categories")
