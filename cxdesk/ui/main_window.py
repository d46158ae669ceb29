"""The main window: customers on the left, the selected customer's tabs on the right."""
from __future__ import annotations

from PySide6.QtCore import QByteArray, QModelIndex, Qt, QTimer
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMainWindow,
    QPushButton,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from cxdesk.models import STATUSES
from cxdesk.services import customers as customer_service
from cxdesk.ui.kit import dialogs, fmt
from cxdesk.ui.kit.context import AppContext
from cxdesk.ui.kit.tables import RIGHT, Column, ColumnsTableModel, DataTableView, SortFilterProxy

ROLLUP_EVERY_MS = 60 * 60 * 1000


class CustomerListModel(ColumnsTableModel):
    def __init__(self, parent=None) -> None:
        super().__init__([
            Column("Name", lambda c: c.name),
            Column("Status", lambda c: c.status),
            Column("Currency", lambda c: c.currency),
            Column("Balance", lambda c: c.balance, text=lambda c: fmt.money(c.balance), align=RIGHT),
        ], parent=parent)


class CustomerFilterProxy(SortFilterProxy):
    """Search over name (and the other columns) plus an exact status filter."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.status = ""

    def set_status(self, status: str) -> None:
        self.beginFilterChange()
        self.status = status
        self.endFilterChange(SortFilterProxy.Direction.Rows)

    def filterAcceptsRow(self, source_row: int, source_parent: QModelIndex) -> bool:
        if self.status:
            row = self.sourceModel().row_at(source_row)
            if row.status != self.status:
                return False
        return super().filterAcceptsRow(source_row, source_parent)


class CustomerList(QWidget):
    """Search as you type, a status filter and the customers table."""

    def __init__(self, ctx: AppContext, parent=None) -> None:
        super().__init__(parent)
        self.ctx = ctx
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
        self.view.restore_state()

    def _filter(self) -> None:
        self.proxy.setFilterFixedString(self.search.text().strip())
        self.proxy.set_status(self.status.currentData() or "")
        self._update_count()

    def _update_count(self) -> None:
        shown, total = self.proxy.rowCount(), self.model.rowCount()
        self.count.setText(f"{shown} of {total} customers" if shown != total else f"{total} customers")

    def reload(self) -> None:
        current = self.current_id()
        with self.ctx.db.read_session() as s:
            rows = customer_service.list_customers(s)
        self.model.set_rows(rows)
        self.view.fit_columns_once()
        self._update_count()
        if current is not None:
            self.select(current)

    def current_id(self) -> int | None:
        rows = self.view.selected_rows()
        return rows[0].id if rows else None

    def select(self, customer_id: int) -> None:
        for r in range(self.proxy.rowCount()):
            idx = self.proxy.index(r, 0)
            if self.proxy.data(idx, Qt.ItemDataRole.UserRole + 2).id == customer_id:
                self.view.selectRow(r)
                self.view.scrollTo(idx)
                return


class MainWindow(QMainWindow):
    def __init__(self, ctx: AppContext, parent=None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.setWindowTitle("cxdesk")
        self.setObjectName("MainWindow")
        self.customers = CustomerList(ctx, self)
        self.tabs = QTabWidget()
        self.tabs.setAccessibleName("Customer tabs")
        self.customer_tabs: list[QWidget] = []
        for title, factory in customer_tab_factories(ctx):
            widget = factory(ctx, self)
            self.customer_tabs.append(widget)
            self.tabs.addTab(widget, title)
        self.placeholder = QLabel("Select a customer on the left, or create one with New customer (Ctrl+N).")
        self.placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        right = QWidget()
        rl = QVBoxLayout(right)
        rl.setContentsMargins(0, 0, 0, 0)
        rl.addWidget(self.placeholder)
        rl.addWidget(self.tabs, 1)
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(self.customers)
        self.splitter.addWidget(right)
        self.splitter.setStretchFactor(1, 3)
        self.splitter.setChildrenCollapsible(False)
        self.setCentralWidget(self.splitter)
        self._build_menus()
        self._build_status_bar()
        self.customers.view.selectionModel().selectionChanged.connect(lambda *_: self._customer_selected())
        self.customers.new_button.clicked.connect(self.new_customer)
        ctx.bus.customers_changed.connect(self.customers.reload)
        ctx.bus.customer_changed.connect(lambda _id: self.customers.reload())
        self._windows: dict[str, QWidget] = {}
        self._restore()
        self.customers.reload()
        self._customer_selected()
        self.rollup_timer = QTimer(self)
        self.rollup_timer.timeout.connect(self.refresh_data)
        self.rollup_timer.start(ROLLUP_EVERY_MS)
        QTimer.singleShot(0, self._run_due_changes)

    # -- building -------------------------------------------------------------
    def _build_menus(self) -> None:
        can = self.ctx.actor.can
        bar = self.menuBar()
        file_menu = bar.addMenu("&File")
        self.settings_action = self._action(file_menu, "&Settings...", self.open_settings, "Ctrl+,")
        self.settings_action.setEnabled(can("edit_settings"))
        file_menu.addSeparator()
        self._action(file_menu, "Sign &out", self.sign_out)
        self._action(file_menu, "&Quit", self.close, QKeySequence.StandardKey.Quit)
        cust = bar.addMenu("&Customer")
        self.new_action = self._action(cust, "&New customer...", self.new_customer, "Ctrl+N")
        self.new_action.setEnabled(can("edit_customers"))
        self._action(cust, "&Find customer", self.find_customer, QKeySequence.StandardKey.Find)
        view = bar.addMenu("&View")
        self._action(view, "&Global Contacts", self.open_global_contacts, "Ctrl+G")
        self.audit_action = self._action(view, "&Audit Log", self.open_audit_log, "Ctrl+L")
        self.audit_action.setEnabled(can("view_audit"))
        self._action(view, "&Scheduled changes", self.open_scheduled)
        view.addSeparator()
        self._action(view, "&Refresh", self.refresh_data, QKeySequence.StandardKey.Refresh)
        help_menu = bar.addMenu("&Help")
        self._action(help_menu, "&About cxdesk", self.about)

    def _action(self, menu, text, slot, shortcut=None) -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut) if isinstance(shortcut, str) else shortcut)
        action.triggered.connect(slot)
        menu.addAction(action)
        return action

    def _build_status_bar(self) -> None:
        actor = self.ctx.actor
        name = f"{actor.display_name} ({actor.login})" if actor.display_name else actor.login
        self.operator_label = QLabel(f"Signed in: {name}, {actor.role}")
        self.operator_label.setAccessibleName("Signed-in operator")
        self.database_label = QLabel(f"Database: {self.ctx.db.display}")
        self.database_label.setAccessibleName("Database")
        self.statusBar().addWidget(self.operator_label)
        self.statusBar().addPermanentWidget(self.database_label)

    # -- state -----------------------------------------------------------------
    def _restore(self) -> None:
        s = self.ctx.settings
        geometry = s.value("main/geometry")
        if isinstance(geometry, QByteArray) and not geometry.isEmpty():
            self.restoreGeometry(geometry)
        else:
            self.resize(1280, 800)
        splitter = s.value("main/splitter")
        if isinstance(splitter, QByteArray) and not splitter.isEmpty():
            self.splitter.restoreState(splitter)
        else:
            self.splitter.setSizes([470, 810])

    def save_state(self) -> None:
        s = self.ctx.settings
        s.setValue("main/geometry", self.saveGeometry())
        s.setValue("main/splitter", self.splitter.saveState())
        self.customers.view.save_state()
        for tab in self.customer_tabs:
            if hasattr(tab, "save_state"):
                tab.save_state()
        s.sync()

    def closeEvent(self, event: QCloseEvent) -> None:
        self.save_state()
        for w in list(self._windows.values()):
            w.close()
        super().closeEvent(event)

    # -- actions -----------------------------------------------------------------
    def current_customer_id(self) -> int | None:
        return self.customers.current_id()

    def _customer_selected(self) -> None:
        cid = self.current_customer_id()
        self.tabs.setVisible(cid is not None)
        self.placeholder.setVisible(cid is None)
        for tab in self.customer_tabs:
            tab.set_customer(cid)

    def show_customer_tab(self, title: str) -> bool:
        for i in range(self.tabs.count()):
            if self.tabs.tabText(i) == title:
                self.tabs.setCurrentIndex(i)
                return True
        return False

    def find_customer(self) -> None:
        """Ctrl+F: the search box of the customer tab being worked in, else the customer search."""
        tab = self.tabs.currentWidget()
        box = getattr(tab, "search", None) or getattr(tab, "filter", None)
        focus = self.focusWidget()
        if box is not None and focus is not None and self.tabs.isAncestorOf(focus):
            box.setFocus()
        else:
            box = self.customers.search
            box.setFocus()
        box.selectAll()

    def new_customer(self) -> None:
        from cxdesk.ui.customers.customer_dialog import CustomerDialog

        dialog = CustomerDialog(self.ctx, None, self)
        dialog.saved.connect(self._after_customer_saved)
        dialog.open()

    def _after_customer_saved(self, customer_id: int) -> None:
        self.ctx.bus.customers_changed.emit()
        self.customers.select(customer_id)

    def open_global_contacts(self) -> None:
        from cxdesk.ui.contacts.contacts_view import GlobalContactsWindow

        self._show_window("contacts", lambda: GlobalContactsWindow(self.ctx, self))

    def open_audit_log(self) -> None:
        from cxdesk.ui.audit.audit_view import AuditLogWindow

        self._show_window("audit", lambda: AuditLogWindow(self.ctx, self))

    def open_scheduled(self) -> None:
        from cxdesk.ui.contacts.scheduled_view import ScheduledChangesWindow

        self._show_window("scheduled", lambda: ScheduledChangesWindow(self.ctx, self))

    def open_settings(self) -> None:
        from cxdesk.ui.settings.settings_dialog import SettingsDialog

        SettingsDialog(self.ctx, self).open()

    def about(self) -> None:
        from cxdesk.ui.about import AboutDialog

        AboutDialog(self.ctx, self).open()

    def _show_window(self, key: str, make) -> QWidget:
        window = self._windows.get(key)
        if window is None:
            window = make()
            window.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, False)
            self._windows[key] = window
        window.show()
        window.raise_()
        window.activateWindow()
        return window

    def refresh_data(self) -> None:
        """F5 and the hourly timer: roll up new CDRs, then reload what is shown."""
        from cxdesk.services import rollup

        def work(_handle):
            return rollup.run(self.ctx.db)

        def done(_result) -> None:
            self.customers.reload()  # re-selects the customer, which reloads its tabs
            for table in ("hourly_summaries", "invoices", "audit_entries"):
                self.ctx.bus.data_changed.emit(table)

        self.ctx.tasks.run(work, on_done=done, write=True, parent=self)
        self._run_due_changes()

    def _run_due_changes(self) -> None:
        from cxdesk.services import scheduler

        def work(_handle):
            return scheduler.apply_due(self.ctx.db)

        def done(results) -> None:
            if results:
                self.ctx.bus.customers_changed.emit()
                self.ctx.bus.data_changed.emit("contacts")
                failed = [r for r in results if r.state != "applied"]
                self.statusBar().showMessage(
                    f"{len(results) - len(failed)} scheduled change(s) applied"
                    + (f", {len(failed)} could not be applied (see View > Scheduled changes)" if failed else ""),
                    15_000,
                )

        self.ctx.tasks.run(work, on_done=done, write=True, parent=self)

    def sign_out(self) -> None:
        from cxdesk.ui.operators.auth_dialogs import sign_out_flow

        if not dialogs.confirm(self, "Sign out", "Sign out and close cxdesk? The remembered password is forgotten.",
                               "Sign out"):
            return
        sign_out_flow(self.ctx.db, self.ctx.settings, self.ctx.actor)
        self.close()


def customer_tab_factories(ctx: AppContext):
    """(title, factory(ctx, parent)) for each tab of a customer, Main first."""
    from cxdesk.ui.audit.audit_view import CustomerAuditTab
    from cxdesk.ui.invoices.invoices_tab import InvoicesTab
    from cxdesk.ui.customers.main_tab import MainTab
    from cxdesk.ui.numbers.numbers_widgets import AuthTab
    from cxdesk.ui.summary.summary_tab import SummaryTab

    tabs = [("Main", MainTab), ("Auth", AuthTab), ("Summary", SummaryTab), ("Invoices", InvoicesTab)]
    if ctx.actor.can("view_audit"):
        tabs.append(("Audit Log", CustomerAuditTab))
    return tabs
