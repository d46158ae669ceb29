"""Signing in: the first-admin dialog, the sign-in dialog with "Remember me", and the flows
the program runs at start and at sign-out.

The sign-in happens before the main window exists: the dialogs get the operations layer
(``Ops``, no actor yet), never the database. A dialog shown with ``exec()`` gets its
operations' callbacks from its own modal loop. The very first steps of the flow, before
any dialog is shown, wait for their worker (``Ops.call``).

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
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

from cxdesk.errors import PermissionDenied, UserError
from cxdesk.services import operators, passwords, secrets
from cxdesk.services.actor import Actor
from cxdesk.ui.kit import dialogs
from cxdesk.ui.kit.ops import Job, Ops

log = logging.getLogger(__name__)

LAST_LOGIN_KEY = "auth/last_login"
REMEMBER_KEY = "auth/remember"


# -- the keyring ------------------------------------------------------------------------------
def remembered_secret_name(ops: Ops, login: str) -> str:
    return f"operator:{login}@{ops.database_display}"


def keyring_problem() -> str | None:
    """None when a keyring works, else the one sentence saying why not."""
    try:
        secrets.check()
    except UserError as exc:
        return str(exc)
    return None


def forget_password(ops: Ops, login: str) -> None:
    """Delete a remembered password; quietly, since there may be none or no keyring."""
    try:
        secrets.delete_secret(remembered_secret_name(ops, login))
    except UserError as exc:
        log.info("could not forget the remembered password: %s", exc)


# -- running ----------------------------------------------------------------------------------
def exec_dialog(dialog: QDialog) -> bool:
    """Run a dialog modally. Tests replace this function: they never call exec()."""
    return dialog.exec() == QDialog.DialogCode.Accepted


# -- the dialogs ------------------------------------------------------------------------------
def _line_edit(name: str, password: bool = False, text: str = "") -> QLineEdit:
    edit = QLineEdit(text)
    edit.setAccessibleName(name)
    if password:
        edit.setEchoMode(QLineEdit.EchoMode.Password)
    return edit


class _AuthDialog(QDialog):
    def __init__(self, ops: Ops, title: str, parent: QWidget | None) -> None:
        super().__init__(parent)
        self.ops = ops
        self.actor: Actor | None = None
        self.running = False
        self.setWindowTitle(title)
        self.setAccessibleName(title)
        self.form = QFormLayout()
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.message.setAccessibleName("Message")
        self.message.setStyleSheet("color: #b00020;")
        self.message.hide()
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

    def _run(self, fn: Callable[[Job], Actor], title: str, signed_in: Callable[[Actor], None],
             refused: Callable[[UserError], None]) -> None:
        """``fn`` on the writer (it writes the LOGIN entries); OK is off meanwhile."""
        if self.running:
            return
        self.running = True
        self.ok_button.setEnabled(False)

        def always() -> None:
            self.running = False
            self.ok_button.setEnabled(True)

        self.ops.task(self, fn, success=signed_in, failure=refused, always=always, write=True, title=title)

    def _signed_in(self, actor: Actor) -> None:
        self.actor = actor
        QDialog.accept(self)

    def reject(self) -> None:
        if not self.running:  # the sign-in being written is let finish: its callback needs the dialog
            super().reject()


class FirstAdminDialog(_AuthDialog):
    """Shown on an empty database: creates the first administrator and signs them in."""

    def __init__(self, ops: Ops, parent: QWidget | None = None) -> None:
        super().__init__(ops, "Create the first administrator", parent)
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
            f"{ops.database_display} has no operators yet. Create the first administrator; the password needs "
            f"at least {passwords.MIN_LENGTH} characters, must not be the login and not easy to guess.")

    def accept(self) -> None:
        login, name, password = self.login_edit.text(), self.name_edit.text(), self.password_edit.text()
        if password != self.again_edit.text():
            self._refuse("The two passwords differ; type them again.", "password")
            return

        def create(job: Job) -> Actor:
            operators.create_operator(job.db, None, login, password, role="admin", display_name=name)
            return operators.sign_in(job.db, login, password)

        self._run(create, "Creating the administrator", self._signed_in,
                  lambda exc: self._refuse(str(exc), exc.field))

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

    def __init__(self, ops: Ops, settings: QSettings, parent: QWidget | None = None,
                 login: str = "", message: str = "") -> None:
        super().__init__(ops, "Sign in to cxdesk", parent)
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
        self._finish_layout(f"Database: {ops.database_display}")
        if message:
            self.show_message(message)
        (self.password_edit if login else self.login_edit).setFocus()

    def accept(self) -> None:
        login, password = self.login_edit.text(), self.password_edit.text()
        self._run(lambda job: operators.sign_in(job.db, login, password), "Signing in",
                  lambda actor: self._remember(actor, password), self._refused)

    def _refused(self, exc: UserError) -> None:
        self.show_message(str(exc))
        self.password_edit.clear()
        self.password_edit.setFocus()

    def _remember(self, actor: Actor, password: str) -> None:
        self.settings.setValue(LAST_LOGIN_KEY, actor.login)
        if self.remember_box.isEnabled():
            remember = self.remember_box.isChecked()
            self.settings.setValue(REMEMBER_KEY, remember)
            if remember:
                try:
                    secrets.set_secret(remembered_secret_name(self.ops, actor.login), password)
                except UserError as exc:  # signed in all the same
                    dialogs.show_error(self, exc)
            else:
                forget_password(self.ops, actor.login)
        self.settings.sync()
        self._signed_in(actor)


# -- the flows --------------------------------------------------------------------------------
def sign_in_flow(ops: Ops, settings: QSettings, parent: QWidget | None = None) -> Actor | None:
    """At start: the first-admin dialog on an empty database, else the remembered password,
    else the sign-in dialog. None when the user cancels. ``ops`` has no actor yet; the
    caller sets ``ops.actor`` to the result."""
    if not ops.call(lambda job: operators.has_operators(job.db)):
        dialog = FirstAdminDialog(ops, parent)
        if not exec_dialog(dialog):
            return None
        settings.setValue(LAST_LOGIN_KEY, dialog.actor.login)
        return dialog.actor
    last = str(settings.value(LAST_LOGIN_KEY, "") or "")
    message = ""
    if last:
        password = secrets.lookup_quietly(remembered_secret_name(ops, last))
        if password:
            try:
                return ops.call(lambda job: operators.sign_in(job.db, last, password), write=True)
            except operators.SignInFailed:
                forget_password(ops, last)
                message = f"The remembered password for {last} no longer works; type the current one."
            except PermissionDenied as exc:  # locked or deactivated: the password may still be right
                message = str(exc)
    dialog = SignInDialog(ops, settings, parent, login=last, message=message)
    return dialog.actor if exec_dialog(dialog) else None


def sign_out_flow(ops: Ops, settings: QSettings, actor: Actor, *, parent: QWidget | None = None,
                  done: Callable[[], None] | None = None) -> None:
    """Forget the remembered password at once (so the next start asks for it), then record
    the sign-out on the writer; ``done()`` after it was recorded (e.g. close the window).
    A failure is shown to the user and ``done`` is not called."""
    forget_password(ops, actor.login)
    ops.task(parent, lambda job: operators.sign_out(job.db, actor), write=True, title="Signing out",
             success=lambda _none: done() if done is not None else None)
