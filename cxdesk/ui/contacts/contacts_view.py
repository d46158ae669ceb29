"""Contacts of a customer (Main tab) and Global Contacts (all customers, paged in SQL)."""
from __future__ import annotations

from PySide6.QtCore import QAbstractTableModel, QByteArray, QModelIndex, QPersistentModelIndex, Qt, QTimer, QUrl
from PySide6.QtGui import QAction, QDesktopServices, QKeySequence
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMainWindow,
    QMenu,
    QPushButton,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from cxdesk.errors import UserError
from cxdesk.services import contacts as svc
from cxdesk.services import options
from cxdesk.ui.kit import audit_comment, dialogs, fmt
from cxdesk.ui.kit.context import AppContext
from cxdesk.ui.kit.tables import ROW_ROLE, SORT_ROLE, Column, ColumnsTableModel, DataTableView, SortFilterProxy

CONTACT_COLUMNS = [
    Column("Name", lambda r: r.name),
    Column("Email", lambda r: r.email),
    Column("Phone", lambda r: r.phone),
    Column("Mobile", lambda r: r.mobile),
    Column("Contact Type", lambda r: r.contact_type),
    Column("Email Verified", lambda r: r.email_verified, text=lambda r: fmt.yes_no(r.email_verified)),
    Column("Mobile Verified", lambda r: r.mobile_verified, text=lambda r: fmt.yes_no(r.mobile_verified)),
    Column("Portal Password", lambda r: r.has_password, text=lambda r: "Set" if r.has_password else "Not set"),
]
COMPANY = Column("Company", lambda r: r.company)


class ContactActions:
    """The row menu shared by both tables: Edit, Change Password, Portal Login, Delete."""

    def __init__(self, ctx: AppContext, widget: QWidget, view: DataTableView) -> None:
        self.ctx, self.widget, self.view = ctx, widget, view
        can_edit = ctx.actor.can("edit_contacts")
        self.edit_action = QAction("Edit...", widget)
        self.password_action = QAction("Change Password...", widget)
        self.portal_action = QAction("Portal Login", widget)
        self.delete_action = QAction("Delete", widget)
        self.delete_action.setShortcut(QKeySequence.StandardKey.Delete)
        self.delete_action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        for a in (self.edit_action, self.password_action, self.delete_action):
            a.setEnabled(can_edit)
        self.edit_action.triggered.connect(self.edit)
        self.password_action.triggered.connect(self.change_password)
        self.portal_action.triggered.connect(self.portal_login)
        self.delete_action.triggered.connect(self.delete)
        view.addAction(self.delete_action)
        view.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        view.customContextMenuRequested.connect(lambda pos: self.menu().popup(view.viewport().mapToGlobal(pos)))
        view.doubleClicked.connect(lambda _i: self.edit())

    def menu(self) -> QMenu:
        menu = QMenu(self.widget)
        self.refresh_portal_state()
        menu.addActions([self.edit_action, self.password_action, self.portal_action])
        menu.addSeparator()
        menu.addAction(self.delete_action)
        return menu

    def refresh_portal_state(self) -> None:
        with self.ctx.db.read_session() as s:
            has_url = bool(options.get(s, "portal-url"))
        self.portal_action.setEnabled(has_url and self.ctx.actor.can("edit_contacts"))
        self.portal_action.setToolTip("" if has_url else
                                      "No Customer Portal URL is set: an administrator sets it in Settings > Options.")

    def current(self):
        rows = self.view.selected_rows()
        return rows[0] if rows else None

    def _changed(self, customer_id: int | None = None) -> None:
        self.ctx.bus.data_changed.emit("contacts")

    def edit(self) -> None:
        from cxdesk.ui.contacts.contact_dialog import ContactDialog

        row = self.current()
        if row is None or not self.ctx.actor.can("edit_contacts"):
            return
        dialog = ContactDialog(self.ctx, row.customer_id, row.id, self.widget)
        dialog.open()

    def change_password(self) -> None:
        from cxdesk.ui.contacts.contact_dialog import ChangePasswordDialog

        row = self.current()
        if row is None:
            return
        dialog = ChangePasswordDialog(self.ctx, row.id, row.email, self.widget)
        dialog.saved.connect(lambda _id: self._changed())
        dialog.open()

    def portal_login(self) -> str | None:
        row = self.current()
        if row is None:
            return None
        comment = audit_comment.ask(self.ctx, self.widget, "opening the portal")
        if comment is None:
            return None
        try:
            url = svc.portal_login_url(self.ctx.db, self.ctx.actor, row.id, comment)
        except UserError as exc:
            dialogs.show_error(self.widget, exc)
            return None
        QDesktopServices.openUrl(QUrl(url))
        return url

    def delete(self) -> None:
        row = self.current()
        if row is None or not self.ctx.actor.can("edit_contacts"):
            return
        if not dialogs.confirm(self.widget, "Delete contact",
                               f"Delete the contact {row.name} <{row.email}>? They can no longer log in to the portal.",
                               "Delete"):
            return
        comment = audit_comment.ask(self.ctx, self.widget, "deleting the contact")
        if comment is None:
            return
        try:
            svc.delete_contact(self.ctx.db, self.ctx.actor, row.id, row.version, comment)
        except UserError as exc:
            dialogs.show_error(self.widget, exc)
        self._changed()


