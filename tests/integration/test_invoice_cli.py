"""`cxdesk invoice` as a process: CDRs imported from the platform's CSV, invoices generated,
refused twice, listed, auto-generated once, issued (then immutable), paid, credited, and
exported to PDF (read back with pdftotext), Factur-X, UBL, CII and Excel."""
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
    # January: 31 calls charged day/1000 + 0.000333 each, rounded once; plus 20 % of that (BR-CO-17)
    net = sum(Decimal(d).scaleb(-3) + Decimal("0.000333") for d in range(1, 32)).quantize(Decimal("0.01"), ROUND_HALF_UP)
    total = net + (net * Decimal("0.2")).quantize(Decimal("0.01"), ROUND_HALF_UP)
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
    assert lines[0].split() == ["invoice", "customer", "name", "invoice", "date", "due", "date", "total", "state",
                                "paid"]
    assert lines[1].split()[:6] == ["1", "Acme", "Telecom", "January", "2025", "2025-02-01"]
    assert lines[1].split()[-4:] == [f"{total}", "EUR", "Draft", "Unpaid"]
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


def seller_and_buyer(db, run_cli, url: str, customer: str, *billing: str) -> None:
    """Settings > Company in full (set here, as the options command is tested elsewhere), and the
    customer's billing data through the command line."""
    from cxdesk.services import options
    from cxdesk.services.actor import cli_actor

    for key, value in [("company-name", "Example Carrier Ltd"), ("company-address", "1 Exchange Street"),
                       ("company-city", "London"), ("company-post-code", "EC1A 1AA"), ("company-country", "gb"),
                       ("company-vat-id", "GB 123 456 789"), ("company-iban", "GB33 BUKB 2020 1555 5555 55"),
                       ("company-bic", "BUKBGB22")]:
        options.set_value(db, cli_actor(), key, value)
    r = run_cli("customer", "billing", customer, *billing, db_url=url)
    assert r.returncode == 0, r.stderr


@pytest.mark.timeout(900)  # some 20 processes on a busy machine
def test_export_every_format_of_an_issued_invoice(setup, run_cli, tmp_path):
    db, url, _acme, beta = setup
    seller_and_buyer(db, run_cli, url, "Beta KK", "--address", "1-1 Marunouchi|Floor 3", "--city", "Tokyo",
                     "--post-code", "100-0001", "--country", "jp", "--buyer-reference", "PO-77")
    r = run_cli("invoice", "generate", str(beta), "--period", "monthly", "--date", "2025-01-17", db_url=url)
    assert r.returncode == 0, r.stderr
    assert "total 326 JPY" in r.stdout  # 31 x 10.5 = 325.5, half-up

    pdf = tmp_path / "invoice-1.pdf"
    r = run_cli("invoice", "export", "1", "-o", str(pdf), db_url=url)
    assert (r.returncode, r.stderr) == (1, "cxdesk: Invoice 1 is a draft; issue it before exporting it as pdf "
                                           "(`cxdesk invoice issue 1`).\n")
    r = run_cli("invoice", "issue", "1", db_url=url)
    assert r.stdout.startswith("issued invoice 1 for Beta KK: January 2025"), r.stderr
    r = run_cli("invoice", "export", "1", "-o", str(pdf), db_url=url)
    assert (r.returncode, r.stderr) == (0, "")
    assert r.stdout == f"wrote invoice 1 (Beta KK, total 326 JPY) to {pdf}\n"
    for fmt, name in (("facturx", "fx.pdf"), ("ubl", "ubl.xml"), ("cii", "cii.xml")):
        r = run_cli("invoice", "export", "1", "--format", fmt, "-o", str(tmp_path / name), db_url=url)
        assert (r.returncode, r.stderr) == (0, ""), fmt
    from cxdesk.services.einvoice.validate import syntax_of, xml_from_pdf

    assert syntax_of((tmp_path / "ubl.xml").read_bytes()) == "ubl"
    assert syntax_of((tmp_path / "cii.xml").read_bytes()) == "cii"
    assert b"PO-77" in xml_from_pdf((tmp_path / "fx.pdf").read_bytes())  # the CII inside the Factur-X PDF

    xlsx = tmp_path / "invoice-1.xlsx"
    r = run_cli("invoice", "export", "1", "-o", str(xlsx), db_url=url)
    assert r.returncode == 0, r.stderr
    ws = openpyxl.load_workbook(xlsx).active
    assert ws["A1"].value == "Example Carrier Ltd"
    assert [row[8] for row in ws.iter_rows(values_only=True) if row[7] == "Total JPY"] == [326]

    for args, message in [
        (["99", "-o", str(tmp_path / "x.pdf")], "cxdesk: There is no invoice number 99; check it with `cxdesk invoice list`.\n"),
        (["1", "-o", str(tmp_path / "x.docx")],
         "cxdesk: Say which format to write 'x.docx' in with --format (pdf, facturx, ubl, cii, xlsx).\n"),
        (["1", "-o", str(tmp_path / "x.xml")],
         "cxdesk: Say which format to write 'x.xml' in with --format (pdf, facturx, ubl, cii, xlsx).\n"),
        (["1", "--format", "ubl", "-o", str(tmp_path / "x.pdf")],
         "cxdesk: Cannot write 'x.pdf': a ubl file's name must end in .xml.\n"),
        (["one", "-o", str(tmp_path / "x.pdf")], "cxdesk: 'one' is not an invoice number; use the Invoice ID `cxdesk invoice list` shows.\n"),
        (["CN-4", "-o", str(tmp_path / "x.pdf")], "cxdesk: There is no credit note CN-4; check it with `cxdesk invoice list`.\n"),
    ]:
        r = run_cli("invoice", "export", *args, db_url=url)
        assert (r.returncode, r.stderr) == (1, message)
    assert sorted(p.name for p in tmp_path.glob("x.*")) == []

    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext (poppler-utils) is not installed; scripts/install-os-deps.sh installs it")
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    words = " ".join(text.split())
    for shown in ("Example Carrier Ltd", "EC1A 1AA London", "GB123456789", "Beta KK", "1-1 Marunouchi", "100-0001 Tokyo",
                  "PO-77", "GB33BUKB20201555555555", "2025-01-01 to 2025-01-31", "326 JPY"):
        assert shown in words, shown


