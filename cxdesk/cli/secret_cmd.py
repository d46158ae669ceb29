"""cxdesk secret set NAME | delete NAME | list"""
from __future__ import annotations

from sqlalchemy.engine import make_url

from cxdesk.cli.common import database_url, read_secret
from cxdesk.db import parse_url, secret_name_for
from cxdesk.errors import ValidationError
from cxdesk.services import secrets


def register(sub) -> None:
    p = sub.add_parser("secret", help="keep passwords in the OS keyring (service name 'cxdesk')")
    ssub = p.add_subparsers(dest="secret_command", metavar="ACTION", required=True)
    s = ssub.add_parser("set", help="store a secret: 'db' (the --db server's password), 'smtp', or any name")
    s.add_argument("name")
    s.add_argument("--stdin", "--password-stdin", dest="stdin", action="store_true",
                   help="read the secret from the first line of standard input")
    s.set_defaults(func=set_cmd)
    d = ssub.add_parser("delete", help="remove a secret")
    d.add_argument("name")
    d.set_defaults(func=delete_cmd)
    ls = ssub.add_parser("list", help="list the names of stored secrets (never their values)")
    ls.set_defaults(func=list_cmd)


def resolve_name(args, name: str) -> str:
    """'db' means the password of the server the --db URL (or the settings file) names."""
    if name == "db":
        url = database_url(args)
        if not url or parse_url(url).get_backend_name() != "postgresql":
            raise ValidationError("'db' needs a PostgreSQL URL in --db or the settings file.")
        return secret_name_for(make_url(url))
    return name


def set_cmd(args) -> int:
    name = resolve_name(args, args.name)
    secrets.check()
    secrets.set_secret(name, read_secret(f"Secret for {name}: ", args.stdin))
    print(f"stored {name} in the {secrets.backend_name()} keyring")
    return 0


def delete_cmd(args) -> int:
    name = resolve_name(args, args.name)
    if not secrets.delete_secret(name):
        raise ValidationError(f"There is no secret named {name}.")
    print(f"deleted {name}")
    return 0


def list_cmd(args) -> int:
    for name in secrets.names():
        print(name)
    return 0
