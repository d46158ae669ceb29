"""The audit log's hash chain: append entries under the head lock, and verify the chain.

Each entry's hash covers its id, the previous entry's hash and every column
(``cxdesk.auditproof.entry_hash``, the same code a third party runs to check a proof), so
an edited, removed, inserted or renumbered entry breaks the chain. Entries get their ids
here, one after the other, under the head lock.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from cxdesk import auditproof
from cxdesk.models import GENESIS_HASH, AuditEntry, AuditHead

FIELDS = auditproof.FIELDS


def stamp(value: dt.datetime) -> str:
    """How a time is written into the hash (and into proofs): ISO 8601, UTC, microseconds."""
    return value.astimezone(dt.timezone.utc).isoformat(timespec="microseconds")


def hashed_values(values: dict) -> dict:
    return {name: stamp(v) if isinstance(v, dt.datetime) else v
            for name, v in ((n, values.get(n)) for n in FIELDS)}


def entry_hash(entry_id: int, prev_hash: str, values: dict) -> str:
    return auditproof.entry_hash(entry_id, prev_hash, hashed_values(values))


#: the same text as auditproof.entry_hash (json.dumps(..., ensure_ascii=False, separators=
#: (",", ":"))) without making an encoder per entry: walking the chain is bound by this.
#: CPython's C encoder made once (no circular-reference check: the parts are flat); the
#: plain encoder where there is none.
if json.encoder.c_make_encoder is not None:
    _C_ENCODER = json.encoder.c_make_encoder(None, None, json.encoder.encode_basestring, None, ":", ",",
                                             False, False, True)

    def _ENCODE(parts: list) -> str:
        return "".join(_C_ENCODER(parts, 0))
else:  # pragma: no cover
    _ENCODE = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
_AT = FIELDS.index("created_at")
#: read in batches through the driver's own cursor (no SQLAlchemy rows): reading the entries
#: costs as much as hashing them. Batches, not one query: psycopg would hold every row at once.
_RAW = (f"SELECT id, prev_hash, hash, {', '.join(f'{chr(34)}{f}{chr(34)}' for f in FIELDS)} "
        "FROM audit_entries WHERE id > {0} ORDER BY id LIMIT {0}")
_LINKS = "SELECT id, prev_hash, hash FROM audit_entries WHERE id > {0} ORDER BY id LIMIT {0}"


def _raw_stamp(value) -> str:
    """``stamp`` of created_at as the driver returns it: SQLite's text (naive UTC,
    'YYYY-MM-DD HH:MM:SS.ffffff') or PostgreSQL's aware datetime."""
    if isinstance(value, str):
        if len(value) == 26 and value[10] == " ":
            return f"{value[:10]}T{value[11:]}+00:00"
        value = dt.datetime.fromisoformat(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.timezone.utc)
    return stamp(value)


@dataclass
class Walk:
    """How far the chain verified from a starting point."""

    prev: str  #: the hash of the last entry that verified (or the start)
    last_id: int
    count: int  #: entries verified
    bad_id: int | None = None
    moved: bool = False  #: the bad entry does not follow the one before it (else: its content changed)


def walk(session: Session, prev: str, last_id: int = 0, *, batch: int = 5000,
         progress: Callable[[int], None] | None = None, cancel: Callable[[], bool] | None = None,
         links_only: bool = False) -> Walk:
    """Verify every entry after ``last_id`` (whose hash is ``prev``), in id order, reading the
    driver's values as they are (no ORM): stops at the first entry that does not verify.
    ``links_only``: check only that each entry names the one before it (its prev_hash), not
    that its content matches its hash -- a fraction of the cost, for the start-up check."""
    if links_only:
        return _walk_links(session, prev, last_id, batch)
    version = auditproof.VERSION
    sha256 = hashlib.sha256
    encode = _ENCODE
    count = 0
    connection = session.connection()
    marker = "?" if connection.dialect.paramstyle == "qmark" else "%s"
    cursor = connection.connection.driver_connection.cursor()
    try:
        query = _RAW.format(marker)
        while rows := cursor.execute(query, (last_id, batch)).fetchall():
            for row in rows:
                entry_id, entry_prev, entry_hash_ = row[0], row[1], row[2]
                if entry_prev != prev:
                    return Walk(prev, last_id, count, entry_id, moved=True)
                at = row[_AT + 3]
                if type(at) is str and len(at) == 26 and at[10] == " ":  # SQLite's text: _raw_stamp, inline
                    at = f"{at[:10]}T{at[11:]}+00:00"
                else:
                    at = _raw_stamp(at)
                parts = [version, entry_id, prev, *row[3:]]
                parts[_AT + 3] = at
                if sha256(encode(parts).encode("utf-8")).hexdigest() != entry_hash_:
                    return Walk(prev, last_id, count, entry_id)
                prev, last_id, count = entry_hash_, entry_id, count + 1
            if progress:
                progress(count)
            if cancel and cancel():
                from cxdesk.errors import Cancelled

                raise Cancelled()
        return Walk(prev, last_id, count)
    finally:
        cursor.close()


