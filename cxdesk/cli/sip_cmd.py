"""cxdesk sip add CUSTOMER USERNAME... [--password-stdin | --generate] [--caller-id X] | list [CUSTOMER]"""
from __future__ import annotations

from cxdesk.cli.common import open_db, print_table, read_secret
from cxdesk.cli.signin import operator_actor
from cxdesk.services import customers, numbers


def register(sub) -> None:
    p = sub.add_parser("sip", help="SIP users (extensions) of a customer")
    ssub = p.add_subparsers(dest="sip_command", metavar="ACTION", required=True)
    a = ssub.add_parser("add", help="add SIP users (all or none); the password is kept only as HA1")
    a.add_argument("customer", metavar="CUSTOMER", help="customer id or exact name")
    a.add_argument("usernames", nargs="+", metavar="USERNAME", help="extension number(s), e.g. 2100")
    how = a.add_mutually_exclusive_group()
    how.add_argument("--password-stdin", action="store_true",
                     help="read the passwords from standard input, one line per username "
                          "(default: ask for each one at a hidden prompt)")
    how.add_argument("--generate", action="store_true",
                     help="generate the passwords and print them once")
    a.add_argument("--caller-id", default="", help="caller ID for the new users, e.g. +441234567890")
    a.add_argument("--disabled", action="store_true", help="create the users disabled")
    a.set_defaults(func=add_cmd)
    ls = ssub.add_parser("list", help="list SIP users (of one customer, or all)")
    ls.add_argument("customer", metavar="CUSTOMER", nargs="?", help="customer id or exact name")
    ls.set_defaults(func=list_cmd)


def add_cmd(args) -> int:
    for username in args.usernames:  # before asking for any password
        numbers.parse_extension(username)
    with open_db(args) as db:
        customer_id, _ = customers.find_customer(db, args.customer)
        new = [
            numbers.NewSipUser(
                username,
                None if args.generate else read_secret(f"SIP password for {username}: ", args.password_stdin),
                args.caller_id, not args.disabled,
            )
            for username in args.usernames
        ]
        added = numbers.add_sip_users(db, operator_actor(args, db), customer_id, new, args.comment)
    for a in added:
        short = f" (short {a.user.short})" if a.user.short else ""
        print(f"added SIP user {a.user.username}{short} to {a.user.customer_name}")
        if a.generated_password:
            print(f"  password (shown once): {a.generated_password}")
    return 0


def list_cmd(args) -> int:
    with open_db(args) as db:
        customer_id = customers.find_customer(db, args.customer)[0] if args.customer else None
        users = numbers.list_sip_users(db, customer_id)
    print_table(["username", "short", "caller ID", "enabled", "customer id", "customer"],
                [[u.username, u.short, u.caller_id, "yes" if u.enabled else "no", u.customer_id,
                  u.customer_name] for u in users])
    return 0
