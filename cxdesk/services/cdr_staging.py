"""The CDR importer's staging area: checked rows wait here, invisible, until the import publishes.

An import (a *run*, keyed by the file's SHA-256 and the import's options) writes its rows
in slices, each in its own short write transaction, into ``cdr_import_rows`` under its run
id (keyed by run and callid, so a callid seen earlier in the file is found at once); the
same transaction moves the run's resume marker (records read, counts, bad rows) in
``cdr_import_runs``.

Publishing is sliced too, so no transaction of an import holds the write lock for long:
each :func:`move_slice` moves the next ``MOVE`` staged rows (in callid order) into ``cdrs``,
tagged with the run (``cdrs.import_run_id``), deletes them from staging and adds them to
the marker's count and id bounds, all in one transaction: a kill between slices resumes
exactly. Rows of a run that is not published are invisible to every reader
(:func:`cxdesk.models.cdr_staging.visible_cdrs`), so nobody sees part of an import. The
rows the INSERT returns are hashed into the run's digest (for the audit entry and
reconciliation) after the slice commits, outside the write lock (:func:`add_to_digest`);
a resumed run hashes the rows it had moved again, reading them without a lock
(:func:`redigest`). The last step (:func:`mark_published`, in the import's audited
transaction) flips one row: the whole import becomes visible at once, and its audit entry
takes the digest without reading the rows again. The marker is deleted afterwards.

A run killed before it published is found again by the next import of the same file with
the same options, which goes on after the last record staged or row moved. Runs left
unresumed for ``STALE_AFTER`` are abandoned and cleared slice by slice (:func:`clear_slice`),
the rows they had moved into ``cdrs`` included; they stay invisible while that happens.

Both tables are made by migrations 0005 and 0006 (:mod:`cxdesk.models.cdr_staging`):
nothing here creates or drops a table, so the application role on PostgreSQL, which may
not, imports.
"""
from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from sqlalchemy import delete, or_, select, text

from cxdesk.errors import ConflictError
from cxdesk.models import utcnow
from cxdesk.models.cdr_staging import ABANDONED, MOVING, PUBLISHED, VISIBLE_SQL
from cxdesk.models.cdr_staging import cdr_import_rows as rows
from cxdesk.models.cdr_staging import cdr_import_runs as runs
from cxdesk.services import audit_reconcile

STALE_AFTER = dt.timedelta(days=7)
_LOOKUP = 500  # callids per IN (...) list
#: rows per publishing (or clearing) slice: well under a second of write lock on either backend
MOVE = 10_000


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
    moved: int = 0  #: rows moved into cdrs so far
    moved_sum: int = 0  #: their order-free digest (audit_reconcile.row_hash summed; this process's)
    first_id: int | None = None
    last_id: int | None = None


def _mark(conn) -> str:
    return "?" if conn.dialect.name == "sqlite" else "%s"


def find_or_start(conn, file_key: str, file_name: str) -> tuple[Run, bool]:
    """The unpublished run of this file and options to resume, or a new one: (run, resumed)."""
    found = conn.execute(
        text("SELECT id, version, records, line, duplicates, bad_count, bad_rows, customers_new, "
             "moved, first_id, last_id "
             "FROM cdr_import_runs WHERE file_key = :k AND published = :moving ORDER BY id DESC"),
        {"k": file_key, "moving": MOVING},
    ).first()
    if found is not None:
        return Run(found.id, found.version, found.records, found.line, found.duplicates, found.bad_count,
                   [tuple(b) for b in json.loads(found.bad_rows)],
                   {int(k): v for k, v in json.loads(found.customers_new).items()},
                   found.moved, 0, found.first_id, found.last_id), True
    run_id = conn.execute(runs.insert().values(
        file_key=file_key, file_name=file_name[:255], version=0, published=MOVING, records=0, line=1,
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
        moved=run.moved, first_id=run.first_id, last_id=run.last_id,
    ))


def lookup(conn, columns: Sequence[str], callids: Iterable[str], run: Run | None = None) -> dict:
    """callid -> the stored values of ``columns`` of the given callids in cdrs (then followed
    by 1 when the row belongs to an import not published yet, else 0), or in the run's
    staged rows (then followed by the line)."""
    callids, mark, names = list(callids), _mark(conn), ", ".join(columns)
    if run is None:
        head, scope = f"SELECT callid, {names}, CASE WHEN {VISIBLE_SQL} THEN 0 ELSE 1 END FROM cdrs WHERE ", ()
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


