"""The customer's Invoices tab: the invoice list, Auto Generate, Issue, payments and the
paid status, credit notes, the lines dialog, and Export (PDF, Factur-X, UBL, CII, Excel).

The list loads through the operations layer and reloads when a commit (here or on another
workstation) touches the customer's invoices; writes go through ``ctx.ops.write``.
"""
from __future__ import annotations

from typing import Any

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, Qt, QTimer, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QMenu,
    QPushButton,
    QStyledItemDelegate,
    QVBoxLayout,
    QWidget,
)

from cxdesk.models import PAID_STATUSES
from cxdesk.services import invoice_lifecycle as life
from cxdesk.services import invoices as svc
from cxdesk.ui.invoices.invoice_dialog import FORMATS, InvoiceDialog, export_invoice
from cxdesk.ui.kit import dialogs, fmt
from cxdesk.ui.kit.context import AppContext
from cxdesk.ui.kit.panel import Panel
from cxdesk.ui.kit.tables import RIGHT, Column, ColumnsTableModel, DataTableView, SortFilterProxy, fit_columns

__all__ = ["InvoiceDialog", "InvoicesModel", "InvoicesTab", "PAID_COLUMN", "auto_result_text",
           "show_status"]


def auto_result_text(result: svc.AutoResult) -> str:
    """What Auto Generate did, as a sentence, with the periods it left alone below it."""
    sentence = result.sentence()
    text = sentence[:1].upper() + sentence[1:] + "."
    if result.skipped:
        text += "\n\n" + "\n".join(result.skipped)
    return text


def show_status(widget: QWidget, text: str) -> None:
    """A passing message in the status bar of the widget's main window, if it has one."""
    window = widget.window()
    if isinstance(window, QMainWindow):
        window.statusBar().showMessage(text, 10_000)


INVOICE_COLUMNS = [
    Column("Invoice ID", lambda r: r.number, align=RIGHT),
    Column("Name", lambda r: r.name, tooltip=lambda r: f"{r.period_kind.capitalize()} invoice, UTC"),
    Column("Invoice Date", lambda r: r.invoice_date, text=lambda r: r.invoice_date.isoformat()),
    Column("Due Date", lambda r: r.due_date, text=lambda r: r.due_date.isoformat()),
    Column("Total", lambda r: r.total, text=lambda r: svc.format_amount(r.total, r.currency), align=RIGHT),
    Column("State", lambda r: r.state, text=lambda r: f"{r.state} by {r.credit_note}" if r.credit_note else r.state,
           tooltip=lambda r: "issued: it can no longer change" if r.state != "Draft" else "a draft: not sent yet"),
    Column("Paid", lambda r: r.paid_status,
           tooltip=lambda r: f"paid {svc.format_amount(r.paid_amount, r.currency)}" if r.paid_amount else ""),
]
PAID_COLUMN = 6


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
        # saved after the editor has closed; the commit reloads the list
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


