"""The foundation: schema = models, no Qt below the UI, exact money, UTC times, and the
database errors a user can meet, each one sentence (SQLite and PostgreSQL)."""
from __future__ import annotations

import ast
import datetime as dt
import sqlite3
import subprocess
import sys
import warnings
from decimal import Decimal
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import func, select, text
from sqlalchemy.exc import StatementError

import cxdesk
from cxdesk import db as dbmod
from cxdesk.db import backup_sqlite, open_database
from cxdesk.errors import DatabaseUnavailable
from cxdesk.migrations import autogenerate_includes
from cxdesk.models import AuditEntry, AuditHead, Base, Customer
from cxdesk.models.base import to_decimal
from cxdesk.services import audit_chain
from cxdesk.services.uow import unit_of_work

PACKAGE = Path(cxdesk.__file__).parent
QT_MODULES = {"PySide6", "PySide2", "PyQt5", "PyQt6", "shiboken6"}


def one_sentence(message: str) -> bool:
    return "\n" not in message and message.endswith(".") and ". " not in message


# -- schema --------------------------------------------------------------------------------


def test_the_migrated_schema_equals_the_models(db):
    """Alembic finds nothing to change (leaving out, as env.py does, the search indexes the
    migration makes by hand); SQLite cannot reflect expression indexes: checked by name."""
    with db.engine.connect() as conn, warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*expression-based index")
        opts = {"compare_type": True, "include_name": autogenerate_includes}
        context = MigrationContext.configure(conn, opts=opts)
        assert compare_metadata(context, Base.metadata) == []
        if db.is_sqlite:
            sql = dict(conn.execute(text("SELECT name, sql FROM sqlite_master WHERE type = 'index'")).all())
            assert "substr(message, 1, 100)" in sql["ix_audit_message"]
            assert "substr(comment, 1, 100)" in sql["ix_audit_comment"]


