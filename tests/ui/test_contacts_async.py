"""Contacts with the real asynchronous operations layer (``threaded_ctx``): data arrives
later, the views follow committed changes by themselves, and a dialog or window closed
while its work runs gets no callback. Every wait is a ``qtbot.waitUntil``; run with
CXDESK_STRICT_GUI_SQL=1 so that any SQL on the GUI thread fails the test."""
from __future__ import annotations

import threading

import pytest
import shiboken6
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QVBoxLayout, QWidget
from sqlalchemy import select

from cxdesk.models import AuditEntry, Contact, ScheduledChange
from cxdesk.services import contacts as contact_svc
from cxdesk.services import options, scheduler
from cxdesk.ui.contacts.contact_dialog import ChangePasswordDialog, ContactDialog
from cxdesk.ui.contacts.global_contacts import GlobalContactsModel, GlobalContactsWindow
from cxdesk.ui.contacts.panel import ContactsPanel
from cxdesk.ui.contacts.scheduled_view import ScheduledChangesWindow

WAIT = 10_000


def closed(widget) -> bool:
    return not shiboken6.isValid(widget) or not widget.isVisible()


def add_contact(db, actor, customer_id: int, name: str, email: str) -> contact_svc.ContactRecord:
    """A save by another writer (another workstation, or the scheduler)."""
    return contact_svc.create_contact(db, actor, customer_id, contact_svc.ContactForm(
        name=name, email=email, auto_generate_password=False))


class Gate:
    """Makes a service function wait in the worker until the test opens the gate."""

    def __init__(self, monkeypatch, module, name: str, *, skip: int = 0) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()
        self.skip = skip  # calls that pass straight through first
        original = getattr(module, name)

        def gated(*args, **kwargs):
            if self.skip > 0:
                self.skip -= 1
            else:
                self.entered.set()
                assert self.release.wait(WAIT / 1000), "the gate was never opened"
            return original(*args, **kwargs)

        monkeypatch.setattr(module, name, gated)

    def open(self) -> None:
        self.release.set()


class Calls:
    """Records the calls of a method (patched on its class) while still running it."""

    def __init__(self, monkeypatch, cls, name: str) -> None:
        self.calls: list[tuple] = []
        original = getattr(cls, name)

        def spy(obj, *args, **kwargs):
            self.calls.append(args)
            return original(obj, *args, **kwargs)

        monkeypatch.setattr(cls, name, spy)


@pytest.fixture
def customer(sqlite_db, make_customer) -> int:
    return make_customer(sqlite_db, "Acme Telecom Ltd")


@pytest.fixture
def panel(threaded_ctx, customer, qtbot, model_tester) -> ContactsPanel:
    p = ContactsPanel(threaded_ctx)
    qtbot.addWidget(p)
    model_tester(p.model)
    model_tester(p.proxy)
    p.show()
    p.set_customer(customer)
    qtbot.waitUntil(lambda: p.loads >= 1, timeout=WAIT)
    return p


def idle(ctx):
    return lambda: not ctx.ops.busy


# -- the customer's contacts -----------------------------------------------------------


def test_a_contact_saved_in_the_dialog_appears_in_the_shown_panel_by_itself(panel, qtbot, threaded_ctx):
    qtbot.mouseClick(panel.add_button, Qt.MouseButton.LeftButton)
    dialog = panel.findChild(ContactDialog)
    assert dialog.ready and dialog.auto_password.text() == "Auto Generate && Email Password"  # an "&" shown
    dialog.name.setText("Ann Lee")
    dialog.email.setText("ann.lee.longer-address@accounts.acme.example")
    dialog.auto_password.setChecked(False)
    qtbot.mouseClick(dialog.save_continue, Qt.MouseButton.LeftButton)
    assert not dialog.save_continue.isEnabled()  # saving: no second click
    qtbot.waitUntil(lambda: closed(dialog), timeout=WAIT)
    qtbot.waitUntil(lambda: panel.model.rowCount() == 1, timeout=WAIT)  # no signal but the commit's
    assert panel.model.row_at(0).email == "ann.lee.longer-address@accounts.acme.example"
    # the columns were fitted to the data: the email is not cut
    assert panel.view.columnWidth(1) >= panel.view.sizeHintForColumn(1)


