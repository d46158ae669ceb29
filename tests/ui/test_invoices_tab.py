"""The Invoices tab driven as a user would: the list, the lines dialog, the paid status
edited in its cell (audited, refused for staff and on a conflict), Auto Generate, Issue,
Record Payment, Credit Note, and the Export menu (PDF read back with pdftotext, UBL, Excel);
the list follows other writers' changes."""
from __future__ import annotations

import datetime as dt
import json
import shutil
import subprocess
from decimal import Decimal

import openpyxl
import pytest
import shiboken6
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox
from sqlalchemy import select

from cxdesk.models import AuditEntry, Cdr
from cxdesk.services import invoices, options, rollup
from cxdesk.services.actor import Actor
from cxdesk.services.uow import unit_of_work
from cxdesk.ui.kit import dialogs
from cxdesk.ui.kit.tables import SORT_ROLE
from cxdesk.ui.invoices.invoice_dialog import InvoiceDialog
from cxdesk.ui.invoices.invoices_tab import PAID_COLUMN, InvoicesTab

UTC = dt.timezone.utc
NOW = dt.datetime(2025, 6, 1, tzinfo=UTC)


def day(d: int, month: int = 1) -> dt.datetime:
    return dt.datetime(2025, month, d, 10, tzinfo=UTC)


def cdr(callid: str, at: dt.datetime, customer_id: int, charge: str) -> dict:
    return {"callid": callid, "dt": at, "customer_id": customer_id, "source_cli": "", "dest_number": "",
            "duration": 90, "customer_duration": 90, "customer_charge": Decimal(charge),
            "customer_card_rate": Decimal(0), "customer_card_dest_code": "44", "customer_card_dest_name": "UK",
            "customer_card_currency": "EUR", "provider_id": None, "provider_charge": Decimal(0), "pdd_out": 0,
            "ring_duration": 0, "sip_code": 200, "sip_reason": "", "release_reason": ""}


def seed(db, make_customer, admin, accountant) -> tuple[int, int]:
    """Acme: January 2025 (invoice 1, three days) and February (invoice 3, not yet: see
    auto); Other: January (invoice 2). Invoices 1 and 2 are issued."""
    from cxdesk.services import invoice_lifecycle

    for key, value in (("company-name", "Example Carrier Ltd"), ("company-address", "1 Exchange Street"),
                       ("company-city", "London"), ("company-country", "GB"), ("company-vat-id", "GB123456789"),
                       ("company-iban", "GB33BUKB20201555555555")):
        options.set_value(db, admin, key, value)
    acme = make_customer(db, "Acme Telecom", tax_percent=Decimal("20"), invoice_due_days=30, country="DE")
    other = make_customer(db, "Other Ltd", country="FR")
    with unit_of_work(db, admin) as uow:
        uow.bulk_insert(Cdr, [cdr("a1", day(3), acme, "1.111111"), cdr("a2", day(4), acme, "2.222222"),
                              cdr("a3", day(5), acme, "3.333333"), cdr("o1", day(3), other, "5"),
                              cdr("f1", day(7, 2), acme, "7"), cdr("m1", day(9, 3), acme, "9")], "test CDRs")
    rollup.run(db)
    jan = dt.datetime(2025, 1, 1, tzinfo=UTC)
    invoices.generate_for_periods(db, accountant, acme, "monthly", [jan], now=NOW, invoice_date=dt.date(2025, 2, 1))
    invoices.generate_for_periods(db, accountant, other, "monthly", [jan], now=NOW)
    with db.read_session() as s:
        drafts = invoices.list_invoices(s)
    for row in drafts:
        invoice_lifecycle.issue_invoice(db, accountant, row.id, row.version)
    return acme, other


@pytest.fixture
def data(sqlite_db, make_customer, admin, accountant) -> tuple[int, int]:
    return seed(sqlite_db, make_customer, admin, accountant)


def make_tab(ctx, customer, qtbot, model_tester) -> InvoicesTab:
    tab = InvoicesTab(ctx)
    qtbot.addWidget(tab)
    model_tester(tab.model)  # both kept for the whole test: reloads and sorts are checked
    model_tester(tab.proxy)
    tab.set_customer(customer)
    tab.show()
    return tab


