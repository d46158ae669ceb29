"""A long CDR import in slices: other writers keep saving, a kill leaves nothing visible, a rerun resumes.

Both on SQLite and PostgreSQL. Nothing here measures more than generous bounds; the
real figures are in ``python -m bench import_cdr``.
"""
from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import threading
import time
from decimal import Decimal
from pathlib import Path

from sqlalchemy import func, inspect, select, text

from cxdesk.db import alembic_config, open_database
from cxdesk.models import Cdr, HourlySummary, cdr_import_rows
from cxdesk.services import rollup
from cxdesk.services.cdr_import import COLUMNS, import_cdrs
from cxdesk.services.customers import adjust_balance

N = 60_000  # twelve slices


def kill_when(cmd: list[str], cwd: Path, ready, poll: float = 0.02) -> None:
    """Start ``cmd`` and SIGKILL it once ``ready()`` holds (within 120 s), while it still runs."""
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        while not ready() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(poll)
        assert proc.poll() is None, "the import finished before it could be killed"
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(30)
        proc.stdout.close()
        proc.stderr.close()


def size(url) -> int:
    """PostgreSQL takes executemany rows several times slower: fewer rows run as long."""
    return N if str(url).startswith("sqlite") else N // 4


def big_file(path: Path, customer_id: int, n: int = N) -> tuple[Path, Decimal]:
    """n CDRs of one customer; returns the file and the sum of its customer charges."""
    total = Decimal(0)
    with open(path, "w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh)
        out.writerow(COLUMNS)
        for i in range(n):
            charge = Decimal(i % 997).scaleb(-4)
            total += charge
            out.writerow([f"2026-01-{1 + i % 28:02d} {i % 24:02d}:{i % 60:02d}:00", f"big-{i}", customer_id,
                          "+442071234567", "4915112345678", 60, 60, charge, "0.042", "4915", "Germany - Mobile",
                          "EUR", 3, "0.01", 1200, 4, 200, "OK", "normal clearing"])
    return path, total


def counts(db) -> tuple[int, Decimal]:
    with db.read_session() as s:
        n, total = s.execute(select(func.count(), func.sum(Cdr.customer_charge))).one()
    return n, total or Decimal(0)


def test_another_workstation_saves_while_an_import_runs(db, admin, make_customer, tmp_path):
    cid = make_customer(db)
    n = size(db.url)
    path, total = big_file(tmp_path / "big.csv", cid, n)
    staged = threading.Event()
    finished = threading.Event()
    seen_during: list[int] = []
    errors: list[BaseException] = []

    def progress(done, size):
        seen_during.append(counts(db)[0])
        staged.set()

    def run():
        try:
            import_cdrs(db, admin, path, progress=progress)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            finished.set()

    worker = threading.Thread(target=run)
    worker.start()
    try:
        assert staged.wait(60), "the import staged nothing"
        started = time.monotonic()
        # another workstation: its own connection, a normal audited save
        with open_database(db.url.render_as_string(hide_password=False), migrate=False) as other:
            adjust_balance(other, admin, cid, "5.00", "payment received during the import")
        waited = time.monotonic() - started
        still_running = not finished.is_set()
    finally:
        worker.join(300)
    assert not errors, errors
    assert still_running, "the import ended before the other save: the file is too small to prove anything"
    assert waited < 5, f"the other save waited {waited:.1f} s"
    assert set(seen_during) == {0}  # no row was visible before the final step
    assert counts(db) == (n, total)


def _staged_rows(url: str) -> int:
    """Rows staged by every run in the database."""
    with open_database(url, migrate=False) as db, db.engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(cdr_import_rows)).scalar_one()


def test_a_killed_import_shows_nothing_and_resumes_exactly(db_url, make_customer, run_cli, tmp_path):
    with open_database(db_url) as db:
        cid = make_customer(db)
    n = size(db_url)
    path, total = big_file(tmp_path / "big.csv", cid, n)
    cmd = [sys.executable, "-m", "cxdesk", "--db", db_url, "import-cdr", str(path)]
    kill_when(cmd, tmp_path, lambda: _staged_rows(db_url) >= n // 4, poll=0.05)
    with open_database(db_url) as db:
        assert counts(db) == (0, Decimal(0))  # nothing of the killed import counts anywhere
        rollup.run(db)
        with db.read_session() as s:
            assert s.scalar(select(func.count()).select_from(HourlySummary)) == 0

    out = run_cli("import-cdr", str(path), db_url=db_url)
    assert out.returncode == 0, out.stderr
    assert "resumed an interrupted import at line " in out.stdout
    assert f"imported {n:,} CDRs" in out.stdout and "already imported" not in out.stdout
    with open_database(db_url) as db:
        assert counts(db) == (n, total)
    assert _staged_rows(db_url) == 0  # the staging area is cleared after publishing

    again = run_cli("import-cdr", str(path), db_url=db_url)
    assert again.returncode == 0 and f"imported 0 CDRs, {n:,} already imported" in again.stdout


def test_the_migration_replaces_the_staging_tables_the_older_program_made(db_url, admin, make_customer, tmp_path):
    """The older program made cdr_import_runs and one cdr_import_rows_<run> per run at run
    time; migration 0005 drops them and makes the two tables every role can use."""
    from alembic import command

    with open_database(db_url, migrate=False) as db, db.engine.begin() as conn:
        cfg = alembic_config()
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0004")
        conn.execute(text("CREATE TABLE cdr_import_runs (id INTEGER PRIMARY KEY, file_key VARCHAR(64))"))
        conn.execute(text("CREATE TABLE cdr_import_rows_7 (callid VARCHAR(120) PRIMARY KEY, line INTEGER)"))
    with open_database(db_url) as db:  # migrates to the head
        with db.engine.connect() as conn:
            tables = set(inspect(conn).get_table_names())
            columns = {c["name"] for c in inspect(conn).get_columns("cdr_import_runs")}
        assert "cdr_import_rows_7" not in tables and {"cdr_import_runs", "cdr_import_rows"} <= tables
        assert {"version", "records", "bad_rows"} <= columns
        path, total = big_file(tmp_path / "small.csv", make_customer(db), 10)
        assert import_cdrs(db, admin, path).imported == 10
        assert counts(db) == (10, total)
