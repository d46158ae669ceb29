"""The contact dialog driven as a user would: typing, the three save options, the
delayed save applied once its time passes, a conflict, and malformed input."""
from __future__ import annotations

import datetime as dt

import pytest
import shiboken6
from PySide6.QtCore import QDateTime, Qt, QTimeZone
from sqlalchemy import func, select

from cxdesk.models import AuditEntry, Contact, ScheduledChange
from cxdesk.services import contacts as contact_svc
from cxdesk.services import mail, options, scheduler
from cxdesk.ui.contacts.contact_dialog import ContactDialog
from cxdesk.ui.contacts.global_contacts import GlobalContactsWindow
from cxdesk.ui.contacts.panel import ContactsPanel


def counts(db):
    with db.read_session() as s:
        return (s.scalar(select(func.count()).select_from(Contact)),
                s.scalar(select(func.count()).select_from(AuditEntry)),
                s.scalar(select(func.count()).select_from(ScheduledChange)))


def closed(dialog) -> bool:
    """The dialog was closed (it is deleted once the event loop gets to it)."""
    return not shiboken6.isValid(dialog) or not dialog.isVisible()


def fill(dialog: ContactDialog, qtbot, *, name="Ann Lee", email="ann@acme.example", phone="+44 20 7123 4567",
         mobile="", auto=False, password="", public="", private="", whitelist="", ctype="Billing") -> None:
    for edit, text in ((dialog.name, name), (dialog.email, email)):
        edit.clear()
        if text.isprintable():
            qtbot.keyClicks(edit, text)  # typed, as a user would
        else:
            edit.setText(text)  # control characters arrive by paste
    dialog.phone.setText(phone)
    dialog.mobile.setText(mobile)
    dialog.contact_type.setCurrentText(ctype)
    dialog.auto_password.setChecked(auto)
    dialog.password.setText(password)
    dialog.public_notes.setPlainText(public)
    dialog.private_notes.setPlainText(private)
    dialog.ip_whitelist.setPlainText(whitelist)


@pytest.fixture
def customer(sqlite_db, make_customer):
    return make_customer(sqlite_db, "Acme Telecom Ltd")


@pytest.fixture
def panel(ctx, customer, qtbot, model_tester):
    p = ContactsPanel(ctx)
    qtbot.addWidget(p)
    p.show()
    p.set_customer(customer)
    model_tester(p.model)
    model_tester(p.proxy)
    return p


def open_add(panel, qtbot) -> ContactDialog:
    qtbot.mouseClick(panel.add_button, Qt.MouseButton.LeftButton)
    dialog = panel.findChild(ContactDialog)
    assert dialog is not None and dialog.isVisible()
    return dialog


def test_save_and_continue_saves_normalised_and_closes(panel, qtbot, ctx, sqlite_db):
    dialog = open_add(panel, qtbot)
    fill(dialog, qtbot, email="Ann@ACME.example", phone="0044 (0)20 7123-4567", whitelist="10.0.0.0/8, 192.0.2.7")
    qtbot.mouseClick(dialog.save_continue, Qt.MouseButton.LeftButton)
    assert closed(dialog)
    with sqlite_db.read_session() as s:
        c = s.scalars(select(Contact)).one()
    assert (c.name, c.email, c.phone, c.contact_type) == ("Ann Lee", "Ann@acme.example", "+442071234567", "Billing")
    assert c.ip_whitelist == "10.0.0.0/8\n192.0.2.7"
    assert panel.model.rowCount() == 1 and panel.model.row_at(0).email == "Ann@acme.example"
    with sqlite_db.read_session() as s:
        entry = s.scalars(select(AuditEntry).where(AuditEntry.table_name == "contacts")).one()
    assert (entry.action, entry.actor, entry.ip) == ("CREATE", "alice", "10.0.0.5")


def test_save_and_stay_clears_the_form_for_the_next_contact(panel, qtbot, ctx):
    dialog = open_add(panel, qtbot)
    fill(dialog, qtbot, name="First One", email="first@acme.example")
    qtbot.mouseClick(dialog.save_stay, Qt.MouseButton.LeftButton)
    assert dialog.isVisible()
    assert dialog.name.text() == "" and dialog.email.text() == ""
    assert "Saved First One" in dialog.info.text()
    fill(dialog, qtbot, name="Second One", email="second@acme.example")
    qtbot.mouseClick(dialog.save_stay, Qt.MouseButton.LeftButton)
    assert sorted(r.name for r in panel.model.rows()) == ["First One", "Second One"]


