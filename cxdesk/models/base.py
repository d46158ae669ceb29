"""Declarative base and the column types every model shares.

``Exact`` keeps money exact on both backends: NUMERIC on PostgreSQL, and on SQLite an
integer of micro-units (SQLite's NUMERIC is a float, so its SUM would drift).
``UTCDateTime`` stores UTC and always gives back timezone-aware UTC datetimes.
"""
from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, DateTime, Integer, MetaData, Numeric, String
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, declared_attr, mapped_column
from sqlalchemy.types import TypeDecorator

MONEY_SCALE = 6
_QUANT = Decimal(1).scaleb(-MONEY_SCALE)
_FACTOR = 10**MONEY_SCALE
MONEY_MAX = Decimal("999999999999.999999")

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def to_decimal(value: Any) -> Decimal:
    """Money from Decimal, int or str; floats are refused (they are never exact)."""
    if isinstance(value, bool) or isinstance(value, float):
        raise TypeError("money must be Decimal, int or str, never float")
    if isinstance(value, Decimal):
        return value
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, str):
        return Decimal(value.strip())
    raise TypeError(f"cannot use {type(value).__name__} as money")


class Exact(TypeDecorator):
    """Exact decimal with 6 places: NUMERIC(18, 6) on PostgreSQL, micro-units on SQLite."""

    impl = Numeric(18, MONEY_SCALE)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect):
        if dialect.name == "sqlite":
            return dialect.type_descriptor(BigInteger())
        return dialect.type_descriptor(Numeric(18, MONEY_SCALE, asdecimal=True))

    def process_bind_param(self, value: Any, dialect: Dialect):
        if value is None:
            return None
        d = to_decimal(value)
        if not d.is_finite() or abs(d) > MONEY_MAX:
            raise ValueError(f"amount out of range: {value}")
        d = d.quantize(_QUANT)
        if dialect.name == "sqlite":
            return int(d.scaleb(MONEY_SCALE))
        return d

    def process_result_value(self, value: Any, dialect: Dialect):
        if value is None:
            return None
        if dialect.name == "sqlite":
            if isinstance(value, float):  # AVG() and friends; not used for money totals
                return Decimal(repr(value)).scaleb(-MONEY_SCALE).quantize(_QUANT)
            return Decimal(int(value)).scaleb(-MONEY_SCALE).quantize(_QUANT)
        return Decimal(value).quantize(_QUANT)

    @property
    def python_type(self):
        return Decimal


class UTCDateTime(TypeDecorator):
    """A timezone-aware UTC datetime. Naive datetimes are refused rather than guessed."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect):
        if value is None:
            return None
        if not isinstance(value, dt.datetime):
            raise TypeError("expected a datetime")
        if value.tzinfo is None:
            raise ValueError("naive datetime: times must be timezone-aware UTC")
        value = value.astimezone(dt.timezone.utc)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: Any, dialect: Dialect):
        if value is None:
            return None
        if isinstance(value, str):
            value = dt.datetime.fromisoformat(value)
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.timezone.utc)
        return value.astimezone(dt.timezone.utc)

    @property
    def python_type(self):
        return dt.datetime


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)

    #: label used in audit messages, e.g. "contact"
    __audit_name__: str = ""

    def audit_label(self) -> str:
        return f"{self.__audit_name__ or self.__tablename__} {getattr(self, 'id', '')}".strip()

    def customer_ref(self) -> int | None:
        """The customer this row belongs to, for the customer's audit view."""
        return getattr(self, "customer_id", None)


class Versioned:
    """Rows edited in the UI: optimistic locking plus who changed them last and when."""

    version: Mapped[int] = mapped_column(Integer, nullable=False, default=1)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(
        UTCDateTime, nullable=False, default=utcnow, onupdate=utcnow
    )
    updated_by: Mapped[str] = mapped_column(String(120), nullable=False, default="")

    @declared_attr.directive
    def __mapper_args__(cls) -> dict:
        return {"version_id_col": cls.__table__.c.version}
