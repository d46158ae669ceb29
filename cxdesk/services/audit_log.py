"""Reading the audit log: search, filter, sort and page in SQL, view an entry's difference,
verify the chain (and record the check), export to XLSX or CSV.

Every query is built from one :class:`AuditQuery`, so the window, its funnels, the count
and the export always agree. Pages are read by keyset (``after=`` the last row shown):
with the (column, id) indexes of ``audit_entries`` a page deep in a million entries costs
what the first one does. Free-text columns (message, comment) sort by their first
``SORT_PREFIX`` characters, then by id.
"""
from __future__ import annotations

import contextlib
import csv
import dataclasses
import datetime as dt
import json
import os
import re
import weakref
from collections.abc import Callable, Iterator, Mapping
from typing import Any, NamedTuple

from sqlalchemy import (ColumnElement, Select, String, column, func, literal, literal_column, or_, select,
                        table, text, tuple_, type_coerce)
from sqlalchemy.orm import Session

from cxdesk.db import Database
from cxdesk.errors import Cancelled, NotFound, ValidationError
from cxdesk.models import AuditEntry
from cxdesk.models.audit import SEARCH_TABLE, SORT_PREFIX
from cxdesk.services import audit_chain, jsondiff
from cxdesk.services.export import atomic_file
from cxdesk.services.actor import Actor
from cxdesk.services.export_safety import safe_text
from cxdesk.services.uow import unit_of_work

Progress = Callable[[int, int], None]
CancelCheck = Callable[[], bool]

#: column key -> header, in the window's order (which adds "Data", the View Difference link)
HEADERS: dict[str, str] = {
    "actor": "User",
    "ip": "IP",
    "created_at": "Date / Time",
    "primary_key": "Primary Key",
    "action": "Action",
    "table_name": "Table",
    "message": "Message",
    "comment": "Comment",
}
#: columns with a funnel of values and text (the date has the date range instead)
FILTERABLE = ("actor", "ip", "primary_key", "action", "table_name", "message", "comment")
SORTABLE = ("id", *HEADERS)
PAGE_SIZE = 200
EXCEL_MAX_ROWS = 1_048_575  # one sheet, below the header row
EXCEL_MAX_CELL = 32_767


@dataclasses.dataclass(frozen=True)
class AuditQuery:
    """What the log shows: the same object drives the page, the count, the funnels and the export.

    ``values``: per column, the ticked values (an empty tuple shows nothing);
    ``texts``: per column, text the value must contain; ``search``: words that must each
    appear in the entry: in any column or the customer id (so searching a customer's,
    contact's or extension's id or number finds its entries), or, for a word with digits
    and "-" or ":", in the time as YYYY-MM-DD HH:MM:SS UTC; all case-insensitive.
    ``date_from``/``date_to``: a ``date`` covers its whole UTC day, an aware ``datetime``
    is an exact bound; both ends included. ``sort``: "id" (the order entries were
    written) or a column of HEADERS.
    """

    search: str = ""
    values: Mapping[str, tuple[str, ...]] = dataclasses.field(default_factory=dict)
    texts: Mapping[str, str] = dataclasses.field(default_factory=dict)
    date_from: dt.date | dt.datetime | None = None
    date_to: dt.date | dt.datetime | None = None
    customer_id: int | None = None
    sort: str = "id"
    descending: bool = True

    def __post_init__(self) -> None:
        for key in (*self.values, *self.texts):
            if key not in FILTERABLE:
                raise ValueError(f"no filter on audit column {key!r}")
        if self.sort not in SORTABLE:
            raise ValueError(f"cannot sort the audit log by {self.sort!r}")
        start, end = _lower(self.date_from), _upper(self.date_to)
        if start is not None and end is not None and start > end:
            raise ValidationError("The start date is after the end date; swap them or change one.", field="date_from")

    def replace(self, **changes: Any) -> AuditQuery:
        return dataclasses.replace(self, **changes)


class AuditRow(NamedTuple):
    """One line of the log as the window shows it (without the JSON documents)."""

    id: int
    actor: str
    ip: str
    created_at: dt.datetime
    primary_key: str
    action: str
    table_name: str
    message: str
    comment: str
    customer_id: int | None
    has_data: bool


_ROW_COLUMNS = (
    AuditEntry.id, AuditEntry.actor, AuditEntry.ip, AuditEntry.created_at,
    AuditEntry.primary_key, AuditEntry.action, AuditEntry.table_name, AuditEntry.message,
    AuditEntry.comment, AuditEntry.customer_id,
    or_(AuditEntry.before.is_not(None), AuditEntry.after.is_not(None)).label("has_data"),
)


