"""Download CDR Report: one customer's CDRs of a period as CSV, in UTC.

The columns carry the platform's names (the same file ``import_cdrs`` reads back), times
are "YYYY-MM-DD HH:MM:SS" UTC and amounts exact with six decimals. The rows are
streamed from a server-side cursor and formatted by the database, so a report of a
million CDRs costs little more than ``csv.writer`` over the bare query does and memory
stays flat. The file appears only when complete: a cancelled or failed report leaves none.

Every text field (callid, source_cli, dest_number, the destination's code and name, the
currency, the SIP and release reasons) goes through ``export_safety.safe_text`` (``safe_texts``, a column at a time): these
come from the switch and from callers (a caller ID is whatever the caller sent), so a
spreadsheet must never take one for a formula. A number that is text there, such as the
caller ID "+441234567890", is written "'+441234567890". The time and the amounts are
numbers formatted by the database and are written as they are.
"""
from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import String, bindparam, func, select, text

from cxdesk.db import Database
from cxdesk.errors import Cancelled
from cxdesk.models import Cdr, UTCDateTime
from cxdesk.models.cdr_staging import VISIBLE_SQL, visible_cdrs
from cxdesk.models.base import MONEY_SCALE
from cxdesk.services.actor import Actor
from cxdesk.services.cdr_import import COLUMNS
from cxdesk.services.export import atomic_file
from cxdesk.services.export_safety import safe_texts

CHUNK = 10_000
_MONEY = ("customer_charge", "customer_card_rate", "provider_charge")
#: positions of the text fields (the others are numbers, the amounts and the time formatted
#: by the database)
_TEXT_AT = tuple(i for i, c in enumerate(COLUMNS) if isinstance(Cdr.__table__.c[c].type, String))

#: per dialect: the SQL that renders dt and the amounts as the report's text
_TIME = {
    "sqlite": "substr(dt, 1, 19)",  # stored as 'YYYY-MM-DD HH:MM:SS.ffffff' UTC
    "postgresql": "to_char(dt AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS')",
}
_AMOUNT = {
    # integer micro-units -> '12.345678'
    "sqlite": ("CASE WHEN {c} < 0 THEN '-' ELSE '' END || "
               f"printf('%d.%0{MONEY_SCALE}d', abs({{c}}) / {10**MONEY_SCALE}, abs({{c}}) % {10**MONEY_SCALE})"),
    "postgresql": "{c}::text",  # NUMERIC(18, 6) prints six decimals
}


def report_sql(dialect: str) -> str:
    fields = [_TIME[dialect] if c == "dt" else _AMOUNT[dialect].format(c=c) if c in _MONEY else c
              for c in COLUMNS]
    return (f"SELECT {', '.join(fields)} FROM cdrs "
            f"WHERE customer_id = :customer_id AND dt >= :start AND dt < :end AND {VISIBLE_SQL} ORDER BY dt, id")


def _safe_rows(rows: Sequence[Sequence[Any]]) -> Iterable[tuple[Any, ...]]:
    """The rows with every text field through ``safe_text``, a column at a time."""
    columns = list(zip(*rows))
    if not columns:
        return rows
    for i in _TEXT_AT:
        columns[i] = safe_texts(columns[i])
    return zip(*columns)


def write_cdr_report(
    db: Database,
    actor: Actor,
    customer_id: int,
    start: dt.datetime,
    end: dt.datetime,
    path: str | Path,
    *,
    progress: Callable[[int, int], None] | None = None,
    cancel: Callable[[], bool] | None = None,
) -> int:
    """Write the customer's CDRs with ``start <= dt < end`` (a summary row's period) to
    ``path``; returns the number of CDRs. ``progress(done, total)`` follows each chunk;
    ``cancel()`` returning true stops it with ``Cancelled`` and no file."""
    actor.require("export")
    params = {"customer_id": customer_id, "start": start, "end": end}
    query = text(report_sql(db.engine.dialect.name)).bindparams(
        bindparam("start", type_=UTCDateTime()), bindparam("end", type_=UTCDateTime()))
    written = 0
    with db.read_session() as session, atomic_file(path) as temp, \
            open(temp, "w", encoding="utf-8-sig", newline="") as handle:
        total = session.scalar(select(func.count()).where(
            Cdr.customer_id == customer_id, Cdr.dt >= start, Cdr.dt < end, visible_cdrs()))
        writer = csv.writer(handle)
        writer.writerow(COLUMNS)
        # yield_per on the connection: a server-side cursor on PostgreSQL, CHUNK rows at a time
        result = session.connection().execution_options(yield_per=CHUNK).execute(query, params)
        for rows in result.partitions(CHUNK):
            if cancel is not None and cancel():
                raise Cancelled("CDR report cancelled; no file was written.")
            writer.writerows(_safe_rows(rows))
            written += len(rows)
            if progress is not None:
                progress(written, total)
    return written
