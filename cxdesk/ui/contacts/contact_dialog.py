"""Add / Edit contact with the three save options, and Change Password.

Both dialogs are deleted when closed. They read and write through ``ctx.ops``: the
contact and the company list load off the GUI thread (the fields stay disabled until
then), saves run on the writer, and the views follow by the change set the commit
publishes. A dialog closed while its work runs gets no callback.

Whether a generated password can be emailed (a mail server, sender and portal URL set;
STARTTLS/SSL, or unencrypted SMTP an administrator allowed) is asked as the dialog opens;
Auto Generate stays disabled until the answer is there. When it cannot, Auto Generate is
unticked and stays disabled, and its tooltip and a visible hint say why.
"""
from __future__ import annotations

import datetime as dt
from typing import Any

from PySide6.QtCore import QDateTime, Qt, QTimeZone, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDateTimeEdit,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLayout,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from cxdesk.errors import ConflictError, UserError
from cxdesk.models import CONTACT_TYPES
from cxdesk.services import contacts as svc
from cxdesk.services import customers as customer_svc
from cxdesk.services import mail, scheduler
from cxdesk.ui.kit import dialogs
from cxdesk.ui.kit.forms import FormErrorLabel, after_conflict, typed_password

SAVE_CONTINUE, SAVE_STAY, DELAY = "continue", "stay", "delay"
#: the checkbox shows "Auto Generate & Email Password" ("&&": a single "&" would mark a shortcut key)
AUTO_PASSWORD = "Auto Generate && Email Password"
AUTO_PASSWORD_NAME = "Auto Generate and Email Password"  # read out by screen readers
#: room for the title bar's icon and buttons next to a dialog's title
TITLE_BAR_EXTRA = 120
TITLE_WIDTH_MAX = 640
AUTO_PASSWORD_TIP = "A password is generated and emailed to the contact"


def _mail_hint() -> QLabel:
    hint = QLabel()
    hint.setWordWrap(True)
    hint.setAccessibleName("Password email")
    hint.hide()
    return hint


def show_mail_status(status: mail.PasswordMail, box: QCheckBox, hint: QLabel) -> None:
    """Auto Generate unavailable (unticked, disabled, the reason as tooltip and hint) or
    available (with the administrator's unencrypted-mail warning, if any, in the hint)."""
    box.setEnabled(status.ready)
    if not status.ready:
        box.setChecked(False)
        box.setToolTip(f"Unavailable: {status.problem}")
    else:
        box.setToolTip(AUTO_PASSWORD_TIP + (f". {status.warning}" if status.warning else ""))
    text = status.problem or status.warning or ""
    hint.setText(f"Auto Generate is unavailable: {text}" if status.problem else text)
    hint.setVisible(bool(text))