def _day_start(day: dt.date) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, tzinfo=dt.timezone.utc)


def _aware(value: dt.datetime) -> dt.datetime:
    if value.tzinfo is None:
        raise ValueError("audit date bounds must be timezone-aware")
    return value


def _lower(value: dt.date | dt.datetime | None) -> dt.datetime | None:
    if value is None:
        return None
    return _aware(value) if isinstance(value, dt.datetime) else _day_start(value)


def _upper(value: dt.date | dt.datetime | None) -> dt.datetime | None:
    """Inclusive upper bound (a day ends one microsecond before the next one starts)."""
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return _aware(value)
    return _day_start(value) + dt.timedelta(days=1, microseconds=-1)


def _column(key: str):
    return getattr(AuditEntry, key)


def _sort_key(key: str):
    """The expression a column sorts by: the one its index holds."""
    if key in ("message", "comment"):
        # literal constants, so the expression matches the index's (a bound parameter would not)
        return func.substr(_column(key), literal_column("1"), literal_column(str(SORT_PREFIX)))
    return _column(key)


# -- search ------------------------------------------------------------------------------
# The search box matches substrings of the row's text: the columns and the customer id,
# and the time (YYYY-MM-DD HH:MM:SS, UTC) for a word that looks like a date or a time
# (digits with "-" or ":"). Words of 3 characters or more use the
# migration's substring index where there is one: the FTS5 trigram table on SQLite (it
# also gives matches in id order, so the first page needs no sort), the pg_trgm index of
# PG_SEARCH_TEXT on PostgreSQL. Shorter words scan.

_FTS = table(SEARCH_TABLE, column("rowid"))
_FTS_PRESENT: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
#: the text the pg_trgm index of the migration covers (the same expression, or no index use)
PG_SEARCH_TEXT = literal_column(
    "(audit_entries.actor || ' ' || audit_entries.ip || ' ' || audit_entries.primary_key"
    " || ' ' || audit_entries.action || ' ' || audit_entries.table_name || ' ' ||"
    " audit_entries.message || ' ' || audit_entries.comment || ' ' ||"
    " coalesce(audit_entries.customer_id::text, ''))"
)
_DATE_LIKE = re.compile(r"[\d.: T-]*\d[-:][\d.: T-]*")
#: on SQLite, the planner always takes an equality index, then sorts every match; for
#: these few-valued columns walking the sort index and testing the value is far faster
_FEW_VALUES = ("action", "table_name")


def _fts(session: Session) -> bool:
    bind = session.get_bind()
    if bind.dialect.name != "sqlite":
        return False
    found = _FTS_PRESENT.get(bind.pool)
    if found is None:
        found = session.execute(
            text("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = :n"), {"n": SEARCH_TABLE}
        ).first() is not None
        _FTS_PRESENT[bind.pool] = found
    return found


def _phrase(word: str) -> str:
    return '"' + word.replace('"', '""') + '"'


def _like(session: Session, col, word: str) -> ColumnElement[bool]:
    """Case-insensitive substring test (SQLite's LIKE already ignores ASCII case)."""
    if session.get_bind().dialect.name == "sqlite":
        return col.contains(word, autoescape=True)
    return col.icontains(word, autoescape=True)


def _anywhere(session: Session, word: str) -> ColumnElement[bool]:
    """``word`` in any column without the substring index (a short word, or no index)."""
    if session.get_bind().dialect.name == "sqlite":
        # LIKE reads an integer as text; the stored time is text with microseconds
        cols = [_column(k) for k in FILTERABLE] + [type_coerce(AuditEntry.customer_id, String)]
        if _DATE_LIKE.fullmatch(word):
            cols.append(func.substr(type_coerce(AuditEntry.created_at, String), 1, 19))
        return or_(*(c.contains(word, autoescape=True) for c in cols))
    test = PG_SEARCH_TEXT.icontains(word, autoescape=True)
    if _DATE_LIKE.fullmatch(word):
        stamp = func.to_char(func.timezone("UTC", AuditEntry.created_at), "YYYY-MM-DD HH24:MI:SS")
        test = or_(test, stamp.icontains(word, autoescape=True))
    return test


def _fts_word(word: str) -> str:
    """The FTS5 query for ``word`` in any column (the time only if ``word`` looks like one)."""
    if _DATE_LIKE.fullmatch(word):
        return _phrase(word)
    return f"{{{' '.join(FILTERABLE)} customer_id}} : {_phrase(word)}"


