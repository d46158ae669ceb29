"""The customer list on the left of the main window: search as you type, a status filter,
and New customer. It loads through ctx.ops and follows every change to customers."""
from __future__ import annotations

from PySide6.QtCore import QModelIndex, Qt, Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QLineEdit, QPushButton, QVBoxLayout

from cxdesk.models import STATUSES
from cxdesk.services import customers as customer_service
from cxdesk.ui.kit import fmt
from cxdesk.ui.kit.panel import Panel
from cxdesk.ui.kit.tables import RIGHT, ROW_ROLE, Column, ColumnsTableModel, DataTableView, SortFilterProxy, fit_columns


NAME_MIN_WIDTH = 120


class CustomerListModel(ColumnsTableModel):
    def __init__(self, parent=None) -> None:
        super().__init__([
            Column("Name", lambda c: c.name),
            Column("Status", lambda c: c.status),
            Column("Balance", lambda c: c.balance, text=lambda c: fmt.money(c.balance, c.currency), align=RIGHT),
        ], parent=parent)


class CustomerFilterProxy(SortFilterProxy):
    """Search over the columns plus an exact status filter."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.status = ""

    def set_status(self, status: str) -> None:
        self.beginFilterChange()
        self.status = status
        self.endFilterChange(SortFilterProxy.Direction.Rows)

    def filterAcceptsRow(self, source_row: int, source_parent: QModelIndex) -> bool:  # noqa: N802
        if self.status and self.sourceModel().row_at(source_row).status != self.status:
            return False
        return super().filterAcceptsRow(source_row, source_parent)


class CustomerList(Panel):
    """``current_changed(id or None)`` when the user selects another customer (not when a
    reload keeps the same one selected)."""

    TABLES = ("customers",)
    CUSTOMER_SCOPED = False
    current_changed = Signal(object)

    def __init__(self, ctx, parent=None) -> None:
        super().__init__(ctx, parent)
        self._current: int | None = None
        self._wanted: int | None = None  # to select once the list has it (a new customer)
        self._restoring = False
        self.search = QLineEdit()
        self.search.setPlaceholderText("Search customers (Ctrl+F)")
        self.search.setAccessibleName("Search customers")
        self.search.setClearButtonEnabled(True)
        self.status = QComboBox()
        self.status.addItem("All statuses", "")
        for s in STATUSES:
            self.status.addItem(s, s)
        self.status.setAccessibleName("Status filter")
        self.new_button = QPushButton("New customer")
        self.new_button.setAccessibleName("New customer")
        self.new_button.setEnabled(ctx.actor.can("edit_customers"))
        self.model = CustomerListModel(self)
        self.proxy = CustomerFilterProxy(self)
        self.proxy.setSourceModel(self.model)
        self.view = DataTableView("customers", ctx.settings, self)
        self.view.setModel(self.proxy)
        self.view.setSelectionMode(DataTableView.SelectionMode.SingleSelection)
        self.view.setAccessibleName("Customers")
        self.view.sortByColumn(0, Qt.SortOrder.AscendingOrder)
        self.count = QLabel()
        self.count.setAccessibleName("Customer count")
        top = QHBoxLayout()
        top.addWidget(self.search, 1)
        top.addWidget(self.status)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(top)
        layout.addWidget(self.view, 1)
        bottom = QHBoxLayout()
        bottom.addWidget(self.count, 1)
        bottom.addWidget(self.new_button)
        layout.addLayout(bottom)
        self.search.textChanged.connect(self._filter)
        self.status.currentIndexChanged.connect(lambda _i: self._filter())
        self.view.selectionModel().selectionChanged.connect(lambda *_: self._selection_changed())
        self.view.restore_state()

    # -- data -----------------------------------------------------------------------------
    def loader(self):
        return customer_service.list_customers

    def show_data(self, rows) -> None:
        self._restoring = True
        try:
            self.model.set_rows(rows or [])
            wanted = self._wanted if self._wanted is not None else self._current
            if wanted is not None and self._select_row_of(wanted):
                self._wanted = None
        finally:
            self._restoring = False
        fit_columns(self.view, wide=[0])
        self._keep_columns_visible()
        self._update_count()
        self._selection_changed()

    def _keep_columns_visible(self) -> None:
        """The list is never squeezed so narrow that Status or Balance leave the screen."""
        header = self.view.horizontalHeader()
        needed = sum(header.sectionSize(c) for c in (1, 2)) + NAME_MIN_WIDTH
        needed += self.view.verticalScrollBar().sizeHint().width() + 2 * self.view.frameWidth()
        self.setMinimumWidth(needed)

    def _filter(self) -> None:
        self.proxy.setFilterFixedString(self.search.text().strip())
        self.proxy.set_status(self.status.currentData() or "")
        self._update_count()

    def _update_count(self) -> None:
        shown, total = self.proxy.rowCount(), self.model.rowCount()
        noun = "customer" if total == 1 else "customers"
        self.count.setText(f"{shown} of {total} {noun}" if shown != total else f"{total} {noun}")

    # -- selection -------------------------------------------------------------------------
    def _selection_changed(self) -> None:
        if self._restoring:
            return
        rows = self.view.selected_rows()
        current = rows[0].id if rows else None
        if current != self._current:
            self._current = current
            self.current_changed.emit(current)

    def current_id(self) -> int | None:
        return self._current

    def select(self, customer_id: int) -> bool:
        """Select the customer, or remember to once the list has it (False then)."""
        if self._select_row_of(customer_id):
            self._wanted = None
            self._selection_changed()
            return True
        self._wanted = customer_id
        return False

    def _select_row_of(self, customer_id: int) -> bool:
        for r in range(self.proxy.rowCount()):
            idx = self.proxy.index(r, 0)
            if self.proxy.data(idx, ROW_ROLE).id == customer_id:
                self.view.selectRow(r)
                self.view.scrollTo(idx)
                return True
        return False
