"""Import the platform's CDR CSV: streamed, checked row by row, all or nothing, resumable.

The header names the columns (any order, case-insensitive, extra columns ignored); times
are UTC, ISO 8601 or "YYYY-MM-DD HH:MM:SS", inside a window (default 2000-01-01 through
tomorrow, UTC). Amounts and counts are plain ASCII decimals (no exponent, no other
digits). A CDR's currency must be its customer's. Every malformed row is reported with
its line number, field and reason; an unterminated quote is reported at the line where
it opened. Without ``skip_bad`` one bad row means nothing is imported; with it the good
rows are. A ``callid`` seen before (in the database or earlier in the file) with the same
values counts as already imported; with other values it is a conflict, a bad row showing
both.

Checked rows are staged in slices, moved into ``cdrs`` in slices (still invisible), and
become visible in one final tiny audited step (see :mod:`cxdesk.services.cdr_staging`), so
no transaction of an import holds the write lock for long and other workstations keep
saving. An import that was killed resumes after its last slice, staged or moved, when the
same file is imported again with the same options.

Rows go in with one driver-level ``executemany`` per slice, in the storage form of the
``Exact`` and ``UTCDateTime`` column types (see :func:`_native`): the generic ORM path
costs several times more per row than SQLite needs for the insert itself.
"""
from __future__ import annotations

import contextlib
import csv
import datetime as dt
import hashlib
import io
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from sqlalchemy import select, text

from cxdesk.db import Database
from cxdesk.errors import Cancelled, ConflictError, ValidationError
from cxdesk.models import Cdr, Customer
from cxdesk.models.base import MONEY_MAX, MONEY_SCALE
from cxdesk.services import audit_reconcile, rollup
from cxdesk.services import cdr_staging as staging
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
    resumed_at: int = 0  #: the line an interrupted import of this file went on from (0: not resumed)

    def sentence(self) -> str:
        parts = [f"imported {self.imported:,} CDRs"]
        if self.resumed_at:
            parts.insert(0, f"resumed an interrupted import at line {self.resumed_at:,}")
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


_PLAIN_DECIMAL = re.compile(r"-?[0-9]+(?:\.[0-9]+)?")


def _money(value: str) -> Decimal:
    value = value.strip()
    if not _PLAIN_DECIMAL.fullmatch(value):  # also refuses 1e2, NaN, 1_000 and non-ASCII digits
        raise _RowError(f"{_show(value)} is not an amount like 0.0123 (digits 0-9 and one decimal point)")
    try:
        amount = Decimal(value)
    except InvalidOperation:  # pragma: no cover - the pattern admits only plain decimals
        raise _RowError(f"{_show(value)} is not an amount like 0.0123") from None
    if amount < 0:
        raise _RowError(f"{_show(value)} is negative")
    if amount > MONEY_MAX:
        raise _RowError(f"{_show(value)} is too large")
    exact = amount.quantize(_MICRO)
    if exact != amount:
        raise _RowError(f"{_show(value)} has more than {MONEY_SCALE} decimal places")
    return exact


def _utc_time(value: str) -> dt.datetime | None:
    """The UTC time, or None when it lies outside what Python can hold (year 1 at +14:00)."""
    value = value.strip()
    try:
        moment = dt.datetime.fromisoformat(value) if value.isascii() else None
    except ValueError:
        moment = None
    if moment is None or ("T" not in value and " " not in value):
        raise _RowError(f"{_show(value)} is not a UTC date and time like 2026-01-05 10:00:00")
    try:
        return moment.replace(tzinfo=_UTC) if moment.tzinfo is None else moment.astimezone(_UTC)
    except OverflowError:
        return None


#: the widest window a user may choose: summaries and invoices must be able to compute
#: the periods around every call
WINDOW_BOUNDS = (dt.date(1970, 1, 1), dt.date(2999, 12, 31))


