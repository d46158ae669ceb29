"""The Audit Log window, the customer's audit tab and View Difference (pytest-qt)."""
from __future__ import annotations

import csv
import json
import sqlite3
from decimal import Decimal

import pytest
from PySide6.QtCore import QDate, QPoint, Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtTest import QAbstractItemModelTester

from cxdesk.models import Contact, Customer
from cxdesk.services import audit_log, jsondiff, options
from cxdesk.services.uow import unit_of_work
from cxdesk.ui.audit.audit_view import AuditLogModel, AuditLogWindow, CustomerAuditTab, DiffDialog, VIEW_DIFFERENCE


@pytest.fixture
def logged(sqlite_db, admin, staff, make_customer):
    """Entries: Acme (1), Beta (2), Bob of Acme (3), Acme's credit and tags (4, comment), Carol of Beta (5)."""
    acme = make_customer(sqlite_db, "Acme Telecom")
    beta = make_customer(sqlite_db, "Beta Voice")
    with unit_of_work(sqlite_db, staff) as uow:
        uow.add(Contact(customer_id=acme, name="Bob", email="bob@acme.example", email_key="bob@acme.example"))
    with unit_of_work(sqlite_db, staff, "asked by phone") as uow:
        c = uow.session.get(Customer, acme)
        c.credit, c.tags = Decimal("12.50"), "gold"
    with unit_of_work(sqlite_db, staff) as uow:
        uow.add(Contact(customer_id=beta, name="Carol", email="carol@beta.example", email_key="carol@beta.example"))
    return {"acme": acme, "beta": beta}


@pytest.fixture
def window(qtbot, make_ctx, sqlite_db, supervisor, logged):
    w = AuditLogWindow(make_ctx(sqlite_db, supervisor))
    qtbot.addWidget(w)
    w.show()
    return w


def shown(widget) -> list[list[str]]:
    model = widget.model
    return [[model.data(model.index(r, c)) for c in range(model.columnCount())] for r in range(model.rowCount())]


def column(widget, header: str) -> list[str]:
    model = widget.model
    col = next(c for c in range(model.columnCount()) if model.headerData(c, Qt.Orientation.Horizontal) == header)
    return [model.data(model.index(r, col)) for r in range(model.rowCount())]


def ids(widget) -> list[int]:
    return [widget.model.row_at(r).id for r in range(widget.model.rowCount())]


def test_the_log_shows_the_newest_entries_first(window):
    log = window.log
    model = log.model
    assert [model.headerData(c, Qt.Orientation.Horizontal) for c in range(model.columnCount())] == [
        "User", "IP", "Date / Time", "Primary Key", "Action", "Table", "Message", "Data"]
    assert ids(log) == [5, 4, 3, 2, 1]
    assert shown(log)[1][:6] == ["sam", "10.0.0.6", shown(log)[1][2], "1", "UPDATE", "customers"]
    assert column(log, "Data") == [VIEW_DIFFERENCE] * 5
    assert log.count.text() == "5 entries"
    assert log.view.accessibleName() and log.search.accessibleName() and log.verify_button.accessibleName()
    QAbstractItemModelTester(model, QAbstractItemModelTester.FailureReportingMode.Fatal)


def test_rows_are_fetched_as_the_user_scrolls(qtbot, make_ctx, sqlite_db, admin, logged, monkeypatch, qtmodeltester):
    monkeypatch.setattr(AuditLogModel, "PAGE", 2)
    model = AuditLogModel(make_ctx(sqlite_db, admin))
    assert model.rowCount() == 0 and not model.canFetchMore()
    model.set_query(audit_log.AuditQuery())
    assert model.rowCount() == 2 and model.canFetchMore()
    model.fetchMore()
    model.fetchMore()
    assert [model.row_at(r).id for r in range(model.rowCount())] == [5, 4, 3, 2, 1]
    assert not model.canFetchMore()
    model.set_query(audit_log.AuditQuery(search="acme"))
    qtmodeltester.check(model, force_py=True)
    assert {model.row_at(r).id for r in range(model.rowCount())} == {1, 3, 4}


def test_search_runs_on_enter_and_refresh_shows_new_entries(qtbot, window, sqlite_db, admin):
    log = window.log
    qtbot.keyClicks(log.search, "CAROL")
    assert ids(log) == [5, 4, 3, 2, 1]  # nothing before Enter
    qtbot.keyClick(log.search, Qt.Key.Key_Return)
    assert ids(log) == [5] and log.count.text() == "1 entries match the filters"
    log.search.clear()
    qtbot.keyClick(log.search, Qt.Key.Key_Return)
    with unit_of_work(sqlite_db, admin) as uow:
        uow.session.get(Customer, 2).channels = 30
    assert ids(log) == [5, 4, 3, 2, 1]
    qtbot.keyClick(log.view, Qt.Key.Key_F5)
    assert ids(log)[0] == 6


