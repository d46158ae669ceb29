"""cxdesk operator add LOGIN --role ROLE [--name NAME] [--password-stdin] | list"""
from __future__ import annotations

from cxdesk.cli.common import open_db, print_table, read_secret
from cxdesk.models import ROLES
from cxdesk.services import operators
from cxdesk.services.actor import cli_actor


def register(sub) -> None:
    p = sub.add_parser("operator", help="back-office users who sign in to the program")
    osub = p.add_subparsers(dest="operator_command", metavar="ACTION", required=True)
    add = osub.add_parser("add", help="create an operator (asks for the password twice)")
    add.add_argument("login")
    add.add_argument("--role", required=True, choices=ROLES)
    add.add_argument("--name", default="", help="display name")
    add.add_argument("--password-stdin", action="store_true",
                     help="read the password from the first line of standard input")
    add.set_defaults(func=add_cmd)
    ls = osub.add_parser("list", help="list the operators (never their passwords)")
    ls.set_defaults(func=list_cmd)


def add_cmd(args) -> int:
    password = read_secret(f"Password for {args.login}: ", args.password_stdin)
    with open_db(args) as db:
        info = operators.create_operator(db, cli_actor(), args.login, password, role=args.role,
                                         display_name=args.name, comment=args.comment)
    print(f"created operator {info.login} ({info.role})")
    return 0


def _when(value) -> str:
    return f"{value:%Y-%m-%d %H:%M} UTC" if value else ""


def list_cmd(args) -> int:
    with open_db(args) as db:
        rows = operators.list_operators(db, cli_actor())
    print_table(["login", "name", "role", "active", "last sign-in", "locked until"],
                [[o.login, o.display_name, o.role, "yes" if o.active else "no",
                  _when(o.last_login_at), _when(o.locked_until)] for o in rows])
    return 0
