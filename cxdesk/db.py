"""Engine and sessions: an embedded SQLite file by default, a PostgreSQL server by URL.

Opening a database applies the alembic migrations (under an advisory lock on PostgreSQL,
as the role that owns the schema -- see services/pg_roles.py -- and after a file-copy backup
on SQLite). Every failure a user can meet here (missing, corrupt,
locked, newer schema, a server that refuses) becomes one ``DatabaseUnavailable`` sentence.
"""
from __future__ import annotations

import datetime as dt
import logging
import re
import sqlite3
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import create_engine, event, inspect, text
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from cxdesk.errors import DatabaseUnavailable
from cxdesk.paths import default_database_path

log = logging.getLogger(__name__)
MIGRATIONS = Path(__file__).parent / "migrations"
PG_MIGRATION_LOCK = 0x637864  # "cxd"
SQLITE_BUSY_MS = 10_000


def default_url() -> str:
    return f"sqlite:///{default_database_path()}"


def strip_password(url: str) -> str:
    if not url:
        return url
    try:
        u = make_url(url)
    except ArgumentError:
        return url
    if not u.password:
        return url
    # (URL.set(password=None) keeps the password: set() ignores None)
    bare = URL.create(u.drivername, u.username, None, u.host, u.port, u.database, u.query)
    return bare.render_as_string(hide_password=False)


def describe(url: str | URL) -> str:
    """What the status bar shows: the file path, or user@host:port/db without a password."""
    u = make_url(url) if isinstance(url, str) else url
    if u.get_backend_name() == "sqlite":
        return u.database or ":memory:"
    port = f":{u.port}" if u.port else ""
    user = f"{u.username}@" if u.username else ""
    return f"PostgreSQL {user}{u.host or 'localhost'}{port}/{u.database}"


def secret_name_for(url: str | URL) -> str:
    """The keyring entry that holds a server URL's password."""
    u = make_url(url) if isinstance(url, str) else url
    return f"db:{u.username or ''}@{u.host or 'localhost'}:{u.port or 5432}/{u.database}"


def alembic_config():
    from alembic.config import Config as AlembicConfig

    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


_REVISION_LINE = re.compile(r"^(down_revision|revision)\s*=\s*['\"]?([\w]+)?['\"]?\s*$", re.M)


def _revision_graph() -> dict[str, str | None]:
    """revision -> down_revision, read from the migration files without importing alembic
    (opening a database must stay cheap; alembic loads only when a migration runs)."""
    graph: dict[str, str | None] = {}
    for path in (MIGRATIONS / "versions").glob("*.py"):
        found = dict((k, v) for k, v in _REVISION_LINE.findall(path.read_text(encoding="utf-8")))
        if found.get("revision"):
            down = found.get("down_revision")
            graph[found["revision"]] = None if down in (None, "", "None") else down
    return graph


def head_revision() -> str:
    """The newest schema revision this program knows."""
    graph = _revision_graph()
    heads = set(graph) - {down for down in graph.values() if down}
    if len(heads) != 1:
        raise RuntimeError(f"the migrations must have exactly one head, found {sorted(heads)}")
    return heads.pop()


def _known_revisions() -> set[str]:
    return set(_revision_graph())


def translate(exc: BaseException, url: str | URL | None = None) -> DatabaseUnavailable | None:
    """One sentence for a database error a user can meet, or None if it is a programming error."""
    where = describe(url) if url is not None else "the database"
    msg = str(getattr(exc, "orig", exc) or exc).lower()
    if isinstance(exc, DatabaseUnavailable):
        return exc
    if "file is not a database" in msg or "malformed" in msg or "not a database" in msg:
        return DatabaseUnavailable(
            f"{where} is damaged or is not a database file; restore a backup or choose another file."
        )
    if "database is locked" in msg or "database table is locked" in msg:
        return DatabaseUnavailable(
            f"{where} is locked by another program; close it or try again in a moment."
        )
    if "unable to open database" in msg:
        return DatabaseUnavailable(f"Cannot open {where}: check that its folder exists and is writable.")
    if "password authentication failed" in msg or "no password supplied" in msg:
        return DatabaseUnavailable(
            f"The server refused the password for {where}; store the right one with "
            "`cxdesk secret set db` or in Settings."
        )
    if "does not exist" in msg and "database" in msg:
        return DatabaseUnavailable(f"The server has no database for {where}; ask its administrator to create it.")
    if "connection refused" in msg or "could not connect" in msg or "connection failed" in msg:
        return DatabaseUnavailable(
            f"Cannot connect to {where}: the server refused the connection; check that it is running."
        )
    if (
        "server closed the connection" in msg
        or "terminating connection" in msg
        or "connection is closed" in msg
        or "consuming input failed" in msg
        or "connection already closed" in msg
        or "the connection is lost" in msg
        or (isinstance(exc, DBAPIError) and exc.connection_invalidated)
    ):
        return DatabaseUnavailable(
            f"The connection to {where} was lost and nothing was saved; try again once the server is back."
        )
    if "timeout" in msg or "timed out" in msg:
        return DatabaseUnavailable(f"{where} did not answer in time and nothing was saved; try again.")
    if isinstance(exc, OperationalError):
        first = (str(getattr(exc, "orig", exc)).strip().splitlines() or [type(exc).__name__])[0]
        return DatabaseUnavailable(f"{where} cannot be used right now: {first}")
    return None