@dataclass(frozen=True)
class Window:
    """Call times accepted: from ``earliest`` 00:00 up to the end of ``latest`` (UTC)."""

    earliest: dt.date
    latest: dt.date

    @classmethod
    def default(cls) -> Window:
        return cls(dt.date(2000, 1, 1), dt.datetime.now(_UTC).date() + dt.timedelta(days=1))

    def __str__(self) -> str:
        return f"{self.earliest.isoformat()} to {self.latest.isoformat()} (UTC)"

    def parser(self) -> Callable[[str], dt.datetime]:
        low = dt.datetime.combine(self.earliest, dt.time(), _UTC)
        high = dt.datetime.combine(self.latest, dt.time(), _UTC) + dt.timedelta(days=1)

        def parse(value: str) -> dt.datetime:
            moment = _utc_time(value)
            if moment is None or not low <= moment < high:
                raise _RowError(f"{_show(value.strip())} is outside the accepted window {self}; "
                                "correct the time or widen the window")
            return moment
        return parse


def parse_window(earliest: str | None = None, latest: str | None = None) -> Window:
    """The window from two optional YYYY-MM-DD dates (the defaults fill the others)."""
    default = Window.default()
    dates = []
    for name, given, fallback in (("earliest", earliest, default.earliest), ("latest", latest, default.latest)):
        if given is None:
            dates.append(fallback)
            continue
        try:
            day = dt.date.fromisoformat(given.strip()) if given.strip().isascii() else None
        except ValueError:
            day = None
        if day is None or not WINDOW_BOUNDS[0] <= day <= WINDOW_BOUNDS[1]:
            raise ValidationError(f"The {name} date {given.strip()[:40]!r} is not a date between "
                                  f"{WINDOW_BOUNDS[0]} and {WINDOW_BOUNDS[1]} like 2026-01-05.", field=name)
        dates.append(day)
    if dates[0] > dates[1]:
        raise ValidationError(f"The earliest date {dates[0]} is after the latest date {dates[1]}; swap them.",
                              field="earliest")
    return Window(*dates)


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
    "callid": _text(_length("callid")), "customer_id": _customer_id,
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


def _converter(column: str, is_sqlite: bool, window: Window) -> Callable[[str], Any]:
    """Text of one column -> its stored value; raises _RowError with the reason."""
    parse = window.parser() if column == "dt" else _PARSERS[column]
    time_native, money_native = _native(is_sqlite)
    native = time_native if column == "dt" else money_native if parse is _money else None
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

    def __init__(self, header: list[str], name: str, is_sqlite: bool, window: Window) -> None:
        names = [h.strip().lower() for h in header]
        self.names = names
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
        self.steps = [(names.index(c) if c in seen else -1, _converter(c, is_sqlite, window)) for c in COLUMNS]

    def __call__(self, fields: list[str], line: int, end: int) -> tuple:
        if end > line and (len(fields) != self.width or self._swallowed(fields)):
            raise self._open_quote(fields, line, end)
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
                if "\n" in fields[index] and end > line:
                    raise self._open_quote(fields, line, end) from None
                raise _RowError(f"{column} {exc}") from None
        raise AssertionError("unreachable")

    def _swallowed(self, fields: list[str]) -> bool:
        """A field holding a line break and a whole record's worth of commas."""
        return any("\n" in f and f.count(",") >= self.width - 1 for f in fields)

    def _open_quote(self, fields: list[str], line: int, end: int) -> _QuoteError:
        """A record over several lines with the wrong field count: a quote left open swallowed lines."""
        at = next(i for i, f in enumerate(fields) if "\n" in f or "\r" in f)
        opened = line + sum(f.count("\n") for f in fields[:at])
        column = self.names[at] if at < len(self.names) else f"field {at + 1}"
        return _QuoteError(opened, f"the quote that opens {column} on this line is never closed: it runs "
                                   f"to line {end} and swallows the lines between (close the quote)")


class _QuoteError(_RowError):
    def __init__(self, line: int, reason: str) -> None:
        super().__init__(reason)
        self.line = line




_CALLID = COLUMNS.index("callid")
_CUSTOMER = COLUMNS.index("customer_id")
_CURRENCY_AT = COLUMNS.index("customer_card_currency")
_VALUES = tuple(c for c in COLUMNS if c != "callid")  #: what "the same content" compares
_MONEY = {"customer_charge", "customer_card_rate", "provider_charge"}


