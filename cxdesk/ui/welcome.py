"""First start on a new machine: a demo database, an empty one, or a PostgreSQL server.

This runs before any database (and so any ``ctx.ops``) exists, so the two slow steps --
testing a server connection and loading the demo data -- run on a small local runner (a
QThreadPool worker with queued signals), with the dialog's progress bar meanwhile.
"""
from __future__ import annotations

import html
import logging
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QSettings, Qt, QThreadPool, Signal
from PySide6.QtWidgets import (
    QButtonGroup,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QRadioButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)
from sqlalchemy.engine import URL

from cxdesk import config
from cxdesk.db import default_url, open_database, secret_name_for
from cxdesk.errors import UserError
from cxdesk.paths import default_database_path
from cxdesk.services import pg_roles, secrets
from cxdesk.ui.kit.ops import alive, show_failure

log = logging.getLogger(__name__)

#: the size of the demo database made at the first start
DEMO_CUSTOMERS = 30
DEMO_DAYS = 35

#: progress(done, total, text), callable from the worker
Progress = Callable[[int, int, str], None]


# -- a tiny runner: no database, no ops yet ---------------------------------------------------
class _Signals(QObject):
    done = Signal(object)
    failed = Signal(object)
    progress = Signal(int, int, str)


class _Work(QRunnable):
    def __init__(self, fn: Callable[[Progress], Any], signals: _Signals) -> None:
        super().__init__()
        self.fn, self.signals = fn, signals
        self.setAutoDelete(True)

    def run(self) -> None:
        try:
            result = self.fn(self.signals.progress.emit)
        except BaseException as exc:  # noqa: BLE001 - handed to the GUI thread
            self.signals.failed.emit(exc)
        else:
            self.signals.done.emit(result)


_running: set[_Signals] = set()


def run_in_background(parent: QObject, fn: Callable[[Progress], Any], *, done: Callable[[Any], None],
                      failed: Callable[[BaseException], None], progress: Progress | None = None) -> None:
    """``fn(progress)`` on a pool thread; ``done(result)``, ``failed(exc)`` and ``progress``
    on the GUI thread, dropped once ``parent`` is deleted."""
    signals = _Signals()
    _running.add(signals)

    def deliver(callback: Callable[[Any], None], value: Any) -> None:
        _running.discard(signals)
        signals.deleteLater()
        if alive(parent):
            callback(value)

    queued = Qt.ConnectionType.QueuedConnection
    signals.done.connect(lambda result: deliver(done, result), queued)
    signals.failed.connect(lambda exc: deliver(failed, exc), queued)
    if progress is not None:
        signals.progress.connect(lambda *args: progress(*args) if alive(parent) else None, queued)
    QThreadPool.globalInstance().start(_Work(fn, signals))


def wait_for_background(msecs: int = 30_000) -> bool:
    return QThreadPool.globalInstance().waitForDone(msecs)


# -- the work ---------------------------------------------------------------------------------
def _connect(url: URL, password: str, remember: bool) -> str:
    """Open (and create or upgrade) the server's database; keep the password in the keyring
    when ``remember``. Returns a note when the keyring refused it."""
    db = open_database(url.set(password=password or None).render_as_string(hide_password=False))
    db.close()
    if remember and password:
        try:
            secrets.set_secret(secret_name_for(url), password)
        except UserError as exc:
            return f"{exc} The password will be asked for at each start."
    return ""


def _load_demo(progress: Progress) -> None:
    from cxdesk.services.actor import Actor
    from cxdesk.services.demo import load_demo

    progress(0, 0, "Creating the demo database...")

    def report(_what: str, done: int, total: int) -> None:
        if done < total:
            progress(done, total, f"Adding demo calls: {done:,} of {total:,}...")
        else:
            progress(0, 0, f"Added {total:,} demo calls; adding them up for the summaries...")

    db = open_database(default_url())
    try:
        load_demo(db, Actor("setup", "admin", "First start", system=True), customers=DEMO_CUSTOMERS,
                  days=DEMO_DAYS, progress=report)
    finally:
        db.close()


def roles_note(url: URL) -> str:
    """How a server gets its two roles, with the command for the host and database typed."""
    admin = url.set(username="postgres", password=None).render_as_string(hide_password=False)
    return (
        "<b>New server?</b> Once, as a superuser, run:<br>"
        f"<code>cxdesk --db {html.escape(admin)} db roles</code><br>"
        f"It creates <b>{pg_roles.OWNER_DEFAULT}</b> (owns the tables, runs upgrades) and "
        f"<b>{pg_roles.APP_DEFAULT}</b> (may add to the audit log, never change it). "
        f"Connect here as {pg_roles.APP_DEFAULT}."
    )