class Database:
    """An open, migrated database with its session factories."""

    def __init__(self, engine: Engine, url: URL) -> None:
        self.engine = engine
        self.url = url
        self.is_sqlite = url.get_backend_name() == "sqlite"
        self.is_postgres = url.get_backend_name() == "postgresql"
        self._reader = sessionmaker(bind=engine, expire_on_commit=False)
        self._writer = sessionmaker(
            bind=engine.execution_options(cxdesk_write=True), expire_on_commit=False
        )

    @property
    def display(self) -> str:
        return describe(self.url)

    @property
    def path(self) -> Path | None:
        return Path(self.url.database) if self.is_sqlite and self.url.database else None

    def read_session(self) -> Session:
        """A session for queries. It refuses to flush: writes go through the unit of work."""
        return self._reader()

    def write_session(self) -> Session:
        """A session whose transaction takes the write lock at once (BEGIN IMMEDIATE on SQLite)."""
        return self._writer()

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Database:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _install_sqlite_pragmas(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _connect(dbapi_conn, _record):
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
        cur = dbapi_conn.cursor()
        cur.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_MS}")
        cur.execute("PRAGMA foreign_keys = ON")
        cur.execute("PRAGMA journal_mode = WAL")
        cur.execute("PRAGMA synchronous = NORMAL")
        cur.close()

    @event.listens_for(engine, "begin")
    def _begin(conn):
        write = conn.get_execution_options().get("cxdesk_write")
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


def _make_engine(url: URL) -> Engine:
    if url.get_backend_name() == "sqlite":
        engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_MS / 1000})
        _install_sqlite_pragmas(engine)
        return engine
    if url.get_backend_name() == "postgresql":
        if url.drivername == "postgresql":
            url = url.set(drivername="postgresql+psycopg")
        return create_engine(
            url,
            pool_pre_ping=True,
            pool_size=4,
            max_overflow=4,
            connect_args={"connect_timeout": 5, "application_name": "cxdesk"},
        )
    raise DatabaseUnavailable(
        f"Unsupported database URL '{url.drivername}': use a SQLite file or postgresql+psycopg://user@host/db."
    )


def parse_url(url: str) -> URL:
    if "://" not in url:  # a plain file path
        return make_url(f"sqlite:///{Path(url).expanduser().absolute()}")
    try:
        return make_url(url)
    except (ArgumentError, ValueError):
        shown = url.split("@")[-1] if "@" in url else url  # never echo a password
        raise DatabaseUnavailable(
            f"'…{shown}' is not a database URL; use a file path or postgresql+psycopg://user@host:port/db."
        ) from None


def open_database(
    url: str | None = None,
    *,
    create: bool = True,
    migrate: bool = True,
    password_lookup: Callable[[str], str | None] | None = None,
) -> Database:
    """Open (and migrate) the database at ``url``; the default is the embedded SQLite file.

    ``password_lookup(secret_name)`` supplies a server password from the keyring when the
    URL carries none.
    """
    u = parse_url(url or default_url())
    if u.get_backend_name() == "sqlite":
        try:
            _check_sqlite_file(u, create)
        except OSError as exc:
            raise DatabaseUnavailable(
                f"Cannot use {u.database}: {exc.strerror or exc}; check the path and its permissions."
            ) from exc
    elif u.password is None and password_lookup is not None:
        password = password_lookup(secret_name_for(u))
        if password:
            u = u.set(password=password)
    engine = _make_engine(u)
    db = Database(engine, u)
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")
        if migrate:
            upgrade(db)
        else:
            check_schema(db)
    except SQLAlchemyError as exc:
        engine.dispose()
        err = translate(exc, u)
        if err is None:
            raise
        raise err from exc
    except DatabaseUnavailable:
        engine.dispose()
        raise
    return db


def _check_sqlite_file(u: URL, create: bool) -> None:
    if not u.database or u.database == ":memory:":
        return
    path = Path(u.database)
    if not path.exists():
        if not create:
            raise DatabaseUnavailable(f"There is no database file at {path}; check the path or run `cxdesk db upgrade` to create one.")
        if not path.parent.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
        return
    if path.is_dir():
        raise DatabaseUnavailable(f"{path} is a folder, not a database file; choose a file.")
    with path.open("rb") as fh:
        head = fh.read(16)
    if head and head != b"SQLite format 3\x00":
        raise DatabaseUnavailable(f"{path} is damaged or is not a database file; restore a backup or choose another file.")