def test_clicking_a_header_sorts_in_sql(qtbot, window):
    log = window.log
    header = log.view.horizontalHeader()
    user = 0
    qtbot.mouseClick(header.viewport(), Qt.MouseButton.LeftButton,
                     pos=QPoint(header.sectionViewportPosition(user) + 5, header.height() // 2))
    first = [log.model.row_at(r).actor for r in range(log.model.rowCount())]
    assert first in (sorted(first), sorted(first, reverse=True)) and log.model.query.sort == "actor"
    log.view.sortByColumn(user, Qt.SortOrder.AscendingOrder)
    assert [log.model.row_at(r).actor for r in range(5)] == ["alice", "alice", "sam", "sam", "sam"]
    assert ids(log) == [1, 2, 3, 4, 5]
    log.view.sortByColumn(2, Qt.SortOrder.AscendingOrder)  # Date / Time: the order entries were written
    assert log.model.query.sort == "id" and ids(log) == [1, 2, 3, 4, 5]


def test_the_funnel_filters_by_values_and_text(qtbot, window):
    log = window.log
    action = 4
    header = log.header
    assert action in header.filterable
    with qtbot.waitSignal(header.funnel_clicked) as clicked:
        rect = header.funnel_rect(action)
        qtbot.mouseClick(header.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert clicked.args == [action] and log.model.query.sort == "id"  # no sort
    dialog = log.open_filter(action)
    qtbot.addWidget(dialog)
    values = [dialog.values.item(i).text() for i in range(dialog.values.count())]
    assert values == ["CREATE", "UPDATE"] and dialog.all.isChecked()
    dialog.values.item(0).setCheckState(Qt.CheckState.Unchecked)
    assert not dialog.all.isChecked()
    qtbot.mouseClick(dialog.apply_button, Qt.MouseButton.LeftButton)
    assert ids(log) == [4] and action in header.active
    dialog = log.open_filter(6)  # Message: text
    qtbot.addWidget(dialog)
    qtbot.keyClicks(dialog.text, "acme")
    assert [dialog.values.item(i).text() for i in range(dialog.values.count())] == [
        "Updated customer 1 (Acme Telecom): credit, tags"]
    dialog.apply_button.click()
    assert ids(log) == [4] and log.query.texts == {"message": "acme"}
    dialog = log.open_filter(action)
    qtbot.addWidget(dialog)
    dialog.clear_button.click()
    assert ids(log) == [4, 3, 1] and action not in header.active
    log.clear_filters()
    assert ids(log) == [5, 4, 3, 2, 1] and not header.active


def test_date_range(qtbot, window):
    log = window.log
    today = QDate.currentDate()
    log.date_from.setDate(today.addDays(1))
    log.use_from.setChecked(True)
    assert ids(log) == []
    log.date_from.setDate(today)
    log.use_to.setChecked(True)
    assert ids(log) == [5, 4, 3, 2, 1]
    log.date_to.setDate(today.addDays(-1))
    assert "after the end date" in log.count.text() and ids(log) == [5, 4, 3, 2, 1]


def test_customer_tab_shows_that_customers_entries(qtbot, make_ctx, sqlite_db, supervisor, logged):
    tab = CustomerAuditTab(make_ctx(sqlite_db, supervisor))
    qtbot.addWidget(tab)
    assert tab.model.rowCount() == 0
    tab.set_customer(logged["acme"])
    assert ids(tab) == [4, 3, 1]
    tab.set_customer(logged["beta"])
    assert ids(tab) == [5, 2]
    tab.search.setText("carol")
    qtbot.keyClick(tab.search, Qt.Key.Key_Return)
    assert ids(tab) == [5]
    tab.set_customer(None)
    assert tab.model.rowCount() == 0 and tab.verify_button.isVisibleTo(tab) and tab.export_button.isEnabled()


def test_customer_tab_is_only_offered_to_supervisors(qtbot, make_ctx, sqlite_db, accountant, supervisor):
    from cxdesk.ui.main_window import customer_tab_factories

    titles = [t for t, _ in customer_tab_factories(make_ctx(sqlite_db, accountant))]
    assert "Audit Log" not in titles
    assert "Audit Log" in [t for t, _ in customer_tab_factories(make_ctx(sqlite_db, supervisor))]


def test_customer_tab_leaves_f5_and_ctrl_f_to_the_main_window(qtbot, make_ctx, sqlite_db, supervisor, logged):
    tab = CustomerAuditTab(make_ctx(sqlite_db, supervisor))
    qtbot.addWidget(tab)
    assert not [a for a in tab.actions() if not a.shortcut().isEmpty()]
    tab.set_customer(logged["acme"])
    shown = tab.model.rowCount()
    tab.ctx.bus.data_changed.emit("audit_entries")  # what F5 in the main window sends
    assert tab.model.rowCount() == shown > 0


def test_comment_column_with_the_audit_comment_option(qtbot, window, sqlite_db, admin):
    options.set_value(sqlite_db, admin, "audit-comment", "on", comment="policy")
    window.log.reload()
    assert column(window.log, "Comment")[:2] == ["policy", ""]
    assert column(window.log, "Comment")[2] == "asked by phone"


def test_export(qtbot, window, answers, tmp_path):
    answers.save_path = str(tmp_path / "log.csv")
    window.log.search.setText("acme")
    window.log.search.returnPressed.emit()
    window.log.export_button.click()
    with open(tmp_path / "log.csv", encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.reader(fh))
    assert [r[0] for r in rows] == ["Entry ID", "4", "3", "1"]
    assert answers.infos == [f"Exported 3 entries to {tmp_path / 'log.csv'}."]
    answers.save_path = str(tmp_path / "log")
    window.log.export_button.click()
    assert (tmp_path / "log.xlsx").exists()
    answers.save_path = None
    window.log.export_button.click()
    assert len(answers.infos) == 2


def test_verify_integrity(qtbot, window, answers, sqlite_db):
    log = window.log
    assert log.verify_button.isVisible()
    log.verify_button.click()
    assert answers.infos == ["Audit log intact: 5 entries verified."]
    assert ids(log)[0] == 6 and log.model.row_at(0).table_name == "audit_entries"
    con = sqlite3.connect(sqlite_db.path)
    con.execute("DROP TRIGGER audit_entries_no_update")
    con.execute("UPDATE audit_entries SET message = 'nothing to see' WHERE id = 3")
    con.commit()
    con.close()
    log.verify_button.click()
    assert answers.errors == ["Audit log broken at entry 3: its content was changed after it was written. "
                              "Report this to the administrator."]


def test_verify_asks_for_a_reason_when_audit_comment_is_on(qtbot, window, answers, sqlite_db, admin):
    options.set_value(sqlite_db, admin, "audit-comment", "on", comment="policy")
    answers.text = [None]
    window.log.verify_button.click()
    assert answers.infos == [] and answers.questions
    answers.text = ["", "monthly review"]
    window.log.verify_button.click()
    assert answers.infos == ["Audit log intact: 6 entries verified."]
    assert window.log.model.row_at(0).comment == "monthly review"


def test_staff_cannot_verify(qtbot, make_ctx, sqlite_db, staff, logged):
    w = AuditLogWindow(make_ctx(sqlite_db, staff))
    qtbot.addWidget(w)
    w.show()
    assert not w.log.verify_button.isVisible()


def test_view_difference(qtbot, window, qsettings):
    log = window.log
    data = 7
    assert log.model.data(log.model.index(1, data)) == VIEW_DIFFERENCE
    dialog = log.show_difference(1)  # entry 4
    qtbot.addWidget(dialog)
    assert dialog.isVisible() and dialog.entry_id == 4
    left, right = dialog.left, dialog.right
    assert left.document().blockCount() == right.document().blockCount() == len(dialog.view.rows)
    paths = [dialog.paths.item(i).text() for i in range(dialog.paths.count())]
    assert paths == ["replace  credit", "replace  tags", "replace  updated_at", "replace  updated_by",
                     "replace  version"]
    assert left.isReadOnly() and right.isReadOnly()
    dialog.paths.setCurrentRow(1)
    line = dialog.view.path_rows["tags"]
    assert left.textCursor().blockNumber() == right.textCursor().blockNumber() == line
    assert left.textCursor().block().text().strip() == '"tags": "",'
    assert right.textCursor().block().text().strip() == '"tags": "gold",'
    assert len(left.extraSelections()) >= 5
    left.verticalScrollBar().setValue(left.verticalScrollBar().maximum())
    assert right.verticalScrollBar().value() == left.verticalScrollBar().value()
    dialog.only_changes.setChecked(True)
    folded = jsondiff.side_by_side(dialog.before, dialog.after, only_changes=True).rows
    assert dialog.view.rows == folded and left.document().blockCount() == len(folded)
    assert right.document().blockCount() == len(folded)
    text = dialog.copy_json()
    assert QGuiApplication.clipboard().text() == text
    with sqlite3.connect(window.log.ctx.db.path) as con:
        before, after = con.execute("SELECT before, after FROM audit_entries WHERE id = 4").fetchone()
    assert jsondiff.apply(json.loads(before), json.loads(text)) == json.loads(after)
    dialog.resize(700, 450)
    dialog.accept()
    assert qsettings.value("audit_diff/only_changes", type=bool) is True
    again = DiffDialog(log.ctx, 4, log)
    qtbot.addWidget(again)
    assert again.only_changes.isChecked() and (again.width(), again.height()) == (700, 450)


def test_rows_without_data_open_no_difference(qtbot, window, sqlite_db, staff):
    with unit_of_work(sqlite_db, staff) as uow:
        uow.record("LOGIN", "operators", "sam", "sam signed in")
    window.log.reload()
    assert window.log.model.data(window.log.model.index(0, 7)) == ""
    assert window.log.show_difference(0) is None


def test_window_geometry_is_restored(qtbot, make_ctx, sqlite_db, supervisor, logged):
    ctx = make_ctx(sqlite_db, supervisor)
    w = AuditLogWindow(ctx)
    qtbot.addWidget(w)
    w.show()
    w.resize(760, 430)
    size = w.size()
    w.close()
    again = AuditLogWindow(ctx)
    qtbot.addWidget(again)
    assert again.size() == size and size.height() == 430
