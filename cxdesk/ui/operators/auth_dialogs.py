"""Signing in: the first-admin dialog, the sign-in dialog with "Remember me", the flow the
program runs at start, and the Settings > Email page.

A remembered password lives only in the OS keyring, under "operator:<login>@<database>";
QSettings keeps the last login name (not a secret). Without a working keyring the
checkbox is off and says why; the program goes on without remembering.
"""
from __future__ import annotations

import logging
from collections.abc import Callable

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from cxdesk.db import Database
from cxdesk.errors import PermissionDenied, UserError, ValidationError
from cxdesk.services import mail, operators, passwords, secrets
from cxdesk.services.actor import Actor
from cxdesk.ui.kit import dialogs

log = logging.getLogger(__name__)

LAST_LOGIN_KEY = "auth/last_login"
REMEMBER_KEY = "auth/remember"


def remembered_secret_name(db: Database, login: str) -> str:
    return f"operator:{login}@{db.display}"


def keyring_problem() -> str | None:
    """None when a keyring works, else the one sentence saying why not."""
    try:
        secrets.check()
    except UserError as exc:
        return str(exc)
    return None


def forget_password(db: Database, login: str) -> None:
    """Delete a remembered password; quietly, since there may be none or no keyring."""
    try:
        secrets.delete_secret(remembered_secret_name(db, login))
    except UserError as exc:
        log.info("could not forget the remembered password: %s", exc)


def exec_dialog(dialog: QDialog) -> bool:
    """Run a dialog modally. Tests replace this function: they never call exec()."""
    return dialog.exec() == QDialog.DialogCode.Accepted


def _line_edit(name: str, password: bool = False, text: str = "") -> QLineEdit:
    edit = QLineEdit(text)
    edit.setAccessibleName(name)
    if password:
        edit.setEchoMode(QLineEdit.EchoMode.Password)
    return edit


def _message_label() -> QLabel:
    label = QLabel()
    label.setWordWrap(True)
    label.setAccessibleName("Message")
    label.setStyleSheet("color: #b00020;")
    label.hide()
    return label


class _AuthDialog(QDialog):
    def __init__(self, db: Database, title: str, parent: QWidget | None) -> None:
        super().__init__(parent)
        self.db = db
        self.actor: Actor | None = None
        self.setWindowTitle(title)
        self.setAccessibleName(title)
        self.form = QFormLayout()
        self.message = _message_label()
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.ok_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok_button.setAccessibleName("OK")
        self.buttons.button(QDialogButtonBox.StandardButton.Cancel).setAccessibleName("Cancel")
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        self.layout_ = QVBoxLayout(self)

    def _finish_layout(self, intro: str) -> None:
        text = QLabel(intro)
        text.setWordWrap(True)
        text.setAccessibleName("Explanation")
        self.layout_.addWidget(text)
        self.layout_.addLayout(self.form)
        self.layout_.addWidget(self.message)
        self.layout_.addWidget(self.buttons)

    def show_message(self, text: str) -> None:
        self.message.setText(text)
        self.message.show()


class FirstAdminDialog(_AuthDialog):
    """Shown on an empty database: creates the first administrator and signs them in."""

    def __init__(self, db: Database, parent: QWidget | None = None) -> None:
        super().__init__(db, "Create the first administrator", parent)
        self.login_edit = _line_edit("Login")
        self.name_edit = _line_edit("Display name")
        self.password_edit = _line_edit("Password", password=True)
        self.again_edit = _line_edit("Password again", password=True)
        self.form.addRow("&Login:", self.login_edit)
        self.form.addRow("&Name:", self.name_edit)
        self.form.addRow("&Password:", self.password_edit)
        self.form.addRow("&Again:", self.again_edit)
        self.ok_button.setText("Create administrator")
        self._finish_layout(
            f"{db.display} has no operators yet. Create the first administrator; the password needs "
            f"at least {passwords.MIN_LENGTH} characters, must not be the login and not a common password.")

    def accept(self) -> None:
        password = self.password_edit.text()
        if password != self.again_edit.text():
            self._refuse("The two passwords differ; type them again.", "password")
            return
        try:
            operators.create_operator(self.db, None, self.login_edit.text(), password, role="admin",
                                      display_name=self.name_edit.text())
            self.actor = operators.sign_in(self.db, self.login_edit.text(), password)
        except UserError as exc:
            self._refuse(str(exc), exc.field)
            return
        super().accept()

    def _refuse(self, text: str, field: str | None) -> None:
        self.show_message(text)
        if field == "password":
            self.password_edit.clear()
            self.again_edit.clear()
            self.password_edit.setFocus()
        elif field in ("login", "display_name"):
            (self.login_edit if field == "login" else self.name_edit).setFocus()


