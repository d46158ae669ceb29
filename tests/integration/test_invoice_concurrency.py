"""Invoice numbers under real concurrency: several processes generating at once on one
PostgreSQL database get 1..N without gaps or duplicates, and a period is invoiced once;
several processes crediting at once get credit notes CN-1..CN-N, one per invoice."""
from __future__ import annotations

import datetime as dt
import json
import random
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select

from cxdesk.db import open_database
from cxdesk.models import AuditEntry, Cdr, Customer, Invoice, InvoiceCounter
from cxdesk.services import audit_chain, invoices, rollup
from cxdesk.services.actor import cli_actor
from cxdesk.services.uow import unit_of_work

pytestmark = [pytest.mark.postgres, pytest.mark.slow]
UTC = dt.timezone.utc
JAN = dt.datetime(2025, 1, 1, tzinfo=UTC)

# Each worker waits for the go file, then runs its jobs and prints one JSON line per job:
# [job, "ok" or the message a user would see, the invoice numbers]. A traceback fails the test.
WORKER = r"""
import contextlib, datetime as dt, io, json, os, sys, time
from cxdesk.cli import main
from cxdesk.db import open_database
from cxdesk.errors import UserError
from cxdesk.services import invoice_lifecycle, invoices
from cxdesk.services.actor import cli_actor

url, go, mode = sys.argv[1], sys.argv[2], sys.argv[3]
jobs = json.loads(sys.argv[4])
db = open_database(url)
actor = cli_actor()
jan = dt.datetime(2025, 1, 1, tzinfo=dt.timezone.utc)
while not os.path.exists(go):
    time.sleep(0.005)
for job in jobs:
    if mode == "credit":
        try:
            note = invoice_lifecycle.credit_invoice(db, actor, job, "concurrency")
            print(json.dumps([job, "ok", [note.number]]), flush=True)
        except UserError as exc:
            print(json.dumps([job, str(exc), []]), flush=True)
    elif mode == "generate":
        try:
            made = invoices.generate_for_periods(db, actor, job, "monthly", [jan])
            print(json.dumps([job, "ok", [i.number for i in made]]), flush=True)
        except UserError as exc:
            print(json.dumps([job, str(exc), []]), flush=True)
    else:  # the CLI itself: `cxdesk invoice auto`
        err, out = io.StringIO(), io.StringIO()
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
            rc = main(["--db", url, "invoice", "auto", "--until", "2025-01-31"])
        numbers = [int(line.split()[2]) for line in out.getvalue().splitlines() if line.startswith("generated")]
        print(json.dumps([job, "ok" if rc == 0 else err.getvalue().strip(), numbers]), flush=True)
db.close()
"""


def run_workers(tmp_path: Path, url: str, mode: str, job_lists: list[list]) -> list[list]:
    go = tmp_path / f"go-{mode}"
    procs = [subprocess.Popen([sys.executable, "-c", WORKER, url, str(go), mode, json.dumps(jobs)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for jobs in job_lists]
    time.sleep(1.5)  # let every worker import and connect, so they really start together
    go.touch()
    results = []
    for p in procs:
        out, err = p.communicate(timeout=240)
        assert p.returncode == 0, err
        assert "Traceback" not in err, err
        results.append([json.loads(line) for line in out.splitlines()])
    return results


def cdr(callid: str, at: dt.datetime, customer_id: int, charge: Decimal) -> dict:
    return {"callid": callid, "dt": at, "customer_id": customer_id, "source_cli": "", "dest_number": "",
            "duration": 60, "customer_duration": 60, "customer_charge": charge, "customer_card_rate": Decimal(0),
            "customer_card_dest_code": "44", "customer_card_dest_name": "United Kingdom",
            "customer_card_currency": "EUR", "provider_id": None, "provider_charge": Decimal(0), "pdd_out": 0,
            "ring_duration": 0, "sip_code": 200, "sip_reason": "OK", "release_reason": ""}


@pytest.fixture
def pg(pg_url):
    db = open_database(pg_url)
    yield pg_url, db
    db.close()


def make_customers(db, n: int, schedule: str, days: int) -> list[int]:
    """n customers with one call on each of the first ``days`` days of January 2025."""
    rng = random.Random(5)
    with unit_of_work(db, cli_actor()) as uow:
        customers = [uow.add(Customer(name=f"Customer {i:03d}", currency="EUR", invoice_schedule=schedule))
                     for i in range(n)]
        uow.flush()
        ids = [c.id for c in customers]
        uow.bulk_insert(Cdr, [cdr(f"{cid}-{d}", JAN + dt.timedelta(days=d, hours=9), cid,
                                  Decimal(rng.randrange(1, 10**6)).scaleb(-6))
                              for cid in ids for d in range(days)], "test CDRs")
    rollup.run(db)
    return ids


def check_db(db, expected_invoices: int) -> dict[tuple[int, dt.datetime], int]:
    """Numbers 1..N without gaps or duplicates, the counter at N, one invoice per period,
    two GENERATE entries per invoice, an intact audit chain. Returns {(customer, start): number}."""
    with db.read_session() as s:
        rows = s.execute(select(Invoice.number, Invoice.customer_id, Invoice.period_start)).all()
        assert sorted(r.number for r in rows) == list(range(1, expected_invoices + 1))
        assert s.scalar(select(InvoiceCounter.last_number).where(InvoiceCounter.id == invoices.COUNTER_ID)) == expected_invoices
        generated = s.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "GENERATE"))
        assert generated == 2 * expected_invoices
        check = audit_chain.verify(s)
    assert check.ok, check.sentence()
    periods = {(r.customer_id, r.period_start): r.number for r in rows}
    assert len(periods) == len(rows)  # no period twice
    return periods


