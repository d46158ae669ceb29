"""`cxdesk invoice` as a process: CDRs imported from the platform's CSV, invoices generated,
refused twice, listed, auto-generated once, exported to a PDF read back with pdftotext."""
from __future__ import annotations

import csv
import datetime as dt
import getpass
import json
import shutil
import subprocess
from decimal import ROUND_HALF_UP, Decimal

import openpyxl
import pytest
from sqlalchemy import func, select

from cxdesk.models import AuditEntry, Invoice

UTC = dt.timezone.utc
FIELDS = ["dt", "callid", "customer_id", "duration", "customer_duration", "customer_charge", "provider_charge",
          "customer_card_dest_code", "customer_card_dest_name"]


@pytest.fixture
def setup(sqlite_db, make_customer, tmp_path, run_cli):
    """Acme (monthly, EUR, 20 % tax) and Beta (weekly, JPY) with calls in January and February 2025."""
    db = sqlite_db
    acme = make_customer(db, "Acme Telecom", tax_percent=Decimal("20"), invoice_due_days=10)
    beta = make_customer(db, "Beta KK", currency="JPY", invoice_schedule="Weekly")
    rows = []
    for day in range(1, 59):
        at = dt.datetime(2025, 1, 1, 9, tzinfo=UTC) + dt.timedelta(days=day - 1)
        rows.append([at.isoformat(), f"a{day}", acme, 61, 66, f"{Decimal(day).scaleb(-3) + Decimal('0.000333')}",
                     "0", "44", "United Kingdom"])
        rows.append([at.isoformat(), f"b{day}", beta, 30, 30, "10.5", "0", "81", "Japan"])
    path = tmp_path / "cdrs.csv"
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(FIELDS)
        w.writerows(rows)
    url = db.url.render_as_string(hide_password=False)
    result = run_cli("import-cdr", str(path), db_url=url)
    assert result.returncode == 0, result.stderr
    return db, url, acme, beta


def invoice_count(db) -> int:
    with db.read_session() as s:
        return s.scalar(select(func.count()).select_from(Invoice))


def test_generate_refuse_list_and_audit(setup, run_cli):
    db, url, acme, _beta = setup
    r = run_cli("--comment", "month end", "invoice", "generate", "Acme Telecom", "--period", "monthly",
                "--date", "2025-01", "--invoice-date", "2025-02-01", db_url=url)
    assert r.returncode == 0, r.stderr
    # January: 31 calls charged day/1000 + 0.000333 each; plus 20 %, rounded once
    net = sum(Decimal(d).scaleb(-3) + Decimal("0.000333") for d in range(1, 32))
    total = (net * Decimal("1.2")).quantize(Decimal("0.01"), ROUND_HALF_UP)
    assert r.stdout == (f"generated invoice 1 for Acme Telecom: January 2025 (2025-01-01 to 2025-01-31 UTC), "
                        f"total {total} EUR, due 2025-02-11\n")

    for args, message in [
        (["--period", "daily", "--date", "2025-01-05"],
         "cxdesk: 2025-01-05 is already invoiced: invoice 1 (January 2025) covers it; "
         "open that invoice instead of generating another.\n"),
        (["--period", "weekly", "--date", "2025-W05"],  # Jan 27 - Feb 2
         "cxdesk: Week 5 2025 is already invoiced in part: invoice 1 (January 2025) covers part of it; "
         "invoice the rest with shorter periods.\n"),
        (["--period", "monthly", "--date", "2025-13"], "cxdesk: '2025-13' is not a month like 2026-01 or any day in it.\n"),
        (["--period", "weekly", "--date", "W05"], "cxdesk: 'W05' is not a week like 2026-W02 or any day in it.\n"),
        (["--period", "daily", "--date", "2025-03-05"], "cxdesk: 2025-03-05 has no calls of Acme Telecom to invoice.\n"),
        (["--period", "daily", "--date", "2025-01-05", "--invoice-date", "soon"], "cxdesk: 'soon' is not a date like 2026-01-05.\n"),
    ]:
        r = run_cli("invoice", "generate", str(acme), *args, db_url=url)
        assert (r.returncode, r.stderr, r.stdout) == (1, message, ""), args
    r = run_cli("invoice", "generate", "Acme Telecom", "--period", "24h", "--date", "2025-01-05 10:00", db_url=url)
    assert r.returncode == 2 and "invalid choice: '24h'" in r.stderr
    r = run_cli("invoice", "generate", "Nobody", "--period", "daily", "--date", "2025-01-05", db_url=url)
    assert (r.returncode, r.stderr) == (1, "cxdesk: There is no customer with the id or exact name 'Nobody'; check the spelling.\n")
    assert invoice_count(db) == 1

    r = run_cli("invoice", "generate", "Acme Telecom", "--period", "weekly", "--date", "2025-02-04", db_url=url)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("generated invoice 2 for Acme Telecom: Week 6 2025 (2025-02-03 to 2025-02-09 UTC)")

    r = run_cli("invoice", "list", db_url=url)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].split() == ["invoice", "customer", "name", "invoice", "date", "due", "date", "total", "paid"]
    assert lines[1].split()[:6] == ["1", "Acme", "Telecom", "January", "2025", "2025-02-01"]
    assert lines[1].split()[-3:] == [f"{total}", "EUR", "Unpaid"]
    assert lines[2].split()[:5] == ["2", "Acme", "Telecom", "Week", "6"]
    r = run_cli("invoice", "list", "Beta KK", db_url=url)
    assert r.stdout.splitlines()[1:] == []

    with db.read_session() as s:
        entries = s.scalars(select(AuditEntry).where(AuditEntry.action == "GENERATE").order_by(AuditEntry.id)).all()
    assert [(e.table_name, e.actor, e.comment) for e in entries[:2]] == [
        ("invoices", f"cli:{getpass.getuser()}", "month end"), ("invoice_lines", f"cli:{getpass.getuser()}", "month end")]
    assert len(json.loads(entries[1].after)["lines"]) == 31