@pytest.fixture
def tab(make_ctx, sqlite_db, accountant, data, qtbot, model_tester) -> InvoicesTab:
    return make_tab(make_ctx(sqlite_db, accountant), data[0], qtbot, model_tester)


def texts(view, row: int) -> list[str]:
    model = view.model()
    return [model.index(row, c).data() for c in range(model.columnCount())]


def select_row(tab: InvoicesTab, row: int = 0) -> None:
    tab.view.selectRow(row)
    assert tab.current() is not None


def read(ctx, fn):
    """What ``fn(session)`` reads, through the operations layer as the UI reads (inline ctx)."""
    found = []
    ctx.ops.query(None, fn, success=found.append)
    return found[0]


def audit_entries(ctx, action: str) -> list[AuditEntry]:
    return read(ctx, lambda s: s.scalars(select(AuditEntry).where(AuditEntry.action == action)
                                         .order_by(AuditEntry.id)).all())


def test_the_list_shows_the_customers_invoices(tab, data, qtbot):
    headers = [tab.proxy.headerData(c, Qt.Orientation.Horizontal) for c in range(tab.proxy.columnCount())]
    assert headers == ["Invoice ID", "Name", "Invoice Date", "Due Date", "Total", "State", "Paid"]
    assert tab.proxy.rowCount() == 1  # not the other customer's
    assert texts(tab.view, 0) == ["1", "January 2025", "2025-02-01", "2025-03-03", "8.00 EUR", "Issued", "Unpaid"]
    assert tab.count.text() == "1 invoice, 1 not paid"
    assert not tab.open_button.isEnabled() and not tab.export_button.isEnabled()
    select_row(tab)
    assert tab.open_button.isEnabled() and tab.export_button.isEnabled() and tab.paid_actions["Paid"].isEnabled()
    assert all(a.isEnabled() for a in tab.export_actions.values())
    assert not any(a.isEnabled() for a in tab.credit_export_actions.values())  # no credit note yet
    assert (tab.issue_button.isEnabled(), tab.pay_button.isEnabled(), tab.credit_button.isEnabled()) == \
        (False, True, True)
    tab.set_customer(data[1])
    assert texts(tab.view, 0)[:2] == ["2", "January 2025"]
    tab.set_customer(None)
    assert tab.proxy.rowCount() == 0 and not tab.auto_button.isEnabled()


def test_opening_an_invoice_shows_its_lines_and_totals(tab, qtbot, model_tester):
    select_row(tab)
    qtbot.mouseClick(tab.open_button, Qt.MouseButton.LeftButton)
    dialog = tab.findChild(InvoiceDialog)
    assert dialog is not None and dialog.isVisible()
    model_tester(dialog.model)
    model_tester(dialog.proxy)
    qtbot.waitUntil(lambda: dialog.invoice is not None)  # loaded when shown, through ctx.ops
    assert dialog.windowTitle() == "Invoice 1: Acme Telecom" and dialog.tax_label.text() == "Tax 20 %"
    assert [texts(dialog.view, r) for r in range(dialog.proxy.rowCount())] == [
        ["Calls on 2025-01-03", "2025-01-03", "2025-01-03", "1", "1.50", "1", "1.1100", "1.11", "0.22", "1.33"],
        ["Calls on 2025-01-04", "2025-01-04", "2025-01-04", "1", "1.50", "1", "2.2200", "2.22", "0.44", "2.66"],
        ["Calls on 2025-01-05", "2025-01-05", "2025-01-05", "1", "1.50", "1", "3.3400", "3.34", "0.67", "4.01"],
    ]  # net 6.666666 -> 6.67 (lines adding up to it), VAT round(6.67 x 20 %) = 1.33, split over the lines
    assert [dialog.fields[k].text() for k in ("Net", "Tax", "Total", "State", "Paid", "Due Date")] == [
        "6.67 EUR", "1.33 EUR", "8.00 EUR", "Issued", "Unpaid", "2025-03-03"]
    dialog.close()
    qtbot.waitUntil(lambda: not shiboken6.isValid(dialog))  # deleted when closed

    pos = tab.view.visualRect(tab.proxy.index(0, 1)).center()
    qtbot.mouseClick(tab.view.viewport(), Qt.MouseButton.LeftButton, pos=pos)
    qtbot.mouseDClick(tab.view.viewport(), Qt.MouseButton.LeftButton, pos=pos)
    (opened,) = tab.findChildren(InvoiceDialog)
    qtbot.waitUntil(lambda: opened.invoice is not None)
    assert opened.isVisible() and opened.invoice.number == 1