def test_models_and_services_import_no_qt():
    offenders = []
    for folder in ("models", "services"):
        for path in sorted((PACKAGE / folder).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                names = []
                if isinstance(node, ast.Import):
                    names = [a.name for a in node.names]
                elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                    names = [node.module]
                elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant) \
                        and isinstance(node.args[0].value, str) \
                        and getattr(node.func, "attr", getattr(node.func, "id", "")) in ("import_module", "__import__"):
                    names = [node.args[0].value]
                offenders += [f"{path.relative_to(PACKAGE)}:{node.lineno} {n}"
                              for n in names if n.split(".")[0] in QT_MODULES]
    assert offenders == []
    # nor indirectly, through what they import
    modules = [f"cxdesk.{p.parent.name}.{p.stem}" for f in ("models", "services")
               for p in (PACKAGE / f).glob("*.py") if p.stem != "__init__"]
    code = ("import importlib, sys\n"
            f"for m in {modules!r}: importlib.import_module(m)\n"
            f"print(sorted(m for m in sys.modules if m.split('.')[0] in {sorted(QT_MODULES)!r}))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert (done.returncode, done.stdout.strip()) == (0, "[]"), done.stderr


# -- money and time ------------------------------------------------------------------------


def test_money_refuses_floats(db, admin):
    for bad in (0.1, 1.0, True):
        with pytest.raises(TypeError, match="float|cannot use"):
            to_decimal(bad)
        with pytest.raises(StatementError, match="never float|amount"):
            with unit_of_work(db, admin) as uow:
                uow.add(Customer(name="Floaty", currency="EUR", credit=bad))
    with pytest.raises(StatementError, match="out of range"):
        with unit_of_work(db, admin) as uow:
            uow.add(Customer(name="Huge", currency="EUR", credit=Decimal("1e15")))
    with db.read_session() as s:
        assert s.scalar(select(func.count()).select_from(Customer)) == 0
        assert s.scalar(select(func.count()).select_from(AuditEntry)) == 0


def test_money_round_trips_exactly(db, admin):
    amounts = [Decimal("0.000001"), Decimal("-999999999999.999999"), Decimal("123456789012.345678"),
               Decimal("0.1"), Decimal("10"), Decimal("-0.5")]
    with unit_of_work(db, admin) as uow:
        for n, amount in enumerate(amounts + [Decimal("0.1")] * 9):
            uow.add(Customer(name=f"C{n}", currency="EUR", credit=amount, debit_limit="0.30"))
    with db.read_session() as s:
        got = list(s.scalars(select(Customer.credit).order_by(Customer.id)))
        assert got[:len(amounts)] == amounts and all(isinstance(v, Decimal) for v in got)
        tenths = s.scalar(select(func.sum(Customer.credit)).where(Customer.credit == Decimal("0.1")))
        assert tenths == Decimal("1.000000") and isinstance(tenths, Decimal)
        assert s.scalar(select(func.sum(Customer.debit_limit))) == Decimal("4.5")


def test_times_are_aware_utc_and_naive_ones_are_refused(db, admin):
    with pytest.raises(StatementError, match="naive datetime"):
        with unit_of_work(db, admin) as uow:
            uow.add(Customer(name="Naive", currency="EUR", created_at=dt.datetime(2026, 1, 1, 12)))
    plus2 = dt.timezone(dt.timedelta(hours=2))
    with unit_of_work(db, admin) as uow:
        uow.add(Customer(name="Aware", currency="EUR", created_at=dt.datetime(2026, 1, 1, 12, tzinfo=plus2)))
    with db.read_session() as s:
        customer = s.scalars(select(Customer)).one()
        assert customer.name == "Aware"
        assert customer.created_at == dt.datetime(2026, 1, 1, 10, tzinfo=dt.timezone.utc)
        assert customer.created_at.utcoffset() == dt.timedelta(0)


# -- opening a database --------------------------------------------------------------------


def test_sqlite_files_that_cannot_be_used(tmp_path):
    missing = tmp_path / "missing.db"
    not_db = tmp_path / "notes.db"
    not_db.write_text("these are my notes, not a database\n")
    folder = tmp_path / "folder.db"
    folder.mkdir()
    cases = [
        (dict(url=str(missing), create=False), f"There is no database file at {missing}"),
        (dict(url=str(not_db)), "is damaged or is not a database file"),
        (dict(url=f"sqlite:///{folder}"), "is a folder, not a database file"),
    ]
    for kwargs, message in cases:
        with pytest.raises(DatabaseUnavailable) as err:
            open_database(**kwargs)
        assert message in str(err.value) and one_sentence(str(err.value))
    assert not missing.exists()
    assert not_db.read_text() == "these are my notes, not a database\n"


def test_a_database_of_a_newer_schema_is_refused(db):
    with db.engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = 'f00dcafe'"))
    url = db.url.render_as_string(hide_password=False)
    db.close()
    with pytest.raises(DatabaseUnavailable) as err:
        open_database(url)
    assert "written by a newer cxdesk (schema f00dcafe)" in str(err.value) and one_sentence(str(err.value))


def test_a_database_holding_other_tables_is_refused(db_url):
    if db_url.startswith("sqlite"):
        path = db_url.removeprefix("sqlite:///")
        con = sqlite3.connect(path)
        con.execute("CREATE TABLE recipes (name TEXT)")
        con.commit()
        con.close()
    else:
        import psycopg

        with psycopg.connect(db_url.replace("postgresql+psycopg", "postgresql"), autocommit=True) as conn:
            conn.execute("CREATE TABLE recipes (name TEXT)")
    with pytest.raises(DatabaseUnavailable) as err:
        open_database(db_url)
    assert "already holds other tables and is not a cxdesk database" in str(err.value)
    assert one_sentence(str(err.value))


@pytest.mark.postgres
def test_postgresql_servers_that_refuse(postgres_server, down_address):
    host, port = down_address
    user, password = postgres_server.TEST_USER, postgres_server.TEST_PASSWORD
    cases = [
        (f"postgresql+psycopg://{user}:{password}@{host}:{port}/cxdesk", "the server refused the connection"),
        (postgres_server.url("postgres", user=user, password="wrong-password"), "The server refused the password"),
        (postgres_server.url("no_such_db", user=user, password=password), "The server has no database for"),
    ]
    for url, message in cases:
        with pytest.raises(DatabaseUnavailable) as err:
            open_database(url)
        assert message in str(err.value) and one_sentence(str(err.value))
        assert "wrong-password" not in str(err.value) and password not in str(err.value)


# -- backups and a server that goes away ------------------------------------------------------


def test_sqlite_backup_before_a_migration(sqlite_db, make_customer, monkeypatch):
    """A pending migration (simulated: the code's head moves on) first copies the file."""
    make_customer(sqlite_db, "Kept In The Backup")  # still in the WAL, not the main file
    path = sqlite_db.path
    migrated = []
    real_head = dbmod.head_revision()
    monkeypatch.setattr(dbmod, "head_revision", lambda: "0099")
    monkeypatch.setattr(dbmod, "_run_alembic", lambda conn: migrated.append(conn))
    assert dbmod.upgrade(sqlite_db) is True and len(migrated) == 1
    backups = list(path.parent.glob(f"{path.stem}.before-0099.*.bak"))
    assert len(backups) == 1
    con = sqlite3.connect(backups[0])
    try:
        assert con.execute("SELECT name FROM customers").fetchall() == [("Kept In The Backup",)]
        assert con.execute("SELECT version_num FROM alembic_version").fetchall() == [(real_head,)]
    finally:
        con.close()
    assert backup_sqlite(sqlite_db, reason="manual").name.startswith(f"{path.stem}.manual.")


@pytest.mark.postgres
def test_a_server_restart_during_a_unit_of_work(postgres_server, pg_url, admin, make_customer):
    db = open_database(pg_url)
    try:
        make_customer(db, "Before")
        with db.read_session() as s:
            head = s.get(AuditHead, 1)
            before = (head.last_id, head.last_hash, head.count)
        with pytest.raises(DatabaseUnavailable) as err:
            with unit_of_work(db, admin) as uow:
                uow.add(Customer(name="Lost In The Restart", currency="EUR"))
                uow.flush()
                postgres_server.restart()
        assert "was lost and nothing was saved" in str(err.value) and "\n" not in str(err.value)
        with db.read_session() as s:  # the same Database object, once the server is back
            assert list(s.scalars(select(Customer.name))) == ["Before"]
            head = s.get(AuditHead, 1)
            assert (head.last_id, head.last_hash, head.count) == before
        make_customer(db, "After")
        with db.read_session() as s:
            assert list(s.scalars(select(Customer.name).order_by(Customer.id))) == ["Before", "After"]
            assert audit_chain.verify(s) == audit_chain.VerifyResult(True, 2)
    finally:
        db.close()
