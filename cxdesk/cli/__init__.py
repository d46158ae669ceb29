"""Command line: ``cxdesk`` alone starts the GUI; subcommands script the back office.

Each subcommand group lives in its own module here with ``register(subparsers)``; the
handler gets the parsed args and returns the exit code. Errors a user can cause print
one line on stderr and exit 1. Commands that change data run as a signed-in operator
(``--operator``/``--password-stdin``: cxdesk.cli.signin).
"""
from __future__ import annotations

import argparse
import importlib
import logging
import os
import re
import sys

from cxdesk import __version__
from cxdesk.cli import signin
from cxdesk.cli.common import discard_new_database, one_line
from cxdesk.errors import UserError, ValidationError

#: the one sentence when the Audit Comment option wants a reason (the uow's is the desktop's)
COMMENT_NEEDED = ("A reason is required for every change (Audit Comment is on); run the command again "
                  "with --comment TEXT; nothing was changed.")

#: subcommand modules, in the order --help lists them
COMMANDS = ["db", "demo", "options", "operator", "secret", "customer", "numbers", "sip", "cdr",
            "summary", "invoice", "audit", "email"]
#: subcommands whose module is not named after them
ALIASES = {"import-cdr": "cdr", "rollup": "cdr", "cdr-report": "cdr"}
#: global options that take a value
_VALUED = ("--db", "--comment", "--operator")
#: arguments that name a file: any bytes the file system allows, UTF-8 or not
PATH_ARGUMENTS = frozenset({"db", "file", "output", "checkpoint", "cafile"})


def _command_module(argv: list[str]) -> str | None:
    """The module of the subcommand on the command line, so only it is imported (each
    module imports its services; importing all of them costs a second at every call)."""
    skip = False
    for token in argv:
        if skip:
            skip = False
            continue
        if token in _VALUED:
            skip = True
            continue
        if token.startswith("-"):
            continue
        name = ALIASES.get(token, token)
        return name if name in COMMANDS else None
    return None


def build_parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cxdesk",
        description="cxdesk: back office for a VoIP carrier. Without a command, starts the desktop program.",
    )
    parser.add_argument("--version", action="version", version=f"cxdesk {__version__}")
    parser.add_argument(
        "--db", metavar="URL",
        help="database: a SQLite file path or postgresql+psycopg://user@host:port/db "
             "(default: the settings file, then the embedded file in the user data dir)",
    )
    parser.add_argument("--comment", default="", help="audit comment recorded with the change")
    signin.add_global_options(parser)
    parser.add_argument("--self-test", action="store_true", help=argparse.SUPPRESS)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    wanted = _command_module(sys.argv[1:] if argv is None else argv)
    for name in [wanted] if wanted else COMMANDS:
        try:
            module = importlib.import_module(f"cxdesk.cli.{name}_cmd")
        except ModuleNotFoundError as exc:
            if exc.name == f"cxdesk.cli.{name}_cmd":
                continue
            raise
        module.register(sub)
    return parser


def main(argv: list[str] | None = None, gui=None) -> int:
    """Run the subcommand on the command line. Without one, ``gui(args)`` starts the desktop
    program (``cxdesk.main`` passes it, so this package never imports the UI)."""
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    stderr = logging.StreamHandler(sys.stderr)
    # the terminal shows warnings (or CXDESK_LOG_LEVEL); the log file may record more
    stderr.setLevel(os.environ.get("CXDESK_LOG_LEVEL", "WARNING"))
    logging.basicConfig(level=stderr.level, handlers=[stderr])
    if args.command is None:
        if gui is None:
            parser.print_help()
            return 0
        return gui(args)
    try:
        check_text(parser, args)
        signin.read_stdin_password(args)
        return int(args.func(args) or 0)
    except ValidationError as exc:
        wants_reason = exc.field == "comment" and "Audit Comment" in str(exc)  # the uow's refusal
        print(f"cxdesk: {COMMENT_NEEDED if wants_reason else one_line(str(exc))}", file=sys.stderr)
        discard_new_database(args)
        return 1
    except UserError as exc:
        print(f"cxdesk: {one_line(str(exc))}", file=sys.stderr)
        discard_new_database(args)
        return 1
    except KeyboardInterrupt:
        print("cxdesk: interrupted", file=sys.stderr)
        discard_new_database(args)
        return 130
    except BrokenPipeError:
        return 0


def check_text(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Every argument but a file name must be text: bytes that are not UTF-8 (which POSIX
    argv can hold; Python keeps them as lone surrogates) get one sentence, not a crash in
    the database driver or the terminal."""
    for name, value in vars(args).items():
        if name in PATH_ARGUMENTS:
            continue
        for text in value if isinstance(value, list) else [value]:
            if isinstance(text, str) and not text.isascii() and _UNDECODED.search(text):
                raise ValidationError(f"{_argument_name(parser, args, name)} is not UTF-8 text; type it again "
                                      "in UTF-8; nothing was changed.", field=name)


def _argument_name(parser: argparse.ArgumentParser, args: argparse.Namespace, dest: str) -> str:
    """How the command line names the argument ``dest`` of the command in ``args``: its
    option (--city) or its metavar (CUSTOMER)."""
    while parser is not None:
        subs = None
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                subs = action
            elif action.dest == dest:
                return max(action.option_strings, key=len) if action.option_strings else action.metavar or dest
        parser = subs.choices.get(getattr(args, subs.dest, None)) if subs else None
    return dest


_UNDECODED = re.compile("[\ud800-\udfff]")
