"""State reconciliation (issue 13, point 4): does the database hold what the audit log says?

The chain proves the log was not changed; this checks that the data was not changed around
the log. In one pass per table, rows and audit entries both streamed in key order:

- **Rows audited one by one** (every model with ``__audit_name__`` except the bulk tables):
  each row's current values must equal the "after" of its latest entry that recorded the
  row's state (CREATE/UPDATE/GENERATE...; LOGIN, SEND and other event entries are skipped).
  Secret columns are compared through the digest the entry stores beside the mask
  (``uow.SECRET_DIGESTS``; entries older than that only say whether a secret was set). A
  column the entry does not mention (added by a later migration) is not compared. Found:
  a changed column (table/key/column: logged -> now), a row with no entry, a row whose
  latest entry is a DELETE, a row gone while its latest entry says it exists.
- **CDRs** (written in bulk, one entry per import): each import's entry carries
  ``rows_sha256``: the row count and an order-free digest (the sum of the rows' SHA-256
  values) of the rows it wrote. A CDR import since migration 0006 tags its rows with its run
  (``cdrs.import_run_id``) and its entry names the run, so they are checked by run (other
  writers may take ids between its slices); other bulk entries name the id range their
  transaction inserted. Found: a CDR outside every range and run (inserted around the
  program, named by id); a run or range whose rows no longer add up to the digest (a CDR in
  it changed, added or deleted: the run or range and the entry are named, not the row or
  column). Rows of an import still publishing are counted, not checked; CDRs imported
  before digests were recorded likewise.
- **Invoice lines**: compared with the "lines" listed by their invoice's GENERATE entry
  (invoice, line, field).
- **The hourly summary** is derived data: each (customer, hour) row must equal the sums
  over the CDRs rolled up so far (``rollup_state.last_cdr_id``): found by key and column.

Not covered: ``rollup_state`` and ``invoice_counter`` (bookkeeping rows), and the audit
tables themselves (the chain and the witness cover those).
"""
from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import String, case, cast, func, select, text
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from cxdesk.models import AuditEntry, Base, Cdr, HourlySummary, InvoiceLine, RollupState, UTCDateTime
from cxdesk.models.cdr_staging import HIDDEN_RUNS_SQL, VISIBLE_SQL
from cxdesk.services.uow import MASK, MASK_CHANGED, SECRET_DIGESTS, jsonable, secret_digest

BULK_TABLES = {"cdrs": Cdr}
DIGEST_KEY = "rows_sha256"
MOD = 2**128
#: named findings per kind; the rest are counted in one sentence
NAMED = 20
BATCH = 5000


@dataclass
class Reconciliation:
    findings: list[str] = field(default_factory=list)
    rows: int = 0  #: rows compared
    notes: list[str] = field(default_factory=list)  #: what was not checked, and why
    _extra: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.findings

    def find(self, kind: str, sentence: str) -> None:
        seen = self._extra.get(kind, 0)
        if seen < NAMED:
            self.findings.append(sentence)
        self._extra[kind] = seen + 1

    def finish(self) -> None:
        for kind, n in self._extra.items():
            if n > NAMED:
                self.findings.append(f"... and {n - NAMED} more {kind}.")

    def sentences(self) -> list[str]:
        if self.ok:
            return [f"The data matches the audit log: {self.rows} rows reconciled.", *self.notes]
        return [*self.findings, *self.notes]


# -- audited rows --------------------------------------------------------------------------
def row_models() -> list[type[Base]]:
    return sorted((m.class_ for m in Base.registry.mappers
                   if m.class_.__audit_name__ and m.class_.__tablename__ not in BULK_TABLES),
                  key=lambda c: c.__tablename__)


def _columns(model) -> list:
    """The audited columns (Core), keyed like the audit documents (by attribute name)."""
    return [a.columns[0] for a in model.__mapper__.column_attrs if a.columns[0].info.get("audit") is not False]


def _text_order(expr, session: Session):
    """Order by the key as text, the way Python compares strings (byte order)."""
    return expr.collate("C") if session.bind.dialect.name == "postgresql" else expr


def _streamed(session: Session, stmt) -> Iterator:
    return iter(session.connection().execute(stmt, execution_options={"yield_per": BATCH}))


def _state(entry_pk: str, action: str, before: str | None, after: str | None, pk_name: str) -> tuple[str, dict | None] | None:
    """("gone", None) / ("there", after) when the entry recorded the row's state; else None."""
    if action == "DELETE" and after is None and before:
        doc = json.loads(before)
        return ("gone", None) if isinstance(doc, dict) and str(doc.get(pk_name)) == entry_pk else None
    if after:
        doc = json.loads(after)
        if isinstance(doc, dict) and str(doc.get(pk_name)) == entry_pk:
            return "there", doc
    return None


