"""cxdesk options show | set NAME VALUE"""
from __future__ import annotations

from cxdesk.cli.common import open_db, print_table
from cxdesk.cli.signin import operator_actor
from cxdesk.services import options


def register(sub) -> None:
    p = sub.add_parser("options", help="show or set the Settings > Options values")
    osub = p.add_subparsers(dest="options_command", metavar="ACTION", required=True)
    show = osub.add_parser("show", help="print every option and its value")
    show.set_defaults(func=show_cmd)
    s = osub.add_parser("set", help="set one option (validated and audited)")
    s.add_argument("name", help=", ".join(options.DEFINITIONS))
    s.add_argument("value")
    s.set_defaults(func=set_cmd)


def show_cmd(args) -> int:
    with open_db(args) as db, db.read_session() as session:
        values = options.all_values(session)
    print_table(["option", "value", "meaning"],
                [[k, values[k], d.label] for k, d in options.DEFINITIONS.items()])
    return 0


def set_cmd(args) -> int:
    with open_db(args) as db:
        value = options.set_value(db, operator_actor(args, db), args.name, args.value, args.comment)
    print(f"{args.name} = {value}")
    return 0
