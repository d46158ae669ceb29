"""Internal number blocks and SIP users (extensions)."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from cxdesk.models.base import Base, UTCDateTime, Versioned, utcnow


class NumberBlock(Base):
    __tablename__ = "number_blocks"
    __audit_name__ = "number block"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="RESTRICT"), index=True)
    start: Mapped[int] = mapped_column(Integer, unique=True)
    size: Mapped[int] = mapped_column(Integer)
    assigned_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    @property
    def end(self) -> int:
        return self.start + self.size - 1

    def audit_label(self) -> str:
        return f"number block {self.start}-{self.end}"


class SipUser(Versioned, Base):
    __tablename__ = "sip_users"
    __audit_name__ = "SIP user"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="RESTRICT"), index=True)
    #: the extension; unique across the whole system, not per customer
    username: Mapped[str] = mapped_column(String(32), unique=True)
    #: HA1 = MD5(username:realm:password), usable by a switch for digest authentication
    ha1: Mapped[str] = mapped_column(String(32), info={"secret": True})
    caller_id: Mapped[str] = mapped_column(String(32), default="")
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)

    def audit_label(self) -> str:
        return f"SIP user {self.username}"
