"""CDR import: memory stays flat (peak for N vs 5N rows) and rows/s against a bare
``csv.reader`` + ``executemany`` of the same file into the same table.

Every import runs in a fresh process on a fresh database, so its peak memory (the
process's peak RSS during the import minus its size just before) is its own. The baseline
inserts the CSV's text as it is (no checks, no conversion) in chunks of the same size
inside one transaction; the import's time over the baseline's is also compared with that
ratio as measured for the importer before this version (``STAGED``: staged in slices,
published in one transaction) and before imports were staged at all (``BEFORE``). Each
earlier ratio was measured by this benchmark at quick size on the same machine, the one
as the mean of several runs alternating with the new code's; the machine was shared and
loaded, and single runs varied by about 20 %. Then the longest time
another writer's save (a balance adjustment, every 0.1 s) takes while a 100,000-row
(``--full``: 1,000,000-row) import runs, against the 1 s target and against the same save
with no import. SQLite always; PostgreSQL too when the test setup's server
(tests/servers.py) can start. Data is generated in a temp dir, never in the repo.

Also the helpers the other CDR benchmarks share: CSV generation, fresh databases per
backend, and measuring a function in a child process.
"""
from __future__ import annotations

import concurrent.futures
import contextlib
import csv
import datetime as dt
import multiprocessing
import random
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path

from cxdesk.db import open_database
from cxdesk.models import Customer
from cxdesk.services.actor import cli_actor
from cxdesk.services.cdr_import import CHUNK, COLUMNS, import_cdrs
from cxdesk.services.demo import DESTINATIONS, billed_seconds, charge
from cxdesk.services.uow import unit_of_work

SIZES = {False: 20_000, True: 200_000}  # N; the memory check also imports 5N
WAIT_SIZES = {False: 100_000, True: 1_000_000}  # rows imported while another writer saves
#: the importer's time / the bare baseline's time before imports were staged in slices (one
#: transaction), measured by this benchmark at quick size on the same machine: 2026-12-03
BEFORE = {"SQLite": {20_000: 3.33, 100_000: 2.16}, "PostgreSQL": {20_000: 2.25, 100_000: 2.12}}
#: the same ratio for the importer that published in one transaction (commit 98286dd), the
#: mean of three runs alternating with the sliced publishing's, 2026-12-03; its longest
#: other-writer wait in the same runs (s), for the line that compares it
STAGED = {"SQLite": {20_000: 4.56, 100_000: 3.21}, "PostgreSQL": {20_000: 2.25, 100_000: 2.38}}
STAGED_WAIT = {"SQLite": {100_000: 2.05}, "PostgreSQL": {100_000: 3.23}}
CUSTOMERS = 50
START = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)


# -- shared by the CDR benchmarks -------------------------------------------------------
def write_cdr_csv(path: Path, n: int, *, customers: int = CUSTOMERS, days: int = 30,
                  start: dt.datetime = START, seed: int = 1) -> Path:
    """A platform CDR file: ``n`` calls of customers 1..customers over ``days`` days."""
    rng = random.Random(seed)
    span = days * 86400
    with open(path, "w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh)
        out.writerow(COLUMNS)
        for i in range(n):
            code, name, rate, vendor_rate = DESTINATIONS[i % len(DESTINATIONS)]
            connected = rng.random() < 0.55
            duration = min(7200, int(rng.expovariate(1 / 150)) + 1) if connected else 0
            billed = billed_seconds(duration)
            at = start + dt.timedelta(seconds=rng.randrange(span))
            out.writerow([
                at.strftime("%Y-%m-%d %H:%M:%S"), f"call-{seed}-{i}", 1 + i % customers, "+442071234567",
                f"{code}{rng.randrange(10**8, 10**9)}", duration, billed, charge(Decimal(rate), billed), rate,
                code, name, "EUR", 1 + i % 6, charge(Decimal(vendor_rate), billed), rng.randrange(800, 4500),
                rng.randrange(25), 200 if connected else 486, "OK" if connected else "Busy Here",
                "normal clearing" if connected else "callee busy",
            ])
    return path


def add_customers(url: str, count: int = CUSTOMERS) -> None:
    with open_database(url) as db, unit_of_work(db, cli_actor(), "benchmark") as uow:
        for i in range(1, count + 1):
            uow.add(Customer(id=i, name=f"Bench Customer {i}", currency="EUR"))
        if db.is_postgres:
            uow.flush()
            uow.session.connection().exec_driver_sql(
                "SELECT setval(pg_get_serial_sequence('customers', 'id'), (SELECT max(id) FROM customers))")


@contextlib.contextmanager
def backends(tmp: Path) -> Iterator[list[tuple[str, Callable[[], str]]]]:
    """(name, fresh_url) per backend: fresh_url() makes an empty database and gives its URL."""
    def sqlite_url() -> str:
        return f"sqlite:///{tmp / f'{uuid.uuid4().hex}.db'}"

    found = [("SQLite", sqlite_url)]
    with contextlib.ExitStack() as stack:
        try:
            from tests import servers
        except ImportError:
            servers = None
        reason = "tests/servers.py not importable" if servers is None else servers.PostgresServer.unavailable_reason()
        if reason:
            print(f"   PostgreSQL skipped: {reason}")
        else:
            server = servers.PostgresServer()
            server.start()
            stack.callback(server.stop)

            def pg_url() -> str:
                name = "bench_" + uuid.uuid4().hex[:12]
                server.create_database(name)
                return server.url(name)

            found.append(("PostgreSQL", pg_url))
        yield found


def _status_kb(key: str) -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"no {key} in /proc/self/status")


