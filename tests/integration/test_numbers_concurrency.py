"""Block and extension assignment under real concurrency: several processes, one PostgreSQL."""
from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from cxdesk.db import open_database
from cxdesk.models import Customer, NumberBlock, SipUser
from cxdesk.services import audit_chain, numbers, options
from cxdesk.services.actor import cli_actor
from cxdesk.services.uow import unit_of_work

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

# Each worker waits for the go file, then runs its jobs and prints one JSON line per job:
# [job, "ok" or the message a user would see]. A traceback fails the test.
WORKER = r"""
import contextlib, io, json, os, sys, time
from cxdesk.cli import main
from cxdesk.db import open_database
from cxdesk.errors import UserError
from cxdesk.services import numbers
from cxdesk.services.actor import cli_actor

url, go, mode, unlocked = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4] == "1"
jobs = json.loads(sys.argv[5])
if unlocked:  # without the lock, the unique constraints must still give the clear message
    numbers._lock = lambda session: None
db = open_database(url)
actor = cli_actor()
while not os.path.exists(go):
    time.sleep(0.005)
for job in jobs:
    if mode == "assign":
        try:
            block = numbers.assign_block(db, actor, job)
            print(json.dumps([job, "ok", block.start]), flush=True)
        except UserError as exc:
            print(json.dumps([job, str(exc), None]), flush=True)
    else:  # the CLI itself: `cxdesk sip add Acme <job> --generate`
        err, out = io.StringIO(), io.StringIO()
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
            rc = main(["--db", url, "sip", "add", "Acme", job, "--generate"])
        print(json.dumps([job, "ok" if rc == 0 else err.getvalue().strip(), rc]), flush=True)
db.close()
"""


def _run_workers(tmp_path: Path, url: str, mode: str, job_lists: list[list], unlocked: bool) -> list[list]:
    go = tmp_path / f"go-{mode}"
    procs = [
        subprocess.Popen([sys.executable, "-c", WORKER, url, str(go), mode, "1" if unlocked else "0",
                          json.dumps(jobs)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for jobs in job_lists
    ]
    time.sleep(1.5)  # let every worker import and connect, so they really start together
    go.touch()
    results = []
    for p in procs:
        out, err = p.communicate(timeout=240)
        assert p.returncode == 0, err
        assert "Traceback" not in err, err
        results.append([json.loads(line) for line in out.splitlines()])
    return results


@pytest.fixture
def pg(pg_url):
    db = open_database(pg_url)
    options.set_value(db, cli_actor(), "number-range-start", "1000")
    options.set_value(db, cli_actor(), "block-size", "100")
    yield pg_url, db
    db.close()


@pytest.mark.parametrize("unlocked", [False, True], ids=["locked", "constraint-only"])
def test_four_processes_assign_fifty_blocks_each(pg, tmp_path, unlocked):
    url, db = pg
    with unit_of_work(db, cli_actor()) as uow:
        customers = [uow.add(Customer(name=f"Customer {i:03d}", currency="EUR")) for i in range(200)]
        uow.flush()
        ids = [c.id for c in customers]
    results = _run_workers(tmp_path, url, "assign", [ids[i::4] for i in range(4)], unlocked)

    outcomes = [r for worker in results for r in worker]
    assert len(outcomes) == 200
    won = {cid: start for cid, msg, start in outcomes if msg == "ok"}
    lost = [msg for _, msg, _ in outcomes if msg != "ok"]
    if unlocked:  # losers of a race on the same block get the clear message
        assert all(m.startswith("Number block ") and m.endswith("press + again to get the next free one.")
                   for m in lost), lost
    else:
        assert lost == []
        assert sorted(won.values()) == list(range(1000, 1000 + 200 * 100, 100))  # the lowest, no gaps
    with db.read_session() as s:
        rows = s.execute(select(NumberBlock.customer_id, NumberBlock.start, NumberBlock.size)).all()
        assert {r.customer_id: r.start for r in rows} == won      # one block per winner, as reported
        spans = sorted((r.start, r.start + r.size - 1) for r in rows)
        assert all(a[1] < b[0] for a, b in zip(spans, spans[1:]))  # never handed out twice, no overlap
        check = audit_chain.verify(s)
    assert check.ok, check.sentence()


@pytest.mark.parametrize("unlocked", [False, True], ids=["locked", "constraint-only"])
def test_two_processes_claim_the_same_extensions(pg, tmp_path, unlocked):
    url, db = pg
    with unit_of_work(db, cli_actor()) as uow:
        acme = uow.add(Customer(name="Acme", currency="EUR"))
        uow.flush()
        acme_id = acme.id
    numbers.assign_block(db, cli_actor(), acme_id)  # 1000-1099
    wanted = [str(n) for n in range(1000, 1010)]
    first, second = _run_workers(tmp_path, url, "claim", [wanted, wanted], unlocked)

    for a, b in zip(first, second):
        assert a[0] == b[0]
        assert sorted([a[1] == "ok", b[1] == "ok"]) == [False, True], (a, b)  # exactly one winner
        loser = a if a[1] != "ok" else b
        assert loser[2] == 1
        assert loser[1].startswith(f"cxdesk: Duplicate User Detected: {loser[0]} ")
        assert loser[1].endswith("choose another extension.")
    with db.read_session() as s:
        assert sorted(s.scalars(select(SipUser.username)), key=int) == wanted
        check = audit_chain.verify(s)
    assert check.ok, check.sentence()
