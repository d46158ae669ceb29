"""Table models and views shared by every list in the program.

``ColumnsTableModel`` shows a list of row objects through column specs; its SORT_ROLE
gives native values (Decimal, datetime, int) so sorting is numeric, not textual.
``DataTableView`` adds copy (Ctrl+C, Ctrl+Shift+C with headers), sorting through a
``QSortFilterProxyModel``, and restores its header state from QSettings.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QByteArray,
    QModelIndex,
    QPersistentModelIndex,
    QSettings,
    QSortFilterProxyModel,
    Qt,
)
from PySide6.QtGui import QAction, QGuiApplication, QKeySequence
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableView, QWidget

from cxdesk.services.export_safety import safe_text  # the one guard of every export
from cxdesk.ui.kit.column_fit import FIT_SAMPLE_ROWS, column_size_hint

SORT_ROLE = Qt.ItemDataRole.UserRole + 1
ROW_ROLE = Qt.ItemDataRole.UserRole + 2
RIGHT = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
LEFT = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter
#: the flags of a cell, made once (a view asks for them for every cell it paints)
CELL = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
CHECKABLE_CELL = CELL | Qt.ItemFlag.ItemIsUserCheckable
_DISPLAY, _ACCESSIBLE = Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.AccessibleTextRole
#: the roles ColumnsTableModel answers; a view asks for about ten per cell as it paints
_ROLES = frozenset({_DISPLAY, _ACCESSIBLE, Qt.ItemDataRole.TextAlignmentRole, Qt.ItemDataRole.ToolTipRole,
                    Qt.ItemDataRole.CheckStateRole, SORT_ROLE, ROW_ROLE})


@dataclass(frozen=True)
class Column:
    header: str
    value: Callable[[Any], Any]
    text: Callable[[Any], str] | None = None
    align: Qt.AlignmentFlag = LEFT
    tooltip: Callable[[Any], str] | None = None
    checkable: bool = False


class ColumnsTableModel(QAbstractTableModel):
    def __init__(self, columns: Sequence[Column], rows: Sequence[Any] = (), parent=None) -> None:
        super().__init__(parent)
        self.columns = list(columns)
        self._rows: list[Any] = list(rows)

    # -- data ---------------------------------------------------------------
    def set_rows(self, rows: Sequence[Any]) -> None:
        """Show these rows. A reload that found the rows shown (F5, a change elsewhere) changes
        nothing on screen: no reset, so no repaint and the selection and scroll stay."""
        rows = list(rows)
        if rows == self._rows:
            self._rows = rows
            return
        self.beginResetModel()
        self._rows = rows
        self.endResetModel()

    def rows(self) -> list[Any]:
        return list(self._rows)

    def row_at(self, row: int) -> Any:
        return self._rows[row]

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.columns)

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if role not in _ROLES or not index.isValid() or not (0 <= index.row() < len(self._rows)):
            return None
        row = self._rows[index.row()]
        col = self.columns[index.column()]
        if role == _DISPLAY or role == _ACCESSIBLE:
            return None if col.checkable else _text(col, row)
        if role == SORT_ROLE:
            value = col.value(row)
            return value if isinstance(value, (int, float, str)) or value is None else _sortable(value)
        if role == ROW_ROLE:
            return row
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return int(col.align)
        if role == Qt.ItemDataRole.ToolTipRole and col.tooltip is not None:
            return col.tooltip(row)
        if role == Qt.ItemDataRole.CheckStateRole and col.checkable:
            return Qt.CheckState.Checked if col.value(row) else Qt.CheckState.Unchecked
        return None

    def texts_for_fit(self, column: int, rows: Sequence[int]) -> list[str] | None:
        """What these rows show in ``column`` (column_fit); None for a tick box column."""
        col = self.columns[column]
        return None if col.checkable else [_text(col, self._rows[r]) for r in rows]

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal and 0 <= section < len(self.columns):
            if role == Qt.ItemDataRole.DisplayRole:
                return self.columns[section].header
            if role == Qt.ItemDataRole.TextAlignmentRole:
                return int(self.columns[section].align)
        if orientation == Qt.Orientation.Vertical and role == Qt.ItemDataRole.DisplayRole and 0 <= section < len(self._rows):
            return section + 1
        return None

    def flags(self, index: QModelIndex | QPersistentModelIndex) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return CHECKABLE_CELL if self.columns[index.column()].checkable else CELL


def _text(col: Column, row: Any) -> str:
    if col.text is not None:
        return col.text(row)
    value = col.value(row)
    return "" if value is None else str(value)


def _sortable(value: Any) -> Any:
    """Decimal and datetime sort correctly through their string forms only when padded;
    give Qt a float or an ISO string instead (display stays exact)."""
    from decimal import Decimal
    import datetime as dt

    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    return str(value)


class SortFilterProxy(QSortFilterProxyModel):
    """Sorts by native values and filters case-insensitively over every column."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setSortRole(SORT_ROLE)
        self.setFilterCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.setFilterKeyColumn(-1)
        self.setSortCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.setDynamicSortFilter(True)


