"""New customer / Edit customer (with the buyer and VAT data of its invoices), and Adjust balance."""
from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLineEdit,
    QPlainTextEdit,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from cxdesk.errors import UserError
from cxdesk.models import INVOICE_SCHEDULES, STATUSES
from cxdesk.services import customers as svc
from cxdesk.services.party_checks import VAT_CATEGORY_NAMES, currency_codes
from cxdesk.ui.kit.context import AppContext
from cxdesk.ui.kit.forms import FormErrorLabel, after_conflict

COMMON_CURRENCIES = ("USD", "EUR", "GBP", "CHF", "CAD", "AUD", "SEK", "NOK", "DKK", "PLN", "JPY", "INR", "ZAR", "KWD")
#: the common ones first, then every other ISO 4217 code
CURRENCIES = COMMON_CURRENCIES + tuple(c for c in currency_codes() if c not in COMMON_CURRENCIES)


class CustomerDialog(QDialog):
    """``customer_id`` None creates a customer. The currency is fixed after creation. The
    record loads in the background; Save is enabled once it is there."""

    saved = Signal(int)

    def __init__(self, ctx: AppContext, customer_id: int | None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
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
        billing = self._billing_fields()
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
        columns = QHBoxLayout()
        columns.addLayout(form)
        columns.addWidget(billing)
        layout = QVBoxLayout(self)
        layout.addLayout(columns)
        layout.addWidget(self.error)
        layout.addWidget(self.buttons)
        self.fields = {"name": self.name, "status": self.status, "currency": self.currency,
                       "debit_limit": self.debit_limit, "channels": self.channels, "flow_speed": self.flow_speed,
                       "tax_percent": self.tax, "invoice_schedule": self.schedule,
                       "invoice_due_days": self.due_days, "portal_access": self.portal, "tags": self.tags,
                       **self.billing}
        self.save_button = self.buttons.button(QDialogButtonBox.StandardButton.Save)
        if customer_id is not None:  # the form waits for the record: nothing typed is overwritten
            self.save_button.setEnabled(False)
            self._set_fields_enabled(False)
            self.error.show_error("")
            ctx.ops.query(self, lambda s: svc.get_customer(s, customer_id), success=self.show_record,
                          failure=lambda exc: self.error.show_error(str(exc)))

    def _billing_fields(self) -> QGroupBox:
        """The buyer on the customer's invoices (EN 16931): address, country, VAT ID, reference,
        VAT category and exemption reason; ``self.billing`` maps CustomerForm fields to them."""
        self.address = QPlainTextEdit()
        self.address.setFixedHeight(60)
        self.address.setPlaceholderText("street, building (up to 3 lines)")
        self.city, self.post_code = QLineEdit(), QLineEdit()
        self.country = QLineEdit()
        self.country.setPlaceholderText("ISO 3166 code, e.g. DE")
        self.vat_id = QLineEdit()
        self.vat_id.setPlaceholderText("with the country prefix, e.g. DE123456789")
        self.buyer_reference = QLineEdit()
        self.vat_category = QComboBox()
        self.vat_category.addItem("Automatic: standard rate above 0 %, else zero rated", "")
        for code, name in VAT_CATEGORY_NAMES.items():
            self.vat_category.addItem(f"{code}: {name}", code)
        self.exemption_reason = QLineEdit()
        self.exemption_reason.setPlaceholderText("required for exempt; reverse charge and others get a default")
        self.exemption_code = QLineEdit()
        self.exemption_code.setPlaceholderText("VATEX code, e.g. VATEX-EU-132 (optional)")
        box = QGroupBox("Billing (e-invoices)")
        grid = QFormLayout(box)
        self.billing = {"address_lines": self.address, "city": self.city, "post_code": self.post_code,
                        "country": self.country, "vat_id": self.vat_id, "buyer_reference": self.buyer_reference,
                        "vat_category": self.vat_category, "vat_exemption_reason": self.exemption_reason,
                        "vat_exemption_code": self.exemption_code}
        for label, w in zip(("Address", "City", "Post Code", "Country", "VAT ID", "Buyer Reference", "VAT Category",
                             "Exemption Reason", "Exemption Code"), self.billing.values()):
            w.setAccessibleName(label)
            grid.addRow(f"{label}:", w)
        return box

    def _set_fields_enabled(self, enabled: bool) -> None:
        for widget in self.fields.values():
            widget.setEnabled(enabled)

    def show_record(self, rec: svc.CustomerRecord) -> None:
        self._set_fields_enabled(True)
        self.save_button.setEnabled(True)
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
        self.address.setPlainText(rec.address_lines)
        for name in ("city", "post_code", "country", "vat_id", "buyer_reference"):
            getattr(self, name).setText(getattr(rec, name))
        self.vat_category.setCurrentIndex(max(0, self.vat_category.findData(rec.vat_category)))
        self.exemption_reason.setText(rec.vat_exemption_reason)
        self.exemption_code.setText(rec.vat_exemption_code)


    def form(self) -> svc.CustomerForm:
        return svc.CustomerForm(
            name=self.name.text(), currency=self.currency.currentText(), status=self.status.currentText(),
            debit_limit=self.debit_limit.text(), channels=self.channels.value(), flow_speed=self.flow_speed.value(),
            tax_percent=self.tax.text(), invoice_schedule=self.schedule.currentText(),
            invoice_due_days=self.due_days.value(), portal_access=self.portal.isChecked(), tags=self.tags.text(),
            address_lines=self.address.toPlainText(), city=self.city.text(), post_code=self.post_code.text(),
            country=self.country.text(), vat_id=self.vat_id.text(), buyer_reference=self.buyer_reference.text(),
            vat_category=self.vat_category.currentData() or "", vat_exemption_reason=self.exemption_reason.text(),
            vat_exemption_code=self.exemption_code.text(),
        )

    def save(self) -> None:
        form, customer_id, version = self.form(), self.customer_id, self.version
        self.error.show_error("")
        self.save_button.setEnabled(False)
        if customer_id is None:
            def work(job, comment):
                return svc.create_customer(job.db, job.actor, form, comment)
        else:
            def work(job, comment):
                try:
                    return svc.update_customer(job.db, job.actor, customer_id, version, form, comment)
                except UserError as exc:  # the current version, for the conflict message
                    try:
                        with job.read() as s:
                            exc.current_version = svc.get_customer(s, customer_id).version
                    except UserError:  # deleted meanwhile
                        pass
                    raise

        self.ctx.ops.write(self, work, success=self._saved, failure=self._refused,
                           always=lambda: self.save_button.setEnabled(True), what="this customer change",
                           title="Saving the customer")

    def _saved(self, rec) -> None:
        self.customer_id, self.version = rec.id, rec.version
        self.saved.emit(rec.id)
        self.accept()

    def _refused(self, exc: UserError) -> None:
        current = getattr(exc, "current_version", None)
        note, self.version = after_conflict(exc, self.version if self.customer_id else None, lambda: current)
        self.error.show_error(str(exc) + note)
        widget = self.fields.get(exc.field or "")
        if widget is not None:
            widget.setFocus()


class AdjustBalanceDialog(QDialog):
    saved = Signal(int)

    def __init__(self, ctx: AppContext, customer_id: int, currency: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
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
        self.save_button = buttons.button(QDialogButtonBox.StandardButton.Save)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.error)
        layout.addWidget(buttons)

    def save(self) -> None:
        customer_id, amount, reason = self.customer_id, self.amount.text(), self.reason.text()
        self.error.show_error("")
        self.save_button.setEnabled(False)
        self.ctx.ops.write(
            self, lambda job, comment: svc.adjust_balance(job.db, job.actor, customer_id, amount, reason, comment),
            success=lambda _r: self._saved(), failure=self._refused,
            always=lambda: self.save_button.setEnabled(True), what="the balance adjustment",
            title="Adjusting the balance")

    def _saved(self) -> None:
        self.saved.emit(self.customer_id)
        self.accept()

    def _refused(self, exc: UserError) -> None:
        self.error.show_error(str(exc))
        (self.reason if exc.field == "reason" else self.amount).setFocus()
