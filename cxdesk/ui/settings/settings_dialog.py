"""File > Settings (admins): the shared Options, Company (the seller on invoices), Email, and Operators."""
from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from cxdesk.errors import UserError, ValidationError
from cxdesk.services import company_settings, options
from cxdesk.ui.kit.context import AppContext
from cxdesk.ui.kit.ops import Job
from cxdesk.ui.kit.window import PersistentDialog

EMAIL_KEYS = ("smtp-host", "smtp-port", "smtp-security", "smtp-user", "smtp-sender", "smtp-allow-plaintext-passwords")
#: options with a page of their own
OWN_PAGE = EMAIL_KEYS + company_settings.COMPANY_KEYS
MULTILINE: tuple[str, ...] = ()


def _save_options(job: Job, changed: dict[str, str], comment: str) -> dict[str, str]:
    """In the writer: store each changed option; the stored (normalised) values. A refusal
    names its option (``field``), except the audit comment's, which the ops layer handles."""
    stored = {}
    for key, value in changed.items():
        try:
            stored[key] = options.set_value(job.db, job.actor, key, value, comment)
        except UserError as exc:
            if isinstance(exc, ValidationError) and exc.field == "comment":
                raise
            raise ValidationError(f"{options.DEFINITIONS[key].label}: {exc}", field=key) from exc
    return stored


class OptionsPage(QWidget):
    """One field per option, filled when the values arrive; only changed values are saved,
    each validated and audited."""

    #: the stored values arrived (Save may be used)
    ready = Signal()

    def __init__(self, ctx: AppContext, parent=None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.fields: dict[str, QWidget] = {}
        self.loaded: dict[str, str] | None = None
        form = QFormLayout(self)
        for key, d in options.DEFINITIONS.items():
            if key in OWN_PAGE:
                continue
            if d.choices:
                w = QComboBox()
                w.addItems(list(d.choices))
            elif key in MULTILINE:
                w = QPlainTextEdit()
                w.setFixedHeight(70)
            else:
                w = QLineEdit()
                if d.help:
                    w.setPlaceholderText(d.help)
            w.setAccessibleName(d.label)
            w.setToolTip(d.help)
            w.setEnabled(False)
            self.fields[key] = w
            form.addRow(f"{d.label}:", w)
        self.error = QLabel()
        self.error.setStyleSheet("color: #b00020")
        self.error.setWordWrap(True)
        self.error.setAccessibleName("Options error")
        form.addRow(self.error)
        ctx.ops.query(self, options.all_values, success=self._show)

    def _show(self, values: dict[str, str]) -> None:
        self.loaded = values
        for key, w in self.fields.items():
            if isinstance(w, QComboBox):
                w.setCurrentText(values[key])
            elif isinstance(w, QPlainTextEdit):
                w.setPlainText(values[key])
            else:
                w.setText(values[key])
            w.setEnabled(True)
        self.ready.emit()

    def value(self, key: str) -> str:
        w = self.fields[key]
        if isinstance(w, QComboBox):
            return w.currentText()
        if isinstance(w, QPlainTextEdit):
            return w.toPlainText()
        return w.text()

    def changed(self) -> dict[str, str]:
        if self.loaded is None:
            return {}
        return {k: self.value(k) for k in self.fields if self.value(k).strip() != self.loaded[k].strip()}

    def check(self, changed: dict[str, str]) -> bool:
        """Every changed value valid? Otherwise say which is not and keep the form as typed."""
        self.error.clear()
        for key, value in changed.items():
            try:
                options.DEFINITIONS[key].validate(value)
            except UserError as exc:
                self.show_refusal(key, f"{options.DEFINITIONS[key].label}: {exc} Nothing was saved.")
                return False
        return True

    def show_refusal(self, key: str | None, text: str) -> None:
        self.error.setText(text)
        if key in self.fields:
            self.fields[key].setFocus()

    def saved(self, stored: dict[str, str]) -> None:
        if self.loaded is not None:
            self.loaded.update(stored)


class SettingsDialog(PersistentDialog):
    def __init__(self, ctx: AppContext, parent=None) -> None:
        super().__init__(ctx.settings, "settings", (760, 600), parent)
        self.ctx = ctx
        self.saving = False
        self.setWindowTitle("Settings")
        self.setAccessibleName("Settings")
        self.tabs = QTabWidget()
        self.options_page = OptionsPage(ctx, self)
        self.tabs.addTab(self.options_page, "Options")
        from cxdesk.ui.settings.company_page import CompanyPage

        self.company_page = CompanyPage(ctx, self)
        self.tabs.addTab(self.company_page, "Company")
        from cxdesk.ui.settings.email_page import EmailSettingsPage

        self.email_page = EmailSettingsPage(ctx, self)
        self.tabs.addTab(self.email_page, "Email")
        if ctx.actor.can("manage_operators"):
            from cxdesk.ui.operators.operators_page import OperatorsPage

            self.operators_page = OperatorsPage(ctx, self)
            self.tabs.addTab(self.operators_page, "Operators")
            self.keep(self.operators_page.view)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel)
        self.save_button = self.buttons.button(QDialogButtonBox.StandardButton.Save)
        self.save_button.setAccessibleName("Save the options")
        self.buttons.accepted.connect(self.save)
        self.buttons.rejected.connect(self.reject)
        self.options_page.ready.connect(self._sync)
        self._sync()
        layout = QVBoxLayout(self)
        layout.addWidget(self.tabs)
        layout.addWidget(self.buttons)

    def _sync(self) -> None:
        self.save_button.setEnabled(self.options_page.loaded is not None and not self.saving)

    def save(self) -> None:
        """Save the Options page (the Email page has its own Save and test buttons): nothing
        while one value is wrong; closes once saved."""
        page = self.options_page
        if self.saving or page.loaded is None:
            return
        changed = page.changed()
        if not changed:
            self.accept()
            return
        if not page.check(changed):
            self.tabs.setCurrentWidget(page)
            return
        self.saving = True
        self._sync()

        def always() -> None:
            self.saving = False
            self._sync()

        self.ctx.ops.write(self, lambda job, comment: _save_options(job, changed, comment),
                           success=self._saved, failure=self._refused, always=always,
                           what="the settings change", title="Saving the settings")

    def _saved(self, stored: dict[str, str]) -> None:
        self.options_page.saved(stored)
        self.accept()

    def _refused(self, exc: UserError) -> None:
        self.options_page.show_refusal(getattr(exc, "field", None), str(exc))
        self.tabs.setCurrentWidget(self.options_page)
