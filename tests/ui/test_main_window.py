"""The main window as staff use it: the customer list, search and status filter, the Main
tab header, new/edit customer, adjust balance, roles, and the layout restored on restart."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtWidgets import QApplication, QWidget
from sqlalchemy import select

from cxdesk.models import AuditEntry, Cdr, Customer
from cxdesk.services.demo import load_demo
from cxdesk.services.uow import unit_of_work
from cxdesk.ui.customers.customer_dialog import AdjustBalanceDialog, CustomerDialog
from cxdesk.ui.main_window import MainWindow


@pytest.fixture
def demo_db(sqlite_db, admin):
    load_demo(sqlite_db, admin, customers=6, days=2, calls_per_day=10, seed=3)
    return sqlite_db


@pytest.fixture
def window(make_ctx, demo_db, admin, qtbot, model_tester):
    ctx = make_ctx(demo_db, admin)
    w = MainWindow(ctx)
    qtbot.addWidget(w)
    model_tester(w.customers.model)
    model_tester(w.customers.proxy)
    w.show()
    return w


def visible_names(w: MainWindow) -> list[str]:
    p = w.customers.proxy
    return [p.data(p.index(r, 0)) for r in range(p.rowCount())]


def test_lists_customers_and_filters_by_search_and_status(window, qtbot):
    assert window.customers.model.rowCount() == 6
    names = visible_names(window)
    assert names == sorted(names, key=str.lower)
    target = names[2]
    qtbot.keyClicks(window.customers.search, target[:6].upper())
    assert target in visible_names(window)
    assert all(target[:6].lower() in n.lower() for n in visible_names(window))
    window.customers.search.clear()
    window.customers.status.setCurrentText("Penalty")
    statuses = {window.customers.proxy.data(window.customers.proxy.index(r, 1))
                for r in range(window.customers.proxy.rowCount())}
    assert statuses == {"Penalty"}
    assert "of 6 customers" in window.customers.count.text()


def test_status_bar_names_operator_and_database(window, demo_db):
    assert "alice" in window.operator_label.text() and "admin" in window.operator_label.text()
    assert str(demo_db.path) in window.database_label.text()


def test_selecting_a_customer_fills_the_main_tab_header(window, demo_db):
    assert window.placeholder.isVisible() and not window.tabs.isVisible()
    window.customers.view.selectRow(0)
    cid = window.current_customer_id()
    assert window.tabs.isVisible() and window.tabs.tabText(0) == "Main"
    with demo_db.read_session() as s:
        c = s.get(Customer, cid)
    header = window.customer_tab("Main").header
    assert header.values["Status"].text() == c.status
    assert header.values["Currency"].text() == c.currency
    assert header.values["Available"].text().replace(",", "").startswith(f"{(c.credit + c.debit_limit):.2f}")
    assert header.values["Channels"].text().endswith(f"/ {c.channels}")


def test_channels_in_use_and_peak_come_from_cdrs(make_ctx, sqlite_db, admin, make_customer, qtbot):
    cid = make_customer(sqlite_db, "Busy Lines", channels=30)
    now = dt.datetime.now(dt.timezone.utc)
    calls = [(now - dt.timedelta(minutes=5), 600), (now - dt.timedelta(minutes=2), 600),  # both still up
             (now - dt.timedelta(hours=3), 60), (now - dt.timedelta(hours=3, seconds=-10), 60),
             (now - dt.timedelta(hours=3, seconds=-20), 60)]  # three at once, 3 h ago
    with unit_of_work(sqlite_db, admin) as uow:
        uow.bulk_insert(Cdr, [{"callid": f"b{i}", "dt": t, "customer_id": cid, "duration": d,
                               "customer_duration": d, "customer_charge": Decimal("0.01")}
                              for i, (t, d) in enumerate(calls)], "calls")
    w = MainWindow(make_ctx(sqlite_db, admin))
    qtbot.addWidget(w)
    w.show()
    w.customers.select(cid)
    header = w.customer_tab("Main").header
    assert header.values["Channels"].text() == "2 / 30"
    assert header.values["Peak (24 h)"].text() == "3"


def test_new_customer_and_edit_keep_currency_fixed(window, qtbot, demo_db):
    window.new_customer()
    dialog = window.findChild(CustomerDialog)
    qtbot.keyClicks(dialog.name, "Zeta Voice AB")
    dialog.currency.setCurrentText("SEK")
    dialog.debit_limit.setText("250.50")
    dialog.save()
    assert not dialog.isVisible()
    assert "Zeta Voice AB" in visible_names(window)
    assert window.customers.view.selected_rows()[0].name == "Zeta Voice AB"
    header = window.customer_tab("Main").header
    header.edit()
    edit = header.findChild(CustomerDialog)
    assert not edit.currency.isEnabled()
    edit.name.setText("")
    edit.save()
    assert edit.isVisible() and "name" in edit.error.text().lower()
    edit.name.setText("Zeta Voice Nordic AB")
    edit.save()
    with demo_db.read_session() as s:
        c = s.scalars(select(Customer).where(Customer.name == "Zeta Voice Nordic AB")).one()
    assert c.currency == "SEK" and c.debit_limit == Decimal("250.50") and c.version == 2


def test_adjust_balance_is_audited_with_reason(window, demo_db):
    window.customers.view.selectRow(0)
    cid = window.current_customer_id()
    with demo_db.read_session() as s:
        before = s.get(Customer, cid).credit
    dialog = AdjustBalanceDialog(window.ctx, cid, "EUR", window)
    dialog.open()
    dialog.amount.setText("12.3x")
    dialog.reason.setText("Payment")
    dialog.save()
    assert dialog.error.isVisible() and "12.3x" in dialog.error.text()
    dialog.amount.setText("-12.34")
    dialog.reason.setText("")
    dialog.save()
    assert "reason" in dialog.error.text().lower()
    dialog.reason.setText("Refund for outage ticket 881")
    dialog.save()
    with demo_db.read_session() as s:
        assert s.get(Customer, cid).credit == before - Decimal("12.34")
        entry = s.scalars(select(AuditEntry).order_by(AuditEntry.id.desc())).first()
    assert "Refund for outage ticket 881" in entry.message and entry.action == "UPDATE"


def test_staff_cannot_reach_settings_or_the_audit_log(make_ctx, demo_db, staff, qtbot):
    w = MainWindow(make_ctx(demo_db, staff))
    qtbot.addWidget(w)
    w.show()
    assert not w.settings_action.isEnabled()
    assert not w.audit_action.isEnabled()
    assert w.new_action.isEnabled()
    assert "Audit Log" not in [w.tabs.tabText(i) for i in range(w.tabs.count())]
    assert w.customer_tab("Main").header.audit_button.isHidden()


def test_view_audit_log_opens_the_customers_entries(window, demo_db):
    window.customers.view.selectRow(0)
    cid = window.current_customer_id()
    window.customer_tab("Main").header.audit_button.click()
    assert window.tabs.tabText(window.tabs.currentIndex()) == "Audit Log"
    audit = window.customer_tab("Audit Log")
    assert audit.customer_id == cid
    assert audit.log.model.rowCount() >= 1  # at least the customer's CREATE


def test_layout_is_restored_on_next_start(make_ctx, demo_db, admin, qtbot, qsettings):
    ctx = make_ctx(demo_db, admin)
    first = MainWindow(ctx)
    qtbot.addWidget(first)
    first.show()
    width = max(first.minimumSizeHint().width(), 701)  # the offscreen screen is 800 x 600
    first.resize(width, 501)
    first.splitter.setSizes([300, 401])
    first.customers.view.horizontalHeader().resizeSection(0, 222)
    sizes = first.splitter.sizes()
    first.close()
    second = MainWindow(ctx)
    qtbot.addWidget(second)
    second.show()
    assert (second.size().width(), second.size().height()) == (width, 501)
    assert second.customers.view.horizontalHeader().sectionSize(0) == 222
    assert second.splitter.sizes() == sizes


def tab_titled(w: MainWindow, title: str):
    return w.customer_tab(title)


def test_a_click_loads_only_the_tab_on_screen_and_f5_reloads_each_shown_view_once(window, demo_db, qtbot):
    main, summary = tab_titled(window, "Main"), tab_titled(window, "Summary")
    window.customers.view.selectRow(0)
    cid = window.current_customer_id()
    parts = (main.header, main.contacts, main.numbers)
    assert [p.customer_id for p in parts] == [cid] * 3
    loaded = [p.loads for p in parts]
    assert all(n >= 1 for n in loaded)
    assert summary.loads == 0 and summary.stale  # hidden: only marked
    window.customers.view.selectRow(1)
    assert summary.loads == 0 and summary.customer_id == window.current_customer_id()
    before = [p.loads for p in parts] + [window.customers.loads]
    window.refresh_data()
    loads = lambda: [p.loads for p in parts] + [window.customers.loads]  # noqa: E731
    qtbot.waitUntil(lambda: loads() == [n + 1 for n in before])  # one view per event-loop turn
    assert summary.loads == 0
    window.show_customer_tab("Summary")
    assert summary.loads == 1 and not summary.stale


def test_a_save_in_this_window_refreshes_the_list_and_header_without_f5(window, demo_db, admin):
    window.customers.view.selectRow(0)
    cid = window.current_customer_id()
    header = tab_titled(window, "Main").header
    dialog = AdjustBalanceDialog(window.ctx, cid, "EUR", window)
    dialog.open()
    dialog.amount.setText("1000")
    dialog.reason.setText("Top-up")
    dialog.save()
    with demo_db.read_session() as s:
        balance = s.get(Customer, cid).credit
    shown = header.values["Balance"].text().replace(",", "")
    assert shown.startswith(f"{balance:.2f}")
    row = next(r for r in window.customers.model.rows() if r.id == cid)
    assert row.balance == balance


def test_the_last_customer_is_selected_again_on_the_next_start(make_ctx, demo_db, admin, qtbot):
    ctx = make_ctx(demo_db, admin)
    first = MainWindow(ctx)
    qtbot.addWidget(first)
    first.show()
    first.customers.view.selectRow(3)
    chosen = first.current_customer_id()
    first.close()
    second = MainWindow(ctx)
    qtbot.addWidget(second)
    second.show()
    assert second.current_customer_id() == chosen
    assert tab_titled(second, "Main").header.customer_id == chosen


def test_threaded_selection_arrives_without_blocking_and_a_closed_window_gets_no_callback(
        make_ctx, demo_db, admin, qtbot, monkeypatch):
    import threading

    from cxdesk.services import customers as svc

    release = threading.Event()
    real = svc.header_figures

    def slow(session, customer_id, now=None):
        release.wait(10)
        return real(session, customer_id, now)

    monkeypatch.setattr(svc, "header_figures", slow)
    ctx = make_ctx(demo_db, admin, inline=False)
    w = MainWindow(ctx)
    qtbot.addWidget(w)
    w.show()
    qtbot.waitUntil(lambda: w.customers.model.rowCount() == 6)
    w.customers.view.selectRow(0)
    header = tab_titled(w, "Main").header
    assert header.values["Status"].text() == "—"  # still loading, the GUI thread is free
    assert ctx.ops.busy
    w.close()
    w.deleteLater()
    qtbot.waitUntil(lambda: not __import__("shiboken6").isValid(header))
    release.set()
    assert ctx.ops.wait(10_000)
    qtbot.waitUntil(lambda: not ctx.ops.busy)  # the result was dropped, no error, no crash


def test_the_application_icon_loads_from_the_package(qtbot):
    from cxdesk.ui.kit import resources

    icon = resources.app_icon()
    assert icon is not None and not icon.pixmap(64, 64).isNull()


def test_showing_each_customer_tab_keeps_the_customer_list_width(window, qtbot):
    """At 1280x800 no tab is wider than the right side: showing one never narrows the
    customer list (the Invoices tab's button row once did, cutting Balance by 80 pixels)."""
    window.resize(1280, 800)
    qtbot.waitExposed(window)
    window.customers.view.selectRow(0)
    before = window.splitter.sizes()
    for i in range(window.tabs.count()):
        window.tabs.setCurrentIndex(i)
        qtbot.wait(20)  # the layout settles on the next turn of the event loop
        assert window.splitter.sizes() == before, window.tabs.tabText(i)
    view = window.customers.view
    header = view.horizontalHeader()
    right_edge = max(header.sectionViewportPosition(c) + header.sectionSize(c) for c in range(3))
    assert right_edge <= view.viewport().width()  # Name, Status and Balance all in view


class _WindowsShown(QObject):
    """Every widget shown as a window of its own while installed."""

    def __init__(self) -> None:
        super().__init__()
        self.shown: list[str] = []

    def eventFilter(self, obj, event) -> bool:  # noqa: N802 - Qt's name
        if (event.type() == QEvent.Type.Show and isinstance(obj, QWidget) and obj.isWindow()
                and obj.windowType() == Qt.WindowType.Window):
            self.shown.append(type(obj).__name__)
        return False


def test_building_the_window_and_its_tabs_flashes_no_window_and_keeps_focus(make_ctx, demo_db, admin, qtbot):
    """A widget made visible before it has a parent opens as a window of its own for a moment;
    the audit log's Verify button did, and the main window lost activation and keyboard focus
    each time the Audit Log tab was first shown."""
    spy = _WindowsShown()
    QApplication.instance().installEventFilter(spy)
    try:
        window = MainWindow(make_ctx(demo_db, admin))
        qtbot.addWidget(window)
        window.show()
        window.activateWindow()
        qtbot.waitActive(window)
        window.customers.view.setFocus()
        window.customers.view.selectRow(0)
        for i in range(window.tabs.count()):
            window.tabs.setCurrentIndex(i)
            qtbot.wait(20)
            assert QApplication.activeWindow() is window, window.tabs.tabText(i)
            assert QApplication.focusWidget() is window.customers.view, window.tabs.tabText(i)
    finally:
        QApplication.instance().removeEventFilter(spy)
    assert spy.shown == ["MainWindow"]
