"""The main window as staff use it: the customer list, search and status filter, the Main
tab header, new/edit customer, adjust balance, roles, and the layout restored on restart."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from PySide6.QtTest import QAbstractItemModelTester
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
def window(make_ctx, demo_db, admin, qtbot):
    ctx = make_ctx(demo_db, admin)
    w = MainWindow(ctx)
    qtbot.addWidget(w)
    w.show()
    QAbstractItemModelTester(w.customers.model, QAbstractItemModelTester.FailureReportingMode.Fatal)
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
    header = window.tabs.widget(0).header
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
    w.customers.select(cid)
    header = w.tabs.widget(0).header
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
    header = window.tabs.widget(0).header
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
    assert not w.settings_action.isEnabled()
    assert not w.audit_action.isEnabled()
    assert w.new_action.isEnabled()
    assert "Audit Log" not in [w.tabs.tabText(i) for i in range(w.tabs.count())]
    assert w.tabs.widget(0).header.audit_button.isHidden()


def test_view_audit_log_opens_the_customers_entries(window, demo_db):
    window.customers.view.selectRow(0)
    cid = window.current_customer_id()
    window.tabs.widget(0).header.audit_button.click()
    assert window.tabs.tabText(window.tabs.currentIndex()) == "Audit Log"
    audit = window.tabs.currentWidget()
    assert audit.customer_id == cid
    assert audit.model.rowCount() >= 1  # at least the customer's CREATE


def test_layout_is_restored_on_next_start(make_ctx, demo_db, admin, qtbot, qsettings):
    ctx = make_ctx(demo_db, admin)
    first = MainWindow(ctx)
    qtbot.addWidget(first)
    first.show()
    first.resize(701, 501)  # the offscreen screen is 800 x 600
    first.splitter.setSizes([300, 401])
    first.customers.view.horizontalHeader().resizeSection(0, 222)
    sizes = first.splitter.sizes()
    first.close()
    second = MainWindow(ctx)
    qtbot.addWidget(second)
    second.show()
    assert (second.size().width(), second.size().height()) == (701, 501)
    assert second.customers.view.horizontalHeader().sectionSize(0) == 222
    assert second.splitter.sizes() == sizes
