"""Settings > Company: the seller on every invoice (legal name, address, country, VAT ID,
registration id, IBAN and BIC). Read by a worker; Save is one audited write of all the
fields (``services.company_settings``): a malformed value is named in one sentence under
the form, the form keeps what was typed and nothing is saved."""
from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QFormLayout, QLabel, QLineEdit, QPlainTextEdit, QPushButton, QWidget

from cxdesk.errors import UserError
from cxdesk.services import company_settings, options
from cxdesk.ui.kit.context import AppContext


class CompanyPage(QWidget):
    #: the stored values arrived
    ready = Signal()
    #: the company details were saved
    saved = Signal()

    def __init__(self, ctx: AppContext, parent=None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.loaded: dict[str, str] | None = None
        self.fields: dict[str, QLineEdit | QPlainTextEdit] = {}
        form = QFormLayout(self)
        for key in company_settings.COMPANY_KEYS:
            if key == "company-address":
                w = QPlainTextEdit()
                w.setFixedHeight(64)
                w.setPlaceholderText("street, building (up to 3 lines)")
            else:
                w = QLineEdit()
                w.setPlaceholderText(options.DEFINITIONS[key].help)
            label = company_settings.LABELS[key]
            w.setAccessibleName(f"Company {label.lower()}")
            w.setEnabled(False)
            self.fields[key] = w
            form.addRow(f"{label}:", w)
        self.save_button = QPushButton("Save company details")
        self.save_button.setAccessibleName("Save the company details")
        self.save_button.setEnabled(False)
        self.save_button.clicked.connect(self.save)
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.message.setAccessibleName("Company message")
        form.addRow(self.save_button)
        form.addRow(self.message)
        ctx.ops.query(self, company_settings.company_values, success=self._show)

    def _show(self, values: dict[str, str]) -> None:
        self.loaded = dict(values)
        for key, w in self.fields.items():
            if isinstance(w, QPlainTextEdit):
                w.setPlainText(values[key])
            else:
                w.setText(values[key])
            w.setEnabled(True)
        self.save_button.setEnabled(self.ctx.actor.can("edit_settings"))
        self.ready.emit()

    def value(self, key: str) -> str:
        w = self.fields[key]
        return w.toPlainText() if isinstance(w, QPlainTextEdit) else w.text()

    def changed(self) -> dict[str, str]:
        if self.loaded is None:
            return {}
        return {k: self.value(k) for k in self.fields if self.value(k).strip() != self.loaded[k].strip()}

    def save(self) -> None:
        changed = self.changed()
        if not changed:
            self.message.setText("Nothing to save.")
            return
        self.save_button.setEnabled(False)
        self.ctx.ops.write(self, lambda job, comment: company_settings.save_company(job.db, job.actor, changed, comment),
                           success=self._saved, failure=self._refused,
                           always=lambda: self.save_button.setEnabled(True),
                           what="the company details", title="Saving the company details")

    def _saved(self, stored: dict[str, str]) -> None:
        for key, value in stored.items():
            self.loaded[key] = value
            w = self.fields[key]
            if isinstance(w, QPlainTextEdit):
                w.setPlainText(value)
            else:
                w.setText(value)  # as stored: IBAN without spaces, country upper case
        self.message.setStyleSheet("")
        self.message.setText("Saved.")
        self.saved.emit()

    def _refused(self, exc: UserError) -> None:
        self.message.setStyleSheet("color: #b00020")
        self.message.setText(f"{exc} Nothing was saved.")
        key = getattr(exc, "field", None)
        if key in self.fields:
            self.fields[key].setFocus()