def selection_text(view: QTableView, headers: bool) -> str:
    """Tab-separated text of the selected cells (or the current row), as spreadsheets paste."""
    model = view.model()
    indexes = view.selectionModel().selectedIndexes() if view.selectionModel() else []
    if not indexes:
        return ""
    rows = sorted({i.row() for i in indexes})
    cols = sorted({i.column() for i in indexes if not view.isColumnHidden(i.column())})
    chosen = {(i.row(), i.column()) for i in indexes}
    lines = []
    if headers:
        lines.append("\t".join(_cell(str(model.headerData(c, Qt.Orientation.Horizontal) or "")) for c in cols))
    for r in rows:
        lines.append("\t".join(
            _cell(str(model.data(model.index(r, c)) or ""), model.data(model.index(r, c), SORT_ROLE))
            if (r, c) in chosen else "" for c in cols
        ))
    return "\r\n".join(lines) + "\r\n"


def _cell(text: str, value=None) -> str:
    """One TSV field: the shown text through ``safe_text``, except a number the model holds as
    a number and shows as a plain number ("-12.50" pastes as a number), quoted when it holds a
    tab, quote or break."""
    from decimal import Decimal, InvalidOperation

    if isinstance(value, (int, float, Decimal)) and not isinstance(value, bool):
        try:
            Decimal(text.replace(",", ""))
            return text
        except InvalidOperation:
            pass
    text = safe_text(text)
    if any(c in text for c in '\t"\r\n'):
        text = '"' + text.replace('"', '""') + '"'
    return text