def test_auto_generates_once_until_a_day(setup, run_cli):
    db, url, _acme, _beta = setup
    r = run_cli("invoice", "auto", "--until", "2025-01-31", db_url=url)
    assert r.returncode == 0, r.stderr
    out = r.stdout.splitlines()
    assert [line.split(":")[0] for line in out[:-1]] == (
        ["generated invoice 1 for Acme Telecom"] + [f"generated invoice {n} for Beta KK" for n in range(2, 6)])
    assert "Week 1 2025 (2024-12-30 to 2025-01-05 UTC), total 53 JPY" in out[1]  # 5 calls of 10.5 JPY, half-up
    assert out[-1] == "created 5 invoices (1, 2, 3, 4, 5)"
    r = run_cli("invoice", "auto", "Acme Telecom", "--until", "2025-01-31", db_url=url)
    assert r.stdout == "no invoice was missing\n"
    r = run_cli("invoice", "auto", "Beta KK", db_url=url)
    assert r.stdout.splitlines()[-1] == "created 5 invoices (6, 7, 8, 9, 10)"  # weeks 5 to 9: all ended
    r = run_cli("invoice", "auto", db_url=url)
    assert r.stdout.startswith("generated invoice 11 for Acme Telecom: February 2025 (2025-02-01 to 2025-02-28 UTC), ")
    assert r.stdout.splitlines()[1:] == ["created 1 invoice (11)"]
    r = run_cli("invoice", "auto", db_url=url)
    assert (r.returncode, r.stdout) == (0, "no invoice was missing\n")
    r = run_cli("invoice", "auto", "--until", "2025-02-30", db_url=url)
    assert (r.returncode, r.stderr) == (1, "cxdesk: '2025-02-30' is not a date like 2026-01-05.\n")
    assert invoice_count(db) == 11


def test_export_pdf_and_xlsx(setup, run_cli, tmp_path):
    db, url, _acme, beta = setup
    assert run_cli("options", "set", "company-name", "Example Carrier Ltd", db_url=url).returncode == 0
    assert run_cli("options", "set", "company-address", "1 Exchange Street\nLondon EC1A 1AA", db_url=url).returncode == 0
    r = run_cli("invoice", "generate", str(beta), "--period", "monthly", "--date", "2025-01-17", db_url=url)
    assert r.returncode == 0, r.stderr
    assert "total 326 JPY" in r.stdout  # 31 x 10.5 = 325.5, half-up

    pdf = tmp_path / "invoice-1.pdf"
    r = run_cli("invoice", "export", "1", "-o", str(pdf), db_url=url)
    assert (r.returncode, r.stderr) == (0, "")
    assert r.stdout == f"wrote invoice 1 (Beta KK, total 326 JPY) to {pdf}\n"
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext (poppler-utils) is not installed; scripts/install-os-deps.sh installs it")
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    words = " ".join(text.split())
    assert "Example Carrier Ltd" in words and "London EC1A 1AA" in words and "INVOICE" in words
    assert "Invoice number 1" in words
    assert "Beta KK" in words and "January 2025" in words and "2025-01-01 to 2025-01-31" in words
    assert "Total due 326 JPY" in words
    # JPY has no decimals: 31 lines of 10.5 are shown as 16 x 11 and 15 x 10, adding up to 326
    assert "Calls on 2025-01-01 1 0.50 21.0000 11 0 11" in words
    assert "Calls on 2025-01-31 1 0.50 21.0000 10 0 10" in words

    xlsx = tmp_path / "invoice-1.xlsx"
    r = run_cli("invoice", "export", "1", "-o", str(xlsx), db_url=url)
    assert r.returncode == 0, r.stderr
    ws = openpyxl.load_workbook(xlsx).active
    assert ws["A1"].value == "Example Carrier Ltd"
    assert [row[8] for row in ws.iter_rows(values_only=True) if row[7] == "Total JPY"] == [326]

    for args, message in [
        (["99", "-o", str(tmp_path / "x.pdf")], "cxdesk: There is no invoice number 99; check it with `cxdesk invoice list`.\n"),
        (["1", "-o", str(tmp_path / "x.docx")], "cxdesk: Cannot export to 'x.docx': the name must end in .pdf or .xlsx.\n"),
        (["one", "-o", str(tmp_path / "x.pdf")], "cxdesk: 'one' is not an invoice number; use the Invoice ID `cxdesk invoice list` shows.\n"),
    ]:
        r = run_cli("invoice", "export", *args, db_url=url)
        assert (r.returncode, r.stderr) == (1, message)
    assert sorted(p.name for p in tmp_path.glob("x.*")) == []
