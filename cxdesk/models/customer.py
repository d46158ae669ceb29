"""Customers (accounts) and their contacts."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, event, func
from sqlalchemy.orm import Mapped, mapped_column, relationship

from cxdesk.models.base import Base, Exact, UTCDateTime, Versioned

STATUSES = ("Active", "Inactive", "Penalty", "Pending Approval")
INVOICE_SCHEDULES = ("Daily", "Weekly", "Monthly")
CONTACT_TYPES = ("General", "Billing", "Technical", "Sales", "NOC")
#: EN 16931 VAT category codes (UNTDID 5305) a customer's invoices may carry
VAT_CATEGORIES = ("S", "Z", "E", "AE", "K", "O")


class Customer(Versioned, Base):
    __tablename__ = "customers"
    __audit_name__ = "customer"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    status: Mapped[str] = mapped_column(String(20), default="Active", index=True)
    currency: Mapped[str] = mapped_column(String(3), default="USD")
    credit: Mapped[Decimal] = mapped_column(Exact, default=Decimal("0"))
    debit_limit: Mapped[Decimal] = mapped_column(Exact, default=Decimal("0"))
    channels: Mapped[int] = mapped_column(Integer, default=0)
    flow_speed: Mapped[int] = mapped_column(Integer, default=0)
    tax_percent: Mapped[Decimal] = mapped_column(Exact, default=Decimal("0"))
    invoice_schedule: Mapped[str] = mapped_column(String(10), default="Monthly")
    invoice_due_days: Mapped[int] = mapped_column(Integer, default=30)
    portal_access: Mapped[bool] = mapped_column(Boolean, default=True)
    tags: Mapped[str] = mapped_column(String(500), default="")
    # -- the buyer of its invoices (EN 16931 BG-7): address, VAT, reference
    address_lines: Mapped[str] = mapped_column(String(600), default="")  #: up to 3 lines
    city: Mapped[str] = mapped_column(String(100), default="")
    post_code: Mapped[str] = mapped_column(String(20), default="")
    country: Mapped[str] = mapped_column(String(2), default="")  #: ISO 3166-1 alpha-2
    vat_id: Mapped[str] = mapped_column(String(30), default="")
    buyer_reference: Mapped[str] = mapped_column(String(200), default="")
    #: VAT category of its invoices (VAT_CATEGORIES); the rate is ``tax_percent``
    vat_category: Mapped[str] = mapped_column(String(2))  #: unset: S above 0 %, else Z (below)
    #: why no VAT is charged (E, AE, K, O): text (BT-120) and VATEX code (BT-121)
    vat_exemption_reason: Mapped[str] = mapped_column(String(300), default="")
    vat_exemption_code: Mapped[str] = mapped_column(String(30), default="")

    contacts: Mapped[list[Contact]] = relationship(back_populates="customer", passive_deletes=True)

    def customer_ref(self) -> int | None:
        return self.id

    def audit_label(self) -> str:
        return f"customer {self.id} ({self.name})"


#: the customer list and Global Contacts sort by company name, ignoring case
Index("ix_customers_name_lower", func.lower(Customer.name))


class Contact(Versioned, Base):
    __tablename__ = "contacts"
    __audit_name__ = "contact"
    __table_args__ = (
        Index("ix_contacts_customer_name", "customer_id", "name"),
        Index("ix_contacts_search", "search_text", "customer_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200), index=True)
    email: Mapped[str] = mapped_column(String(254))
    #: lower-cased email: the portal login, unique across all contacts
    email_key: Mapped[str] = mapped_column(String(254), unique=True)
    phone: Mapped[str] = mapped_column(String(32), default="")
    mobile: Mapped[str] = mapped_column(String(32), default="")
    contact_type: Mapped[str] = mapped_column(String(40), default="General")
    password_hash: Mapped[str | None] = mapped_column(String(200), info={"secret": True})
    auto_generate_password: Mapped[bool] = mapped_column(Boolean, default=True)
    public_notes: Mapped[str] = mapped_column(Text, default="")
    private_notes: Mapped[str] = mapped_column(Text, default="")
    mobile_verified: Mapped[bool] = mapped_column(Boolean, default=False)
    email_verified: Mapped[bool] = mapped_column(Boolean, default=False)
    #: addresses and CIDR ranges, one per line, normalised; empty = any address
    ip_whitelist: Mapped[str] = mapped_column(Text, default="")
    password_changed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    #: derived, kept by the mapper events below: lower-cased name, email, phone and mobile,
    #: one per line. Global Contacts searches and sorts on it (not audited: it repeats them);
    #: on PostgreSQL the migration adds a pg_trgm index on it when pg_trgm can be installed
    search_text: Mapped[str] = mapped_column(String(600), default="", info={"audit": False})

    customer: Mapped[Customer] = relationship(back_populates="contacts")

    def audit_label(self) -> str:
        return f"contact {self.id} ({self.email})"


def contact_search_text(name: str, email: str, phone: str, mobile: str) -> str:
    """What Global Contacts searches: starts with the lower-cased name, so it also sorts by name."""
    return "\n".join(((name or "").lower(), (email or "").lower(), phone or "", mobile or ""))


@event.listens_for(Customer, "before_insert")
def _default_vat_category(_mapper, _connection, customer: Customer) -> None:
    if not customer.vat_category:
        customer.vat_category = "S" if (customer.tax_percent or 0) > 0 else "Z"


@event.listens_for(Contact, "before_insert")
@event.listens_for(Contact, "before_update")
def _keep_search_text(_mapper, _connection, contact: Contact) -> None:
    contact.search_text = contact_search_text(contact.name, contact.email, contact.phone, contact.mobile)
