"""Helpers shared by the subcommands: opening the database, reading secrets, printing."""
from __future__ import annotations

import argparse
import contextlib
import getpass
import sqlite3
import sys
from pathlib import Path

from cxdesk import config
from cxdesk.db import Database, default_url, open_database, parse_url
from cxdesk.errors import UserError, ValidationError

#: files SQLite keeps beside a database file
SQLITE_SIDE_FILES = ("-wal", "-shm", "-journal")


def database_url(args: argparse.Namespace) -> str | None:
    return config.database_url(args.db)


def open_db(args: argparse.Namespace, *, create: bool = False) -> Database:
    """The database of --db (or the settings file). Only commands that set a database up
    (db upgrade, demo, operator add, import-cdr) pass create=True: anything else run
    against a mistyped path says so instead of creating an empty database there."""
    from cxdesk.services.secrets import lookup_quietly

    if create:
        _note_new_file(args)
    db = open_database(database_url(args), create=create, password_lookup=lookup_quietly)
    if getattr(args, "command", None) != "audit":  # `audit verify` reports it in full
        witness_warning(db)
    return db


def _sqlite_path(args: argparse.Namespace) -> Path | None:
    try:
        u = parse_url(database_url(args) or default_url())
    except UserError:
        return None  # open_database says what is wrong with it
    if u.get_backend_name() != "sqlite" or u.database in (None, "", ":memory:"):
        return None
    return Path(u.database)


def _note_new_file(args: argparse.Namespace) -> None:
    """Before a command that may create the database opens it: note the file and the
    folders it will make, so that a failure can take them back (discard_new_database)."""
    path = _sqlite_path(args)
    if path is not None and not path.exists():
        args.new_database_files = [path, *(p for p in path.parents if not p.exists())]


def discard_new_database(args: argparse.Namespace) -> None:
    """A command that failed leaves no database it created: the file (and the folders made
    for it) go again, but only while no change was committed there (no audit entry: every
    change has one), so nothing saved is ever removed."""
    made = getattr(args, "new_database_files", None)
    if not made or not made[0].is_file() or _has_audit_entries(made[0]):
        return
    for path in [made[0].with_name(made[0].name + side) for side in SQLITE_SIDE_FILES] + made:
        with contextlib.suppress(OSError):  # a folder someone put something in meanwhile stays
            if path.is_dir():
                path.rmdir()
            else:
                path.unlink(missing_ok=True)


def _has_audit_entries(path: Path) -> bool:
    try:
        with contextlib.closing(sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)) as conn:
            return conn.execute("SELECT EXISTS (SELECT 1 FROM audit_entries)").fetchone()[0] == 1
    except sqlite3.Error:
        return True  # unreadable: keep it, a person decides


def witness_warning(db: Database) -> None:
    """On start: does the audit log still extend what this computer saw? One line if not."""
    from cxdesk.services import audit_witness

    try:
        result = audit_witness.check_database(db)
    except Exception as exc:  # noqa: BLE001 - a warning must not stop the command
        print(f"cxdesk: warning: the audit log could not be checked ({type(exc).__name__}).", file=sys.stderr)
        return
    if not result.ok:
        print(f"cxdesk: warning: {result.sentence} Run `cxdesk audit verify` and tell a supervisor.",
              file=sys.stderr)


def read_secret(prompt: str, from_stdin: bool) -> str:
    """A secret from stdin (one line) or typed at a hidden prompt; never from argv."""
    if from_stdin or not sys.stdin.isatty():
        value = sys.stdin.readline().rstrip("\r\n")
    else:
        value = getpass.getpass(prompt)
        again = getpass.getpass("Again: ")
        if value != again:
            raise ValidationError("The two entries differ; nothing was changed.")
    if not value:
        raise ValidationError("No value given; nothing was changed.")
    return value


def one_line(text: str) -> str:
    """A message as one line of visible text: line breaks, control, bidi and zero-width
    characters that a value in it carries are written as escapes (\\n, \\u001b)."""
    if text.isprintable():
        return text
    from cxdesk.services.jsondiff import visible

    return visible(text)


def print_table(headers: list[str], rows: list[list]) -> None:
    cells = [[str(c) for c in r] for r in rows]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(headers)]
    print("  ".join(h.ljust(w) for h, w in zip(headers, widths)).rstrip())
    for r in cells:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())
