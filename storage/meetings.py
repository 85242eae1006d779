"""Cell meetings: the regular rule, occurrences, notices due, answers and attendance."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from storage.models import Base, UTCDateTime


class MeetingKind(StrEnum):
    """Regular (monthly), thematic, both at once, or extraordinary."""

    regular = "regular"
    thematic = "thematic"
    combined = "combined"
    extraordinary = "extraordinary"


class MeetingStatus(StrEnum):
    """A meeting is scheduled, then closed after attendance is marked, or cancelled."""

    scheduled = "scheduled"
    closed = "closed"
    cancelled = "cancelled"


class NoticeStatus(StrEnum):
    """A notice is pending until sent; one whose moment passed with the meeting is missed."""

    pending = "pending"
    sent = "sent"
    missed = "missed"
    cancelled = "cancelled"


class MeetingRule(Base):
    """A cell's regular meeting: "the 3rd at 19:30" or "the first Saturday at 19:30"."""

    __tablename__ = "meeting_rules"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), unique=True)
    day: Mapped[int | None] = mapped_column(Integer)  # 1-31; past the month's end = last day
    weekday: Mapped[int | None] = mapped_column(Integer)  # 0 = Monday … 6 = Sunday
    nth: Mapped[int | None] = mapped_column(Integer)  # 1-4, or -1 for the last
    time: Mapped[str] = mapped_column(String(5))  # "19:30", local time of the cell
    place: Mapped[str] = mapped_column(String(200))
    minutes: Mapped[int] = mapped_column(Integer, default=90)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Meeting(Base):
    """One meeting; rule-generated ones carry their month in `series_key` so they exist once."""

    __tablename__ = "meetings"
    __table_args__ = (
        UniqueConstraint("unit_id", "series_key"),
        Index("ix_meetings_unit_starts", "unit_id", "starts_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"))
    series_key: Mapped[str | None] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(16))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime())
    minutes: Mapped[int] = mapped_column(Integer)
    place: Mapped[str] = mapped_column(String(200))
    content: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))
    checklist_sent: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class MeetingNotice(Base):
    """A notice due at an offset before a meeting; the job sends each once."""

    __tablename__ = "meeting_notices"
    __table_args__ = (
        UniqueConstraint("meeting_id", "offset_minutes"),
        Index("ix_meeting_notices_due", "status", "due_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id", ondelete="CASCADE"))
    offset_minutes: Mapped[int] = mapped_column(Integer)
    invitation: Mapped[bool] = mapped_column(Boolean)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    status: Mapped[str] = mapped_column(String(16))
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class MeetingAnswer(Base):
    """A member's RSVP, then attendance as marked by the secretary."""

    __tablename__ = "meeting_answers"

    meeting_id: Mapped[int] = mapped_column(
        ForeignKey("meetings.id", ondelete="CASCADE"), primary_key=True
    )
    person_id: Mapped[int] = mapped_column(
        ForeignKey("people.id", ondelete="CASCADE"), primary_key=True
    )
    answer: Mapped[str | None] = mapped_column(String(8))  # "yes" or "no"
    reason: Mapped[str | None] = mapped_column(String(300))
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    present: Mapped[bool | None] = mapped_column(Boolean)
    excused: Mapped[bool | None] = mapped_column(Boolean)
    # Whether the member counted for this meeting (status at the time: exempt and
    # transferred-away members do not), kept so a later status change keeps the minutes true.
    counted: Mapped[bool | None] = mapped_column(Boolean)
