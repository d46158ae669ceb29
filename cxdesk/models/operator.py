"""Operators: the back-office users who sign in; their login is the audit actor."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from cxdesk.models.base import Base, UTCDateTime, Versioned

ROLES = ("staff", "accountant", "supervisor", "admin")


class Operator(Versioned, Base):
    __tablename__ = "operators"
    __audit_name__ = "operator"

    id: Mapped[int] = mapped_column(primary_key=True)
    login: Mapped[str] = mapped_column(String(80), unique=True)
    display_name: Mapped[str] = mapped_column(String(200), default="")
    role: Mapped[str] = mapped_column(String(20), default="staff")
    password_hash: Mapped[str] = mapped_column(String(200), info={"secret": True})
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    failed_attempts: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    last_login_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    def customer_ref(self) -> int | None:
        return None

    def audit_label(self) -> str:
        return f"operator {self.login}"
