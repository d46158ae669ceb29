"""Delayed changes ("Delay and Save"): kept until due, applied exactly once."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from cxdesk.models.base import Base, UTCDateTime, Versioned

STATES = ("pending", "applied", "failed", "cancelled")


class ScheduledChange(Versioned, Base):
    __tablename__ = "scheduled_changes"
    __audit_name__ = "scheduled change"
    __table_args__ = (Index("ix_scheduled_state_due", "state", "due_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    due_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    #: operator who scheduled it: the change is applied and audited as them
    operator_login: Mapped[str] = mapped_column(String(80))
    kind: Mapped[str] = mapped_column(String(40))
    customer_id: Mapped[int | None] = mapped_column(Integer, index=True)
    target_id: Mapped[int | None] = mapped_column(Integer)
    #: the version of the target when the change was scheduled (edits only)
    target_version: Mapped[int | None] = mapped_column(Integer)
    summary: Mapped[str] = mapped_column(String(300), default="")
    #: JSON payload; secrets are never stored here
    payload: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(10), default="pending")
    result: Mapped[str] = mapped_column(Text, default="")
    applied_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
