"""Concurrent writers never fork the audit chain: 4 processes each commit 50 audited changes."""
from __future__ import annotations

import subprocess
import sys
import time

import pytest
from sqlalchemy import func, select

from cxdesk.models import AuditEntry, AuditHead, Customer
from cxdesk.services import audit_chain, audit_log
from cxdesk.services.actor import Actor

WORKERS = 4
CHANGES = 50

WORKER = """
import sys, time
from decimal import Decimal
from pathlib import Path
from cxdesk.db import open_database
from cxdesk.models import Customer
from cxdesk.services.actor import Actor
from cxdesk.services.uow import unit_of_work

url, n, go = sys.argv[1], int(sys.argv[2]), Path(sys.argv[3])
actor = Actor(login=f"worker{n}", role="staff", ip=f"10.0.1.{n}")
db = open_database(url)
while not go.exists():
    time.sleep(0.01)
with unit_of_work(db, actor) as uow:
    customer = uow.add(Customer(name=f"Worker {n}", currency="EUR"))
    uow.flush()
    cid = customer.id
for i in range(1, %d):
    with unit_of_work(db, actor, f"change {i}") as uow:
        uow.session.get(Customer, cid).credit = Decimal(i)
db.close()
""" % CHANGES


@pytest.mark.slow
def test_concurrent_writers_keep_one_chain(db, tmp_path, supervisor):
    url = db.url.render_as_string(hide_password=False)
    go = tmp_path / "go"
    procs = [subprocess.Popen([sys.executable, "-c", WORKER, url, str(n), str(go)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for n in range(WORKERS)]
    time.sleep(1)  # let them all open the database, then start together
    go.touch()
    for p in procs:
        out, err = p.communicate(timeout=300)
        assert p.returncode == 0, err

    total = WORKERS * CHANGES
    with db.read_session() as s:
        assert audit_chain.verify(s) == audit_chain.VerifyResult(True, total)
        ids = list(s.scalars(select(AuditEntry.id).order_by(AuditEntry.id)))
        forks = s.execute(select(AuditEntry.prev_hash).group_by(AuditEntry.prev_hash)
                          .having(func.count() > 1)).all()
        head = s.get(AuditHead, 1)
        actors = dict(s.execute(select(AuditEntry.actor, func.count()).group_by(AuditEntry.actor)).all())
        interleaved = len({a for a in s.scalars(select(AuditEntry.actor).where(AuditEntry.id <= total // 2))})
        assert [c.credit for c in s.scalars(select(Customer))] == [CHANGES - 1] * WORKERS
    assert ids == list(range(1, total + 1)) and forks == []
    assert (head.last_id, head.count) == (total, total)
    assert actors == {f"worker{n}": CHANGES for n in range(WORKERS)}
    assert interleaved > 1, "the writers ran one after the other; the test proved nothing"
    # the check itself is recorded at the end of the same chain
    assert audit_log.verify_and_record(db, supervisor).ok
    with db.read_session() as s:
        assert audit_chain.verify(s) == audit_chain.VerifyResult(True, total + 1)


@pytest.mark.slow
def test_verify_while_writers_append(db, tmp_path, supervisor):
    """A verification in one snapshot does not mistake entries appended meanwhile for a break."""
    url = db.url.render_as_string(hide_password=False)
    go = tmp_path / "go"
    go.touch()
    writer = subprocess.Popen([sys.executable, "-c", WORKER, url, "7", str(go)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    results = []
    while writer.poll() is None:
        results.append(audit_log.verify_and_record(db, Actor("sup", "supervisor", ip="10.0.0.8")))
    assert writer.returncode == 0, writer.stderr.read()
    assert results and all(r.ok for r in results)
    with db.read_session() as s:
        assert audit_chain.verify(s).ok
