"""The audit log's hash chain: append entries under the head lock, and verify the chain."""
from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from cxdesk.models import GENESIS_HASH, AuditEntry, AuditHead

FIELDS = (
    "actor", "ip", "created_at", "table_name", "primary_key", "action",
    "message", "before", "after", "comment", "customer_id",
)


def entry_hash(prev_hash: str, values: dict) -> str:
    parts = [prev_hash]
    for name in FIELDS:
        v = values.get(name)
        if isinstance(v, dt.datetime):
            v = v.astimezone(dt.timezone.utc).isoformat(timespec="microseconds")
        parts.append(v)
    data = json.dumps(parts, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(data.encode("utf-8")).hexdigest()


def append(session: Session, entries: Iterable[dict]) -> list[int]:
    """Insert entries at the end of the chain, in the caller's transaction."""
    entries = list(entries)
    if not entries:
        return []
    head = session.execute(
        select(AuditHead).where(AuditHead.id == 1).with_for_update()
    ).scalar_one()
    prev, last_id, count = head.last_hash, head.last_id, head.count
    ids = []
    for values in entries:
        values = dict(values)
        values["prev_hash"] = prev
        values["hash"] = entry_hash(prev, values)
        last_id = session.execute(
            insert(AuditEntry).values(**values).returning(AuditEntry.id),
            execution_options={"cxdesk_audited": True},
        ).scalar_one()
        ids.append(last_id)
        prev = values["hash"]
        count += 1
    session.execute(
        update(AuditHead).where(AuditHead.id == 1).values(last_hash=prev, last_id=last_id, count=count),
        execution_options={"cxdesk_audited": True},
    )
    return ids


@dataclass
class VerifyResult:
    ok: bool
    count: int
    bad_id: int | None = None
    reason: str = ""

    def sentence(self) -> str:
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
            if entry_hash(prev, values) != row.hash:
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