def test_delay_and_save_waits_and_is_applied_once_when_due(panel, qtbot, ctx, sqlite_db):
    before = counts(sqlite_db)
    dialog = open_add(panel, qtbot)
    fill(dialog, qtbot, name="Later Person", email="later@acme.example")
    qtbot.mouseClick(dialog.delay_save, Qt.MouseButton.LeftButton)
    assert dialog.delay_row.isVisible()
    due = QDateTime.currentDateTimeUtc().addSecs(2 * 3600)
    dialog.delay_at.setDateTime(due)
    qtbot.mouseClick(dialog.schedule_button, Qt.MouseButton.LeftButton)
    assert closed(dialog)
    after = counts(sqlite_db)
    assert after[0] == before[0]  # nothing applied yet
    assert after[2] == before[2] + 1
    now = due.toPython().replace(tzinfo=dt.timezone.utc)
    assert scheduler.apply_due(sqlite_db, now - dt.timedelta(minutes=1)) == []
    results = scheduler.apply_due(sqlite_db, now + dt.timedelta(minutes=1))
    assert [r.state for r in results] == ["applied"]
    assert scheduler.apply_due(sqlite_db, now + dt.timedelta(minutes=2)) == []  # exactly once
    with sqlite_db.read_session() as s:
        c = s.scalars(select(Contact).where(Contact.email_key == "later@acme.example")).one()
        entry = s.scalars(select(AuditEntry).where(AuditEntry.table_name == "contacts",
                                                   AuditEntry.action == "CREATE")).one()
    assert c.name == "Later Person"
    assert entry.actor == "alice"  # applied as the operator who scheduled it


def test_second_workstation_save_is_refused_and_keeps_typed_values(panel, qtbot, ctx, staff, sqlite_db):
    record = contact_svc.create_contact(sqlite_db, ctx.actor, panel.customer_id,
                                        contact_svc.ContactForm(name="Bo", email="bo@acme.example",
                                                                auto_generate_password=False))
    qtbot.waitUntil(lambda: panel.model.rowCount() == 1)  # the commit's change set reloads the list
    panel.view.selectRow(0)
    dialog = panel.actions.edit()
    assert dialog.ready and dialog.name.text() == "Bo"
    # another workstation saves first
    form = record.form()
    form.phone = "+4420 7000 0000"
    contact_svc.update_contact(sqlite_db, staff, record.id, record.version, form)
    dialog.name.setText("Bo Typed")
    qtbot.mouseClick(dialog.save_continue, Qt.MouseButton.LeftButton)
    assert dialog.isVisible()
    assert "sam" in dialog.error.text()
    assert "save again to replace their change" in dialog.error.text()
    assert dialog.name.text() == "Bo Typed"
    with sqlite_db.read_session() as s:
        assert s.get(Contact, record.id).name == "Bo"
    qtbot.mouseClick(dialog.save_continue, Qt.MouseButton.LeftButton)  # now knowingly
    assert closed(dialog)
    with sqlite_db.read_session() as s:
        assert s.get(Contact, record.id).name == "Bo Typed"


MALFORMED = [
    ("empty name", {"name": ""}, "name"),
    ("blank name", {"name": "   "}, "name"),
    ("name too long", {"name": "x" * 300}, "too long"),
    ("empty email", {"email": ""}, "email"),
    ("email without @", {"email": "ann.acme.example"}, "not an email"),
    ("email with space", {"email": "ann lee@acme.example"}, "not an email"),
    ("email without domain dot", {"email": "ann@localhost"}, "not an email"),
    ("phone with letters", {"phone": "+44 20 CALL ME"}, "phone"),
    ("phone with an unknown country code", {"phone": "+999 1234 5678"}, "country code"),
    ("phone too short", {"phone": "+44 12"}, "digits"),
    ("mobile with letters", {"mobile": "+44 7700 9OO 123"}, "mobile"),
    ("whitelist bad address", {"whitelist": "300.1.2.3"}, "IP Whitelist"),
    ("whitelist bad prefix", {"whitelist": "10.0.0.0/33"}, "IP Whitelist"),
    ("whitelist host bits", {"whitelist": "10.0.0.1/8"}, "did you mean 10.0.0.0/8"),
    ("unknown contact type", {"ctype": "Sales & Partners"}, "Contact Type"),
    ("typed password too short", {"password": "short1"}, "too short"),
    ("typed password is the email", {"email": "ann@acme.example", "password": "ann@acme.example"}, "email"),
    ("common password", {"password": "password123"}, "common"),
    ("notes hold the typed password", {"password": "Tr1cky-Secret-77", "private": "pw Tr1cky-Secret-77"},
     "password"),
    ("control character in name", {"name": "Ann\x07Lee"}, "control character"),
]