def current_revision(conn) -> str | None:
    """The schema revision stamped in the database (alembic_version), without loading alembic."""
    if "alembic_version" not in inspect(conn).get_table_names():
        return None
    return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()


def check_schema(db: Database) -> str | None:
    """Refuse a database of a newer schema or one that is not a cxdesk database."""
    with db.engine.connect() as conn:
        rev = current_revision(conn)
        tables = set(inspect(conn).get_table_names())
    if rev is None:
        user_tables = {t for t in tables if not t.startswith("sqlite_")}
        if user_tables:
            raise DatabaseUnavailable(
                f"{db.display} already holds other tables and is not a cxdesk database; choose another one."
            )
        return None
    if rev not in _known_revisions():
        raise DatabaseUnavailable(
            f"{db.display} was written by a newer cxdesk (schema {rev}); install the newer version to use it."
        )
    return rev


def upgrade(db: Database, as_role: str | None = None) -> bool:
    """Apply pending migrations. Returns True when something was applied.

    On PostgreSQL they run as the role that owns the schema (``as_role``, else the owner of
    alembic_version): a member of it (a superuser) switches to it, anyone else -- the
    application role of a workstation -- gets one sentence saying who must upgrade."""
    head = head_revision()
    if db.is_postgres:
        with db.engine.connect() as conn:
            conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": PG_MIGRATION_LOCK})
            try:
                conn.commit()
                rev = check_schema(db)
                if rev == head:
                    return False
                _migrate_postgres(db, conn, rev, head, as_role)
                return True
            finally:
                conn.rollback()
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": PG_MIGRATION_LOCK})
                conn.commit()
    rev = check_schema(db)
    if rev == head:
        return False
    if rev is not None:
        try:
            backup_sqlite(db, reason=f"before-{head}")
        except (OSError, sqlite3.Error) as exc:
            raise DatabaseUnavailable(
                f"No backup of {db.display} could be written before upgrading it ({exc}); free some space "
                "or fix the folder's permissions, then start again."
            ) from exc
    with db.engine.connect().execution_options(cxdesk_write=True) as conn:
        # another process may have migrated while we waited for the write lock
        with conn.begin():
            if current_revision(conn) == head:
                return False
        _run_alembic(conn)
        conn.commit()
    return True


def _migrate_postgres(db: Database, conn, rev: str | None, head: str, as_role: str | None) -> None:
    from cxdesk.services import pg_roles

    owner = as_role or pg_roles.schema_owner(conn)
    me = pg_roles.current_user(conn)
    switch = owner is not None and owner != me
    if (switch and not pg_roles.may_become(conn, owner)) or (owner is None and not pg_roles.may_create_tables(conn)):
        conn.rollback()
        raise DatabaseUnavailable(_upgrade_refused(db, rev, head, me, owner))
    if switch:
        conn.exec_driver_sql(f"SET ROLE {conn.dialect.identifier_preparer.quote(owner)}")
    try:
        _run_alembic(conn)
        pg_roles.regrant_after_migration(conn)
        conn.commit()
    finally:
        if switch:
            conn.rollback()
            conn.exec_driver_sql("RESET ROLE")
            conn.commit()


def _upgrade_refused(db: Database, rev: str | None, head: str, me: str, owner: str | None) -> str:
    state = f"has schema {rev}" if rev else "has no cxdesk schema yet"
    where = URL.create("postgresql+psycopg", owner or "postgres", None, db.url.host, db.url.port, db.url.database)
    url = where.render_as_string(hide_password=False)
    if owner:
        todo = f"run `cxdesk --db {url} db upgrade` as its owner {owner} (or as a superuser)"
    else:
        todo = f"a superuser must first create the owner and application roles with `cxdesk --db {url} db roles`"
    return f"{db.display} {state}, this cxdesk needs schema {head} and {me} may not change the schema: {todo}."


def _run_alembic(conn) -> None:
    from alembic import command

    cfg = alembic_config()
    cfg.attributes["connection"] = conn
    command.upgrade(cfg, "head")


def backup_sqlite(db: Database, reason: str = "backup") -> Path | None:
    """Copy the SQLite file (a consistent snapshot through SQLite's backup API)."""
    src = db.path
    if src is None or not src.exists():
        return None
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    dest = src.with_name(f"{src.stem}.{reason}.{stamp}.bak")
    source = sqlite3.connect(str(src))
    try:
        target = sqlite3.connect(str(dest))
        try:
            source.backup(target)
        finally:
            target.close()
    finally:
        source.close()
    log.info("database backed up to %s", dest)
    return dest
