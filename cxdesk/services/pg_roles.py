"""Least privilege on PostgreSQL: an owner role for the schema, an application role for work.

The owner role owns every table, sequence and function of the schema and is the role the
migrations run as. Workstations connect as the application role, which may read and write
the ordinary tables but may only SELECT and INSERT the audit log (and move its head): no
UPDATE, DELETE or TRUNCATE of ``audit_entries``, no ALTER or DROP of anything (only an
owner may), no CREATE in the schema. The append-only triggers stay as a second line, but
they do not fire on TRUNCATE and an owner can disable them, which is why the privileges
matter. SQLite has no roles: nothing here applies to it.

Everything here is idempotent: running it again repairs grants and ownership.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError

from cxdesk.errors import ValidationError

OWNER_DEFAULT = "cxdesk_owner"
APP_DEFAULT = "cxdesk_app"

#: what the application role may do on an ordinary table
ORDINARY = ("SELECT", "INSERT", "UPDATE", "DELETE")
#: tables where it may do less. The chain code (services/audit_chain.append) moves the head
#: with an UPDATE under SELECT ... FOR UPDATE, so audit_head keeps UPDATE (see the README).
RESTRICTED: dict[str, tuple[str, ...]] = {
    "audit_entries": ("SELECT", "INSERT"),
    "audit_head": ("SELECT", "UPDATE"),
    "alembic_version": ("SELECT",),
}
#: sequences: nextval (USAGE), currval (SELECT) and setval (UPDATE, the CDR import's
#: customer ids)
SEQUENCE_PRIVILEGES = ("USAGE", "SELECT", "UPDATE")

_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def check_role_name(name: str, field_name: str) -> str:
    name = (name or "").strip()
    if not _NAME.match(name) or name.startswith("pg_"):
        raise ValidationError(
            f"'{name}' cannot be a role name; use lower-case letters, digits and _ (at most 63, "
            "not starting with a digit or pg_).", field=field_name)
    return name


def check_names(owner: str, app: str) -> tuple[str, str]:
    owner, app = check_role_name(owner, "owner"), check_role_name(app, "app")
    if owner == app:
        raise ValidationError("The owner and the application role must be two different roles.", field="app")
    return owner, app


def _q(conn: Connection, name: str) -> str:
    return conn.dialect.identifier_preparer.quote(name)


def _one(conn: Connection, sql: str, **params):
    return conn.execute(text(sql), params).scalar()


def current_user(conn: Connection) -> str:
    return _one(conn, "SELECT current_user")


def schema_owner(conn: Connection) -> str | None:
    """The role owning the cxdesk schema (its alembic_version table), if it exists yet."""
    return _one(conn, "SELECT tableowner FROM pg_tables WHERE schemaname = current_schema() "
                      "AND tablename = 'alembic_version'")


def may_become(conn: Connection, role: str) -> bool:
    """Can this session SET ROLE to ``role`` (a superuser can become anyone)?"""
    return bool(_one(conn, "SELECT pg_has_role(current_user, :r, 'MEMBER')", r=role))


def may_create_tables(conn: Connection) -> bool:
    return bool(_one(conn, "SELECT has_schema_privilege(current_schema(), 'CREATE')"))


def app_roles(conn: Connection, owner: str) -> list[str]:
    """The application roles set up for ``owner``: the grantees of its default privileges."""
    rows = conn.execute(text(
        "SELECT DISTINCT grantee::regrole::text FROM pg_default_acl d, aclexplode(d.defaclacl) "
        "WHERE d.defaclrole = CAST(:o AS regrole) AND d.defaclnamespace = CAST(current_schema() AS regnamespace) "
        "AND grantee <> d.defaclrole AND grantee <> 0"), {"o": owner}).scalars()
    return sorted(r.strip('"') for r in rows)


def grant_app(conn: Connection, app: str) -> None:
    """Give ``app`` exactly its privileges on every table and sequence there is now (run as
    the owner or a superuser)."""
    a = _q(conn, app)
    tables = conn.execute(text(
        "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() ORDER BY tablename")).scalars().all()
    for table in tables:
        t = _q(conn, table)
        conn.exec_driver_sql(f"REVOKE ALL ON TABLE {t} FROM {a}")
        conn.exec_driver_sql(f"GRANT {', '.join(RESTRICTED.get(table, ORDINARY))} ON TABLE {t} TO {a}")
    conn.exec_driver_sql(
        f"GRANT {', '.join(SEQUENCE_PRIVILEGES)} ON ALL SEQUENCES IN SCHEMA {_schema(conn)} TO {a}")


def regrant_after_migration(conn: Connection) -> list[str]:
    """After migrations (run as the owner): the application roles get their privileges on
    what the migrations added, the audit tables restricted again. Returns the roles."""
    owner = current_user(conn)
    roles = app_roles(conn, owner)
    for app in roles:
        grant_app(conn, app)
    return roles


def _schema(conn: Connection) -> str:
    return _q(conn, _one(conn, "SELECT current_schema()"))


@dataclass
class RolesReport:
    owner: str
    app: str
    created: list[str] = field(default_factory=list)
    moved: int = 0  # objects whose ownership moved to the owner
    schema: str = ""
    owner_url: str = ""
    app_url: str = ""


def _ensure_role(conn: Connection, name: str, verifier: str, report: RolesReport) -> None:
    exists = _one(conn, "SELECT 1 FROM pg_roles WHERE rolname = :n", n=name)
    verb = "ALTER" if exists else "CREATE"
    if not exists:
        report.created.append(name)
    # never a superuser, never able to make roles or databases, never around row security
    conn.exec_driver_sql(
        f"{verb} ROLE {_q(conn, name)} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION "
        f"NOBYPASSRLS INHERIT PASSWORD '{verifier}'")


def _move_ownership(conn: Connection, owner: str) -> int:
    """Every table, sequence, view and function of the schema (not an extension's) to the owner."""
    rows = conn.execute(text(
        "SELECT CASE c.relkind WHEN 'S' THEN 'SEQUENCE' WHEN 'v' THEN 'VIEW' "
        "  WHEN 'm' THEN 'MATERIALIZED VIEW' ELSE 'TABLE' END, quote_ident(c.relname) "
        "FROM pg_class c WHERE c.relnamespace = CAST(current_schema() AS regnamespace) "
        "AND c.relkind IN ('r', 'p', 'v', 'm', 'S') AND c.relowner <> CAST(:o AS regrole) "
        "AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass "
        "  AND d.objid = c.oid AND d.deptype IN ('a', 'i', 'e')) "  # owned by a column / extension
        "UNION ALL "
        "SELECT 'FUNCTION', p.oid::regprocedure::text FROM pg_proc p "
        "WHERE p.pronamespace = CAST(current_schema() AS regnamespace) AND p.proowner <> CAST(:o AS regrole) "
        "AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass "
        "  AND d.objid = p.oid AND d.deptype = 'e')"), {"o": owner}).all()
    for kind, name in rows:
        conn.exec_driver_sql(f"ALTER {kind} {name} OWNER TO {_q(conn, owner)}")
    return len(rows)


def set_up(conn: Connection, owner: str, app: str, owner_verifier: str, app_verifier: str) -> RolesReport:
    """Create or repair the two roles on the connection's database (as a superuser or a role
    with CREATEROLE that owns the database). The passwords arrive as SCRAM verifiers, so the
    plain text never reaches the server or its log. The caller commits."""
    owner, app = check_names(owner, app)
    me = current_user(conn)
    if me in (owner, app):
        raise ValidationError(
            f"You are connected as {me}: connect as a superuser (e.g. postgres) to create the roles, "
            "not as one of them.", field="url")
    report = RolesReport(owner, app)
    _ensure_role(conn, owner, owner_verifier, report)
    _ensure_role(conn, app, app_verifier, report)
    o, a, s = _q(conn, owner), _q(conn, app), _schema(conn)
    if _one(conn, "SELECT pg_has_role(:a, :o, 'MEMBER')", a=app, o=owner):
        conn.exec_driver_sql(f"REVOKE {o} FROM {a}")
    db = _q(conn, _one(conn, "SELECT current_database()"))
    if _one(conn, "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = current_database()") == app:
        conn.exec_driver_sql(f"ALTER DATABASE {db} OWNER TO {o}")
    if _one(conn, "SELECT nspowner::regrole::text FROM pg_namespace WHERE nspname = current_schema()") == app:
        conn.exec_driver_sql(f"ALTER SCHEMA {s} OWNER TO {o}")
    # the schema: only the owner creates in it (PostgreSQL < 15 lets PUBLIC create in public)
    conn.exec_driver_sql(f"REVOKE CREATE ON SCHEMA {s} FROM PUBLIC")
    conn.exec_driver_sql(f"REVOKE CREATE ON SCHEMA {s} FROM {a}")
    conn.exec_driver_sql(f"GRANT USAGE, CREATE ON SCHEMA {s} TO {o}")
    conn.exec_driver_sql(f"GRANT USAGE ON SCHEMA {s} TO {a}")
    conn.exec_driver_sql(f"GRANT CONNECT ON DATABASE {db} TO {o}, {a}")
    report.moved = _move_ownership(conn, owner)
    # tables a later migration adds get the ordinary grants at once; regrant_after_migration
    # then restricts the audit tables again
    conn.exec_driver_sql(
        f"ALTER DEFAULT PRIVILEGES FOR ROLE {o} IN SCHEMA {s} GRANT {', '.join(ORDINARY)} ON TABLES TO {a}")
    conn.exec_driver_sql(
        f"ALTER DEFAULT PRIVILEGES FOR ROLE {o} IN SCHEMA {s} "
        f"GRANT {', '.join(SEQUENCE_PRIVILEGES)} ON SEQUENCES TO {a}")
    _install_trgm(conn)
    return report


def _install_trgm(conn: Connection) -> None:
    """The search indexes need pg_trgm; installing it takes the CREATE privilege on the
    database, which the owner does not get, so the administrator installs it here."""
    if _one(conn, "SELECT 1 FROM pg_available_extensions WHERE name = 'pg_trgm'") is None:
        return
    try:
        with conn.begin_nested():
            conn.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    except DBAPIError:  # the migrations then go without the search indexes, as before
        pass


def scram_verifier(conn: Connection, role: str, password: str) -> str:
    """The password as the server stores it (SCRAM-SHA-256, computed here by libpq)."""
    raw = conn.connection.driver_connection
    verifier = raw.pgconn.encrypt_password(password.encode(), role.encode(), b"scram-sha-256").decode()
    if "'" in verifier or "\\" in verifier:  # base64 and '$:' only; never a quote
        raise ValueError("unexpected character in a password verifier")
    return verifier


MIN_PASSWORD = 12


def check_password(password: str, field_name: str) -> str:
    if len(password or "") < MIN_PASSWORD or any(c in password for c in "\r\n"):
        raise ValidationError(
            f"The {field_name} role's password must have at least {MIN_PASSWORD} characters on one line.",
            field=field_name)
    return password


def role_url(url, role: str) -> str:
    """The server URL of ``url`` for ``role``, without a password (what workstations use)."""
    from sqlalchemy.engine import URL

    return URL.create("postgresql+psycopg", role, None, url.host, url.port, url.database) \
        .render_as_string(hide_password=False)


def set_up_database(url: str, owner: str, app: str, owner_password: str, app_password: str,
                    password_lookup=None) -> RolesReport:
    """Connect to ``url`` as an administrator, create or repair both roles, move the schema to
    the owner, migrate it as the owner and grant the application role its privileges."""
    from cxdesk.db import head_revision, open_database, upgrade

    owner, app = check_names(owner, app)
    check_password(owner_password, "owner")
    check_password(app_password, "app")
    db = open_database(url, migrate=False, password_lookup=password_lookup)
    try:
        if not db.is_postgres:
            raise ValidationError("A SQLite database has no roles: there is nothing to set up; "
                                  "`db roles` is for a PostgreSQL URL.", field="url")
        try:
            with db.engine.connect() as conn:
                report = set_up(conn, owner, app, scram_verifier(conn, owner, owner_password),
                                scram_verifier(conn, app, app_password))
                conn.commit()
        except DBAPIError as exc:
            if "permission denied" in str(exc.orig).lower() or "must be" in str(exc.orig).lower():
                raise ValidationError(
                    f"{db.url.username or 'This user'} may not create roles or change owners on "
                    f"{db.display}; connect as a superuser (e.g. postgres).", field="url") from None
            raise
        upgrade(db, as_role=owner)
        with db.engine.connect() as conn:
            grant_app(conn, app)
            conn.commit()
        report.schema = head_revision()
        report.owner_url = role_url(db.url, owner)
        report.app_url = role_url(db.url, app)
        return report
    finally:
        db.close()
