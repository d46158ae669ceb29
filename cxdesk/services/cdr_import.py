"""Import the platform's CDR CSV: streamed, checked row by row, all or nothing.

The header names the columns (any order, case-insensitive, extra columns ignored); times
are UTC, ISO 8601 or "YYYY-MM-DD HH:MM:SS". Every malformed row is reported with its
line number and reason. Without ``skip_bad`` one bad row means nothing is imported;
with it the good rows are. A ``callid`` already in the database is skipped, so importing
a file twice adds nothing. The file is read and inserted in chunks inside one
transaction, so memory stays flat however long the file is.

Rows go in with one driver-level ``executemany`` per chunk, in the storage form of the
``Exact`` and ``UTCDateTime`` column types (see :func:`_native`): the generic ORM path
costs several times more per row than SQLite needs for the insert itself.
"""
from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from sqlalchemy import select, text

from cxdesk.db import Database
from cxdesk.errors import Cancelled, ValidationError
from cxdesk.models import Cdr, Customer
from cxdesk.models.base import MONEY_MAX, MONEY_SCALE
from cxdesk.services import rollup
from cxdesk.services.actor import Actor
from cxdesk.services.export_safety import safe_text
from cxdesk.services.uow import unit_of_work

#: the platform's CDR columns, in the order the CDR report writes them
COLUMNS = (
    "dt", "callid", "customer_id", "source_cli", "dest_number", "duration", "customer_duration",
    "customer_charge", "customer_card_rate", "customer_card_dest_code", "customer_card_dest_name",
    "customer_card_currency", "provider_id", "provider_charge", "pdd_out", "ring_duration",
    "sip_code", "sip_reason", "release_reason",
)
#: columns the header must have and no row may leave empty (the billing facts)
REQUIRED = ("dt", "callid", "customer_id", "duration", "customer_duration",
            "customer_charge", "provider_charge")
CHUNK = 5_000
#: bad rows kept with their reason (all are counted)
MAX_REPORTED = 1_000
_INT_MAX = 2**31 - 1
_MICRO = Decimal(1).scaleb(-MONEY_SCALE)
_CURRENCY = re.compile(r"[A-Z]{3}")
_UTC = dt.timezone.utc

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class BadRow:
    line: int
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}"


@dataclass
class ImportResult:
    rows: int = 0  #: data rows read (blank lines not counted)
    imported: int = 0
    duplicates: int = 0  #: rows whose callid was already imported (or repeated in the file)
    bad_count: int = 0
    bad_rows: list[BadRow] = field(default_factory=list)  #: the first MAX_REPORTED
    customers_created: list[int] = field(default_factory=list)

    def sentence(self) -> str:
        parts = [f"imported {self.imported:,} CDRs"]
        if self.duplicates:
            parts.append(f"{self.duplicates:,} already imported")
        if self.bad_count:
            parts.append(f"{self.bad_count:,} bad rows skipped")
        if self.customers_created:
            parts.append(f"{len(self.customers_created)} placeholder customers created")
        return ", ".join(parts)


class BadRowsError(ValidationError):
    """The file has malformed rows and nothing was imported; ``bad_rows`` says where."""

    def __init__(self, name: str, bad_count: int, bad_rows: list[BadRow]) -> None:
        super().__init__(
            f"{name} has {bad_count:,} malformed row{'s' if bad_count != 1 else ''} and nothing was "
            "imported; correct them, or skip the bad rows to import the others."
        )
        self.bad_count = bad_count
        self.bad_rows = bad_rows


class _RowError(ValueError):
    pass


def _show(value: str) -> str:
    return repr(value if len(value) <= 40 else value[:37] + "...")


# -- value parsers: text -> checked Python value ------------------------------------
def _text(limit: int) -> Callable[[str], str]:
    def parse(value: str) -> str:
        value = value.strip()
        if len(value) > limit:
            raise _RowError(f"is {len(value)} characters long (at most {limit})")
        if "\x00" in value:
            raise _RowError("contains a NUL character")
        if "\ufffd" in value:  # what the decoder leaves of bytes that are not UTF-8
            raise _RowError("is not UTF-8 text (save the file as UTF-8)")
        if value.startswith("'") and safe_text(value[1:]) == value:
            value = value[1:]  # the quote our own CDR report put before "+44...": not part of the value
        return value
    return parse


def _count(value: str) -> int:
    if not (value.isdigit() and value.isascii()):
        value = value.strip()
        if not (value.isdigit() and value.isascii()):
            raise _RowError(f"{_show(value)} is not a whole number of 0 or more")
    number = int(value)
    if number > _INT_MAX:
        raise _RowError(f"{_show(value)} is too large")
    return number


def _customer_id(value: str) -> int:
    number = _count(value)
    if number == 0:
        raise _RowError("0 is not a customer id")
    return number


