"""The CDR commands as a user runs them: import-cdr, rollup, summary -o, cdr-report."""
from __future__ import annotations

import csv
import datetime as dt
import random
from collections import defaultdict
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import openpyxl
import pytest
from sqlalchemy import func, select

from cxdesk.db import open_database
from cxdesk.models import Cdr
from cxdesk.services.export_safety import safe_text

UTC = dt.timezone.utc
HEADER = ["dt", "callid", "customer_id", "source_cli", "dest_number", "duration", "customer_duration",
          "customer_charge", "customer_card_rate", "customer_card_dest_code", "customer_card_dest_name",
          "customer_card_currency", "provider_id", "provider_charge", "pdd_out", "ring_duration",
          "sip_code", "sip_reason", "release_reason"]
NUMBERS = {"customer_id", "duration", "customer_duration", "customer_charge", "customer_card_rate", "provider_id",
           "provider_charge", "pdd_out", "ring_duration", "sip_code"}
SUMMARY_HEADER = ["Date", "Attempts", "Connected", "ASR (%)", "ACD (min)", "Duration (min)", "Billed Duration (min)",
                  "Customer Charge (EUR)", "Vendor Cost (EUR)", "Profit (EUR)", "Profit %"]


def platform_rows(customer_id: int, n: int = 60) -> list[dict]:
    rng = random.Random(21)
    rows = []
    for i in range(n):
        at = dt.datetime(2026, 1, 3, tzinfo=UTC) + dt.timedelta(seconds=rng.randrange(12 * 86400))
        connected = rng.random() < 0.6
        duration = rng.randrange(1, 900) if connected else 0
        billed = -(-duration // 6) * 6
        rows.append({
            "dt": at.strftime("%Y-%m-%d %H:%M:%S"), "callid": f"cli-{i}", "customer_id": str(customer_id),
            "source_cli": "+442071234567", "dest_number": f"49151{i:08d}", "duration": str(duration),
            "customer_duration": str(billed),
            "customer_charge": f"{Decimal('0.042') * billed / 60:.6f}",
            "customer_card_rate": "0.042000", "customer_card_dest_code": "4915",
            "customer_card_dest_name": "Germany - Mobile", "customer_card_currency": "EUR", "provider_id": "3",
            "provider_charge": f"{Decimal('0.0331') * billed / 60:.6f}", "pdd_out": "1500", "ring_duration": "3",
            "sip_code": "200" if connected else "486", "sip_reason": "OK" if connected else "Busy Here",
            "release_reason": "normal clearing" if connected else "callee busy",
        })
    return rows


def write(path: Path, rows: list[dict]) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, HEADER)
        w.writeheader()
        w.writerows(rows)
    return path


def daily(rows: list[dict]) -> dict[str, list]:
    """[attempts, connected, duration s, billed s, charge, cost] per day, computed here."""
    out: dict = defaultdict(lambda: [0, 0, 0, 0, Decimal(0), Decimal(0)])
    for r in rows:
        e = out[r["dt"][:10]]
        e[0] += 1
        e[1] += int(r["duration"]) > 0
        e[2] += int(r["duration"])
        e[3] += int(r["customer_duration"])
        e[4] += Decimal(r["customer_charge"])
        e[5] += Decimal(r["provider_charge"])
    return dict(sorted(out.items()))


def cents(amount: Decimal) -> Decimal:
    """The figures policy's display rounding of EUR: its minor unit, half away from zero."""
    return amount.quantize(Decimal("0.01"), ROUND_HALF_UP)


def cdr_count(url: str) -> int:
    with open_database(url) as db, db.read_session() as s:
        return s.scalar(select(func.count()).select_from(Cdr))


