"""The contact form and Settings > Options with the phonenumbers / email-validator checks:
the form passes what was typed to the service unchanged, shows the stored number back
formatted, and the default phone region is a drop-down of its own in Settings."""
from __future__ import annotations

import shiboken6
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox
from sqlalchemy import func, select

from cxdesk.models import AuditEntry, Contact
from cxdesk.services import options
from cxdesk.ui.contacts.contact_dialog import ContactDialog
from cxdesk.ui.contacts.panel import ContactsPanel
from cxdesk.ui.settings.settings_dialog import SettingsDialog


def counts(db):
    with db.read_session() as s:
        return (s.scalar(select(func.count()).select_from(Contact)),
                s.scalar(select(func.count()).select_from(AuditEntry)))


def closed(dialog) -> bool:
    return not shiboken6.isValid(dialog) or not dialog.isVisible()


def add(panel, qtbot, name: str, email: str, phone: str) -> ContactDialog:
    qtbot.mouseClick(panel.add_button, Qt.MouseButton.LeftButton)
    [dialog] = [d for d in panel.findChildren(ContactDialog) if d.isVisible()]
    dialog.name.setText(name)
    dialog.email.setText(email)
    dialog.phone.setText(phone)
    dialog.auto_password.setChecked(False)
    qtbot.mouseClick(dialog.save_continue, Qt.MouseButton.LeftButton)
    return dialog


def test_the_form_stores_e164_shows_it_formatted_and_refuses_the_same_mailbox_twice(
        ctx, sqlite_db, make_customer, qtbot, model_tester):
    panel = ContactsPanel(ctx)
    qtbot.addWidget(panel)
    panel.show()
    panel.set_customer(make_customer(sqlite_db, "Acme Telecom Ltd"))
    model_tester(panel.model)
    dialog = add(panel, qtbot, "Ann Müller", "ann@ｍüller.de", "020 7123 4567 ext. 12")
    assert closed(dialog)
    with sqlite_db.read_session() as s:
        c = s.scalars(select(Contact)).one()
    assert (c.email, c.email_key, c.phone) == ("ann@müller.de", "ann@xn--mller-kva.de", "+442071234567;ext=12")
    assert panel.model.row_at(0).phone == "+44 20 7123 4567 ext. 12"
    panel.view.selectRow(0)
    edit = panel.actions.edit()
    assert edit.ready and edit.phone.text() == "+44 20 7123 4567 ext. 12"
    edit.reject()

    before = counts(sqlite_db)
    dialog = add(panel, qtbot, "Other Ann", "ANN@xn--mller-kva.de", "+39 06 1234 5678")
    assert dialog.isVisible(), "the form stays open"
    assert f"already the login of contact {c.id} (Ann Müller <ann@müller.de>)" in dialog.error.text()
    assert dialog.email.text() == "ANN@xn--mller-kva.de"  # what was typed is kept
    assert counts(sqlite_db) == before


def test_default_phone_region_is_a_drop_down_in_settings(ctx, sqlite_db, qtbot):
    dialog = SettingsDialog(ctx)
    qtbot.addWidget(dialog)
    dialog.open()
    combo = dialog.options_page.fields["default-region"]
    assert isinstance(combo, QComboBox) and combo.accessibleName() == "Default phone region"
    assert combo.currentText() == "GB"
    assert combo.findText("DE") >= 0 and combo.findText("UK") == -1
    combo.setCurrentText("DE")
    dialog.save()
    assert not dialog.isVisible()
    with sqlite_db.read_session() as s:
        assert options.get(s, "default-region") == "DE"