#: the primary key of an entry that changed many rows of one table at once (a data
#: migration, e.g. 0004): its before/after map each row's key to the columns it changed
BULK_KEY = "bulk"


def _bulk_changes(session: Session, model) -> dict[str, list[tuple[int, dict]]]:
    """key -> [(entry id, changed columns)] of the table's bulk entries, oldest first."""
    t = AuditEntry.__table__.c
    out: dict[str, list[tuple[int, dict]]] = {}
    for eid, after in session.connection().execute(
            select(t.id, t.after).where(t.table_name == model.__tablename__, t.primary_key == BULK_KEY)
            .order_by(t.id)):
        doc = json.loads(after) if after else None
        for key, changed in (doc.items() if isinstance(doc, dict) else ()):
            if isinstance(changed, dict):
                out.setdefault(str(key), []).append((eid, changed))
    return out


def _with_bulk(found: tuple[str, int, str, dict | None], bulk: dict[str, list[tuple[int, dict]]]):
    """The latest state of a row, with the bulk entries after it applied (their columns win)."""
    key, eid, what, after = found
    for bulk_id, changed in bulk.get(key, ()):
        if bulk_id > eid and what == "there":
            eid, after = bulk_id, {**after, **changed}
    return key, eid, what, after


def _latest_states(session: Session, model) -> Iterator[tuple[str, int, str, dict | None]]:
    """(key, entry id, "there"/"gone", after) per key in text order: the latest state entry
    (with any later bulk entry's changes to the row applied)."""
    pk_name = model.__mapper__.primary_key[0].key
    bulk = _bulk_changes(session, model)
    t = AuditEntry.__table__.c  # Core columns: rows as tuples, no ORM loading
    before = case((t.action == "DELETE", t.before))  # only a deletion needs it: read less text
    stmt = (select(t.primary_key, t.id, t.action, before, t.after)
            .where(t.table_name == model.__tablename__)
            .order_by(_text_order(t.primary_key, session), t.id))
    group: list = []

    def pick():
        for key, eid, action, before, after in reversed(group):
            state = _state(key, action, before, after, pk_name)
            if state is not None:
                return _with_bulk((key, eid, state[0], state[1]), bulk)
        return None

    for row in _streamed(session, stmt):
        if group and row[0] != group[0][0]:
            found = pick()
            if found:
                yield found
            group = []
        group.append(tuple(row))
    if group and (found := pick()):
        yield found


def _shown(value: Any) -> str:
    return "null" if value is None else json.dumps(value, ensure_ascii=False)


def _compare_row(result: Reconciliation, table: str, key: str, cols, values, eid: int, after: dict) -> None:
    digests = after.get(SECRET_DIGESTS)
    for col, value in zip(cols, values):
        if col.key not in after:
            continue
        logged = after[col.key]
        if col.info.get("secret"):
            if digests is not None:
                same = (digests.get(col.key) == (None if value is None else secret_digest(table, col.key, value)))
            else:
                same = (logged in (MASK, MASK_CHANGED)) == (value is not None)
            if not same:
                result.find("changed columns", f"{table}/{key}/{col.key}: the secret is not the one audit "
                                               f"entry {eid} recorded; it was changed without an audit entry.")
            continue
        now = jsonable(value)
        if now != logged:
            result.find("changed columns", f"{table}/{key}/{col.key}: {_shown(logged)} -> {_shown(now)} "
                                           f"without an audit entry (the last entry is {eid}).")


def reconcile_rows(session: Session, model, result: Reconciliation) -> None:
    table = model.__tablename__
    cols = _columns(model)
    pk = model.__mapper__.primary_key[0]
    key_text = cast(pk, String)
    rows = _streamed(session, select(key_text, *cols).order_by(_text_order(key_text, session)))
    states = _latest_states(session, model)
    row, state = next(rows, None), next(states, None)
    while row is not None or state is not None:
        if state is None or (row is not None and row[0] < state[0]):
            result.rows += 1
            result.find("rows without an audit entry", f"{table}/{row[0]} has no audit entry: "
                                                       "it was added around the program.")
            row = next(rows, None)
        elif row is None or state[0] < row[0]:
            key, eid, what, _ = state
            if what == "there":
                result.find("rows deleted", f"{table}/{key} is gone, but its last audit entry ({eid}) "
                                            "records it as there: it was deleted around the program.")
            state = next(states, None)
        else:
            result.rows += 1
            key, eid, what, after = state
            if what == "gone":
                result.find("rows deleted", f"{table}/{key} is there, but audit entry {eid} recorded its "
                                            "deletion: it was put back around the program.")
            else:
                _compare_row(result, table, key, cols, row[1:], eid, after)
            row, state = next(rows, None), next(states, None)


