"""Resident feedback (phản ánh): categories, reports, their photos and history, notices, bars."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from storage.models import Base, UTCDateTime


class Privacy(StrEnum):
    """Who may learn who filed a report."""

    named = "named"  # the handler sees the name
    hidden = "hidden"  # only the secretary sees it
    anonymous = "anonymous"  # nobody does; the reporter still gets updates


class ReportStatus(StrEnum):
    """The life of a report: mới → đã tiếp nhận → đang xử lý → one of the closed states."""

    new = "new"
    accepted = "accepted"
    in_progress = "in_progress"
    resolved = "resolved"
    failed = "failed"
    duplicate = "duplicate"
    transferred = "transferred"


OPEN_STATUSES = (ReportStatus.new, ReportStatus.accepted, ReportStatus.in_progress)
CLOSED_STATUSES = (
    ReportStatus.resolved,
    ReportStatus.failed,
    ReportStatus.duplicate,
    ReportStatus.transferred,
)


class FeedbackCategory(Base):
    """A kind of report in one cell and who handles it: a role, or one person."""

    __tablename__ = "feedback_categories"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    # Built-in categories have an ASCII key (their name is translated); added ones a typed name.
    key: Mapped[str | None] = mapped_column(String(24))
    name: Mapped[str | None] = mapped_column(String(80))
    route_role: Mapped[str | None] = mapped_column(String(16))
    route_person_id: Mapped[int | None] = mapped_column(
        ForeignKey("people.id", ondelete="SET NULL")
    )
    # Public-order reports ask "is it happening now?" and may alert the security team at once.
    asks_now: Mapped[bool] = mapped_column(Boolean, default=False)
    # Per-category deadlines; None means the settings' defaults.
    accept_hours: Mapped[float | None] = mapped_column(Float)
    resolve_days: Mapped[float | None] = mapped_column(Float)
    position: Mapped[int] = mapped_column(Integer, default=0)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class Report(Base):
    """One resident report (phiếu phản ánh); its code is PA- and the zero-padded id."""

    __tablename__ = "feedback_reports"
    __table_args__ = (
        Index("ix_feedback_reports_unit_status", "unit_id", "status"),
        Index("ix_feedback_reports_reporter_created", "reporter_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"))
    category_id: Mapped[int] = mapped_column(ForeignKey("feedback_categories.id"))
    description: Mapped[str] = mapped_column(Text)
    # A digest of the folded text, to refuse the same text sent again.
    text_digest: Mapped[str] = mapped_column(String(64))
    place: Mapped[str | None] = mapped_column(String(300))
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    # The residential group (tổ) as folded text, for spotting duplicates.
    area: Mapped[str | None] = mapped_column(String(40))
    urgent: Mapped[bool] = mapped_column(Boolean, default=False)
    privacy: Mapped[str] = mapped_column(String(16))
    # Kept for every privacy level, anonymous included: updates must reach the reporter, and
    # the daily limit and "my reports" need it. It is never rendered for an anonymous report
    # (not even to the secretary, not in exports) and is cleared by the retention job.
    reporter_id: Mapped[int | None] = mapped_column(ForeignKey("people.id", ondelete="SET NULL"))
    status: Mapped[str] = mapped_column(String(16))
    route_role: Mapped[str | None] = mapped_column(String(16))
    route_person_id: Mapped[int | None] = mapped_column(
        ForeignKey("people.id", ondelete="SET NULL")
    )
    duplicate_of_id: Mapped[int | None] = mapped_column(
        ForeignKey("feedback_reports.id", ondelete="SET NULL"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    accept_due: Mapped[datetime] = mapped_column(UTCDateTime())
    resolve_due: Mapped[datetime] = mapped_column(UTCDateTime())
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Deadline follow-up: 0 none, 1 reminded at half time, 2 at the deadline, 3 escalated.
    accept_stage: Mapped[int] = mapped_column(Integer, default=0)
    resolve_stage: Mapped[int] = mapped_column(Integer, default=0)
    fixed: Mapped[bool | None] = mapped_column(Boolean)
    rating: Mapped[int | None] = mapped_column(Integer)
    reopened: Mapped[int] = mapped_column(Integer, default=0)
    purged_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class ReportPhoto(Base):
    """A photo of a report: sent by the reporter, or of the result by the handler."""

    __tablename__ = "feedback_photos"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    report_id: Mapped[int] = mapped_column(
        ForeignKey("feedback_reports.id", ondelete="CASCADE"), index=True
    )
    file_id: Mapped[int] = mapped_column(ForeignKey("stored_files.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))  # report, info, result


class ReportEvent(Base):
    """One step in a report's history: a status change or added information, with its note."""

    __tablename__ = "feedback_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    report_id: Mapped[int] = mapped_column(
        ForeignKey("feedback_reports.id", ondelete="CASCADE"), index=True
    )
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    # The handler who acted; None when the reporter did (their id is on the report only).
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("people.id", ondelete="SET NULL"))
    kind: Mapped[str] = mapped_column(String(16))  # status, info, reopen, rating
    status: Mapped[str | None] = mapped_column(String(16))
    note: Mapped[str | None] = mapped_column(Text)


class FeedbackNotice(Base):
    """A message about reports waiting in the outbox: what to say; deliveries say to whom."""

    __tablename__ = "feedback_notices"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    report_id: Mapped[int | None] = mapped_column(
        ForeignKey("feedback_reports.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(16))
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class FeedbackBar(Base):
    """A person the secretary barred from filing reports in a cell."""

    __tablename__ = "feedback_bars"

    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), primary_key=True)
    person_id: Mapped[int] = mapped_column(
        ForeignKey("people.id", ondelete="CASCADE"), primary_key=True
    )
    barred_by: Mapped[int | None] = mapped_column(ForeignKey("people.id", ondelete="SET NULL"))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