def test_import_rollup_summary_and_report(db_url, make_customer, run_cli, tmp_path):
    with open_database(db_url) as db:
        cid = make_customer(db, "Acme Telecom", currency="EUR")
    rows = platform_rows(cid)
    cdrs = write(tmp_path / "january.csv", rows)

    done = run_cli("import-cdr", str(cdrs), db_url=db_url)
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout.strip() == f"{cdrs}: imported 60 CDRs"
    again = run_cli("import-cdr", str(cdrs), db_url=db_url)
    assert again.returncode == 0 and again.stdout.strip() == f"{cdrs}: imported 0 CDRs, 60 already imported"
    rolled = run_cli("rollup", db_url=db_url)
    assert rolled.returncode == 0 and rolled.stdout.startswith("rolled up 60 CDRs into ")
    assert run_cli("rollup", db_url=db_url).stdout.startswith("nothing to roll up")

    want = daily(rows)
    xlsx, summary_csv = tmp_path / "daily.xlsx", tmp_path / "daily.csv"
    out = run_cli("summary", "Acme Telecom", "--period", "daily", "-o", str(xlsx), db_url=db_url)
    assert out.returncode == 0, out.stderr
    assert run_cli("summary", str(cid), "--period", "daily", "-o", str(summary_csv), db_url=db_url).returncode == 0

    sheet = openpyxl.load_workbook(xlsx).active
    values = list(sheet.iter_rows(values_only=True))
    assert values[0][0] == "Acme Telecom: daily summary (UTC)"
    assert [v for v in values[1] if v] == ["Period", "Traffic", "Duration", "Money"]
    assert list(values[2]) == SUMMARY_HEADER
    body, totals = values[3:-1], values[-1]
    assert [r[0].date().isoformat() for r in body] == list(want)
    for r in body:
        e = want[r[0].date().isoformat()]
        assert r[1:3] == (e[0], e[1])
        assert r[5] == pytest.approx(e[2] / 60, abs=0.005) and r[6] == pytest.approx(e[3] / 60, abs=0.005)
        assert Decimal(str(r[7])) == e[4]  # exact underneath, shown by the cell's format
        assert Decimal(str(r[8])) == e[5]
    # a stored total every reader sees, of the exact values
    assert totals[0] == "Total" and totals[1] == sum(e[0] for e in want.values())
    assert Decimal(str(totals[7])) == sum(e[4] for e in want.values())
    assert sheet.cell(4, 8).number_format == '#,##0.00 "EUR"'

    with open(summary_csv, encoding="utf-8-sig", newline="") as fh:
        table = list(csv.reader(fh))
    assert table[0] == SUMMARY_HEADER
    assert [r[0] for r in table[1:]] == list(want)
    for r in table[1:]:
        e = want[r[0]]
        assert (int(r[1]), int(r[2]), Decimal(r[7]), Decimal(r[8])) == (
            e[0], e[1], cents(e[4]), cents(e[5]))
        assert Decimal(r[9]) == cents(e[4] - e[5])  # rounded once, not a difference of rounded figures

    report = tmp_path / "week.csv"
    out = run_cli("cdr-report", "Acme Telecom", "--period", "weekly", "--date", "2026-W02", "-o", str(report),
                  db_url=db_url)
    week = sorted((r for r in rows if "2026-01-05" <= r["dt"][:10] <= "2026-01-11"), key=lambda r: r["dt"])
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == f"wrote {len(week)} CDRs of Acme Telecom for Week 2 2026 (UTC) to {report}"
    with open(report, encoding="utf-8-sig", newline="") as fh:
        got = list(csv.DictReader(fh))
    assert list(got[0]) == HEADER
    assert [r["callid"] for r in got] == [r["callid"] for r in week]
    for mine, theirs in zip(got, week):
        # the platform's own text, amounts with six decimals; text a spreadsheet would take for a
        # formula ("+44...") behind a quote (services/export_safety), which import-cdr takes back
        assert mine == {k: v if k in NUMBERS else safe_text(v) for k, v in theirs.items()}

    # the report is itself an importable CDR file
    other = f"sqlite:///{tmp_path / 'other.db'}"
    back = run_cli("import-cdr", "--create-customers", str(report), db_url=other)
    assert back.returncode == 0 and f"imported {len(week)} CDRs" in back.stdout


def test_malformed_rows_are_listed_and_nothing_is_imported(sqlite_url, make_customer, run_cli, tmp_path):
    with open_database(sqlite_url) as db:
        cid = make_customer(db)
    rows = platform_rows(cid, 4)
    rows[1]["duration"] = "-1"
    rows[3]["dt"] = "05/01/2026 10:00"
    path = write(tmp_path / "bad.csv", rows)

    out = run_cli("import-cdr", str(path), db_url=sqlite_url)
    assert out.returncode == 1 and out.stdout == ""
    assert out.stderr.splitlines() == [
        "line 3: duration '-1' is not a whole number of 0 or more",
        "line 5: dt '05/01/2026 10:00' is not a UTC date and time like 2026-01-05 10:00:00",
        f"cxdesk: {path}: 2 malformed rows, nothing was imported; correct them, or run again with "
        "--skip-bad to import the other rows.",
    ]
    assert cdr_count(sqlite_url) == 0

    out = run_cli("import-cdr", "--skip-bad", str(path), db_url=sqlite_url)
    assert out.returncode == 0
    assert out.stderr.splitlines()[0] == "skipped line 3: duration '-1' is not a whole number of 0 or more"
    assert out.stdout.strip() == f"{path}: imported 2 CDRs, 2 bad rows skipped"
    assert cdr_count(sqlite_url) == 2


def test_unknown_customers_on_request(sqlite_url, make_customer, run_cli, tmp_path):
    with open_database(sqlite_url):
        pass
    path = write(tmp_path / "new.csv", platform_rows(314, 3))
    out = run_cli("import-cdr", str(path), db_url=sqlite_url)
    assert out.returncode == 1 and "line 2: customer_id 314 is not a customer in cxdesk" in out.stderr
    out = run_cli("import-cdr", "--create-customers", str(path), db_url=sqlite_url)
    assert out.returncode == 0 and "1 placeholder customers created" in out.stdout
    shown = run_cli("summary", "Customer 314", "--period", "monthly", db_url=sqlite_url)
    assert shown.returncode == 0 and shown.stdout.splitlines()[0].split()[:3] == ["Date", "Attempts", "Connected"]


