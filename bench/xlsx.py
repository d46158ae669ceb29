"""Excel export: write_xlsx against a bare openpyxl write-only export of the same values.

100,000 x 12 (quick: 20,000 x 12).  Each run is a separate subprocess that builds the
data, then times the export while a thread samples the process's resident memory; the
figure is the peak growth over the RSS just before the export.
Wall and CPU time are both reported (best of three, interleaved).
Targets: time < 1.25x the bare export, peak memory growth < 150 MB.
"""
from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent


def _rss() -> int:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


class _PeakSampler(threading.Thread):
    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.peak = _rss()
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.wait(0.005):
            self.peak = max(self.peak, _rss())


def _table(rows: int):  # type: ignore[no-untyped-def]
    from bench.grid import SUMMARY_COLUMNS, summary_table
    from cxdesk.services.table import Column, Table

    summary = summary_table(rows)
    columns = [*SUMMARY_COLUMNS, Column("destination", "Destination", "", "text")]
    names = ["UK Mobile", "Germany Fixed", "France - Orange", "USA 48 states"]
    data = [summary.objects(0)] + [(summary.numeric(c)) for c in range(1, summary.column_count)]
    return Table(columns, [*data, [names[i % 4] for i in range(rows)]])


def child(mode: str, rows: int) -> dict[str, float]:
    """One measured export in this process (run via a subprocess)."""
    from openpyxl import Workbook

    from cxdesk.services import export, xlsx_writer

    table = _table(rows)
    if mode == "bare":
        columns = [xlsx_writer._column_values(table, c, 0, rows) for c in range(table.column_count)]
        values = list(zip(*columns))
        del columns
    gc.collect()
    target = Path(tempfile.mkdtemp()) / f"{mode}.xlsx"
    sampler = _PeakSampler()
    before = sampler.peak
    sampler.start()
    started, cpu_started = time.perf_counter(), time.process_time()
    if mode == "bare":
        wb = Workbook(write_only=True)
        ws = wb.create_sheet("Summary")
        ws.append([c.header for c in table.columns])
        for row in values:
            ws.append(row)
        wb.save(target)
    else:
        export.write_xlsx(table, target, currency="EUR", title="Acme Ltd - hourly summary (UTC)")
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    sampler.done.set()
    sampler.join()
    size = target.stat().st_size
    target.unlink()
    return {"seconds": seconds, "cpu": cpu, "peak_mb": (sampler.peak - before) / 1e6, "file_mb": size / 1e6}


def _run(mode: str, rows: int) -> dict[str, float]:
    code = f"import json; from bench.xlsx import child; print(json.dumps(child({mode!r}, {rows})))"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(full: bool) -> None:
    rows = 100_000 if full else 20_000
    results: dict[str, list[dict[str, float]]] = {"bare": [], "ours": []}
    for _ in range(3):  # interleaved, best of three: the machine may be shared
        for mode in ("bare", "ours"):
            results[mode].append(_run(mode, rows))
    best = {m: min(r["seconds"] for r in runs) for m, runs in results.items()}
    cpu = {m: min(r["cpu"] for r in runs) for m, runs in results.items()}
    peak = {m: max(r["peak_mb"] for r in runs) for m, runs in results.items()}
    print(f"   {rows:,} x 12: write_xlsx {best['ours']:.2f} s, bare openpyxl write-only "
          f"{best['bare']:.2f} s, ratio {best['ours'] / best['bare']:.2f}x (target < 1.25x)")
    print(f"   CPU time: write_xlsx {cpu['ours']:.2f} s, bare {cpu['bare']:.2f} s, "
          f"ratio {cpu['ours'] / cpu['bare']:.2f}x")
    print(f"   peak RSS growth: write_xlsx {peak['ours']:.0f} MB, bare {peak['bare']:.0f} MB "
          f"(target < 150 MB); file {results['ours'][0]['file_mb']:.1f} MB")
    import openpyxl

    print(f"   openpyxl {openpyxl.__version__}, lxml {'yes' if openpyxl.LXML else 'no'}, numpy {np.__version__}")