def _terms(session: Session, q: AuditQuery, skip: str | None = None,
           text_in: str = "", use_index: bool = True) -> tuple[list[ColumnElement[bool]], str]:
    """The WHERE terms of ``q`` and its full-text MATCH query ("" if none). ``skip`` leaves
    out one column's own filter (for its funnel), which must then contain ``text_in``.
    ``use_index=False`` tests every word with LIKE instead (the same matches)."""
    fts = use_index and _fts(session)
    sqlite = session.get_bind().dialect.name == "sqlite"
    terms: list[ColumnElement[bool]] = []
    match: list[str] = []
    if q.customer_id is not None:
        terms.append(AuditEntry.customer_id == q.customer_id)
    start, end = _lower(q.date_from), _upper(q.date_to)
    if start is not None:
        terms.append(AuditEntry.created_at >= start)
    if end is not None:
        terms.append(AuditEntry.created_at <= end)
    for key, values in q.values.items():
        if key == skip:
            continue
        col = _column(key)
        if sqlite and key in _FEW_VALUES and q.sort != key and (len(values) > 1 or q.sort != "id"):
            col = col.concat("")  # same value, but no index: SQLite walks the sort order
        terms.append(col.in_(list(values)))
    texts = {k: t for k, t in q.texts.items() if k != skip and t}
    if skip and text_in:
        texts[skip] = text_in
    for key, word in texts.items():
        if fts and len(word) >= 3:
            match.append(f"{{{key}}} : {_phrase(word)}")
        else:
            terms.append(_like(session, _column(key), word))
    for word in q.search.split():
        if fts and len(word) >= 3:
            match.append(_fts_word(word))
        else:
            terms.append(_anywhere(session, word))
    return terms, " AND ".join(match)


def _matches(match: str) -> ColumnElement[bool]:
    return literal_column(SEARCH_TABLE).op("MATCH")(match)


def _select(session: Session, q: AuditQuery, *columns) -> tuple[Select, Any]:
    """SELECT ``columns`` of the entries ``q`` selects, and the expression of their id: the
    full-text table's rowid when it drives the query (it yields rowids in order, so an id
    order needs no sort and stops at the page's end)."""
    terms, match = _terms(session, q)
    stmt = select(*columns).select_from(AuditEntry).where(*terms)
    if not match:
        return stmt, AuditEntry.id
    return stmt.join(_FTS, _FTS.c.rowid == AuditEntry.id).where(_matches(match)), _FTS.c.rowid


def _order(q: AuditQuery, ident) -> list:
    keys = [_sort_key(q.sort), AuditEntry.id] if q.sort != "id" else [ident]
    return [k.desc() if q.descending else k.asc() for k in keys]


def _after(q: AuditQuery, row: AuditRow, ident) -> ColumnElement[bool]:
    """Rows that come after ``row`` in the query's order (keyset paging)."""
    if q.sort == "id":
        return ident < row.id if q.descending else ident > row.id
    value = getattr(row, q.sort)
    if q.sort in ("message", "comment"):
        value = value[:SORT_PREFIX]
    key = tuple_(_sort_key(q.sort), AuditEntry.id)
    bound = tuple_(literal(value, _column(q.sort).type), literal(row.id))
    return key < bound if q.descending else key > bound


def count(session: Session, q: AuditQuery) -> int:
    stmt, _ = _select(session, q, func.count())
    return session.execute(stmt).scalar_one()


#: rows of a sort column's index a search looks through before it sorts its matches instead
SORTED_WALK = 20_000


def _walk_sorted(session: Session, q: AuditQuery, limit: int, after: AuditRow | None) -> list | None:
    """A search sorted by a column: read the first SORTED_WALK rows of the column's index
    and test them. When a whole page matches there, it is exactly the first page of all
    matches (nothing later in the index can come before it), without listing every match
    of a common word first. None when the matches are too sparse for that."""
    order = _order(q, AuditEntry.id)
    window = select(AuditEntry.id).order_by(*order)
    if after is not None:
        window = window.where(_after(q, after, AuditEntry.id))
    window = window.limit(SORTED_WALK).subquery()
    terms, _ = _terms(session, q, use_index=False)
    stmt = (select(*_ROW_COLUMNS).select_from(AuditEntry).join(window, window.c.id == AuditEntry.id)
            .where(*terms).order_by(*order).limit(limit))
    rows = session.execute(stmt).all()
    return rows if len(rows) == limit else None


