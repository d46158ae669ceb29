"""The Audit Log: every customer's (AuditLogWindow) or one customer's (CustomerAuditTab).

The table model holds only the rows shown so far and asks services.audit_log for the next
page as the user scrolls, so sorting, searching and the funnels all run in SQL. The Data
column's "View Difference" opens a DiffDialog: before and after side by side.
"""
from __future__ import annotations

import json
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel, QByteArray, QDate, QModelIndex, QPersistentModelIndex, QRect, Qt, Signal,
)
from PySide6.QtGui import (
    QAction, QBrush, QColor, QFont, QFontDatabase, QGuiApplication, QKeySequence, QTextCharFormat, QTextCursor,
)
from PySide6.QtWidgets import (
    QAbstractItemView, QCheckBox, QDateEdit, QDialog, QDialogButtonBox, QHBoxLayout, QHeaderView, QLabel,
    QLineEdit, QListWidget, QListWidgetItem, QMainWindow, QPlainTextEdit, QPushButton, QSplitter, QTextEdit,
    QVBoxLayout, QWidget,
)

from cxdesk.services import audit_log, jsondiff, options
from cxdesk.services.audit_log import AuditQuery, AuditRow
from cxdesk.ui.kit import audit_comment, dialogs
from cxdesk.ui.kit.context import AppContext
from cxdesk.ui.kit.tables import ROW_ROLE, SORT_ROLE, DataTableView

#: (key, header); "data" is the View Difference link, "comment" shows with the option on
COLUMNS = [(k, h) for k, h in audit_log.HEADERS.items() if k != "comment"] + [
    ("data", "Data"), ("comment", audit_log.HEADERS["comment"])]
VIEW_DIFFERENCE = "View Difference"


def _stamp(row: AuditRow) -> str:
    return row.created_at.strftime("%Y-%m-%d %H:%M:%S")