@pytest.mark.parametrize("case, changes, expected", MALFORMED, ids=[m[0] for m in MALFORMED])
def test_malformed_input_is_refused_and_changes_nothing(panel, qtbot, ctx, case, changes, expected, sqlite_db):
    before = counts(sqlite_db)
    dialog = open_add(panel, qtbot)
    fill(dialog, qtbot, **changes)
    qtbot.mouseClick(dialog.save_continue, Qt.MouseButton.LeftButton)
    assert dialog.isVisible(), "the form stays open"
    assert expected.lower() in dialog.error.text().lower()
    assert counts(sqlite_db) == before
    # what was typed is kept
    assert dialog.name.text() == changes.get("name", "Ann Lee")


def test_duplicate_email_any_case_is_refused(panel, qtbot, ctx, sqlite_db):
    contact_svc.create_contact(sqlite_db, ctx.actor, panel.customer_id,
                               contact_svc.ContactForm(name="Ann", email="ann@acme.example",
                                                       auto_generate_password=False))
    before = counts(sqlite_db)
    dialog = open_add(panel, qtbot)
    fill(dialog, qtbot, email="ANN@Acme.Example")
    qtbot.mouseClick(dialog.save_continue, Qt.MouseButton.LeftButton)
    assert dialog.isVisible() and "ann@acme.example" in dialog.error.text().lower()
    assert counts(sqlite_db) == before


def test_credential_looking_notes_need_confirmation(panel, qtbot, ctx, answers, sqlite_db):
    dialog = open_add(panel, qtbot)
    fill(dialog, qtbot, private="portal password: Xy7-something")
    answers.confirm = False
    qtbot.mouseClick(dialog.save_continue, Qt.MouseButton.LeftButton)
    assert answers.questions and "password" in answers.questions[-1].lower()
    assert counts(sqlite_db)[0] == 0 and dialog.isVisible()
    answers.confirm = True
    qtbot.mouseClick(dialog.save_continue, Qt.MouseButton.LeftButton)
    assert counts(sqlite_db)[0] == 1 and closed(dialog)


def test_audit_comment_is_asked_and_recorded(panel, qtbot, ctx, answers, sqlite_db):
    options.set_value(sqlite_db, ctx.actor, "audit-comment", "on", "turning it on")
    dialog = open_add(panel, qtbot)
    fill(dialog, qtbot)
    answers.text = ["", "new billing contact"]  # an empty reason is refused, then one is given
    qtbot.mouseClick(dialog.save_continue, Qt.MouseButton.LeftButton)
    assert any("required" in q for q in answers.questions)
    with sqlite_db.read_session() as s:
        entry = s.scalars(select(AuditEntry).where(AuditEntry.table_name == "contacts")).one()
    assert entry.comment == "new billing contact"


def test_delete_asks_and_portal_login_is_audited(panel, qtbot, ctx, answers, monkeypatch, sqlite_db):
    record = contact_svc.create_contact(sqlite_db, ctx.actor, panel.customer_id,
                                        contact_svc.ContactForm(name="Del Me", email="del@acme.example",
                                                                auto_generate_password=False))
    qtbot.waitUntil(lambda: panel.model.rowCount() == 1)
    panel.view.selectRow(0)
    assert not panel.actions.portal_action.isEnabled()  # known from the list's load: no URL set
    assert "Settings" in panel.actions.portal_action.toolTip()
    options.set_value(sqlite_db, ctx.actor, "portal-url", "https://portal.example.com")
    qtbot.waitUntil(panel.actions.portal_action.isEnabled)  # the option's change set, not the menu
    opened = []
    monkeypatch.setattr("cxdesk.ui.contacts.panel.QDesktopServices.openUrl", lambda url: opened.append(url.toString()))
    panel.actions.portal_login()
    assert len(opened) == 1 and "del@acme.example" in opened[0]
    answers.confirm = False
    panel.actions.delete()
    assert counts(sqlite_db)[0] == 1
    answers.confirm = True
    panel.actions.delete()
    assert counts(sqlite_db)[0] == 0
    qtbot.waitUntil(lambda: panel.model.rowCount() == 0)
    with sqlite_db.read_session() as s:
        actions = list(s.scalars(select(AuditEntry.action).where(AuditEntry.primary_key == str(record.id),
                                                              AuditEntry.table_name == "contacts")))
    assert actions == ["CREATE", "LOGIN", "DELETE"]