def _money(value: str) -> Decimal:
    value = value.strip()
    try:
        amount = Decimal(value)
    except InvalidOperation:
        amount = None
    if amount is None or "_" in value or not amount.is_finite():
        raise _RowError(f"{_show(value)} is not an amount like 0.0123")
    if amount < 0:
        raise _RowError(f"{_show(value)} is negative")
    if amount > MONEY_MAX:
        raise _RowError(f"{_show(value)} is too large")
    exact = amount.quantize(_MICRO)
    if exact != amount:
        raise _RowError(f"{_show(value)} has more than {MONEY_SCALE} decimal places")
    return exact


def _utc_time(value: str) -> dt.datetime:
    value = value.strip()
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        moment = None
    if moment is None or ("T" not in value and " " not in value):
        raise _RowError(f"{_show(value)} is not a UTC date and time like 2026-01-05 10:00:00")
    return moment.replace(tzinfo=_UTC) if moment.tzinfo is None else moment.astimezone(_UTC)


def _currency(value: str) -> str:
    value = value.strip().upper()
    if value and not _CURRENCY.fullmatch(value):
        raise _RowError(f"{_show(value)} is not a three-letter currency code")
    return value


def _optional_int(value: str) -> int | None:
    return _count(value) if value.strip() else None


def _length(name: str) -> int:
    return Cdr.__table__.c[name].type.length


_PARSERS: dict[str, Callable[[str], Any]] = {
    "dt": _utc_time, "callid": _text(_length("callid")), "customer_id": _customer_id,
    "customer_card_currency": _currency, "provider_id": _optional_int,
    **{name: _count for name in ("duration", "customer_duration", "pdd_out", "ring_duration", "sip_code")},
    **{name: _money for name in ("customer_charge", "customer_card_rate", "provider_charge")},
    **{name: _text(_length(name)) for name in ("source_cli", "dest_number", "customer_card_dest_code",
                                               "customer_card_dest_name", "sip_reason", "release_reason")},
}
#: what an optional column holds when it is missing or empty
_EMPTY: dict[str, Any] = {name: "" for name in COLUMNS} | {
    "customer_card_rate": Decimal(0), "provider_id": None,
    "pdd_out": 0, "ring_duration": 0, "sip_code": 0,
}


def _native(is_sqlite: bool) -> tuple[Callable[[dt.datetime], Any], Callable[[Decimal], Any]]:
    """(time, money) converters to the stored form the column types write: on SQLite
    naive UTC text 'YYYY-MM-DD HH:MM:SS.ffffff' and integer micro-units; on PostgreSQL
    the aware datetime and the Decimal themselves."""
    if is_sqlite:
        return (lambda t: t.replace(tzinfo=None).isoformat(" ", "microseconds"),
                lambda m: int(m.scaleb(MONEY_SCALE)))
    return (lambda t: t), (lambda m: m)


def _converter(column: str, is_sqlite: bool) -> Callable[[str], Any]:
    """Text of one column -> its stored value; raises _RowError with the reason."""
    parse = _PARSERS[column]
    time_native, money_native = _native(is_sqlite)
    native = time_native if parse is _utc_time else money_native if parse is _money else None
    if column in REQUIRED:
        def empty(_raw: str) -> Any:
            raise _RowError("is empty")
    else:
        default = _EMPTY[column]
        stored = money_native(default) if isinstance(default, Decimal) else default
        empty = lambda _raw: stored  # noqa: E731

    def convert(raw: str) -> Any:
        if not raw or raw.isspace():
            return empty(raw)
        return parse(raw) if native is None else native(parse(raw))
    return convert


class _RowParser:
    """Turns one CSV record into a tuple of stored values in COLUMNS order."""

    def __init__(self, header: list[str], name: str, is_sqlite: bool) -> None:
        names = [h.strip().lower() for h in header]
        seen: set[str] = set()
        for n in names:
            if n in COLUMNS and n in seen:
                raise ValidationError(f"line 1 of {name}: the column {n} appears twice; keep one and import again.")
            seen.add(n)
        missing = [c for c in REQUIRED if c not in seen]
        if missing:
            raise ValidationError(
                f"line 1 of {name} lacks the column{'s' if len(missing) > 1 else ''} {', '.join(missing)}; "
                "the first line must name the CDR columns (dt, callid, customer_id, ...)."
            )
        self.width = len(names)
        # a column the file lacks reads the empty field appended to every record
        self.steps = [(names.index(c) if c in seen else -1, _converter(c, is_sqlite)) for c in COLUMNS]

    def __call__(self, fields: list[str]) -> tuple:
        if len(fields) != self.width:
            raise _RowError(f"has {len(fields)} fields; the header has {self.width}")
        fields.append("")
        try:
            return tuple([convert(fields[index]) for index, convert in self.steps])
        except _RowError:
            pass
        for column, (index, convert) in zip(COLUMNS, self.steps):  # name the first bad column
            try:
                convert(fields[index])
            except _RowError as exc:
                raise _RowError(f"{column} {exc}") from None
        raise AssertionError("unreachable")


_CUSTOMER = COLUMNS.index("customer_id")
_CURRENCY_AT = COLUMNS.index("customer_card_currency")


