"""Settings > Options: one row per option, values kept as text and validated by the service."""
from __future__ import annotations

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from cxdesk.models.base import Base, Versioned


class Option(Versioned, Base):
    __tablename__ = "options"
    __audit_name__ = "option"

    key: Mapped[str] = mapped_column(String(60), primary_key=True)
    value: Mapped[str] = mapped_column(Text, default="")

    def customer_ref(self) -> int | None:
        return None

    def audit_label(self) -> str:
        return f"option {self.key}"
