"""The Audit Log window, the customer's audit tab and View Difference (pytest-qt)."""
from __future__ import annotations

import csv
import json
import sqlite3
import threading
from decimal import Decimal

import pytest
import shiboken6
from PySide6.QtCore import QDate, QPoint, QRect, Qt
from PySide6.QtGui import QGuiApplication, QImage, QPalette
from PySide6.QtWidgets import QTabWidget, QWidget

from cxdesk.models import Contact, Customer
from cxdesk.services import audit_log, customers, jsondiff, options
from cxdesk.services.changes import ChangeSet
from cxdesk.services.uow import unit_of_work
from cxdesk.ui.audit.audit_log import (
    AuditLogModel, AuditLogWindow, ColumnFilterDialog, CustomerAuditTab, VIEW_DIFFERENCE,
)
from cxdesk.ui.audit.diff_dialog import DiffDialog

USER, DATE, ACTION, MESSAGE, DATA = 0, 2, 4, 6, 7


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


@pytest.fixture
def calls(monkeypatch):
    """Records the thread of every audit_log.page call, the row it reads after and how many
    next pages run at once; ``gate`` (when set to an Event) makes the calls wait for it,
    ``entered`` is set when one is waiting."""

    class Calls:
        def __init__(self) -> None:
            self.threads: list[str] = []
            self.afters: list[int | None] = []
            self.gate: threading.Event | None = None
            self.entered = threading.Event()
            self.running = 0
            self.most = 0
            self.lock = threading.Lock()

    rec = Calls()
    real = audit_log.page

    def page(session, q, *args, **kwargs):
        with rec.lock:
            rec.threads.append(threading.current_thread().name)
            after = kwargs.get("after")
            rec.afters.append(None if after is None else after.id)
            if after is not None:  # a next page
                rec.running += 1
                rec.most = max(rec.most, rec.running)
        try:
            if rec.gate is not None:
                rec.entered.set()
                rec.gate.wait(10)
            return real(session, q, *args, **kwargs)
        finally:
            if after is not None:
                with rec.lock:
                    rec.running -= 1

    monkeypatch.setattr(audit_log, "page", page)
    return rec


def shown(widget) -> list[list[str]]:
    model = widget.model
    return [[model.data(model.index(r, c)) for c in range(model.columnCount())] for r in range(model.rowCount())]


def column(widget, header: str) -> list[str]:
    model = widget.model
    col = next(c for c in range(model.columnCount()) if model.headerData(c, Qt.Orientation.Horizontal) == header)
    return [model.data(model.index(r, col)) for r in range(model.rowCount())]


def ids(widget) -> list[int]:
    return [widget.model.row_at(r).id for r in range(widget.model.rowCount())]


def values(dialog: ColumnFilterDialog) -> list[str]:
    return [dialog.values.item(i).text() for i in range(dialog.values.count())]


def log_entries(db, actor, n: int) -> None:
    """``n`` more entries without a customer, in one commit."""
    with unit_of_work(db, actor) as uow:
        for i in range(n):
            uow.record("LOGIN", "operators", actor.login, f"{actor.login} signed in ({i})")


# -- what the log shows --------------------------------------------------------------------


def test_the_log_shows_the_newest_entries_first(window, model_tester):
    log = window.log
    model = log.model
    model_tester(model)
    assert [model.headerData(c, Qt.Orientation.Horizontal) for c in range(model.columnCount())] == [
        "User", "IP", "Date / Time", "Primary Key", "Action", "Table", "Message", "Data"]
    assert ids(log) == [5, 4, 3, 2, 1]
    assert shown(log)[1][:6] == ["sam", "10.0.0.6", shown(log)[1][2], "1", "UPDATE", "customers"]
    assert column(log, "Data") == [VIEW_DIFFERENCE] * 5
    assert log.count.text() == "5 entries"
    assert log.view.accessibleName() and log.search.accessibleName() and log.verify_button.accessibleName()


def test_counts_say_entry_or_entries(qtbot, window):
    log = window.log
    log.search.setText("CAROL")
    log.search.returnPressed.emit()
    assert ids(log) == [5] and log.count.text() == "1 entry matches the filters"
    log.search.setText("acme")
    log.search.returnPressed.emit()
    assert log.count.text() == "3 entries match the filters"


