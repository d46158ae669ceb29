"""One invoice in a dialog (who, when, the lines and the totals as printed), and the export
of an invoice or credit note to PDF, Factur-X, UBL, CII or Excel.

The dialog loads its invoice through the operations layer when shown, and again when the
invoice changes (its paid status set on another workstation). An export runs as a task off
the GUI thread (``services.invoice_export``: it reads the invoice, validates the e-invoice
and writes the file); the PDF is drawn by Qt (QTextDocument on a QPdfWriter), which is
reentrant and runs on the task's thread.
"""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QDialogButtonBox, QFormLayout, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from cxdesk.errors import UserError
from cxdesk.services import invoice_export
from cxdesk.services import invoices as svc
from cxdesk.services.changes import ChangeSet
from cxdesk.ui.kit import dialogs
from cxdesk.ui.kit.context import AppContext
from cxdesk.ui.kit.ops import Job
from cxdesk.ui.kit.panel import DataView
from cxdesk.ui.kit.tables import RIGHT, Column, ColumnsTableModel, DataTableView, SortFilterProxy, fit_columns
from cxdesk.ui.kit.window import PersistentDialog

LINE_COLUMNS = [
    Column("Description", lambda s: s.line.description),
    Column("From (UTC)", lambda s: s.line.period_start.date(), text=lambda s: s.line.period_start.date().isoformat()),
    Column("To (UTC)", lambda s: s.line.last_day, text=lambda s: s.line.last_day.isoformat()),
    Column("Calls", lambda s: s.line.calls, text=lambda s: f"{s.line.calls:,}", align=RIGHT),
    Column("Minutes", lambda s: s.line.minutes, text=lambda s: f"{s.line.minutes:,.2f}", align=RIGHT),
    Column("Quantity", lambda s: s.line.quantity, text=lambda s: f"{s.line.quantity.normalize():f}", align=RIGHT,
           tooltip=lambda s: "the line's calls as one item: quantity x price = net"),
    Column("Unit Price", lambda s: s.line.unit_price, text=lambda s: f"{s.line.unit_price:,.4f}", align=RIGHT,
           tooltip=lambda s: f"price per item: {s.line.unit_price}"),
    Column("Net", lambda s: s.net, text=lambda s: f"{s.net:,}", align=RIGHT),
    Column("Tax", lambda s: s.tax, text=lambda s: f"{s.tax:,}", align=RIGHT),
    Column("Total", lambda s: s.total, text=lambda s: f"{s.total:,}", align=RIGHT),
]
HEAD_FIELDS = ("Invoice ID", "Customer", "Period (UTC)", "Invoice Date", "Due Date", "State", "Paid")
TOTAL_FIELDS = ("Net", "Tax", "Total")
#: format -> (menu label, file dialog filter, suffix, file name tail)
FORMATS = {
    "pdf": ("PDF", "PDF files (*.pdf)", "pdf", ""),
    "facturx": ("Factur-X PDF", "PDF files (*.pdf)", "pdf", "-facturx"),
    "ubl": ("UBL XML", "XML files (*.xml)", "xml", "-ubl"),
    "cii": ("CII XML", "XML files (*.xml)", "xml", "-cii"),
    "xlsx": ("Excel", "Excel workbooks (*.xlsx)", "xlsx", ""),
}


def export_invoice(ctx: AppContext, parent: QWidget, invoice_id: int, number: int | str, kind: str,
                   success: Callable[[str], None] | None = None) -> str | None:
    """Ask for a file name, then write invoice ``number`` (or credit note "CN-3") as ``kind``
    (a key of FORMATS) in a task. Returns the file name chosen (``success(path)`` follows
    once it is written), or None. ``invoice_id`` is kept for callers; the number names it."""
    label, filters, suffix, tail = FORMATS[kind]
    what = f"credit note {number}" if str(number).upper().startswith("CN-") else f"invoice {number}"
    stem = what.replace(" ", "-").lower()
    path = dialogs.save_file(parent, f"Export {what} to {label}", f"{stem}{tail}.{suffix}", filters)
    if not path:
        return None
    if not Path(path).suffix:
        path += f".{suffix}"

    def work(job: Job) -> str:
        try:
            invoice_export.export(job.db, job.actor, str(number), kind, path)
        except OSError as exc:
            raise UserError(f"Cannot write {path}: {exc.strerror or exc}; choose another folder.") from exc
        return path

    ctx.ops.task(parent, work, success=success, title=f"Exporting {what} to {label}")
    return path


