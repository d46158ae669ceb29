"""Generated passwords and the mail settings in the UI: the contact and Change Password
dialogs say why Auto Generate is unavailable before anything is typed, Delay and Save
refuses at scheduling time what could not be applied, and Settings > Email confirms the
allowance to email passwords unencrypted."""
from __future__ import annotations

import json

import pytest
from PySide6.QtCore import QDateTime, Qt
from sqlalchemy import func, select

from cxdesk.models import AuditEntry, Contact, ScheduledChange
from cxdesk.services import contacts as contact_svc
from cxdesk.services import mail, options
from cxdesk.services.uow import unit_of_work
from cxdesk.ui.contacts.contact_dialog import ChangePasswordDialog, ContactDialog
from cxdesk.ui.settings.email_page import EmailSettingsPage


def configure(db, actor, *, security="starttls", host="relay.carrier.example"):
    for key, value in (("smtp-host", host), ("smtp-security", security), ("smtp-sender", "noc@carrier.example"),
                       ("portal-url", "https://portal.carrier.example")):
        options.set_value(db, actor, key, value)


@pytest.fixture
def customer(sqlite_db, make_customer):
    return make_customer(sqlite_db, "Acme Telecom Ltd")


def open_dialog(ctx, qtbot, customer, contact_id=None) -> ContactDialog:
    dialog = ContactDialog(ctx, customer, contact_id)
    qtbot.addWidget(dialog)
    dialog.show()
    assert dialog.ready
    return dialog


def test_without_a_mail_server_auto_generate_is_off_with_the_reason_before_typing(ctx, qtbot, customer):
    dialog = open_dialog(ctx, qtbot, customer)
    box = dialog.auto_password
    assert not box.isEnabled() and not box.isChecked()
    assert box.toolTip().startswith("Unavailable: No mail server is set, so a generated password cannot be emailed")
    assert dialog.mail_hint.isVisibleTo(dialog)
    assert dialog.mail_hint.text().startswith("Auto Generate is unavailable: No mail server is set")
    assert dialog.password.isEnabled()  # an administrator can type one instead
    assert dialog.name.text() == "" and dialog.email.text() == ""  # nothing typed yet


def test_with_the_real_worker_auto_generate_waits_for_the_answer_then_says_why(threaded_ctx, qtbot, customer):
    dialog = ContactDialog(threaded_ctx, customer, None)
    qtbot.addWidget(dialog)
    dialog.show()
    assert dialog.ready and not dialog.auto_password.isEnabled()  # not offered before the answer
    qtbot.waitUntil(lambda: dialog.mail_hint.isVisibleTo(dialog), timeout=10_000)
    assert not dialog.auto_password.isEnabled() and not dialog.auto_password.isChecked()
    assert "No mail server is set" in dialog.auto_password.toolTip()


def test_with_tls_mail_auto_generate_is_offered_without_a_hint(ctx, qtbot, customer, sqlite_db):
    configure(sqlite_db, ctx.actor)
    dialog = open_dialog(ctx, qtbot, customer)
    assert dialog.auto_password.isEnabled() and dialog.auto_password.isChecked()
    assert not dialog.mail_hint.isVisibleTo(dialog) and not dialog.password.isEnabled()


def test_plain_smtp_is_unavailable_until_allowed_then_offered_with_the_warning(ctx, qtbot, customer, sqlite_db):
    configure(sqlite_db, ctx.actor, security="none")
    dialog = open_dialog(ctx, qtbot, customer)
    assert not dialog.auto_password.isEnabled()
    assert mail.PLAINTEXT_REFUSED in dialog.mail_hint.text()
    mail.set_plaintext_passwords(sqlite_db, ctx.actor, True)
    dialog = open_dialog(ctx, qtbot, customer)
    assert dialog.auto_password.isEnabled() and dialog.auto_password.isChecked()
    assert dialog.mail_hint.isVisibleTo(dialog) and dialog.mail_hint.text() == mail.PLAINTEXT_WARNING
    assert mail.PLAINTEXT_WARNING in dialog.auto_password.toolTip()


