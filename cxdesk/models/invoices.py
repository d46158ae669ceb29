"""Invoices, their lines, credit notes, and the gapless number counters (one per series)."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import Boolean, Date, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from cxdesk.models.base import Base, Exact, UTCDateTime, Versioned

#: "Part Paid": payments recorded but less than the total (the column holds 10 characters)
PAID_STATUSES = ("Unpaid", "Pending", "Part Paid", "Paid")
#: Draft (still changeable) -> Issued (immutable) -> Credited (a credit note cancels it)
INVOICE_STATES = ("Draft", "Issued", "Credited")


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
    #: the sum of the payments recorded (paid status Part Paid / Paid)
    paid_amount: Mapped[Decimal] = mapped_column(Exact, default=Decimal("0"))
    state: Mapped[str] = mapped_column(String(10), default="Draft", index=True)
    issued_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    vat_category: Mapped[str] = mapped_column(String(2), default="S")
    vat_exemption_reason: Mapped[str] = mapped_column(String(300), default="")
    vat_exemption_code: Mapped[str] = mapped_column(String(30), default="")
    #: made before EN 16931 amounts (migration 0003): exact line nets, tax = total - net
    legacy_amounts: Mapped[bool] = mapped_column(Boolean, default=False)
    #: seller and buyer as they were when issued (JSON; empty while a draft)
    seller: Mapped[str] = mapped_column(Text, default="")
    buyer: Mapped[str] = mapped_column(Text, default="")

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
    #: invoiced quantity (BT-129) and item net price (BT-146): net = quantity x price exactly
    quantity: Mapped[Decimal] = mapped_column(Exact, default=Decimal("1"))
    unit_price: Mapped[Decimal] = mapped_column(Exact)
    net: Mapped[Decimal] = mapped_column(Exact)
    tax: Mapped[Decimal] = mapped_column(Exact)
    total: Mapped[Decimal] = mapped_column(Exact)

    invoice: Mapped[Invoice] = relationship(back_populates="lines")


class CreditNote(Versioned, Base):
    """A credit note (type 381) cancelling one issued invoice in full; its own number series."""

    __tablename__ = "credit_notes"
    __audit_name__ = "credit note"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[int] = mapped_column(Integer, unique=True)
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoices.id", ondelete="RESTRICT"), unique=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="RESTRICT"), index=True)
    credit_date: Mapped[dt.date] = mapped_column(Date)
    reason: Mapped[str] = mapped_column(String(500), default="")
    currency: Mapped[str] = mapped_column(String(3))
    net: Mapped[Decimal] = mapped_column(Exact)
    tax: Mapped[Decimal] = mapped_column(Exact)
    total: Mapped[Decimal] = mapped_column(Exact)
    seller: Mapped[str] = mapped_column(Text, default="")
    buyer: Mapped[str] = mapped_column(Text, default="")

    def audit_label(self) -> str:
        return f"credit note CN-{self.number}"


class InvoiceCounter(Base):
    """The last number handed out per series (id 1: invoices, id 2: credit notes).
    Locked while numbering: no gaps."""

    __tablename__ = "invoice_counter"

    id: Mapped[int] = mapped_column(primary_key=True)
    last_number: Mapped[int] = mapped_column(Integer, default=0)
