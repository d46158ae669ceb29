"""The customer's Invoices tab: the invoice list, Auto Generate, the paid status, the lines
dialog, and export to PDF and Excel."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, Qt, QTimer, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QMenu,
    QPushButton,
    QStyledItemDelegate,
    QVBoxLayout,
    QWidget,
)

from cxdesk.errors import UserError
from cxdesk.models import PAID_STATUSES
from cxdesk.services import invoices as svc
from cxdesk.ui.kit import audit_comment, dialogs
from cxdesk.ui.kit.context import AppContext
from cxdesk.ui.kit.tables import RIGHT, Column, ColumnsTableModel, DataTableView, SortFilterProxy

INVOICE_COLUMNS = [
    Column("Invoice ID", lambda r: r.number, align=RIGHT),
    Column("Name", lambda r: r.name, tooltip=lambda r: f"{r.period_kind.capitalize()} invoice, UTC"),
    Column("Invoice Date", lambda r: r.invoice_date, text=lambda r: r.invoice_date.isoformat()),
    Column("Due Date", lambda r: r.due_date, text=lambda r: r.due_date.isoformat()),
    Column("Total", lambda r: r.total, text=lambda r: svc.format_amount(r.total, r.currency), align=RIGHT),
    Column("Paid", lambda r: r.paid_status),
]
PAID_COLUMN = 5

LINE_COLUMNS = [
    Column("Description", lambda s: s.line.description),
    Column("From (UTC)", lambda s: s.line.period_start.date(), text=lambda s: s.line.period_start.date().isoformat()),
    Column("To (UTC)", lambda s: s.line.last_day, text=lambda s: s.line.last_day.isoformat()),
    Column("Calls", lambda s: s.line.calls, text=lambda s: f"{s.line.calls:,}", align=RIGHT),
    Column("Minutes", lambda s: s.line.minutes, text=lambda s: f"{s.line.minutes:,.2f}", align=RIGHT),
    Column("Unit Price", lambda s: s.line.unit_price,
           text=lambda s: f"{s.line.unit_price:,.4f}" if s.line.minutes else "", align=RIGHT,
           tooltip=lambda s: f"net per billed minute: {s.line.unit_price}"),
    Column("Net", lambda s: s.net, text=lambda s: f"{s.net:,}", align=RIGHT,
           tooltip=lambda s: f"exact: {s.line.net}"),
    Column("Tax", lambda s: s.tax, text=lambda s: f"{s.tax:,}", align=RIGHT),
    Column("Total", lambda s: s.total, text=lambda s: f"{s.total:,}", align=RIGHT),
]


class InvoicesModel(ColumnsTableModel):
    """The invoice list; the Paid cell is editable for accountants (saved by the tab)."""

    paid_status_edited = Signal(object, str)  # (InvoiceRow, new status)

    def __init__(self, editable: bool, parent=None) -> None:
        super().__init__(INVOICE_COLUMNS, parent=parent)
        self.editable = editable

    def flags(self, index: QModelIndex | QPersistentModelIndex) -> Qt.ItemFlag:
        flags = super().flags(index)
        if self.editable and index.isValid() and index.column() == PAID_COLUMN:
            flags |= Qt.ItemFlag.ItemIsEditable
        return flags

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if role == Qt.ItemDataRole.EditRole and index.isValid() and index.column() == PAID_COLUMN:
            return self.row_at(index.row()).paid_status
        return super().data(index, role)

    def setData(self, index: QModelIndex | QPersistentModelIndex, value: Any,
                role: int = Qt.ItemDataRole.EditRole) -> bool:
        if (role != Qt.ItemDataRole.EditRole or not index.isValid() or index.column() != PAID_COLUMN
                or not self.editable or value not in PAID_STATUSES):
            return False
        row = self.row_at(index.row())
        if value == row.paid_status:
            return False
        # saved after the editor has closed: the save reloads the list
        QTimer.singleShot(0, self, lambda: self.paid_status_edited.emit(row, value))
        return True


class PaidDelegate(QStyledItemDelegate):
    """A drop-down of Paid, Unpaid, Pending; choosing one saves it."""

    def createEditor(self, parent: QWidget, option, index: QModelIndex | QPersistentModelIndex) -> QWidget:
        combo = QComboBox(parent)
        combo.addItems(PAID_STATUSES)
        combo.setAccessibleName("Paid status")
        combo.activated.connect(lambda _i, editor=combo: self._commit(editor))
        return combo

    def _commit(self, editor: QComboBox) -> None:
        self.commitData.emit(editor)
        self.closeEditor.emit(editor, QStyledItemDelegate.EndEditHint.NoHint)

    def setEditorData(self, editor: QWidget, index: QModelIndex | QPersistentModelIndex) -> None:
        editor.setCurrentText(index.data(Qt.ItemDataRole.EditRole))

    def setModelData(self, editor: QWidget, model, index: QModelIndex | QPersistentModelIndex) -> None:
        model.setData(index, editor.currentText(), Qt.ItemDataRole.EditRole)


def export_invoice(ctx: AppContext, parent: QWidget, invoice_id: int, kind: str) -> str | None:
    """Ask for a file name and write the invoice as PDF (``kind`` "pdf") or Excel ("xlsx").
    Returns the path written, or None. A single invoice takes a blink, so it runs here."""
    from cxdesk.pdf_writer import write_invoice_pdf

    try:
        with ctx.db.read_session() as s:
            invoice = svc.get_invoice(s, invoice_id)
            issuer = svc.company(s)
    except UserError as exc:
        dialogs.show_error(parent, exc)
        return None
    label = "PDF" if kind == "pdf" else "Excel"
    path = dialogs.save_file(parent, f"Export invoice {invoice.number} to {label}", f"invoice-{invoice.number}.{kind}",
                             "PDF files (*.pdf)" if kind == "pdf" else "Excel workbooks (*.xlsx)")
    if not path:
        return None
    if not Path(path).suffix:
        path += f".{kind}"
    try:
        if kind == "pdf":
            write_invoice_pdf(ctx.actor, invoice, issuer, path)
        else:
            svc.export_invoice_xlsx(ctx.actor, invoice, issuer, path)
    except UserError as exc:
        dialogs.show_error(parent, exc)
        return None
    except OSError as exc:
        dialogs.show_error(parent, f"Cannot write {path}: {exc.strerror or exc}; choose another folder.")
        return None
    return path


class InvoiceDialog(QDialog):
    """One invoice: who, when, the lines and the totals as printed; export from here too."""

    def __init__(self, ctx: AppContext, invoice_id: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.invoice_id = invoice_id
        with ctx.db.read_session() as s:
            self.invoice = inv = svc.get_invoice(s, invoice_id)
        self.setWindowTitle(f"Invoice {inv.number}: {inv.customer_name}")
        self.setAccessibleName(f"Invoice {inv.number}")
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.resize(980, 560)
        form = QFormLayout()
        self.fields: dict[str, QLabel] = {}
        for label, value in (("Invoice ID", str(inv.number)), ("Customer", inv.customer_name),
                             ("Period (UTC)", f"{inv.name}: {inv.period_text}"),
                             ("Invoice Date", inv.invoice_date.isoformat()), ("Due Date", inv.due_date.isoformat()),
                             ("Paid", inv.paid_status)):
            field = QLabel(value)
            field.setAccessibleName(label)
            field.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            self.fields[label] = field
            form.addRow(label, field)
        self.model = ColumnsTableModel(LINE_COLUMNS, inv.shown_lines(), self)
        self.proxy = SortFilterProxy(self)
        self.proxy.setSourceModel(self.model)
        self.view = DataTableView("invoice_lines", ctx.settings, self)
        self.view.setModel(self.proxy)
        self.view.setAccessibleName("Invoice lines")
        self.view.resizeColumnsToContents()
        self.view.restore_state()
        totals = QFormLayout()
        rate = f"{inv.tax_percent.normalize():f}"
        for label, value in (("Net", inv.net_shown), (f"Tax {rate} %", inv.tax_shown), ("Total", inv.total)):
            field = QLabel(inv.amount(value))
            field.setAccessibleName(label.split()[0])
            field.setAlignment(RIGHT)
            field.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            if label == "Total":
                field.setStyleSheet("font-weight: 600")
            self.fields[label.split()[0]] = field
            totals.addRow(label, field)
        self.fields["Net"].setToolTip(f"exact sum of the call charges: {inv.net} {inv.currency}")
        self.pdf_button = QPushButton("Export PDF...")
        self.pdf_button.setAccessibleName("Export invoice to PDF")
        self.xlsx_button = QPushButton("Export Excel...")
        self.xlsx_button.setAccessibleName("Export invoice to Excel")
        for b in (self.pdf_button, self.xlsx_button):
            b.setEnabled(ctx.actor.can("export"))
        self.pdf_button.clicked.connect(lambda: export_invoice(self.ctx, self, self.invoice_id, "pdf"))
        self.xlsx_button.clicked.connect(lambda: export_invoice(self.ctx, self, self.invoice_id, "xlsx"))
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.button(QDialogButtonBox.StandardButton.Close).setAccessibleName("Close")
        buttons.rejected.connect(self.reject)
        bottom = QHBoxLayout()
        bottom.addWidget(self.pdf_button)
        bottom.addWidget(self.xlsx_button)
        bottom.addStretch(1)
        bottom.addLayout(totals)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.view, 1)
        layout.addLayout(bottom)
        layout.addWidget(buttons)

    def done(self, result: int) -> None:
        self.view.save_state()
        super().done(result)


class InvoicesTab(QWidget):
    def __init__(self, ctx: AppContext, parent=None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.customer_id: int | None = None
        can = ctx.actor.can
        self.model = InvoicesModel(can("edit_invoices"), self)
        self.model.paid_status_edited.connect(self.set_paid_status)
        self.proxy = SortFilterProxy(self)
        self.proxy.setSourceModel(self.model)
        self.view = DataTableView("invoices", ctx.settings, self)
        self.view.setModel(self.proxy)
        self.view.setAccessibleName("Invoices")
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.view.setItemDelegateForColumn(PAID_COLUMN, PaidDelegate(self.view))
        self.view.setEditTriggers(QAbstractItemView.EditTrigger.DoubleClicked
                                  | QAbstractItemView.EditTrigger.EditKeyPressed)
        self.view.doubleClicked.connect(self._double_clicked)
        self.view.sortByColumn(0, Qt.SortOrder.DescendingOrder)

        self.auto_button = QPushButton("Auto Generate Invoices")
        self.auto_button.setAccessibleName("Auto Generate Invoices")
        self.auto_button.setToolTip("Create every invoice missing under the customer's Invoice Schedule "
                                    "for ended periods with calls")
        self.auto_button.setEnabled(can("generate_invoices"))
        self.open_button = QPushButton("Open...")
        self.open_button.setAccessibleName("Open invoice")
        self.pdf_button = QPushButton("Export PDF...")
        self.pdf_button.setAccessibleName("Export invoice to PDF")
        self.xlsx_button = QPushButton("Export Excel...")
        self.xlsx_button.setAccessibleName("Export invoice to Excel")
        self.refresh_button = QPushButton("Refresh")
        self.refresh_button.setAccessibleName("Refresh invoices")
        self.count = QLabel()
        self.count.setAccessibleName("Invoice count")

        self.open_action = QAction("Open...", self)
        self.pdf_action = QAction("Export PDF...", self)
        self.xlsx_action = QAction("Export Excel...", self)
        self.paid_actions = {status: QAction(f"Mark {status}", self) for status in PAID_STATUSES}
        for status, action in self.paid_actions.items():
            action.setEnabled(can("edit_invoices"))
            action.triggered.connect(lambda _c=False, s=status: self._mark_current(s))
        for w in (self.pdf_button, self.xlsx_button, self.pdf_action, self.xlsx_action):
            w.setEnabled(can("export"))
        # F5 is the main window's: it rolls up new CDRs and then asks every view to reload

        self.auto_button.clicked.connect(self.auto_generate)
        self.open_button.clicked.connect(self.open_current)
        self.open_action.triggered.connect(self.open_current)
        self.pdf_button.clicked.connect(lambda: self.export_current("pdf"))
        self.pdf_action.triggered.connect(lambda: self.export_current("pdf"))
        self.xlsx_button.clicked.connect(lambda: self.export_current("xlsx"))
        self.xlsx_action.triggered.connect(lambda: self.export_current("xlsx"))
        self.refresh_button.clicked.connect(self.reload)
        self.view.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.view.customContextMenuRequested.connect(lambda pos: self.menu().popup(self.view.viewport().mapToGlobal(pos)))
        self.view.selectionModel().selectionChanged.connect(lambda *_: self._update_buttons())

        top = QHBoxLayout()
        for w in (self.auto_button, self.open_button, self.pdf_button, self.xlsx_button):
            top.addWidget(w)
        top.addStretch(1)
        top.addWidget(self.count)
        top.addWidget(self.refresh_button)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.view, 1)
        ctx.bus.data_changed.connect(self._data_changed)
        self.view.restore_state()
        self._update_buttons()

    # -- list ---------------------------------------------------------------------
    def set_customer(self, customer_id: int | None) -> None:
        self.customer_id = customer_id
        self.reload()

    def reload(self) -> None:
        if self.customer_id is None:
            rows = []
        else:
            with self.ctx.db.read_session() as s:
                rows = svc.list_invoices(s, self.customer_id)
        self.model.set_rows(rows)
        unpaid = sum(1 for r in rows if r.paid_status != "Paid")
        self.count.setText(f"{len(rows)} invoice{'s' if len(rows) != 1 else ''}, {unpaid} not paid")
        self._update_buttons()

    def _data_changed(self, table: str) -> None:
        if table == "invoices":
            self.reload()

    def current(self) -> svc.InvoiceRow | None:
        rows = self.view.selected_rows()
        return rows[0] if rows else None

    def _update_buttons(self) -> None:
        has = self.current() is not None
        can = self.ctx.actor.can
        self.auto_button.setEnabled(self.customer_id is not None and can("generate_invoices"))
        self.open_button.setEnabled(has)
        self.open_action.setEnabled(has)
        for w in (self.pdf_button, self.xlsx_button, self.pdf_action, self.xlsx_action):
            w.setEnabled(has and can("export"))
        for action in self.paid_actions.values():
            action.setEnabled(has and can("edit_invoices"))

    def menu(self) -> QMenu:
        self._update_buttons()
        menu = QMenu(self)
        menu.addAction(self.open_action)
        menu.addSeparator()
        menu.addActions(list(self.paid_actions.values()))
        menu.addSeparator()
        menu.addActions([self.pdf_action, self.xlsx_action])
        return menu

    def _double_clicked(self, index: QModelIndex) -> None:
        if not (self.model.editable and index.column() == PAID_COLUMN):
            self.open_current()

    # -- actions ------------------------------------------------------------------
    def open_current(self) -> InvoiceDialog | None:
        row = self.current()
        if row is None:
            return None
        try:
            dialog = InvoiceDialog(self.ctx, row.id, self)
        except UserError as exc:
            dialogs.show_error(self, exc)
            self.reload()
            return None
        dialog.open()
        return dialog

    def export_current(self, kind: str) -> str | None:
        row = self.current()
        return None if row is None else export_invoice(self.ctx, self, row.id, kind)

    def _mark_current(self, status: str) -> None:
        row = self.current()
        if row is not None:
            self.set_paid_status(row, status)

    def set_paid_status(self, row: svc.InvoiceRow, status: str) -> None:
        if status == row.paid_status:
            return
        comment = audit_comment.ask(self.ctx, self, "changing the paid status")
        if comment is None:
            return

        def save(_handle):
            return svc.set_paid_status(self.ctx.db, self.ctx.actor, row.id, status, row.version, comment)

        def failed(exc: BaseException) -> None:
            dialogs.show_error(self, exc)
            self.reload()

        self.ctx.tasks.run(save, write=True, on_done=lambda _r: self._changed(), on_error=failed,
                           title="Saving the paid status", parent=self)

    def auto_generate(self) -> None:
        if self.customer_id is None:
            return
        if not dialogs.confirm(self, "Auto Generate Invoices",
                               "Create every invoice missing under this customer's Invoice Schedule, "
                               "for the periods that have ended and have calls?", "Generate"):
            return
        comment = audit_comment.ask(self.ctx, self, "generating invoices")
        if comment is None:
            return
        customer_id = self.customer_id

        def work(_handle):
            return svc.auto_generate(self.ctx.db, self.ctx.actor, customer_id, comment=comment)

        def done(result: svc.AutoResult) -> None:
            self._changed()
            text = result.sentence()[0].upper() + result.sentence()[1:] + "."
            if result.skipped:
                text += "\n\n" + "\n".join(result.skipped)
            dialogs.info(self, "Auto Generate Invoices", text)

        self.ctx.tasks.run(work, write=True, on_done=done, on_error=lambda exc: dialogs.show_error(self, exc),
                           title="Generating invoices", parent=self)

    def _changed(self) -> None:
        self.ctx.bus.data_changed.emit("invoices")

    def save_state(self) -> None:
        self.view.save_state()