@pytest.mark.parametrize("args, message", [
    (["summary", "Nobody", "--period", "daily"], "There is no customer with the id or exact name 'Nobody'"),
    (["summary", "1", "--period", "daily", "--from", "2026-02-30"], "'2026-02-30' is not a date like 2026-01-05."),
    (["summary", "1", "-o", "out.pdf"], "must end in .xlsx or .csv"),
    (["cdr-report", "1", "--period", "weekly", "--date", "2026-W77", "-o", "r.csv"], "'2026-W77' is not a week"),
    (["import-cdr", "missing.csv"], "There is no file missing.csv"),
])
def test_user_errors_exit_1_with_one_sentence(sqlite_url, make_customer, run_cli, args, message):
    with open_database(sqlite_url) as db:
        make_customer(db)
    out = run_cli(*args, db_url=sqlite_url)
    assert out.returncode == 1
    assert out.stderr.startswith("cxdesk: ") and message in out.stderr and len(out.stderr.splitlines()) == 1


def test_window_options_move_the_accepted_time_range(sqlite_url, make_customer, run_cli, tmp_path):
    with open_database(sqlite_url) as db:
        cid = make_customer(db)
    rows = platform_rows(cid, 3)  # calls between 2026-01-03 and 2026-01-15
    rows[1]["dt"] = "2031-06-01 10:00:00"
    path = write(tmp_path / "later.csv", rows)

    out = run_cli("import-cdr", str(path), db_url=sqlite_url)
    assert out.returncode == 1
    assert out.stderr.splitlines()[0].startswith(
        "line 3: dt '2031-06-01 10:00:00' is outside the accepted window 2000-01-01 to ")
    out = run_cli("import-cdr", "--earliest", "2026-01-16", "--latest", "2031-06-01", str(path), db_url=sqlite_url)
    assert out.returncode == 1  # the calls before 2026-01-05 are now outside
    assert "is outside the accepted window 2026-01-16 to 2031-06-01 (UTC)" in out.stderr
    out = run_cli("import-cdr", "--earliest", "2026-01-01", "--latest", "2031-06-01", str(path), db_url=sqlite_url)
    assert out.returncode == 0 and "imported 3 CDRs" in out.stdout
    assert cdr_count(sqlite_url) == 3


@pytest.mark.parametrize("args, message", [
    (["--earliest", "2026-02-30"], "The earliest date '2026-02-30' is not a date between 1970-01-01 and 2999-12-31"),
    (["--latest", "9999-12-31"], "The latest date '9999-12-31' is not a date between"),
    (["--latest", "\uff12\uff10\uff12\uff16-01-01"], "The latest date"),
    (["--earliest", "2026-02-01", "--latest", "2026-01-01"], "The earliest date 2026-02-01 is after the latest"),
])
def test_a_bad_window_is_one_sentence_and_creates_no_database(run_cli, tmp_path, args, message):
    path = write(tmp_path / "in.csv", platform_rows(1, 1))
    target = tmp_path / "never.db"
    out = run_cli("import-cdr", *args, str(path), db_url=str(target))
    assert out.returncode == 1 and out.stderr.startswith("cxdesk: ") and message in out.stderr
    assert len(out.stderr.splitlines()) == 1 and not target.exists()


def test_unterminated_quote_and_conflicts_name_their_lines(sqlite_url, make_customer, run_cli, tmp_path):
    with open_database(sqlite_url) as db:
        cid = make_customer(db)
    first = write(tmp_path / "first.csv", platform_rows(cid, 2))
    assert run_cli("import-cdr", str(first), db_url=sqlite_url).returncode == 0

    rows = platform_rows(cid, 6)
    rows[0]["customer_charge"] = "9.000000"  # cli-0 was imported with another charge
    rows[1]["customer_charge"] = rows[1]["customer_charge"].rstrip("0")  # cli-1: the same amount
    rows[3]["callid"] = "cli-2"  # cli-2 again on line 5, with other values than on line 4
    path = write(tmp_path / "second.csv", rows)
    text = path.read_text(encoding="utf-8").splitlines(keepends=True)
    text[5] = text[5].replace("Germany - Mobile", '"Germany - Mobile')  # line 6: a quote never closed
    path.write_text("".join(text), encoding="utf-8")

    out = run_cli("import-cdr", str(path), db_url=sqlite_url)
    assert out.returncode == 1
    lines = out.stderr.splitlines()
    assert lines[0].startswith("line 2: callid 'cli-0' was imported before with other values: "
                               "customer_charge ") and "9 here" in lines[0]
    assert lines[1].startswith("line 5: callid 'cli-2' is on line 4 with other values: dt ")
    assert lines[2].startswith("line 6: the quote that opens customer_card_dest_name on this line is never "
                               "closed: it runs to line 7")
    assert "3 malformed rows, nothing was imported" in lines[3]
    assert cdr_count(sqlite_url) == 2