def test_the_paid_status_is_edited_in_its_cell_and_audited(tab, sqlite_db, answers, admin, qtbot):
    options.set_value(sqlite_db, admin, "audit-comment", "on", "ask for reasons")
    answers.text = ["paid by bank transfer"]
    index = tab.proxy.index(0, PAID_COLUMN)
    tab.view.setCurrentIndex(index)
    qtbot.keyClick(tab.view, Qt.Key.Key_F2)
    editor = tab.view.findChild(QComboBox)
    assert editor is not None and editor.accessibleName() == "Paid status" and editor.currentText() == "Unpaid"
    qtbot.keyClick(editor, Qt.Key.Key_End)  # choose the last item: Paid
    qtbot.waitUntil(lambda: texts(tab.view, 0)[PAID_COLUMN] == "Paid")
    assert tab.count.text() == "1 invoice, 0 not paid"
    (entry,) = [e for e in audit_entries(tab.ctx, "UPDATE") if e.message.startswith("Changed the paid status")]
    assert (entry.actor, entry.comment, entry.message) == (
        "acc", "paid by bank transfer", "Changed the paid status of invoice 1 from Unpaid to Paid")
    assert json.loads(entry.after)["paid_status"] == "Paid"

    answers.text = [None]  # the reason is asked for and cancelled: nothing is saved
    updates = len(audit_entries(tab.ctx, "UPDATE"))
    select_row(tab)
    tab.paid_actions["Pending"].trigger()
    assert texts(tab.view, 0)[PAID_COLUMN] == "Paid"
    assert len(audit_entries(tab.ctx, "UPDATE")) == updates


def test_a_paid_status_changed_meanwhile_is_refused(tab, sqlite_db, answers, qtbot):
    select_row(tab)
    inv = tab.current()
    invoices.set_paid_status(sqlite_db, Actor(login="sam2", role="admin"), inv.id, "Pending", inv.version)
    tab.paid_actions["Paid"].trigger()
    assert len(answers.errors) == 1
    assert answers.errors[0].startswith("Invoice 1 was changed by sam2 at ")
    assert texts(tab.view, 0)[PAID_COLUMN] == "Pending"  # reloaded: what is stored now


def test_staff_see_invoices_but_cannot_change_or_export_them(make_ctx, sqlite_db, staff, data, qtbot, model_tester):
    tab = make_tab(make_ctx(sqlite_db, staff), data[0], qtbot, model_tester)
    select_row(tab)
    assert not tab.proxy.flags(tab.proxy.index(0, PAID_COLUMN)) & Qt.ItemFlag.ItemIsEditable
    assert not tab.model.setData(tab.model.index(0, PAID_COLUMN), "Paid")
    assert not any(a.isEnabled() for a in tab.paid_actions.values())
    assert not tab.auto_button.isEnabled() and not tab.export_button.isEnabled()
    assert not any(a.isEnabled() for a in tab.export_actions.values())
    assert not any(b.isEnabled() for b in (tab.issue_button, tab.pay_button, tab.credit_button))
    assert tab.open_button.isEnabled()


def test_auto_generate_creates_the_missing_invoices(tab, sqlite_db, answers, qtbot):
    answers.confirm = False
    qtbot.mouseClick(tab.auto_button, Qt.MouseButton.LeftButton)
    assert tab.proxy.rowCount() == 1
    answers.confirm = True
    qtbot.mouseClick(tab.auto_button, Qt.MouseButton.LeftButton)
    assert answers.infos == ["Created 2 invoices (3, 4)."]  # February and March 2025: ended, with calls
    assert [texts(tab.view, r)[:2] for r in range(3)] == [["4", "March 2025"], ["3", "February 2025"],
                                                         ["1", "January 2025"]]
    qtbot.mouseClick(tab.auto_button, Qt.MouseButton.LeftButton)
    assert answers.infos[-1] == "No invoice was missing."
    assert len(audit_entries(tab.ctx, "GENERATE")) == 2 * 4