def move_slice(conn, run: Run, columns: Sequence[str], limit: int = MOVE) -> tuple[bool, list]:
    """Move the run's next ``limit`` staged rows (callid order) into cdrs, still invisible
    (a callid that arrived meanwhile is skipped), delete them from staging and save the
    marker with their count and id bounds: (no staged row left, the rows moved in, their
    hashed columns, for :func:`add_to_digest` once this transaction has committed)."""
    params = {"r": run.id}
    bound = conn.execute(text(f"SELECT callid FROM {rows.name} WHERE run_id = :r ORDER BY callid "
                              "LIMIT 1 OFFSET :o"), {**params, "o": limit - 1}).scalar()
    scope = "run_id = :r" + ("" if bound is None else " AND callid <= :b")
    if bound is not None:
        params["b"] = bound
    names = ", ".join(columns)
    inserted = conn.execute(text(
        f"INSERT INTO cdrs ({names}, import_run_id) SELECT {names}, run_id FROM {rows.name} WHERE {scope} "
        f"ON CONFLICT (callid) DO NOTHING RETURNING {audit_reconcile.hashed_columns(conn)}"), params)
    moved = inserted.all()
    conn.execute(text(f"DELETE FROM {rows.name} WHERE {scope}"), params)
    if moved:
        ids = [row[0] for row in moved]
        run.first_id = min(ids) if run.first_id is None else min(run.first_id, min(ids))
        run.last_id = max(ids) if run.last_id is None else max(run.last_id, max(ids))
        run.moved += len(moved)
    save_marker(conn, run)
    return bound is None, moved


def add_to_digest(run: Run, moved: list) -> None:
    """Hash rows :func:`move_slice` moved in (after its transaction committed) into the run's digest."""
    run.moved_sum = (run.moved_sum + audit_reconcile.digest(moved)[1]) % audit_reconcile.MOD


def redigest(conn, run: Run) -> None:
    """A resumed run: the digest of the rows it had moved before it was interrupted (a read)."""
    if run.moved:
        sql = f"SELECT {audit_reconcile.hashed_columns(conn)} FROM cdrs WHERE import_run_id = :r"
        run.moved_sum = audit_reconcile.digest(conn.execute(text(sql), {"r": run.id}))[1]


def mark_published(conn, run: Run) -> dict:
    """Make the run's rows count (one row changes); the digest for its audit entry."""
    conn.execute(runs.update().where(runs.c.id == run.id).values(published=PUBLISHED, updated_at=utcnow()))
    return {"run": run.id, "from_id": run.first_id or 0, "to_id": run.last_id or 0, "rows": run.moved,
            "sum": f"{run.moved_sum:032x}"}


def clear_slice(conn, run_id: int, limit: int = MOVE) -> bool:
    """One step of removing a run: an unpublished run is marked abandoned (it stays
    invisible and is no longer resumed) and loses up to ``limit`` of the rows it moved into
    cdrs, then of its staged rows; when none is left, the marker goes. True when it is gone."""
    state = conn.execute(select(runs.c.published).where(runs.c.id == run_id)).scalar()
    if state is None:
        return True
    if state == MOVING:
        conn.execute(runs.update().where(runs.c.id == run_id).values(published=ABANDONED))
    if state != PUBLISHED:  # a published run's rows in cdrs are data now
        gone = conn.execute(text("DELETE FROM cdrs WHERE id IN (SELECT id FROM cdrs WHERE import_run_id = :r "
                                 "LIMIT :n)"), {"r": run_id, "n": limit}).rowcount
        if gone:
            return False
    gone = conn.execute(text(f"DELETE FROM {rows.name} WHERE run_id = :r AND callid IN "
                             f"(SELECT callid FROM {rows.name} WHERE run_id = :r LIMIT :n)"),
                        {"r": run_id, "n": limit}).rowcount
    if gone:
        return False
    conn.execute(delete(runs).where(runs.c.id == run_id))
    return True


def drop(conn, run_id: int) -> None:
    """Remove a run, its staged rows and (unless it published) its rows in cdrs, in this one transaction."""
    while not clear_slice(conn, run_id):
        pass


def leftover_runs(conn) -> list[int]:
    """Runs to clear away: published ones, abandoned ones, and unpublished ones nobody
    resumed for STALE_AFTER."""
    return list(conn.execute(select(runs.c.id).where(
        or_(runs.c.published != MOVING, runs.c.updated_at < utcnow() - STALE_AFTER))).scalars())
