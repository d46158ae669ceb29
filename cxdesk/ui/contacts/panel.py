"""A customer's contacts (Main tab), and the row menu it shares with Global Contacts.

Everything goes through ``ctx.ops``: the list loads off the GUI thread when shown and
reloads on every committed change to contacts (the commit publishes it; nothing here
emits a change). Whether a Customer Portal URL is set, which the row menu needs for
Portal Login, is read with the list and again when an option changes, never when the
menu opens.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Qt, QUrl
from PySide6.QtGui import QAction, QDesktopServices, QKeySequence
from PySide6.QtWidgets import QHBoxLayout, QLineEdit, QMenu, QTableView, QToolButton, QVBoxLayout, QWidget

from cxdesk.services import contacts as svc
from cxdesk.services import options
from cxdesk.services.changes import ChangeSet
from cxdesk.ui.kit import dialogs, fmt
from cxdesk.ui.kit.panel import Panel
from cxdesk.ui.kit.tables import ROW_ROLE, Column, ColumnsTableModel, DataTableView, SortFilterProxy, fit_columns

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
#: CONTACT_COLUMNS that get the width left over (Name, Email)
WIDE = (0, 1)
NO_PORTAL_URL = "No Customer Portal URL is set: an administrator sets it in Settings > Options."


def portal_url_set(session) -> bool:
    return bool(options.get(session, "portal-url"))


def selected_ids(view: QTableView) -> set[int]:
    sm = view.selectionModel()
    model = view.model()
    if sm is None or model is None:
        return set()
    return {row.id for row in (model.data(i, ROW_ROLE) for i in sm.selectedRows()) if row is not None}


def select_ids(view: QTableView, ids: set[int]) -> None:
    """Select again the rows (by id) that were selected before a reload."""
    model = view.model()
    if not ids or model is None:
        return
    for r in range(model.rowCount()):
        row = model.data(model.index(r, 0), ROW_ROLE)
        if row is not None and row.id in ids:
            view.selectRow(r)
            return


class ContactActions:
    """The row menu shared by both tables: Edit, Change Password, Portal Login, Delete.

    ``widget`` is the view's Panel or DataWindow: the operations run for it (and are
    dropped with it). Its loader is wrapped with :meth:`with_portal_check` and its data
    unwrapped with :meth:`portal_checked`, so the portal URL check comes with the rows."""

    def __init__(self, ctx, widget: QWidget, view: DataTableView) -> None:
        self.ctx, self.widget, self.view = ctx, widget, view
        self.can_edit = ctx.actor.can("edit_contacts")
        #: None until known: is a Customer Portal URL set?
        self.has_portal_url: bool | None = None
        self.edit_action = QAction("Edit...", widget)
        self.password_action = QAction("Change Password...", widget)
        self.portal_action = QAction("Portal Login", widget)
        self.delete_action = QAction("Delete", widget)
        self.delete_action.setShortcut(QKeySequence.StandardKey.Delete)
        self.delete_action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        for a in (self.edit_action, self.password_action, self.delete_action):
            a.setEnabled(self.can_edit)
        self._show_portal_state()
        self.edit_action.triggered.connect(self.edit)
        self.password_action.triggered.connect(self.change_password)
        self.portal_action.triggered.connect(self.portal_login)
        self.delete_action.triggered.connect(self.delete)
        view.addAction(self.delete_action)
        view.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        view.customContextMenuRequested.connect(lambda pos: self.menu().popup(view.viewport().mapToGlobal(pos)))
        view.doubleClicked.connect(lambda _i: self.edit())
        widget.listen(ctx.changes.changed, self._on_changes)

    def menu(self) -> QMenu:
        """The row menu, deleted once closed."""
        menu = QMenu(self.widget)
        menu.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        menu.addActions([self.edit_action, self.password_action, self.portal_action])
        menu.addSeparator()
        menu.addAction(self.delete_action)
        return menu

    # -- the portal URL check ----------------------------------------------------------------
    @staticmethod
    def with_portal_check(fn: Callable[[Any], Any]) -> Callable[[Any], tuple[Any, bool]]:
        """``fn`` (a function of a read session) that also reads whether a portal URL is set."""
        return lambda s: (fn(s), portal_url_set(s))

    def portal_checked(self, data: tuple[Any, bool]) -> Any:
        """What the owner's ``fn`` returned; takes note of the portal URL check."""
        result, has_url = data
        self._set_portal_state(has_url)
        return result

    def refresh_portal_state(self) -> None:
        self.ctx.ops.query(self.widget, portal_url_set, success=self._set_portal_state, key="portal-url")

    def _on_changes(self, change_set: ChangeSet) -> None:
        # F5 ("everything") reloads the owner, whose loader reads the portal state too
        if change_set.touches(("options",)) and not change_set.everything:
            self.refresh_portal_state()

    def _set_portal_state(self, has_url: bool) -> None:
        self.has_portal_url = has_url
        self._show_portal_state()

    def _show_portal_state(self) -> None:
        self.portal_action.setEnabled(bool(self.has_portal_url) and self.can_edit)
        self.portal_action.setToolTip(NO_PORTAL_URL if self.has_portal_url is False else "")

    # -- the actions ---------------------------------------------------------------------------
    def current(self):
        rows = self.view.selected_rows()
        return rows[0] if rows else None

    def edit(self):
        from cxdesk.ui.contacts.contact_dialog import ContactDialog

        row = self.current()
        if row is None or not self.can_edit:
            return None
        dialog = ContactDialog(self.ctx, row.customer_id, row.id, self.widget)
        dialog.open()
        return dialog

    def change_password(self):
        from cxdesk.ui.contacts.contact_dialog import ChangePasswordDialog

        row = self.current()
        if row is None or not self.can_edit:
            return None
        dialog = ChangePasswordDialog(self.ctx, row.id, row.email, self.widget)
        dialog.open()
        return dialog

    def portal_login(self) -> None:
        """Audited as LOGIN; the portal opens in the browser once that is recorded."""
        row = self.current()
        if row is None:
            return
        contact_id = row.id
        self.ctx.ops.write(self.widget,
                           lambda job, comment: svc.portal_login_url(job.db, job.actor, contact_id, comment),
                           success=lambda url: QDesktopServices.openUrl(QUrl(url)), what="opening the portal")

    def delete(self) -> None:
        row = self.current()
        if row is None or not self.can_edit:
            return
        if not dialogs.confirm(self.widget, "Delete contact",
                               f"Delete the contact {row.name} <{row.email}>? They can no longer log in to the portal.",
                               "Delete"):
            return
        contact_id, version = row.id, row.version
        self.ctx.ops.write(self.widget,
                           lambda job, comment: svc.delete_contact(job.db, job.actor, contact_id, version, comment),
                           what="deleting the contact", title="Deleting the contact")


