"""cxdesk audit verify (more actions are registered by cxdesk.cli.audit_more when present)."""
from __future__ import annotations

import importlib
import sys

from cxdesk.cli.common import open_db
from cxdesk.services import audit_chain


def register(sub) -> None:
    p = sub.add_parser("audit", help="check or read the audit log")
    asub = p.add_subparsers(dest="audit_command", metavar="ACTION", required=True)
    v = asub.add_parser("verify", help="walk the hash chain: exit 0 with the count, or 1 naming the first bad entry")
    v.set_defaults(func=verify_cmd)
    try:
        more = importlib.import_module("cxdesk.cli.audit_more")
    except ModuleNotFoundError as exc:
        if exc.name != "cxdesk.cli.audit_more":
            raise
    else:
        more.register(asub)


def verify_cmd(args) -> int:
    with open_db(args) as db:
        result = audit_chain.verify_database(db)
    if result.ok:
        print(result.sentence())
        return 0
    print(result.sentence(), file=sys.stderr)
    return 1
