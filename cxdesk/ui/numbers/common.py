"""What the number block section and the Auth tab share: the "+" button, reselecting a row
after a reload, refused writes, counted nouns."""
from __future__ import annotations

from PySide6.QtWidgets import QToolButton

from cxdesk.errors import UserError
from cxdesk.ui.kit import dialogs
from cxdesk.ui.kit.panel import Panel
from cxdesk.ui.kit.tables import ColumnsTableModel, DataTableView, SortFilterProxy


def tool_button(text: str, accessible: str, tooltip: str) -> QToolButton:
    b = QToolButton()
    b.setText(text)
    b.setAccessibleName(accessible)
    b.setToolTip(tooltip)
    return b


def reselect(view: DataTableView, model: ColumnsTableModel, proxy: SortFilterProxy, row_id: int | None) -> bool:
    """Select the row whose object has ``id == row_id`` (after a reload reset the model);
    False when no shown row has it."""
    if row_id is None:
        return False
    for row, item in enumerate(model.rows()):
        if item.id == row_id:
            index = proxy.mapFromSource(model.index(row, 0))
            if index.isValid():
                view.selectRow(index.row())
                return True
            return False
    return False


def show_refusal(panel: Panel, exc: UserError) -> None:
    """A write the service refused: say why, and reload (someone may have changed the rows)."""
    dialogs.show_error(panel, exc)
    panel.invalidate()