def test_an_edit_keeps_the_stored_auto_generate_while_mail_is_unavailable(ctx, qtbot, customer, sqlite_db):
    rec = contact_svc.create_contact(sqlite_db, ctx.actor, customer, contact_svc.ContactForm(
        name="Ann Lee", email="ann@acme.example", auto_generate_password=False, password="Tangerine-Kettle-42"))
    with unit_of_work(sqlite_db, ctx.actor) as uow:  # as a contact saved while mail worked
        uow.session.get(Contact, rec.id).auto_generate_password = True
    dialog = open_dialog(ctx, qtbot, customer, rec.id)
    assert not dialog.auto_password.isChecked() and not dialog.auto_password.isEnabled()
    dialog.phone.setText("+44 20 7123 4567")
    qtbot.mouseClick(dialog.save_continue, Qt.MouseButton.LeftButton)
    with sqlite_db.read_session() as s:
        c = s.get(Contact, rec.id)
        assert (c.phone, c.auto_generate_password) == ("+442071234567", True)


def test_delay_and_save_refuses_a_password_email_that_could_not_be_sent(ctx, qtbot, customer, sqlite_db):
    configure(sqlite_db, ctx.actor)
    dialog = open_dialog(ctx, qtbot, customer)
    assert dialog.auto_password.isChecked()
    dialog.name.setText("Later Person")
    dialog.email.setText("later@acme.example")
    options.set_value(sqlite_db, ctx.actor, "smtp-host", "")  # the mail server goes away meanwhile
    with sqlite_db.read_session() as s:
        before = (s.scalar(select(func.count()).select_from(ScheduledChange)),
                  s.scalar(select(func.count()).select_from(AuditEntry)))
    qtbot.mouseClick(dialog.delay_save, Qt.MouseButton.LeftButton)
    dialog.delay_at.setDateTime(QDateTime.currentDateTimeUtc().addSecs(7200))
    qtbot.mouseClick(dialog.schedule_button, Qt.MouseButton.LeftButton)
    assert dialog.isVisible()
    assert dialog.error.text().startswith("No mail server is set, so a generated password cannot be emailed")
    assert dialog.email.text() == "later@acme.example"  # the form keeps what was typed
    with sqlite_db.read_session() as s:
        assert (s.scalar(select(func.count()).select_from(ScheduledChange)),
                s.scalar(select(func.count()).select_from(AuditEntry))) == before


def test_change_password_dialog_says_why_auto_generate_is_unavailable(ctx, qtbot, customer, sqlite_db):
    rec = contact_svc.create_contact(sqlite_db, ctx.actor, customer, contact_svc.ContactForm(
        name="Ann Lee", email="ann@acme.example", auto_generate_password=False))
    dialog = ChangePasswordDialog(ctx, rec.id, rec.email)
    qtbot.addWidget(dialog)
    dialog.show()
    assert not dialog.auto.isEnabled() and not dialog.auto.isChecked()
    assert dialog.auto.toolTip().startswith("Unavailable: No mail server is set")
    assert dialog.mail_hint.isVisibleTo(dialog) and dialog.password.isEnabled()


@pytest.fixture
def page(qtbot, make_ctx, sqlite_db, admin) -> EmailSettingsPage:
    p = EmailSettingsPage(make_ctx(sqlite_db, admin))
    qtbot.addWidget(p)
    p.show()
    return p


def allowance(db) -> str:
    with db.read_session() as s:
        return options.get(s, mail.PLAINTEXT_OPTION)


def test_email_page_asks_before_allowing_unencrypted_password_emails(page, qtbot, sqlite_db, answers):
    box = page.plaintext_box
    assert box.isEnabled() and not box.isChecked()
    answers.confirm = False
    qtbot.mouseClick(box, Qt.MouseButton.LeftButton)
    assert answers.questions == [f"{mail.PLAINTEXT_WARNING} Allow it anyway?"]
    assert not box.isChecked() and allowance(sqlite_db) == "off"
    answers.confirm = True
    qtbot.mouseClick(box, Qt.MouseButton.LeftButton)
    assert box.isChecked() and allowance(sqlite_db) == "on"
    assert page.status.text() == "Generated passwords may now be emailed without encryption."
    with sqlite_db.read_session() as s:
        entry = s.scalars(select(AuditEntry).order_by(AuditEntry.id.desc())).first()
    assert (entry.actor, entry.primary_key) == ("alice", mail.PLAINTEXT_OPTION)
    assert json.loads(entry.after)["value"] == "on"
    qtbot.mouseClick(box, Qt.MouseButton.LeftButton)  # unticking asks nothing
    assert len(answers.questions) == 2 and allowance(sqlite_db) == "off" and not box.isChecked()


def test_email_page_allowance_is_for_admins_only(qtbot, make_ctx, sqlite_db, supervisor):
    p = EmailSettingsPage(make_ctx(sqlite_db, supervisor))
    qtbot.addWidget(p)
    p.show()
    assert not p.plaintext_box.isEnabled()