class AuditLogModel(QAbstractTableModel):
    """The log's rows for one AuditQuery, fetched a page at a time (keyset paging)."""

    PAGE = audit_log.PAGE_SIZE

    def __init__(self, ctx: AppContext, parent=None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.query = AuditQuery()
        self.columns = COLUMNS[:-1]
        self._rows: list[AuditRow] = []
        self._more = False
        self.live = False  # nothing is read before the owner sets a query

    def set_query(self, query: AuditQuery, show_comment: bool | None = None) -> None:
        """Show the first page of ``query`` (and the Comment column or not)."""
        with self.ctx.db.read_session() as s:
            rows = audit_log.page(s, query, limit=self.PAGE)
        self.beginResetModel()
        self.query, self.live = query, True
        if show_comment is not None:
            self.columns = COLUMNS if show_comment else COLUMNS[:-1]
        self._rows, self._more = rows, len(rows) == self.PAGE
        self.endResetModel()

    def clear(self) -> None:
        self.beginResetModel()
        self._rows, self._more, self.live = [], False, False
        self.endResetModel()

    def key(self, column: int) -> str:
        return self.columns[column][0]

    def row_at(self, row: int) -> AuditRow:
        return self._rows[row]

    # -- lazy fetching -------------------------------------------------------------------
    def canFetchMore(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> bool:
        return not parent.isValid() and self._more

    def fetchMore(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> None:
        if parent.isValid() or not self._more:
            return
        with self.ctx.db.read_session() as s:
            more = audit_log.page(s, self.query, limit=self.PAGE, after=self._rows[-1] if self._rows else None)
        self._more = len(more) == self.PAGE
        if more:
            self.beginInsertRows(QModelIndex(), len(self._rows), len(self._rows) + len(more) - 1)
            self._rows.extend(more)
            self.endInsertRows()

    # -- Qt model ------------------------------------------------------------------------
    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.columns)

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not (0 <= index.row() < len(self._rows)) \
                or not (0 <= index.column() < len(self.columns)):
            return None
        row, key = self._rows[index.row()], self.columns[index.column()][0]
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.AccessibleTextRole):
            if key == "data":
                return VIEW_DIFFERENCE if row.has_data else ""
            return _stamp(row) if key == "created_at" else getattr(row, key)
        if role == Qt.ItemDataRole.ToolTipRole:
            if key == "data" and row.has_data:
                return f"Compare the record before and after entry {row.id}"
            if key in ("message", "comment"):
                return getattr(row, key) or None
            if key == "created_at":
                return f"{_stamp(row)} UTC, entry {row.id}"
            return None
        if role == Qt.ItemDataRole.ForegroundRole and key == "data":
            return QBrush(QGuiApplication.palette().link())
        if role == Qt.ItemDataRole.FontRole and key == "data" and row.has_data:
            font = QFont()
            font.setUnderline(True)
            return font
        if role == SORT_ROLE:
            return row.id if key in ("created_at", "data") else getattr(row, key)
        if role == ROW_ROLE:
            return row
        return None

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation != Qt.Orientation.Horizontal or not (0 <= section < len(self.columns)):
            return None
        key, header = self.columns[section]
        if role == Qt.ItemDataRole.DisplayRole:
            return header
        if role == Qt.ItemDataRole.ToolTipRole:
            if key == "created_at":
                return "Date and time in UTC; click to sort, the funnel sets a date range"
            return None if key == "data" else "Click to sort; the funnel filters by value or text"
        return None

    def flags(self, index: QModelIndex | QPersistentModelIndex) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        if not (0 <= column < len(self.columns)) or self.key(column) == "data":
            return
        key = self.key(column)
        # entries are numbered in the order they were written: the date's own order
        query = self.query.replace(sort="id" if key == "created_at" else key,
                                   descending=order == Qt.SortOrder.DescendingOrder)
        if self.live:
            self.set_query(query)
        else:
            self.query = query


class FunnelHeader(QHeaderView):
    """A horizontal header with a funnel at the right of each filterable section: a click
    on it asks for that column's filter, a click elsewhere sorts."""

    funnel_clicked = Signal(int)
    WIDTH = 16

    def __init__(self, parent=None) -> None:
        super().__init__(Qt.Orientation.Horizontal, parent)
        self.active: set[int] = set()
        self.filterable: set[int] = set()
        self.setSectionsClickable(True)
        self.setHighlightSections(True)

    def funnel_rect(self, section: int) -> QRect:
        x = self.sectionViewportPosition(section) + self.sectionSize(section) - self.WIDTH - 2
        return QRect(x, 0, self.WIDTH, self.height())

    def paintSection(self, painter, rect: QRect, section: int) -> None:
        painter.save()
        super().paintSection(painter, rect, section)
        painter.restore()
        if section in self.filterable:
            painter.save()
            font = painter.font()
            font.setBold(section in self.active)
            painter.setFont(font)
            if section in self.active:
                painter.setPen(self.palette().highlight().color())
            box = QRect(rect.right() - self.WIDTH - 2, rect.top(), self.WIDTH, rect.height())
            painter.drawText(box, Qt.AlignmentFlag.AlignCenter, "\u29e9" if section in self.active else "\u25bf")
            painter.restore()

    def sectionSizeFromContents(self, logical: int):
        size = super().sectionSizeFromContents(logical)
        if logical in self.filterable:
            size.setWidth(size.width() + self.WIDTH)
        return size

    def mousePressEvent(self, event) -> None:
        section = self.logicalIndexAt(event.position().toPoint())
        if section in self.filterable and self.funnel_rect(section).contains(event.position().toPoint()):
            self.funnel_clicked.emit(section)
            event.accept()
            return
        super().mousePressEvent(event)

    def mouseReleaseEvent(self, event) -> None:
        section = self.logicalIndexAt(event.position().toPoint())
        if section in self.filterable and self.funnel_rect(section).contains(event.position().toPoint()):
            event.accept()  # the press opened the filter: no sort
            return
        super().mouseReleaseEvent(event)


class ColumnFilterDialog(QDialog):
    """A column's funnel: tick values (those among the entries the other filters leave) or
    type text the value must contain."""

    def __init__(self, ctx: AppContext, query: AuditQuery, column: str, title: str, parent=None) -> None:
        super().__init__(parent)
        self.ctx, self.query, self.column = ctx, query, column
        self.setWindowTitle(f"Filter {title}")
        self.setAccessibleName(f"Filter {title}")
        self.text = QLineEdit(query.texts.get(column, ""))
        self.text.setPlaceholderText(f"{title} contains...")
        self.text.setAccessibleName(f"{title} contains")
        self.text.setClearButtonEnabled(True)
        self.all = QCheckBox("(Select all)")
        self.all.setAccessibleName("Select all values")
        self.values = QListWidget()
        self.values.setAccessibleName(f"{title} values")
        self.note = QLabel()
        buttons = QDialogButtonBox()
        self.apply_button = buttons.addButton("Apply", QDialogButtonBox.ButtonRole.AcceptRole)
        self.apply_button.setAccessibleName("Apply filter")
        self.clear_button = buttons.addButton("Clear filter", QDialogButtonBox.ButtonRole.ResetRole)
        self.clear_button.setAccessibleName("Clear filter")
        cancel = buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        cancel.setAccessibleName("Cancel")
        layout = QVBoxLayout(self)
        for widget in (self.text, self.all, self.values, self.note, buttons):
            layout.addWidget(widget)
        self.result_query: AuditQuery | None = None
        self.text.textChanged.connect(self._load)
        self.all.clicked.connect(self._tick_all)
        self.values.itemChanged.connect(self._sync_all)
        self.apply_button.clicked.connect(self.apply)
        self.clear_button.clicked.connect(self.clear)
        cancel.clicked.connect(self.reject)
        self._load()

    def _load(self) -> None:
        ticked = self.query.values.get(self.column)
        with self.ctx.db.read_session() as s:
            values = audit_log.distinct_values(s, self.column, self.query, text=self.text.text().strip())
        self.values.blockSignals(True)
        self.values.clear()
        for value in values:
            item = QListWidgetItem(value if value else "(empty)")
            item.setData(Qt.ItemDataRole.UserRole, value)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Checked if ticked is None or value in ticked else Qt.CheckState.Unchecked)
            self.values.addItem(item)
        self.values.blockSignals(False)
        self.note.setText("Only the first 200 values are listed; type to narrow them."
                          if len(values) >= 200 else "")
        self._sync_all()

    def _items(self) -> list[QListWidgetItem]:
        return [self.values.item(i) for i in range(self.values.count())]

    def _tick_all(self, checked: bool) -> None:
        self.values.blockSignals(True)
        for item in self._items():
            item.setCheckState(Qt.CheckState.Checked if checked else Qt.CheckState.Unchecked)
        self.values.blockSignals(False)
        self._sync_all()

    def _sync_all(self, *_args) -> None:
        items = self._items()
        self.all.setChecked(bool(items) and all(i.checkState() == Qt.CheckState.Checked for i in items))

    def apply(self) -> None:
        values = dict(self.query.values)
        texts = dict(self.query.texts)
        text = self.text.text().strip()
        ticked = tuple(i.data(Qt.ItemDataRole.UserRole) for i in self._items() if i.checkState() == Qt.CheckState.Checked)
        if self.all.isChecked():
            values.pop(self.column, None)
        else:
            values[self.column] = ticked
        if text:
            texts[self.column] = text
        else:
            texts.pop(self.column, None)
        self.result_query = self.query.replace(values=values, texts=texts)
        self.accept()

    def clear(self) -> None:
        values = {k: v for k, v in self.query.values.items() if k != self.column}
        texts = {k: v for k, v in self.query.texts.items() if k != self.column}
        self.result_query = self.query.replace(values=values, texts=texts)
        self.accept()