def snapshot(db) -> tuple:
    """Every invoice and credit note row and the audit log's length."""
    from cxdesk.models.invoices import CreditNote

    with db.read_session() as s:
        return ([tuple(r) for r in s.execute(select(*Invoice.__table__.c).order_by(Invoice.id))],
                [tuple(r) for r in s.execute(select(*CreditNote.__table__.c))],
                s.scalar(select(func.count()).select_from(AuditEntry)))


@pytest.mark.timeout(900)
def test_issue_makes_an_invoice_immutable_pay_and_credit(setup, run_cli):
    db, url, acme, _beta = setup
    seller_and_buyer(db, run_cli, url, "Acme Telecom", "--country", "DE", "--address", "Hauptstrasse 1", "--city",
                     "Berlin", "--post-code", "10115")
    for month in ("2025-01", "2025-02"):
        r = run_cli("invoice", "generate", "Acme Telecom", "--period", "monthly", "--date", month,
                    "--invoice-date", "2025-03-01", db_url=url)
        assert r.returncode == 0, r.stderr
    r = run_cli("invoice", "date", "1", "2025-03-02", db_url=url)  # a draft may change
    assert r.stdout.startswith("dated invoice 1 for Acme Telecom") and "due 2025-03-12" in r.stdout, r.stderr
    r = run_cli("invoice", "pay", "1", "1.00", db_url=url)
    assert (r.returncode, r.stderr) == (1, "cxdesk: Invoice 1 is a draft; issue it before recording a payment.\n")
    r = run_cli("invoice", "issue", "1", db_url=url)
    assert r.returncode == 0, r.stderr
    assert run_cli("invoice", "issue", "1", db_url=url).stderr == "cxdesk: Invoice 1 is already issued.\n"

    before = snapshot(db)
    for args, message in [
        (["date", "1", "2025-03-05"], "cxdesk: Invoice 1 is issued and can no longer be changed; correct it with a "
                                      "credit note (`cxdesk invoice credit 1`).\n"),
        (["date", "1", "someday"], "cxdesk: 'someday' is not a date like 2026-01-05.\n"),
        (["pay", "1", "0"], "cxdesk: The payment must be more than zero.\n"),
        (["pay", "1", "0.001"], "cxdesk: EUR amounts have 2 decimals; round the payment.\n"),
        (["pay", "1", "9999"], "cxdesk: The payment is more than the "),
        (["paid", "1", "Settled"], "cxdesk: 'Settled' is not a paid status; choose one of: Unpaid, Pending, "
                                   "Part Paid, Paid.\n"),
        (["credit", "2"], "cxdesk: Invoice 2 is a draft and was never issued, so there is nothing to credit; "
                          "issue it first.\n"),
    ]:
        r = run_cli("invoice", *args, db_url=url)
        assert r.returncode == 1 and r.stderr.startswith(message), (args, r.stderr)
        assert snapshot(db) == before, args  # nothing changed

    r = run_cli("invoice", "pay", "1", "0.10", db_url=url)
    assert r.returncode == 0 and r.stdout.startswith("invoice 1: Part Paid, paid 0.10 EUR, "), r.stderr
    r = run_cli("--comment", "wrong rate", "invoice", "credit", "1", "--reason", "rate card error", db_url=url)
    assert r.stdout.startswith("credit note CN-1 cancels invoice 1 (Acme Telecom), total "), r.stderr
    r = run_cli("invoice", "credit", "1", db_url=url)
    assert r.stderr == "cxdesk: Invoice 1 is already credited by credit note CN-1.\n"
    r = run_cli("invoice", "pay", "1", "0.10", db_url=url)
    assert r.stderr == "cxdesk: Invoice 1 is credited by a credit note; recording a payment is no longer possible.\n"
    # the credited period may be invoiced again: the next invoice number, its own series for credit notes
    r = run_cli("invoice", "generate", "Acme Telecom", "--period", "monthly", "--date", "2025-01", db_url=url)
    assert r.stdout.startswith("generated invoice 3 for Acme Telecom: January 2025"), r.stderr
    listed = run_cli("invoice", "list", db_url=url).stdout
    rows = {line.split()[0]: line.split() for line in listed.splitlines() if line.strip()}
    assert rows["1"][-7:] == ["0.61", "EUR", "Credited", "by", "CN-1", "Part", "Paid"], listed
    assert rows["CN-1"][:4] == ["CN-1", "Acme", "Telecom", "1"] and rows["CN-1"][-3:] == ["rate", "card", "error"]
    r = run_cli("invoice", "export", "CN-1", "--format", "ubl", "-o", str(db.path.parent / "cn1.xml"), db_url=url)
    assert r.stdout.startswith("wrote credit note CN-1 for invoice 1 (Acme Telecom"), r.stderr
    xml = (db.path.parent / "cn1.xml").read_bytes()
    assert b"<CreditNote" in xml and b"rate card error" in xml

    with db.read_session() as s:
        entries = s.scalars(select(AuditEntry).where(AuditEntry.table_name.in_(("invoices", "credit_notes")))
                            .order_by(AuditEntry.id)).all()
    assert [(e.action, e.table_name, e.message.split(":")[0]) for e in entries[-5:]] == [
        ("UPDATE", "invoices", "Issued invoice 1 (January 2025), total 0.61 EUR"),
        ("UPDATE", "invoices", "Recorded a payment of 0.10 EUR for invoice 1"),
        ("CREATE", "credit_notes", "Credit note CN-1 cancels invoice 1 (January 2025), total 0.61 EUR"),
        ("UPDATE", "invoices", "Invoice 1 credited by credit note CN-1"),
        ("GENERATE", "invoices", "Generated invoice 3 for customer 1 (Acme Telecom)"),
    ]
    assert entries[-3].comment == "wrong rate"


