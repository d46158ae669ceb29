"""Helpers shared by the subcommands: opening the database, reading secrets, printing."""
from __future__ import annotations

import argparse
import getpass
import sys

from cxdesk import config
from cxdesk.db import Database, open_database
from cxdesk.errors import ValidationError


def database_url(args: argparse.Namespace) -> str | None:
    return config.database_url(args.db)


def open_db(args: argparse.Namespace, *, create: bool = False) -> Database:
    """The database of --db (or the settings file). Only commands that set a database up
    (db upgrade, demo, operator add, import-cdr) pass create=True: anything else run
    against a mistyped path says so instead of creating an empty database there."""
    from cxdesk.services.secrets import lookup_quietly

    db = open_database(database_url(args), create=create, password_lookup=lookup_quietly)
    if getattr(args, "command", None) != "audit":  # `audit verify` reports it in full
        witness_warning(db)
    return db


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


def print_table(headers: list[str], rows: list[list]) -> None:
    cells = [[str(c) for c in r] for r in rows]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(headers)]
    print("  ".join(h.ljust(w) for h, w in zip(headers, widths)).rstrip())
    for r in cells:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())
