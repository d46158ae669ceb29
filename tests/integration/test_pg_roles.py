"""Least privilege on PostgreSQL (issue 13, point 5): the server itself refuses the
application role every statement that could rewrite or remove the audit log, while the
program works as that role; migrations run as the owner role and keep the grants."""
from __future__ import annotations

import dataclasses
from decimal import Decimal

import psycopg
from psycopg import sql
import pytest
from sqlalchemy import create_engine, select

from cxdesk.db import DatabaseUnavailable, alembic_config, head_revision, open_database, secret_name_for
from cxdesk.models import Customer
from cxdesk.services import audit_chain, audit_log, customers, pg_roles, secrets
from pgroles_support import APP_PW, OWNER_PW, role_names

pytestmark = pytest.mark.postgres

ALL_TABLE_PRIVILEGES = ("SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER")


@pytest.fixture
def names(postgres_server, pg_url):
    with role_names(postgres_server, pg_url) as roles:
        yield roles


@pytest.fixture
def roles(names, pg_url):
    pg_roles.set_up_database(pg_url, names.owner, names.app, OWNER_PW, APP_PW)
    return names


@pytest.fixture
def app_db(roles):
    db = open_database(roles.app_url)
    yield db
    db.close()


def _grants(conn, role: str) -> dict[str, set[str]]:
    """Every table of the schema -> the privileges ``role`` holds on it (as the server says)."""
    tables = [r[0] for r in conn.execute(
        "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")]
    return {t: {p for p in ALL_TABLE_PRIVILEGES
                if conn.execute("SELECT has_table_privilege(%s, quote_ident(%s), %s)", (role, t, p)).fetchone()[0]}
            for t in tables}


def _expected(table: str) -> set[str]:
    return set(pg_roles.RESTRICTED.get(table, pg_roles.ORDINARY))


# -- the server refuses the application role ---------------------------------------------------
REFUSED = [
    "UPDATE audit_entries SET message = 'rewritten'",
    "DELETE FROM audit_entries",
    "TRUNCATE audit_entries",
    "ALTER TABLE audit_entries DISABLE TRIGGER audit_entries_append_only",
    "ALTER TABLE audit_entries DISABLE TRIGGER ALL",
    "DROP TRIGGER audit_entries_append_only ON audit_entries",
    "DROP TABLE audit_entries",
    "ALTER TABLE audit_entries RENAME TO old_entries",
    "DELETE FROM audit_head",
    "TRUNCATE audit_head",
    "INSERT INTO audit_head (id, last_id, last_hash, count) VALUES (2, 0, '', 0)",
    "UPDATE alembic_version SET version_num = '0001'",
    "TRUNCATE customers",
    "DROP TABLE customers",
    "ALTER TABLE customers ADD COLUMN backdoor integer",
    "CREATE TABLE audit_entries_copy (id integer)",
    "CREATE OR REPLACE FUNCTION audit_entries_append_only() RETURNS trigger LANGUAGE plpgsql "
    "AS $$ BEGIN RETURN OLD; END $$",
]


def test_server_refuses_the_app_role(roles, app_db, make_customer):
    make_customer(app_db)  # audit entries exist, so an UPDATE or DELETE would touch rows
    allowed = []
    for statement in REFUSED:  # each on its own connection: a refusal aborts the transaction
        with roles.connect(roles.app, APP_PW) as conn:
            try:
                conn.execute(statement)
            except psycopg.errors.InsufficientPrivilege:
                continue
            except psycopg.Error as exc:  # refused, but not for want of a privilege
                allowed.append(f"{statement}: {type(exc).__name__}")
            else:
                allowed.append(statement)
    assert allowed == []
    # the owner is refused too, but by the append-only trigger (defence in depth), not a privilege
    for statement in REFUSED[:2]:
        with roles.connect(roles.owner, OWNER_PW) as conn, pytest.raises(psycopg.errors.RaiseException):
            conn.execute(statement)


def test_app_role_cannot_become_the_owner(roles):
    with roles.connect(roles.app, APP_PW) as conn:
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(f'SET ROLE "{roles.owner}"')
        attrs = conn.execute("SELECT rolsuper, rolcreaterole, rolcreatedb, rolbypassrls FROM pg_roles "
                             "WHERE rolname = current_user").fetchone()
    assert attrs == (False, False, False, False)


def test_audit_head_update_is_the_one_audit_write_left(roles, app_db, make_customer):
    """The chain code moves the head with an UPDATE, so the role keeps it (the witnesses
    catch a head moved back); it cannot add or remove head rows."""
    make_customer(app_db)
    with roles.admin() as conn:
        grants = _grants(conn, roles.app)
    assert grants["audit_entries"] == {"SELECT", "INSERT"}
    assert grants["audit_head"] == {"SELECT", "UPDATE"}
    assert grants["alembic_version"] == {"SELECT"}