# -- bulk tables: a digest of the rows each bulk entry wrote ----------------------------------
def _hashed(model) -> list:
    """The columns a row's hash covers: all but the bookkeeping ones (``info["audit"] is False``,
    e.g. ``cdrs.import_run_id``, which reconciliation groups by instead)."""
    return [c for c in model.__table__.columns if c.info.get("audit") is not False]


def hashed_columns(conn: Connection, model=Cdr) -> str:
    """SQL: the hashed columns in a form whose repr does not depend on the session (time zone)."""
    pg = conn.dialect.name == "postgresql"
    return ", ".join(f"{c.name} AT TIME ZONE 'UTC'" if pg and isinstance(c.type, UTCDateTime) else c.name
                     for c in _hashed(model))


def _raw_select(conn: Connection, model, *extra: str) -> str:
    return f"SELECT {', '.join((hashed_columns(conn, model), *extra))} FROM {model.__tablename__}"


def row_hash(row: tuple) -> int:
    return int.from_bytes(hashlib.sha256(repr(tuple(row)).encode()).digest()[:16], "big")


def digest(rows) -> tuple[int, int, int, int]:
    """(count, digest sum, lowest id, highest id) of rows of hashed columns (id first)."""
    count = total = 0
    first = last = None
    for row in rows:
        rid = row[0]
        first = rid if first is None or rid < first else first
        last = rid if last is None or rid > last else last
        count, total = count + 1, (total + row_hash(row)) % MOD
    return count, total, first or 0, last or 0


def bulk_marks(conn: Connection) -> dict[str, int]:
    """At the start of a unit of work: each bulk table's highest id (its own rows come after)."""
    return {name: conn.execute(select(func.coalesce(func.max(model.id), 0))).scalar()
            for name, model in BULK_TABLES.items()}


def _own_rows(conn: Connection, model, mark: int) -> tuple[int, int, int, int]:
    """(first id, last id, count, digest sum) of the rows this transaction inserted."""
    sql = _raw_select(conn, model) + f" WHERE id > {int(mark)}"
    if conn.dialect.name == "postgresql":  # others may be inserting (and committing) too
        sql += " AND xmin::text = mod(txid_current(), 4294967296)::text"
    count, total, first, last = digest(conn.exec_driver_sql(sql))
    return first, last, count, total


def stamp_bulk_entries(uow, entries: list[dict]) -> None:
    """Before the entries are appended: the last bulk POST entry of each bulk table gets the
    digest of the rows this transaction inserted into it, unless it carries one already (a
    CDR import computes its own while it moves the rows in, see services.cdr_staging)."""
    for name, model in BULK_TABLES.items():
        bulk = [e for e in entries if e["table_name"] == name and e["action"] == "POST"]
        if not bulk or name not in uow.bulk_marks:
            continue
        doc = json.loads(bulk[-1]["after"]) if bulk[-1]["after"] else {}
        if DIGEST_KEY in doc:
            continue
        first, last, count, total = _own_rows(uow.session.connection(), model, uow.bulk_marks[name])
        doc[DIGEST_KEY] = {"from_id": first, "to_id": last, "rows": count, "sum": f"{total:032x}"}
        bulk[-1]["after"] = json.dumps(doc, ensure_ascii=False, sort_keys=True)


def _bulk_digests(session: Session, name: str) -> tuple[list[list], dict[int, list], int]:
    """(id ranges [from, to, rows, sum, [entry]], {run: [rows, sum, entry, from, to]}, entries without a digest).
    An import whose rows no longer carry its run (a downgrade below migration 0006 and back
    drops the column) is checked by its id range."""
    tagged = set(session.connection().exec_driver_sql(
        f"SELECT DISTINCT import_run_id FROM {name} WHERE import_run_id IS NOT NULL").scalars())
    ranges, by_run, legacy = [], {}, 0
    for eid, after in session.execute(select(AuditEntry.id, AuditEntry.after).where(
            AuditEntry.table_name == name, AuditEntry.action == "POST").order_by(AuditEntry.id)):
        found = (json.loads(after) if after else {}).get(DIGEST_KEY)
        if found is None:
            legacy += 1
        elif found.get("run") in tagged:
            by_run[found["run"]] = [found["rows"], int(found["sum"], 16), eid, found["from_id"], found["to_id"]]
        elif found["rows"]:
            ranges.append([found["from_id"], found["to_id"], found["rows"], int(found["sum"], 16), [eid]])
    groups: list[list] = []  # overlapping ranges (concurrent bulk writers) are checked together
    for r in sorted(ranges):
        if groups and r[0] <= groups[-1][1]:
            g = groups[-1]
            g[1], g[2], g[3], g[4] = max(g[1], r[1]), g[2] + r[2], (g[3] + r[3]) % MOD, g[4] + r[4]
        else:
            groups.append(r)
    return groups, by_run, legacy