def test_a_change_elsewhere_reloads_a_shown_panel_and_a_hidden_one_only_when_shown(
        threaded_ctx, customer, make_customer, sqlite_db, staff, qtbot, model_tester):
    host = QWidget()
    qtbot.addWidget(host)
    panel = ContactsPanel(threaded_ctx, host)
    QVBoxLayout(host).addWidget(panel)
    model_tester(panel.proxy)
    host.show()
    panel.set_customer(customer)
    qtbot.waitUntil(lambda: panel.loads == 1, timeout=WAIT)
    seen = []
    threaded_ctx.changes.changed.connect(seen.append)

    add_contact(sqlite_db, staff, customer, "Bo", "bo@acme.example")  # another workstation
    qtbot.waitUntil(lambda: panel.model.rowCount() == 1, timeout=WAIT)
    loads = panel.loads

    other = make_customer(sqlite_db, "Other Ltd")
    add_contact(sqlite_db, staff, other, "Cy", "cy@other.example")
    qtbot.waitUntil(lambda: any(other in cs.customers and "contacts" in cs.tables for cs in seen), timeout=WAIT)
    assert panel.loads == loads and not panel.stale  # another customer's contact: no reload

    panel.hide()  # e.g. another tab is current
    add_contact(sqlite_db, staff, customer, "Di", "di@acme.example")
    qtbot.waitUntil(lambda: panel.stale, timeout=WAIT)
    assert panel.loads == loads and panel.model.rowCount() == 1  # marked stale, not loaded
    panel.show()
    qtbot.waitUntil(lambda: panel.model.rowCount() == 2, timeout=WAIT)
    assert panel.loads == loads + 1


def test_portal_login_follows_the_option_without_reading_it_when_the_menu_opens(
        panel, qtbot, threaded_ctx, sqlite_db, admin, monkeypatch):
    add_contact(sqlite_db, admin, panel.customer_id, "Bo", "bo@acme.example")
    qtbot.waitUntil(lambda: panel.model.rowCount() == 1, timeout=WAIT)
    panel.view.selectRow(0)
    menu = panel.actions.menu()
    assert not panel.actions.portal_action.isEnabled() and not threaded_ctx.ops.busy
    menu.deleteLater()
    options.set_value(sqlite_db, admin, "portal-url", "https://portal.example.com")
    qtbot.waitUntil(panel.actions.portal_action.isEnabled, timeout=WAIT)
    opened = []
    monkeypatch.setattr("cxdesk.ui.contacts.panel.QDesktopServices.openUrl", lambda url: opened.append(url.toString()))
    panel.actions.portal_login()
    qtbot.waitUntil(lambda: bool(opened), timeout=WAIT)
    assert opened == ["https://portal.example.com/login?as=bo@acme.example"]


