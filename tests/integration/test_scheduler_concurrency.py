"""Scheduled changes under real concurrency: three processes run apply_due at the same time
against one database; every change is applied exactly once."""
from __future__ import annotations

import dataclasses
import datetime as dt
import json
import subprocess
import sys
import time

import pytest
from sqlalchemy import func, select

from cxdesk.db import open_database
from cxdesk.models import AuditEntry, Contact, Customer, ScheduledChange, utcnow
from cxdesk.services import audit_chain, contacts, scheduler
from cxdesk.services.actor import Actor, cli_actor
from cxdesk.services.contacts import ContactForm
from cxdesk.services.uow import unit_of_work

pytestmark = pytest.mark.slow

# Waits for the go file, runs apply_due once, prints [[change_id, state, result], ...].
WORKER = r"""
import datetime as dt, json, os, sys, time
from cxdesk.db import open_database
from cxdesk.services import scheduler

url, go, now = sys.argv[1], sys.argv[2], dt.datetime.fromisoformat(sys.argv[3])
db = open_database(url)
while not os.path.exists(go):
    time.sleep(0.005)
results = scheduler.apply_due(db, now, limit=1000)
print(json.dumps([[r.change_id, r.state, r.result] for r in results]), flush=True)
db.close()
"""

N_EDITS = 30
N_NEW = 30


def test_three_processes_apply_each_change_exactly_once(db_url, tmp_path):
    db = open_database(db_url)
    sam = Actor(login="sam", role="staff")
    with unit_of_work(db, cli_actor()) as uow:
        acme = uow.add(Customer(name="Acme", currency="EUR"))
        uow.flush()
        acme_id = acme.id
    people = [contacts.create_contact(db, sam, acme_id, ContactForm(name=f"Person {i}", email=f"p{i}@acme.example",
                                                                      auto_generate_password=False))
              for i in range(N_EDITS)]
    due = utcnow() + dt.timedelta(minutes=5)
    for p in people:
        scheduler.schedule_contact_change(db, sam, dataclasses.replace(p.form(), name=f"{p.name} (renamed)"), due,
                                          contact_id=p.id, expected_version=p.version)
    for i in range(N_NEW):
        scheduler.schedule_contact_change(db, sam, ContactForm(name=f"New {i}", email=f"new{i}@acme.example",
                                                                      auto_generate_password=False), due,
                                          customer_id=acme_id)
    go = tmp_path / "go"
    procs = [subprocess.Popen([sys.executable, "-c", WORKER, db_url, str(go), due.isoformat()],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(3)]
    time.sleep(1.5)  # every worker has imported and connected: they really start together
    go.touch()
    outcomes = []
    for p in procs:
        out, err = p.communicate(timeout=240)
        assert p.returncode == 0 and "Traceback" not in err, err
        outcomes.extend(json.loads(out))

    ids = [change_id for change_id, _, _ in outcomes]
    assert len(ids) == N_EDITS + N_NEW and len(set(ids)) == len(ids)  # each reported once, by one process
    assert {state for _, state, _ in outcomes} == {"applied"}
    with db.read_session() as s:
        assert set(s.scalars(select(ScheduledChange.state))) == {"applied"}
        assert set(s.scalars(select(ScheduledChange.attempts))) == {1}
        renamed = s.execute(select(Contact.name, Contact.version).where(Contact.name.like("%(renamed)"))).all()
        assert len(renamed) == N_EDITS and {v for _, v in renamed} == {2}  # each edit once
        assert s.scalar(select(func.count()).select_from(Contact).where(Contact.name.like("New %"))) == N_NEW
        applied = s.scalars(select(AuditEntry.message).where(AuditEntry.message.like("Applied scheduled change %")))
        assert len(list(applied)) == N_EDITS + N_NEW
        check = audit_chain.verify(s)
    assert check.ok, check.sentence()
    db.close()
