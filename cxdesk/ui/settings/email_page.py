"""Settings > Email: the smtp-* options, the password (system keyring only) and a test email.

Everything runs through ``ctx.ops``: the options and the keyring state are read by a
worker, Save and Send test email are audited writes (the reason is asked for when Audit
Comment is on). A refused save or a failed test keeps what was typed.

"Allow unencrypted password emails" (admins) is applied at once, as its own audited write,
after a confirmation that says what it risks; unticking it needs no confirmation.
"""
from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from cxdesk.errors import UserError
from cxdesk.services import mail, secrets
from cxdesk.ui.kit import dialogs
from cxdesk.ui.kit.context import AppContext
from cxdesk.ui.kit.ops import Job
from cxdesk.ui.operators.sign_in import keyring_problem


@dataclass(frozen=True)
class _Loaded:
    settings: mail.SmtpSettings
    keyring_problem: str | None
    password_stored: bool
    plaintext_allowed: bool


def _read(session) -> _Loaded:
    """In the worker: the saved settings, and whether the keyring works and has the password."""
    settings = mail.SmtpSettings.load(session, password="")  # the keyring is asked below
    problem = keyring_problem()
    return _Loaded(settings, problem, not problem and bool(secrets.lookup_quietly(mail.SECRET_NAME)),
                   mail.plaintext_allowed(session))


def _line_edit(name: str, password: bool = False) -> QLineEdit:
    edit = QLineEdit()
    edit.setAccessibleName(name)
    if password:
        edit.setEchoMode(QLineEdit.EchoMode.Password)
    return edit


