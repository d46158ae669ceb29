"""The Summary grid's model: summary rows as a column store (services.table.Table), sorted
in NumPy, plus the Action column of ticks for Generate Invoice.

Selection statistics, copies and exports work on the Table's arrays and never walk
QModelIndex objects cell by cell.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt

from cxdesk.services import summary
from cxdesk.services.table import Table
from cxdesk.ui.kit import fmt

ACTION_HEADER = "Action"
RIGHT = int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
LEFT = int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
#: the unit shown after a header ("ASR (%)"); money columns show the customer's currency
UNITS = {"ASR": "%", "Profit %": "%", "ACD": "min", "Duration": "min", "Billed Duration": "min"}


def header_text(header: str, unit: str) -> str:
    """"ASR" and "%" -> "ASR (%)"; a header that already names its unit keeps it alone
    ("Profit %", not "Profit % (%)")."""
    if not unit or header.endswith(unit):
        return header
    return f"{header} ({unit})"


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

    # -- loading and sorting ----------------------------------------------------------
    def set_rows(self, rows: Sequence[summary.SummaryRow], period: str, currency: str,
                 customer_id: int | None = None) -> None:
        """Show these rows. Ticks are kept for the periods still shown, as long as the
        customer and the period kind stay the same (a ticked day is not a ticked week)."""
        self.beginResetModel()
        if customer_id != self.customer_id or period != self.period:
            self.checked.clear()
        self.rows, self.period, self.currency, self.customer_id = list(rows), period, currency, customer_id
        self._apply_sort()
        self.checked &= {r.period_start for r in self.rows}
        self.endResetModel()

    def _apply_sort(self) -> None:
        """Table and row order for the current sort (time order until a header is clicked)."""
        full = summary.summary_table(self.rows)
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

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        row, col = index.row(), index.column()
        if col == self.action_column:
            if role == Qt.ItemDataRole.CheckStateRole:
                checked = self.summary_row(row).period_start in self.checked
                return Qt.CheckState.Checked if checked else Qt.CheckState.Unchecked
            if role == Qt.ItemDataRole.ToolTipRole:
                return ("Tick to include this period in Generate Invoice" if self.invoiceable
                        else "Hours cannot be invoiced: switch to Daily, Weekly or Monthly")
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return self._display(row, col)
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return RIGHT if self.table.columns[col].numeric else LEFT
        if role == Qt.ItemDataRole.ToolTipRole and col == 0:
            r = self.summary_row(row)
            return f"{fmt.utc(r.period_start)} to {fmt.utc(r.period_end)} (end exclusive)"
        return None

    def _display(self, row: int, col: int) -> str:
        column = self.table.columns[col]
        if col == 0:
            return self.summary_row(row).label
        if self.table.is_empty(row, col):
            return ""
        value = self.table.value(row, col)
        if column.kind == "money":
            return fmt.money(value, "", 2)
        if column.kind == "int":
            return f"{value:,}"
        if isinstance(value, Decimal):
            return f"{value:,.2f}"
        return str(value)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole):
        if orientation != Qt.Orientation.Horizontal or role != Qt.ItemDataRole.DisplayRole:
            return None
        if section == self.action_column:
            return ACTION_HEADER
        if 0 <= section < self.table.column_count:
            column = self.table.columns[section]
            unit = UNITS.get(column.header) or (self.currency if column.kind == "money" else "")
            return header_text(column.header, unit)
        return None

    def group_of(self, section: int) -> str:
        return self.table.columns[section].group if 0 <= section < self.table.column_count else ""

    def flags(self, index: QModelIndex | QPersistentModelIndex) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        flags = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
        if index.column() == self.action_column and self.invoiceable:
            flags |= Qt.ItemFlag.ItemIsUserCheckable
        return flags

    def setData(self, index: QModelIndex | QPersistentModelIndex, value, role: int = Qt.ItemDataRole.EditRole) -> bool:
        if not index.isValid() or index.column() != self.action_column or role != Qt.ItemDataRole.CheckStateRole:
            return False
        if not self.invoiceable:
            return False
        start = self.summary_row(index.row()).period_start
        if Qt.CheckState(value) == Qt.CheckState.Checked:
            self.checked.add(start)
        else:
            self.checked.discard(start)
        self.dataChanged.emit(index, index, [Qt.ItemDataRole.CheckStateRole])
        return True