class AuditLogWidget(QWidget):
    """The log with its search box, funnels, date range, Refresh (F5), Export and, for
    supervisors, Verify integrity. ``customer_id`` limits it to one customer's entries."""

    def __init__(self, ctx: AppContext, customer_id: int | None = None, parent=None, *,
                 settings_key: str = "audit_log") -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.customer_id = customer_id
        self.model = AuditLogModel(ctx, self)
        self.view = DataTableView(settings_key, ctx.settings, self)
        self.header = FunnelHeader(self.view)
        self.view.setHorizontalHeader(self.header)
        self.header.setStretchLastSection(True)
        self.header.setSectionsMovable(True)
        self.view.setModel(self.model)
        self.view.setSortingEnabled(True)
        self.view.setAccessibleName("Audit log entries")
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.search = QLineEdit()
        self.search.setPlaceholderText("Search all columns, an id or a date; press Enter (Ctrl+F)")
        self.search.setAccessibleName("Search the audit log")
        self.search.setClearButtonEnabled(True)
        self.use_from, self.use_to = QCheckBox("From"), QCheckBox("To")
        self.use_from.setAccessibleName("Limit from date")
        self.use_to.setAccessibleName("Limit to date")
        self.date_from, self.date_to = QDateEdit(), QDateEdit()
        for edit, name in ((self.date_from, "From date (UTC)"), (self.date_to, "To date (UTC)")):
            edit.setCalendarPopup(True)
            edit.setDisplayFormat("yyyy-MM-dd")
            edit.setDate(QDate.currentDate())
            edit.setEnabled(False)
            edit.setAccessibleName(name)
        self.refresh_button = QPushButton("Refresh")
        self.refresh_button.setAccessibleName("Refresh the audit log")
        self.refresh_button.setToolTip("Reload the entries (F5)")
        self.export_button = QPushButton("Export...")
        self.export_button.setAccessibleName("Export the audit log")
        self.export_button.setEnabled(ctx.actor.can("export"))
        self.verify_button = QPushButton("Verify integrity")
        self.verify_button.setAccessibleName("Verify the audit log's integrity")
        self.verify_button.setVisible(ctx.actor.can("verify_audit"))
        self.clear_button = QPushButton("Clear filters")
        self.clear_button.setAccessibleName("Clear all filters")
        self.count = QLabel()
        self.count.setAccessibleName("Number of entries")
        top = QHBoxLayout()
        top.addWidget(self.search, 1)
        for widget in (self.use_from, self.date_from, self.use_to, self.date_to, self.clear_button,
                       self.refresh_button, self.export_button, self.verify_button):
            top.addWidget(widget)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(top)
        layout.addWidget(self.view, 1)
        layout.addWidget(self.count)
        find = QAction(self)
        find.setShortcut(QKeySequence.StandardKey.Find)
        find.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        find.triggered.connect(lambda: (self.search.setFocus(), self.search.selectAll()))
        refresh = QAction(self)
        refresh.setShortcut(QKeySequence.StandardKey.Refresh)
        refresh.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        refresh.triggered.connect(self.reload)
        self.key_actions = [find, refresh]
        self.addActions(self.key_actions)
        self.search.returnPressed.connect(self._apply_search)
        for box, edit in ((self.use_from, self.date_from), (self.use_to, self.date_to)):
            box.toggled.connect(edit.setEnabled)
            box.toggled.connect(lambda _on: self._apply_dates())
            edit.dateChanged.connect(lambda _d: self._apply_dates())
        self.refresh_button.clicked.connect(self.reload)
        self.clear_button.clicked.connect(self.clear_filters)
        self.export_button.clicked.connect(self.export)
        self.verify_button.clicked.connect(self.verify)
        self.header.funnel_clicked.connect(self.open_filter)
        self.view.clicked.connect(self._clicked)
        self.view.activated.connect(self._activated)
        self._query = AuditQuery(customer_id=customer_id)
        self._generation = 0
        self.header.setSortIndicator(self._column_of("created_at"), Qt.SortOrder.DescendingOrder)
        self.view.restore_state()

    # -- query ---------------------------------------------------------------------------
    @property
    def query(self) -> AuditQuery:
        return self._query

    def set_customer(self, customer_id: int | None) -> None:
        self.customer_id = customer_id
        self._query = self._query.replace(customer_id=customer_id)
        self.reload()

    def _column_of(self, key: str) -> int:
        return next(n for n, (k, _h) in enumerate(self.model.columns) if k == key)

    def _show(self, query: AuditQuery) -> None:
        self._query = query
        self.reload()

    def reload(self) -> None:
        """Show the first page of the current query (F5); the count follows."""
        query = self._query = self._query.replace(sort=self.model.query.sort, descending=self.model.query.descending)
        with self.ctx.db.read_session() as s:
            show_comment = options.get(s, "audit-comment") == "on"
        self.model.set_query(query, show_comment)
        keys = [k for k, _h in self.model.columns]
        self.header.filterable = {n for n, k in enumerate(keys) if k in audit_log.FILTERABLE or k == "created_at"}
        self.header.active = {n for n, k in enumerate(keys)
                              if k in query.values or query.texts.get(k)
                              or (k == "created_at" and (query.date_from or query.date_to))}
        self.header.viewport().update()
        self.view.fit_columns_once()
        self.count.setText("Counting entries...")
        self._generation += 1
        self.ctx.tasks.run(self._count, query, self._generation, on_done=self._show_count, parent=self)

    def _count(self, _handle, query: AuditQuery, generation: int) -> tuple[AuditQuery, int, int]:
        with self.ctx.db.read_session() as s:
            return query, generation, audit_log.count(s, query)

    def _show_count(self, result: tuple[AuditQuery, int, int]) -> None:
        query, generation, total = result
        if generation == self._generation:  # a later reload has its own count coming
            filtered = query.search or query.values or any(query.texts.values()) or query.date_from or query.date_to
            self.count.setText(f"{total:,} entries" + (" match the filters" if filtered else ""))

    def _apply_search(self) -> None:
        self._show(self._query.replace(search=self.search.text().strip()))

    def _apply_dates(self) -> None:
        lo = self.date_from.date().toPython() if self.use_from.isChecked() else None
        hi = self.date_to.date().toPython() if self.use_to.isChecked() else None
        if lo and hi and lo > hi:
            self.count.setText("The start date is after the end date; change one of them.")
            return
        self._show(self._query.replace(date_from=lo, date_to=hi))

    def clear_filters(self) -> None:
        for box in (self.use_from, self.use_to):
            box.blockSignals(True)
            box.setChecked(False)
            box.blockSignals(False)
        self.date_from.setEnabled(False)
        self.date_to.setEnabled(False)
        self.search.clear()
        self._show(AuditQuery(customer_id=self.customer_id, sort=self._query.sort, descending=self._query.descending))

    def open_filter(self, section: int) -> QDialog | None:
        key, title = self.model.columns[section]
        if key == "created_at":
            self.use_from.setFocus()
            return None
        dialog = ColumnFilterDialog(self.ctx, self._query, key, title, self)
        dialog.accepted.connect(lambda: dialog.result_query is not None and self._show(dialog.result_query))
        dialog.open()
        return dialog

    # -- rows ----------------------------------------------------------------------------
    def _clicked(self, index: QModelIndex) -> None:
        if self.model.key(index.column()) == "data":
            self.show_difference(index.row())

    def _activated(self, index: QModelIndex) -> None:  # Enter or a double click
        if self.model.key(index.column()) != "data":
            self.show_difference(index.row())

    def show_difference(self, row: int) -> QDialog | None:
        entry = self.model.row_at(row)
        if not entry.has_data:
            return None
        dialog = DiffDialog(self.ctx, entry.id, self)
        dialog.open()
        return dialog

    # -- actions -------------------------------------------------------------------------
    def export(self) -> None:
        path = dialogs.save_file(self, "Export the audit log", "audit-log.xlsx",
                                 "Excel workbook (*.xlsx);;CSV (*.csv)")
        if not path:
            return
        if not path.lower().endswith((".csv", ".xlsx")):
            path += ".xlsx"
        writer = audit_log.export_csv if path.lower().endswith(".csv") else audit_log.export_xlsx
        query = self._query

        def work(handle):
            with self.ctx.db.read_session() as s:
                return writer(s, query, path, handle.progress, handle.cancelled)

        self.ctx.tasks.run(work, title="Exporting the audit log", cancellable=True, parent=self,
                           on_done=lambda n: dialogs.info(self, "Export", f"Exported {n:,} entries to {path}."),
                           on_error=lambda exc: dialogs.show_error(self, exc))

    def verify(self) -> None:
        comment = audit_comment.ask(self.ctx, self, "the integrity check")
        if comment is None:
            return

        def work(handle):
            return audit_log.verify_and_record(self.ctx.db, self.ctx.actor, handle.progress, handle.cancelled, comment)

        def done(result) -> None:
            self.reload()
            if result.ok:
                dialogs.info(self, "Audit log integrity", result.sentence())
            else:
                dialogs.show_error(self, result.sentence() + " Report this to the administrator.", "Audit log integrity")

        self.ctx.tasks.run(work, title="Verifying the audit log", cancellable=True, write=True, parent=self,
                           on_done=done, on_error=lambda exc: dialogs.show_error(self, exc))

    def save_state(self) -> None:
        self.view.save_state()


