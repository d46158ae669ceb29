"""``cxdesk demo`` throughput (CDRs per second) against a bare executemany of the same rows.

Both run in this process on fresh SQLite files in a temporary folder. The baseline
inserts the very rows the demo wrote (read back as plain tuples) with sqlite3's
executemany in one transaction: no generation, no Decimal conversion, no audit. Quick
size: 40 customers x 7 days; --full: 500 customers x 30 days at 70 calls a day, about
1,000,000 CDRs (the issue's scale).
"""
from __future__ import annotations

import datetime as dt
import sqlite3
import tempfile
import time
from pathlib import Path

from cxdesk.db import open_database
from cxdesk.services.actor import Actor
from cxdesk.services.demo import load_demo

END = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)


def main(full: bool) -> None:
    customers, days = (500, 30) if full else (40, 7)
    actor = Actor("bench", "admin", "Benchmark", system=True)
    with tempfile.TemporaryDirectory(prefix="cxdesk-bench-demo-") as tmp:
        path = Path(tmp) / "demo.db"
        db = open_database(f"sqlite:///{path}")
        started = time.perf_counter()
        result = load_demo(db, actor, customers=customers, days=days, seed=1, end=END)
        demo_s = time.perf_counter() - started
        db.close()

        src = sqlite3.connect(path)
        columns = [r[1] for r in src.execute("PRAGMA table_info(cdrs)") if r[1] != "id"]
        rows = src.execute(f"SELECT {', '.join(columns)} FROM cdrs").fetchall()
        src.close()

        bare_path = Path(tmp) / "bare.db"
        dst = sqlite3.connect(bare_path)
        dst.execute("PRAGMA journal_mode = WAL")
        # the same table without its foreign key (there are no customers in the bare file)
        dst.execute(f"CREATE TABLE cdrs (id INTEGER PRIMARY KEY AUTOINCREMENT, {', '.join(columns)}, "
                    "UNIQUE (callid))")
        started = time.perf_counter()
        with dst:
            dst.executemany(
                f"INSERT INTO cdrs ({', '.join(columns)}) VALUES ({', '.join('?' for _ in columns)})", rows
            )
        bare_s = time.perf_counter() - started
        dst.close()

    n = result.cdrs
    demo_rate, bare_rate = n / demo_s, n / bare_s
    print(f"   cxdesk demo: {result.customers} customers, {result.contacts} contacts, {n:,} CDRs "
          f"in {demo_s:.1f} s = {demo_rate:,.0f} CDRs/s (generation, Decimal money, audit, rollup)")
    print(f"   bare executemany of the same {n:,} rows: {bare_s:.2f} s = {bare_rate:,.0f} CDRs/s")
    print(f"   ratio: demo runs at {demo_rate / bare_rate:.2f}x the bare insert rate")