def reconcile_bulk(session: Session, name: str, model, result: Reconciliation) -> None:
    """Rows an import moved in (``import_run_id`` set) are checked per run against the run's
    entry; the others against the id ranges of the entries that wrote them."""
    groups, by_run, legacy = _bulk_digests(session, name)
    conn = session.connection()
    hidden = set(conn.exec_driver_sql(HIDDEN_RUNS_SQL).scalars())
    first_checked = groups[0][0] if groups else None
    seen = [[0, 0] for _ in groups]
    runs_seen: dict[int, list[int]] = {}
    gi, unchecked, pending = 0, 0, 0
    sql = _raw_select(conn, model, "import_run_id") + " ORDER BY id"
    for *row, run in conn.exec_driver_sql(sql, execution_options={"yield_per": BATCH}):
        result.rows += 1
        rid = row[0]
        if run is not None:
            if run in hidden:
                pending += 1
            else:
                acc = runs_seen.setdefault(run, [0, 0, rid])
                acc[0], acc[1] = acc[0] + 1, (acc[1] + row_hash(row)) % MOD
            continue
        while gi < len(groups) and rid > groups[gi][1]:
            gi += 1
        if gi < len(groups) and groups[gi][0] <= rid:
            seen[gi][0] += 1
            seen[gi][1] = (seen[gi][1] + row_hash(row)) % MOD
        elif legacy and (first_checked is None or rid < first_checked):
            unchecked += 1
        else:
            result.find(f"{name} rows without an audit entry",
                        f"{name}/{rid} is not among the rows any import recorded: it was added around the program.")
    changed = [(g[0], g[1], g[2], ", ".join(map(str, g[4])), count)
               for g, (count, total) in zip(groups, seen) if (count, total) != (g[2], g[3])]
    for run in sorted(set(runs_seen) | set(by_run)):
        count, total, rid = runs_seen.get(run, (0, 0, None))
        if run not in by_run:
            result.find(f"{name} rows without an audit entry",
                        f"{name}/{rid} and {count - 1} more carry import run {run}, which no import recorded: "
                        "they were added around the program.")
        elif (count, total) != tuple(by_run[run][:2]):
            recorded, _, eid, first, last = by_run[run]
            changed.append((first, last, recorded, str(eid), count))
    for first, last, recorded, by, count in sorted(changed):
        result.find(f"changed {name} ranges", (
            f"{name} ids {first}-{last} (written by audit entry {by}): these rows no longer match the digest "
            f"the entry recorded ({recorded} rows recorded, {count} now); a row in this range was changed, "
            "added or deleted around the program."))
    if unchecked:
        result.notes.append(f"{unchecked} {name} rows written before imports recorded a digest were not checked.")
    if pending:
        result.notes.append(f"{pending} {name} rows of an import still being published were not checked.")


# -- invoice lines and the hourly summary --------------------------------------------------
LINE_FIELDS = {"description": "description", "from": "period_start", "to": "period_end", "calls": "calls",
               "minutes": "minutes", "unit_price": "unit_price", "net": "net", "tax": "tax", "total": "total"}