class SignInDialog(_AuthDialog):
    """Login, password and "Remember me" (disabled, saying why, when no keyring works)."""

    def __init__(self, db: Database, settings: QSettings, parent: QWidget | None = None,
                 login: str = "", message: str = "") -> None:
        super().__init__(db, "Sign in to cxdesk", parent)
        self.settings = settings
        self.login_edit = _line_edit("Login", text=login)
        self.password_edit = _line_edit("Password", password=True)
        self.remember_box = QCheckBox("&Remember me on this computer")
        self.remember_box.setAccessibleName("Remember me")
        self.keyring_note = QLabel()
        self.keyring_note.setWordWrap(True)
        self.keyring_note.setAccessibleName("Keyring note")
        self.form.addRow("&Login:", self.login_edit)
        self.form.addRow("&Password:", self.password_edit)
        self.form.addRow("", self.remember_box)
        self.form.addRow("", self.keyring_note)
        self.ok_button.setText("Sign in")
        problem = keyring_problem()
        if problem:
            self.remember_box.setEnabled(False)
            self.remember_box.setToolTip(problem)
            self.keyring_note.setText(problem)
        else:
            self.remember_box.setChecked(settings.value(REMEMBER_KEY, False, type=bool))
            self.keyring_note.hide()
        self._finish_layout(f"Database: {db.display}")
        if message:
            self.show_message(message)
        (self.password_edit if login else self.login_edit).setFocus()

    def accept(self) -> None:
        password = self.password_edit.text()
        try:
            actor = operators.sign_in(self.db, self.login_edit.text(), password)
        except UserError as exc:
            self.show_message(str(exc))
            self.password_edit.clear()
            self.password_edit.setFocus()
            return
        self.settings.setValue(LAST_LOGIN_KEY, actor.login)
        if self.remember_box.isEnabled():
            remember = self.remember_box.isChecked()
            self.settings.setValue(REMEMBER_KEY, remember)
            if remember:
                try:
                    secrets.set_secret(remembered_secret_name(self.db, actor.login), password)
                except UserError as exc:  # signed in all the same
                    dialogs.show_error(self, exc)
            else:
                forget_password(self.db, actor.login)
        self.settings.sync()
        self.actor = actor
        super().accept()


def sign_in_flow(db: Database, settings: QSettings, parent: QWidget | None = None) -> Actor | None:
    """At start: the first-admin dialog on an empty database, else the remembered password,
    else the sign-in dialog. None when the user cancels."""
    if not operators.has_operators(db):
        dialog = FirstAdminDialog(db, parent)
        if not exec_dialog(dialog):
            return None
        settings.setValue(LAST_LOGIN_KEY, dialog.actor.login)
        return dialog.actor
    last = str(settings.value(LAST_LOGIN_KEY, "") or "")
    message = ""
    if last:
        password = secrets.lookup_quietly(remembered_secret_name(db, last))
        if password:
            try:
                return operators.sign_in(db, last, password)
            except operators.SignInFailed:
                forget_password(db, last)
                message = f"The remembered password for {last} no longer works; type the current one."
            except PermissionDenied as exc:  # locked or deactivated: the password may still be right
                message = str(exc)
    dialog = SignInDialog(db, settings, parent, login=last, message=message)
    return dialog.actor if exec_dialog(dialog) else None


