"""Invoices, their lines, and the gapless invoice-number counter."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import Date, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from cxdesk.models.base import Base, Exact, UTCDateTime, Versioned

PAID_STATUSES = ("Unpaid", "Pending", "Paid")


class Invoice(Versioned, Base):
    __tablename__ = "invoices"
    __audit_name__ = "invoice"
    __table_args__ = (Index("ix_invoices_customer_period", "customer_id", "period_start", "period_end"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[int] = mapped_column(Integer, unique=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="RESTRICT"))
    name: Mapped[str] = mapped_column(String(200))
    period_kind: Mapped[str] = mapped_column(String(10))
    #: covered period in UTC, [start, end)
    period_start: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    period_end: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    invoice_date: Mapped[dt.date] = mapped_column(Date)
    due_date: Mapped[dt.date] = mapped_column(Date)
    currency: Mapped[str] = mapped_column(String(3))
    tax_percent: Mapped[Decimal] = mapped_column(Exact)
    net: Mapped[Decimal] = mapped_column(Exact)
    tax: Mapped[Decimal] = mapped_column(Exact)
    total: Mapped[Decimal] = mapped_column(Exact)
    paid_status: Mapped[str] = mapped_column(String(10), default="Unpaid")

    lines: Mapped[list[InvoiceLine]] = relationship(
        back_populates="invoice", cascade="all, delete-orphan", order_by="InvoiceLine.position"
    )

    def audit_label(self) -> str:
        return f"invoice {self.number}"


class InvoiceLine(Base):
    __tablename__ = "invoice_lines"

    id: Mapped[int] = mapped_column(primary_key=True)
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoices.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    description: Mapped[str] = mapped_column(String(200))
    period_start: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    period_end: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    calls: Mapped[int] = mapped_column(Integer)
    minutes: Mapped[Decimal] = mapped_column(Exact)
    unit_price: Mapped[Decimal] = mapped_column(Exact)
    net: Mapped[Decimal] = mapped_column(Exact)
    tax: Mapped[Decimal] = mapped_column(Exact)
    total: Mapped[Decimal] = mapped_column(Exact)

    invoice: Mapped[Invoice] = relationship(back_populates="lines")


class InvoiceCounter(Base):
    """One row: the last invoice number handed out. Locked while numbering: no gaps."""

    __tablename__ = "invoice_counter"

    id: Mapped[int] = mapped_column(primary_key=True)
    last_number: Mapped[int] = mapped_column(Integer, default=0)