def import_cdrs(
    db: Database,
    actor: Actor,
    path: str | Path,
    *,
    skip_bad: bool = False,
    create_customers: bool = False,
    comment: str = "",
    progress: Progress | None = None,
    cancel: Callable[[], bool] | None = None,
) -> ImportResult:
    """Import a CDR CSV file; one audit entry for the rows, one per placeholder customer.

    Raises ``BadRowsError`` (nothing imported) when a row is malformed and ``skip_bad``
    is off; ``Cancelled`` (nothing imported) when ``cancel()`` turns true.
    ``progress(bytes_read, file_size)`` is called after every chunk.
    """
    actor.require("import_cdrs")
    path = Path(path)
    name = path.name
    try:
        raw = path.open("rb")
    except FileNotFoundError:
        raise ValidationError(f"There is no file {path}; check the name and try again.") from None
    except IsADirectoryError:
        raise ValidationError(f"{path} is a folder; choose a CDR CSV file.") from None
    except PermissionError:
        raise ValidationError(f"{path} cannot be read (permission denied); check its permissions.") from None
    size = path.stat().st_size
    result = ImportResult()
    with raw, unit_of_work(db, actor, comment) as uow:
        reader = csv.reader(io.TextIOWrapper(raw, encoding="utf-8-sig", errors="replace", newline=""))
        try:
            header = next(reader)
        except StopIteration:
            raise ValidationError(f"{name} is empty; it needs a header line and CDR rows.") from None
        except csv.Error:
            raise ValidationError(f"line 1 of {name} is not a CSV header; export the CDRs as CSV again.") from None
        parse = _RowParser(header, name, db.is_sqlite)
        rollup.hold_off(uow.session)
        conn = uow.session.connection()
        known = set(uow.session.scalars(select(Customer.id)))
        mark = "?" if db.is_sqlite else "%s"
        insert = (f"INSERT INTO cdrs ({', '.join(COLUMNS)}) VALUES ({', '.join([mark] * len(COLUMNS))}) "
                  "ON CONFLICT (callid) DO NOTHING")
        batch: list[tuple] = []

        def flush() -> None:
            if batch:
                # one audit entry for the whole import is recorded below
                result.imported += max(conn.exec_driver_sql(insert, batch).rowcount, 0)
                batch.clear()
            if cancel is not None and cancel():
                raise Cancelled("CDR import cancelled; nothing was imported.")
            if progress is not None:
                progress(raw.tell(), size)

        def accept(fields: list[str] | str) -> tuple | None:
            """The row to insert, None to only check it; _RowError when it is bad."""
            if isinstance(fields, str):
                raise _RowError(fields)
            row = parse(fields)
            customer_id = row[_CUSTOMER]
            if customer_id not in known:
                if not create_customers:
                    raise _RowError(f"customer_id {customer_id} is not a customer in cxdesk")
                if result.bad_count and not skip_bad:
                    return None  # nothing will be imported: create nothing either
                _create_placeholder(uow, customer_id, row[_CURRENCY_AT])
                known.add(customer_id)
                result.customers_created.append(customer_id)
            return row if skip_bad or not result.bad_count else None

        for line, fields in _records(reader):
            result.rows += 1
            try:
                row = accept(fields)
            except _RowError as exc:
                result.bad_count += 1
                if len(result.bad_rows) < MAX_REPORTED:
                    result.bad_rows.append(BadRow(line, str(exc)))
            else:
                if row is not None:
                    batch.append(row)
            if result.rows % CHUNK == 0:
                flush()
        flush()
        if result.bad_count and not skip_bad:
            raise BadRowsError(name, result.bad_count, result.bad_rows)
        if result.customers_created and db.is_postgres:
            # placeholders took explicit ids: move the id sequence past them
            uow.session.execute(text(
                "SELECT setval(pg_get_serial_sequence('customers', 'id'), (SELECT max(id) FROM customers))"
            ))
        result.duplicates = result.rows - result.bad_count - result.imported
        if result.imported:
            uow.record("POST", "cdrs", f"{result.imported} rows", f"Imported CDRs from {name}: {result.sentence()}",
                       after={"file": name, "imported": result.imported, "duplicates": result.duplicates,
                              "bad_rows_skipped": result.bad_count})
    return result


def _records(reader) -> Iterator[tuple[int, list[str] | str]]:
    """(first line number, fields) of each non-blank record; a record the csv module
    cannot read comes with the reason instead of fields."""
    previous = reader.line_num
    while True:
        try:
            fields = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            fields = f"is not valid CSV ({exc})"
        line, previous = previous + 1, reader.line_num
        if fields:
            yield line, fields


def _create_placeholder(uow, customer_id: int, currency: str) -> None:
    """Add customer ``customer_id`` named "Customer <id>"; _RowError when the name is taken."""
    name = f"Customer {customer_id}"
    if uow.session.scalar(select(Customer.id).where(Customer.name == name)) is not None:
        raise _RowError(f"customer_id {customer_id} is not a customer in cxdesk and the placeholder name "
                        f"'{name}' is taken; create the customer first")
    uow.add(Customer(id=customer_id, name=name, status="Pending Approval", currency=currency or "USD"),
            message=f"Created placeholder customer {customer_id} for imported CDRs")
    uow.flush()
