"""The Invoices tab on the real asynchronous operations layer: another writer's invoice
reaches the shown list while a hidden Summary only goes stale; the PDF is drawn on a worker;
a deleted tab or closed dialog is never called back; a refused write is shown."""
from __future__ import annotations

import datetime as dt

import pytest
import shiboken6
from PySide6.QtWidgets import QTabWidget

from cxdesk.services import invoices
from cxdesk.services.actor import Actor
from cxdesk.ui.invoices.invoice_dialog import InvoiceDialog
from cxdesk.ui.invoices.invoices_tab import PAID_COLUMN, InvoicesTab
from cxdesk.ui.summary.summary_tab import SummaryTab
from tests.ui.test_invoices_tab import NOW, UTC, seed, select_row, texts
from tests.ui.test_summary_async import WAIT, Gate, idle


@pytest.fixture
def data(sqlite_db, make_customer, admin, accountant) -> tuple[int, int]:
    return seed(sqlite_db, make_customer, admin, accountant)


@pytest.fixture
def gate():
    g = Gate()
    yield g
    g.open.set()


def make_tab(ctx, customer: int, qtbot, model_tester, *, keep: bool = True) -> InvoicesTab:
    tab = InvoicesTab(ctx)
    if keep:
        qtbot.addWidget(tab)
    model_tester(tab.model)
    model_tester(tab.proxy)
    tab.set_customer(customer)
    tab.show()
    return tab


def test_another_writers_invoice_reaches_the_shown_list_and_only_marks_the_hidden_summary(
        threaded_ctx, data, sqlite_db, accountant, qtbot, model_tester):
    acme = data[0]
    tabs = QTabWidget()
    qtbot.addWidget(tabs)
    invoices_tab, summary_tab = InvoicesTab(threaded_ctx), SummaryTab(threaded_ctx)
    model_tester(invoices_tab.model)
    model_tester(invoices_tab.proxy)
    model_tester(summary_tab.model)
    tabs.addTab(invoices_tab, "Invoices")
    tabs.addTab(summary_tab, "Summary")
    tabs.show()
    for tab in (invoices_tab, summary_tab):
        tab.set_customer(acme)
    qtbot.waitUntil(lambda: invoices_tab.proxy.rowCount() == 1)
    assert summary_tab.stale and summary_tab.loads == 0  # hidden: not loaded yet

    invoices.generate_for_periods(sqlite_db, accountant, acme, "daily", [dt.datetime(2025, 2, 7, tzinfo=UTC)],
                                  now=NOW)  # another writer
    qtbot.waitUntil(lambda: invoices_tab.proxy.rowCount() == 2)
    assert texts(invoices_tab.view, 0)[:2] == ["3", "2025-02-07"]
    assert summary_tab.stale and summary_tab.loads == 0  # marked, not read

    tabs.setCurrentWidget(summary_tab)  # shown: now it loads
    qtbot.waitUntil(lambda: summary_tab.loads == 1)
    assert not summary_tab.stale and summary_tab.model.rowCount() == 5  # the days with calls: Jan 3, 4, 5, Feb 7, Mar 9


def test_the_pdf_is_drawn_off_the_gui_thread(threaded_ctx, data, qtbot, model_tester, monkeypatch, tmp_path):
    import threading

    from cxdesk import pdf_writer
    from cxdesk.ui.kit import dialogs

    threads = []
    draw = pdf_writer.document_pdf  # the printed e-invoice (einvoice/export.py draws it through this)

    def watched(*args):
        threads.append(threading.current_thread())
        return draw(*args)

    monkeypatch.setattr(pdf_writer, "document_pdf", watched)
    monkeypatch.setattr(dialogs, "save_file", lambda *a: str(tmp_path / "jan.pdf"))
    tab = make_tab(threaded_ctx, data[0], qtbot, model_tester)
    qtbot.waitUntil(lambda: tab.proxy.rowCount() == 1)
    select_row(tab)
    tab.export_current("pdf")
    qtbot.waitUntil(lambda: (tmp_path / "jan.pdf").exists(), timeout=WAIT * 1000)
    idle(threaded_ctx, qtbot)
    assert (tmp_path / "jan.pdf").read_bytes().startswith(b"%PDF")
    assert threads and threads[0] is not threading.main_thread()


def test_deleting_the_tab_while_it_loads(threaded_ctx, data, qtbot, model_tester, monkeypatch, gate):
    rows = invoices.list_invoices

    def held(*args, **kwargs):
        gate.hold()
        return rows(*args, **kwargs)

    monkeypatch.setattr(invoices, "list_invoices", held)
    shown = []
    monkeypatch.setattr(InvoicesTab, "show_data", lambda self, data: shown.append(data))
    tab = make_tab(threaded_ctx, data[0], qtbot, model_tester, keep=False)
    qtbot.waitUntil(gate.entered.is_set, timeout=WAIT * 1000)  # work starts once the window has painted
    assert all(d is None for d in shown)  # only the clearing when the customer was set
    shown.clear()
    tab.deleteLater()
    qtbot.waitUntil(lambda: not shiboken6.isValid(tab))
    gate.open.set()
    idle(threaded_ctx, qtbot)
    qtbot.wait(50)
    assert shown == []


def test_closing_the_dialog_while_it_loads(threaded_ctx, data, qtbot, model_tester, monkeypatch, gate):
    tab = make_tab(threaded_ctx, data[0], qtbot, model_tester)
    qtbot.waitUntil(lambda: tab.proxy.rowCount() == 1)
    select_row(tab)
    get = invoices.get_invoice

    def held(*args, **kwargs):
        gate.hold()
        return get(*args, **kwargs)

    monkeypatch.setattr(invoices, "get_invoice", held)
    shown = []
    monkeypatch.setattr(InvoiceDialog, "show_data", lambda self, data: shown.append(data))
    dialog = tab.open_current()
    qtbot.waitUntil(gate.entered.is_set, timeout=WAIT * 1000)  # work starts once the window has painted
    dialog.close()
    qtbot.waitUntil(lambda: not shiboken6.isValid(dialog))  # deleted on close, load still running
    gate.open.set()
    idle(threaded_ctx, qtbot)
    qtbot.wait(50)
    assert shown == []


def test_a_refused_paid_status_is_shown_and_the_list_shows_what_is_stored(threaded_ctx, data, sqlite_db,
                                                                          answers, qtbot, model_tester):
    tab = make_tab(threaded_ctx, data[0], qtbot, model_tester)
    qtbot.waitUntil(lambda: tab.proxy.rowCount() == 1)
    select_row(tab)
    row = tab.current()
    invoices.set_paid_status(sqlite_db, Actor(login="sam2", role="admin"), row.id, "Pending", row.version)
    tab.paid_actions["Paid"].trigger()  # against the version this window read
    qtbot.waitUntil(lambda: answers.errors != [])
    assert answers.errors[0].startswith("Invoice 1 was changed by sam2 at ")
    qtbot.waitUntil(lambda: texts(tab.view, 0)[PAID_COLUMN] == "Pending")
    assert tab.current() is not None and tab.current().id == row.id  # still selected after the reload