def page(session: Session, q: AuditQuery, offset: int = 0, limit: int = PAGE_SIZE,
         after: AuditRow | None = None) -> list[AuditRow]:
    """Rows of the log in the query's order: ``limit`` rows after the row ``after`` (fast at
    any depth), or after skipping ``offset`` rows (cost grows with the offset)."""
    if q.sort != "id" and q.search.strip() and not offset and limit and _fts(session):
        rows = _walk_sorted(session, q, limit, after)
        if rows is not None:
            return [AuditRow(*r[:-1], bool(r[-1])) for r in rows]
    stmt, ident = _select(session, q, *_ROW_COLUMNS)
    stmt = stmt.order_by(*_order(q, ident))
    if after is not None:
        stmt = stmt.where(_after(q, after, ident))
    rows = session.execute(stmt.offset(offset or None).limit(limit)).all()
    return [AuditRow(*r[:-1], bool(r[-1])) for r in rows]


def distinct_values(session: Session, column: str, q: AuditQuery, limit: int = 200,
                    text: str = "") -> list[str]:
    """Values of ``column`` among the entries the rest of ``q`` selects (for its funnel),
    sorted, at most ``limit``; ``text`` keeps those that contain it.

    A skip scan: each value is one index seek past the previous one (a recursive CTE), so a
    column with few values answers at once however long the log is."""
    if column not in FILTERABLE:
        raise ValueError(f"no funnel on audit column {column!r}")
    col, key = _column(column), _sort_key(column)
    terms, match = _terms(session, q, skip=column, text_in=text)
    if match:
        terms.append(AuditEntry.id.in_(select(_FTS.c.rowid).where(_matches(match))))
    seed = select(func.min(key).label("v")).where(*terms).cte("seen", recursive=True)
    step = select(select(func.min(key)).where(key > seed.c.v, *terms).scalar_subquery())
    seen = seed.union_all(step.where(seed.c.v.is_not(None)))
    keys = list(session.execute(select(seen.c.v).where(seen.c.v.is_not(None)).limit(limit)).scalars())
    if key is col:
        return keys
    values: list[str] = []
    for prefix in keys:  # a text is its sort key unless it is longer than the key
        if len(prefix) < SORT_PREFIX:
            values.append(prefix)
        else:
            values += session.execute(
                select(col).where(key == prefix, *terms).distinct().order_by(col)).scalars()
    return values[:limit]


def entry(session: Session, entry_id: int) -> AuditEntry:
    found = session.get(AuditEntry, entry_id)
    if found is None:
        raise NotFound(f"There is no audit entry {entry_id}; check the number in the Audit Log.")
    return found


def documents(found: AuditEntry) -> tuple[Any, Any]:
    """The entry's before and after documents (None where the entry has none)."""
    return (None if found.before is None else json.loads(found.before),
            None if found.after is None else json.loads(found.after))


def changes(found: AuditEntry) -> list[jsondiff.Change]:
    """What the entry changed: applied in order to the before-document (``{}`` when there is
    none) they give the after-document (``{}`` for a deletion)."""
    return jsondiff.diff(*documents(found))


def verify_and_record(db: Database, actor: Actor, progress: Progress | None = None,
                      cancel: CancelCheck | None = None, comment: str = "") -> audit_chain.VerifyResult:
    """Walk the whole chain in one consistent snapshot, then record the check in the log.
    Raises ``Cancelled`` (nothing recorded) when ``cancel()`` turns true."""
    from cxdesk.services import audit_witness

    actor.require("verify_audit")
    result = audit_chain.verify_database(db, progress, cancel)
    witnessed = audit_witness.check_database(db, record=result.ok, first_use="verify")
    if result.ok and not witnessed.ok:  # intact as a chain, but not what this workstation saw
        result = audit_chain.VerifyResult(False, result.count, None, witnessed.sentence, text=witnessed.sentence)
    with unit_of_work(db, actor, comment) as uow:
        uow.record(
            "POST", "audit_entries", "" if result.ok else result.bad_id,
            f"Verified the audit log: {result.count} entries intact" if result.ok
            else f"Verified the audit log: {result.text}" if result.text
            else f"Verified the audit log: broken at entry {result.bad_id} ({result.reason})",
            after={"intact": result.ok, "verified_entries": result.count, "first_bad_entry": result.bad_id},
        )
    return result


# -- export ------------------------------------------------------------------------------