# -- the dialog -------------------------------------------------------------------------------
class WelcomeDialog(QDialog):
    #: a connection test ended: did it connect?
    tested = Signal(bool)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.busy = False
        self.setWindowTitle("Welcome to cxdesk")
        self.setAccessibleName("Welcome to cxdesk")
        intro = QLabel(
            "<b>Welcome to cxdesk.</b> Where should it keep its data? You can change this later "
            "with --db or the settings file."
        )
        intro.setWordWrap(True)
        self.demo = QRadioButton("A demo database with sample customers and calls (to try cxdesk)")
        self.empty = QRadioButton("An empty database on this computer")
        self.server = QRadioButton("A PostgreSQL server shared by several workstations")
        self.group = QButtonGroup(self)
        for i, b in enumerate((self.demo, self.empty, self.server)):
            b.setAccessibleName(b.text())
            self.group.addButton(b, i)
        self.demo.setChecked(True)
        self.host = QLineEdit("localhost")
        self.port = QSpinBox()
        self.port.setRange(1, 65535)
        self.port.setValue(5432)
        self.database = QLineEdit("cxdesk")
        self.user = QLineEdit()
        self.password = QLineEdit()
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        for w, name in ((self.host, "Server host"), (self.port, "Server port"), (self.database, "Database name"),
                        (self.user, "Server user"), (self.password, "Server password")):
            w.setAccessibleName(name)
        self.server_form = QWidget()
        form = QFormLayout(self.server_form)
        form.addRow("Host:", self.host)
        form.addRow("Port:", self.port)
        form.addRow("Database:", self.database)
        form.addRow("User:", self.user)
        form.addRow("Password (kept in the system keyring):", self.password)
        self.user.setPlaceholderText(pg_roles.APP_DEFAULT)
        self.roles_note = QLabel()
        self.roles_note.setWordWrap(True)
        self.roles_note.setTextFormat(Qt.TextFormat.RichText)
        self.roles_note.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.roles_note.setAccessibleName("How to set up the server's roles")
        form.addRow(self.roles_note)
        for edit in (self.host, self.database):
            edit.textChanged.connect(lambda *_: self._show_roles_note())
        self.port.valueChanged.connect(lambda *_: self._show_roles_note())
        self._show_roles_note()
        self.test_button = QPushButton("Test connection")
        self.test_button.setAccessibleName("Test connection")
        self.test_button.clicked.connect(lambda: self.test_connection())
        form.addRow(self.test_button)
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.message.setAccessibleName("Connection message")
        self.progress = QProgressBar()
        self.progress.setAccessibleName("Progress")
        self.progress.hide()
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.start_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.start_button.setText("Start")
        self.start_button.setAccessibleName("Start")
        self.buttons.button(QDialogButtonBox.StandardButton.Cancel).setAccessibleName("Cancel")
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        for b in (self.demo, self.empty, self.server):
            layout.addWidget(b)
        layout.addWidget(self.server_form)
        layout.addWidget(self.message)
        layout.addWidget(self.progress)
        layout.addWidget(self.buttons)
        self.group.idToggled.connect(lambda *_: self._sync())
        self._sync()

    def _sync(self) -> None:
        for w in (self.demo, self.empty, self.server, self.buttons):
            w.setEnabled(not self.busy)
        self.server_form.setEnabled(self.server.isChecked() and not self.busy)

    def _show_roles_note(self) -> None:
        self.roles_note.setText(roles_note(self.server_url()))

    def server_url(self) -> URL:
        return URL.create(
            "postgresql+psycopg", username=self.user.text().strip() or None,
            host=self.host.text().strip() or "localhost", port=self.port.value(),
            database=self.database.text().strip() or "cxdesk",
        )

    def choice(self) -> str:
        return ("demo", "empty", "server")[self.group.checkedId()]

    # -- background work -----------------------------------------------------------------------
    def _run(self, text: str, fn: Callable[[Progress], Any], done: Callable[[Any], None],
             refused: Callable[[], None] = lambda: None) -> None:
        """``fn`` off the GUI thread, the dialog busy meanwhile; a UserError's sentence goes to
        the message line (the form is kept), anything else to the details box."""
        self.busy = True
        self._sync()
        self._show_progress(0, 0, text)
        self.progress.show()

        def idle() -> None:
            self.busy = False
            self.progress.hide()
            self._sync()

        def finished(result: Any) -> None:
            idle()
            done(result)

        def failed(exc: BaseException) -> None:
            idle()
            if isinstance(exc, UserError):
                self.message.setText(str(exc))
            else:
                self.message.setText("")
                show_failure(self, exc)
            refused()

        run_in_background(self, fn, done=finished, failed=failed, progress=self._show_progress)

    def _show_progress(self, done: int, total: int, text: str) -> None:
        self.progress.setRange(0, max(total, 0))
        self.progress.setValue(min(done, total) if total else 0)
        if text:
            self.message.setText(text)

    def test_connection(self, then: Callable[[str], None] | None = None) -> None:
        """Try the server in the background; ``tested`` tells the outcome. ``then(note)`` after
        a success also keeps the password in the keyring (Start)."""
        url, password = self.server_url(), self.password.text()

        def connected(note: str) -> None:
            self.message.setText("Connected: the server works and the database is ready.")
            self.tested.emit(True)
            if then is not None:
                then(note)

        self._run(f"Connecting to {url.host}:{url.port}...", lambda _p: _connect(url, password, then is not None),
                  connected, lambda: self.tested.emit(False))

    def accept(self) -> None:
        if self.busy:
            return
        choice = self.choice()
        if choice == "server":
            self.test_connection(then=self._server_ready)
        elif choice == "demo":
            self._run("Creating the demo database...", _load_demo, lambda _none: QDialog.accept(self))
        else:
            super().accept()

    def _server_ready(self, note: str) -> None:
        if note:
            log.warning("%s", note)
        QDialog.accept(self)

    def reject(self) -> None:
        if not self.busy:  # a connection test ends within seconds, the demo load is let finish
            super().reject()


def first_start(settings: QSettings) -> str | None | bool:
    """The database URL to use. Shown only when nothing is configured yet and the default
    file does not exist; None for the default file (the demo is already loaded into it),
    False when the user cancels."""
    from cxdesk.ui.operators import sign_in

    if default_database_path().exists():
        return None
    dialog = WelcomeDialog()
    accepted = sign_in.exec_dialog(dialog)
    wait_for_background()
    if not accepted:
        return False
    if dialog.choice() == "server":
        url = dialog.server_url().render_as_string(hide_password=False)
        cfg = config.load()
        cfg.database_url = url
        config.save(cfg)
        return url
    return None
