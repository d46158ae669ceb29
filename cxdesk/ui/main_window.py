"""The main window: customers on the left, the selected customer's tabs on the right.

Selecting a customer hands its id to every tab built so far; only the tab on screen loads
(the others are stale until shown). A tab is built when first shown (``customer_tab(title)``
builds one on demand). Changes, this window's own and other workstations', reach the
views through ctx.changes; F5 rolls up new CDRs and marks every view stale once."""
from __future__ import annotations

from PySide6.QtCore import QByteArray, Qt, QTimer
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence
from PySide6.QtWidgets import (
    QLabel,
    QMainWindow,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from cxdesk.services.changes import ChangeSet
from cxdesk.ui.customer_tabs import CustomerTabs
from cxdesk.ui.customers.customer_list import CustomerList
from cxdesk.ui.kit import dialogs
from cxdesk.ui.kit.context import AppContext

ROLLUP_EVERY_MS = 60 * 60 * 1000
PREFETCH_AFTER_MS = 500  # after the first paint: the other tabs' modules load in the background


class MainWindow(QMainWindow):
    def __init__(self, ctx: AppContext, parent=None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.setWindowTitle("cxdesk")
        self.setObjectName("MainWindow")
        self.customers = CustomerList(ctx, self)
        self.tabs = CustomerTabs(ctx)  # each tab built when first shown
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
        self.customers.current_changed.connect(lambda _cid: self._customer_selected())
        self.customers.new_button.clicked.connect(self.new_customer)
        ctx.changes.connection.connect(self._connection_changed)
        self._windows: dict[str, QWidget] = {}
        self._prefetched = False
        self._restore()
        last = ctx.settings.value("main/current_customer", 0, type=int)
        if last:
            self.customers.select(last)  # once the list has loaded
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
        self.database_label = QLabel(f"Database: {self.ctx.ops.database_display}")
        self.database_label.setAccessibleName("Database")
        self.connection_label = QLabel()
        self.connection_label.setAccessibleName("Connection")
        self.connection_label.setStyleSheet("color: #b00020")
        self.connection_label.hide()
        self.statusBar().addWidget(self.operator_label)
        self.statusBar().addPermanentWidget(self.connection_label)
        self.statusBar().addPermanentWidget(self.database_label)

    def _connection_changed(self, online: bool, text: str) -> None:
        self.connection_label.setText("" if online else text)
        self.connection_label.setToolTip(text)
        self.connection_label.setVisible(not online)
        if online:
            self.statusBar().showMessage("Connected to the database again; changes made meanwhile are shown.", 10_000)

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
        self.ctx.settings.setValue("main/current_customer", self.current_customer_id() or 0)
        for tab in self.tabs.built():
            if hasattr(tab, "save_state"):
                tab.save_state()
        s.sync()

    def showEvent(self, event) -> None:  # noqa: N802 - Qt's name
        super().showEvent(event)
        if not self._prefetched:
            self._prefetched = True
            QTimer.singleShot(PREFETCH_AFTER_MS, self.tabs, self.tabs.prefetch)

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
        self.tabs.set_customer(cid)  # hidden tabs only note it; the shown one loads
        self.tabs.setVisible(cid is not None)
        self.placeholder.setVisible(cid is None)

    def customer_tab(self, title: str) -> QWidget:
        """The customer tab titled ``title`` (built now if it was not yet); KeyError if there is none."""
        return self.tabs.panel(title)

    def show_customer_tab(self, title: str) -> bool:
        if title not in self.tabs.titles():
            return False
        self.tabs.setCurrentIndex(self.tabs.titles().index(title))
        return True

    def find_customer(self) -> None:
        """Ctrl+F: the search box of the customer tab being worked in, else the customer search."""
        tab = self.tabs.current_panel()
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
        dialog.saved.connect(self.customers.select)
        dialog.open()

    def open_global_contacts(self) -> None:
        from cxdesk.ui.contacts.global_contacts import GlobalContactsWindow

        self._show_window("contacts", lambda: GlobalContactsWindow(self.ctx, self))

    def open_audit_log(self) -> None:
        from cxdesk.ui.audit.audit_log import AuditLogWindow

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
        """F5 and the hourly timer: roll up new CDRs, apply due scheduled changes, then every
        view reloads once (the shown ones one per event-loop turn, the others when shown)."""
        from cxdesk.services import rollup

        def everything(_result) -> None:
            self.ctx.changes.publish(ChangeSet(everything=True))

        self.ctx.ops.task(self, lambda job: rollup.run(job.db), success=everything, write=True)
        self._run_due_changes()

    def _run_due_changes(self) -> None:
        from cxdesk.services import scheduler

        def done(results) -> None:
            if results:
                failed = [r for r in results if r.state != "applied"]
                applied = len(results) - len(failed)
                text = f"{applied} scheduled {'change' if applied == 1 else 'changes'} applied"
                if failed:
                    text += (f", {len(failed)} could not be applied (see View > Scheduled changes)")
                self.statusBar().showMessage(text, 15_000)

        self.ctx.ops.task(self, lambda job: scheduler.apply_due(job.db), success=done, write=True)

    def sign_out(self) -> None:
        from cxdesk.ui.operators.sign_in import sign_out_flow

        if not dialogs.confirm(self, "Sign out", "Sign out and close cxdesk? The remembered password is forgotten.",
                               "Sign out"):
            return
        sign_out_flow(self.ctx.ops, self.ctx.settings, self.ctx.actor, parent=self, done=self.close)