def test_every_table_has_exactly_its_grants_and_the_owner_owns_everything(roles):
    with roles.admin() as conn:
        grants = _grants(conn, roles.app)
        owners = {r[0] for r in conn.execute(
            "SELECT tableowner FROM pg_tables WHERE schemaname = current_schema()")}
        functions = {r[0] for r in conn.execute(
            "SELECT proowner::regrole::text FROM pg_proc p WHERE pronamespace = current_schema()::regnamespace "
            "AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = p.oid AND d.deptype = 'e')")}
        create = conn.execute("SELECT has_schema_privilege(%s, current_schema(), 'CREATE')", (roles.app,)).fetchone()
        trgm = conn.execute("SELECT 1 FROM pg_available_extensions WHERE name = 'pg_trgm'").fetchone()
        indexes = {r[0] for r in conn.execute("SELECT indexname FROM pg_indexes WHERE schemaname = current_schema()")}
    if trgm:  # the owner may not install pg_trgm; `db roles` does it for the search indexes
        assert {"audit_search_trgm", "contacts_search_trgm"} <= indexes
    assert len(grants) > 10
    assert {t: g for t, g in grants.items() if g != _expected(t)} == {}
    assert owners == {roles.owner} and functions == {roles.owner}
    assert create == (False,)


def test_a_database_made_by_one_role_is_taken_from_it(names, pg_url):
    """The usual history: one role created the database and the schema and owns both; `db
    roles` naming it as the application role moves everything to the owner."""
    with names.admin() as conn:
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
            sql.Identifier(names.app), sql.Literal(APP_PW)))
        conn.execute(sql.SQL("ALTER DATABASE {} OWNER TO {}").format(
            sql.Identifier(names.dbname), sql.Identifier(names.app)))
    open_database(names.app_url).close()
    with names.connect(names.app, APP_PW) as conn:  # today: the role may do anything
        conn.execute("ALTER TABLE audit_entries DISABLE TRIGGER audit_entries_append_only")
        conn.execute("ALTER TABLE audit_entries ENABLE TRIGGER audit_entries_append_only")
    pg_roles.set_up_database(pg_url, names.owner, names.app, OWNER_PW, APP_PW)
    with names.connect(names.app, APP_PW) as conn:
        for statement in ("TRUNCATE audit_entries", "CREATE TABLE t (id int)",
                          "ALTER TABLE audit_entries DISABLE TRIGGER audit_entries_append_only"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                with conn.transaction():
                    conn.execute(statement)
    with names.admin() as conn:
        owners = {r[0] for r in conn.execute("SELECT tableowner FROM pg_tables WHERE schemaname = current_schema()")}
        db_owner = conn.execute("SELECT pg_get_userbyid(datdba) FROM pg_database "
                                "WHERE datname = current_database()").fetchone()[0]
    assert owners == {names.owner} and db_owner == names.owner


# -- the program works as the application role ----------------------------------------------------
def test_program_works_as_the_app_role(roles, app_db, admin, supervisor):
    form = customers.CustomerForm(name="Acme Telecom", currency="EUR")
    record = customers.create_customer(app_db, admin, form)
    with app_db.read_session() as s:
        version = s.get(Customer, record.id).version
    customers.update_customer(app_db, admin, record.id, version, dataclasses.replace(form, name="Acme Telecom Ltd"))
    customers.adjust_balance(app_db, admin, record.id, Decimal("12.50"), reason="top-up")
    assert audit_log.verify_and_record(app_db, supervisor).ok
    assert audit_chain.verify_database(app_db).ok
    with app_db.read_session() as s:
        assert s.scalar(select(Customer.name)) == "Acme Telecom Ltd"
    with roles.connect(roles.app, APP_PW) as conn:  # the CDR import moves the customer ids on
        conn.execute("SELECT setval(pg_get_serial_sequence('customers', 'id'), (SELECT max(id) FROM customers))")


# -- migrations run as the owner and keep the grants ------------------------------------------------
def _roles_at(names, pg_url, revision: str) -> None:
    """The two roles on a database whose schema is at an older ``revision``."""
    from alembic import command

    engine = create_engine(pg_url)
    try:
        with engine.connect() as conn:
            pg_roles.set_up(conn, names.owner, names.app, pg_roles.scram_verifier(conn, names.owner, OWNER_PW),
                            pg_roles.scram_verifier(conn, names.app, APP_PW))
            conn.commit()
            conn.exec_driver_sql(f'SET ROLE "{names.owner}"')
            cfg = alembic_config()
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, revision)
            pg_roles.grant_app(conn, names.app)
            conn.commit()
    finally:
        engine.dispose()


def test_app_role_on_a_schema_behind_says_who_must_upgrade(names, pg_url, run_cli):
    _roles_at(names, pg_url, "0002")
    with pytest.raises(DatabaseUnavailable) as refused:
        open_database(names.app_url)
    text = str(refused.value)
    assert f"db upgrade` as its owner {names.owner}" in text and "schema 0002" in text
    assert text.count(". ") == 0 and text.endswith(".")  # one sentence
    cli = run_cli("customer", "list", db_url=names.app_url)
    assert cli.returncode == 1 and "Traceback" not in cli.stderr
    assert cli.stderr.strip().splitlines() == [f"cxdesk: {text}"]
    with names.admin() as conn:
        assert conn.execute("SELECT version_num FROM alembic_version").fetchone() == ("0002",)


