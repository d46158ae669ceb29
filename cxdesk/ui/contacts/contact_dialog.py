"""Add / Edit contact with the three save options, and Change Password."""
from __future__ import annotations

import datetime as dt

from PySide6.QtCore import QDateTime, QTimeZone, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDateTimeEdit,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from cxdesk.errors import UserError
from cxdesk.models import CONTACT_TYPES
from cxdesk.services import contacts as svc
from cxdesk.services import customers as customer_svc
from cxdesk.ui.kit import audit_comment, dialogs
from cxdesk.ui.kit.context import AppContext
from cxdesk.ui.kit.forms import FormErrorLabel, after_conflict, typed_password

SAVE_CONTINUE, SAVE_STAY, DELAY = "continue", "stay", "delay"


class ContactDialog(QDialog):
    """``contact_id`` None adds a contact; ``customer_id`` None (Global Contacts) asks for the company."""

    saved = Signal(int)  # customer id

    def __init__(self, ctx: AppContext, customer_id: int | None, contact_id: int | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.customer_id = customer_id
        self.contact_id = contact_id
        self.version: int | None = None
        self.setWindowTitle("Add contact" if contact_id is None else "Edit contact")
        self.setAccessibleName(self.windowTitle())
        self.company = QComboBox()
        self.company.setEditable(False)
        self.name = QLineEdit()
        self.email = QLineEdit()
        self.email.setPlaceholderText("also the contact's portal login")
        self.phone = QLineEdit()
        self.mobile = QLineEdit()
        for w in (self.phone, self.mobile):
            w.setPlaceholderText("+44 20 7123 4567")
        self.contact_type = QComboBox()
        self.contact_type.setEditable(True)
        self.contact_type.addItems(list(CONTACT_TYPES))
        self.auto_password = QCheckBox("Auto Generate Password (generated and emailed to the contact)")
        self.auto_password.setChecked(True)
        self.password = QLineEdit()
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        self.password.setPlaceholderText("at least 10 characters, not the email")
        self.public_notes = QPlainTextEdit()
        self.public_notes.setPlaceholderText("Shown in the customer portal. Never a password.")
        self.private_notes = QPlainTextEdit()
        self.private_notes.setPlaceholderText("Back office only. Never a password.")
        for w in (self.public_notes, self.private_notes):
            w.setFixedHeight(60)
        self.mobile_verified = QCheckBox("Mobile Verified")
        self.email_verified = QCheckBox("Email Verified")
        self.ip_whitelist = QPlainTextEdit()
        self.ip_whitelist.setPlaceholderText("One address or CIDR range per line; empty = any address")
        self.ip_whitelist.setFixedHeight(60)
        self.fields = {
            "customer_id": self.company, "name": self.name, "email": self.email, "phone": self.phone,
            "mobile": self.mobile, "contact_type": self.contact_type, "auto_generate_password": self.auto_password,
            "password": self.password, "public_notes": self.public_notes, "private_notes": self.private_notes,
            "mobile_verified": self.mobile_verified, "email_verified": self.email_verified,
            "ip_whitelist": self.ip_whitelist,
        }
        labels = {"customer_id": "Company", "name": "Name", "email": "Email", "phone": "Phone", "mobile": "Mobile",
                  "contact_type": "Contact Type", "auto_generate_password": "Auto Generate Password",
                  "password": "Password", "public_notes": "Public Notes", "private_notes": "Private Notes",
                  "mobile_verified": "Mobile Verified", "email_verified": "Email Verified",
                  "ip_whitelist": "IP Whitelist"}
        form = QFormLayout()
        for key, w in self.fields.items():
            w.setAccessibleName(labels[key])
            if key == "customer_id" and customer_id is not None:
                continue
            form.addRow(f"{labels[key]}:" if not isinstance(w, QCheckBox) else "", w)
        self.error = FormErrorLabel(self)
        self.info = QLabel()
        self.info.setWordWrap(True)
        self.info.setAccessibleName("Form information")
        # Delay and Save: a UTC date and time, shown on demand
        self.delay_row = QWidget()
        dl = QHBoxLayout(self.delay_row)
        dl.setContentsMargins(0, 0, 0, 0)
        self.delay_at = QDateTimeEdit()
        self.delay_at.setTimeZone(QTimeZone.utc())
        self.delay_at.setDisplayFormat("yyyy-MM-dd HH:mm 'UTC'")
        self.delay_at.setCalendarPopup(True)
        self.delay_at.setDateTime(QDateTime.currentDateTimeUtc().addSecs(3600))
        self.delay_at.setAccessibleName("Apply at (UTC)")
        self.schedule_button = QPushButton("Schedule")
        self.schedule_button.setAccessibleName("Schedule the change")
        dl.addWidget(QLabel("Apply at:"))
        dl.addWidget(self.delay_at, 1)
        dl.addWidget(self.schedule_button)
        self.delay_row.hide()
        self.save_continue = QPushButton("Save and Continue")
        self.save_continue.setDefault(True)
        self.save_stay = QPushButton("Save and Stay")
        self.delay_save = QPushButton("Delay and Save...")
        cancel = QPushButton("Cancel")
        for b in (self.save_continue, self.save_stay, self.delay_save, cancel):
            b.setAccessibleName(b.text().rstrip("."))
        self.save_continue.setToolTip("Save and close the form")
        self.save_stay.setToolTip("Save and clear the form for the next contact")
        self.delay_save.setToolTip("Choose a time; the change waits in View > Scheduled changes until then")
        buttons = QHBoxLayout()
        buttons.addWidget(self.delay_save)
        buttons.addStretch(1)
        buttons.addWidget(cancel)
        buttons.addWidget(self.save_stay)
        buttons.addWidget(self.save_continue)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.error)
        layout.addWidget(self.info)
        layout.addWidget(self.delay_row)
        layout.addLayout(buttons)
        self.save_continue.clicked.connect(lambda: self.save(SAVE_CONTINUE))
        self.save_stay.clicked.connect(lambda: self.save(SAVE_STAY))
        self.delay_save.clicked.connect(self._toggle_delay)
        self.schedule_button.clicked.connect(lambda: self.save(DELAY))
        cancel.clicked.connect(self.reject)
        self.auto_password.toggled.connect(self._sync_password)
        self._load_companies()
        if contact_id is not None:
            self.load()
        self._sync_password()

    # -- form ----------------------------------------------------------------------
    def _load_companies(self) -> None:
        if self.customer_id is not None:
            return
        self.company.addItem("Choose the company...", None)
        with self.ctx.db.read_session() as s:
            for row in customer_svc.list_customers(s):
                self.company.addItem(row.name, row.id)

    def _sync_password(self) -> None:
        manual = not self.auto_password.isChecked()
        self.password.setEnabled(manual)
        if not manual:
            self.password.clear()

    def _toggle_delay(self) -> None:
        self.delay_row.setVisible(not self.delay_row.isVisible())
        if self.delay_row.isVisible():
            self.delay_at.setFocus()

    def load(self) -> None:
        with self.ctx.db.read_session() as s:
            rec = svc.get_contact(s, self.contact_id)
        self.customer_id = rec.customer_id
        self.version = rec.version
        self.name.setText(rec.name)
        self.email.setText(rec.email)
        self.phone.setText(rec.phone)
        self.mobile.setText(rec.mobile)
        self.contact_type.setCurrentText(rec.contact_type)
        self.auto_password.setChecked(rec.auto_generate_password)
        self.public_notes.setPlainText(rec.public_notes)
        self.private_notes.setPlainText(rec.private_notes)
        self.mobile_verified.setChecked(rec.mobile_verified)
        self.email_verified.setChecked(rec.email_verified)
        self.ip_whitelist.setPlainText(rec.ip_whitelist)
        self.password.setPlaceholderText("leave empty to keep the current password")

    def form(self) -> svc.ContactForm:
        return svc.ContactForm(
            name=self.name.text(), email=self.email.text(), phone=self.phone.text(), mobile=self.mobile.text(),
            contact_type=self.contact_type.currentText(), auto_generate_password=self.auto_password.isChecked(),
            password=self.password.text(), public_notes=self.public_notes.toPlainText(),
            private_notes=self.private_notes.toPlainText(), mobile_verified=self.mobile_verified.isChecked(),
            email_verified=self.email_verified.isChecked(), ip_whitelist=self.ip_whitelist.toPlainText(),
        )

    def clear_for_next(self) -> None:
        for w in (self.name, self.email, self.phone, self.mobile, self.password):
            w.clear()
        for w in (self.public_notes, self.private_notes, self.ip_whitelist):
            w.clear()
        self.mobile_verified.setChecked(False)
        self.email_verified.setChecked(False)
        self.auto_password.setChecked(True)
        self.contact_type.setCurrentText("General")
        self.name.setFocus()

    def target_customer(self) -> int | None:
        return self.customer_id if self.customer_id is not None else self.company.currentData()

    # -- saving ----------------------------------------------------------------------
    def save(self, mode: str) -> None:
        self.error.show_error("")
        customer_id = self.target_customer()
        if customer_id is None:
            self.error.show_error("Choose the company this contact belongs to.")
            self.company.setFocus()
            return
        comment = audit_comment.ask(self.ctx, self, "this contact change")
        if comment is None:
            return
        self._attempt(mode, customer_id, comment, confirm_warnings=False)

    def _attempt(self, mode: str, customer_id: int, comment: str, confirm_warnings: bool) -> None:
        form = self.form()
        db, actor = self.ctx.db, self.ctx.actor
        if mode == DELAY:
            from cxdesk.services import scheduler

            due = self.delay_at.dateTime().toPython()
            due = due.replace(tzinfo=dt.timezone.utc) if due.tzinfo is None else due.astimezone(dt.timezone.utc)

            def work(_h):
                if self.contact_id is None:
                    return scheduler.schedule_contact_change(
                        db, actor, form, due, customer_id=customer_id, confirm_warnings=confirm_warnings,
                        comment=comment)
                return scheduler.schedule_contact_change(
                    db, actor, form, due, contact_id=self.contact_id, expected_version=self.version,
                    confirm_warnings=confirm_warnings, comment=comment)
        elif self.contact_id is None:
            def work(_h):
                return svc.create_contact(db, actor, customer_id, form, confirm_warnings=confirm_warnings,
                                          comment=comment)
        else:
            def work(_h):
                return svc.update_contact(db, actor, self.contact_id, self.version, form,
                                          confirm_warnings=confirm_warnings, comment=comment)

        self._busy(True)
        self.ctx.tasks.run(
            work, write=True, parent=self, title="Saving the contact",
            on_done=lambda result: self._saved(mode, customer_id, result),
            on_error=lambda exc: self._failed(exc, mode, customer_id, comment),
        )

    def _busy(self, busy: bool) -> None:
        for b in (self.save_continue, self.save_stay, self.delay_save, self.schedule_button):
            b.setEnabled(not busy)

    def _failed(self, exc: BaseException, mode: str, customer_id: int, comment: str) -> None:
        self._busy(False)
        if isinstance(exc, svc.NeedsConfirmation):
            if dialogs.confirm(self, "Notes may hold a credential", str(exc), "Save anyway"):
                self._attempt(mode, customer_id, comment, confirm_warnings=True)
            return
        if not isinstance(exc, UserError):
            raise exc
        self.error.show_error(str(exc) + self._after_conflict(exc))
        widget = self.fields.get(exc.field or "")
        if widget is not None:
            widget.setFocus()

    def _after_conflict(self, exc: UserError) -> str:
        def current() -> int:
            with self.ctx.db.read_session() as s:
                return svc.get_contact(s, self.contact_id).version

        note, self.version = after_conflict(exc, self.version if self.contact_id else None, current)
        return note

    def _saved(self, mode: str, customer_id: int, result) -> None:
        self._busy(False)
        self.saved.emit(customer_id)
        self.ctx.bus.data_changed.emit("contacts")
        if mode == DELAY:
            self.ctx.bus.data_changed.emit("scheduled_changes")
            self.info.setText(f"Scheduled for {self.delay_at.text()}; see View > Scheduled changes.")
            self.accept()
        elif mode == SAVE_STAY:
            self.info.setText(f"Saved {result.name} <{result.email}>. Ready for the next contact.")
            self.contact_id, self.version = None, None
            self.setWindowTitle("Add contact")
            self.clear_for_next()
        else:
            self.accept()


