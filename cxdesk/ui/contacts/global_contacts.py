"""Global Contacts: every customer's contacts, searched, sorted and paged in SQL.

The window loads the first page through its DataView reload (a keyed query: the last
search or sort wins); the model pages further rows in as the user scrolls, one page
query at a time, and drops a page that arrives for a search or sort no longer shown.
Nothing here runs SQL on the GUI thread.
"""
from __future__ import annotations

from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt, QTimer, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QLineEdit, QPushButton, QVBoxLayout, QWidget

from cxdesk.services import contacts as svc
from cxdesk.ui.contacts.panel import (
    COMPANY,
    CONTACT_COLUMNS,
    WIDE,
    ContactActions,
    select_ids,
    selected_ids,
)
from cxdesk.ui.kit import fmt
from cxdesk.ui.kit.ops import show_failure
from cxdesk.ui.kit.tables import ROW_ROLE, SORT_ROLE, DataTableView, fit_columns
from cxdesk.ui.kit.window import DataWindow

SEARCH_DELAY_MS = 150
_TEXT_ROLES = frozenset({Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.AccessibleTextRole})
_ROLES = _TEXT_ROLES | {SORT_ROLE, ROW_ROLE}


def _text(col, row) -> str:
    return col.text(row) if col.text else str(col.value(row) or "")


