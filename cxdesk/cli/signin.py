"""Who changes data from the command line: a signed-in operator.

Once a database has operators, a command that changes data signs in as ``--operator LOGIN``
(or $CXDESK_OPERATOR) through ``operators.sign_in`` -- the desktop program's lockout,
uniform answers and LOGIN audit entries -- and runs as that operator: the services' role
checks and the Audit Comment option apply. The password comes, in this order, from the
first line of standard input (``--password-stdin``), the OS keyring (``cxdesk operator
remember``; the desktop program's "Remember me" entry for the same database), or a hidden
prompt when standard input is a terminal. The audit ip column shows the OS user beside the
address ("10.0.0.5 (cli:bob)"); the actor column is the operator's login.

A database with no operator yet is being set up (``db upgrade``, ``demo``, ``import-cdr``,
the first ``operator add``): its changes run as the ``cli:<OS user>`` system actor, as the
desktop program's first-run dialog lets anyone create the first administrator there.
Read-only commands never sign in.
"""
from __future__ import annotations

import argparse
import getpass
import sys

from cxdesk.db import Database
from cxdesk.errors import UserError
from cxdesk.services.actor import Actor, cli_actor, cli_ip

ENV_OPERATOR = "CXDESK_OPERATOR"


def secret_name(db: Database, login: str) -> str:
    """The keyring entry of a remembered password: the desktop program's name for it."""
    return f"operator:{login}@{db.display}"


def read_stdin_password(args: argparse.Namespace) -> None:
    """With --password-stdin, take the first line of standard input now, before the
    command reads its own secret (which then comes from the next line)."""
    if getattr(args, "operator_password_stdin", False):
        args.operator_password = sys.stdin.readline().rstrip("\r\n")


def typed_password(args: argparse.Namespace, db: Database, login: str, *, keyring_hint: bool = True) -> str:
    """The password given on the first line of standard input (--password-stdin) or typed
    at a hidden prompt (standard input a terminal); else the one sentence saying how."""
    if getattr(args, "operator_password_stdin", False):
        if not getattr(args, "operator_password", ""):
            raise UserError("--password-stdin was given but the first line of standard input is empty; "
                            f"put the password of {login} there; nothing was changed.")
        return args.operator_password
    if sys.stdin.isatty():
        typed = getpass.getpass(f"Password for {login} on {db.display}: ")
        if typed:
            return typed
    hint = f", remember it with `cxdesk operator remember {login}`" if keyring_hint else ""
    raise UserError(f"Signing in as {login} needs its password: give it on the first line of standard "
                    f"input with --password-stdin{hint}, or run the command in a terminal to be asked; "
                    "nothing was changed.")


def check_password(db: Database, login: str, password: str, *, from_keyring: bool = False) -> Actor:
    """Sign ``login`` in through ``operators.sign_in`` (audited, counted towards the
    lockout, the OS user beside the address) or raise its one sentence."""
    from cxdesk.services import operators

    try:
        return operators.sign_in(db, login, password, ip=cli_ip())
    except operators.SignInFailed:
        if not from_keyring:
            raise
        raise UserError(f"{operators.SIGN_IN_REFUSED[:-1]}; the password came from the keyring "
                        f"(`cxdesk operator remember {login}` replaces it); nothing was changed.") from None


def sign_in(args: argparse.Namespace, db: Database, login: str) -> Actor:
    """Sign in with the password from --password-stdin, else the keyring, else a prompt."""
    if not getattr(args, "operator_password_stdin", False):
        from cxdesk.services.secrets import lookup_quietly

        remembered = lookup_quietly(secret_name(db, login))
        if remembered:
            return check_password(db, login, remembered, from_keyring=True)
    return check_password(db, login, typed_password(args, db, login))


def operator_actor(args: argparse.Namespace, db: Database) -> Actor:
    """The actor of a command that changes data (signed in once per command)."""
    actor = getattr(args, "signed_in_actor", None)
    if actor is not None:
        return actor
    from cxdesk.services import operators

    if not operators.has_operators(db):
        actor = cli_actor()
    else:
        login = operators.normalise_login(getattr(args, "operator", None) or "")
        if not login:
            raise UserError("This database has operators, so changes need one signed in: pass --operator LOGIN "
                            f"(or set {ENV_OPERATOR}); nothing was changed.")
        actor = sign_in(args, db, login)
    args.signed_in_actor = actor
    return actor


def add_global_options(parser: argparse.ArgumentParser) -> None:
    import os

    parser.add_argument(
        "--operator", metavar="LOGIN", default=os.environ.get(ENV_OPERATOR) or None,
        help="sign in as this operator for commands that change data (default: $CXDESK_OPERATOR); "
             "needed once the database has operators")
    parser.add_argument(
        "--password-stdin", dest="operator_password_stdin", action="store_true",
        help="the operator's password is the first line of standard input (a command that reads "
             "its own secret from standard input then reads the next line); else the keyring "
             "(`cxdesk operator remember`), else a hidden prompt")