class EmailSettingsPage(QWidget):
    SECURITY_LABELS = (("None", "none"), ("STARTTLS", "starttls"), ("SSL", "ssl"))

    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.loaded = False
        self.setAccessibleName("Email settings")
        self.host_edit = _line_edit("SMTP host")
        self.port_spin = QSpinBox()
        self.port_spin.setRange(1, 65535)
        self.port_spin.setAccessibleName("SMTP port")
        self.security_combo = QComboBox()
        self.security_combo.setAccessibleName("Security")
        for label, value in self.SECURITY_LABELS:
            self.security_combo.addItem(label, value)
        self.user_edit = _line_edit("SMTP user")
        self.password_edit = _line_edit("SMTP password", password=True)
        self.sender_edit = _line_edit("Sender address")
        self.test_to_edit = _line_edit("Test recipient")
        self.plaintext_box = QCheckBox("Allow emailing generated passwords without encr&yption (security None)")
        self.plaintext_box.setAccessibleName("Allow unencrypted password emails")
        self.plaintext_box.setToolTip(mail.PLAINTEXT_WARNING)
        self.save_button = QPushButton("&Save")
        self.save_button.setAccessibleName("Save email settings")
        self.test_button = QPushButton("Send &test email")
        self.test_button.setAccessibleName("Send test email")
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.status.setAccessibleName("Status")

        form = QFormLayout()
        form.addRow("&Host:", self.host_edit)
        form.addRow("&Port:", self.port_spin)
        form.addRow("S&ecurity:", self.security_combo)
        form.addRow("&User:", self.user_edit)
        form.addRow("Pass&word:", self.password_edit)
        form.addRow("Se&nder address:", self.sender_edit)
        form.addRow("Test &recipient:", self.test_to_edit)
        form.addRow(self.plaintext_box)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.test_button)
        buttons.addWidget(self.save_button)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addLayout(buttons)
        layout.addWidget(self.status)
        layout.addStretch(1)

        self.save_button.clicked.connect(lambda: self.save())
        self.test_button.clicked.connect(lambda: self.send_test())
        self.plaintext_box.clicked.connect(self._plaintext_clicked)
        self._edits = (self.host_edit, self.port_spin, self.security_combo, self.user_edit, self.password_edit,
                       self.sender_edit, self.test_to_edit, self.plaintext_box)
        self._sync_enabled()
        self.load()

    def _sync_enabled(self, busy: bool = False) -> None:
        """Editable once loaded, for operators who may edit settings; the buttons not while
        a save or a test runs."""
        may_edit = self.ctx.actor.can("edit_settings") and self.loaded
        for w in self._edits:
            w.setEnabled(may_edit)
        self.save_button.setEnabled(may_edit and not busy)
        self.test_button.setEnabled(may_edit and not busy)

    # -- reading -----------------------------------------------------------------------------
    def load(self) -> None:
        self.ctx.ops.query(self, _read, success=self._show, key="load")

    def _show(self, loaded: _Loaded) -> None:
        settings = loaded.settings
        self.host_edit.setText(settings.host)
        self.port_spin.setValue(settings.port)
        self.security_combo.setCurrentIndex(max(0, self.security_combo.findData(settings.security)))
        self.user_edit.setText(settings.user)
        self.sender_edit.setText(settings.sender)
        if not self.test_to_edit.text():
            self.test_to_edit.setText(settings.sender)
        self.password_edit.clear()
        if loaded.keyring_problem:
            self.password_edit.setPlaceholderText("not saved: no system keyring")
            self.password_edit.setToolTip(
                f"{loaded.keyring_problem} A password typed here is used for the test email only.")
        else:
            self.password_edit.setPlaceholderText("stored in the system keyring; type to replace"
                                                  if loaded.password_stored else "not stored yet")
            self.password_edit.setToolTip("Kept in the system keyring, never in the database.")
        self.plaintext_box.setChecked(loaded.plaintext_allowed)
        self.loaded = True
        self._sync_enabled()

    def values(self) -> dict[str, str]:
        return {
            "smtp-host": self.host_edit.text(),
            "smtp-port": str(self.port_spin.value()),
            "smtp-security": self.security_combo.currentData(),
            "smtp-user": self.user_edit.text(),
            "smtp-sender": self.sender_edit.text(),
        }

    def _report(self, text: str) -> None:
        self.status.setText(text)

    def _failed(self, exc: UserError) -> None:
        self._report(str(exc))  # the form keeps what was typed

    # -- writing -----------------------------------------------------------------------------
    def save(self) -> None:
        values, password = self.values(), self.password_edit.text() or None
        self._sync_enabled(busy=True)
        self.ctx.ops.write(
            self, lambda job, comment: mail.save_settings(job.db, job.actor, values, password, comment=comment),
            success=self._saved, failure=self._failed, always=self._sync_enabled,
            what="the email settings change", title="Saving the email settings")

    def _saved(self, _result) -> None:
        self._report("The email settings were saved.")
        self.load()

    def _plaintext_clicked(self, allow: bool) -> None:
        """Ticked: confirm first (unticked again if not confirmed); either way an audited write."""
        if allow and not dialogs.confirm(self, "Allow unencrypted password emails?",
                                         f"{mail.PLAINTEXT_WARNING} Allow it anyway?", "Allow unencrypted"):
            self.plaintext_box.setChecked(False)
            return
        self._sync_enabled(busy=True)
        self.ctx.ops.write(
            self, lambda job, comment: mail.set_plaintext_passwords(job.db, job.actor, allow, comment=comment),
            success=lambda _changed: self._report(
                "Generated passwords may now be emailed without encryption." if allow
                else "Generated passwords are emailed only over STARTTLS or SSL."),
            failure=lambda exc: (self.plaintext_box.setChecked(not allow), self._failed(exc)),
            always=self._sync_enabled, what="the unencrypted password email setting",
            title="Saving the email settings")

    def send_test(self) -> None:
        """A write (its SEND entry), so the Audit Comment policy applies before anything is sent."""
        to = self.test_to_edit.text()
        values, typed = self.values(), self.password_edit.text()
        self._sync_enabled(busy=True)
        self._report(f"Sending a test email to {to}...")

        def send(job: Job, comment: str) -> str:
            password = typed or (secrets.get_secret(mail.SECRET_NAME) if values["smtp-user"] else None)
            settings = mail.SmtpSettings(host=values["smtp-host"].strip(), port=int(values["smtp-port"]),
                                         security=values["smtp-security"], user=values["smtp-user"].strip(),
                                         sender=values["smtp-sender"].strip(), password=password)
            mail.send_test_email(job.db, job.actor, to, settings, comment=comment)
            return settings.where

        self.ctx.ops.write(
            self, send, success=lambda where: self._report(f"A test email was sent to {to.strip()} through {where}."),
            failure=self._failed, always=self._sync_enabled, what="the test email", title="Sending a test email")