def _shown(column: str, value: Any) -> str:
    """A stored value as a user reads it (SQLite keeps micro-units and naive UTC text)."""
    if column in _MONEY:
        amount = Decimal(value).scaleb(-MONEY_SCALE) if isinstance(value, int) else Decimal(value)
        return f"{amount.normalize():f}"
    if isinstance(value, dt.datetime):
        value = value.astimezone(_UTC).replace(tzinfo=None).isoformat(" ")
    if column == "dt":
        return str(value).removesuffix(".000000")
    return "empty" if value in ("", None) else repr(value) if isinstance(value, str) else str(value)


def _differences(before: tuple, here: tuple) -> str:
    diffs = [f"{c} {_shown(c, a)} there, {_shown(c, b)} here"
             for c, a, b in zip(_VALUES, before, here) if a != b]
    return "; ".join(diffs[:3]) + ("; ..." if len(diffs) > 3 else "")


def _file_key(raw, options: dict) -> str:
    digest = hashlib.sha256(json.dumps(options, sort_keys=True).encode())
    for block in iter(lambda: raw.read(1 << 20), b""):
        digest.update(block)
    raw.seek(0)
    return digest.hexdigest()


def _open(path: Path):
    try:
        return path.open("rb")
    except FileNotFoundError:
        raise ValidationError(f"There is no file {path}; check the name and try again.") from None
    except IsADirectoryError:
        raise ValidationError(f"{path} is a folder; choose a CDR CSV file.") from None
    except PermissionError:
        raise ValidationError(f"{path} cannot be read (permission denied); check its permissions.") from None
    except OSError as exc:  # a name too long, a broken disk...
        raise ValidationError(f"Cannot read {path}: {exc.strerror or exc}; check the file name.", field="file") from None


def import_cdrs(
    db: Database,
    actor: Actor,
    path: str | Path,
    *,
    skip_bad: bool = False,
    create_customers: bool = False,
    window: Window | None = None,
    comment: str = "",
    progress: Progress | None = None,
    cancel: Callable[[], bool] | None = None,
) -> ImportResult:
    """Import a CDR CSV file; one audit entry for the rows, one per placeholder customer.

    Raises ``BadRowsError`` (nothing imported) when a row is malformed and ``skip_bad``
    is off; ``Cancelled`` (nothing imported) when ``cancel()`` turns true.
    ``progress(bytes_read, file_size)`` is called after every slice. A run of the same
    file with the same options that was killed before it finished is resumed.
    """
    actor.require("import_cdrs")
    path = Path(path)
    raw = _open(path)
    with raw:
        return _Import(db, actor, path, raw, skip_bad, create_customers, window or Window.default(),
                       comment, progress, cancel).run()


