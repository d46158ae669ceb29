"""An import publishes in slices (issue 15 point 3): between slices its rows are in cdrs but
nobody counts them, other writers commit, a kill resumes exactly, an abandoned run is
cleared with the rows it had moved, and reconciliation checks the run's rows by run.

Both on SQLite and PostgreSQL. The slices are made small (``LIMIT`` rows) so a few
hundred rows give several of them.
"""
from __future__ import annotations

import contextlib
import csv
import datetime as dt
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select, text, update

from cxdesk.db import open_database
from cxdesk.models import Cdr, RollupState, cdr_import_rows, cdr_import_runs
from cxdesk.models.cdr_staging import visible_cdrs
from cxdesk.services import audit_reconcile, cdr_import, invoices, options, rollup
from cxdesk.services import cdr_staging as staging
from cxdesk.services.cdr_report import write_cdr_report
from cxdesk.services.customers import header_figures
from cxdesk.services.summary import summary_rows
from cxdesk.services.uow import unit_of_work
from tests.integration.test_cdr_import_staging import kill_when

LIMIT = 100  #: rows per publishing slice in these tests
DAY = dt.datetime(2026, 1, 5, tzinfo=dt.timezone.utc)
NOW = DAY + dt.timedelta(hours=23, minutes=59)  #: header figures look at the calls of DAY


class Interrupted(Exception):
    pass