EXPORT_HEADERS = ["Entry ID", "User", "IP", "Date / Time (UTC)", "Primary Key", "Action",
                  "Table", "Message", "Comment", "Customer ID", "Changed Paths", "Before", "After"]
_EXPORT_CHUNK = 1000


def _export_rows(session: Session, q: AuditQuery, progress: Progress | None,
                 cancel: CancelCheck | None, total: int) -> Iterator[list[Any]]:
    cols = (AuditEntry.id, AuditEntry.actor, AuditEntry.ip, AuditEntry.created_at,
            AuditEntry.primary_key, AuditEntry.action, AuditEntry.table_name, AuditEntry.message,
            AuditEntry.comment, AuditEntry.customer_id, AuditEntry.before, AuditEntry.after)
    stmt, ident = _select(session, q, *cols)
    stmt = stmt.order_by(*_order(q, ident))
    done = 0
    for chunk in session.execute(stmt.execution_options(yield_per=_EXPORT_CHUNK)).partitions():
        if cancel is not None and cancel():
            raise Cancelled()
        for row in chunk:
            before = None if row.before is None else json.loads(row.before)
            after = None if row.after is None else json.loads(row.after)
            paths = "\n".join(jsondiff.format_path(c.path) or "(document)"
                              for c in jsondiff.diff(before, after))
            yield [row.id, row.actor, row.ip, row.created_at, row.primary_key, row.action,
                   row.table_name, row.message, row.comment, row.customer_id, paths,
                   row.before or "", row.after or ""]
        done += len(chunk)
        if progress is not None:
            progress(done, total)
    if cancel is not None and cancel():
        raise Cancelled()


def _csv_text(value: Any) -> Any:
    if isinstance(value, str):
        return safe_text(value)
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
    return "" if value is None else value


def export_csv(session: Session, q: AuditQuery, path: str | os.PathLike[str],
               progress: Progress | None = None, cancel: CancelCheck | None = None) -> int:
    """The filtered log as CSV (UTF-8 with BOM, CRLF); returns the number of entries."""
    total = count(session, q)
    with atomic_file(path) as temp, open(temp, "w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(EXPORT_HEADERS)
        for values in _export_rows(session, q, progress, cancel, total):
            writer.writerow([_csv_text(v) for v in values])
    return total


def _xlsx_text(value: str) -> str:
    text = safe_text(value)
    if len(text) > EXCEL_MAX_CELL:  # Excel refuses longer cells; `cxdesk audit diff` shows all
        note = " ... (cut: longer than an Excel cell holds)"
        text = text[:EXCEL_MAX_CELL - len(note)] + note
    return text


def export_xlsx(session: Session, q: AuditQuery, path: str | os.PathLike[str],
                progress: Progress | None = None, cancel: CancelCheck | None = None) -> int:
    """The filtered log as an Excel sheet, one row per entry; returns the number of entries."""
    from openpyxl import Workbook  # loaded on first export, not at the program's start
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font

    total = count(session, q)
    if total > EXCEL_MAX_ROWS:
        raise ValidationError(
            f"The filtered log has {total:,} entries, more than an Excel sheet holds "
            f"({EXCEL_MAX_ROWS:,}); narrow the filter or export CSV."
        )
    with atomic_file(path) as temp:
        wb = Workbook(write_only=True)
        ws = wb.create_sheet("Audit Log")
        try:
            for letter, width in zip("ABCDEFGHIJKLM", (10, 16, 15, 20, 12, 10, 16, 60, 30, 12, 30, 50, 50)):
                ws.column_dimensions[letter].width = width
            ws.freeze_panes = "A2"
            header = []
            for title in EXPORT_HEADERS:
                cell = WriteOnlyCell(ws, title)
                cell.font = Font(bold=True)
                header.append(cell)
            ws.append(header)
            for values in _export_rows(session, q, progress, cancel, total):
                # safe_text never starts with "=", so openpyxl keeps every string a string
                ws.append([_xlsx_text(v) if isinstance(v, str)
                           else v.astimezone(dt.timezone.utc).replace(tzinfo=None) if isinstance(v, dt.datetime)
                           else v for v in values])
            wb.save(temp)
        except BaseException:
            _discard(ws)
            raise
    return total


def _discard(ws) -> None:
    """Close an aborted write-only sheet and remove its temporary file (best effort)."""
    writer = getattr(ws, "_writer", None)
    with contextlib.suppress(Exception):
        if not ws.closed:
            ws.close()
    with contextlib.suppress(Exception):
        if writer is not None:
            writer.cleanup()