class InvoiceDialog(DataView, PersistentDialog):
    """One invoice; ``open()`` it: it loads when shown and is deleted when closed."""

    TABLES = ("invoices",)
    #: the invoice is gone (the list it was opened from should reload)
    missing = Signal()

    def __init__(self, ctx: AppContext, invoice_id: int, parent: QWidget | None = None) -> None:
        PersistentDialog.__init__(self, ctx.settings, "invoice_dialog", (980, 560), parent)
        self._init_data_view(ctx)
        self.invoice_id = invoice_id
        self.invoice: svc.InvoiceRecord | None = None
        self.setWindowTitle("Invoice")
        self.setAccessibleName("Invoice")
        form = QFormLayout()
        self.fields: dict[str, QLabel] = {}
        for label in HEAD_FIELDS:
            form.addRow(label, self._field(label))
        self.model = ColumnsTableModel(LINE_COLUMNS, parent=self)
        self.proxy = SortFilterProxy(self)
        self.proxy.setSourceModel(self.model)
        self.view = DataTableView("invoice_lines", ctx.settings, self)
        self.view.setModel(self.proxy)
        self.view.setAccessibleName("Invoice lines")
        totals = QFormLayout()
        self.tax_label = QLabel("Tax")
        for label in TOTAL_FIELDS:
            field = self._field(label)
            field.setAlignment(RIGHT)
            totals.addRow(self.tax_label if label == "Tax" else QLabel(label), field)
        self.fields["Total"].setStyleSheet("font-weight: 600")
        self.pdf_button = QPushButton("Export PDF...")
        self.pdf_button.setAccessibleName("Export invoice to PDF")
        self.xlsx_button = QPushButton("Export Excel...")
        self.xlsx_button.setAccessibleName("Export invoice to Excel")
        self.pdf_button.clicked.connect(lambda: self.export("pdf"))
        self.xlsx_button.clicked.connect(lambda: self.export("xlsx"))
        self.message = QLabel()
        self.message.setAccessibleName("Export message")
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.button(QDialogButtonBox.StandardButton.Close).setAccessibleName("Close")
        buttons.rejected.connect(self.reject)
        bottom = QHBoxLayout()
        bottom.addWidget(self.pdf_button)
        bottom.addWidget(self.xlsx_button)
        bottom.addWidget(self.message, 1)
        bottom.addLayout(totals)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.view, 1)
        layout.addLayout(bottom)
        layout.addWidget(buttons)
        self.keep(self.view)
        self._update_buttons()

    def _field(self, label: str) -> QLabel:
        field = QLabel("Loading..." if label == "Invoice ID" else "")
        field.setAccessibleName(label)
        field.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.fields[label] = field
        return field

    def _update_buttons(self) -> None:
        can_export = self.invoice is not None and self.ctx.actor.can("export")
        self.pdf_button.setEnabled(can_export and not self.invoice.is_draft)
        self.pdf_button.setToolTip("A draft is exported once issued" if self.invoice and self.invoice.is_draft else "")
        self.xlsx_button.setEnabled(can_export)

    # -- data -----------------------------------------------------------------------------
    def concerns(self, change_set: ChangeSet) -> bool:
        return change_set.everything or str(self.invoice_id) in change_set.keys("invoices")

    def loader(self):
        invoice_id = self.invoice_id

        def load(session) -> svc.InvoiceRecord | UserError:
            try:
                return svc.get_invoice(session, invoice_id)
            except UserError as exc:  # shown by show_data, which also closes the dialog
                return exc

        return load

    def show_data(self, data: svc.InvoiceRecord | UserError | None) -> None:
        if isinstance(data, UserError):
            dialogs.show_error(self.parentWidget() or self, data)
            self.missing.emit()
            self.reject()
            return
        if data is None:
            return
        self.invoice = inv = data
        self.setWindowTitle(f"Invoice {inv.number}: {inv.customer_name}")
        self.setAccessibleName(f"Invoice {inv.number}")
        for label, value in zip(HEAD_FIELDS, (str(inv.number), inv.customer_name, f"{inv.name}: {inv.period_text}",
                                              inv.invoice_date.isoformat(), inv.due_date.isoformat(),
                                              inv.state, inv.paid_status)):
            self.fields[label].setText(value)
        for label, value in zip(TOTAL_FIELDS, (inv.net_shown, inv.tax_shown, inv.total)):
            self.fields[label].setText(inv.amount(value))
        self.tax_label.setText(f"Tax {inv.tax_percent.normalize():f} %")
        self.model.set_rows(inv.shown_lines())
        fit_columns(self.view, wide=[0])
        self._update_buttons()

    # -- export ---------------------------------------------------------------------------
    def export(self, kind: str) -> str | None:
        if self.invoice is None:
            return None
        return export_invoice(self.ctx, self, self.invoice_id, self.invoice.number, kind,
                              success=lambda path: self.message.setText(f"Exported to {path}"))