def test_export_to_pdf_and_excel(tab, sqlite_db, admin, monkeypatch, tmp_path, qtbot):
    asked = []

    def save_file(parent, title, suggested, filters):
        asked.append((title, suggested, filters))
        return str(tmp_path / suggested.rsplit(".", 1)[0]) if len(asked) == 1 else None

    monkeypatch.setattr(dialogs, "save_file", save_file)
    select_row(tab)
    tab.pdf_action.trigger()  # Export > Invoice as PDF...
    assert asked == [("Export invoice 1 to PDF", "invoice-1.pdf", "PDF files (*.pdf)")]
    pdf = tmp_path / "invoice-1.pdf"  # the suffix is added when the name has none
    assert pdf.read_bytes().startswith(b"%PDF")
    tab.xlsx_action.trigger()  # cancelled: nothing written
    assert sorted(p.name for p in tmp_path.iterdir() if p.suffix in (".pdf", ".xlsx")) == ["invoice-1.pdf"]

    monkeypatch.setattr(dialogs, "save_file", lambda *a: str(tmp_path / "jan.xlsx"))
    tab.xlsx_action.trigger()
    ws = openpyxl.load_workbook(tmp_path / "jan.xlsx").active
    assert [row[8] for row in ws.iter_rows(values_only=True) if row[7] == "Total EUR"] == [8.0]

    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext (poppler-utils) is not installed; scripts/install-os-deps.sh installs it")
    words = " ".join(subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True,
                                    check=True).stdout.split())
    assert "8.00 EUR" in words and "Acme Telecom" in words and "GB123456789" in words
    assert "Example Carrier Ltd" in words and "page 1 of 1" in words


def test_issue_pay_credit_and_export_the_credit_note(tab, sqlite_db, answers, monkeypatch, tmp_path, qtbot):
    qtbot.mouseClick(tab.auto_button, Qt.MouseButton.LeftButton)  # drafts 3 (February) and 4 (March)
    select_row(tab, 1)
    assert texts(tab.view, 1)[:1] + texts(tab.view, 1)[5:] == ["3", "Draft", "Unpaid"]
    assert (tab.issue_button.isEnabled(), tab.pay_button.isEnabled(), tab.credit_button.isEnabled()) == \
        (True, False, False)
    assert tab.xlsx_action.isEnabled() and not tab.export_actions["ubl"].isEnabled()  # a draft is no e-invoice yet
    answers.confirm = False
    qtbot.mouseClick(tab.issue_button, Qt.MouseButton.LeftButton)
    assert texts(tab.view, 1)[5] == "Draft"
    answers.confirm = True
    qtbot.mouseClick(tab.issue_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: texts(tab.view, 1)[5] == "Issued")
    assert answers.questions[-1].startswith("Issue invoice 3? From then on it cannot change")

    answers.text = ["8.40x"]  # 7 EUR + 20 %: 8.40 due
    qtbot.mouseClick(tab.pay_button, Qt.MouseButton.LeftButton)
    assert answers.errors == ["The payment: '8.40x' is not an amount; type a number like 1250.50 or -50."]
    answers.text = ["5"]
    qtbot.mouseClick(tab.pay_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: texts(tab.view, 1)[6] == "Part Paid")
    assert answers.questions[-1] == "Amount received for invoice 3 (8.40 EUR due):"

    answers.text = ["rate card error"]
    qtbot.mouseClick(tab.credit_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: texts(tab.view, 1)[5] == "Credited by CN-1")
    assert not tab.credit_button.isEnabled() and not tab.pay_button.isEnabled()
    assert all(a.isEnabled() for a in tab.credit_export_actions.values())
    monkeypatch.setattr(dialogs, "save_file", lambda parent, title, name, filters: str(tmp_path / name))
    tab.credit_export_actions["ubl"].trigger()
    xml = (tmp_path / "credit-note-cn-1-ubl.xml").read_bytes()
    assert b"<CreditNote" in xml and b"rate card error" in xml and b"<cbc:ID>3</cbc:ID>" in xml  # cites invoice 3
    tab.export_actions["cii"].trigger()
    assert b"CrossIndustryInvoice" in (tmp_path / "invoice-3-cii.xml").read_bytes()
    assert len(answers.errors) == 1