def test_message_takes_the_free_width_and_data_is_narrow(qtbot, window):
    view, header = window.log.view, window.log.header
    widths = [header.sectionSize(c) for c in range(header.count())]
    assert sum(widths) == view.viewport().width()  # nothing left over, nothing cut
    assert widths[MESSAGE] == max(widths)
    assert widths[DATA] == max(view.sizeHintForColumn(DATA), header.sectionSizeHint(DATA)) < widths[MESSAGE] / 2


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


def test_a_page_that_fails_can_be_asked_for_again(qtbot, make_ctx, sqlite_db, admin, logged, monkeypatch, answers):
    from cxdesk.errors import DatabaseUnavailable

    monkeypatch.setattr(AuditLogModel, "PAGE", 2)
    real = audit_log.page
    failures = [DatabaseUnavailable("The database server cannot be reached; try again in a moment.")]

    def flaky(session, q, *args, **kwargs):
        if kwargs.get("after") is not None and failures:
            raise failures.pop()
        return real(session, q, *args, **kwargs)

    monkeypatch.setattr(audit_log, "page", flaky)
    model = AuditLogModel(make_ctx(sqlite_db, admin))
    model.set_query(audit_log.AuditQuery())
    model.fetchMore()
    assert model.rowCount() == 2 and answers.errors == ["The database server cannot be reached; try again in a moment."]
    assert model.canFetchMore()
    model.fetchMore()
    assert [model.row_at(r).id for r in range(model.rowCount())] == [5, 4, 3, 2]


def test_search_runs_on_enter_and_a_change_shows_without_refresh(qtbot, window, sqlite_db, admin):
    log = window.log
    qtbot.keyClicks(log.search, "CAROL")
    assert ids(log) == [5, 4, 3, 2, 1]  # nothing before Enter
    qtbot.keyClick(log.search, Qt.Key.Key_Return)
    assert ids(log) == [5] and log.count.text() == "1 entry matches the filters"
    log.search.clear()
    qtbot.keyClick(log.search, Qt.Key.Key_Return)
    with unit_of_work(sqlite_db, admin) as uow:
        uow.session.get(Customer, 2).channels = 30
    qtbot.waitUntil(lambda: ids(log) == [6, 5, 4, 3, 2, 1])
    assert log.count.text() == "6 entries"
    loads = window.loads
    qtbot.keyClick(log.view, Qt.Key.Key_F5)
    assert window.loads == loads + 1 and ids(log)[0] == 6


