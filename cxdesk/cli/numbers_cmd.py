"""cxdesk numbers assign CUSTOMER | list [CUSTOMER] | release CUSTOMER START | resolve CUSTOMER SHORT"""
from __future__ import annotations

from cxdesk.cli.common import open_db, print_table
from cxdesk.cli.signin import operator_actor
from cxdesk.services import customers, numbers


def register(sub) -> None:
    p = sub.add_parser("numbers", help="internal number blocks: assign, list, release, resolve short extensions")
    nsub = p.add_subparsers(dest="numbers_command", metavar="ACTION", required=True)
    a = nsub.add_parser("assign", help="give the customer the next free number block")
    a.add_argument("customer", metavar="CUSTOMER", help="customer id or exact name")
    a.set_defaults(func=assign_cmd)
    ls = nsub.add_parser("list", help="list assigned blocks (of one customer, or all)")
    ls.add_argument("customer", metavar="CUSTOMER", nargs="?", help="customer id or exact name")
    ls.set_defaults(func=list_cmd)
    r = nsub.add_parser("release", help="take back a block that has no extensions in use")
    r.add_argument("customer", metavar="CUSTOMER", help="customer id or exact name")
    r.add_argument("start", metavar="START", help="the block's first number, as `numbers list` shows it")
    r.set_defaults(func=release_cmd)
    res = nsub.add_parser("resolve", help="print the full number a short extension dials for the customer")
    res.add_argument("customer", metavar="CUSTOMER", help="customer id or exact name")
    res.add_argument("short", metavar="SHORT", help="short extension, e.g. 100 (block 2000-2999 -> 2100)")
    res.set_defaults(func=resolve_cmd)


def assign_cmd(args) -> int:
    with open_db(args) as db:
        customer_id, _ = customers.find_customer(db, args.customer)
        block = numbers.assign_block(db, operator_actor(args, db), customer_id, args.comment)
    print(f"assigned {block.label} to {block.customer_name} (customer {block.customer_id})")
    return 0


def list_cmd(args) -> int:
    with open_db(args) as db:
        customer_id = customers.find_customer(db, args.customer)[0] if args.customer else None
        blocks = numbers.list_blocks(db, customer_id)
    print_table(["block", "size", "in use", "customer id", "customer", "assigned (UTC)"],
                [[b.label, b.size, b.in_use, b.customer_id, b.customer_name,
                  b.assigned_at.strftime("%Y-%m-%d %H:%M")] for b in blocks])
    return 0


def release_cmd(args) -> int:
    with open_db(args) as db:
        customer_id, _ = customers.find_customer(db, args.customer)
        block = numbers.release_block(db, operator_actor(args, db), customer_id, args.start, args.comment)
    print(f"released {block.label} from {block.customer_name} (customer {block.customer_id})")
    return 0


def resolve_cmd(args) -> int:
    with open_db(args) as db:
        customer_id, _ = customers.find_customer(db, args.customer)
        print(numbers.resolve_short(db, customer_id, args.short))
    return 0
