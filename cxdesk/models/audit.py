"""Audit entries: append-only and hash-chained (each stores the previous entry's hash)."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from cxdesk.models.base import Base, UTCDateTime

ACTIONS = ("CREATE", "DELETE", "GENERATE", "LOGIN", "POST", "PUBLISH", "PUT", "SEND", "UPDATE")
GENESIS_HASH = "0" * 64
#: characters of message and comment that sorting by them compares
SORT_PREFIX = 100
#: the search box's substring index, made by the migration where the database supports it
#: (SQLite: an FTS5 trigram table filled by a trigger; PostgreSQL: a pg_trgm index). It and
#: SQLite's shadow tables of it are named audit_search*; they are not ORM objects.
SEARCH_TABLE = "audit_search"


class AuditEntry(Base):
    __tablename__ = "audit_entries"
    __table_args__ = (
        Index("ix_audit_created", "created_at"),
        Index("ix_audit_customer", "customer_id", "id"),
        Index("ix_audit_table_pk", "table_name", "primary_key"),
        # the log sorts by any column with the id as tie-breaker: (column, id) indexes
        # let a sorted page be read without sorting the whole table
        Index("ix_audit_actor", "actor", "id"),
        Index("ix_audit_ip", "ip", "id"),
        Index("ix_audit_action", "action", "id"),
        Index("ix_audit_table", "table_name", "id"),
        Index("ix_audit_pk", "primary_key", "id"),
        # free text is sorted by its first SORT_PREFIX characters (a btree entry is limited)
        Index("ix_audit_message", text(f"substr(message, 1, {SORT_PREFIX})"), "id"),
        Index("ix_audit_comment", text(f"substr(comment, 1, {SORT_PREFIX})"), "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    actor: Mapped[str] = mapped_column(String(120))
    ip: Mapped[str] = mapped_column(String(45))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    table_name: Mapped[str] = mapped_column(String(60))
    primary_key: Mapped[str] = mapped_column(String(120))
    action: Mapped[str] = mapped_column(String(10))
    message: Mapped[str] = mapped_column(Text)
    before: Mapped[str | None] = mapped_column(Text)
    after: Mapped[str | None] = mapped_column(Text)
    comment: Mapped[str] = mapped_column(Text, default="")
    customer_id: Mapped[int | None] = mapped_column(Integer)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditHead(Base):
    """One row: the last entry of the chain. Writers lock it, so the chain never forks."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(primary_key=True)
    last_id: Mapped[int] = mapped_column(Integer, default=0)
    last_hash: Mapped[str] = mapped_column(String(64), default=GENESIS_HASH)
    count: Mapped[int] = mapped_column(Integer, default=0)