class GlobalContactsModel(QAbstractTableModel):
    """All contacts, paged from SQL: sorting and searching run in the database and rows
    are fetched (off the GUI thread) as the user scrolls.

    ``loader()`` / ``show_page(data)`` load the first rows (the window's reload runs them);
    ``query_changed`` says the search or sort changed, so those must be loaded again."""

    PAGE = 200
    #: a reload after a change reads again what was scrolled in, up to this many rows
    RELOAD_MAX = 2000
    #: one per column, in column order
    SORT_KEYS = ["company", "name", "email", "phone", "mobile", "contact_type", "email_verified",
                 "mobile_verified", "has_password"]

    query_changed = Signal()
    #: a page could not be read (a UserError, e.g. the database is down)
    page_failed = Signal(object)

    def __init__(self, ctx, parent=None) -> None:
        super().__init__(parent)
        self.ops = ctx.ops
        self.columns = [COMPANY] + CONTACT_COLUMNS
        self.search = ""
        self.sort_key, self.descending = "company", False
        self._rows: list = []
        self.total = 0
        self._generation = 0  # which loader() the rows come from
        self._shown: tuple | None = None  # (search, sort key, descending) of the rows shown
        self._loading = False  # a first page is on its way: no paging meanwhile
        self._fetching = False  # a further page is on its way: at most one

    def _query(self) -> tuple[str, str, bool]:
        return self.search, self.sort_key, self.descending

    @property
    def shown_search(self) -> str:
        """The search the rows shown were found with."""
        return self._shown[0] if self._shown else ""

    # -- the first page ----------------------------------------------------------------------
    def loader(self):
        """The function (of a read session) that reads the count and the first rows for the
        current search and sort; after a change to the data, as many rows as are shown."""
        self._generation += 1
        self._loading, self._fetching = True, False
        generation, query = self._generation, self._query()
        search, sort_key, descending = query
        limit = min(max(self.PAGE, len(self._rows)), self.RELOAD_MAX) if query == self._shown else self.PAGE

        def load(s) -> tuple[int, tuple, int, list]:
            total = svc.global_contacts_count(s, search)
            return generation, query, total, svc.global_contacts_page(s, search, sort_key, descending, 0, limit,
                                                                      total=total)

        return load

    def show_page(self, data: tuple[int, tuple, int, list]) -> bool:
        """Show what ``loader()``'s function returned; False when a newer one was started."""
        generation, query, total, rows = data
        if generation != self._generation:
            return False
        rows = list(rows)
        same = (total, rows, query) == (self.total, self._rows, self._shown)  # a reload that found no change
        if not same:
            self.beginResetModel()
        self.total, self._rows, self._shown = total, rows, query
        self._loading = False
        if not same:
            self.endResetModel()
        return True

    def set_search(self, text: str) -> None:
        text = text.strip()
        if text != self.search:
            self.search = text
            self.query_changed.emit()

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        sort_key = self.SORT_KEYS[column] if 0 <= column < len(self.SORT_KEYS) else "company"
        descending = order == Qt.SortOrder.DescendingOrder
        if (sort_key, descending) != (self.sort_key, self.descending):
            self.sort_key, self.descending = sort_key, descending
            self.query_changed.emit()

    # -- paging ------------------------------------------------------------------------------
    def canFetchMore(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> bool:  # noqa: N802
        return not parent.isValid() and len(self._rows) < self.total

    def fetchMore(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> None:  # noqa: N802
        """Start reading the next page; its rows are inserted when they arrive."""
        if not self.canFetchMore(parent) or self._loading or self._fetching:
            return
        self._fetching = True
        generation, (search, sort_key, descending) = self._generation, self._shown
        offset, total, limit = len(self._rows), self.total, self.PAGE

        def page(s) -> list:
            return svc.global_contacts_page(s, search, sort_key, descending, offset, limit, total=total)

        self.ops.query(self, page, success=lambda rows: self._append(generation, offset, rows),
                       failure=lambda exc: self._page_failed(generation, exc), key="page")

    def _append(self, generation: int, offset: int, rows: list) -> None:
        if generation != self._generation:
            return  # for a search, sort or reload that is no longer shown
        if offset != len(self._rows) or not rows:
            if not rows:  # fewer contacts than counted (deleted meanwhile)
                self.total = len(self._rows)
            self._fetching = False
            return
        self.beginInsertRows(QModelIndex(), offset, offset + len(rows) - 1)
        self._rows.extend(rows)
        self._fetching = False  # a view told of these rows may ask for the next page
        self.endInsertRows()

    def _page_failed(self, generation: int, exc: BaseException) -> None:
        if generation == self._generation:
            self._fetching = False
            self.page_failed.emit(exc)

    # -- the table ---------------------------------------------------------------------------
    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: N802
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: N802
        return 0 if parent.isValid() else len(self.columns)

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if role not in _ROLES or not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None  # a painting view asks for about ten roles per cell: the others go first
        row, col = self._rows[index.row()], self.columns[index.column()]
        if role in _TEXT_ROLES:
            return _text(col, row)
        if role == SORT_ROLE:
            return col.value(row)
        if role == ROW_ROLE:
            return row
        return None

    def texts_for_fit(self, column: int, rows: list[int]) -> list[str]:
        """What these rows show in ``column`` (kit.column_fit)."""
        col = self.columns[column]
        return [_text(col, self._rows[r]) for r in rows]

    def headerData(self, section: int, orientation: Qt.Orientation,  # noqa: N802
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal \
                and 0 <= section < len(self.columns):
            return self.columns[section].header
        return None


class GlobalContactsWindow(DataWindow):
    TABLES = ("contacts",)
    CUSTOMER_SCOPED = False

    def __init__(self, ctx, parent=None) -> None:
        super().__init__(ctx, "global_contacts", (1100, 650), parent)
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
        self.count.setAccessibleName("Contact count")
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
        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(SEARCH_DELAY_MS)
        self._debounce.timeout.connect(self._apply_search)
        self.search.textChanged.connect(lambda _t: self._debounce.start())
        self.add_button.clicked.connect(self.add)
        self.model.query_changed.connect(self.invalidate)
        self.model.page_failed.connect(lambda exc: show_failure(self, exc))
        self.view.horizontalHeader().setSortIndicator(0, Qt.SortOrder.AscendingOrder)
        self.keep(self.view)

    # -- data -------------------------------------------------------------------------------
    def loader(self):
        return self.actions.with_portal_check(self.model.loader())

    def show_data(self, data) -> None:
        selected = selected_ids(self.view)
        if not self.model.show_page(self.actions.portal_checked(data)):
            return
        select_ids(self.view, selected)
        fit_columns(self.view, wide=[1 + c for c in WIDE])
        self._update_count()

    def _apply_search(self) -> None:
        self._debounce.stop()
        self.model.set_search(self.search.text())

    def _update_count(self) -> None:
        text = fmt.counted(self.model.total, "contact")
        if self.model.shown_search:
            text += f" matching '{self.model.shown_search}'"
        self.count.setText(text)

    def add(self):
        from cxdesk.ui.contacts.contact_dialog import ContactDialog

        if not self.actions.can_edit:
            return None
        dialog = ContactDialog(self.ctx, None, None, self)
        dialog.open()
        return dialog