class AuditLogWindow(QMainWindow):
    """Every customer's entries (View > Audit Log)."""

    def __init__(self, ctx: AppContext, parent=None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.setWindowTitle("Audit Log")
        self.setAccessibleName("Audit Log")
        self.log = AuditLogWidget(ctx, None, self)
        self.setCentralWidget(self.log)
        geometry = ctx.settings.value("audit_log/geometry")
        if isinstance(geometry, QByteArray) and not geometry.isEmpty():
            self.restoreGeometry(geometry)
        else:
            self.resize(1200, 700)
        self.log.reload()

    def showEvent(self, event) -> None:
        super().showEvent(event)
        self.log.search.setFocus()

    def closeEvent(self, event) -> None:
        self.ctx.settings.setValue("audit_log/geometry", self.saveGeometry())
        self.log.save_state()
        super().closeEvent(event)


class CustomerAuditTab(AuditLogWidget):
    """The customer's entries: itself, its contacts, blocks, extensions and invoices.
    The main window adds this tab only for roles that may view the audit log."""

    def __init__(self, ctx: AppContext, parent=None) -> None:
        super().__init__(ctx, None, parent, settings_key="customer_audit")
        # inside the main window, F5 and Ctrl+F are the window's (two owners make Qt
        # treat the keys as ambiguous and do nothing); F5 reloads this tab through the bus
        for action in self.key_actions:
            self.removeAction(action)
        ctx.bus.data_changed.connect(self._data_changed)

    def _data_changed(self, table: str) -> None:
        if table == "audit_entries" and self.customer_id is not None:
            self.reload()

    def set_customer(self, customer_id: int | None) -> None:
        if customer_id is None:
            self.customer_id = None
            self.model.clear()
            self.count.setText("")
            return
        super().set_customer(customer_id)


# -- View Difference -----------------------------------------------------------------------

_BACKGROUND = {"added": QColor(220, 245, 220), "removed": QColor(250, 222, 222),
               "changed": QColor(253, 243, 208), "fold": QColor(232, 232, 240)}
_SPAN = {"added": QColor(160, 225, 160), "removed": QColor(240, 170, 170), "changed": QColor(245, 215, 140)}
_FILLER = QColor(242, 242, 242)


def _utf16(text: str, index: int) -> int:
    """A code point index of ``text`` as a Qt (UTF-16) position."""
    return len(text[:index].encode("utf-16-le")) // 2


class DiffPane(QPlainTextEdit):
    def __init__(self, name: str, parent=None) -> None:
        super().__init__(parent)
        self.setReadOnly(True)
        self.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.setAccessibleName(name)
        self.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))

    def show_rows(self, rows: list[jsondiff.Row], left: bool) -> None:
        lines = [(r.left if left else r.right) for r in rows]
        self.setPlainText("\n".join("" if line is None else line for line in lines))
        selections = []
        doc = self.document()
        for n, (row, line) in enumerate(zip(rows, lines)):
            colour = _FILLER if line is None else _BACKGROUND.get(row.kind)
            if colour is None:
                continue
            block = doc.findBlockByNumber(n)
            sel = QTextEdit.ExtraSelection()
            sel.format.setBackground(colour)
            sel.format.setProperty(QTextCharFormat.Property.FullWidthSelection, True)
            sel.cursor = QTextCursor(block)
            selections.append(sel)
            spans = row.left_spans if left else row.right_spans
            for start, end in spans if line is not None else ():
                span = QTextEdit.ExtraSelection()
                span.format.setBackground(_SPAN.get(row.kind, colour))
                span.cursor = QTextCursor(block)
                span.cursor.setPosition(block.position() + _utf16(line, start))
                span.cursor.setPosition(block.position() + _utf16(line, end), QTextCursor.MoveMode.KeepAnchor)
                selections.append(span)
        self.setExtraSelections(selections)

    def go_to_line(self, n: int) -> None:
        cursor = QTextCursor(self.document().findBlockByNumber(n))
        self.setTextCursor(cursor)
        self.centerCursor()