class ChangePasswordDialog(QDialog):
    """Auto Generate & Email Password, or (unticked) a password typed by an administrator."""

    saved = Signal(int)

    def __init__(self, ctx: AppContext, contact_id: int, email: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.contact_id = contact_id
        self.setWindowTitle(f"Change password: {email}")
        self.setAccessibleName("Change password")
        self.auto = QCheckBox("Auto Generate & Email Password")
        self.auto.setChecked(True)
        self.auto.setAccessibleName("Auto Generate and Email Password")
        self.password = QLineEdit()
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        self.password.setAccessibleName("New password")
        self.again = QLineEdit()
        self.again.setEchoMode(QLineEdit.EchoMode.Password)
        self.again.setAccessibleName("New password again")
        form = QFormLayout()
        form.addRow(self.auto)
        form.addRow("New password:", self.password)
        form.addRow("Again:", self.again)
        self.error = FormErrorLabel(self)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self.save)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.error)
        layout.addWidget(self.buttons)
        self.auto.toggled.connect(self._sync)
        self._sync()

    def _sync(self) -> None:
        manual = not self.auto.isChecked()
        for w in (self.password, self.again):
            w.setEnabled(manual)

    def save(self) -> None:
        password = None
        if not self.auto.isChecked():
            password = typed_password(self.password, self.again, self.error,
                                      "Type the new password: with Auto Generate off an administrator must set it.")
            if password is None:
                return
        comment = audit_comment.ask(self.ctx, self, "the password change")
        if comment is None:
            return
        db, actor = self.ctx.db, self.ctx.actor
        self.buttons.setEnabled(False)

        def failed(exc: BaseException) -> None:
            self.buttons.setEnabled(True)
            if not isinstance(exc, UserError):
                raise exc
            self.error.show_error(str(exc))

        def done(_r) -> None:
            self.buttons.setEnabled(True)
            self.saved.emit(self.contact_id)
            self.accept()

        self.ctx.tasks.run(lambda _h: svc.change_password(db, actor, self.contact_id, password, comment=comment),
                           write=True, parent=self, title="Changing the password", on_done=done, on_error=failed)