class ContactDialog(QDialog):
    """``contact_id`` None adds a contact; ``customer_id`` None (Global Contacts) asks for the company."""

    saved = Signal(int)  # customer id

    def __init__(self, ctx, customer_id: int | None, contact_id: int | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.ctx = ctx
        self.customer_id = customer_id
        self.contact_id = contact_id
        self.version: int | None = None
        #: the contact and the company list are shown: the form can be used
        self.ready = False
        self._saving = False
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
        self.auto_password = QCheckBox(AUTO_PASSWORD)
        self.auto_password.setToolTip(AUTO_PASSWORD_TIP)
        self.auto_password.setChecked(True)
        self.mail_hint = _mail_hint()
        #: why a generated password cannot be emailed now (None: it can), and the edited
        #: contact's stored Auto Generate (kept on an edit while the box is disabled)
        self.mail_status: mail.PasswordMail | None = None
        self.mail_problem: str | None = None
        self._stored_auto = True
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
                  "contact_type": "Contact Type", "auto_generate_password": AUTO_PASSWORD_NAME,
                  "password": "Password", "public_notes": "Public Notes", "private_notes": "Private Notes",
                  "mobile_verified": "Mobile Verified", "email_verified": "Email Verified",
                  "ip_whitelist": "IP Whitelist"}
        self.body = QWidget()
        form = QFormLayout(self.body)
        form.setContentsMargins(0, 0, 0, 0)
        for key, w in self.fields.items():
            w.setAccessibleName(labels[key])
            if key == "customer_id" and customer_id is not None:
                continue
            form.addRow(f"{labels[key]}:" if not isinstance(w, QCheckBox) else "", w)
            if key == "auto_generate_password":
                form.addRow("", self.mail_hint)
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
        layout.addWidget(self.body)
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
        self._sync_password()
        self._load()

    # -- loading ---------------------------------------------------------------------
    def _load(self) -> None:
        """The contact (editing), the company list (no customer given) and whether a generated
        password can be emailed, off the GUI thread."""
        customer_id, contact_id = self.customer_id, self.contact_id
        self.auto_password.setEnabled(False)
        self.auto_password.setToolTip("Checking whether a password can be emailed...")
        self.ctx.ops.query(self, mail.password_mail_status, success=self._mail_status,
                           failure=self._mail_unknown, key="mail")
        if customer_id is not None and contact_id is None:
            self._loaded((None, None))
            return

        def load(s) -> tuple[list[tuple[int, str]] | None, svc.ContactRecord | None]:
            companies = None if customer_id is not None else [(r.id, r.name) for r in customer_svc.list_customers(s)]
            return companies, None if contact_id is None else svc.get_contact(s, contact_id)

        self.info.setText("Loading...")
        self._update_enabled()
        self.ctx.ops.query(self, load, success=self._loaded, failure=self._load_failed, key="load")

    def _mail_unknown(self, exc: UserError) -> None:
        self._mail_status(mail.PasswordMail(str(exc)))

    def _mail_status(self, status: mail.PasswordMail) -> None:
        self.mail_status = status
        self.mail_problem = status.problem
        show_mail_status(status, self.auto_password, self.mail_hint)

    def _loaded(self, data: tuple[list[tuple[int, str]] | None, svc.ContactRecord | None]) -> None:
        companies, record = data
        if companies is not None:
            self.company.clear()
            self.company.addItem("Choose the company...", None)
            for cid, name in companies:
                self.company.addItem(name, cid)
        if record is not None:
            self.show_record(record)
        self.info.clear()
        self.ready = True
        self._update_enabled()
        (self.company if companies is not None else self.name).setFocus()

    def _load_failed(self, exc: UserError) -> None:
        self.info.clear()
        self.error.show_error(str(exc))

    def show_record(self, rec: svc.ContactRecord) -> None:
        self.customer_id = rec.customer_id
        self.version = rec.version
        self.name.setText(rec.name)
        self.email.setText(rec.email)
        self.phone.setText(rec.phone)
        self.mobile.setText(rec.mobile)
        self.contact_type.setCurrentText(rec.contact_type)
        self.auto_password.setChecked(rec.auto_generate_password and not self.mail_problem)
        self._stored_auto = rec.auto_generate_password
        self.public_notes.setPlainText(rec.public_notes)
        self.private_notes.setPlainText(rec.private_notes)
        self.mobile_verified.setChecked(rec.mobile_verified)
        self.email_verified.setChecked(rec.email_verified)
        self.ip_whitelist.setPlainText(rec.ip_whitelist)
        self.password.setPlaceholderText("leave empty to keep the current password")

    # -- form ----------------------------------------------------------------------
    def _update_enabled(self) -> None:
        self.body.setEnabled(self.ready)
        for b in (self.save_continue, self.save_stay, self.delay_save, self.schedule_button):
            b.setEnabled(self.ready and not self._saving)

    def _sync_password(self) -> None:
        manual = not self.auto_password.isChecked()
        self.password.setEnabled(manual)
        if not manual:
            self.password.clear()

    def _toggle_delay(self) -> None:
        self.delay_row.setVisible(not self.delay_row.isVisible())
        if self.delay_row.isVisible():
            self.delay_at.setFocus()

    def _auto_value(self) -> bool:
        """Auto Generate as saved: the box, except on an edit while password email is
        unavailable, which keeps the stored choice unless a password is typed."""
        if self.mail_problem and self.contact_id is not None and not self.password.text():
            return self._stored_auto
        return self.auto_password.isChecked()

    def form(self) -> svc.ContactForm:
        return svc.ContactForm(
            name=self.name.text(), email=self.email.text(), phone=self.phone.text(), mobile=self.mobile.text(),
            contact_type=self.contact_type.currentText(), auto_generate_password=self._auto_value(),
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
        self.auto_password.setChecked(self.mail_problem is None)
        self.contact_type.setCurrentText("General")
        self.name.setFocus()

    def target_customer(self) -> int | None:
        return self.customer_id if self.customer_id is not None else self.company.currentData()

    # -- saving ----------------------------------------------------------------------
    def save(self, mode: str) -> None:
        if not self.ready or self._saving:
            return
        self.error.show_error("")
        customer_id = self.target_customer()
        if customer_id is None:
            self.error.show_error("Choose the company this contact belongs to.")
            self.company.setFocus()
            return
        self._attempt(mode, customer_id, None, confirm_warnings=False)

    def _work(self, mode: str, customer_id: int, confirm_warnings: bool):
        """What the writer runs: ``work(job, comment)`` on values read from the form now."""
        form, contact_id, version = self.form(), self.contact_id, self.version
        if mode == DELAY:
            due = self.delay_at.dateTime().toPython()
            due = due.replace(tzinfo=dt.timezone.utc) if due.tzinfo is None else due.astimezone(dt.timezone.utc)
            target: dict[str, Any] = ({"customer_id": customer_id} if contact_id is None
                                      else {"contact_id": contact_id, "expected_version": version})

            def schedule(job, comment):
                # refuse now what could not be applied when due (the password email)
                svc.check_schedulable(job.db, form, new_contact=contact_id is None)
                return scheduler.schedule_contact_change(
                    job.db, job.actor, form, due, confirm_warnings=confirm_warnings, comment=comment, **target)
            return schedule
        if contact_id is None:
            return lambda job, comment: svc.create_contact(
                job.db, job.actor, customer_id, form, confirm_warnings=confirm_warnings, comment=comment)
        return lambda job, comment: svc.update_contact(
            job.db, job.actor, contact_id, version, form, confirm_warnings=confirm_warnings, comment=comment)

    def _attempt(self, mode: str, customer_id: int, comment: str | None, confirm_warnings: bool) -> None:
        work = self._work(mode, customer_id, confirm_warnings)
        given: dict[str, str] = {}  # the reason the write op asked for, to save again with it

        def run(job, reason: str):
            given["comment"] = reason
            return work(job, reason)

        self._saving = True
        self._update_enabled()
        self.ctx.ops.write(self, run, success=lambda result: self._saved(mode, customer_id, result),
                           failure=lambda exc: self._failed(exc, mode, customer_id, given.get("comment")),
                           always=self._save_ended, what="this contact change", comment=comment,
                           title="Saving the contact")

    def _save_ended(self) -> None:
        self._saving = False
        self._update_enabled()

    def _failed(self, exc: UserError, mode: str, customer_id: int, comment: str | None) -> None:
        if isinstance(exc, svc.NeedsConfirmation):
            if dialogs.confirm(self, "Notes may hold a credential", str(exc), "Save anyway"):
                self._attempt(mode, customer_id, comment, confirm_warnings=True)
            return
        self.error.show_error(str(exc))
        widget = self.fields.get(exc.field or "")
        if widget is not None:
            widget.setFocus()
        if isinstance(exc, ConflictError) and self.contact_id is not None:
            self._after_conflict(exc)

    def _after_conflict(self, exc: ConflictError) -> None:
        """Someone saved the contact meanwhile: read its version now (off the GUI thread), so
        that a second Save, made knowingly, replaces their change; the typed values stay."""
        contact_id, loaded, text = self.contact_id, self.version, str(exc)

        def current(version: int) -> None:
            if self.contact_id != contact_id:
                return
            note, self.version = after_conflict(exc, loaded, lambda: version)
            self.error.show_error(text + note)

        # deleted meanwhile (query fails): nothing to save against, the error says enough
        self.ctx.ops.query(self, lambda s: svc.get_contact(s, contact_id).version, success=current,
                           failure=lambda _exc: None, key="version")

    def _saved(self, mode: str, customer_id: int, result) -> None:
        self.saved.emit(customer_id)
        if mode == SAVE_STAY:
            self.info.setText(f"Saved {result.name} <{result.email}>. Ready for the next contact.")
            self.contact_id, self.version = None, None
            self.setWindowTitle("Add contact")
            self.clear_for_next()
        else:
            self.accept()


class ChangePasswordDialog(QDialog):
    """Auto Generate & Email Password, or (unticked) a password typed by an administrator."""

    saved = Signal(int)

    def __init__(self, ctx, contact_id: int, email: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.ctx = ctx
        self.contact_id = contact_id
        self.setWindowTitle(f"Change password: {email}")
        self.setAccessibleName("Change password")
        self.auto = QCheckBox(AUTO_PASSWORD)
        self.auto.setChecked(True)
        self.auto.setAccessibleName(AUTO_PASSWORD_NAME)
        self.auto.setToolTip(AUTO_PASSWORD_TIP)
        self.mail_hint = _mail_hint()
        self.password = QLineEdit()
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        self.password.setAccessibleName("New password")
        self.again = QLineEdit()
        self.again.setEchoMode(QLineEdit.EchoMode.Password)
        self.again.setAccessibleName("New password again")
        form = QFormLayout()
        form.addRow(self.auto)
        form.addRow(self.mail_hint)
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
        # as large as the content (it grows when an error shows), and as wide as the title
        layout.setSizeConstraint(QLayout.SizeConstraint.SetFixedSize)
        layout.addStrut(min(self.fontMetrics().horizontalAdvance(self.windowTitle()) + TITLE_BAR_EXTRA,
                            TITLE_WIDTH_MAX))
        self.auto.toggled.connect(self._sync)
        self._sync()
        self.auto.setEnabled(False)  # until it is known whether a password can be emailed
        self.auto.setToolTip("Checking whether a password can be emailed...")
        ctx.ops.query(self, mail.password_mail_status, success=self._mail_status,
                      failure=lambda exc: self._mail_status(mail.PasswordMail(str(exc))), key="mail")

    def _mail_status(self, status: mail.PasswordMail) -> None:
        show_mail_status(status, self.auto, self.mail_hint)

    def _sync(self) -> None:
        manual = not self.auto.isChecked()
        for w in (self.password, self.again):
            w.setEnabled(manual)

    def save(self) -> None:
        self.error.show_error("")
        password = None
        if not self.auto.isChecked():
            password = typed_password(self.password, self.again, self.error,
                                      "Type the new password: with Auto Generate off an administrator must set it.")
            if password is None:
                return
        contact_id = self.contact_id
        self.buttons.setEnabled(False)
        self.ctx.ops.write(
            self, lambda job, comment: svc.change_password(job.db, job.actor, contact_id, password, comment=comment),
            success=self._saved, failure=lambda exc: self.error.show_error(str(exc)),
            always=lambda: self.buttons.setEnabled(True), what="the password change", title="Changing the password")

    def _saved(self, _result) -> None:
        self.saved.emit(self.contact_id)
        self.accept()
