"""File > Settings (admins): the shared Options, Email, and Operators."""
from __future__ import annotations

from PySide6.QtCore import QByteArray
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from cxdesk.errors import UserError
from cxdesk.services import options
from cxdesk.ui.kit import audit_comment
from cxdesk.ui.kit.context import AppContext

EMAIL_KEYS = ("smtp-host", "smtp-port", "smtp-security", "smtp-user", "smtp-sender")
MULTILINE = ("company-address",)


class OptionsPage(QWidget):
    """One field per option; only changed values are saved, each validated and audited."""

    def __init__(self, ctx: AppContext, parent=None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.fields: dict[str, QWidget] = {}
        form = QFormLayout(self)
        with ctx.db.read_session() as s:
            self.loaded = options.all_values(s)
        for key, d in options.DEFINITIONS.items():
            if key in EMAIL_KEYS:
                continue
            if d.choices:
                w = QComboBox()
                w.addItems(list(d.choices))
                w.setCurrentText(self.loaded[key])
            elif key in MULTILINE:
                w = QPlainTextEdit(self.loaded[key])
                w.setFixedHeight(70)
            else:
                w = QLineEdit(self.loaded[key])
                if d.help:
                    w.setPlaceholderText(d.help)
            w.setAccessibleName(d.label)
            w.setToolTip(d.help)
            self.fields[key] = w
            form.addRow(f"{d.label}:", w)
        self.error = QLabel()
        self.error.setStyleSheet("color: #b00020")
        self.error.setWordWrap(True)
        self.error.setAccessibleName("Options error")
        form.addRow(self.error)

    def value(self, key: str) -> str:
        w = self.fields[key]
        if isinstance(w, QComboBox):
            return w.currentText()
        if isinstance(w, QPlainTextEdit):
            return w.toPlainText()
        return w.text()

    def changed(self) -> dict[str, str]:
        return {k: self.value(k) for k in self.fields if self.value(k).strip() != self.loaded[k].strip()}

    def save(self, comment: str) -> bool:
        """Save the changed options, but only when every one is valid; otherwise show why
        and keep the form as typed."""
        self.error.clear()
        changed = self.changed()
        for key, value in changed.items():
            try:
                options.DEFINITIONS[key].validate(value)
            except UserError as exc:
                self.error.setText(f"{options.DEFINITIONS[key].label}: {exc} Nothing was saved.")
                self.fields[key].setFocus()
                return False
        for key, value in changed.items():
            try:
                stored = options.set_value(self.ctx.db, self.ctx.actor, key, value, comment)
            except UserError as exc:
                self.error.setText(f"{options.DEFINITIONS[key].label}: {exc}")
                self.fields[key].setFocus()
                return False
            self.loaded[key] = stored
        return True


class SettingsDialog(QDialog):
    def __init__(self, ctx: AppContext, parent=None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.setWindowTitle("Settings")
        self.setAccessibleName("Settings")
        self.tabs = QTabWidget()
        self.options_page = OptionsPage(ctx, self)
        self.tabs.addTab(self.options_page, "Options")
        from cxdesk.ui.operators.auth_dialogs import EmailSettingsPage

        self.email_page = EmailSettingsPage(ctx, self)
        self.tabs.addTab(self.email_page, "Email")
        if ctx.actor.can("manage_operators"):
            from cxdesk.ui.operators.operators_page import OperatorsPage

            self.operators_page = OperatorsPage(ctx, self)
            self.tabs.addTab(self.operators_page, "Operators")
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self.save)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.tabs)
        layout.addWidget(self.buttons)
        geometry = ctx.settings.value("settings/geometry")
        if isinstance(geometry, QByteArray):
            self.restoreGeometry(geometry)

    def save(self) -> None:
        """Save the Options page (the Email page has its own Save and test buttons)."""
        if not self.options_page.changed():
            self.accept()
            return
        comment = audit_comment.ask(self.ctx, self, "the settings change")
        if comment is None:
            return
        if not self.options_page.save(comment):
            self.tabs.setCurrentWidget(self.options_page)
            return
        self.ctx.bus.data_changed.emit("options")
        self.accept()

    def done(self, result: int) -> None:
        self.ctx.settings.setValue("settings/geometry", self.saveGeometry())
        super().done(result)