def _walk_links(session: Session, prev: str, last_id: int, batch: int) -> Walk:
    count = 0
    connection = session.connection()
    cursor = connection.connection.driver_connection.cursor()
    query = _LINKS.format("?" if connection.dialect.paramstyle == "qmark" else "%s")
    try:
        while rows := cursor.execute(query, (last_id, batch)).fetchall():
            for entry_id, entry_prev, entry_hash_ in rows:
                if entry_prev != prev:
                    return Walk(prev, last_id, count, entry_id, moved=True)
                prev, last_id, count = entry_hash_, entry_id, count + 1
        return Walk(prev, last_id, count)
    finally:
        cursor.close()


def append(session: Session, entries: Iterable[dict]) -> list[int]:
    """Insert entries at the end of the chain, in the caller's transaction."""
    entries = list(entries)
    if not entries:
        return []
    head = session.execute(
        select(AuditHead).where(AuditHead.id == 1).with_for_update()
    ).scalar_one()
    prev, last_id, count = head.last_hash, head.last_id, head.count
    before = prev
    ids = []
    for values in entries:
        values = dict(values)
        last_id += 1  # under the head lock: one after the other, no gaps from now on
        values["id"] = last_id
        values["prev_hash"] = prev
        values["hash"] = entry_hash(last_id, prev, values)
        session.execute(insert(AuditEntry).values(**values), execution_options={"cxdesk_audited": True})
        ids.append(last_id)
        prev = values["hash"]
        count += 1
    session.execute(
        update(AuditHead).where(AuditHead.id == 1).values(last_hash=prev, last_id=last_id, count=count),
        execution_options={"cxdesk_audited": True},
    )
    # for the committer's witness (services.audit_witness.after_commit)
    session.info["cxdesk_chain"] = (before, prev, count)
    return ids


@dataclass
class VerifyResult:
    ok: bool
    count: int
    bad_id: int | None = None
    reason: str = ""
    #: the whole sentence, when the chain is intact but something else is wrong (the witness)
    text: str = ""

    def sentence(self) -> str:
        if self.text:
            return self.text
        if self.ok:
            return f"Audit log intact: {self.count} entries verified."
        return f"Audit log broken at entry {self.bad_id}: {self.reason}."


def verify(
    session: Session,
    progress: Callable[[int, int], None] | None = None,
    cancel: Callable[[], bool] | None = None,
    batch: int = 5000,
) -> VerifyResult:
    """Walk the chain in id order: changed, removed or inserted entries break it."""
    head = session.execute(select(AuditHead).where(AuditHead.id == 1)).scalar_one()
    total = head.count
    done = walk(session, GENESIS_HASH, 0, batch=batch, cancel=cancel,
                progress=(lambda n: progress(n, max(total, n))) if progress else None)
    if done.bad_id is not None:
        return VerifyResult(False, done.count, done.bad_id,
                            "it does not follow the entry before it (an entry was removed or inserted)" if done.moved
                            else "its content was changed after it was written")
    prev, seen, last_id = done.prev, done.count, done.last_id
    if prev != head.last_hash or seen != head.count:
        return VerifyResult(
            False, seen, last_id + 1 if seen < head.count else last_id,
            f"the log ends after {seen} entries but {head.count} were written (entries were removed from the end)"
            if seen < head.count else "the chain does not end where the log's head says (entries were added or removed)",
        )
    return VerifyResult(True, seen)


def verify_database(
    db,
    progress: Callable[[int, int], None] | None = None,
    cancel: Callable[[], bool] | None = None,
) -> VerifyResult:
    """Verify in one consistent snapshot: on PostgreSQL (READ COMMITTED by default) an
    entry committed during the walk would otherwise look like a broken end of the chain."""
    with db.read_session() as session:
        if db.is_postgres:
            session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
        return verify(session, progress, cancel)
