"""Summary grid engine: selection statistics and clipboard text at scale.

* select-all statistics of a 1,000,000 x 10 table (quick: 200,000 x 10) against a plain
  NumPy sum over the same int64 arrays (targets: < 50 ms and < 5x the baseline); whole
  columns use precomputed min/max, so the same selection minus its first row is timed
  too (the general path: sum, min and max passes per column);
* Copy with Headers of 100,000 x 11 cells, TSV + HTML (target: < 1.5 s).
"""
from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable

import numpy as np

from cxdesk.services.clipboard import copy_text
from cxdesk.services.selection import selection_stats
from cxdesk.services.summary import COLUMNS
from cxdesk.services.table import Table

SUMMARY_COLUMNS = list(COLUMNS)  # the Summary tab's own columns
MICRO = 10**6


def summary_table(rows: int, seed: int = 7) -> Table:
    """A realistic hourly summary: ratios are empty where their divisor is 0."""
    rng = np.random.default_rng(seed)
    attempts = rng.integers(0, 5000, rows, dtype=np.int64)
    connected = (attempts * rng.integers(0, 101, rows)) // 100
    seconds = connected * rng.integers(5, 300, rows)
    billed_seconds = seconds + connected * 3
    charge = billed_seconds * rng.integers(100, 20_000, rows) // 60  # micro-units
    cost = charge * rng.integers(50, 100, rows) // 100
    profit = charge - cost

    def ratio(num: np.ndarray, den: np.ndarray, factor: int) -> tuple[np.ndarray, np.ndarray]:
        valid = den != 0
        return np.where(valid, num * factor // np.where(valid, den, 1), 0), valid

    start = dt.datetime(2020, 1, 1)
    data = [
        [start + dt.timedelta(hours=i) for i in range(rows)],
        attempts,
        connected,
        ratio(connected, attempts, 100 * MICRO),
        ratio(seconds, connected * 60, MICRO),
        seconds * MICRO // 60,
        billed_seconds * MICRO // 60,
        charge,
        cost,
        profit,
        ratio(profit, charge, 100 * MICRO),
    ]
    return Table(SUMMARY_COLUMNS, data)


def best_of(repeat: int, fn: Callable[[], object]) -> float:
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - started)
    return best


def main(full: bool) -> None:
    rows = 1_000_000 if full else 200_000
    started = time.perf_counter()
    wide = summary_table(rows)
    table = Table(wide.columns[:10], [wide.objects(0)] + [(wide.numeric(c)) for c in range(1, 10)])
    print(f"   built {rows:,} x 10 table in {time.perf_counter() - started:.2f} s")
    arrays = [table.numeric(c)[0] for c in range(1, table.column_count)]
    select_all = [(0, 0, rows - 1, table.column_count - 1)]
    stats = selection_stats(table, select_all)
    ours = best_of(7, lambda: selection_stats(table, select_all))
    baseline = best_of(7, lambda: [a.sum() for a in arrays])
    print(f"   select-all stats: {ours * 1000:.1f} ms  numpy sum: {baseline * 1000:.1f} ms  "
          f"ratio {ours / baseline:.2f}x  (targets < 50 ms, < 5x)  count={stats.count:,}")
    inner = [(1, 0, rows - 1, table.column_count - 1)]  # not whole columns: min/max passes too
    ours_inner = best_of(7, lambda: selection_stats(table, inner))
    base_inner = best_of(7, lambda: [a[1:].sum() for a in arrays])
    print(f"   all rows but the first: {ours_inner * 1000:.1f} ms  numpy sum: {base_inner * 1000:.1f} ms  "
          f"ratio {ours_inner / base_inner:.2f}x")
    ranges = [(r, 1, r + 2, 8) for r in range(0, rows - 3, rows // 500)]
    many = best_of(3, lambda: selection_stats(table, ranges))
    print(f"   {len(ranges)} ranges of 3 x 8 cells: {many * 1000:.1f} ms")

    copy_rows = 100_000
    source = summary_table(copy_rows)
    selection = [(0, 0, copy_rows - 1, source.column_count - 1)]
    size = 0

    def copy() -> None:
        nonlocal size
        tsv, html = copy_text(source, selection, "headers")
        size = len(tsv) + len(html)

    cpu_started = time.process_time()
    took = best_of(3, copy)
    cpu = (time.process_time() - cpu_started) / 3
    print(f"   copy with headers {copy_rows:,} x {source.column_count}: {took:.2f} s "
          f"(CPU {cpu:.2f} s per copy; {size / 1e6:.0f} M chars TSV+HTML; target < 1.5 s)")
