"""Hourly rollup of N CDRs against a bare SQL ``GROUP BY`` over the same table (target:
within 1.5x), then an incremental rollup of 10,000 new CDRs on top (target: under 1 s,
also shown against the bare GROUP BY of just those rows).

The baseline is the rollup's own SELECT (same hour expression, same sums) fetched to
the client, without writing anything. Each is timed three times, alternating, best
kept; between full rollups the derived table and the watermark are reset. The CDRs
come from a generated platform CSV through the importer (not timed). SQLite always;
PostgreSQL too when the test setup's server can start.
"""
from __future__ import annotations

import datetime as dt
import tempfile
import time
from pathlib import Path

from sqlalchemy import text

from bench.import_cdr import add_customers, backends, write_cdr_csv
from cxdesk.db import Database, open_database
from cxdesk.services import rollup
from cxdesk.services.actor import cli_actor
from cxdesk.services.cdr_import import import_cdrs

SIZES = {False: 100_000, True: 1_000_000}
NEW = 10_000
ROUNDS = 3


def group_by(db: Database, low: int = 0) -> float:
    sql = rollup.rollup_sql(db.engine.dialect.name)
    select_part = sql[sql.index("SELECT"):sql.index("ON CONFLICT")]
    started = time.perf_counter()
    with db.engine.connect() as conn:
        conn.execute(text(select_part), {"low": low, "high": 2**62}).fetchall()
    return time.perf_counter() - started


def timed_rollup(db: Database) -> tuple[float, rollup.RollupResult]:
    started = time.perf_counter()
    result = rollup.run(db)
    return time.perf_counter() - started, result


def reset(db: Database) -> None:
    """Forget the derived rows (benchmark only: the app never does this)."""
    with db.engine.begin() as conn:
        conn.exec_driver_sql("DELETE FROM hourly_summaries")
        conn.exec_driver_sql("UPDATE rollup_state SET last_cdr_id = 0")


def main(full: bool) -> None:
    n = SIZES[full]
    with tempfile.TemporaryDirectory(prefix="cxdesk-bench-") as tmp_name, backends(Path(tmp_name)) as found:
        tmp = Path(tmp_name)
        bulk = write_cdr_csv(tmp / "bulk.csv", n)
        # 9,000 calls in the next days plus 1,000 late ones for hours already rolled up
        new = write_cdr_csv(tmp / "new.csv", NEW - 1_000, seed=2,
                            start=dt.datetime(2026, 1, 31, tzinfo=dt.timezone.utc), days=2)
        late = write_cdr_csv(tmp / "late.csv", 1_000, seed=3)
        for backend, fresh_url in found:
            url = fresh_url()
            add_customers(url)
            with open_database(url) as db:
                import_cdrs(db, cli_actor(), bulk)
                base, full_runs = [], []
                for _ in range(ROUNDS):
                    base.append(group_by(db))
                    reset(db)
                    full_runs.append(timed_rollup(db))
                took, result = min(full_runs, key=lambda r: r[0])
                low = result.last_cdr_id
                import_cdrs(db, cli_actor(), new)
                import_cdrs(db, cli_actor(), late)
                new_base = group_by(db, low)
                inc_took, inc = timed_rollup(db)
            print(f"   {backend}: {result.cdrs:,} CDRs -> {result.hours:,} hourly rows")
            print(f"     full rollup {took:.2f} s, bare GROUP BY {min(base):.2f} s -> {took / min(base):.2f}x (target <= 1.5x)")
            print(f"     incremental: {inc.cdrs:,} new CDRs in {inc_took:.3f} s (target < 1 s); "
                  f"bare GROUP BY of them {new_base:.3f} s -> {inc_took / new_base:.2f}x")
