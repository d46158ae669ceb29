"""The Summary grid's model: summary rows as a column store (services.table.Table), sorted
in NumPy, plus the Action column of ticks for Generate Invoice.

Cells show the Table's own text (``Table.texts``: rounded once, half-up, at the column's
decimals, as ``services.figures`` says), so the grid reads as the copies and exports do.
The Action column names the invoices that already cover a period (such a period cannot be
ticked) and marks partial periods (cut by the chosen dates, or still running).

Selection statistics, copies and exports work on the Table's arrays and never walk
QModelIndex objects cell by cell.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QFont

from cxdesk.services import summary
from cxdesk.services.table import Table
from cxdesk.ui.kit import fmt
from cxdesk.ui.kit.tables import CELL, CHECKABLE_CELL

ACTION_HEADER = "Action"
RIGHT = int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
LEFT = int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
#: the roles SummaryModel answers; a painting view asks for about ten per cell
_ROLES = frozenset({Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.TextAlignmentRole, Qt.ItemDataRole.ToolTipRole,
                    Qt.ItemDataRole.FontRole, Qt.ItemDataRole.CheckStateRole})


def action_text(row: summary.SummaryRow) -> str:
    """What the Action column says beside its tick box: "Invoice 12", "partial"."""
    parts = []
    if row.invoices:
        parts.append(("Invoice " if len(row.invoices) == 1 else "Invoices ") + ", ".join(map(str, row.invoices)))
    if row.partial:
        parts.append("partial")
    return " · ".join(parts)


class SummaryModel(QAbstractTableModel):
    """Summary rows as a column store; the last column is the Action checkbox."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.period = "daily"
        self.currency = ""
        self.customer_id: int | None = None
        self.rows: list[summary.SummaryRow] = []
        self.table: Table = summary.summary_table([])
        self.order: list[int] = []  # view row -> index into self.rows
        self.checked: set[dt.datetime] = set()
        #: (column, descending) once a header was clicked; None: time order
        self.sort_by: tuple[int, bool] | None = None
        self._texts: dict[int, list[str]] = {}  # column -> its cells' text, made when first shown
        self._action = self.table.column_count  # the Action column
        self._align = [LEFT] * self._action  # each table column's alignment

    # -- loading and sorting ----------------------------------------------------------
    def set_rows(self, rows: Sequence[summary.SummaryRow], period: str, currency: str,
                 customer_id: int | None = None) -> None:
        """Show these rows. Ticks are kept for the periods still shown, as long as the
        customer and the period kind stay the same (a ticked day is not a ticked week).
        The rows shown again (a reload that found no change) change nothing: no reset."""
        if (list(rows), period, currency, customer_id) == (self.rows, self.period, self.currency, self.customer_id):
            return
        self.beginResetModel()
        if customer_id != self.customer_id or period != self.period:
            self.checked.clear()
        self.rows, self.period, self.currency, self.customer_id = list(rows), period, currency, customer_id
        self._apply_sort()
        self.checked &= {r.period_start for r in self.rows if not r.invoices}
        self.endResetModel()

    def _apply_sort(self) -> None:
        """Table and row order for the current sort (time order until a header is clicked)."""
        full = summary.summary_table(self.rows, self.currency, self.period)
        self._texts = {}
        self._action = full.column_count
        self._align = [RIGHT if c.numeric else LEFT for c in full.columns]
        if self.sort_by is None or not self.rows:
            self.table, self.order = full, list(range(len(self.rows)))
            return
        column, descending = self.sort_by
        perm = full.argsort(column, descending=descending)
        self.table, self.order = full.take(perm), perm.tolist()

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        """Sort by a table column; a negative column (no sort indicator) is time order."""
        if column >= self.table.column_count:
            return
        self.layoutAboutToBeChanged.emit()
        before = self.order
        self.sort_by = None if column < 0 else (column, order == Qt.SortOrder.DescendingOrder)
        self._apply_sort()
        # selections and the current cell follow their rows, not their row numbers
        where = {row: view for view, row in enumerate(self.order)}
        old = self.persistentIndexList()
        self.changePersistentIndexList(old, [self.index(where[before[i.row()]], i.column()) for i in old])
        self.layoutChanged.emit()

    def summary_row(self, view_row: int) -> summary.SummaryRow:
        return self.rows[self.order[view_row]]

    def shown_rows(self) -> list[summary.SummaryRow]:
        """Every row in the order shown."""
        return [self.rows[i] for i in self.order]

    @property
    def action_column(self) -> int:
        return self.table.column_count

    @property
    def invoiceable(self) -> bool:
        return self.period != "24h"

    def checked_rows(self) -> list[summary.SummaryRow]:
        return [r for r in self.rows if r.period_start in self.checked]

    def clear_checked(self) -> None:
        """Untick every period (after Generate Invoice)."""
        self.checked.clear()
        if self.rowCount():
            column = self.action_column
            self.dataChanged.emit(self.index(0, column), self.index(self.rowCount() - 1, column),
                                  [Qt.ItemDataRole.CheckStateRole])

    # -- Qt model ------------------------------------------------------------------------
    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else self.table.row_count

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else self.table.column_count + 1

    def column_texts(self, col: int) -> list[str]:
        """Every cell's text of a table column, formatted in one go the first time it is shown."""
        texts = self._texts.get(col)
        if texts is None:
            texts = self._texts[col] = self.table.texts(col, 0, self.table.row_count, grouping=True)
        return texts

    def texts_for_fit(self, column: int, rows: list[int]) -> list[str] | None:
        """What these rows show in a table column (kit.column_fit); None for the Action column
        (tick boxes) and for dates of partial periods (italic)."""
        if column >= self.action_column or (column == 0 and any(self.summary_row(r).partial for r in rows)):
            return None
        texts = self.column_texts(column)
        return [texts[r] for r in rows]

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole):
        if role not in _ROLES or not index.isValid():
            return None
        row, col = index.row(), index.column()
        if col == self._action:
            return self._action_data(self.summary_row(row), role)
        if role == Qt.ItemDataRole.DisplayRole:
            return self.column_texts(col)[row]
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return self._align[col]
        if col == 0 and role == Qt.ItemDataRole.ToolTipRole:
            r = self.summary_row(row)
            text = f"{fmt.utc(r.period_start)} to {fmt.utc(r.period_end)} (end exclusive)"
            return text + ("\nPartial period: cut by the chosen dates, or still running." if r.partial else "")
        if col == 0 and role == Qt.ItemDataRole.FontRole and self.summary_row(row).partial:
            font = QFont()
            font.setItalic(True)
            return font
        return None

    def _action_data(self, r: summary.SummaryRow, role: int):
        if role == Qt.ItemDataRole.DisplayRole:
            return action_text(r) or None
        if role == Qt.ItemDataRole.CheckStateRole and not r.invoices:
            return Qt.CheckState.Checked if r.period_start in self.checked else Qt.CheckState.Unchecked
        if role == Qt.ItemDataRole.ToolTipRole:
            if r.invoices:
                return f"Already invoiced ({action_text(r)}); a period is never invoiced twice."
            return ("Tick to include this period in Generate Invoice" if self.invoiceable
                    else "Hours cannot be invoiced: switch to Daily, Weekly or Monthly")
        return None

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole):
        if orientation != Qt.Orientation.Horizontal or role != Qt.ItemDataRole.DisplayRole:
            return None
        if section == self.action_column:
            return ACTION_HEADER
        if 0 <= section < self.table.column_count:
            return self.table.columns[section].title
        return None

    def group_of(self, section: int) -> str:
        return self.table.columns[section].group if 0 <= section < self.table.column_count else ""

    def flags(self, index: QModelIndex | QPersistentModelIndex) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        if index.column() == self._action and self.invoiceable and not self.summary_row(index.row()).invoices:
            return CHECKABLE_CELL
        return CELL

    def setData(self, index: QModelIndex | QPersistentModelIndex, value, role: int = Qt.ItemDataRole.EditRole) -> bool:
        if not index.isValid() or index.column() != self.action_column or role != Qt.ItemDataRole.CheckStateRole:
            return False
        if not self.invoiceable or self.summary_row(index.row()).invoices:
            return False  # hours are not invoiced; an invoiced period is never ticked
        start = self.summary_row(index.row()).period_start
        if Qt.CheckState(value) == Qt.CheckState.Checked:
            self.checked.add(start)
        else:
            self.checked.discard(start)
        self.dataChanged.emit(index, index, [Qt.ItemDataRole.CheckStateRole])
        return True
