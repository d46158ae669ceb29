"""Application fixtures shared by every test folder (loaded as a pytest plugin).

``db`` runs a test on SQLite and on the PostgreSQL server the test setup starts;
``sqlite_db`` only on a SQLite file. ``run_cli`` runs the real CLI as a subprocess.
"""
from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from cxdesk.db import Database, open_database
from cxdesk.models import Customer
from cxdesk.services.actor import Actor
from cxdesk.services.uow import unit_of_work


@pytest.fixture(autouse=True)
def _isolated_dirs(tmp_path_factory, monkeypatch) -> None:
    """Every test gets its own data, config and log dirs: nothing touches the real user's."""
    home = tmp_path_factory.mktemp("home")
    for var, sub in (("XDG_DATA_HOME", "data"), ("XDG_CONFIG_HOME", "config"),
                     ("XDG_STATE_HOME", "state"), ("XDG_CACHE_HOME", "cache")):
        monkeypatch.setenv(var, str(home / sub))


@pytest.fixture
def sqlite_db(tmp_path: Path) -> Iterator[Database]:
    db = open_database(f"sqlite:///{tmp_path / 'cxdesk.db'}")
    yield db
    db.close()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db(request, tmp_path: Path) -> Iterator[Database]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'cxdesk.db'}"
    else:
        url = request.getfixturevalue("pg_url")
    database = open_database(url)
    yield database
    database.close()


@pytest.fixture
def admin() -> Actor:
    return Actor(login="alice", role="admin", display_name="Alice Admin", ip="10.0.0.5")


@pytest.fixture
def staff() -> Actor:
    return Actor(login="sam", role="staff", display_name="Sam Staff", ip="10.0.0.6")


@pytest.fixture
def accountant() -> Actor:
    return Actor(login="acc", role="accountant", display_name="Ann Accountant", ip="10.0.0.7")


@pytest.fixture
def supervisor() -> Actor:
    return Actor(login="sup", role="supervisor", display_name="Sue Supervisor", ip="10.0.0.8")


@pytest.fixture
def make_customer(admin):
    def make(db: Database, name: str = "Acme Telecom", **fields) -> int:
        fields.setdefault("currency", "EUR")
        fields.setdefault("credit", Decimal("100.00"))
        with unit_of_work(db, admin) as uow:
            c = uow.add(Customer(name=name, **fields))
            uow.flush()
            return c.id
    return make


@pytest.fixture
def run_cli(tmp_path: Path):
    """Run ``python -m cxdesk`` as a separate process; returns CompletedProcess (text).
    ``operator=(login, password)`` signs in: ``--operator LOGIN --password-stdin`` with the
    password as the first line of standard input (before ``input``)."""

    def run(*args: str, db_url: str | None = None, input: str | None = None,
            env: dict | None = None, timeout: float = 120,
            operator: tuple[str, str] | None = None) -> subprocess.CompletedProcess:
        cmd = [sys.executable, "-m", "cxdesk"]
        if db_url:
            cmd += ["--db", db_url]
        if operator:
            cmd += ["--operator", operator[0], "--password-stdin"]
            input = f"{operator[1]}\n{input or ''}"
        cmd += list(args)
        full_env = dict(os.environ)
        full_env.pop("CXDESK_LOG_LEVEL", None)
        full_env.pop("CXDESK_OPERATOR", None)  # a developer's own sign-in must not leak in
        if env:
            full_env.update(env)
        return subprocess.run(cmd, input=input, capture_output=True, text=True,
                              env=full_env, timeout=timeout, cwd=tmp_path)
    return run