def test_an_unwritable_export_path_is_reported(tab, monkeypatch, tmp_path, answers):
    monkeypatch.setattr(dialogs, "save_file", lambda *a: str(tmp_path / "missing" / "x.xlsx"))
    select_row(tab)
    assert tab.export_current("xlsx") == str(tmp_path / "missing" / "x.xlsx")
    assert len(answers.errors) == 1 and answers.errors[0].startswith(f"The folder {tmp_path / 'missing'} does not exist")
    assert not (tmp_path / "missing").exists()


def test_other_views_generating_invoices_refresh_the_list(tab, data, sqlite_db, accountant, qtbot):
    invoices.generate_for_periods(sqlite_db, accountant, data[0], "daily", [dt.datetime(2025, 2, 7, tzinfo=UTC)],
                                  now=NOW)
    assert tab.proxy.rowCount() == 1  # the change set arrives on the GUI thread's next turn
    qtbot.waitUntil(lambda: tab.proxy.rowCount() == 2)
    assert tab.count.text() == "2 invoices, 2 not paid"
    (theirs,) = read(tab.ctx, lambda s: invoices.list_invoices(s, data[1]))
    loads = tab.loads
    with qtbot.waitSignal(tab.ctx.changes.changed):
        invoices.set_paid_status(sqlite_db, accountant, theirs.id, "Paid", theirs.version)
    assert tab.loads == loads  # another customer's invoice does not reload this list


def test_columns_fit_the_data_and_sorting_keeps_the_models_sound(tab, answers, qtbot):
    tab.resize(1200, 400)
    view = tab.view
    for column in range(tab.proxy.columnCount()):
        view.setColumnWidth(column, 20)
    tab.reload()  # as when the data arrives
    for column in range(tab.proxy.columnCount()):
        assert view.columnWidth(column) >= min(view.sizeHintForColumn(column), 320), column
    assert view.columnWidth(1) > view.sizeHintForColumn(1)  # the free width goes to Name
    qtbot.mouseClick(tab.auto_button, Qt.MouseButton.LeftButton)  # 3 invoices now
    view.sortByColumn(4, Qt.SortOrder.AscendingOrder)  # Total, as amounts (the testers watch the sort)
    totals = [tab.proxy.index(r, 4).data(SORT_ROLE) for r in range(tab.proxy.rowCount())]
    assert len(totals) == 3 and totals == sorted(totals)
    view.sortByColumn(0, Qt.SortOrder.DescendingOrder)
    assert [texts(view, r)[0] for r in range(3)] == ["4", "3", "1"]


def test_the_open_dialog_follows_a_change_made_elsewhere(tab, sqlite_db, admin, qtbot):
    select_row(tab)
    dialog = tab.open_current()
    qtbot.waitUntil(lambda: dialog.invoice is not None)
    invoices.set_paid_status(sqlite_db, admin, dialog.invoice_id, "Pending", dialog.invoice.version)
    qtbot.waitUntil(lambda: dialog.fields["Paid"].text() == "Pending")
    assert texts(tab.view, 0)[PAID_COLUMN] == "Pending"
    dialog.close()


def test_an_invoice_that_is_gone_is_reported_and_its_dialog_closed(tab, answers, monkeypatch, qtbot):
    from cxdesk.errors import NotFound

    def gone(session, invoice_id):
        raise NotFound(f"Invoice record {invoice_id} does not exist (any more); refresh the list.")

    monkeypatch.setattr(invoices, "get_invoice", gone)
    select_row(tab)
    loads = tab.loads
    dialog = tab.open_current()
    qtbot.waitUntil(lambda: not shiboken6.isValid(dialog))
    assert answers.errors == ["Invoice record 1 does not exist (any more); refresh the list."]
    assert tab.loads == loads + 1  # the list was read again


def test_the_dialog_exports_the_invoice(tab, monkeypatch, tmp_path, qtbot):
    monkeypatch.setattr(dialogs, "save_file", lambda *a: str(tmp_path / "one.xlsx"))
    select_row(tab)
    dialog = tab.open_current()
    qtbot.waitUntil(lambda: dialog.xlsx_button.isEnabled())
    qtbot.mouseClick(dialog.xlsx_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.message.text() == f"Exported to {tmp_path / 'one.xlsx'}")
    assert openpyxl.load_workbook(tmp_path / "one.xlsx").active is not None
    dialog.close()