class InvoicesTab(Panel):
    TABLES = ("invoices",)

    def __init__(self, ctx: AppContext, parent=None) -> None:
        super().__init__(ctx, parent)
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

        self.auto_button = self._button("Auto Generate Invoices")
        self.auto_button.setToolTip("Create every invoice missing under the customer's Invoice Schedule "
                                    "for ended periods with calls")
        self.open_button = self._button("Open...", "Open invoice")
        self.issue_button = self._button("Issue", "Issue invoice")
        self.issue_button.setToolTip("Issue the draft: from then on it cannot change (a correction is a credit note)")
        self.pay_button = self._button("Record Payment...", "Record payment")
        self.credit_button = self._button("Credit Note...", "Credit invoice")
        self.credit_button.setToolTip("Cancel the issued invoice with a credit note (type 381)")
        self.export_button = self._button("Export", "Export invoice")
        self.export_menu = QMenu(self)
        self.export_actions = {kind: QAction(f"Invoice as {label}...", self)
                               for kind, (label, *_rest) in FORMATS.items()}
        self.credit_export_actions = {kind: QAction(f"Credit note as {label}...", self)
                                      for kind, (label, *_rest) in FORMATS.items() if kind != "xlsx"}
        self.export_menu.addActions(list(self.export_actions.values()))
        self.export_menu.addSeparator()
        self.export_menu.addActions(list(self.credit_export_actions.values()))
        self.export_button.setMenu(self.export_menu)
        self.refresh_button = self._button("Refresh", "Refresh invoices")
        self.count = QLabel()
        self.count.setAccessibleName("Invoice count")

        self.open_action = QAction("Open...", self)
        self.issue_action = QAction("Issue", self)
        self.pay_action = QAction("Record Payment...", self)
        self.credit_action = QAction("Credit Note...", self)
        self.pdf_action = self.export_actions["pdf"]
        self.xlsx_action = self.export_actions["xlsx"]
        self.paid_actions = {status: QAction(f"Mark {status}", self) for status in PAID_STATUSES}
        for status, action in self.paid_actions.items():
            action.triggered.connect(lambda _c=False, s=status: self._mark_current(s))
        # F5 is the main window's: it rolls up new CDRs; the commit reloads what changed

        self.auto_button.clicked.connect(self.auto_generate)
        self.open_button.clicked.connect(self.open_current)
        self.open_action.triggered.connect(self.open_current)
        for button, action, slot in ((self.issue_button, self.issue_action, self.issue_current),
                                     (self.pay_button, self.pay_action, self.record_payment),
                                     (self.credit_button, self.credit_action, self.credit_current)):
            button.clicked.connect(lambda _c=False, f=slot: f())
            action.triggered.connect(lambda _c=False, f=slot: f())
        for kind, action in self.export_actions.items():
            action.triggered.connect(lambda _c=False, k=kind: self.export_current(k))
        for kind, action in self.credit_export_actions.items():
            action.triggered.connect(lambda _c=False, k=kind: self.export_credit_note(k))
        self.refresh_button.clicked.connect(self.reload)
        self.view.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.view.customContextMenuRequested.connect(lambda pos: self.menu().popup(self.view.viewport().mapToGlobal(pos)))
        self.view.selectionModel().selectionChanged.connect(lambda *_: self._update_buttons())

        top = QHBoxLayout()
        for w in (self.auto_button, self.open_button, self.issue_button, self.pay_button, self.credit_button,
                  self.export_button):
            top.addWidget(w)
        top.addStretch(1)
        top.addWidget(self.refresh_button)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.view, 1)
        # the count under the list: beside the buttons it made the tab wider than the main
        # window's right side at 1280 pixels, so showing the tab narrowed the customer list
        layout.addWidget(self.count)
        self.view.restore_state()
        self._update_buttons()

    def _button(self, text: str, name: str | None = None) -> QPushButton:
        button = QPushButton(text)
        button.setAccessibleName(name or text)
        return button

    # -- list ---------------------------------------------------------------------
    def loader(self):
        cid = self.customer_id
        return None if cid is None else (lambda s: svc.list_invoices(s, cid))

    def show_data(self, rows: list[svc.InvoiceRow] | None) -> None:
        rows = rows or []
        kept = self.current()
        self.model.set_rows(rows)
        if kept is not None:  # the selected invoice stays selected when the list reloads
            self._select(kept.id)
        unpaid = sum(1 for r in rows if r.paid_status != "Paid")
        self.count.setText(f"{fmt.counted(len(rows), 'invoice')}, {unpaid} not paid")
        fit_columns(self.view, wide=[1])
        self._update_buttons()

    def _select(self, invoice_id: int) -> None:
        for row in range(self.model.rowCount()):
            if self.model.row_at(row).id == invoice_id:
                self.view.selectRow(self.proxy.mapFromSource(self.model.index(row, 0)).row())
                return

    def current(self) -> svc.InvoiceRow | None:
        rows = self.view.selected_rows()
        return rows[0] if rows else None

    def _update_buttons(self) -> None:
        row = self.current()
        has = row is not None
        can = self.ctx.actor.can
        state = row.state if row is not None else ""
        edit = has and can("edit_invoices")
        self.auto_button.setEnabled(self.customer_id is not None and can("generate_invoices"))
        self.open_button.setEnabled(has)
        self.open_action.setEnabled(has)
        for w in (self.issue_button, self.issue_action):
            w.setEnabled(edit and state == "Draft")
        for w in (self.pay_button, self.pay_action):
            w.setEnabled(edit and state == "Issued" and row.paid_status != "Paid")
        for w in (self.credit_button, self.credit_action):
            w.setEnabled(edit and state == "Issued")
        self.export_button.setEnabled(has and can("export"))
        for kind, action in self.export_actions.items():
            action.setEnabled(has and can("export") and (kind == "xlsx" or state != "Draft"))
        for action in self.credit_export_actions.values():
            action.setEnabled(has and can("export") and bool(row.credit_note))
        for action in self.paid_actions.values():
            action.setEnabled(edit and state == "Issued")

    def menu(self) -> QMenu:
        self._update_buttons()
        menu = QMenu(self)
        menu.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        menu.addAction(self.open_action)
        menu.addSeparator()
        menu.addActions([self.issue_action, self.pay_action, self.credit_action])
        menu.addSeparator()
        menu.addActions(list(self.paid_actions.values()))
        menu.addSeparator()
        menu.addActions(list(self.export_actions.values()))
        menu.addActions(list(self.credit_export_actions.values()))
        return menu

    def _double_clicked(self, index: QModelIndex) -> None:
        if not (self.model.editable and index.column() == PAID_COLUMN):
            self.open_current()

    # -- actions ------------------------------------------------------------------
    def open_current(self) -> InvoiceDialog | None:
        """The selected invoice in its dialog (it loads when shown, deleted when closed)."""
        row = self.current()
        if row is None:
            return None
        dialog = InvoiceDialog(self.ctx, row.id, self)
        dialog.missing.connect(self.reload)
        dialog.open()
        return dialog

    def export_current(self, kind: str) -> str | None:
        """Export the selected invoice as ``kind`` (pdf, facturx, ubl, cii, xlsx); the file name
        chosen, or None."""
        row = self.current()
        if row is None:
            return None
        number = row.number
        return export_invoice(self.ctx, self, row.id, number, kind,
                              success=lambda path: show_status(self, f"Invoice {number} exported to {path}"))

    def export_credit_note(self, kind: str) -> str | None:
        """Export the credit note of the selected invoice; the file name chosen, or None."""
        row = self.current()
        if row is None or not row.credit_note:
            return None
        ref = row.credit_note
        return export_invoice(self.ctx, self, row.id, ref, kind,
                              success=lambda path: show_status(self, f"Credit note {ref} exported to {path}"))

    def _write(self, fn, what: str, done: str) -> None:
        """A change of the selected invoice; the list reloads on the commit."""
        def failed(exc: BaseException) -> None:
            dialogs.show_error(self, exc)
            self.reload()  # show what is stored now

        self.ctx.ops.write(self, fn, success=lambda _r: show_status(self, done), failure=failed, what=what,
                           title=what[:1].upper() + what[1:])

    def issue_current(self) -> None:
        row = self.current()
        if row is None or not dialogs.confirm(
                self, "Issue Invoice", f"Issue invoice {row.number}? From then on it cannot change; a correction "
                                       "is a credit note.", "Issue"):
            return
        invoice_id, version, number = row.id, row.version, row.number
        self._write(lambda job, comment: life.issue_invoice(job.db, job.actor, invoice_id, version, comment),
                    "issuing the invoice", f"Invoice {number} issued")

    def record_payment(self) -> None:
        row = self.current()
        if row is None:
            return
        due = svc.format_amount(row.total - row.paid_amount, row.currency)
        amount = dialogs.ask_text(self, "Record Payment", f"Amount received for invoice {row.number} ({due} due):")
        if amount is None:
            return
        invoice_id, version, number = row.id, row.version, row.number
        self._write(lambda job, comment: life.record_payment(job.db, job.actor, invoice_id, amount, version, comment),
                    "recording the payment", f"Payment for invoice {number} recorded")

    def credit_current(self) -> None:
        row = self.current()
        if row is None:
            return
        reason = dialogs.ask_text(self, "Credit Note", f"Cancel invoice {row.number} in full with a credit note. "
                                                       "Reason (printed on the credit note):")
        if reason is None:
            return
        invoice_id, version, number = row.id, row.version, row.number
        self._write(lambda job, comment: life.credit_invoice(job.db, job.actor, invoice_id, reason,
                                                             expected_version=version, comment=comment),
                    "making the credit note", f"Invoice {number} credited")

    def _mark_current(self, status: str) -> None:
        row = self.current()
        if row is not None:
            self.set_paid_status(row, status)

    def set_paid_status(self, row: svc.InvoiceRow, status: str) -> None:
        if status == row.paid_status:
            return
        invoice_id, version = row.id, row.version

        def failed(exc: BaseException) -> None:
            dialogs.show_error(self, exc)
            self.reload()  # show what is stored now

        self.ctx.ops.write(
            self, lambda job, comment: svc.set_paid_status(job.db, job.actor, invoice_id, status, version, comment),
            failure=failed, what="changing the paid status", title="Saving the paid status")

    def auto_generate(self) -> None:
        if self.customer_id is None:
            return
        if not dialogs.confirm(self, "Auto Generate Invoices",
                               "Create every invoice missing under this customer's Invoice Schedule, "
                               "for the periods that have ended and have calls?", "Generate"):
            return
        cid = self.customer_id
        self.ctx.ops.write(
            self, lambda job, comment: svc.auto_generate(job.db, job.actor, cid, comment=comment),
            success=lambda result: dialogs.info(self, "Auto Generate Invoices", auto_result_text(result)),
            what="generating invoices", title="Generating invoices", disable=(self.auto_button,))

    def save_state(self) -> None:
        self.view.save_state()