class DataTableView(QTableView):
    def __init__(self, settings_key: str = "", settings: QSettings | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.settings_key = settings_key
        self.settings = settings
        self.setSortingEnabled(True)
        self.setAlternatingRowColors(True)
        self.setWordWrap(False)  # one line a row (elided), laid out faster as it paints
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.verticalHeader().setVisible(False)
        self.verticalHeader().setDefaultSectionSize(24)
        self.horizontalHeader().setStretchLastSection(True)
        self.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        self.horizontalHeader().setSectionsMovable(True)
        copy = QAction("Copy", self)
        copy.setShortcut(QKeySequence.StandardKey.Copy)
        copy.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)
        copy.triggered.connect(lambda: self.copy_selection(False))
        copy_h = QAction("Copy with Headers", self)
        copy_h.setShortcut(QKeySequence("Ctrl+Shift+C"))
        copy_h.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)
        copy_h.triggered.connect(lambda: self.copy_selection(True))
        self.addActions([copy, copy_h])
        #: True once the user resized a column (or a saved layout was restored): fit no more
        self.user_layout = False
        self.horizontalHeader().sectionResized.connect(self._resized_by_hand)

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt's name
        super().resizeEvent(event)
        spread_free_width(self)

    def reset(self) -> None:
        """After a model reset, lay the rows out now rather than at the next paint: a scroll
        bar that comes or goes with the new rows then does so before the view is painted,
        not after it (which painted the whole view a second time, one bar narrower)."""
        super().reset()
        self.executeDelayedItemsLayout()

    def sizeHintForColumn(self, column: int) -> int:  # noqa: N802 - Qt's name
        """Fitting a column measures a sample of its texts (column_fit), not every cell."""
        hint = column_size_hint(self, column)
        return super().sizeHintForColumn(column) if hint is None else hint

    def _resized_by_hand(self, _section: int, _old: int, _new: int) -> None:
        if self.horizontalHeader().underMouse():  # dragged by the user, not by fit_columns
            self.user_layout = True

    def copy_selection(self, headers: bool = False) -> str:
        text = selection_text(self, headers)
        if text:
            QGuiApplication.clipboard().setText(text)
        return text

    def restore_state(self) -> bool:
        """Restore the user's column layout; without one, columns fit their content once."""
        if self.settings is not None and self.settings_key:
            state = self.settings.value(f"{self.settings_key}/header")
            if isinstance(state, QByteArray) and not state.isEmpty():
                self._fitted = self.user_layout = self.horizontalHeader().restoreState(state)
                return self._fitted
        return False

    def fit_columns_once(self) -> None:
        """Size columns to their content the first time there are rows (no saved layout)."""
        if getattr(self, "_fitted", False) or self.model() is None or self.model().rowCount() == 0:
            return
        self.horizontalHeader().setResizeContentsPrecision(FIT_SAMPLE_ROWS)
        self.resizeColumnsToContents()
        header = self.horizontalHeader()
        for col in range(header.count()):
            header.resizeSection(col, min(header.sectionSize(col), 240))
        self._fitted = True

    def save_state(self) -> None:
        if self.settings is not None and self.settings_key:
            self.settings.setValue(f"{self.settings_key}/header", self.horizontalHeader().saveState())

    def selected_rows(self) -> list[Any]:
        """The row objects of the selected rows (through any proxy)."""
        sm = self.selectionModel()
        if sm is None:
            return []
        return [self.model().data(i, ROW_ROLE) for i in sm.selectedRows()]


def fit_columns(view: QTableView, *, wide: Sequence[int] = (), narrow: Sequence[int] = (),
                max_width: int = 320) -> None:
    """Fit the columns to the data just shown, unless the user has laid them out (a saved
    header state, or a column resized by hand since): each column as wide as its content
    (at most ``max_width``; measured on a sample of rows, column_fit), ``narrow`` columns as
    wide as their header or content only, and the space left over to the ``wide`` columns
    (e.g. a message), so nothing is cut that need not be."""
    model = view.model()
    if model is None or model.rowCount() == 0 or getattr(view, "user_layout", False):
        return
    header = view.horizontalHeader()
    header.setStretchLastSection(False)
    header.setResizeContentsPrecision(FIT_SAMPLE_ROWS)  # a sample of the rows, not a thousand
    view.resizeColumnsToContents()
    total = 0
    for col in range(header.count()):
        if view.isColumnHidden(col):
            continue
        width = header.sectionSize(col) if col in narrow else min(header.sectionSize(col), max_width)
        header.resizeSection(col, width)
        total += width
    shown_wide = [c for c in wide if not view.isColumnHidden(c)]
    view.fitted_widths = {c: header.sectionSize(c) for c in shown_wide}
    if shown_wide:
        spread_free_width(view)
    elif view.viewport().width() > total:
        header.setStretchLastSection(True)
    view.updateGeometries()  # a scroll bar the new widths need comes before the paint, not after it


def spread_free_width(view: QTableView) -> None:
    """Give the width the columns leave free to the ``wide`` ones of the last fit (again after
    the view was resized), never below what their content needed."""
    fitted = getattr(view, "fitted_widths", None)
    if not fitted or getattr(view, "user_layout", False):
        return
    header = view.horizontalHeader()
    others = sum(header.sectionSize(c) for c in range(header.count())
                 if c not in fitted and not view.isColumnHidden(c))
    free = view.viewport().width() - others - sum(fitted.values())
    share = max(free, 0) // len(fitted)
    for col, width in fitted.items():
        header.resizeSection(col, width + share)