def test_closing_the_dialog_while_it_saves_gets_no_callback_and_the_save_still_shows(
        panel, qtbot, threaded_ctx, monkeypatch, sqlite_db):
    gate = Gate(monkeypatch, contact_svc, "create_contact")
    saved = Calls(monkeypatch, ContactDialog, "_saved")
    ended = Calls(monkeypatch, ContactDialog, "_save_ended")
    dialog = panel.add()
    dialog.name.setText("Ann Lee")
    dialog.email.setText("ann@acme.example")
    dialog.auto_password.setChecked(False)
    qtbot.mouseClick(dialog.save_continue, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(gate.entered.is_set, timeout=WAIT)  # work starts once the window has painted
    dialog.reject()  # the user closes the form while the save runs
    qtbot.waitUntil(lambda: not shiboken6.isValid(dialog), timeout=WAIT)  # deleted on close
    gate.open()
    qtbot.waitUntil(lambda: panel.model.rowCount() == 1, timeout=WAIT)  # the commit went through
    qtbot.waitUntil(idle(threaded_ctx), timeout=WAIT)
    assert saved.calls == [] and ended.calls == []


def test_the_edit_form_is_disabled_until_loaded_and_closing_it_meanwhile_gets_no_callback(
        panel, qtbot, threaded_ctx, monkeypatch, sqlite_db, admin):
    record = add_contact(sqlite_db, admin, panel.customer_id, "Bo", "bo@acme.example")
    qtbot.waitUntil(lambda: panel.model.rowCount() == 1, timeout=WAIT)
    panel.view.selectRow(0)
    gate = Gate(monkeypatch, contact_svc, "get_contact")
    loaded = Calls(monkeypatch, ContactDialog, "_loaded")
    dialog = panel.actions.edit()
    qtbot.waitUntil(gate.entered.is_set, timeout=WAIT)  # work starts once the window has painted
    assert not dialog.ready and not dialog.body.isEnabled() and not dialog.save_continue.isEnabled()
    assert dialog.name.text() == ""
    dialog.reject()
    qtbot.waitUntil(lambda: not shiboken6.isValid(dialog), timeout=WAIT)
    gate.open()
    qtbot.waitUntil(idle(threaded_ctx), timeout=WAIT)
    assert loaded.calls == []
    # opened again, it loads
    dialog = panel.actions.edit()
    qtbot.waitUntil(lambda: dialog.ready, timeout=WAIT)
    assert dialog.body.isEnabled() and dialog.name.text() == "Bo" and dialog.version == record.version


def test_a_conflict_keeps_the_typed_values_and_a_second_save_replaces_theirs(
        panel, qtbot, threaded_ctx, sqlite_db, admin, staff):
    record = add_contact(sqlite_db, admin, panel.customer_id, "Bo", "bo@acme.example")
    add_contact(sqlite_db, admin, panel.customer_id, "Taken", "taken@acme.example")
    qtbot.waitUntil(lambda: panel.model.rowCount() == 2, timeout=WAIT)
    dialog = ContactDialog(threaded_ctx, panel.customer_id, record.id, panel)
    dialog.open()
    qtbot.waitUntil(lambda: dialog.ready, timeout=WAIT)
    form = record.form()
    form.phone = "+4420 7000 0000"
    contact_svc.update_contact(sqlite_db, staff, record.id, record.version, form)  # another workstation
    dialog.name.setText("Bo Typed")
    dialog.email.setText("TAKEN@acme.example")
    qtbot.mouseClick(dialog.save_continue, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "sam" in dialog.error.text(), timeout=WAIT)  # refused: who saved meanwhile
    qtbot.waitUntil(lambda: "save again to replace their change" in dialog.error.text(), timeout=WAIT)
    assert dialog.isVisible() and dialog.name.text() == "Bo Typed" and dialog.save_continue.isEnabled()
    qtbot.mouseClick(dialog.save_continue, Qt.MouseButton.LeftButton)  # now knowingly: the email is taken
    qtbot.waitUntil(lambda: "already the login" in dialog.error.text(), timeout=WAIT)
    assert "save again" not in dialog.error.text() and dialog.name.text() == "Bo Typed"
    dialog.email.setText("bo@acme.example")
    qtbot.mouseClick(dialog.save_continue, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: closed(dialog), timeout=WAIT)
    qtbot.waitUntil(lambda: "Bo Typed" in [r.name for r in panel.model.rows()], timeout=WAIT)
    with sqlite_db.read_session() as s:
        c = s.get(Contact, record.id)
        assert (c.name, c.phone) == ("Bo Typed", "")  # their phone replaced by the form's, knowingly


def test_credential_notes_are_confirmed_and_saved_again_with_the_same_reason(
        panel, qtbot, threaded_ctx, sqlite_db, admin, answers):
    options.set_value(sqlite_db, admin, "audit-comment", "on", "turning it on")
    dialog = panel.add()
    dialog.name.setText("Ann Lee")
    dialog.email.setText("ann@acme.example")
    dialog.auto_password.setChecked(False)
    dialog.private_notes.setPlainText("portal password: Xy7-something")
    answers.text = ["new billing contact"]
    answers.confirm = True
    qtbot.mouseClick(dialog.save_continue, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: closed(dialog), timeout=WAIT)
    assert [q for q in answers.questions if "Reason" in q] == [answers.questions[0]]  # asked once
    assert "password" in answers.questions[-1].lower()  # then the notes warning
    with sqlite_db.read_session() as s:
        entry = s.scalars(select(AuditEntry).where(AuditEntry.table_name == "contacts")).one()
    assert entry.comment == "new billing contact"


def test_change_password_fits_its_content_and_shows_a_refused_password_in_the_form(
        panel, qtbot, threaded_ctx, sqlite_db, admin):
    add_contact(sqlite_db, admin, panel.customer_id, "Bo", "bo.with.a.long.address@accounts.acme.example")
    qtbot.waitUntil(lambda: panel.model.rowCount() == 1, timeout=WAIT)
    panel.view.selectRow(0)
    dialog = panel.actions.change_password()
    assert isinstance(dialog, ChangePasswordDialog) and dialog.auto.text() == "Auto Generate && Email Password"
    assert dialog.width() >= dialog.fontMetrics().horizontalAdvance(dialog.windowTitle())
    assert dialog.height() == dialog.sizeHint().height() < 250  # no empty space below the buttons
    dialog.auto.setChecked(False)
    dialog.password.setText("short1")
    dialog.again.setText("short1")
    qtbot.mouseClick(dialog.buttons.button(dialog.buttons.StandardButton.Save), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "too short" in dialog.error.text(), timeout=WAIT)
    assert dialog.isVisible() and dialog.password.text() == "short1" and dialog.buttons.isEnabled()
    dialog.password.setText("Another-Str0ng-pw")
    dialog.again.setText("Another-Str0ng-pw")
    qtbot.mouseClick(dialog.buttons.button(dialog.buttons.StandardButton.Save), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not shiboken6.isValid(dialog), timeout=WAIT)  # closed and deleted
    qtbot.waitUntil(lambda: panel.model.row_at(0).has_password, timeout=WAIT)


# -- Global Contacts -------------------------------------------------------------------------


#: contacts in Global Contacts, and its page size for these tests (more rows than fit on screen)
MANY, PAGE = 100, 40


@pytest.fixture
def many(sqlite_db, make_customer, admin, monkeypatch) -> int:
    """MANY contacts of Alpha Ltd, added in one commit; pages of PAGE rows."""
    from cxdesk.services.uow import unit_of_work

    monkeypatch.setattr(GlobalContactsModel, "PAGE", PAGE)
    a = make_customer(sqlite_db, "Alpha Ltd")
    with unit_of_work(sqlite_db, admin) as uow:
        for i in range(MANY):
            contact_svc.insert(uow, a, contact_svc.ContactForm(
                name=f"Person {i:03}", email=f"p{i}@alpha.example", auto_generate_password=False).clean())
    return a


def scroll_to_end(window) -> None:
    bar = window.view.verticalScrollBar()
    bar.setValue(bar.maximum())


def test_global_contacts_pages_rows_in_as_you_scroll(many, threaded_ctx, qtbot):
    window = GlobalContactsWindow(threaded_ctx)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitUntil(lambda: window.model.rowCount() == PAGE, timeout=WAIT)
    assert window.model.total == MANY and window.count.text() == f"{MANY} contacts"
    assert window.view.columnWidth(2) >= window.view.sizeHintForColumn(2)  # Email fitted to the data
    scroll_to_end(window)
    qtbot.waitUntil(lambda: window.model.rowCount() == 2 * PAGE, timeout=WAIT)
    scroll_to_end(window)
    qtbot.waitUntil(lambda: window.model.rowCount() == MANY, timeout=WAIT)
    assert not window.model.canFetchMore()
    names = [window.model.data(window.model.index(r, 1)) for r in range(MANY)]
    assert names == [f"Person {i:03}" for i in range(MANY)]


def test_global_contacts_model_stays_consistent_while_rows_load_and_the_search_changes(
        many, threaded_ctx, qtbot, model_tester, sqlite_db):
    window = GlobalContactsWindow(threaded_ctx)
    qtbot.addWidget(window)
    model_tester(window.model)  # the tester fetches more itself: every page comes in
    window.show()
    qtbot.waitUntil(lambda: window.model.rowCount() == MANY, timeout=WAIT)
    # the search runs in SQL, after the typing pauses
    qtbot.keyClicks(window.search, "p42@")
    qtbot.waitUntil(lambda: window.model.total == 1 and window.model.rowCount() == 1, timeout=WAIT)
    assert window.count.text() == "1 contact matching 'p42@'"
    # a change by another writer reaches the shown window
    add_contact(sqlite_db, threaded_ctx.actor, many, "Forty Two", "p42@other.example")
    qtbot.waitUntil(lambda: window.model.rowCount() == 2, timeout=WAIT)


def names(window) -> list[str]:
    return [window.model.data(window.model.index(r, 1)) for r in range(window.model.rowCount())]


NEWER = {
    "search": (lambda w: w.search.setText("p42@"), ["Person 042"]),
    "sort": (lambda w: w.view.sortByColumn(1, Qt.SortOrder.DescendingOrder),
             [f"Person {i:03}" for i in range(MANY - 1, MANY - 1 - PAGE, -1)]),
}


@pytest.mark.parametrize("change", list(NEWER))
def test_a_page_for_an_outdated_search_or_sort_is_dropped(change, many, threaded_ctx, qtbot, monkeypatch):
    window = GlobalContactsWindow(threaded_ctx)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitUntil(lambda: window.model.rowCount() == PAGE, timeout=WAIT)
    gate = Gate(monkeypatch, contact_svc, "global_contacts_page")  # the next page waits
    appended = Calls(monkeypatch, GlobalContactsModel, "_append")
    scroll_to_end(window)
    qtbot.waitUntil(gate.entered.is_set, timeout=WAIT)  # work starts once the window has painted
    scroll_to_end(window)  # a second scroll does not start a second page query
    window.view.scrollToTop()  # so that the new rows do not ask for a page of their own
    gate.skip = 1  # the first page of the new search or sort passes
    apply, expected = NEWER[change]
    apply(window)
    qtbot.waitUntil(lambda: names(window) == expected, timeout=WAIT)
    gate.open()
    qtbot.waitUntil(idle(threaded_ctx), timeout=WAIT)
    assert len(appended.calls) == 1  # one page query, and its rows were dropped
    assert names(window) == expected


def test_sorting_is_a_query_and_the_last_one_wins(many, threaded_ctx, qtbot):
    window = GlobalContactsWindow(threaded_ctx)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitUntil(lambda: window.model.rowCount() == PAGE, timeout=WAIT)
    window.view.sortByColumn(2, Qt.SortOrder.DescendingOrder)  # Email, then Name, quickly
    window.view.sortByColumn(1, Qt.SortOrder.DescendingOrder)
    qtbot.waitUntil(lambda: window.model.data(window.model.index(0, 1)) == f"Person {MANY - 1:03}", timeout=WAIT)
    qtbot.waitUntil(idle(threaded_ctx), timeout=WAIT)
    assert window.model.data(window.model.index(0, 1)) == f"Person {MANY - 1:03}"


def test_closing_global_contacts_while_a_page_loads_gets_no_callback(many, threaded_ctx, qtbot, monkeypatch):
    window = GlobalContactsWindow(threaded_ctx)
    window.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    window.show()
    qtbot.waitUntil(lambda: window.model.rowCount() == PAGE, timeout=WAIT)
    gate = Gate(monkeypatch, contact_svc, "global_contacts_page")
    appended = Calls(monkeypatch, GlobalContactsModel, "_append")
    scroll_to_end(window)
    qtbot.waitUntil(gate.entered.is_set, timeout=WAIT)  # work starts once the window has painted
    window.close()
    qtbot.waitUntil(lambda: not shiboken6.isValid(window), timeout=WAIT)
    gate.open()
    qtbot.waitUntil(idle(threaded_ctx), timeout=WAIT)
    assert appended.calls == []


def test_adding_from_global_contacts_waits_for_the_company_list(many, threaded_ctx, qtbot, monkeypatch,
                                                                   sqlite_db):
    from cxdesk.services import customers as customer_svc

    window = GlobalContactsWindow(threaded_ctx)
    qtbot.addWidget(window)
    window.show()
    gate = Gate(monkeypatch, customer_svc, "list_customers")
    dialog = window.add()
    qtbot.waitUntil(gate.entered.is_set, timeout=WAIT)  # work starts once the window has painted
    assert not dialog.body.isEnabled() and not dialog.save_continue.isEnabled()
    gate.open()
    qtbot.waitUntil(lambda: dialog.ready, timeout=WAIT)
    assert [dialog.company.itemText(i) for i in range(dialog.company.count())] == ["Choose the company...",
                                                                                   "Alpha Ltd"]
    dialog.company.setCurrentIndex(1)
    dialog.name.setText("New One")
    dialog.email.setText("new@alpha.example")
    dialog.auto_password.setChecked(False)
    qtbot.mouseClick(dialog.save_continue, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: closed(dialog), timeout=WAIT)
    qtbot.waitUntil(lambda: window.model.total == MANY + 1, timeout=WAIT)


# -- Scheduled changes ------------------------------------------------------------------------


def test_scheduled_changes_follow_new_and_cancelled_changes(customer, threaded_ctx, qtbot, model_tester, sqlite_db,
                                                            admin, answers):
    import datetime as dt

    window = ScheduledChangesWindow(threaded_ctx)
    qtbot.addWidget(window)
    model_tester(window.model)
    model_tester(window.proxy)
    window.show()
    qtbot.waitUntil(lambda: window.loads == 1, timeout=WAIT)
    assert window.count.text() == "0 changes"
    due = dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=2)
    for name in ("Later One", "Later Two"):
        scheduler.schedule_contact_change(sqlite_db, admin, contact_svc.ContactForm(
            name=name, email=f"{name.split()[1].lower()}@acme.example", auto_generate_password=False),
            due, customer_id=customer)
    qtbot.waitUntil(lambda: window.model.rowCount() == 2, timeout=WAIT)
    assert window.count.text() == "2 changes"
    window.view.selectRow(0)
    answers.confirm = True
    qtbot.mouseClick(window.cancel_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: sorted(r.state for r in window.model.rows()) == ["cancelled", "pending"],
                    timeout=WAIT)
    window.pending_only.setChecked(True)
    qtbot.waitUntil(lambda: window.model.rowCount() == 1, timeout=WAIT)
    assert window.count.text() == "1 pending change"
    with sqlite_db.read_session() as s:
        assert sorted(s.scalars(select(ScheduledChange.state))) == ["cancelled", "pending"]