class ContactsPanel(Panel):
    """A customer's contacts: "+" adds one; the row menu edits, resets, logs in, deletes."""

    TABLES = ("contacts",)

    def __init__(self, ctx, parent=None) -> None:
        super().__init__(ctx, parent)
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
        self.add_button.setEnabled(False)  # until a customer is shown
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
        self.view.restore_state()

    def _show_menu(self) -> None:
        self.actions.menu().popup(self.menu_button.mapToGlobal(self.menu_button.rect().bottomLeft()))

    # -- data -------------------------------------------------------------------------------
    def set_customer(self, customer_id: int | None) -> None:
        if customer_id != self.customer_id:
            self.model.set_rows([])  # never another customer's contacts meanwhile
        super().set_customer(customer_id)
        self.add_button.setEnabled(customer_id is not None and self.actions.can_edit)

    def loader(self):
        cid = self.customer_id
        if cid is None:
            return None
        return self.actions.with_portal_check(lambda s: svc.list_contacts(s, cid))

    def show_data(self, data) -> None:
        rows = [] if data is None else self.actions.portal_checked(data)
        selected = selected_ids(self.view)
        self.model.set_rows(rows)
        select_ids(self.view, selected)
        fit_columns(self.view, wide=WIDE)

    # -- actions ----------------------------------------------------------------------------
    def add(self):
        from cxdesk.ui.contacts.contact_dialog import ContactDialog

        if self.customer_id is None or not self.actions.can_edit:
            return None
        dialog = ContactDialog(self.ctx, self.customer_id, None, self)
        dialog.open()
        return dialog

    def save_state(self) -> None:
        self.view.save_state()
