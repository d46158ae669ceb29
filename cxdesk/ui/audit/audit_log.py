"""The Audit Log: every customer's entries (AuditLogWindow) or one customer's (CustomerAuditTab).

Nothing here reads the database on the GUI thread. The table model holds the rows shown so
far and asks ``ctx.ops`` for the first page of its AuditQuery and for the next page as the
user scrolls (one page in flight; a page read for an older query is dropped), so sorting,
searching and the funnels all run in SQL on a worker. The window and the tab follow every
committed change (a ChangeSet): in the default order the entries written since the newest
one shown are added at the top; in any other order the first page is read again.

The Data column's "View Difference" opens a DiffDialog (diff_dialog.py).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel, QDate, QModelIndex, QPersistentModelIndex, QPointF, QRect, QRectF, Qt, QTimer, Signal,
)
from PySide6.QtGui import QBrush, QFont, QGuiApplication, QPainter, QPainterPath, QPalette, QPen
from PySide6.QtWidgets import (
    QAbstractItemView, QCheckBox, QDateEdit, QDialog, QDialogButtonBox, QHBoxLayout, QHeaderView, QLabel,
    QLineEdit, QListWidget, QListWidgetItem, QPushButton, QStyle, QStyleOptionHeader, QStyleOptionHeaderV2,
    QVBoxLayout, QWidget,
)

from cxdesk.services import audit_log, options
from cxdesk.services.audit_log import AuditQuery, AuditRow
from cxdesk.services.changes import ChangeSet
from cxdesk.ui.audit.diff_dialog import DiffDialog
from cxdesk.ui.kit import dialogs, fmt
from cxdesk.ui.kit.panel import Panel
from cxdesk.ui.kit.tables import CELL, ROW_ROLE, DataTableView, fit_columns
from cxdesk.ui.kit.window import DataWindow

#: (key, header); "data" is the View Difference link, "comment" shows with the option on
COLUMNS = [(k, h) for k, h in audit_log.HEADERS.items() if k != "comment"] + [
    ("data", "Data"), ("comment", audit_log.HEADERS["comment"])]
VIEW_DIFFERENCE = "View Difference"
_TEXT_ROLES = frozenset({Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.AccessibleTextRole})
#: the roles AuditLogModel answers
_ROLES = _TEXT_ROLES | {Qt.ItemDataRole.ToolTipRole, Qt.ItemDataRole.ForegroundRole, Qt.ItemDataRole.FontRole,
                        ROW_ROLE}


def _stamp(row: AuditRow) -> str:
    return row.created_at.strftime("%Y-%m-%d %H:%M:%S")


def _text(row: AuditRow, key: str):
    """What a cell shows."""
    if key == "data":
        return VIEW_DIFFERENCE if row.has_data else ""
    return _stamp(row) if key == "created_at" else getattr(row, key)


def _comment_shown(session) -> bool:
    return options.get(session, "audit-comment") == "on"


@dataclass(frozen=True)
class Page:
    """What a worker read for the model: rows of ``query`` and whether the Comment column
    shows. ``newer``: the entries written after the newest one shown, oldest first."""

    generation: int
    query: AuditQuery
    rows: list[AuditRow]
    show_comment: bool
    newer: bool = False


class AuditLogModel(QAbstractTableModel):
    """The log's rows for one AuditQuery, read a page at a time through ``ctx.ops`` (keyset
    paging). ``query`` is the query asked for last, ``shown_query`` the one whose rows are
    shown; every read carries the model's generation, and a read of an older generation is
    dropped when it arrives."""

    PAGE = audit_log.PAGE_SIZE
    #: a first page replaced the rows (columns, sort or filters may have changed)
    page_shown = Signal()
    #: entries written since were added (at the top, or at the end of an ascending log)
    rows_added = Signal()

    def __init__(self, ctx, parent=None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.query = AuditQuery()
        self.shown_query: AuditQuery | None = None
        self.show_comment = False
        self.columns = COLUMNS[:-1]
        self._rows: list[AuditRow] = []
        self._more = False
        self._fetching = False
        self._generation = 0
        self._shown_generation = 0  # the generation of the rows shown: pages follow only those
        self.live = False  # nothing is read before the owner sets a query

    # -- reading -------------------------------------------------------------------------
    def _host(self):
        """The ops parent: the owning widget (error boxes need one), else the model."""
        parent = self.parent()
        return parent if isinstance(parent, QWidget) else self

    def first_page(self, query: AuditQuery) -> Callable[[Any], Page]:
        """The function (of a read session) that reads ``query``'s first page; from now on
        whatever was asked for before is dropped when it arrives."""
        self.query, self.live = query, True
        self._generation += 1
        self._fetching = False
        generation, limit = self._generation, self.PAGE

        def read(session) -> Page:
            return Page(generation, query, audit_log.page(session, query, limit=limit), _comment_shown(session))

        return read

    def update(self, query: AuditQuery) -> Callable[[Any], Page]:
        """The function that brings the model up to date with ``query`` after a change: for
        the query shown, sorted by id, only the entries written since the newest one shown
        (entries are numbered in the order they were committed); otherwise the first page."""
        if not self._rows or query != self.query or query != self.shown_query or query.sort != "id":
            return self.first_page(query)
        # ascending with pages still to read: the newer entries come with the last page
        newest = self._rows[0] if query.descending else (None if self._more else self._rows[-1])
        generation, limit, shown_comment = self._generation, self.PAGE, self.show_comment
        oldest_first = query.replace(descending=False)

        def read(session) -> Page:
            show_comment = _comment_shown(session)
            rows = [] if newest is None else audit_log.page(session, oldest_first, limit=limit, after=newest)
            if len(rows) < limit and show_comment == shown_comment:
                return Page(generation, query, rows, show_comment, newer=True)
            # more than a page was written, or the Comment column comes or goes: start over
            return Page(generation, query, audit_log.page(session, query, limit=limit), show_comment)

        return read

    def set_query(self, query: AuditQuery) -> None:
        """Show the first page of ``query`` (read off the GUI thread; the rows shown stay
        until it arrives)."""
        self.ctx.ops.query(self._host(), self.first_page(query), success=self.receive, key="page")

    def request(self, query: AuditQuery) -> None:
        """Show ``query`` now when the model shows one, else remember it for the first load."""
        if self.live:
            self.set_query(query)
        else:
            self.query = query

    def receive(self, page: Page) -> None:
        """Show what a worker read (dropped when a newer query was asked for meanwhile)."""
        if page.generation != self._generation:
            return
        if not page.newer:
            rows = list(page.rows)
            # the page shown again (a reload that found no change): no reset, nothing repainted
            same = (page.query, page.show_comment, rows) == (self.shown_query, self.show_comment, self._rows)
            if not same:
                self.beginResetModel()
            self.shown_query, self.show_comment = page.query, page.show_comment
            self.columns = COLUMNS if page.show_comment else COLUMNS[:-1]
            self._rows, self._more = rows, len(rows) == self.PAGE
            self._shown_generation = page.generation
            if not same:
                self.endResetModel()
            self.page_shown.emit()
            return
        if not self._rows:
            return
        descending = page.query.descending
        newest = self._rows[0].id if descending else self._rows[-1].id
        rows = [r for r in page.rows if r.id > newest]  # a second update may have added some
        if not rows or (not descending and self._more):
            return
        if descending:
            self.beginInsertRows(QModelIndex(), 0, len(rows) - 1)
            self._rows[0:0] = reversed(rows)
        else:
            self.beginInsertRows(QModelIndex(), len(self._rows), len(self._rows) + len(rows) - 1)
            self._rows.extend(rows)
        self.endInsertRows()
        self.rows_added.emit()

    def clear(self) -> None:
        """No rows, and nothing that is still being read will be shown."""
        self._generation += 1
        self._fetching = False
        self.beginResetModel()
        self._rows, self._more, self.live, self.shown_query = [], False, False, None
        self.endResetModel()

    def key(self, column: int) -> str:
        return self.columns[column][0]

    def row_at(self, row: int) -> AuditRow:
        return self._rows[row]

    # -- lazy fetching -------------------------------------------------------------------
    def canFetchMore(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> bool:  # noqa: N802
        return not parent.isValid() and self._more

    def fetchMore(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> None:  # noqa: N802
        """Ask for the next page (one at a time); its rows are added when it arrives."""
        # not while a reset or an insert is announced (QAbstractItemModelTester fetches then)
        if parent.isValid() or not self._more or self._fetching or not self._rows \
                or self._shown_generation != self._generation:
            return
        self._fetching = True
        query, after, generation, limit = self.shown_query, self._rows[-1], self._generation, self.PAGE
        show_comment = self.show_comment

        def read(session) -> Page:
            return Page(generation, query, audit_log.page(session, query, limit=limit, after=after), show_comment)

        self.ctx.ops.query(self._host(), read, success=self._append, always=self._fetched, key="more")

    def _fetched(self) -> None:
        """The next page arrived or failed: another one may be asked for (``always`` runs
        before ``_append``)."""
        self._fetching = False

    def _append(self, page: Page) -> None:
        if page.generation != self._generation:
            return
        if not page.rows:
            self._more = False
            return
        self._fetching = True  # while the rows are announced, a fetchMore would ask for them again
        self.beginInsertRows(QModelIndex(), len(self._rows), len(self._rows) + len(page.rows) - 1)
        self._rows.extend(page.rows)
        self._more = len(page.rows) == self.PAGE
        self.endInsertRows()
        self._fetching = False

    # -- Qt model ------------------------------------------------------------------------
    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: N802
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: N802
        return 0 if parent.isValid() else len(self.columns)

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if role not in _ROLES or not index.isValid():
            return None  # a painting view asks for about ten roles per cell: the others go first
        r, c = index.row(), index.column()
        if not (0 <= r < len(self._rows)) or not (0 <= c < len(self.columns)):
            return None
        row, key = self._rows[r], self.columns[c][0]
        if role in _TEXT_ROLES:
            return _text(row, key)
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
        if role == ROW_ROLE:
            return row
        return None

    def texts_for_fit(self, column: int, rows: list[int]) -> list[str]:
        """What these rows show in ``column`` (kit.column_fit; the link's underline is as wide)."""
        key = self.columns[column][0]
        return [_text(self._rows[r], key) or "" for r in rows]

    def headerData(self, section: int, orientation: Qt.Orientation,  # noqa: N802
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
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
        return CELL if index.isValid() else Qt.ItemFlag.NoItemFlags

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        if not (0 <= column < len(self.columns)) or self.key(column) == "data":
            return
        key = self.key(column)
        # entries are numbered in the order they were written: the date's own order
        query = self.query.replace(sort="id" if key == "created_at" else key,
                                   descending=order == Qt.SortOrder.DescendingOrder)
        if query != self.query:
            self.request(query)


def funnel_path(box: QRectF) -> QPainterPath:
    """A funnel (wide rim, narrow spout) centred in ``box``."""
    size = max(6.0, min(box.width(), box.height(), 12.0) - 2)
    left, top = box.center().x() - size / 2, box.center().y() - size / 2
    spout = size / 6
    path = QPainterPath(QPointF(left, top))
    path.lineTo(left + size, top)
    path.lineTo(left + size / 2 + spout, top + size * 0.5)
    path.lineTo(left + size / 2 + spout, top + size * 0.85)
    path.lineTo(left + size / 2 - spout, top + size)
    path.lineTo(left + size / 2 - spout, top + size * 0.5)
    path.closeSubpath()
    return path


class FunnelHeader(QHeaderView):
    """A horizontal header with a funnel in a strip at the right of each filterable
    section: a click on it asks for that column's filter, a click elsewhere sorts. The
    label and the sort arrow are laid out left of the strip, so they never meet the funnel;
    an active filter's funnel is filled in the highlight colour, an inactive one outlined."""

    funnel_clicked = Signal(int)
    WIDTH = 18

    def __init__(self, parent=None) -> None:
        super().__init__(Qt.Orientation.Horizontal, parent)
        self.active: set[int] = set()
        self.filterable: set[int] = set()
        self.setSectionsClickable(True)
        self.setHighlightSections(True)
        self.setAccessibleName("Audit log columns: click to sort, the funnel filters")

    # -- geometry (viewport coordinates) ------------------------------------------------------
    def section_rect(self, section: int) -> QRect:
        return QRect(self.sectionViewportPosition(section), 0, self.sectionSize(section), self.height())

    def _strip(self, rect: QRect) -> QRect:
        return QRect(rect.right() - self.WIDTH + 1, rect.top(), self.WIDTH, rect.height())

    def funnel_rect(self, section: int) -> QRect:
        return self._strip(self.section_rect(section))

    def _option(self, section: int, rect: QRect) -> QStyleOptionHeaderV2:
        option = QStyleOptionHeaderV2()
        self.initStyleOption(option)
        self.initStyleOptionForIndex(option, section)
        option.rect = rect
        return option

    def _content(self, option: QStyleOptionHeader) -> QStyleOptionHeaderV2:
        """The option for the part of the section left of the funnel strip."""
        content = QStyleOptionHeaderV2(option)
        content.rect = option.rect.adjusted(0, 0, -self.WIDTH, 0)
        return content

    def sort_indicator_rect(self, section: int) -> QRect:
        """Where the sort arrow of ``section`` is drawn (empty when it has none)."""
        option = self._option(section, self.section_rect(section))
        if option.sortIndicator == QStyleOptionHeader.SortIndicator.None_:
            return QRect()
        if section in self.filterable:
            option = self._content(option)
        return self.style().subElementRect(QStyle.SubElement.SE_HeaderArrow, option, self)

    # -- painting -------------------------------------------------------------------------------
    def paintSection(self, painter: QPainter, rect: QRect, section: int) -> None:  # noqa: N802
        if section not in self.filterable or not rect.isValid():
            super().paintSection(painter, rect, section)
            return
        style = self.style()
        option = self._option(section, rect)
        painter.save()
        style.drawControl(QStyle.ControlElement.CE_HeaderSection, option, painter, self)
        content = self._content(option)
        label = QStyleOptionHeaderV2(content)
        label.rect = style.subElementRect(QStyle.SubElement.SE_HeaderLabel, content, self)
        style.drawControl(QStyle.ControlElement.CE_HeaderLabel, label, painter, self)
        if option.sortIndicator != QStyleOptionHeader.SortIndicator.None_:
            arrow = QStyleOptionHeaderV2(content)
            arrow.rect = style.subElementRect(QStyle.SubElement.SE_HeaderArrow, content, self)
            style.drawPrimitive(QStyle.PrimitiveElement.PE_IndicatorHeaderArrow, arrow, painter, self)
        self._paint_funnel(painter, self._strip(rect), section in self.active)
        painter.restore()

    def _paint_funnel(self, painter: QPainter, strip: QRect, active: bool) -> None:
        path = funnel_path(QRectF(strip))
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        if active:
            colour = self.palette().color(QPalette.ColorRole.Highlight)
            painter.fillPath(path, colour)
            painter.strokePath(path, QPen(colour, 1))
        else:
            painter.strokePath(path, QPen(self.palette().color(QPalette.ColorRole.PlaceholderText), 1))

    def sectionSizeFromContents(self, logical: int):  # noqa: N802
        size = super().sectionSizeFromContents(logical)
        if logical in self.filterable:
            size.setWidth(size.width() + self.WIDTH)
        return size

    # -- mouse ----------------------------------------------------------------------------------
    def _on_funnel(self, event) -> int | None:
        point = event.position().toPoint()
        section = self.logicalIndexAt(point)
        if section in self.filterable and self.funnel_rect(section).contains(point):
            return section
        return None

    def mousePressEvent(self, event) -> None:  # noqa: N802
        section = self._on_funnel(event)
        if section is None:
            super().mousePressEvent(event)
            return
        self.funnel_clicked.emit(section)
        event.accept()

    def mouseReleaseEvent(self, event) -> None:  # noqa: N802
        if self._on_funnel(event) is None:
            super().mouseReleaseEvent(event)
            return
        event.accept()  # the press opened the filter: no sort


class ColumnFilterDialog(QDialog):
    """A column's funnel: tick values (those among the entries the other filters leave) or
    type text the value must contain. The values are read through ops, again a moment after
    the user stops typing (the last text wins). ``chosen(query)`` on Apply or Clear filter;
    deleted when closed."""

    chosen = Signal(object)
    TYPING_DELAY_MS = 250
    LIMIT = 200

    def __init__(self, ctx, query: AuditQuery, column: str, title: str, parent=None) -> None:
        super().__init__(parent)
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.ctx, self.query, self.column = ctx, query, column
        self.loads = 0  # value lists shown, for tests
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
        self.note.setAccessibleName("Note on the values")
        buttons = QDialogButtonBox()
        self.apply_button = buttons.addButton("Apply", QDialogButtonBox.ButtonRole.AcceptRole)
        self.apply_button.setAccessibleName("Apply filter")
        self.apply_button.setEnabled(False)  # until the values are there: none ticked would hide all
        self.clear_button = buttons.addButton("Clear filter", QDialogButtonBox.ButtonRole.ResetRole)
        self.clear_button.setAccessibleName("Clear filter")
        cancel = buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        cancel.setAccessibleName("Cancel")
        layout = QVBoxLayout(self)
        for widget in (self.text, self.all, self.values, self.note, buttons):
            layout.addWidget(widget)
        self.result_query: AuditQuery | None = None
        self._typing = QTimer(self)
        self._typing.setSingleShot(True)
        self._typing.setInterval(self.TYPING_DELAY_MS)
        self._typing.timeout.connect(self._load)
        self.text.textChanged.connect(lambda _text: self._typing.start())
        self.all.clicked.connect(self._tick_all)
        self.values.itemChanged.connect(self._sync_all)
        self.apply_button.clicked.connect(self.apply)
        self.clear_button.clicked.connect(self.clear)
        cancel.clicked.connect(self.reject)
        self._load()

    def _load(self) -> None:
        self._typing.stop()
        column, query, text, limit = self.column, self.query, self.text.text().strip(), self.LIMIT
        self.note.setText("Reading the values...")
        self.ctx.ops.query(self, lambda s: audit_log.distinct_values(s, column, query, limit=limit, text=text),
                           success=self._show_values, key="values")

    def _show_values(self, values: list[str]) -> None:
        ticked = self.query.values.get(self.column)
        # what the user ticked or unticked stays so while the list follows the text
        kept = {i.data(Qt.ItemDataRole.UserRole): i.checkState() for i in self._items()}
        self.values.blockSignals(True)
        self.values.clear()
        for value in values:
            item = QListWidgetItem(value if value else "(empty)")
            item.setData(Qt.ItemDataRole.UserRole, value)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            default = Qt.CheckState.Checked if ticked is None or value in ticked else Qt.CheckState.Unchecked
            item.setCheckState(kept.get(value, default))
            self.values.addItem(item)
        self.values.blockSignals(False)
        self.note.setText(f"Only the first {self.LIMIT} values are listed; type to narrow them."
                          if len(values) >= self.LIMIT else "")
        self.apply_button.setEnabled(True)
        self._sync_all()
        self.loads += 1

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
        if self.all.isChecked():
            values.pop(self.column, None)
        else:
            values[self.column] = tuple(i.data(Qt.ItemDataRole.UserRole) for i in self._items()
                                        if i.checkState() == Qt.CheckState.Checked)
        if text:
            texts[self.column] = text
        else:
            texts.pop(self.column, None)
        self._choose(self.query.replace(values=values, texts=texts))

    def clear(self) -> None:
        values = {k: v for k, v in self.query.values.items() if k != self.column}
        texts = {k: v for k, v in self.query.texts.items() if k != self.column}
        self._choose(self.query.replace(values=values, texts=texts))

    def _choose(self, query: AuditQuery) -> None:
        self.result_query = query
        self.chosen.emit(query)
        self.accept()


class AuditLogWidget(QWidget):
    """The log with its search box, funnels, date range, Refresh, Export and, for
    supervisors, Verify integrity. The window or tab that holds it loads it (``loader``,
    ``show_data``); searching, sorting and filtering read through the model."""

    def __init__(self, ctx, parent=None, *, settings_key: str = "audit_log") -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.model = AuditLogModel(ctx, self)
        self.view = DataTableView(settings_key, ctx.settings, self)
        self.header = FunnelHeader(self.view)
        self.view.setHorizontalHeader(self.header)
        self.header.setStretchLastSection(True)
        self.header.setSectionsMovable(True)
        # DataTableView watches its first header for columns resized by hand (tables.py)
        self.header.sectionResized.connect(self._resized)
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
        self.refresh_button.setToolTip("Read the entries again (new ones appear by themselves)")
        self.export_button = QPushButton("Export...")
        self.export_button.setAccessibleName("Export the audit log")
        self.export_button.setEnabled(ctx.actor.can("export"))
        # a child from the start: made visible without a parent, it opens as a window
        self.verify_button = QPushButton("Verify integrity", self)
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
        self.model.page_shown.connect(self._page_shown)
        self.model.rows_added.connect(self._count)
        self._counting: AuditQuery | None = None
        self.header.setSortIndicator(self._column_of("created_at"), Qt.SortOrder.DescendingOrder)

    def _resized(self, _section: int, _old: int, _new: int) -> None:
        if self.header.underMouse():
            self.view.user_layout = True

    # -- loading (for the window or tab) ----------------------------------------------------
    @property
    def query(self) -> AuditQuery:
        return self.model.query

    def loader(self, customer_id: int | None) -> Callable[[Any], Page]:
        """The function that brings the log of ``customer_id`` (None: all) up to date."""
        return self.model.update(self.model.query.replace(customer_id=customer_id))

    def show_data(self, page: Page | None) -> None:
        if page is None:
            self.model.clear()
            self._counting = None
            self.count.setText("")
        else:
            self.model.receive(page)

    def reload(self) -> None:
        """Read the first page of what is shown again (Refresh)."""
        if self.model.live:
            self.model.set_query(self.model.query)

    def _page_shown(self) -> None:
        query = self.model.shown_query
        keys = [k for k, _h in self.model.columns]
        self.header.filterable = {n for n, k in enumerate(keys) if k in audit_log.FILTERABLE or k == "created_at"}
        self.header.active = {n for n, k in enumerate(keys)
                              if k in query.values or query.texts.get(k)
                              or (k == "created_at" and (query.date_from or query.date_to))}
        self.header.viewport().update()
        fit_columns(self.view, wide=[keys.index("message")], narrow=[keys.index("data")])
        self.count.setText("Counting entries...")
        self._count()

    def _count(self) -> None:
        query = self._counting = self.model.shown_query
        if query is not None:
            self.ctx.ops.query(self, lambda s: audit_log.count(s, query),
                               success=lambda total: self._show_count(query, total), key="count")

    def _show_count(self, query: AuditQuery, total: int) -> None:
        if query is not self._counting:
            return
        text = fmt.counted(total, "entry")
        if query.search or query.values or any(query.texts.values()) or query.date_from or query.date_to:
            text += (" matches" if total == 1 else " match") + " the filters"
        self.count.setText(text)

    # -- search and filters ---------------------------------------------------------------------
    def _column_of(self, key: str) -> int:
        return next(n for n, (k, _h) in enumerate(self.model.columns) if k == key)

    def _show(self, query: AuditQuery) -> None:
        self.model.request(query)

    def _apply_search(self) -> None:
        self._show(self.model.query.replace(search=self.search.text().strip()))

    def _apply_dates(self) -> None:
        lo = self.date_from.date().toPython() if self.use_from.isChecked() else None
        hi = self.date_to.date().toPython() if self.use_to.isChecked() else None
        if lo and hi and lo > hi:
            self._counting = None
            self.count.setText("The start date is after the end date; change one of them.")
            return
        self._show(self.model.query.replace(date_from=lo, date_to=hi))

    def clear_filters(self) -> None:
        for box in (self.use_from, self.use_to):
            box.blockSignals(True)
            box.setChecked(False)
            box.blockSignals(False)
        self.date_from.setEnabled(False)
        self.date_to.setEnabled(False)
        self.search.clear()
        query = self.model.query
        self._show(AuditQuery(customer_id=query.customer_id, sort=query.sort, descending=query.descending))

    def open_filter(self, section: int) -> QDialog | None:
        key, title = self.model.columns[section]
        if key == "created_at":
            self.use_from.setFocus()
            return None
        dialog = ColumnFilterDialog(self.ctx, self.model.query, key, title, self)
        dialog.chosen.connect(self._show)
        dialog.open()
        return dialog

    # -- rows -------------------------------------------------------------------------------------
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

    # -- actions ----------------------------------------------------------------------------------
    def export(self) -> None:
        path = dialogs.save_file(self, "Export the audit log", "audit-log.xlsx",
                                 "Excel workbook (*.xlsx);;CSV (*.csv)")
        if not path:
            return
        if not path.lower().endswith((".csv", ".xlsx")):
            path += ".xlsx"
        writer = audit_log.export_csv if path.lower().endswith(".csv") else audit_log.export_xlsx
        query = self.model.query

        def work(job) -> int:
            with job.read() as s:
                return writer(s, query, path, job.progress, job.cancelled)

        def done(n: int) -> None:
            dialogs.info(self, "Export", f"Exported {fmt.counted(n, 'entry')} to {path}.")

        self.ctx.ops.task(self, work, success=done, title="Exporting the audit log", cancellable=True)

    def verify(self) -> None:
        """Walk the chain on the writer (it records the check as an entry, with the reason
        asked for when Audit Comment is on); the new entry then shows by itself."""

        def work(job, comment: str):
            return audit_log.verify_and_record(job.db, job.actor, job.progress, job.cancelled, comment)

        def done(result) -> None:
            if result.ok:
                dialogs.info(self, "Audit log integrity", result.sentence())
            else:
                dialogs.show_error(self, result.sentence() + " Report this to the administrator.",
                                   "Audit log integrity")

        self.ctx.ops.write(self, work, success=done, what="the integrity check", title="Verifying the audit log",
                           cancellable=True)


class AuditLogWindow(DataWindow):
    """Every customer's entries (View > Audit Log). Every change is written in the log, so
    every ChangeSet concerns it."""

    CUSTOMER_SCOPED = False

    def __init__(self, ctx, parent: QWidget | None = None) -> None:
        super().__init__(ctx, "audit_log", (1200, 700), parent)
        self.setWindowTitle("Audit Log")
        self.setAccessibleName("Audit Log")
        self.log = AuditLogWidget(ctx, self, settings_key="audit_log")
        self.setCentralWidget(self.log)
        self.search = self.log.search
        self.keep(self.log.view)

    def concerns(self, change_set: ChangeSet) -> bool:
        return bool(change_set)

    def loader(self):
        return self.log.loader(None)

    def show_data(self, data) -> None:
        self.log.show_data(data)

    def showEvent(self, event) -> None:  # noqa: N802
        super().showEvent(event)
        self.log.search.setFocus()


class CustomerAuditTab(Panel):
    """The customer's entries: itself, its contacts, blocks, extensions and invoices. The
    main window adds this tab only for roles that may view the audit log.

    Any table can gain entries of this customer, so the tab does not list TABLES: a change
    concerns it when one of its entries is this customer's (or the set says "everything").
    Entries without a customer (options, operators, verification) never show in the tab,
    so they do not reload it."""

    def __init__(self, ctx, parent: QWidget | None = None) -> None:
        super().__init__(ctx, parent)
        self.log = AuditLogWidget(ctx, self, settings_key="customer_audit")
        self.search = self.log.search
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.log)
        self.log.view.restore_state()

    def concerns(self, change_set: ChangeSet) -> bool:
        if self.customer_id is None:
            return False
        return change_set.everything or self.customer_id in change_set.customers

    def loader(self):
        return None if self.customer_id is None else self.log.loader(self.customer_id)

    def show_data(self, data) -> None:
        self.log.show_data(data)
