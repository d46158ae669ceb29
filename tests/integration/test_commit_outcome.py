"""A connection that drops during COMMIT (issue 13, point 7): the program finds out whether the
change was saved and says so truthfully. The server process is really killed
(pg_terminate_backend from another connection) at commit time, in both orders."""
from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import OperationalError

from cxdesk.db import open_database
from cxdesk.errors import DatabaseUnavailable
from cxdesk.models import AuditEntry, Customer
from cxdesk.services import commit_outcome, customers

pytestmark = pytest.mark.postgres


def _kill(killer, pid: int) -> None:
    with killer.engine.connect() as conn:
        assert conn.execute(text("SELECT pg_terminate_backend(:p)"), {"p": pid}).scalar()
        for _ in range(200):
            if not conn.execute(text("SELECT count(*) FROM pg_stat_activity WHERE pid = :p"), {"p": pid}).scalar():
                return
            conn.execute(text("SELECT pg_sleep(0.02)"))


@pytest.fixture
def pg(pg_url, admin):
    db, killer = open_database(pg_url), open_database(pg_url)
    yield db, killer
    db.close()
    killer.close()


def _customer(db, admin) -> int:
    from cxdesk.services.uow import unit_of_work

    with unit_of_work(db, admin) as uow:
        c = uow.add(Customer(name="Acme", currency="EUR", credit=Decimal("100")))
        uow.flush()
        return c.id


def _balance_and_entries(db, cid: int) -> tuple[Decimal, int]:
    with db.read_session() as s:
        return (s.get(Customer, cid).credit,
                s.scalar(select(text("count(*)")).select_from(AuditEntry).where(AuditEntry.table_name == "customers")))


def _patch_commit(monkeypatch, db, killer, *, order: str, then=None) -> list[str]:
    """At the adjustment's COMMIT, kill its server process ``before`` the COMMIT reaches the
    server, or ``after`` the server committed (the answer never arrives)."""
    dialect = db.engine.dialect
    real = dialect.do_commit
    happened: list[str] = []

    def do_commit(dbapi_conn):
        if happened:
            return real(dbapi_conn)
        pid = dbapi_conn.dbapi_connection.info.backend_pid
        happened.append(order)
        if order == "before":
            _kill(killer, pid)
            return real(dbapi_conn)  # raises: the server is gone
        real(dbapi_conn)
        _kill(killer, pid)
        if then is not None:
            then()
        dbapi_conn.dbapi_connection.execute("SELECT 1")  # raises the real error the lost answer would have raised

    monkeypatch.setattr(dialect, "do_commit", do_commit)
    return happened


def test_killed_after_the_server_committed_the_call_says_saved(pg, admin, monkeypatch):
    db, killer = pg
    cid = _customer(db, admin)
    happened = _patch_commit(monkeypatch, db, killer, order="after")
    balance = customers.adjust_balance(db, admin, cid, "25.00", "Payment received")  # returns normally
    assert happened == ["after"]
    assert balance == Decimal("125")
    assert _balance_and_entries(db, cid) == (Decimal("125"), 2)
    # no retry is needed, and nothing is applied twice
    assert customers.adjust_balance(db, admin, cid, "1.00", "Next payment") == Decimal("126")


def test_killed_before_the_commit_reached_the_server_the_call_says_not_saved(pg, admin, monkeypatch):
    db, killer = pg
    cid = _customer(db, admin)
    happened = _patch_commit(monkeypatch, db, killer, order="before")
    with pytest.raises(DatabaseUnavailable) as err:
        customers.adjust_balance(db, admin, cid, "25.00", "Payment received")
    assert happened == ["before"]
    assert str(err.value) == "The connection dropped while saving; the change was not saved; try again."
    assert _balance_and_entries(db, cid) == (Decimal("100"), 1)
    # trying again saves it once
    assert customers.adjust_balance(db, admin, cid, "25.00", "Payment received") == Decimal("125")


def test_the_server_unreachable_after_the_drop_says_unknown(pg, admin, monkeypatch):
    db, killer = pg
    cid = _customer(db, admin)
    def unreachable(*_a, **_k):
        raise OperationalError("SELECT 1", {}, Exception("connection refused"))

    # once the answer to COMMIT is lost, the server cannot be reached any more
    _patch_commit(monkeypatch, db, killer, order="after",
                  then=lambda: monkeypatch.setattr(db, "read_session", unreachable))
    with pytest.raises(DatabaseUnavailable) as err:
        customers.adjust_balance(db, admin, cid, "25.00", "Payment received")
    assert "unknown whether the change was saved: check the audit log" in str(err.value)
    assert "before trying again" in str(err.value)


def test_the_lookup_tells_saved_from_not_saved_by_the_entry_hash(pg, admin):
    db, _ = pg
    cid = _customer(db, admin)
    with db.read_session() as s:
        entry = s.scalars(select(AuditEntry).order_by(AuditEntry.id.desc())).first()
    assert commit_outcome.lookup(db, entry.id, entry.hash, None) is True
    assert commit_outcome.lookup(db, entry.id, "0" * 64, None) is False  # another writer's entry took the id
    assert commit_outcome.lookup(db, entry.id + 1, entry.hash, None) is False
    assert cid
