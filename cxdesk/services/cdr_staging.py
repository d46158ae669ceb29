"""The CDR importer's staging area: checked rows wait here, invisible, until the import publishes.

An import (a *run*, keyed by the file's SHA-256 and the import's options) writes its rows
in slices, each in its own short write transaction, into ``cdr_import_rows`` under its run
id (keyed by run and callid, so a callid seen earlier in the file is found at once); the
same transaction moves the run's resume marker (records read, counts, bad rows) in
``cdr_import_runs``. Nothing reads these tables but the importer, so no summary, invoice or
report sees a staged row. The final step copies the run's rows into ``cdrs`` with one
``INSERT ... SELECT`` in one audited transaction (all or nothing) and marks the run
published; its rows and marker are then deleted. A run killed before it published is found
again by the next import of the same file with the same options, which goes on after the
last record staged. Runs left unresumed for ``STALE_AFTER`` are discarded.

Both tables are made by migration 0005 (:mod:`cxdesk.models.cdr_staging`): nothing here
creates or drops a table, so the application role on PostgreSQL, which may not, imports.
"""
from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from sqlalchemy import delete, or_, select, text

from cxdesk.errors import ConflictError
from cxdesk.models import utcnow
from cxdesk.models.cdr_staging import cdr_import_rows as rows
from cxdesk.models.cdr_staging import cdr_import_runs as runs

STALE_AFTER = dt.timedelta(days=7)
_LOOKUP = 500  # callids per IN (...) list


@dataclass
class Run:
    """A run's resume marker as this process knows it."""

    id: int
    version: int
    records: int = 0
    line: int = 1
    duplicates: int = 0
    bad_count: int = 0
    bad_rows: list[tuple[int, str]] = field(default_factory=list)
    customers_new: dict[int, str] = field(default_factory=dict)


def _mark(conn) -> str:
    return "?" if conn.dialect.name == "sqlite" else "%s"


def find_or_start(conn, file_key: str, file_name: str) -> tuple[Run, bool]:
    """The unpublished run of this file and options to resume, or a new one: (run, resumed)."""
    found = conn.execute(
        text("SELECT id, version, records, line, duplicates, bad_count, bad_rows, customers_new "
             "FROM cdr_import_runs WHERE file_key = :k AND published = 0 ORDER BY id DESC"),
        {"k": file_key},
    ).first()
    if found is not None:
        return Run(found.id, found.version, found.records, found.line, found.duplicates, found.bad_count,
                   [tuple(b) for b in json.loads(found.bad_rows)],
                   {int(k): v for k, v in json.loads(found.customers_new).items()}), True
    run_id = conn.execute(runs.insert().values(
        file_key=file_key, file_name=file_name[:255], version=0, published=0, records=0, line=1,
        duplicates=0, bad_count=0, bad_rows="[]", customers_new="{}", updated_at=utcnow(),
    )).inserted_primary_key[0]
    return Run(run_id, 0), False


def claim(conn, run: Run, name: str) -> None:
    """Move the run's version on; another process that resumed the same run meanwhile wins."""
    moved = conn.execute(text("UPDATE cdr_import_runs SET version = version + 1 WHERE id = :i AND version = :v"),
                         {"i": run.id, "v": run.version}).rowcount
    if moved != 1:
        raise ConflictError(f"Another import of {name} is running or has finished meanwhile; "
                            "nothing more was imported from here, check the CDRs and import again if needed.")
    run.version += 1


def save_marker(conn, run: Run) -> None:
    conn.execute(runs.update().where(runs.c.id == run.id).values(
        records=run.records, line=run.line, duplicates=run.duplicates, bad_count=run.bad_count,
        bad_rows=json.dumps(run.bad_rows), customers_new=json.dumps(run.customers_new), updated_at=utcnow(),
    ))


def lookup(conn, columns: Sequence[str], callids: Iterable[str], run: Run | None = None) -> dict:
    """callid -> the stored values of ``columns`` of the given callids in cdrs, or in the
    run's staged rows (then followed by the line)."""
    callids, mark, names = list(callids), _mark(conn), ", ".join(columns)
    if run is None:
        head, scope = f"SELECT callid, {names} FROM cdrs WHERE ", ()
    else:
        head, scope = f"SELECT callid, {names}, line FROM {rows.name} WHERE run_id = {mark} AND ", (run.id,)
    out = {}
    for start in range(0, len(callids), _LOOKUP):
        part = callids[start:start + _LOOKUP]
        sql = f"{head}callid IN ({', '.join([mark] * len(part))})"
        for found in conn.exec_driver_sql(sql, (*scope, *part)):
            out[found[0]] = tuple(found[1:])
    return out


def stage_new(conn, run: Run, columns: Sequence[str], callid_at: int, pending: list[tuple[int, tuple]]) -> int:
    """Stage the (line, values in ``columns`` order) rows whose callid is neither in cdrs nor
    staged yet for this run (the first of a callid repeated within ``pending``); how many went in."""
    if not pending:
        return 0
    mark = _mark(conn)
    names = ("run_id", "line", *columns)
    if conn.dialect.name == "sqlite":
        values = ", ".join([mark] * len(names))
    else:  # a parameter in a SELECT list has no column to take its type from
        values = ", ".join(f"CAST({mark} AS {rows.c[name].type.compile(dialect=conn.dialect)})" for name in names)
    sql = (f"INSERT INTO {rows.name} ({', '.join(names)}) SELECT {values} "
           f"WHERE NOT EXISTS (SELECT 1 FROM cdrs WHERE callid = {mark}) ON CONFLICT (run_id, callid) DO NOTHING")
    return conn.exec_driver_sql(sql, [(run.id, line, *row, row[callid_at]) for line, row in pending]).rowcount


def publish_rows(conn, run: Run, columns: Sequence[str]) -> int:
    """Copy the run's rows into cdrs (a callid that arrived meanwhile is skipped); how many went in."""
    names = ", ".join(columns)
    copied = conn.execute(text(
        f"INSERT INTO cdrs ({names}) SELECT {names} FROM {rows.name} WHERE run_id = :r "
        "ON CONFLICT (callid) DO NOTHING"), {"r": run.id}).rowcount
    conn.execute(text("UPDATE cdr_import_runs SET published = 1 WHERE id = :r"), {"r": run.id})
    return max(copied, 0)


def drop(conn, run_id: int) -> None:
    """Remove a run and its staged rows (rows first: the foreign key's cascade would do it
    too, but only where the connection enforces foreign keys)."""
    conn.execute(delete(rows).where(rows.c.run_id == run_id))
    conn.execute(delete(runs).where(runs.c.id == run_id))


def leftover_runs(conn) -> list[int]:
    """Runs to clear away: published ones, and unpublished ones nobody resumed for STALE_AFTER."""
    return list(conn.execute(select(runs.c.id).where(
        or_(runs.c.published == 1, runs.c.updated_at < utcnow() - STALE_AFTER))).scalars())