def test_global_contacts_requires_a_company_and_pages_in_sql(ctx, qtbot, make_customer, sqlite_db, model_tester):
    a = make_customer(sqlite_db, "Alpha Ltd")
    make_customer(sqlite_db, "Beta Ltd")
    for i in range(450):
        contact_svc.create_contact(sqlite_db, ctx.actor, a, contact_svc.ContactForm(
            name=f"Person {i:03}", email=f"p{i}@alpha.example", auto_generate_password=False))
    window = GlobalContactsWindow(ctx)
    qtbot.addWidget(window)
    window.show()
    assert window.model.total == 450
    assert window.model.rowCount() == window.model.PAGE  # the rest is fetched on scroll
    assert window.count.text() == "450 contacts"
    model_tester(window.model)
    while window.model.canFetchMore():
        window.model.fetchMore()
    assert window.model.rowCount() == 450
    window.search.setText("p42@")
    window._apply_search()
    assert window.model.total == 1 and window.model.data(window.model.index(0, 0)) == "Alpha Ltd"
    assert window.count.text() == "1 contact matching 'p42@'"
    dialog = window.add()
    assert dialog.ready and dialog.company.count() == 3  # "Choose the company..." and both customers
    fill(dialog, qtbot, email="new@beta.example")
    before = counts(sqlite_db)
    qtbot.mouseClick(dialog.save_continue, Qt.MouseButton.LeftButton)
    assert "company" in dialog.error.text().lower() and counts(sqlite_db) == before
    dialog.company.setCurrentText("Beta Ltd")
    qtbot.mouseClick(dialog.save_continue, Qt.MouseButton.LeftButton)
    assert counts(sqlite_db)[0] == 451


def test_auto_generated_password_is_emailed(panel, qtbot, ctx, smtp_server, sqlite_db):
    server = smtp_server("ok")
    for key, value in {"smtp-host": server.host, "smtp-port": str(server.port), "smtp-security": "none",
                       "smtp-sender": "noc@carrier.example", "portal-url": "https://portal.example.com"}.items():
        options.set_value(sqlite_db, ctx.actor, key, value)
    mail.set_plaintext_passwords(sqlite_db, ctx.actor, True)  # the test server speaks plain SMTP
    dialog = open_add(panel, qtbot)
    assert dialog.auto_password.isEnabled() and dialog.mail_hint.text() == mail.PLAINTEXT_WARNING
    fill(dialog, qtbot, auto=True, email="gen@acme.example")
    qtbot.mouseClick(dialog.save_continue, Qt.MouseButton.LeftButton)
    assert closed(dialog), dialog.error.text()
    server.wait_for_messages(1)
    message = server.messages[0]
    assert message["To"] == "gen@acme.example"
    assert "https://portal.example.com" in message.get_content()
    with sqlite_db.read_session() as s:
        c = s.scalars(select(Contact)).one()
        send = s.scalars(select(AuditEntry).where(AuditEntry.action == "SEND")).one()
    assert c.password_hash and c.password_hash.startswith("$argon2id$")
    assert "gen@acme.example" in send.message


def test_delay_row_uses_utc(panel, qtbot):
    dialog = open_add(panel, qtbot)
    assert dialog.delay_at.timeZone() == QTimeZone.utc()


def test_global_contacts_sorts_every_column_by_its_own_values(ctx, qtbot, make_customer, sqlite_db):
    from cxdesk.services.passwords import hash_password
    from cxdesk.services.uow import unit_of_work

    a = make_customer(sqlite_db, "Alpha Ltd")
    for i in range(4):
        contact_svc.create_contact(sqlite_db, ctx.actor, a, contact_svc.ContactForm(
            name=f"P{i}", email=f"p{i}@alpha.example", auto_generate_password=False))
    with unit_of_work(sqlite_db, ctx.actor) as uow:  # two of them get a portal password
        for c in uow.session.scalars(select(Contact).where(Contact.name.in_(["P1", "P3"]))):
            c.password_hash = hash_password("Another-Str0ng-pw")
    window = GlobalContactsWindow(ctx)
    qtbot.addWidget(window)
    window.show()
    assert len(window.model.SORT_KEYS) == window.model.columnCount()
    last = window.model.columnCount() - 1
    window.model.sort(last, Qt.SortOrder.DescendingOrder)
    shown = [window.model.data(window.model.index(r, last)) for r in range(4)]
    assert shown == ["Set", "Set", "Not set", "Not set"]