def reconcile_invoice_lines(session: Session, result: Reconciliation) -> None:
    logged: dict[str, tuple[int, list]] = {}
    for pk, eid, after in session.execute(
            select(AuditEntry.primary_key, AuditEntry.id, AuditEntry.after)
            .where(AuditEntry.table_name == "invoice_lines", AuditEntry.action == "GENERATE")
            .order_by(AuditEntry.id)):
        doc = json.loads(after) if after else {}
        if isinstance(doc, dict) and isinstance(doc.get("lines"), list):
            logged[pk] = (eid, doc["lines"])
    current: dict[str, list] = {}
    cols = [getattr(InvoiceLine, c) for c in LINE_FIELDS.values()]
    for row in session.execute(select(InvoiceLine.invoice_id, *cols)
                               .order_by(InvoiceLine.invoice_id, InvoiceLine.position)):
        result.rows += 1
        current.setdefault(str(row[0]), []).append(dict(zip(LINE_FIELDS, map(jsonable, row[1:]))))
    for invoice, lines in current.items():
        if invoice not in logged:
            result.find("invoice lines without an audit entry",
                        f"invoice_lines of invoice {invoice} have no audit entry: they were added around the program.")
            continue
        eid, expected = logged[invoice]
        if len(lines) != len(expected):
            result.find("changed invoice lines", f"invoice_lines of invoice {invoice}: {len(expected)} lines -> "
                                                 f"{len(lines)} without an audit entry (entry {eid} lists them).")
            continue
        for n, (now, was) in enumerate(zip(lines, expected), 1):
            for name in LINE_FIELDS:
                if name in was and now[name] != was[name]:
                    result.find("changed invoice lines", (
                        f"invoice_lines/{invoice}/line {n}/{LINE_FIELDS[name]}: {_shown(was[name])} -> "
                        f"{_shown(now[name])} without an audit entry (entry {eid} lists the lines)."))


def reconcile_summary(session: Session, result: Reconciliation) -> None:
    from cxdesk.services import rollup

    dialect = session.bind.dialect.name
    high, stored = session.execute(select(RollupState.last_cdr_id, RollupState.passed_runs)
                                   .where(RollupState.id == rollup.STATE_ID)).one_or_none() or (0, "{}")
    # rows of imports the rollup passed over before they were published are not in it yet
    passed = sorted(rollup.passed_runs(stored).items())
    params = {"high": high or 0} | {f"run{i}": r for i, (r, _) in enumerate(passed)} | {
        f"upto{i}": u for i, (_, u) in enumerate(passed)}
    not_yet = "".join(f" AND NOT (coalesce(import_run_id, 0) = :run{i} AND id <= :upto{i})"
                      for i in range(len(passed)))
    expected_rows = session.execute(text(f"""
        SELECT customer_id, {rollup.HOUR[dialect]}, count(*), sum(CASE WHEN duration > 0 THEN 1 ELSE 0 END),
               sum(duration), sum(customer_duration), sum(customer_charge), sum(provider_charge)
        FROM cdrs WHERE id <= :high AND {VISIBLE_SQL}{not_yet} GROUP BY 1, 2"""), params).all()
    money = {"customer_charge", "vendor_cost"}

    def norm(name: str, value) -> Any:
        if name in money:
            value = Decimal(value or 0)
            return jsonable(value.scaleb(-6) if dialect == "sqlite" else value)
        return int(value or 0)

    expected = {}
    for cust, hour, *sums in expected_rows:
        hour = jsonable(HourlySummary.__table__.c.hour.type.process_result_value(hour, session.bind.dialect))
        expected[(cust, hour)] = [norm(n, v) for n, v in zip(rollup.SUMS, sums)]
    for row in session.execute(select(HourlySummary.customer_id, HourlySummary.hour,
                                      *[getattr(HourlySummary, n) for n in rollup.SUMS])):
        result.rows += 1
        key = (row[0], jsonable(row[1]))
        now = [jsonable(v) if n in money else v for n, v in zip(rollup.SUMS, row[2:])]
        want = expected.pop(key, None)
        label = f"hourly_summaries/{row[0]},{key[1]}"
        if want is None:
            result.find("summary rows", f"{label} sums no rolled-up CDR: it was added around the program.")
            continue
        for name, w, n in zip(rollup.SUMS, want, now):
            if w != n:
                result.find("summary rows", f"{label}/{name}: {_shown(w)} (the sum of its CDRs) -> {_shown(n)}: "
                                            "the summary or its CDRs were changed around the program.")
    for (cust, hour) in expected:
        result.find("summary rows", f"hourly_summaries/{cust},{hour} is missing though CDRs were rolled up "
                                    "into it: it was deleted around the program.")


# -- all of it ---------------------------------------------------------------------------------
def reconcile(session: Session, progress: Callable[[str], None] | None = None) -> Reconciliation:
    result = Reconciliation()
    for model in row_models():
        if progress:
            progress(model.__tablename__)
        reconcile_rows(session, model, result)
    for name, model in BULK_TABLES.items():
        reconcile_bulk(session, name, model, result)
    reconcile_invoice_lines(session, result)
    reconcile_summary(session, result)
    result.finish()
    return result


def reconcile_database(db) -> Reconciliation:
    """In one consistent snapshot (REPEATABLE READ on PostgreSQL)."""
    with db.read_session() as session:
        if db.is_postgres:
            session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
        return reconcile(session)