def cdr_file(path: Path, customer_id: int, n: int, prefix: str) -> tuple[Path, Decimal]:
    """n connected calls of one customer on DAY (charges with 2 decimals); the file and their charge."""
    total = Decimal(0)
    with open(path, "w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh)
        out.writerow(cdr_import.COLUMNS)
        for i in range(n):
            charge = Decimal(1 + i % 37).scaleb(-2)
            total += charge
            at = DAY + dt.timedelta(minutes=(i * 7) % 1440)
            out.writerow([at.strftime("%Y-%m-%d %H:%M:%S"), f"{prefix}-{i}", customer_id, "+442071234567",
                          "4915112345678", 600, 600, charge, "0.042", "4915", "Germany - Mobile", "EUR", 3,
                          "0.01", 1200, 4, 200, "OK", "normal clearing"])
    return path, total


def visible(db, customer_id: int | None = None) -> tuple[int, Decimal]:
    with db.read_session() as s:
        q = select(func.count(), func.sum(Cdr.customer_charge)).where(visible_cdrs())
        if customer_id is not None:
            q = q.where(Cdr.customer_id == customer_id)
        n, total = s.execute(q).one()
    return n, total or Decimal(0)


def stored(url: str) -> tuple[int, int, int]:
    """(rows in cdrs, visible or not; staged rows; run markers)."""
    with open_database(url, migrate=False) as db, db.engine.connect() as conn:
        return tuple(conn.execute(select(func.count()).select_from(t)).scalar_one()
                     for t in (Cdr.__table__, cdr_import_rows, cdr_import_runs))


def readers(db, admin, customer_id: int, tmp_path: Path) -> dict:
    """What every reader of cdrs shows of the customer on DAY (after a rollup)."""
    rollup.run(db)
    report = tmp_path / "report.csv"
    write_cdr_report(db, admin, customer_id, DAY, DAY + dt.timedelta(days=1), report)
    with db.read_session() as s:
        rows = [(r.label, r.attempts, r.connected, r.customer_charge)
                for r in summary_rows(s, customer_id, "daily", DAY.date(), DAY.date())]
        header = header_figures(s, customer_id, NOW)
    return {"summary": rows, "report": report.read_text(encoding="utf-8-sig"),
            "channels": (header.channels_in_use, header.peak_24h), "visible": visible(db, customer_id)}


@contextlib.contextmanager
def paused_publish(monkeypatch, between, after: int = 2):
    """Imports publish LIMIT rows a slice; ``between()`` runs once, after ``after`` slices
    committed and before the next transaction of the import begins."""
    moved = {"slices": 0, "paused": False}
    move, write = staging.move_slice, cdr_import._Import._write

    def small_move(conn, run, columns, limit=LIMIT):
        done = move(conn, run, columns, LIMIT)
        moved["slices"] += 1
        return done

    @contextlib.contextmanager
    def pausing_write(self):
        if moved["slices"] == after and not moved["paused"]:
            moved["paused"] = True
            between()
        with write(self) as conn:
            yield conn

    monkeypatch.setattr(staging, "move_slice", small_move)
    monkeypatch.setattr(cdr_import._Import, "_write", pausing_write)
    yield moved
    assert moved["paused"], "the import published before the pause: nothing was proven"


def _interrupted_import(db, admin, path: Path, monkeypatch) -> None:
    """Import ``path`` and stop it after two slices were moved (as a kill would)."""
    def between():
        raise Interrupted

    with paused_publish(monkeypatch, between), pytest.raises(Interrupted):
        cdr_import.import_cdrs(db, admin, path)
    monkeypatch.undo()


def test_between_slices_no_reader_sees_the_import_and_others_keep_writing(db, admin, make_customer, tmp_path,
                                                                          monkeypatch):
    cid, other = make_customer(db), make_customer(db, "Other Telecom")
    first, first_total = cdr_file(tmp_path / "a.csv", cid, 50, "a")
    assert cdr_import.import_cdrs(db, admin, first).imported == 50
    before = readers(db, admin, cid, tmp_path)
    assert before["visible"] == (50, first_total)
    options.set_value(db, admin, "invoice-line-grouping", "destination")
    second, second_total = cdr_file(tmp_path / "b.csv", cid, 4 * LIMIT, "b")
    seen = {}

    def between():
        with db.read_session() as s:
            moved = s.execute(select(func.count(), func.max(Cdr.id)).where(Cdr.callid.like("b-%"))).one()
        assert moved[0] == 2 * LIMIT  # the rows are in cdrs...
        assert readers(db, admin, cid, tmp_path) == before  # ...and no reader counts them
        with db.read_session() as s:  # the rollup passed over them, and remembers the import
            state = s.get(RollupState, rollup.STATE_ID)
            assert state.last_cdr_id >= moved[1] and list(rollup.passed_runs(state.passed_runs).values()) == [
                state.last_cdr_id]
        made = invoices.generate_for_periods(db, admin, cid, "daily", [DAY], now=NOW + dt.timedelta(days=1))
        seen["invoice net"] = sum(line.net for line in made[0].lines)
        seen["reconciled"] = audit_reconcile.reconcile_database(db).ok
        # another workstation writes a CDR (and another save) meanwhile: both commit at once
        with unit_of_work(db, admin, "a call entered by hand") as uow:
            uow.bulk_insert(Cdr, [{"callid": "manual-1", "dt": DAY, "customer_id": other, "duration": 60,
                                   "customer_duration": 60, "customer_charge": Decimal("0.50"),
                                   "provider_charge": Decimal("0.10")}], "Entered one CDR")
        seen["other"] = visible(db, other)

    with paused_publish(monkeypatch, between):
        result = cdr_import.import_cdrs(db, admin, second)
    assert result.imported == 4 * LIMIT and result.duplicates == 0
    assert seen == {"invoice net": first_total, "reconciled": True, "other": (1, Decimal("0.50"))}
    after = readers(db, admin, cid, tmp_path)
    assert after["visible"] == (50 + 4 * LIMIT, first_total + second_total)
    assert after["summary"][0][1:] == (50 + 4 * LIMIT, 50 + 4 * LIMIT, first_total + second_total)
    with db.read_session() as s:  # the hand-made CDR, whose id lies among the import's, is rolled up once
        assert summary_rows(s, other, "daily", DAY.date(), DAY.date())[0].attempts == 1
    assert stored(db.url.render_as_string(hide_password=False)) == (51 + 4 * LIMIT, 0, 0)
    assert audit_reconcile.reconcile_database(db).ok


def _entry_of_import(db) -> int:
    from cxdesk.models import AuditEntry

    with db.read_session() as s:
        return s.scalar(select(func.max(AuditEntry.id)).where(AuditEntry.table_name == "cdrs",
                                                             AuditEntry.action == "POST"))


def test_reconciliation_finds_a_changed_cdr_of_an_import_whose_ids_interleave(db, admin, make_customer, tmp_path,
                                                                              monkeypatch):
    cid = make_customer(db)
    path, _ = cdr_file(tmp_path / "b.csv", cid, 3 * LIMIT, "b")

    def between():  # another bulk writer takes ids between the import's slices
        with unit_of_work(db, admin, "a call entered by hand") as uow:
            uow.bulk_insert(Cdr, [{"callid": "manual-1", "dt": DAY, "customer_id": cid}], "Entered one CDR")

    with paused_publish(monkeypatch, between, after=1):
        cdr_import.import_cdrs(db, admin, path)
    entry = _entry_of_import(db)
    with db.read_session() as s:
        ids = s.scalars(select(Cdr.id).where(Cdr.callid.like("b-%")).order_by(Cdr.id)).all()
        manual = s.scalar(select(Cdr.id).where(Cdr.callid == "manual-1"))
    assert ids[0] < manual < ids[-1]  # the ids interleave: no contiguous range is the import's
    assert audit_reconcile.reconcile_database(db).ok
    with db.engine.begin() as conn:  # around the program
        conn.execute(update(Cdr.__table__).where(Cdr.id == ids[LIMIT + 5]).values(duration=1))
    found = [f for f in audit_reconcile.reconcile_database(db).findings if f.startswith("cdrs ")]
    assert found == [f"cdrs ids {ids[0]}-{ids[-1]} (written by audit entry {entry}): these rows no longer match "
                     f"the digest the entry recorded ({3 * LIMIT} rows recorded, {3 * LIMIT} now); a row in this "
                     "range was changed, added or deleted around the program."]


def test_an_abandoned_run_is_cleared_with_the_rows_it_had_moved(db, admin, make_customer, tmp_path, monkeypatch):
    cid = make_customer(db)
    url = db.url.render_as_string(hide_password=False)
    path, _ = cdr_file(tmp_path / "b.csv", cid, 3 * LIMIT, "b")
    _interrupted_import(db, admin, path, monkeypatch)
    assert stored(url) == (2 * LIMIT, LIMIT, 1)  # moved, still staged, the marker
    assert visible(db) == (0, Decimal(0))
    with db.engine.begin() as conn:  # nobody resumed it for longer than STALE_AFTER
        conn.execute(update(cdr_import_runs).values(
            updated_at=dt.datetime.now(dt.timezone.utc) - staging.STALE_AFTER - dt.timedelta(hours=1)))
    monkeypatch.undo()
    monkeypatch.setattr(staging, "MOVE", 7)  # the clearing goes in slices too
    other, total = cdr_file(tmp_path / "c.csv", cid, 20, "c")
    assert cdr_import.import_cdrs(db, admin, other).imported == 20
    assert stored(url) == (20, 0, 0)
    assert visible(db) == (20, total)
    assert audit_reconcile.reconcile_database(db).ok


def test_clear_slice_removes_a_run_a_slice_at_a_time(db, admin, make_customer, tmp_path, monkeypatch):
    cid = make_customer(db)
    path, _ = cdr_file(tmp_path / "b.csv", cid, 3 * LIMIT, "b")
    _interrupted_import(db, admin, path, monkeypatch)
    url = db.url.render_as_string(hide_password=False)
    steps = []
    with db.engine.begin() as conn:
        run_id = conn.execute(select(cdr_import_runs.c.id)).scalar_one()
        while not staging.clear_slice(conn, run_id, LIMIT):
            steps.append(conn.execute(text("SELECT published FROM cdr_import_runs")).scalar())
    assert steps == [-1, -1, -1]  # two slices of moved rows, one of staged rows; abandoned meanwhile
    assert stored(url) == (0, 0, 0)


_SLOW_CLI = """
import sys, time
from cxdesk.services import cdr_staging
move = cdr_staging.move_slice
def slow(conn, run, columns, limit=0):
    time.sleep(0.2)
    return move(conn, run, columns, %d)
cdr_staging.move_slice = slow
from cxdesk.main import main
sys.exit(main(sys.argv[1:]))
""" % LIMIT


def _moved(url: str) -> int:
    with open_database(url, migrate=False) as db, db.engine.connect() as conn:
        return conn.execute(select(func.coalesce(func.sum(cdr_import_runs.c.moved), 0))).scalar_one()


def test_a_import_killed_while_publishing_resumes_exactly(db_url, make_customer, run_cli, tmp_path):
    with open_database(db_url) as db:
        cid = make_customer(db)
    n = 10 * LIMIT
    path, total = cdr_file(tmp_path / "b.csv", cid, n, "b")
    cmd = [sys.executable, "-c", _SLOW_CLI, "--db", db_url, "import-cdr", str(path)]
    kill_when(cmd, tmp_path, lambda: _moved(db_url) >= 2 * LIMIT)
    moved, staged, runs = stored(db_url)
    assert moved >= 2 * LIMIT and moved + staged == n and runs == 1  # killed in the publishing phase
    with open_database(db_url) as db:
        assert visible(db) == (0, Decimal(0))
        assert rollup.run(db).cdrs == 0
        assert audit_reconcile.reconcile_database(db).ok

    out = run_cli("import-cdr", str(path), db_url=db_url)
    assert out.returncode == 0, out.stderr
    assert "resumed an interrupted import at line " in out.stdout
    assert f"imported {n:,} CDRs" in out.stdout and "already imported" not in out.stdout
    assert stored(db_url) == (n, 0, 0)  # every row once, nothing left staged
    with open_database(db_url) as db:
        assert visible(db) == (n, total)
        assert rollup.run(db).cdrs == n
    verified = run_cli("audit", "verify", db_url=db_url)  # with reconciliation
    assert verified.returncode == 0, verified.stdout + verified.stderr


def _hand_cdr(db, admin, customer_id: int, callid: str) -> None:
    with unit_of_work(db, admin, "a call entered by hand") as uow:
        uow.bulk_insert(Cdr, [{"callid": callid, "dt": DAY, "customer_id": customer_id, "duration": 60,
                               "customer_duration": 60, "customer_charge": Decimal("0.50")}], "Entered one CDR")


def _passed(db) -> dict[int, int]:
    with db.read_session() as s:
        return rollup.passed_runs(s.get(RollupState, rollup.STATE_ID).passed_runs)


def test_the_rollup_goes_on_past_an_interrupted_import_and_adds_it_once_published(db, admin, make_customer,
                                                                                  tmp_path, monkeypatch):
    cid, other = make_customer(db), make_customer(db, "Other Telecom")
    path, total = cdr_file(tmp_path / "b.csv", cid, 3 * LIMIT, "b")
    _interrupted_import(db, admin, path, monkeypatch)
    _hand_cdr(db, admin, other, "manual-1")  # its id is above the import's moved rows
    first = rollup.run(db)
    assert (first.cdrs, first.waiting) == (1, 2 * LIMIT)  # the other customer's call does not wait
    assert "2 CDRs" not in first.sentence() and "200 CDRs of an import not published yet wait" in first.sentence()
    with db.read_session() as s:
        assert summary_rows(s, other, "daily", DAY.date(), DAY.date())[0].attempts == 1
        assert summary_rows(s, cid, "daily", DAY.date(), DAY.date()) == []  # nothing of the import
    assert len(_passed(db)) == 1
    assert audit_reconcile.reconcile_database(db).ok
    assert rollup.run(db).cdrs == 0  # nothing new: the import is still not published

    assert cdr_import.import_cdrs(db, admin, path).imported == 3 * LIMIT  # resumed and published
    assert audit_reconcile.reconcile_database(db).ok  # published, not yet rolled up: still consistent
    second = rollup.run(db)
    assert (second.cdrs, second.waiting) == (3 * LIMIT, 0)  # the passed-over rows and the rest, once
    assert _passed(db) == {}
    with db.read_session() as s:
        day = summary_rows(s, cid, "daily", DAY.date(), DAY.date())[0]
        assert (day.attempts, day.customer_charge) == (3 * LIMIT, total)
    assert rollup.run(db).cdrs == 0
    assert audit_reconcile.reconcile_database(db).ok


def test_an_interrupted_import_cleared_unpublished_leaves_nothing_for_the_rollup(db, admin, make_customer,
                                                                                 tmp_path, monkeypatch):
    cid = make_customer(db)
    path, _ = cdr_file(tmp_path / "b.csv", cid, 3 * LIMIT, "b")
    _interrupted_import(db, admin, path, monkeypatch)
    assert rollup.run(db).waiting == 2 * LIMIT
    with db.engine.begin() as conn:  # nobody resumed it for longer than STALE_AFTER
        conn.execute(update(cdr_import_runs).values(
            updated_at=dt.datetime.now(dt.timezone.utc) - staging.STALE_AFTER - dt.timedelta(hours=1)))
    other, total = cdr_file(tmp_path / "c.csv", cid, 20, "c")
    assert cdr_import.import_cdrs(db, admin, other).imported == 20  # clears the stale run first
    assert rollup.run(db).cdrs == 20
    assert _passed(db) == {}
    with db.read_session() as s:
        assert summary_rows(s, cid, "daily", DAY.date(), DAY.date())[0].attempts == 20
    assert audit_reconcile.reconcile_database(db).ok


def test_reconciliation_names_the_summary_rows_an_import_forgotten_by_the_rollup_misses(db, admin, make_customer, tmp_path,
                                                                           monkeypatch):
    cid = make_customer(db)
    path, _ = cdr_file(tmp_path / "b.csv", cid, 3 * LIMIT, "b")
    _interrupted_import(db, admin, path, monkeypatch)
    rollup.run(db)
    with db.engine.begin() as conn:  # around the program: the passed-over import is forgotten
        conn.execute(text("UPDATE rollup_state SET passed_runs = '{}'"))
    assert cdr_import.import_cdrs(db, admin, path).imported == 3 * LIMIT
    found = audit_reconcile.reconcile_database(db).findings
    named = [f for f in found if f.startswith(f"hourly_summaries/{cid},2026-01-05T") and "is missing" in f]
    rest = [f for f in found if f not in named]
    assert named and all(f.startswith("... and ") and f.endswith(" more summary rows.") for f in rest), found


def test_a_downgrade_below_0006_drops_an_import_that_had_begun_moving(db, admin, make_customer, tmp_path,
                                                                     monkeypatch):
    """The older program knows nothing of import_run_id: rows of an unpublished run would
    count there, so the downgrade removes the run and its rows (it starts afresh)."""
    from alembic import command

    from cxdesk.db import alembic_config

    cid = make_customer(db)
    published, total = cdr_file(tmp_path / "a.csv", cid, 30, "a")
    cdr_import.import_cdrs(db, admin, published)
    path, _ = cdr_file(tmp_path / "b.csv", cid, 3 * LIMIT, "b")
    _interrupted_import(db, admin, path, monkeypatch)
    url = db.url.render_as_string(hide_password=False)
    assert stored(url) == (30 + 2 * LIMIT, LIMIT, 1)
    with open_database(url, migrate=False) as old, old.engine.begin() as conn:
        cfg = alembic_config()
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0005")
        assert conn.execute(text("SELECT count(*), sum(customer_charge) FROM cdrs")).one()[0] == 30
        assert conn.execute(text("SELECT count(*) FROM cdr_import_runs")).scalar() == 0
        assert conn.execute(text("SELECT count(*) FROM cdr_import_rows")).scalar() == 0
    monkeypatch.undo()
    with open_database(url) as again:  # upgraded again: the file imports afresh
        assert cdr_import.import_cdrs(again, admin, path).imported == 3 * LIMIT
        assert visible(again, cid)[0] == 30 + 3 * LIMIT
        assert audit_reconcile.reconcile_database(again).ok


def test_a_downgrade_waits_for_the_rollup_to_add_a_published_import_it_had_passed_over(db, admin, make_customer,
                                                                                        tmp_path, monkeypatch):
    from alembic import command

    from cxdesk.db import alembic_config

    cid = make_customer(db)
    path, _ = cdr_file(tmp_path / "b.csv", cid, 3 * LIMIT, "b")
    _interrupted_import(db, admin, path, monkeypatch)
    rollup.run(db)  # passes over it
    cdr_import.import_cdrs(db, admin, path)  # published; the older program's rollup would never add it
    url = db.url.render_as_string(hide_password=False)
    with open_database(url, migrate=False) as old, old.engine.begin() as conn:
        cfg = alembic_config()
        cfg.attributes["connection"] = conn
        with pytest.raises(RuntimeError, match="run 'cxdesk rollup', then downgrade again"):
            command.downgrade(cfg, "0005")
    assert rollup.run(db).cdrs == 3 * LIMIT
    with open_database(url, migrate=False) as old, old.engine.begin() as conn:
        cfg = alembic_config()
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0005")
        assert conn.execute(text("SELECT count(*) FROM cdrs")).scalar() == 3 * LIMIT


def test_a_callid_of_an_unfinished_import_is_refused_not_counted_as_imported(db, admin, make_customer, tmp_path,
                                                                             monkeypatch):
    """Counting it as already imported would lose the call if the unfinished import were given up."""
    from cxdesk.errors import ConflictError

    cid = make_customer(db)
    first, total = cdr_file(tmp_path / "a.csv", cid, 3 * LIMIT, "b")
    _interrupted_import(db, admin, first, monkeypatch)  # b-0 ... were moved, unpublished
    overlapping, _ = cdr_file(tmp_path / "overlap.csv", cid, 5, "b")
    with pytest.raises(ConflictError, match=r"callid 'b-0' on line 2 of overlap.csv is also in another import "
                                            r"that has not finished"):
        cdr_import.import_cdrs(db, admin, overlapping)
    assert visible(db) == (0, Decimal(0))
    assert cdr_import.import_cdrs(db, admin, first).imported == 3 * LIMIT  # the first one completed
    again = cdr_import.import_cdrs(db, admin, overlapping)
    assert (again.imported, again.duplicates) == (0, 5)
    assert visible(db) == (3 * LIMIT, total)
    assert audit_reconcile.reconcile_database(db).ok