def _measured(fn: Callable[..., None], args: tuple) -> tuple[float, float]:
    # VmHWM, not ru_maxrss: the latter survives exec, so a child would report its parent's peak
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")  # peak := current size
    before = _status_kb("VmRSS")
    started = time.perf_counter()
    fn(*args)
    took = time.perf_counter() - started
    return took, (_status_kb("VmHWM") - before) / 1024


def in_child(fn: Callable[..., None], *args) -> tuple[float, float]:
    """Run ``fn(*args)`` in a fresh process: (seconds, peak RSS growth during it in MB)."""
    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(1, mp_context=context) as pool:
        return pool.submit(_measured, fn, args).result()


# -- this benchmark ----------------------------------------------------------------------
def import_file(url: str, path: Path) -> None:
    with open_database(url) as db:
        import_cdrs(db, cli_actor(), path)


def baseline(url: str, path: Path) -> None:
    """csv.reader + executemany of the raw text, same chunks, one transaction."""
    with open_database(url) as db, db.engine.connect() as conn, open(path, newline="", encoding="utf-8") as fh:
        rows = csv.reader(fh)
        header = next(rows)
        mark = "?" if db.is_sqlite else "%s"
        sql = f"INSERT INTO cdrs ({', '.join(header)}) VALUES ({', '.join([mark] * len(header))})"
        cursor = conn.connection.driver_connection.cursor()
        if db.is_sqlite:
            cursor.execute("BEGIN")  # the engine's SQLite connections are in autocommit mode
        batch = []
        for row in rows:
            batch.append(row)
            if len(batch) >= CHUNK:
                cursor.executemany(sql, batch)
                batch.clear()
        cursor.executemany(sql, batch)
        conn.connection.driver_connection.commit()


def _save(db) -> float:
    """One normal audited save (a balance adjustment): how long it took."""
    from cxdesk.services.customers import adjust_balance

    before = time.perf_counter()
    adjust_balance(db, cli_actor(), 1, "0.01", "benchmark: a save during the import")
    return time.perf_counter() - before


def longest_wait(url: str, path: Path) -> tuple[float, float, int, float]:
    """Import ``path`` in a child process while this one saves every 0.1 s: (longest save
    during the import, longest of 20 saves with no import, saves, import seconds)."""
    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(1, mp_context=context) as pool, open_database(url) as db:
        idle = max(_save(db) for _ in range(20))
        started = time.perf_counter()
        job = pool.submit(import_file, url, path)
        longest, saves = 0.0, 0
        while not job.done():
            longest, saves = max(longest, _save(db)), saves + 1
            time.sleep(0.1)
        job.result()
        return longest, idle, saves, time.perf_counter() - started


def main(full: bool) -> None:
    n = SIZES[full]
    with tempfile.TemporaryDirectory(prefix="cxdesk-bench-") as tmp_name, backends(Path(tmp_name)) as found:
        tmp = Path(tmp_name)
        files = {size: write_cdr_csv(tmp / f"cdrs-{size}.csv", size) for size in (n, 5 * n)}
        for backend, fresh_url in found:
            figures = {}
            for size, path in files.items():
                for label, fn in (("baseline", baseline), ("import", import_file)):
                    url = fresh_url()
                    add_customers(url)
                    figures[label, size] = in_child(fn, url, path)
            print(f"   {backend}:")
            for size in files:
                (b_s, _), (i_s, i_mb) = figures["baseline", size], figures["import", size]
                print(f"     {size:>9,} rows: import {size / i_s:>9,.0f} rows/s, baseline {size / b_s:>9,.0f} rows/s"
                      f" -> {i_s / b_s:.2f}x the baseline's time; import peak memory +{i_mb:.1f} MB")
            small, large = figures["import", n][1], figures["import", 5 * n][1]
            print(f"     memory: peak growth for 5N / N rows = {large:.1f} / {small:.1f} MB "
                  f"= {large / max(small, 0.1):.2f}x (flat is ~1x)")
            for size in files:
                staged, before = STAGED.get(backend, {}).get(size), BEFORE.get(backend, {}).get(size)
                if staged and before:
                    (b_s, _), (i_s, _) = figures["baseline", size], figures["import", size]
                    ratio = i_s / b_s
                    print(f"     {size:>9,} rows: {ratio:.2f}x the baseline's time now, {staged:.2f}x when publishing "
                          f"in one transaction -> {ratio / staged:.2f}x that import's time (target <= 1.10x); "
                          f"{before:.2f}x before staging -> {ratio / before:.2f}x")
        wait_rows = WAIT_SIZES[full]
        big = write_cdr_csv(tmp / "cdrs-wait.csv", wait_rows, seed=2)
        for backend, fresh_url in found:
            url = fresh_url()
            add_customers(url)
            longest, idle, saves, took = longest_wait(url, big)
            staged = STAGED_WAIT.get(backend, {}).get(wait_rows)
            then = f"; {staged:.2f} s when publishing in one transaction" if staged else ""
            print(f"   {backend}: {wait_rows:,}-row import in {took:.1f} s ({wait_rows / took:,.0f} rows/s); "
                  f"{saves} saves by another writer meanwhile, the longest took {longest:.2f} s "
                  f"= {longest:.2f}x the 1 s target ({longest / idle:.1f}x the longest save with no import, "
                  f"{idle:.2f} s{then})")
