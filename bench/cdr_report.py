"""CDR report of N rows (one customer, one month) against ``csv.writer`` over the same
rows (target: within 1.5x), and its memory: peak growth for about N/5 rows (six days)
vs N rows (the month) should be the same.

The baseline runs the same WHERE / ORDER BY with the bare column values on a driver
cursor (server-side on PostgreSQL) and hands the rows to ``csv.writer`` untouched; the
report also formats times and amounts. Timings are the best of two, alternating;
memory is measured in fresh processes. SQLite always; PostgreSQL too when the test
setup's server can start. Data and files go to a temp dir.
"""
from __future__ import annotations

import csv
import datetime as dt
import tempfile
import time
from pathlib import Path

from bench.import_cdr import START, add_customers, backends, in_child, write_cdr_csv
from cxdesk.db import open_database
from cxdesk.services.actor import cli_actor
from cxdesk.services.cdr_import import COLUMNS, import_cdrs
from cxdesk.services.cdr_report import CHUNK, write_cdr_report

SIZES = {False: 100_000, True: 1_000_000}
MONTH = (START, START + dt.timedelta(days=30))
SIX_DAYS = (START, START + dt.timedelta(days=6))


def report(url: str, path: Path, start: dt.datetime, end: dt.datetime) -> None:
    with open_database(url) as db:
        write_cdr_report(db, cli_actor(), 1, start, end, path)


def baseline(url: str, path: Path, start: dt.datetime, end: dt.datetime) -> None:
    with open_database(url) as db, db.engine.connect() as conn, open(path, "w", newline="", encoding="utf-8") as fh:
        raw = conn.connection.driver_connection
        if db.is_sqlite:
            cursor = raw.cursor()
            args = (start.replace(tzinfo=None).isoformat(" ", "microseconds"),
                    end.replace(tzinfo=None).isoformat(" ", "microseconds"))
            mark = "?"
        else:
            cursor = raw.cursor(name="bench_baseline")  # server-side, like the report's
            args, mark = (start, end), "%s"
        cursor.execute(f"SELECT {', '.join(COLUMNS)} FROM cdrs WHERE customer_id = 1 AND dt >= {mark} "
                       f"AND dt < {mark} ORDER BY dt, id", args)
        writer = csv.writer(fh)
        writer.writerow(COLUMNS)
        while rows := cursor.fetchmany(CHUNK):
            writer.writerows(rows)


def timed(fn, *args) -> float:
    started = time.perf_counter()
    fn(*args)
    return time.perf_counter() - started


def main(full: bool) -> None:
    n = SIZES[full]
    with tempfile.TemporaryDirectory(prefix="cxdesk-bench-") as tmp_name, backends(Path(tmp_name)) as found:
        tmp = Path(tmp_name)
        cdrs = write_cdr_csv(tmp / "cdrs.csv", n, customers=1)
        out = tmp / "report.csv"
        for backend, fresh_url in found:
            url = fresh_url()
            add_customers(url, 1)
            with open_database(url) as db:
                import_cdrs(db, cli_actor(), cdrs)
            base, mine = [], []
            for _ in range(2):
                base.append(timed(baseline, url, out, *MONTH))
                mine.append(timed(report, url, out, *MONTH))
            with open(out, encoding="utf-8-sig") as fh:
                rows = sum(1 for _ in fh) - 1
            _, small = in_child(report, url, out, *SIX_DAYS)
            _, large = in_child(report, url, out, *MONTH)
            print(f"   {backend}: report of {rows:,} CDRs {min(mine):.2f} s, csv.writer over the bare query "
                  f"{min(base):.2f} s -> {min(mine) / min(base):.2f}x (target <= 1.5x)")
            print(f"     memory: peak growth for the month / six days = {large:.1f} / {small:.1f} MB "
                  f"= {large / max(small, 0.1):.2f}x (flat is ~1x)")
