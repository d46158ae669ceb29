"""The audit log's hash chain: append entries under the head lock, and verify the chain.

Each entry's hash covers its id, the previous entry's hash and every column
(``cxdesk.auditproof.entry_hash``, the same code a third party runs to check a proof), so
an edited, removed, inserted or renumbered entry breaks the chain. Entries get their ids
here, one after the other, under the head lock.
"""
from __future__ import annotations

import datetime as dt
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
    prev = GENESIS_HASH
    seen = 0
    last_id = 0
    cols = [getattr(AuditEntry, f) for f in FIELDS]
    while True:
        rows = session.execute(
            select(AuditEntry.id, AuditEntry.prev_hash, AuditEntry.hash, *cols)
            .where(AuditEntry.id > last_id)
            .order_by(AuditEntry.id)
            .limit(batch)
        ).all()
        if not rows:
            break
        for row in rows:
            values = dict(zip(FIELDS, row[3:]))
            if row.prev_hash != prev:
                return VerifyResult(False, seen, row.id, "it does not follow the entry before it (an entry was removed or inserted)")
            if entry_hash(row.id, prev, values) != row.hash:
                return VerifyResult(False, seen, row.id, "its content was changed after it was written")
            prev = row.hash
            last_id = row.id
            seen += 1
        if progress:
            progress(seen, max(total, seen))
        if cancel and cancel():
            from cxdesk.errors import Cancelled

            raise Cancelled()
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
