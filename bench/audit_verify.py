"""`audit verify` with state reconciliation, and the start-up witness check (issue 13).

1. The whole verify (hash chain + reconciliation of every audited row) on N entries
   (quick: 100,000; --full: 1,000,000), against a bare SHA-256 of the same entries' bytes.
2. The start-up check (services.audit_witness.check_database) with 10,000 entries written
   since this workstation's last checkpoint: target < 50 ms and within 5x of hashing those
   entries bare.

The log is built on a SQLite file in a temp dir: CUSTOMERS customers created through the unit
of work, then their latest entries repeated (new ids, re-chained) up to N entries, so the
data still reconciles and every entry is read and parsed as in real use.
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
from decimal import Decimal
from pathlib import Path

from sqlalchemy import insert, select, update

from cxdesk import auditproof
from cxdesk.db import open_database
from cxdesk.models import AuditEntry, AuditHead, Customer
from cxdesk.services import audit_chain, audit_reconcile, audit_witness
from cxdesk.services.actor import cli_actor
from cxdesk.services.uow import unit_of_work

SIZES = {False: 100_000, True: 1_000_000}
CUSTOMERS = 2_000
SINCE = 10_000


def build(db, n: int) -> None:
    actor = cli_actor()
    with unit_of_work(db, actor) as uow:
        for i in range(CUSTOMERS):
            uow.add(Customer(name=f"Customer {i:05d}", currency="EUR", credit=Decimal(i)))
    with db.read_session() as s:
        templates = [{f: getattr(e, f) for f in audit_chain.FIELDS} for e in s.scalars(select(AuditEntry))]
        head = s.get(AuditHead, 1)
        prev, last_id = head.last_hash, head.last_id
    rows = []
    with db.engine.begin() as conn:
        for i in range(n - last_id):
            values = dict(templates[i % len(templates)])
            last_id += 1
            values.update(id=last_id, prev_hash=prev)
            values["hash"] = prev = audit_chain.entry_hash(last_id, prev, values)
            rows.append(values)
            if len(rows) == 20_000:
                conn.execute(insert(AuditEntry), rows, execution_options={"cxdesk_audited": True})
                rows = []
        if rows:
            conn.execute(insert(AuditEntry), rows, execution_options={"cxdesk_audited": True})
        conn.execute(update(AuditHead).where(AuditHead.id == 1).values(last_hash=prev, last_id=last_id, count=last_id),
                     execution_options={"cxdesk_audited": True})


def entry_bytes(db, after_id: int = 0) -> list[bytes]:
    """What each entry's hash covers, serialised as the chain serialises it."""
    out = []
    with db.read_session() as s:
        cols = [getattr(AuditEntry, f) for f in audit_chain.FIELDS]
        for row in s.execute(select(AuditEntry.id, AuditEntry.prev_hash, *cols)
                             .where(AuditEntry.id > after_id).order_by(AuditEntry.id)):
            values = audit_chain.hashed_values(dict(zip(audit_chain.FIELDS, row[2:])))
            parts = [auditproof.VERSION, row[0], row[1]] + [values[f] for f in audit_chain.FIELDS]
            out.append(json.dumps(parts, ensure_ascii=False, separators=(",", ":")).encode())
    return out


def bare(blobs: list[bytes]) -> float:
    started = time.perf_counter()
    for b in blobs:
        hashlib.sha256(b).digest()
    return time.perf_counter() - started


def best(fn, times: int = 3) -> float:
    out = []
    for _ in range(times):
        started = time.perf_counter()
        fn()
        out.append(time.perf_counter() - started)
    return min(out)


def main(full: bool) -> None:
    n = SIZES[full]
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["XDG_STATE_HOME"] = str(Path(tmp) / "state")  # the witness goes here
        db = open_database(f"sqlite:///{Path(tmp) / 'bench.db'}")
        try:
            started = time.perf_counter()
            build(db, n)
            print(f"   built {n:,} entries in {time.perf_counter() - started:.1f} s")
            blobs = entry_bytes(db)
            base = bare(blobs)

            def verify() -> None:
                assert audit_chain.verify_database(db).ok
                result = audit_reconcile.reconcile_database(db)
                assert result.ok, result.findings[:3]

            took = best(verify, 1)
            print(f"   audit verify + reconciliation, {n:,} entries: {took:.2f} s; bare SHA-256 of the same "
                  f"bytes {base:.3f} s; ratio {took / base:.0f}x")
            last = n - SINCE
            with db.read_session() as s:
                h = s.get(AuditEntry, last).hash
            seen = audit_witness.Head(last, last, h)
            audit_witness.save(db.display, seen)
            recent_blobs = entry_bytes(db, last)
            recent = min(bare(recent_blobs) for _ in range(5))  # best of 5, as the check (never the slowest)

            def check() -> None:
                assert audit_witness.check_database(db, record=False).checked == SINCE

            took = best(check, 5)
            verdict = "meets both" if took < 0.050 and took <= 5 * recent else "MISSES a target"
            print(f"   start-up witness check, {SINCE:,} new entries: {took * 1000:.1f} ms (target < 50 ms); "
                  f"bare SHA-256 {recent * 1000:.1f} ms; ratio {took / recent:.1f}x (target 5x): {verdict}")

            def check_content() -> None:
                assert audit_witness.check_database(db, record=False, links_only=False).checked == SINCE

            full = best(check_content, 5)
            print(f"   (the same with every new entry's content re-hashed, as audit verify does: "
                  f"{full * 1000:.1f} ms, {full / recent:.1f}x)")
        finally:
            db.close()
