"""Column widths measured cheaply, for fitting columns to their content on the GUI thread.

Qt measures a column by asking the delegate for every cell's size hint: about ten calls
into the Python model per cell plus a text layout, up to a thousand rows a column. Here a
column is measured on a sample of rows (those on screen first, FIT_SAMPLE_ROWS in all) and,
when the model can say what its cells show (``texts_for_fit(column, rows)``, rows of the
model itself), from those texts with the view's font metrics: the same width Qt's delegate
gives a single line of plain text, at a fraction of the cost. A model returns None for a
column whose cells are not plain text (tick boxes, icons, another font); Qt measures those.
"""
from __future__ import annotations

import math
from collections.abc import Sequence

from PySide6.QtCore import QAbstractProxyModel
from PySide6.QtGui import QFontMetricsF
from PySide6.QtWidgets import QStyle, QTableView

#: rows measured when columns are fitted to their content: the rows on screen first, then
#: the ones below (Qt's default measures up to 1000 rows per column)
FIT_SAMPLE_ROWS = 64


def sample_rows(view: QTableView, count: int = FIT_SAMPLE_ROWS) -> list[int]:
    """Up to ``count`` row numbers of the view's model: from the first row on screen down,
    then the rows above it."""
    model = view.model()
    total = model.rowCount() if model is not None else 0
    top = max(view.rowAt(0), 0) if view.isVisible() else 0
    rows = list(range(top, min(top + count, total)))
    return list(range(max(top - (count - len(rows)), 0), top)) + rows


def _source_texts(view: QTableView, column: int, rows: Sequence[int]) -> list[str] | None:
    """What the cells show, from the model under any proxies; None when it cannot say."""
    model = source = view.model()
    while isinstance(source, QAbstractProxyModel):
        source = source.sourceModel()
    texts_for_fit = getattr(source, "texts_for_fit", None)
    if texts_for_fit is None:
        return None
    if source is model:
        return texts_for_fit(column, rows)
    indexes = [model.index(r, column) for r in rows]
    while isinstance(model, QAbstractProxyModel):
        indexes = [model.mapToSource(i) for i in indexes]
        model = model.sourceModel()
    columns = {i.column() for i in indexes}
    if len(columns) != 1:
        return None
    return texts_for_fit(columns.pop(), [i.row() for i in indexes])


def text_width(view: QTableView, texts: Sequence[str]) -> int:
    """The width QTableView.sizeHintForColumn gives cells showing ``texts`` on one line in
    the view's font: the widest text, the style's text margins, and the grid line."""
    if not texts:
        return 0
    margin = view.style().pixelMetric(QStyle.PixelMetric.PM_FocusFrameHMargin, None, view) + 1
    metrics = QFontMetricsF(view.font())
    widest = math.ceil(max(metrics.horizontalAdvance(t) for t in texts))
    return widest + 2 * margin + (1 if view.showGrid() else 0)


def column_size_hint(view: QTableView, column: int) -> int | None:
    """The content width of ``column`` from a sample of rows, or None when Qt must measure it."""
    rows = sample_rows(view)
    if not rows:
        return None
    texts = _source_texts(view, column, rows)
    return None if texts is None else text_width(view, texts)