class ContactsPanel(QWidget):
    """A customer's contacts: "+" adds one; the row menu edits, resets, logs in, deletes."""

    def __init__(self, ctx: AppContext, parent=None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.customer_id: int | None = None
        self.model = ColumnsTableModel(CONTACT_COLUMNS, parent=self)
        self.proxy = SortFilterProxy(self)
        self.proxy.setSourceModel(self.model)
        self.view = DataTableView("contacts", ctx.settings, self)
        self.view.setModel(self.proxy)
        self.view.setAccessibleName("Contacts")
        self.add_button = QToolButton()
        self.add_button.setText("+")
        self.add_button.setToolTip("Add contact")
        self.add_button.setAccessibleName("Add contact")
        self.add_button.setEnabled(ctx.actor.can("edit_contacts"))
        self.menu_button = QToolButton()
        self.menu_button.setText("▾")
        self.menu_button.setToolTip("Actions for the selected contact")
        self.menu_button.setAccessibleName("Contact actions")
        self.actions = ContactActions(ctx, self, self.view)
        self.menu_button.clicked.connect(self._show_menu)
        self.filter = QLineEdit()
        self.filter.setPlaceholderText("Filter contacts")
        self.filter.setAccessibleName("Filter contacts")
        self.filter.setClearButtonEnabled(True)
        self.filter.textChanged.connect(self.proxy.setFilterFixedString)
        top = QHBoxLayout()
        top.addWidget(self.filter, 1)
        top.addWidget(self.menu_button)
        top.addWidget(self.add_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(top)
        layout.addWidget(self.view, 1)
        self.add_button.clicked.connect(self.add)
        ctx.bus.data_changed.connect(lambda table: table == "contacts" and self.reload())
        self.view.restore_state()

    def _show_menu(self) -> None:
        self.actions.menu().popup(self.menu_button.mapToGlobal(self.menu_button.rect().bottomLeft()))

    def set_customer(self, customer_id: int | None) -> None:
        self.customer_id = customer_id
        self.reload()

    def reload(self) -> None:
        if self.customer_id is None:
            self.model.set_rows([])
            return
        with self.ctx.db.read_session() as s:
            self.model.set_rows(svc.list_contacts(s, self.customer_id))
        self.view.fit_columns_once()

    def add(self) -> None:
        from cxdesk.ui.contacts.contact_dialog import ContactDialog

        if self.customer_id is None:
            return
        dialog = ContactDialog(self.ctx, self.customer_id, None, self)
        dialog.open()
        return dialog

    def save_state(self) -> None:
        self.view.save_state()


class GlobalContactsModel(QAbstractTableModel):
    """All contacts, paged from SQL: sorting and searching run in the database and rows
    are fetched as the user scrolls."""

    PAGE = 200
    #: one per column, in column order
    SORT_KEYS = ["company", "name", "email", "phone", "mobile", "contact_type", "email_verified",
                 "mobile_verified", "has_password"]

    def __init__(self, ctx: AppContext, parent=None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.columns = [COMPANY] + CONTACT_COLUMNS
        self.search = ""
        self.sort_key, self.descending = "company", False
        self._rows: list = []
        self.total = 0

    def reload(self) -> None:
        with self.ctx.db.read_session() as s:
            total = svc.global_contacts_count(s, self.search)
            rows = svc.global_contacts_page(s, self.search, self.sort_key, self.descending, 0, self.PAGE, total=total)
        self.beginResetModel()
        self.total, self._rows = total, rows
        self.endResetModel()

    def set_search(self, text: str) -> None:
        self.search = text.strip()
        self.reload()

    def canFetchMore(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> bool:
        return not parent.isValid() and len(self._rows) < self.total

    def fetchMore(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> None:
        if parent.isValid():
            return
        with self.ctx.db.read_session() as s:
            more = svc.global_contacts_page(s, self.search, self.sort_key, self.descending, len(self._rows),
                                            self.PAGE, total=self.total)
        if not more:
            self.total = len(self._rows)
            return
        self.beginInsertRows(QModelIndex(), len(self._rows), len(self._rows) + len(more) - 1)
        self._rows.extend(more)
        self.endInsertRows()

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.columns)

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid() or index.row() >= len(self._rows):
            return None
        row, col = self._rows[index.row()], self.columns[index.column()]
        if role == Qt.ItemDataRole.DisplayRole:
            return col.text(row) if col.text else str(col.value(row) or "")
        if role == SORT_ROLE:
            return col.value(row)
        if role == ROW_ROLE:
            return row
        return None

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole):
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal and 0 <= section < len(self.columns):
            return self.columns[section].header
        return None

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        self.sort_key = self.SORT_KEYS[column] if 0 <= column < len(self.SORT_KEYS) else "company"
        self.descending = order == Qt.SortOrder.DescendingOrder
        self.reload()


class GlobalContactsWindow(QMainWindow):
    def __init__(self, ctx: AppContext, parent=None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.setWindowTitle("Global Contacts")
        self.setAccessibleName("Global Contacts")
        self.model = GlobalContactsModel(ctx, self)
        self.view = DataTableView("global_contacts", ctx.settings, self)
        self.view.setModel(self.model)
        self.view.setAccessibleName("Global contacts")
        self.search = QLineEdit()
        self.search.setPlaceholderText("Search name, email, company or phone (Ctrl+F)")
        self.search.setAccessibleName("Search contacts")
        self.search.setClearButtonEnabled(True)
        self.add_button = QPushButton("Add contact...")
        self.add_button.setAccessibleName("Add contact")
        self.add_button.setEnabled(ctx.actor.can("edit_contacts"))
        self.count = QLabel()
        self.actions = ContactActions(ctx, self, self.view)
        top = QHBoxLayout()
        top.addWidget(self.search, 1)
        top.addWidget(self.add_button)
        central = QWidget()
        layout = QVBoxLayout(central)
        layout.addLayout(top)
        layout.addWidget(self.view, 1)
        layout.addWidget(self.count)
        self.setCentralWidget(central)
        find = QAction(self)
        find.setShortcut(QKeySequence.StandardKey.Find)
        find.triggered.connect(lambda: (self.search.setFocus(), self.search.selectAll()))
        refresh = QAction(self)
        refresh.setShortcut(QKeySequence.StandardKey.Refresh)
        refresh.triggered.connect(self.reload)
        self.addActions([find, refresh])
        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(150)
        self._debounce.timeout.connect(self._apply_search)
        self.search.textChanged.connect(lambda _t: self._debounce.start())
        self.add_button.clicked.connect(self.add)
        ctx.bus.data_changed.connect(lambda table: table == "contacts" and self.reload())
        self.view.horizontalHeader().setSortIndicator(0, Qt.SortOrder.AscendingOrder)
        geometry = ctx.settings.value("global_contacts/geometry")
        if isinstance(geometry, QByteArray) and not geometry.isEmpty():
            self.restoreGeometry(geometry)
        else:
            self.resize(1100, 650)
        self.view.restore_state()
        self.reload()

    def _apply_search(self) -> None:
        self.model.set_search(self.search.text())
        self._update_count()

    def reload(self) -> None:
        self.model.reload()
        self.view.fit_columns_once()
        self._update_count()

    def _update_count(self) -> None:
        self.count.setText(f"{self.model.total:,} contacts" + (f" matching '{self.model.search}'" if self.model.search else ""))

    def add(self):
        from cxdesk.ui.contacts.contact_dialog import ContactDialog

        dialog = ContactDialog(self.ctx, None, None, self)
        dialog.open()
        return dialog

    def closeEvent(self, event) -> None:
        self.ctx.settings.setValue("global_contacts/geometry", self.saveGeometry())
        self.view.save_state()
        super().closeEvent(event)