def sign_out_flow(db: Database, settings: QSettings, actor: Actor) -> None:
    """Sign out and forget the remembered password, so the next start asks for it."""
    operators.sign_out(db, actor)
    forget_password(db, actor.login)


class EmailSettingsPage(QWidget):
    """Settings > Email: the smtp-* options, the password (keyring only) and a test email."""

    SECURITY_LABELS = (("None", "none"), ("STARTTLS", "starttls"), ("SSL", "ssl"))

    def __init__(self, ctx, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
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
        may_edit = ctx.actor.can("edit_settings")
        for w in (self.host_edit, self.port_spin, self.security_combo, self.user_edit, self.password_edit,
                  self.sender_edit, self.save_button, self.test_button, self.test_to_edit):
            w.setEnabled(may_edit)
        self.load()

    # -- reading and writing -------------------------------------------------
    def load(self) -> None:
        with self.ctx.db.read_session() as s:
            settings = mail.SmtpSettings.load(s, password="")  # the keyring is asked below
        self.host_edit.setText(settings.host)
        self.port_spin.setValue(settings.port)
        self.security_combo.setCurrentIndex(max(0, self.security_combo.findData(settings.security)))
        self.user_edit.setText(settings.user)
        self.sender_edit.setText(settings.sender)
        if not self.test_to_edit.text():
            self.test_to_edit.setText(settings.sender)
        self.password_edit.clear()
        problem = keyring_problem()
        if problem:
            self.password_edit.setPlaceholderText("not saved: no system keyring")
            self.password_edit.setToolTip(f"{problem} A password typed here is used for the test email only.")
        else:
            stored = secrets.lookup_quietly(mail.SECRET_NAME)
            self.password_edit.setPlaceholderText("stored in the system keyring; type to replace" if stored
                                                  else "not stored yet")
            self.password_edit.setToolTip("Kept in the system keyring, never in the database.")

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

    def _with_comment(self, run: Callable[[str], None], exc: UserError) -> bool:
        """When the Audit Comment option wants a reason, ask for it and run again."""
        if not (isinstance(exc, ValidationError) and exc.field == "comment"):
            return False
        comment = dialogs.ask_text(self, "Reason for the change", "Why is this change made?")
        if comment and comment.strip():
            run(comment)
        else:
            self._report(str(exc))
        return True

    def save(self, comment: str = "") -> None:
        try:
            mail.save_settings(self.ctx.db, self.ctx.actor, self.values(), self.password_edit.text() or None,
                               comment=comment)
        except UserError as exc:
            if not self._with_comment(self.save, exc):
                self._report(str(exc))
            return
        self.load()
        self._report("The email settings were saved.")
        self.ctx.bus.data_changed.emit("options")

    def send_test(self, comment: str = "") -> None:
        to = self.test_to_edit.text()
        values, typed = self.values(), self.password_edit.text()
        self.test_button.setEnabled(False)
        self._report(f"Sending a test email to {to}...")

        def work(_handle):
            password = typed or (secrets.get_secret(mail.SECRET_NAME) if values["smtp-user"] else None)
            settings = mail.SmtpSettings(host=values["smtp-host"].strip(), port=int(values["smtp-port"]),
                                         security=values["smtp-security"], user=values["smtp-user"].strip(),
                                         sender=values["smtp-sender"].strip(), password=password)
            mail.send_test_email(self.ctx.db, self.ctx.actor, to, settings, comment=comment)
            return settings.where

        def done(where: str) -> None:
            self.test_button.setEnabled(True)
            self._report(f"A test email was sent to {to.strip()} through {where}.")
            self.ctx.bus.data_changed.emit("audit_entries")

        def failed(exc: BaseException) -> None:
            self.test_button.setEnabled(True)
            if isinstance(exc, UserError):
                if not self._with_comment(self.send_test, exc):
                    self._report(str(exc))
            else:
                log.error("test email failed unexpectedly", exc_info=exc)
                self._report(f"The test email could not be sent ({type(exc).__name__}); the details are in the log.")

        self.ctx.tasks.run(work, on_done=done, on_error=failed, title="Sending a test email",
                           write=True, parent=self)
