"""cxdesk import-cdr FILE | rollup | cdr-report CUSTOMER --period P --date D -o FILE"""
from __future__ import annotations

import sys

from cxdesk.cli.common import one_line, open_db
from cxdesk.cli.signin import operator_actor
from cxdesk.errors import ValidationError
from cxdesk.services.actor import cli_actor

# the services load NumPy and openpyxl: imported by the handlers, not on every start
PERIODS = ("24h", "daily", "weekly", "monthly")


def register(sub) -> None:
    p = sub.add_parser("import-cdr", help="import the platform's CDR CSV (all or nothing unless --skip-bad)")
    p.add_argument("file", help="CSV with a header line naming the CDR columns; times in UTC")
    p.add_argument("--skip-bad", action="store_true", help="import the good rows even if some are malformed")
    p.add_argument("--create-customers", action="store_true",
                   help='create a placeholder customer "Customer <id>" for an unknown customer_id')
    p.add_argument("--earliest", metavar="DATE", help="refuse calls before this UTC date (default 2000-01-01)")
    p.add_argument("--latest", metavar="DATE", help="refuse calls after this UTC date (default tomorrow)")
    p.set_defaults(func=import_cmd)

    r = sub.add_parser("rollup", help="add the CDRs imported since the last run to the hourly summary (for cron)")
    r.set_defaults(func=rollup_cmd)

    c = sub.add_parser("cdr-report", help="write the CSV of a customer's CDRs for one summary period (UTC)")
    c.add_argument("customer", help="customer id or exact name")
    c.add_argument("--period", choices=PERIODS, required=True)
    c.add_argument("--date", required=True,
                   help="24h: an hour (2026-01-05 10:00); daily: a day; weekly: 2026-W02 or any day in it; "
                        "monthly: 2026-01 or any day in it")
    c.add_argument("-o", "--output", required=True, metavar="FILE.csv")
    c.set_defaults(func=report_cmd)


def _print_bad(rows: list, count: int, prefix: str = "") -> None:
    for row in rows:
        print(f"{prefix}{one_line(str(row))}", file=sys.stderr)
    if count > len(rows):
        print(f"... and {count - len(rows):,} more bad rows", file=sys.stderr)


def _progress(done: int, total: int) -> None:
    if sys.stderr.isatty():
        print(f"\r{done / 2**20:,.1f} / {total / 2**20:,.1f} MB", end="", file=sys.stderr, flush=True)


def _check_readable(path: str) -> None:
    """The errors opening the CDR file that import_cdrs does not word itself (a name too
    long, a loop of links...): one sentence before the database is opened or created."""
    try:
        with open(path, "rb"):
            pass
    except (FileNotFoundError, IsADirectoryError, PermissionError):
        pass  # import_cdrs says these in its own words
    except OSError as exc:
        raise ValidationError(f"Cannot read {path}: {exc.strerror or exc}; check the file name.",
                              field="file") from None


def import_cmd(args) -> int:
    from cxdesk.services.cdr_import import BadRowsError, import_cdrs, parse_window

    window = parse_window(args.earliest, args.latest)  # before the database is opened or created
    _check_readable(args.file)
    with open_db(args, create=True) as db:
        try:
            result = import_cdrs(db, operator_actor(args, db), args.file, skip_bad=args.skip_bad,
                                 create_customers=args.create_customers, window=window,
                                 comment=args.comment, progress=_progress)
        except BadRowsError as exc:
            _print_bad(exc.bad_rows, exc.bad_count)
            raise ValidationError(
                f"{args.file}: {exc.bad_count:,} malformed rows, nothing was imported; correct them, "
                "or run again with --skip-bad to import the other rows."
            ) from None
    if sys.stderr.isatty():
        print(file=sys.stderr)
    _print_bad(result.bad_rows, result.bad_count, prefix="skipped ")
    print(f"{args.file}: {result.sentence()}")
    return 0


def rollup_cmd(args) -> int:
    from cxdesk.services import rollup

    with open_db(args) as db:
        print(rollup.run(db, operator_actor(args, db), args.comment).sentence())
    return 0


def report_cmd(args) -> int:
    from cxdesk.services.cdr_report import write_cdr_report
    from cxdesk.services.customers import find_customer
    from cxdesk.services.summary import parse_period, period_label

    start, end = parse_period(args.period, args.date)
    with open_db(args) as db:
        customer_id, name = find_customer(db, args.customer)
        count = write_cdr_report(db, cli_actor(), customer_id, start, end, args.output)
    print(f"wrote {count:,} CDRs of {name} for {period_label(args.period, start)} (UTC) to {args.output}")
    return 0