def test_migration_as_the_owner_keeps_the_grants(names, pg_url):
    _roles_at(names, pg_url, "0002")
    open_database(names.owner_url).close()  # migrates 0003.. as the owner
    with names.admin() as conn:
        assert conn.execute("SELECT version_num FROM alembic_version").fetchone() == (head_revision(),)
        grants = _grants(conn, names.app)
        owners = {r[0] for r in conn.execute("SELECT tableowner FROM pg_tables WHERE schemaname = current_schema()")}
    assert {t: g for t, g in grants.items() if g != _expected(t)} == {}
    assert owners == {names.owner}
    open_database(names.app_url).close()  # up to date now: the workstation opens it


def test_superuser_upgrade_runs_as_the_owner(names, pg_url):
    """`db upgrade` by a superuser switches to the owner: the new tables are not the superuser's."""
    _roles_at(names, pg_url, "0002")
    open_database(pg_url).close()
    with names.admin() as conn:
        owners = {r[0] for r in conn.execute("SELECT tableowner FROM pg_tables WHERE schemaname = current_schema()")}
        assert conn.execute("SELECT current_user").fetchone() == ("postgres",)
    assert owners == {names.owner}


def test_a_table_added_later_gets_the_grants(roles, monkeypatch):
    """A table a migration adds (made here as the owner) gets the ordinary grants by default,
    and an audit table listed in RESTRICTED is cut back to them after the migration."""
    with roles.connect(roles.owner, OWNER_PW) as conn:
        conn.execute("CREATE TABLE later_notes (id serial PRIMARY KEY, body text)")
        conn.execute("CREATE TABLE later_audit (id serial PRIMARY KEY, body text)")
    with roles.connect(roles.app, APP_PW) as conn:
        conn.execute("INSERT INTO later_notes (body) VALUES ('x')")
        conn.execute("UPDATE later_notes SET body = 'y'")
        conn.execute("DELETE FROM later_notes")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("TRUNCATE later_notes")
    monkeypatch.setitem(pg_roles.RESTRICTED, "later_audit", ("SELECT", "INSERT"))
    engine = create_engine(roles.owner_url)
    try:
        with engine.connect() as conn:
            assert pg_roles.regrant_after_migration(conn) == [roles.app]
            conn.commit()
    finally:
        engine.dispose()
    with roles.connect(roles.app, APP_PW) as conn:
        conn.execute("INSERT INTO later_audit (body) VALUES ('x')")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("UPDATE later_audit SET body = 'y'")


# -- the command ---------------------------------------------------------------------------------
def test_db_roles_command_stores_passwords_and_prints_none(names, pg_url, run_cli, secret_service):
    first = run_cli("db", "roles", "--owner", names.owner, "--app", names.app, "--password-stdin",
                    db_url=pg_url, input=f"{OWNER_PW}\n{APP_PW}\n")
    assert first.returncode == 0, first.stderr
    assert f"created {names.owner}, {names.app}" in first.stdout
    for out in (first.stdout, first.stderr):
        assert OWNER_PW not in out and APP_PW not in out
    app_url = pg_roles.role_url(_sa_url(names.app_url), names.app)
    owner_url = pg_roles.role_url(_sa_url(names.app_url), names.owner)
    assert secrets.get_secret(secret_name_for(app_url)) == APP_PW
    assert secrets.get_secret(secret_name_for(owner_url)) == OWNER_PW
    # a workstation on the application role, its password from the keyring
    listed = run_cli("customer", "list", db_url=app_url)
    assert listed.returncode == 0, listed.stderr
    # again: idempotent, nothing created
    again = run_cli("db", "roles", "--owner", names.owner, "--app", names.app, "--password-stdin",
                    db_url=pg_url, input=f"{OWNER_PW}\n{APP_PW}\n")
    assert again.returncode == 0, again.stderr
    assert "created" not in again.stdout
    with names.connect(names.app, APP_PW) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute("TRUNCATE audit_entries")


def _sa_url(url: str):
    from sqlalchemy.engine import make_url

    return make_url(url)


@pytest.mark.parametrize("args, stdin, message", [
    (["--owner", "Bad-Name"], "", "'Bad-Name' cannot be a role name"),
    (["--owner", "same", "--app", "same"], f"{OWNER_PW}\n{APP_PW}\n", "two different roles"),
    (["--app", "pg_app"], "", "'pg_app' cannot be a role name"),
    ([], "short\nshort\n", "at least 12 characters"),
])
def test_db_roles_refuses_bad_input(pg_url, run_cli, args, stdin, message):
    done = run_cli("db", "roles", "--password-stdin", *args, db_url=pg_url, input=stdin)
    assert done.returncode == 1
    assert message in done.stderr and len(done.stderr.strip().splitlines()) == 1


def test_db_roles_on_sqlite_says_there_is_nothing_to_do(run_cli, tmp_path):
    done = run_cli("db", "roles", "--password-stdin", db_url=str(tmp_path / "x.db"), input="")
    assert done.returncode == 1 and "SQLite file has no roles" in done.stderr