class _Import:
    def __init__(self, db, actor, path, raw, skip_bad, create_customers, window, comment, progress, cancel):
        self.db, self.actor, self.raw, self.comment = db, actor, raw, comment
        self.name, self.size = path.name, path.stat().st_size
        self.skip_bad, self.create_customers, self.window = skip_bad, create_customers, window
        self.progress, self.cancel = progress, cancel
        self.result = ImportResult()
        self.pending: list[tuple[int, tuple]] = []  #: parsed rows not staged yet
        self.line = 1

    # -- the steps ---------------------------------------------------------------------
    def run(self) -> ImportResult:
        key = _file_key(self.raw, {"skip_bad": self.skip_bad, "create_customers": self.create_customers,
                                   "window": str(self.window)})
        reader = csv.reader(io.TextIOWrapper(self.raw, encoding="utf-8-sig", errors="replace", newline=""))
        try:
            header = next(reader)
        except StopIteration:
            raise ValidationError(f"{self.name} is empty; it needs a header line and CDR rows.") from None
        except csv.Error:
            raise ValidationError(f"line 1 of {self.name} is not a CSV header; export the CDRs as CSV again.") from None
        self.parse = _RowParser(header, self.name, self.db.is_sqlite, self.window)
        self._clear_leftovers()
        with self._write() as conn:
            self.state, resumed = staging.find_or_start(conn, key, self.name)
        if resumed:
            self.result.resumed_at = self.state.line + 1
        with self.db.read_session() as s:
            self.currency = dict(s.execute(select(Customer.id, Customer.currency)).tuples().all())
        try:
            self._read(reader)
        except Cancelled:
            self._clear(self.state.id)  # cancelled on purpose: nothing stays staged either
            raise
        # any other error or interruption keeps what is staged: the next run resumes it
        if self.state.bad_count and not self.skip_bad:
            self._clear(self.state.id)
            self._fill_result()
            raise BadRowsError(self.name, self.result.bad_count, self.result.bad_rows)
        self._publish()
        self._clear(self.state.id)
        return self.result

    def _read(self, reader) -> None:
        done = self.state.records
        for line, end, fields in _records(reader):
            self.result.rows += 1
            if self.result.rows <= done:  # staged before the import was interrupted
                continue
            self.line = end
            try:
                self._accept(line, end, fields)
            except _RowError as exc:
                self._bad(getattr(exc, "line", line), str(exc))
            if self.result.rows % CHUNK == 0:
                self._slice()
        self._slice()

    def _accept(self, line: int, end: int, fields: list[str] | str) -> None:
        if isinstance(fields, str):
            raise _RowError(fields)
        row = self.parse(fields, line, end)
        customer_id, currency = row[_CUSTOMER], row[_CURRENCY_AT]
        expected = self.currency.get(customer_id) or self.state.customers_new.get(customer_id)
        if expected is None:
            if not self.create_customers:
                raise _RowError(f"customer_id {customer_id} is not a customer in cxdesk")
            _check_placeholder_name(self.db, customer_id)
            expected = self.state.customers_new[customer_id] = currency or "USD"
        if currency and currency != expected:
            raise _RowError(f"customer_card_currency {currency} is not the currency of customer "
                            f"{customer_id} ({expected}); convert the charges or correct the customer")
        self.pending.append((line, row))

    def _bad(self, line: int, reason: str) -> None:
        self.state.bad_count += 1
        if len(self.state.bad_rows) < MAX_REPORTED:
            self.state.bad_rows.append((line, reason))

    def _slice(self) -> None:
        """Stage the pending rows and move the resume marker, in one short write transaction."""
        state = self.state
        with self._write() as conn:
            staging.claim(conn, state, self.name)
            # rows whose callid is new go in; only when some did not is it worth asking why
            if staging.stage_new(conn, state, COLUMNS, _CALLID, self.pending) != len(self.pending):
                self._repeated(conn)
            state.records, state.line = self.result.rows, self.line
            staging.save_marker(conn, state)
        self.pending.clear()
        if self.cancel is not None and self.cancel():
            raise Cancelled("CDR import cancelled; nothing was imported.")
        if self.progress is not None:
            self.progress(self.raw.tell(), self.size)

    def _repeated(self, conn) -> None:
        """Count or report the pending rows whose callid was imported before or is earlier in the file."""
        callids = [row[_CALLID] for _, row in self.pending]
        imported = staging.lookup(conn, _VALUES, callids)
        staged = staging.lookup(conn, _VALUES, callids, self.state)
        for line, row in self.pending:
            callid, values = row[_CALLID], row[:_CALLID] + row[_CALLID + 1:]
            if callid in imported:
                *before, unfinished = imported[callid]
                if unfinished:  # counting it as imported would lose it if that import is given up
                    raise ConflictError(
                        f"callid {_show(callid)} on line {line} of {self.name} is also in another import that has "
                        "not finished (it is running, or was interrupted); let it finish or import its file "
                        "again to complete it, then import this file again.")
                before, where = tuple(before), "was imported before with"
            elif staged.get(callid, (line,))[-1] != line:
                before, where = staged[callid][:-1], f"is on line {staged[callid][-1]} with"
            else:
                continue  # staged from this line
            if before == values:
                self.state.duplicates += 1
            else:
                self._bad(line, f"callid {_show(callid)} {where} other values: {_differences(before, values)}")

    def _publish(self) -> None:
        """Make the rows count: placeholders first, then the rows moved into cdrs slice by
        slice (invisible, each a short transaction), then one tiny audited transaction that
        flips the run to published: all or nothing for every reader."""
        state, result = self.state, self.result
        self._create_placeholders()
        with self.db.read_session() as s:
            staging.redigest(s.connection(), state)
        done = False
        while not done:
            with self._write() as conn:
                staging.claim(conn, state, self.name)
                done, moved = staging.move_slice(conn, state, COLUMNS)
            staging.add_to_digest(state, moved)  # outside the write lock
        with unit_of_work(self.db, self.actor, self.comment) as uow:
            rollup.hold_off(uow.session)  # a rollup sees the run either hidden or published, never both
            conn = uow.session.connection()
            staging.claim(conn, state, self.name)
            found = staging.mark_published(conn, state)
            result.imported = state.moved
            self._fill_result()
            if result.imported:
                uow.record("POST", "cdrs", f"{result.imported} rows",
                           f"Imported CDRs from {self.name}: {result.sentence()}",
                           after={"file": self.name, "imported": result.imported,
                                  "duplicates": result.duplicates, "bad_rows_skipped": result.bad_count,
                                  audit_reconcile.DIGEST_KEY: found})

    def _create_placeholders(self) -> None:
        """The placeholder customers the rows need (before the rows: they refer to them)."""
        new = self.state.customers_new
        if not new:
            return
        with unit_of_work(self.db, self.actor, self.comment) as uow:
            known = set(uow.session.scalars(select(Customer.id).where(Customer.id.in_(new))))
            for customer_id, currency in sorted(new.items()):
                if customer_id not in known:
                    try:
                        _create_placeholder(uow, customer_id, currency)
                    except _RowError as exc:
                        raise ConflictError(f"{self.name}: {exc}.") from None
                    self.result.customers_created.append(customer_id)
            if self.result.customers_created and self.db.is_postgres:
                # placeholders took explicit ids: move the id sequence past them
                uow.session.connection().execute(text(
                    "SELECT setval(pg_get_serial_sequence('customers', 'id'), (SELECT max(id) FROM customers))"))

    def _fill_result(self) -> None:
        result, state = self.result, self.state
        result.bad_count = state.bad_count
        result.bad_rows = [BadRow(line, reason) for line, reason in sorted(state.bad_rows)]
        result.duplicates = result.rows - result.bad_count - result.imported

    # -- housekeeping ------------------------------------------------------------------
    @contextlib.contextmanager
    def _write(self):
        """A short write transaction (no audit entry: staged and moved rows are not data yet);
        a rollup waits until it ends (rollup.hold_off), as for every CDR writer."""
        with unit_of_work(self.db, self.actor, self.comment) as uow:
            rollup.hold_off(uow.session)
            yield uow.session.connection()

    def _clear(self, run_id: int) -> None:
        """Remove a run slice by slice (each a short transaction)."""
        done = False
        while not done:
            with self._write() as conn:
                done = staging.clear_slice(conn, run_id)

    def _clear_leftovers(self) -> None:
        with self.db.read_session() as s:
            leftovers = staging.leftover_runs(s.connection())
        for run_id in leftovers:
            self._clear(run_id)


def _records(reader) -> Iterator[tuple[int, int, list[str] | str]]:
    """(first line, last line, fields) of each non-blank record; a record the csv module
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
            yield line, previous, fields


def _check_placeholder_name(db: Database, customer_id: int) -> None:
    name = f"Customer {customer_id}"
    with db.read_session() as s:
        if s.scalar(select(Customer.id).where(Customer.name == name)) is not None:
            raise _RowError(f"customer_id {customer_id} is not a customer in cxdesk and the placeholder name "
                            f"'{name}' is taken; create the customer first")


def _create_placeholder(uow, customer_id: int, currency: str) -> None:
    """Add customer ``customer_id`` named "Customer <id>"; _RowError when the name is taken."""
    name = f"Customer {customer_id}"
    if uow.session.scalar(select(Customer.id).where(Customer.name == name)) is not None:
        raise _RowError(f"customer_id {customer_id} is not a customer in cxdesk and the placeholder name "
                        f"'{name}' is taken; create the customer first")
    uow.add(Customer(id=customer_id, name=name, status="Pending Approval", currency=currency or "USD"),
            message=f"Created placeholder customer {customer_id} for imported CDRs")
    uow.flush()
