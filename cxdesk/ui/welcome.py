"""First start on a new machine: a demo database, an empty one, or a PostgreSQL server."""
from __future__ import annotations

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import (
    QButtonGroup,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
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
from cxdesk.services import secrets


class WelcomeDialog(QDialog):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
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
        self.test_button = QPushButton("Test connection")
        self.test_button.setAccessibleName("Test connection")
        self.test_button.clicked.connect(self.test_connection)
        form.addRow(self.test_button)
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.message.setAccessibleName("Connection message")
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Start")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        for b in (self.demo, self.empty, self.server):
            layout.addWidget(b)
        layout.addWidget(self.server_form)
        layout.addWidget(self.message)
        layout.addWidget(buttons)
        self.group.idToggled.connect(lambda *_: self._sync())
        self._sync()

    def _sync(self) -> None:
        self.server_form.setEnabled(self.server.isChecked())

    def server_url(self) -> URL:
        return URL.create(
            "postgresql+psycopg", username=self.user.text().strip() or None,
            host=self.host.text().strip() or "localhost", port=self.port.value(),
            database=self.database.text().strip() or "cxdesk",
        )

    def test_connection(self) -> bool:
        url = self.server_url()
        password = self.password.text()
        try:
            db = open_database(url.set(password=password or None).render_as_string(hide_password=False))
        except UserError as exc:
            self.message.setText(str(exc))
            return False
        db.close()
        self.message.setText("Connected: the server works and the database is ready.")
        return True

    def accept(self) -> None:
        if self.server.isChecked():
            if not self.test_connection():
                return
            if self.password.text():
                try:
                    secrets.set_secret(secret_name_for(self.server_url()), self.password.text())
                except UserError as exc:
                    self.message.setText(f"{exc} The password will be asked for at each start.")
        super().accept()

    def choice(self) -> str:
        return ("demo", "empty", "server")[self.group.checkedId()]


def first_start(settings: QSettings) -> str | None | bool:
    """The database URL to use. Shown only when nothing is configured yet and the default
    file does not exist; returns False when the user cancels."""
    if default_database_path().exists():
        return None
    dialog = WelcomeDialog()
    if dialog.exec() != QDialog.DialogCode.Accepted:
        return False
    choice = dialog.choice()
    if choice == "server":
        url = dialog.server_url().render_as_string(hide_password=False)
        cfg = config.load()
        cfg.database_url = url
        config.save(cfg)
        return url
    if choice == "demo":
        from cxdesk.services.actor import Actor
        from cxdesk.services.demo import load_demo

        db = open_database(default_url())
        try:
            load_demo(db, Actor("setup", "admin", "First start", system=True), customers=30, days=35)
        finally:
            db.close()
    return None
