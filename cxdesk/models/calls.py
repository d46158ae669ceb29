"""Call detail records and the hourly summary rolled up from them."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from cxdesk.models.base import Base, Exact, UTCDateTime


class Cdr(Base):
    __tablename__ = "cdrs"
    __audit_name__ = "CDR"
    __table_args__ = (Index("ix_cdrs_customer_dt", "customer_id", "dt"),
                      Index("ix_cdrs_import_run_id", "import_run_id", "id"))

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    callid: Mapped[str] = mapped_column(String(120), unique=True)
    dt: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="RESTRICT"))
    source_cli: Mapped[str] = mapped_column(String(40), default="")
    dest_number: Mapped[str] = mapped_column(String(40), default="")
    duration: Mapped[int] = mapped_column(Integer, default=0)
    customer_duration: Mapped[int] = mapped_column(Integer, default=0)
    customer_charge: Mapped[Decimal] = mapped_column(Exact, default=Decimal("0"))
    customer_card_rate: Mapped[Decimal] = mapped_column(Exact, default=Decimal("0"))
    customer_card_dest_code: Mapped[str] = mapped_column(String(20), default="")
    customer_card_dest_name: Mapped[str] = mapped_column(String(80), default="")
    customer_card_currency: Mapped[str] = mapped_column(String(3), default="")
    provider_id: Mapped[int | None] = mapped_column(Integer)
    provider_charge: Mapped[Decimal] = mapped_column(Exact, default=Decimal("0"))
    pdd_out: Mapped[int] = mapped_column(Integer, default=0)
    ring_duration: Mapped[int] = mapped_column(Integer, default=0)
    sip_code: Mapped[int] = mapped_column(Integer, default=0)
    sip_reason: Mapped[str] = mapped_column(String(80), default="")
    release_reason: Mapped[str] = mapped_column(String(80), default="")
    #: the import run that moved the row in (no foreign key: run markers are deleted once
    #: published); while that run is unpublished the row is invisible (models.cdr_staging.visible_cdrs)
    import_run_id: Mapped[int | None] = mapped_column(Integer, info={"audit": False})


class HourlySummary(Base):
    __tablename__ = "hourly_summaries"

    customer_id: Mapped[int] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), primary_key=True
    )
    hour: Mapped[dt.datetime] = mapped_column(UTCDateTime, primary_key=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    connected: Mapped[int] = mapped_column(Integer, default=0)
    duration: Mapped[int] = mapped_column(BigInteger, default=0)
    billed_duration: Mapped[int] = mapped_column(BigInteger, default=0)
    customer_charge: Mapped[Decimal] = mapped_column(Exact, default=Decimal("0"))
    vendor_cost: Mapped[Decimal] = mapped_column(Exact, default=Decimal("0"))


class RollupState(Base):
    """One row: the highest CDR id already rolled up (the incremental watermark)."""

    __tablename__ = "rollup_state"

    id: Mapped[int] = mapped_column(primary_key=True)
    last_cdr_id: Mapped[int] = mapped_column(BigInteger, default=0)
    updated_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    #: JSON {import run id: watermark}: imports whose rows up to that CDR id the rollup passed
    #: over while they were unpublished; added once the import is published (migration 0006)
    passed_runs: Mapped[str] = mapped_column(Text, default="{}", server_default="{}")