def test_clicking_a_header_sorts_in_sql(qtbot, window):
    log = window.log
    header = log.view.horizontalHeader()
    qtbot.mouseClick(header.viewport(), Qt.MouseButton.LeftButton,
                     pos=QPoint(header.sectionViewportPosition(USER) + 5, header.height() // 2))
    first = [log.model.row_at(r).actor for r in range(log.model.rowCount())]
    assert first in (sorted(first), sorted(first, reverse=True)) and log.model.query.sort == "actor"
    log.view.sortByColumn(USER, Qt.SortOrder.AscendingOrder)
    assert [log.model.row_at(r).actor for r in range(5)] == ["alice", "alice", "sam", "sam", "sam"]
    assert ids(log) == [1, 2, 3, 4, 5]
    log.view.sortByColumn(DATE, Qt.SortOrder.AscendingOrder)  # Date / Time: the order entries were written
    assert log.model.query.sort == "id" and ids(log) == [1, 2, 3, 4, 5]


def test_the_funnel_filters_by_values_and_text(qtbot, window):
    log = window.log
    header = log.header
    assert ACTION in header.filterable
    with qtbot.waitSignal(header.funnel_clicked) as clicked:
        rect = header.funnel_rect(ACTION)
        qtbot.mouseClick(header.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert clicked.args == [ACTION] and log.model.query.sort == "id"  # no sort
    dialog = log.open_filter(ACTION)
    assert values(dialog) == ["CREATE", "UPDATE"] and dialog.all.isChecked()
    dialog.values.item(0).setCheckState(Qt.CheckState.Unchecked)
    assert not dialog.all.isChecked()
    qtbot.mouseClick(dialog.apply_button, Qt.MouseButton.LeftButton)
    assert ids(log) == [4] and ACTION in header.active
    dialog = log.open_filter(MESSAGE)  # Message: text
    qtbot.keyClicks(dialog.text, "acme")
    qtbot.waitUntil(lambda: dialog.loads == 2)  # the first list, then one for "acme": not one per key
    qtbot.wait(ColumnFilterDialog.TYPING_DELAY_MS + 50)
    assert dialog.loads == 2 and values(dialog) == ["Updated customer 1 (Acme Telecom): credit, tags"]
    dialog.apply_button.click()
    assert ids(log) == [4] and log.query.texts == {"message": "acme"}
    dialog = log.open_filter(ACTION)
    dialog.clear_button.click()
    assert ids(log) == [4, 3, 1] and ACTION not in header.active
    log.clear_filters()
    assert ids(log) == [5, 4, 3, 2, 1] and not header.active


def test_dialogs_opened_with_open_are_deleted_on_close(qtbot, window):
    log = window.log
    funnel = log.open_filter(ACTION)
    diff = log.show_difference(0)
    assert funnel.isVisible() and diff.isVisible()
    funnel.reject()
    diff.accept()
    qtbot.waitUntil(lambda: not shiboken6.isValid(funnel) and not shiboken6.isValid(diff))


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


# -- the funnel header -----------------------------------------------------------------------


def _changed(a: QImage, b: QImage) -> QRect:
    """The bounding rectangle of the pixels that differ between two renderings."""
    box = QRect()
    for y in range(a.height()):
        for x in range(a.width()):
            if a.pixel(x, y) != b.pixel(x, y):
                box = box.united(QRect(x, y, 1, 1))
    return box


def test_the_sort_arrow_and_the_funnel_do_not_overlap(qtbot, window):
    log = window.log
    header = log.header
    log.view.sortByColumn(ACTION, Qt.SortOrder.AscendingOrder)
    dialog = log.open_filter(ACTION)
    dialog.values.item(0).setCheckState(Qt.CheckState.Unchecked)
    dialog.apply_button.click()
    assert header.sortIndicatorSection() == ACTION and ACTION in header.active
    header.resizeSection(ACTION, 90)
    funnel, arrow = header.funnel_rect(ACTION), header.sort_indicator_rect(ACTION)
    section = header.section_rect(ACTION)
    assert not funnel.isEmpty() and not arrow.isEmpty()
    assert section.contains(funnel) and section.contains(arrow)
    assert not funnel.intersects(arrow)

    sorted_filtered = header.grab().toImage()
    header.setSortIndicatorShown(False)
    unsorted = header.grab().toImage()
    header.setSortIndicatorShown(True)
    drawn_arrow = _changed(sorted_filtered, unsorted)
    assert not drawn_arrow.isEmpty() and section.contains(drawn_arrow)
    assert not drawn_arrow.intersects(funnel)  # the arrow is painted left of the funnel

    header.active.discard(ACTION)
    header.viewport().update()
    outlined = header.grab().toImage()
    drawn_fill = _changed(sorted_filtered, outlined)
    assert funnel.contains(drawn_fill) and drawn_fill.width() >= 4 and drawn_fill.height() >= 4
    highlight = header.palette().color(QPalette.ColorRole.Highlight).rgb()
    centre = drawn_fill.center()
    assert sorted_filtered.pixel(centre.x(), centre.y() - 1) == highlight  # a filled funnel
    assert outlined.pixel(centre.x(), centre.y() - 1) != highlight


# -- the customer's tab ----------------------------------------------------------------------


def test_customer_tab_shows_that_customers_entries(qtbot, make_ctx, sqlite_db, supervisor, logged):
    tab = CustomerAuditTab(make_ctx(sqlite_db, supervisor))
    qtbot.addWidget(tab)
    tab.show()
    assert tab.log.model.rowCount() == 0
    tab.set_customer(logged["acme"])
    assert ids(tab.log) == [4, 3, 1]
    tab.set_customer(logged["beta"])
    assert ids(tab.log) == [5, 2] and tab.log.count.text() == "2 entries"
    tab.search.setText("carol")
    qtbot.keyClick(tab.search, Qt.Key.Key_Return)
    assert ids(tab.log) == [5]
    tab.set_customer(None)
    assert tab.log.model.rowCount() == 0 and tab.log.count.text() == ""
    tab.log.refresh_button.click()  # nothing to refresh without a customer: not every customer's log
    assert tab.log.model.rowCount() == 0
    assert tab.log.verify_button.isVisibleTo(tab) and tab.log.export_button.isEnabled()


def test_customer_tab_is_only_offered_to_supervisors(qtbot, make_ctx, sqlite_db, accountant, supervisor):
    from cxdesk.ui.customer_tabs import customer_tab_factories

    titles = [t for t, _ in customer_tab_factories(make_ctx(sqlite_db, accountant))]
    assert "Audit Log" not in titles
    assert "Audit Log" in [t for t, _ in customer_tab_factories(make_ctx(sqlite_db, supervisor))]


def test_customer_tab_leaves_f5_and_ctrl_f_to_the_main_window(qtbot, make_ctx, sqlite_db, supervisor, logged):
    tab = CustomerAuditTab(make_ctx(sqlite_db, supervisor))
    qtbot.addWidget(tab)
    tab.show()
    assert not [a for w in [tab, *tab.findChildren(QWidget)] for a in w.actions()
                if not a.shortcut().isEmpty() and a.shortcut().toString() in ("F5", "Ctrl+F")]
    tab.set_customer(logged["acme"])
    shown_rows, loads = tab.log.model.rowCount(), tab.loads
    tab.ctx.changes.publish(ChangeSet((), everything=True))  # what F5 in the main window sends
    qtbot.waitUntil(lambda: tab.loads == loads + 1)  # on a later event-loop turn
    assert tab.log.model.rowCount() == shown_rows > 0


# -- comment, export, verify ---------------------------------------------------------------


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


def test_an_export_that_cannot_be_written_says_what_to_do(qtbot, window, answers, tmp_path):
    answers.save_path = str(tmp_path / "no such folder" / "log.csv")
    window.log.export_button.click()
    assert answers.infos == []
    assert answers.errors == [f"The folder {tmp_path / 'no such folder'} does not exist; choose another place."]


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


# -- View Difference ---------------------------------------------------------------------------


def test_view_difference(qtbot, window, qsettings, sqlite_db):
    log = window.log
    assert log.model.data(log.model.index(1, DATA)) == VIEW_DIFFERENCE
    dialog = log.show_difference(1)  # entry 4
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
    with sqlite3.connect(sqlite_db.path) as con:
        before, after = con.execute("SELECT before, after FROM audit_entries WHERE id = 4").fetchone()
    assert jsondiff.apply(json.loads(before), json.loads(text)) == json.loads(after)
    dialog.resize(700, 450)
    dialog.accept()
    assert qsettings.value("audit_diff/only_changes", type=bool) is True
    again = DiffDialog(log.ctx, 4, log)
    assert again.only_changes.isChecked() and (again.width(), again.height()) == (700, 450)


def test_a_missing_entry_says_so(qtbot, window):
    dialog = DiffDialog(window.log.ctx, 999, window.log)
    dialog.open()
    assert "There is no audit entry 999" in dialog.heading.text() and not dialog.copy_button.isEnabled()


def test_rows_without_data_open_no_difference(qtbot, window, sqlite_db, staff):
    with unit_of_work(sqlite_db, staff) as uow:
        uow.record("LOGIN", "operators", "sam", "sam signed in")
    window.log.reload()
    assert window.log.model.data(window.log.model.index(0, DATA)) == ""
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


# -- the real asynchronous runner ------------------------------------------------------------


def test_the_first_page_arrives_asynchronously(qtbot, threaded_ctx, logged, calls):
    calls.gate = threading.Event()
    w = AuditLogWindow(threaded_ctx)
    qtbot.addWidget(w)
    w.show()
    qtbot.waitUntil(calls.entered.is_set, timeout=5000)  # started once the window has painted
    assert w.log.model.rowCount() == 0 and w.loads == 0  # the GUI thread did not wait for it
    calls.gate.set()
    qtbot.waitUntil(lambda: ids(w.log) == [5, 4, 3, 2, 1])
    qtbot.waitUntil(lambda: w.log.count.text() == "5 entries")
    assert calls.threads and threading.main_thread().name not in calls.threads


def test_scrolling_fetches_the_next_page_off_the_gui_thread(qtbot, threaded_ctx, sqlite_db, admin, logged,
                                                            calls, monkeypatch, model_tester):
    monkeypatch.setattr(AuditLogModel, "PAGE", 20)
    log_entries(sqlite_db, admin, 55)  # 60 entries: three pages
    w = AuditLogWindow(threaded_ctx)
    qtbot.addWidget(w)
    model = w.log.model
    model_tester(model)
    w.resize(900, 300)
    w.show()
    qtbot.waitUntil(lambda: model.rowCount() >= 20 and w.log.count.text() == "60 entries")
    qtbot.wait(100)
    threaded_ctx.ops.wait()
    first = model.rowCount()
    assert first < 60 and model.canFetchMore()  # only what fills the window is read
    w.log.view.scrollToBottom()
    qtbot.waitUntil(lambda: model.rowCount() > first)
    while model.canFetchMore():
        w.log.view.scrollToBottom()
        qtbot.wait(20)
    assert ids(w.log) == list(range(60, 0, -1))
    assert threading.main_thread().name not in calls.threads
    assert calls.most == 1  # one next page in flight at a time
    # each page after the last row shown; the third was full, so a fourth (empty) one ends the log
    assert [a for a in calls.afters if a is not None] == [41, 21, 1]


def test_the_model_stays_valid_across_pages_sorting_and_search(qtbot, threaded_ctx, sqlite_db, admin, logged,
                                                               monkeypatch, model_tester):
    monkeypatch.setattr(AuditLogModel, "PAGE", 2)
    w = AuditLogWindow(threaded_ctx)
    qtbot.addWidget(w)
    model = w.log.model
    model_tester(model)
    w.show()
    qtbot.waitUntil(lambda: ids(w.log) == [5, 4, 3, 2, 1])  # first page, then the next ones
    w.log.view.sortByColumn(USER, Qt.SortOrder.AscendingOrder)
    qtbot.waitUntil(lambda: ids(w.log) == [1, 2, 3, 4, 5])
    w.log.search.setText("acme")
    w.log.search.returnPressed.emit()
    qtbot.waitUntil(lambda: sorted(ids(w.log)) == [1, 3, 4])
    qtbot.waitUntil(lambda: w.log.count.text() == "3 entries match the filters")


def test_a_change_elsewhere_shows_in_the_open_window_and_tab(qtbot, threaded_ctx, sqlite_db, admin, logged):
    w = AuditLogWindow(threaded_ctx)
    tab = CustomerAuditTab(threaded_ctx)
    for widget in (w, tab):
        qtbot.addWidget(widget)
        widget.show()
    tab.set_customer(logged["acme"])
    qtbot.waitUntil(lambda: ids(w.log) == [5, 4, 3, 2, 1] and ids(tab.log) == [4, 3, 1])
    qtbot.waitUntil(lambda: tab.log.count.text() == "3 entries")
    resets, inserted = [], []
    w.log.model.modelReset.connect(lambda: resets.append(1))
    w.log.model.rowsInserted.connect(lambda _p, first, last: inserted.append((first, last)))

    customers.adjust_balance(sqlite_db, admin, logged["acme"], "5", "top-up by phone")  # another writer

    qtbot.waitUntil(lambda: ids(w.log)[:2] == [6, 5] and ids(tab.log) == [6, 4, 3, 1])
    assert inserted == [(0, 0)] and resets == []  # added at the top, the rows shown stay
    qtbot.waitUntil(lambda: w.log.count.text() == "6 entries" and tab.log.count.text() == "4 entries")
    tab_loads = tab.loads
    customers.adjust_balance(sqlite_db, admin, logged["beta"], "5", "top-up by phone")
    qtbot.waitUntil(lambda: ids(w.log)[0] == 7)
    assert tab.loads == tab_loads and ids(tab.log) == [6, 4, 3, 1]  # not this customer's


def test_a_hidden_tab_becomes_stale_and_reloads_when_shown(qtbot, threaded_ctx, sqlite_db, admin, logged):
    tabs = QTabWidget()
    qtbot.addWidget(tabs)
    tab = CustomerAuditTab(threaded_ctx)
    tabs.addTab(QWidget(), "Main")
    tabs.addTab(tab, "Audit Log")
    tabs.show()
    tab.set_customer(logged["acme"])
    customers.adjust_balance(sqlite_db, admin, logged["acme"], "5", "top-up by phone")
    qtbot.wait(200)
    assert tab.stale and tab.loads == 0 and tab.log.model.rowCount() == 0
    tabs.setCurrentIndex(1)
    qtbot.waitUntil(lambda: ids(tab.log) == [6, 4, 3, 1])
    assert not tab.stale and tab.loads == 1


def test_deleting_the_window_while_a_page_loads(qtbot, threaded_ctx, logged, calls, monkeypatch):
    arrived = []
    real_receive, real_show = AuditLogModel.receive, AuditLogWindow.show_data
    monkeypatch.setattr(AuditLogModel, "receive", lambda self, page: (arrived.append(page), real_receive(self, page)))
    monkeypatch.setattr(AuditLogWindow, "show_data", lambda self, data: (arrived.append(data), real_show(self, data)))
    calls.gate = threading.Event()
    w = AuditLogWindow(threaded_ctx)
    w.show()
    qtbot.waitUntil(calls.entered.is_set, timeout=5000)  # started once the window has painted
    w.close()
    w.deleteLater()
    qtbot.waitUntil(lambda: not shiboken6.isValid(w))
    calls.gate.set()
    assert threaded_ctx.ops.wait(5000)
    qtbot.wait(50)
    assert arrived == []


def test_deleting_the_window_while_the_funnel_values_load(qtbot, threaded_ctx, logged, monkeypatch):
    gate, entered, shown_values = threading.Event(), threading.Event(), []
    real = audit_log.distinct_values

    def slow(*args, **kwargs):
        entered.set()
        gate.wait(10)
        return real(*args, **kwargs)

    w = AuditLogWindow(threaded_ctx)
    w.show()
    qtbot.waitUntil(lambda: w.log.model.rowCount() == 5)
    monkeypatch.setattr(audit_log, "distinct_values", slow)
    monkeypatch.setattr(ColumnFilterDialog, "_show_values", lambda self, v: shown_values.append(v))
    dialog = w.log.open_filter(ACTION)
    qtbot.waitUntil(entered.is_set, timeout=5000)
    assert dialog.isVisible()
    w.close()
    w.deleteLater()
    qtbot.waitUntil(lambda: not shiboken6.isValid(w) and not shiboken6.isValid(dialog))
    gate.set()
    assert threaded_ctx.ops.wait(5000)
    qtbot.wait(50)
    assert shown_values == []


def test_the_funnel_reads_values_once_typing_stops_and_the_last_text_wins(qtbot, threaded_ctx, logged,
                                                                          monkeypatch):
    w = AuditLogWindow(threaded_ctx)
    qtbot.addWidget(w)
    w.show()
    qtbot.waitUntil(lambda: w.log.model.rowCount() == 5)
    texts, gate = [], threading.Event()
    real = audit_log.distinct_values

    def recorded(session, column_, query, limit=200, text=""):
        texts.append(text)
        if text == "slow":
            gate.wait(10)
        return real(session, column_, query, limit=limit, text=text)

    monkeypatch.setattr(audit_log, "distinct_values", recorded)
    dialog = w.log.open_filter(ACTION)
    qtbot.waitUntil(lambda: dialog.loads == 1)
    qtbot.keyClicks(dialog.text, "UPD")
    qtbot.waitUntil(lambda: dialog.loads == 2)
    assert texts == ["", "UPD"] and values(dialog) == ["UPDATE"]
    dialog.text.setText("slow")
    dialog._load()  # its values come after those of the next text: they are dropped
    dialog.text.setText("CRE")
    dialog._load()
    qtbot.waitUntil(lambda: values(dialog) == ["CREATE"])
    gate.set()
    assert threaded_ctx.ops.wait(5000)
    qtbot.wait(50)
    assert (values(dialog), dialog.loads, sorted(texts)) == (["CREATE"], 3, sorted(["", "UPD", "slow", "CRE"]))
    dialog.reject()


def test_verify_runs_on_the_writer_with_progress_and_its_entry_shows(qtbot, threaded_ctx, logged, answers,
                                                                     monkeypatch):
    seen = []
    real = audit_log.verify_and_record

    def verify(db, actor, progress, cancelled, comment=""):
        seen.append((threading.current_thread() is threading.main_thread(), type(progress.__self__).__name__))
        return real(db, actor, progress, cancelled, comment)

    monkeypatch.setattr(audit_log, "verify_and_record", verify)
    w = AuditLogWindow(threaded_ctx)
    qtbot.addWidget(w)
    w.show()
    qtbot.waitUntil(lambda: w.log.model.rowCount() == 5)
    w.log.verify_button.click()
    qtbot.waitUntil(lambda: answers.infos == ["Audit log intact: 5 entries verified."])
    qtbot.waitUntil(lambda: ids(w.log)[:1] == [6])
    assert seen == [(False, "Job")]
