"""New customer / Edit customer, and Adjust balance."""
from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLineEdit,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from cxdesk.errors import UserError
from cxdesk.models import INVOICE_SCHEDULES, STATUSES
from cxdesk.services import customers as svc
from cxdesk.ui.kit import audit_comment
from cxdesk.ui.kit.context import AppContext
from cxdesk.ui.kit.forms import FormErrorLabel, after_conflict

CURRENCIES = ("USD", "EUR", "GBP", "CHF", "CAD", "AUD", "SEK", "NOK", "DKK", "PLN", "JPY", "INR", "ZAR")


class CustomerDialog(QDialog):
    """``customer_id`` None creates a customer. The currency is fixed after creation."""

    saved = Signal(int)

    def __init__(self, ctx: AppContext, customer_id: int | None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.customer_id = customer_id
        self.version: int | None = None
        self.setWindowTitle("New customer" if customer_id is None else "Edit customer")
        self.setAccessibleName(self.windowTitle())
        self.name = QLineEdit()
        self.status = QComboBox()
        self.status.addItems(list(STATUSES))
        self.currency = QComboBox()
        self.currency.setEditable(True)
        self.currency.addItems(list(CURRENCIES))
        self.debit_limit = QLineEdit("0.00")
        self.debit_limit.setToolTip("0.00 = pre-pay; positive = post-pay credit line; negative = a buffer that stops calls early")
        self.channels = QSpinBox()
        self.channels.setRange(0, 100_000)
        self.flow_speed = QSpinBox()
        self.flow_speed.setRange(0, 100_000)
        self.flow_speed.setSuffix(" calls/s")
        self.tax = QLineEdit("0")
        self.schedule = QComboBox()
        self.schedule.addItems(list(INVOICE_SCHEDULES))
        self.schedule.setCurrentText("Monthly")
        self.due_days = QSpinBox()
        self.due_days.setRange(0, 365)
        self.due_days.setValue(30)
        self.portal = QCheckBox("Customer may log in to the portal")
        self.portal.setChecked(True)
        self.tags = QLineEdit()
        self.tags.setPlaceholderText("comma-separated, e.g. wholesale, vip")
        form = QFormLayout()
        for label, w in (("Name", self.name), ("Status", self.status), ("Currency", self.currency),
                         ("Debit Limit", self.debit_limit), ("Channels", self.channels),
                         ("Flow Speed", self.flow_speed), ("Tax (%)", self.tax),
                         ("Invoice Schedule", self.schedule), ("Invoice Due Days", self.due_days),
                         ("Portal Access", self.portal), ("Tags", self.tags)):
            w.setAccessibleName(label)
            form.addRow(f"{label}:", w)
        self.error = FormErrorLabel(self)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self.save)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.error)
        layout.addWidget(self.buttons)
        self.fields = {"name": self.name, "status": self.status, "currency": self.currency,
                       "debit_limit": self.debit_limit, "channels": self.channels, "flow_speed": self.flow_speed,
                       "tax_percent": self.tax, "invoice_schedule": self.schedule,
                       "invoice_due_days": self.due_days, "portal_access": self.portal, "tags": self.tags}
        if customer_id is not None:
            self.load()

    def load(self) -> None:
        with self.ctx.db.read_session() as s:
            rec = svc.get_customer(s, self.customer_id)
        self.version = rec.version
        self.name.setText(rec.name)
        self.status.setCurrentText(rec.status)
        self.currency.setCurrentText(rec.currency)
        self.currency.setEnabled(False)
        self.currency.setToolTip("The currency is fixed once the account exists.")
        self.debit_limit.setText(f"{rec.debit_limit:.2f}")
        self.channels.setValue(rec.channels)
        self.flow_speed.setValue(rec.flow_speed)
        self.tax.setText(f"{rec.tax_percent.normalize():f}")
        self.schedule.setCurrentText(rec.invoice_schedule)
        self.due_days.setValue(rec.invoice_due_days)
        self.portal.setChecked(rec.portal_access)
        self.tags.setText(rec.tags)

    def _after_conflict(self, exc: UserError) -> str:
        def current() -> int:
            with self.ctx.db.read_session() as s:
                return svc.get_customer(s, self.customer_id).version

        note, self.version = after_conflict(exc, self.version if self.customer_id else None, current)
        return note

    def form(self) -> svc.CustomerForm:
        return svc.CustomerForm(
            name=self.name.text(), currency=self.currency.currentText(), status=self.status.currentText(),
            debit_limit=self.debit_limit.text(), channels=self.channels.value(), flow_speed=self.flow_speed.value(),
            tax_percent=self.tax.text(), invoice_schedule=self.schedule.currentText(),
            invoice_due_days=self.due_days.value(), portal_access=self.portal.isChecked(), tags=self.tags.text(),
        )

    def save(self) -> None:
        comment = audit_comment.ask(self.ctx, self, "this customer change")
        if comment is None:
            return
        try:
            if self.customer_id is None:
                rec = svc.create_customer(self.ctx.db, self.ctx.actor, self.form(), comment)
            else:
                rec = svc.update_customer(self.ctx.db, self.ctx.actor, self.customer_id, self.version,
                                          self.form(), comment)
        except UserError as exc:
            self.error.show_error(str(exc) + self._after_conflict(exc))
            widget = self.fields.get(exc.field or "")
            if widget is not None:
                widget.setFocus()
            return
        self.customer_id, self.version = rec.id, rec.version
        self.saved.emit(rec.id)
        self.accept()


class AdjustBalanceDialog(QDialog):
    saved = Signal(int)

    def __init__(self, ctx: AppContext, customer_id: int, currency: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.customer_id = customer_id
        self.setWindowTitle("Adjust balance")
        self.setAccessibleName("Adjust balance")
        self.amount = QLineEdit()
        self.amount.setPlaceholderText(f"e.g. 250.00 to add, -40.00 to deduct ({currency})")
        self.amount.setAccessibleName("Amount")
        self.reason = QLineEdit()
        self.reason.setPlaceholderText("e.g. Payment received, bank ref 4411")
        self.reason.setAccessibleName("Reason")
        form = QFormLayout()
        form.addRow(f"Amount ({currency}):", self.amount)
        form.addRow("Reason:", self.reason)
        self.error = FormErrorLabel(self)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.save)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.error)
        layout.addWidget(buttons)

    def save(self) -> None:
        comment = audit_comment.ask(self.ctx, self, "the balance adjustment")
        if comment is None:
            return
        try:
            svc.adjust_balance(self.ctx.db, self.ctx.actor, self.customer_id, self.amount.text(),
                               self.reason.text(), comment)
        except UserError as exc:
            self.error.show_error(str(exc))
            (self.reason if exc.field == "reason" else self.amount).setFocus()
            return
        self.saved.emit(self.customer_id)
        self.accept()
