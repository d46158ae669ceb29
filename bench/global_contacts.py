"""Global Contacts on 100,000 contacts (20,000 quick) of 5,000 customers.

The contacts are bulk-inserted into a temp SQLite file (and, when CXDESK_BENCH_PG_URL
names an empty PostgreSQL database, into that too). What the window does is timed as the
user meets it: opening = count + first page; a search = count + first page of matches.
Baseline, measured in the same run: a bare ``SELECT ... ORDER BY id LIMIT 100`` of the
same columns. Targets: first rows < 300 ms, a search < 200 ms.
"""
from __future__ import annotations

import datetime as dt
import os
import random
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import insert, text

from cxdesk.db import Database, open_database
from cxdesk.models import Contact, Customer
from cxdesk.models.customer import contact_search_text
from cxdesk.services import contacts

FIRST = ("Ann Bob Carla Dmitri Eve Finn Gail Hugo Iris Jack Kara Liam Mona Nick Olga Pete Quinn Rosa Sam Tina "
         "Uma Victor Wanda Xavier Yusuf Zoe").split()
LAST = ("Smith Jones Brown Taylor Wilson Davies Evans Thomas Roberts Walker Wright Green Hall Wood Clarke Novak "
        "Müller Garcia Rossi Dubois Kowalski Ivanova Nakamura Okafor Silva").split()
WORDS = "Telecom Voice Networks Carrier Connect Global Link Tel Wave Signal".split()
CUSTOMERS = 5_000
PAGE = 100
RARE = "needle.haystack@rare.example"
TARGET_OPEN_MS, TARGET_SEARCH_MS = 300, 200


def _rows(n_contacts: int, seed: int = 11) -> tuple[list[dict], list[dict]]:
    rng = random.Random(seed)
    now = dt.datetime.now(dt.timezone.utc)
    common = dict(version=1, created_at=now, updated_at=now, updated_by="bench")
    customers = [dict(id=i + 1, name=f"{rng.choice(LAST)} {rng.choice(WORDS)} {i:04d}", status="Active",
                      currency="EUR", credit=0, debit_limit=0, channels=30, flow_speed=10, tax_percent=0,
                      invoice_schedule="Monthly", invoice_due_days=30, portal_access=True, tags="", **common)
                 for i in range(CUSTOMERS)]
    people = []
    for n in range(n_contacts):
        name = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
        email = RARE if n == n_contacts // 3 else f"{name.lower().replace(' ', '.')}{n}@c{n % CUSTOMERS}.example"
        phone = f"+44{rng.choice(['20', '161', '117'])}{rng.randrange(10**6, 10**7)}"
        mobile = f"+447{rng.randrange(10**8, 10**9)}" if n % 2 else ""
        people.append(dict(customer_id=1 + n % CUSTOMERS, name=name, email=email, email_key=email.lower(),
                           phone=phone, mobile=mobile, contact_type="General", password_hash=None,
                           auto_generate_password=True, public_notes="Main contact for invoices" if n % 5 else "",
                           private_notes="", mobile_verified=False, email_verified=n % 3 == 0, ip_whitelist="",
                           search_text=contact_search_text(name, email, phone, mobile), **common))
    return customers, people


def _load(db: Database, customers: list[dict], people: list[dict]) -> None:
    """Straight into the tables (the bench measures reads; the audit log is not the point)."""
    with db.engine.begin() as conn:
        conn.execute(insert(Customer.__table__), customers)
        for i in range(0, len(people), 20_000):
            conn.execute(insert(Contact.__table__), people[i:i + 20_000])
        if db.is_postgres:
            conn.execute(text("SELECT setval(pg_get_serial_sequence('customers', 'id'), :n)"), {"n": CUSTOMERS})
    with db.engine.connect() as conn:
        if db.is_postgres:
            conn.execution_options(isolation_level="AUTOCOMMIT").execute(text("VACUUM ANALYZE"))
        else:
            conn.execute(text("ANALYZE"))
            conn.commit()


def _ms(fn: Callable[[], object], repeat: int = 5) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def _measure(db: Database, label: str) -> None:
    results: list[tuple[str, float, float | None]] = []
    with db.read_session() as s:
        def shown(search: str = "", sort: str = "name", descending: bool = False) -> None:
            total = contacts.global_contacts_count(s, search)
            contacts.global_contacts_page(s, search, sort, descending, 0, PAGE, total=total)

        cold = _ms(shown, repeat=1)
        base = _ms(lambda: s.execute(text(
            f"SELECT contacts.id, contacts.name, email, phone, customers.name FROM contacts "
            f"JOIN customers ON customers.id = contacts.customer_id ORDER BY contacts.id LIMIT {PAGE}")).all())
        total = contacts.global_contacts_count(s)
        results.append(("open: count + first page (cold)", cold, TARGET_OPEN_MS))
        results.append(("open: count + first page", _ms(shown), TARGET_OPEN_MS))
        for key in ("email", "company", "phone", "contact_type"):
            results.append((f"sort by {key}: count + first page", _ms(lambda k=key: shown(sort=k)), TARGET_OPEN_MS))
        results.append(("sort by name descending", _ms(lambda: shown(descending=True)), TARGET_OPEN_MS))
        for where, offset in (("middle", total // 2), ("last", total - PAGE)):
            results.append((f"scroll to the {where} page", _ms(lambda o=offset: contacts.global_contacts_page(
                s, "", "name", False, o, PAGE, total=total)), None))
        searches = {
            "common name 'smith'": "smith",
            "rare email": RARE,
            "company '0042'": "0042",
            "phone digits '020 71'": "020 71",
            "no match 'zzzq'": "zzzq",
            "one letter 'a'": "a",
        }
        for name, term in searches.items():
            results.append((f"search {name}: count + first page", _ms(lambda t=term: shown(t)), TARGET_SEARCH_MS))
        results.append(("search 'smith' sorted by company", _ms(lambda: shown("smith", "company")), TARGET_SEARCH_MS))
    print(f"   {label}: {total:,} contacts; baseline bare SELECT of the first page {base:.2f} ms")
    worst = max(ms for _, ms, target in results if target)
    for name, ms, target in results:
        verdict = "" if target is None else ("  ok" if ms < target else f"  OVER {target} ms")
        print(f"   {name:45s} {ms:8.1f} ms  x{ms / base:8.1f}{verdict}")
    print(f"   slowest targeted figure {worst:.1f} ms")


def main(full: bool) -> None:
    n = 100_000 if full else 20_000
    customers, people = _rows(n)
    work = Path(tempfile.mkdtemp(prefix="cxdesk-bench-contacts-"))
    try:
        with open_database(f"sqlite:///{work / 'contacts.db'}") as db:
            _load(db, customers, people)
            _measure(db, "SQLite")
        pg_url = os.environ.get("CXDESK_BENCH_PG_URL")
        if pg_url:
            with open_database(pg_url) as db:
                _load(db, customers, people)
                _measure(db, "PostgreSQL")
        else:
            print("   (set CXDESK_BENCH_PG_URL to an empty PostgreSQL database to measure it too)")
    finally:
        shutil.rmtree(work, ignore_errors=True)
