"""cxdesk operator add | list | role | password | deactivate | activate | remember | forget"""
from __future__ import annotations

import sys

from cxdesk.cli.common import open_db, print_table, read_secret
from cxdesk.cli.signin import check_password, operator_actor, secret_name, typed_password
from cxdesk.errors import PermissionDenied
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
    role = osub.add_parser("role", help="change an operator's role")
    role.add_argument("login")
    role.add_argument("role", choices=ROLES)
    role.set_defaults(func=role_cmd)
    pw = osub.add_parser("password", help="set a new password for an operator (also lifts a lock)")
    pw.add_argument("login")
    pw.add_argument("--password-stdin", action="store_true",
                    help="read the password from the first line of standard input")
    pw.set_defaults(func=password_cmd)
    for name, active, text in (("deactivate", False, "stop an operator from signing in"),
                               ("activate", True, "let a deactivated operator sign in again")):
        a = osub.add_parser(name, help=text)
        a.add_argument("login")
        a.set_defaults(func=active_cmd, active=active)
    rem = osub.add_parser("remember", help="check an operator's password by signing in, then keep it in the OS "
                                           "keyring for this database (commands then sign in without asking)")
    rem.add_argument("login")
    rem.add_argument("--password-stdin", action="store_true",
                     help="read the password from the first line of standard input")
    rem.set_defaults(func=remember_cmd)
    fgt = osub.add_parser("forget", help="delete an operator's password remembered in the OS keyring")
    fgt.add_argument("login")
    fgt.set_defaults(func=forget_cmd)


def add_cmd(args) -> int:
    password = read_secret(f"Password for {args.login}: ", args.password_stdin)
    with open_db(args, create=True) as db:
        actor = operator_actor(args, db)
        if actor.system and args.role != "admin":  # no operator yet: nobody could add an admin later
            raise PermissionDenied("The first operator must be an administrator; pass --role admin.")
        info = operators.create_operator(db, actor, args.login, password, role=args.role,
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


def role_cmd(args) -> int:
    with open_db(args) as db:
        info = operators.set_role(db, operator_actor(args, db), args.login, args.role, comment=args.comment)
    print(f"{info.login} is now {info.role}")
    return 0


def password_cmd(args) -> int:
    password = read_secret(f"New password for {args.login}: ", args.password_stdin)
    with open_db(args) as db:
        info = operators.set_password(db, operator_actor(args, db), args.login, password, comment=args.comment)
    print(f"new password set for {info.login}")
    return 0


def active_cmd(args) -> int:
    with open_db(args) as db:
        info = operators.set_active(db, operator_actor(args, db), args.login, args.active, comment=args.comment)
    print(f"{info.login} is {'active' if info.active else 'deactivated'}")
    return 0


def remember_cmd(args) -> int:
    from cxdesk.services import secrets

    login = operators.normalise_login(args.login)
    with open_db(args) as db:
        secrets.check()  # no keyring: say so before the password is asked for
        if args.password_stdin and not args.operator_password_stdin:
            args.operator_password_stdin = True
            args.operator_password = sys.stdin.readline().rstrip("\r\n")
        password = typed_password(args, db, login, keyring_hint=False)
        check_password(db, login, password)
        secrets.set_secret(secret_name(db, login), password)
        print(f"the password of {login} is remembered in the keyring for {db.display}")
    return 0


def forget_cmd(args) -> int:
    from cxdesk.services import secrets

    login = operators.normalise_login(args.login)
    with open_db(args) as db:
        found = secrets.delete_secret(secret_name(db, login))
        print(f"{'forgot' if found else 'nothing was remembered for'} {login} on {db.display}")
    return 0