def customer_row(db) -> tuple:
    from cxdesk.models import Customer

    with db.read_session() as s:
        return tuple(s.execute(select(*Customer.__table__.c).where(Customer.name == "Acme Telecom")).one())


@pytest.mark.timeout(600)
def test_billing_data_on_the_command_line(setup, run_cli):
    db, url, _acme, _beta = setup
    r = run_cli("customer", "billing", "Acme Telecom", "--country", "fr", "--vat-id", "FR 12 345678901",
                "--vat-category", "AE", "--tax", "0", db_url=url)
    assert r.stdout == ("Acme Telecom: FR; VAT ID FR12345678901; VAT category AE at 0 % (Reverse charge)\n"), r.stderr
    before = snapshot(db), customer_row(db)
    for args, message in [
        (["--country", "France"], "cxdesk: 'France' is not a country code; type the two-letter ISO 3166 code, "
                                  "such as DE, FR or GB.\n"),
        (["--vat-id", "12345"], "cxdesk: '12345' is not a VAT identifier; it starts with the country code, "
                                "such as DE123456789.\n"),
        (["--vat-category", "S"], "cxdesk: A standard-rated customer needs a tax rate above 0 %; type the rate, or "
                                  "choose Zero rated.\n"),
        (["--vat-category", "E"], "cxdesk: Exempt invoices must say why (EN 16931 BR-E-10); type the exemption "
                                  "reason, such as the article of the VAT law.\n"),
    ]:
        r = run_cli("customer", "billing", "Acme Telecom", *args, db_url=url)
        assert (r.returncode, r.stderr) == (1, message), args
    assert (snapshot(db), customer_row(db)) == before
    r = run_cli("options", "set", "company-iban", "GB33 BUKB 2020 1555 5555 56", db_url=url)
    assert (r.returncode, r.stderr) == (1, "cxdesk: 'GB33 BUKB 2020 1555 5555 56' is not a valid IBAN (its check "
                                           "digits do not match); copy it again from the bank statement.\n")
