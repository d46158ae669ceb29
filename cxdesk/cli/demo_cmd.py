"""cxdesk demo [--customers N] [--days D] [--seed S] [--end DATE]"""
from __future__ import annotations

import datetime as dt
import sys
import time

from cxdesk.cli.common import open_db
from cxdesk.cli.signin import operator_actor
from cxdesk.errors import ValidationError
from cxdesk.services.demo import load_demo


def register(sub) -> None:
    p = sub.add_parser("demo", help="fill the database with realistic, deterministic demo data")
    p.add_argument("--customers", type=int, default=20, help="number of customers (default 20)")
    p.add_argument("--days", type=int, default=14, help="days of CDRs ending now (default 14)")
    p.add_argument("--seed", type=int, default=1, help="random seed: the same seed gives the same data")
    p.add_argument("--calls-per-day", type=int, default=70, help="average calls per customer and day")
    p.add_argument("--end", help="UTC date or hour the CDRs end at (default: the current hour)")
    p.add_argument("--quiet", action="store_true", help="print only the summary line")
    p.set_defaults(func=run)


#: the dates --end may name: up to --days (3,650) days of calls end there, in any time zone
END_RANGE = (dt.datetime(2000, 1, 1), dt.datetime(9000, 1, 1))


def parse_end(text: str | None) -> dt.datetime | None:
    if not text:
        return None
    try:
        value = dt.datetime.fromisoformat(text)
    except ValueError:
        raise ValidationError(f"--end '{text}' is not a date like 2026-01-31 or 2026-01-31T12:00.") from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.timezone.utc)
    if not END_RANGE[0] <= value.replace(tzinfo=None) <= END_RANGE[1]:  # the calls run back from it by --days
        raise ValidationError(f"--end '{text}' is not between {END_RANGE[0]:%Y-%m-%d} and {END_RANGE[1]:%Y-%m-%d}; "
                              "give a date like 2026-01-31.")
    return value.astimezone(dt.timezone.utc).replace(minute=0, second=0, microsecond=0)


def run(args) -> int:
    if args.calls_per_day < 1 or args.calls_per_day > 100_000:
        raise ValidationError("--calls-per-day must be between 1 and 100,000.")
    end = parse_end(args.end)
    started = time.perf_counter()

    def progress(_what: str, done: int, total: int) -> None:
        if not args.quiet and sys.stderr.isatty():
            print(f"\r{done:,} / {total:,} CDRs", end="", file=sys.stderr, flush=True)

    with open_db(args, create=True) as db:
        result = load_demo(db, operator_actor(args, db), customers=args.customers, days=args.days, seed=args.seed,
                           end=end, calls_per_day=args.calls_per_day, progress=progress)
    took = time.perf_counter() - started
    if not args.quiet and sys.stderr.isatty():
        print(file=sys.stderr)
    print(f"demo data: {result.customers} customers, {result.contacts} contacts, "
          f"{result.cdrs:,} CDRs in {took:.1f} s")
    return 0