class DiffDialog(QDialog):
    """An entry's record before and after, side by side, the two panes scrolling together;
    the changed paths on the left jump to their line."""

    def __init__(self, ctx: AppContext, entry_id: int, parent=None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        with ctx.db.read_session() as s:
            entry = audit_log.entry(s, entry_id)
            self.before, self.after = audit_log.documents(entry)
            self.changes = audit_log.changes(entry)
            title = (f"Entry {entry.id}: {entry.action} {entry.table_name} {entry.primary_key} by {entry.actor}, "
                     f"{entry.created_at:%Y-%m-%d %H:%M:%S} UTC")
            detail = entry.message + (f"\nComment: {entry.comment}" if entry.comment else "")
        self.entry_id = entry_id
        self.setWindowTitle(f"View Difference - entry {entry_id}")
        self.setAccessibleName("View Difference")
        heading = QLabel(title)
        heading.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        message = QLabel(detail)
        message.setWordWrap(True)
        message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.paths = QListWidget()
        self.paths.setAccessibleName("Changed paths")
        self.left = DiffPane("Before")
        self.right = DiffPane("After")
        self.only_changes = QCheckBox("Only changes")
        self.only_changes.setAccessibleName("Show only the changed lines")
        self.copy_button = QPushButton("Copy as JSON")
        self.copy_button.setAccessibleName("Copy the changes as JSON")
        self.copy_button.setToolTip("The changes as [{op, path, old, new}], as `cxdesk audit diff --json` prints them")
        close = QPushButton("Close")
        close.setAccessibleName("Close")
        panes = QWidget()
        pane_layout = QHBoxLayout(panes)
        pane_layout.setContentsMargins(0, 0, 0, 0)
        for caption, pane in (("Before", self.left), ("After", self.right)):
            column = QVBoxLayout()
            column.addWidget(QLabel(caption))
            column.addWidget(pane, 1)
            pane_layout.addLayout(column, 1)
        self.splitter = QSplitter()
        self.splitter.addWidget(self.paths)
        self.splitter.addWidget(panes)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setSizes([200, 800])
        bottom = QHBoxLayout()
        bottom.addWidget(self.only_changes)
        bottom.addStretch(1)
        bottom.addWidget(self.copy_button)
        bottom.addWidget(close)
        layout = QVBoxLayout(self)
        layout.addWidget(heading)
        layout.addWidget(message)
        layout.addWidget(self.splitter, 1)
        layout.addLayout(bottom)
        for a, b in ((self.left, self.right), (self.right, self.left)):
            a.verticalScrollBar().valueChanged.connect(b.verticalScrollBar().setValue)
            a.horizontalScrollBar().valueChanged.connect(b.horizontalScrollBar().setValue)
        self.paths.currentRowChanged.connect(self._jump)
        self.only_changes.toggled.connect(self._render)
        self.copy_button.clicked.connect(self.copy_json)
        close.clicked.connect(self.accept)
        self.finished.connect(self._save_geometry)
        geometry = ctx.settings.value("audit_diff/geometry")
        if isinstance(geometry, QByteArray) and not geometry.isEmpty():
            self.restoreGeometry(geometry)
        else:
            self.resize(1100, 700)
        splitter = ctx.settings.value("audit_diff/splitter")
        if isinstance(splitter, QByteArray) and not splitter.isEmpty():
            self.splitter.restoreState(splitter)
        self.only_changes.setChecked(ctx.settings.value("audit_diff/only_changes", False, type=bool))
        self._render()

    def _render(self, *_args) -> None:
        self.view = jsondiff.side_by_side(self.before, self.after, only_changes=self.only_changes.isChecked())
        self.left.show_rows(self.view.rows, left=True)
        self.right.show_rows(self.view.rows, left=False)
        self.paths.blockSignals(True)
        self.paths.clear()
        for change in self.changes:
            path = jsondiff.format_path(change.path)
            item = QListWidgetItem(f"{change.op}  {path or '(document)'}")
            item.setData(Qt.ItemDataRole.UserRole, path)
            self.paths.addItem(item)
        self.paths.blockSignals(False)

    def _jump(self, index: int) -> None:
        item = self.paths.item(index)
        if item is None:
            return
        line = self.view.path_rows.get(item.data(Qt.ItemDataRole.UserRole))
        if line is not None:
            self.left.go_to_line(line)
            self.right.go_to_line(line)

    def copy_json(self) -> str:
        text = json.dumps(jsondiff.to_json_ops(self.changes), ensure_ascii=False, indent=2)
        QGuiApplication.clipboard().setText(text)
        return text

    def _save_geometry(self, _result: int) -> None:
        self.ctx.settings.setValue("audit_diff/geometry", self.saveGeometry())
        self.ctx.settings.setValue("audit_diff/splitter", self.splitter.saveState())
        self.ctx.settings.setValue("audit_diff/only_changes", self.only_changes.isChecked())