def test_three_processes_generate_the_same_periods(pg, tmp_path):
    url, db = pg
    ids = make_customers(db, 40, "Monthly", 2)
    orders = [random.Random(seed).sample(ids, len(ids)) for seed in range(3)]  # all contend for every customer
    results = run_workers(tmp_path, url, "generate", orders)

    outcomes = [r for worker in results for r in worker]
    assert len(outcomes) == 3 * 40
    won = {cid: numbers[0] for cid, msg, numbers in outcomes if msg == "ok"}
    assert sorted(won) == sorted(ids)  # exactly one winner per customer...
    assert sum(msg == "ok" for _, msg, _ in outcomes) == 40
    for cid, msg, _ in outcomes:  # ...and the others were told which invoice covers it
        if msg != "ok":
            assert msg == (f"January 2025 is already invoiced: invoice {won[cid]} (January 2025) covers it; "
                           "open that invoice instead of generating another.")
    assert check_db(db, 40) == {(cid, JAN): number for cid, number in won.items()}


def test_three_processes_auto_generate_at_once(pg, tmp_path):
    url, db = pg
    ids = make_customers(db, 25, "Daily", 4)
    results = run_workers(tmp_path, url, "auto", [[1], [2], [3]])

    outcomes = [r for worker in results for r in worker]
    assert [msg for _, msg, _ in outcomes] == ["ok"] * 3, outcomes
    reported = sorted(n for _, _, numbers in outcomes for n in numbers)
    assert reported == list(range(1, 25 * 4 + 1))  # each invoice made by exactly one process
    periods = check_db(db, 25 * 4)
    assert set(periods) == {(cid, JAN + dt.timedelta(days=d)) for cid in ids for d in range(4)}


def test_three_processes_credit_the_same_invoices(pg, tmp_path):
    from cxdesk.models.invoices import CreditNote
    from cxdesk.services import invoice_lifecycle, options

    url, db = pg
    ids = make_customers(db, 30, "Monthly", 1)
    for key, value in (("company-name", "Example Carrier Ltd"), ("company-country", "GB"),
                       ("company-vat-id", "GB123456789")):
        options.set_value(db, cli_actor(), key, value)
    with unit_of_work(db, cli_actor()) as uow:
        for cid in ids:
            uow.session.get(Customer, cid).country = "DE"
    made = [invoices.generate_for_periods(db, cli_actor(), cid, "monthly", [JAN])[0] for cid in ids]
    numbers = {inv.id: invoice_lifecycle.issue_invoice(db, cli_actor(), inv.id).number for inv in made}
    orders = [random.Random(seed).sample(list(numbers), len(numbers)) for seed in range(3)]
    results = run_workers(tmp_path, url, "credit", orders)

    outcomes = [r for worker in results for r in worker]
    won = {invoice_id: cn[0] for invoice_id, msg, cn in outcomes if msg == "ok"}
    assert sorted(won) == sorted(numbers) and sorted(won.values()) == list(range(1, 31))  # one each, no gaps
    for invoice_id, msg, _ in outcomes:
        if msg != "ok":
            assert msg == f"Invoice {numbers[invoice_id]} is already credited by credit note CN-{won[invoice_id]}."
    with db.read_session() as s:
        assert s.get(InvoiceCounter, invoices.CREDIT_COUNTER_ID).last_number == 30
        assert s.scalar(select(func.count()).select_from(CreditNote)) == 30
        assert {inv.state for inv in s.scalars(select(Invoice))} == {"Credited"}
        assert audit_chain.verify(s).ok
