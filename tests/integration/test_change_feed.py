"""The change feed: commits publish typed ChangeSets in-process, and a ChangeWatcher finds
another process's commits (LISTEN/NOTIFY on PostgreSQL, PRAGMA data_version on SQLite),
catching up after a lost connection without missing any."""
from __future__ import annotations

import threading
import time
from decimal import Decimal

import pytest
from sqlalchemy import text

from cxdesk.db import open_database
from cxdesk.models import Customer
from cxdesk.services import changes, customers
from cxdesk.services.uow import unit_of_work
from cxdesk.services.watch import ChangeWatcher


class Collector:
    def __init__(self) -> None:
        self.sets: list[changes.ChangeSet] = []
        self.states: list[tuple[bool, str]] = []
        self.lock = threading.Lock()

    def __call__(self, cs: changes.ChangeSet) -> None:
        with self.lock:
            self.sets.append(cs)

    def state(self, online: bool, text: str) -> None:
        self.states.append((online, text))

    def keys(self, table: str) -> set[str]:
        with self.lock:
            return {k for cs in self.sets for k in cs.keys(table)}

    def wait_for(self, predicate, timeout: float = 10.0) -> float:
        start = time.monotonic()
        while time.monotonic() - start < timeout:
            if predicate():
                return time.monotonic() - start
            time.sleep(0.02)
        raise AssertionError(f"not seen within {timeout} s; got {[cs.describe() for cs in self.sets]}")


def _add_customer(db, actor, name: str) -> int:
    with unit_of_work(db, actor) as uow:
        c = uow.add(Customer(name=name, currency="EUR", credit=Decimal("0")))
        uow.flush()
        return c.id


def test_a_commit_publishes_its_tables_keys_and_customer(db, admin, make_customer):
    seen = Collector()
    unsubscribe = changes.subscribe(seen)
    try:
        cid = make_customer(db, "Acme")
        customers.adjust_balance(db, admin, cid, "12.50", "Payment received")
    finally:
        unsubscribe()
    assert [cs.tables for cs in seen.sets] == [{"customers"}, {"customers"}]
    assert seen.sets[0].keys("customers") == {str(cid)}
    assert seen.sets[1].touches(["customers"], customer_id=cid)
    assert not seen.sets[1].touches(["customers"], customer_id=cid + 1)
    assert not seen.sets[1].touches(["contacts"], customer_id=cid)
    assert all(cs.origin == "local" and cs.source == id(db) for cs in seen.sets)
    assert seen.sets[0].last_id < seen.sets[1].last_id


def test_a_refused_change_publishes_nothing(db, admin, make_customer):
    cid = make_customer(db, "Acme")
    seen = Collector()
    unsubscribe = changes.subscribe(seen)
    try:
        with pytest.raises(Exception):
            customers.adjust_balance(db, admin, cid, "not money", "x")
    finally:
        unsubscribe()
    assert seen.sets == []


def test_a_failing_listener_neither_fails_nor_undoes_the_commit(db, admin):
    def broken(_cs):
        raise RuntimeError("listener bug")

    unsubscribe = changes.subscribe(broken)
    try:
        cid = _add_customer(db, admin, "Kept")
    finally:
        unsubscribe()
    with db.read_session() as s:
        assert s.get(Customer, cid).name == "Kept"


def test_since_reads_every_change_after_an_entry_and_says_everything_past_the_limit(db, admin):
    with db.read_session() as s:
        start = changes.last_entry_id(s)
    ids = [_add_customer(db, admin, f"C{i}") for i in range(5)]
    with db.read_session() as s:
        found = changes.since(s, start)
        assert found.keys("customers") == {str(i) for i in ids}
        assert found.origin == "remote" and found.last_id == changes.last_entry_id(s)
        capped = changes.since(s, start, limit=3)
    assert capped.everything and capped.last_id == found.last_id and bool(capped)


def test_watcher_sees_another_process_commit_within_a_second(db, admin, run_cli):
    url = db.url.render_as_string(hide_password=False)
    seen = Collector()
    watcher = ChangeWatcher(db, seen, on_state=seen.state)
    watcher.start()
    try:
        done = run_cli("customer", "add", "Other Workstation Ltd", "--currency", "EUR", db_url=url)
        assert done.returncode == 0, done.stderr
        finished = time.monotonic()
        seen.wait_for(lambda: seen.keys("customers"))
        latency = time.monotonic() - finished
    finally:
        watcher.stop()
    with db.read_session() as s:
        new_id = s.query(Customer.id).filter_by(name="Other Workstation Ltd").scalar()
    assert seen.keys("customers") == {str(new_id)}
    assert all(cs.origin == "remote" for cs in seen.sets)
    assert latency < 1.5, f"seen {latency:.2f} s after the other process exited"


def test_watcher_started_from_an_old_entry_catches_up_on_everything_since(db, admin):
    with db.read_session() as s:
        start = changes.last_entry_id(s)
    ids = [_add_customer(db, admin, f"Missed {i}") for i in range(3)]
    seen = Collector()
    watcher = ChangeWatcher(db, seen)
    watcher.start(after_id=start)
    try:
        seen.wait_for(lambda: seen.keys("customers") == {str(i) for i in ids})
    finally:
        watcher.stop()


@pytest.mark.postgres
def test_watcher_catches_up_after_its_connection_is_killed(pg_url, admin):
    db = open_database(pg_url)
    other = open_database(pg_url)  # another workstation
    seen = Collector()
    watcher = ChangeWatcher(db, seen, on_state=seen.state)
    try:
        watcher.start()
        first = _add_customer(other, admin, "Before")
        seen.wait_for(lambda: str(first) in seen.keys("customers"))
        # the server drops the watcher's connection (a restart, a network cut)
        with other.engine.connect() as conn:
            killed = conn.execute(text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE query LIKE 'LISTEN%' OR query = 'SELECT 1' AND pid <> pg_backend_pid() "
                "AND datname = current_database()")).scalar()
        assert killed >= 1
        missed = [_add_customer(other, admin, f"While away {i}") for i in range(3)]
        seen.wait_for(lambda: {str(i) for i in missed} <= seen.keys("customers"), timeout=20)
        assert any(not online for online, _ in seen.states), "the lost connection was not reported"
        assert seen.states[-1][0] is True
        # nothing delivered twice, nothing skipped
        delivered = [c.entry_id for cs in seen.sets for c in cs.changes]
        assert len(delivered) == len(set(delivered))
        assert delivered == sorted(delivered)
    finally:
        watcher.stop()
        db.close()
        other.close()
