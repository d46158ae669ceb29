"""Frozen columns for the Summary grid: the Date and Action columns stay in view while the
other columns scroll sideways.

The Qt "frozen column" pattern: a second QTableView lies over the left edge of the main
view, shares its model and selection model, shows only the frozen columns and scrolls
vertically with it.  The main view keeps the same columns in the same place underneath
(moved to the left edge), so its geometry, header state and keyboard moves are unchanged;
columns scrolled under the overlay are scrolled back into view when they get the focus.
"""
from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QModelIndex, Qt
from PySide6.QtGui import QPainter
from PySide6.QtWidgets import QAbstractItemView, QFrame, QHeaderView, QTableView


class FrozenColumns(QTableView):
    """The overlay of ``main``'s first columns; call ``freeze(columns)`` after each reset."""

    def __init__(self, main: QTableView, header: QHeaderView) -> None:
        super().__init__(main)
        self.main = main
        self.frozen: list[int] = []
        self.setHorizontalHeader(header)
        self.setAccessibleName("Summary frozen columns")
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.verticalHeader().hide()
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setVerticalScrollMode(main.verticalScrollMode())
        self.setSelectionMode(main.selectionMode())
        self.setSelectionBehavior(main.selectionBehavior())
        self.setAlternatingRowColors(main.alternatingRowColors())
        self.setWordWrap(False)
        # no style sheet: it would paint every cell through the style-sheet machinery (about
        # twice as slow); the right border is drawn by paintEvent
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.verticalHeader().setDefaultSectionSize(main.verticalHeader().defaultSectionSize())
        self.setModel(main.model())
        self.setSelectionModel(main.selectionModel())
        main.viewport().stackUnder(self)
        main.verticalScrollBar().valueChanged.connect(self.verticalScrollBar().setValue)
        self.verticalScrollBar().valueChanged.connect(main.verticalScrollBar().setValue)
        main.horizontalHeader().sectionResized.connect(self._main_resized)
        main.horizontalHeader().sectionMoved.connect(lambda *_: self.freeze(self.frozen))
        header.sectionClicked.connect(self._sort_clicked)

    def paintEvent(self, event) -> None:  # noqa: N802 - Qt's name
        super().paintEvent(event)
        viewport = self.viewport()
        painter = QPainter(viewport)
        painter.setPen(self.palette().mid().color())
        x = viewport.width() - 1
        painter.drawLine(x, 0, x, viewport.height())
        painter.end()

    def freeze(self, columns: Sequence[int]) -> None:
        """Keep these logical columns in view, in this order, at the left edge."""
        self.frozen = list(columns)
        model = self.model()
        main_header = self.main.horizontalHeader()
        for visual, logical in enumerate(self.frozen):
            if main_header.visualIndex(logical) != visual:
                main_header.moveSection(main_header.visualIndex(logical), visual)
        header = self.horizontalHeader()
        for logical in range(model.columnCount() if model is not None else 0):
            self.setColumnHidden(logical, logical not in self.frozen)
            if logical in self.frozen:
                if header.visualIndex(logical) != self.frozen.index(logical):
                    header.moveSection(header.visualIndex(logical), self.frozen.index(logical))
                self.setColumnWidth(logical, main_header.sectionSize(logical))
        self.update_geometry()

    def _main_resized(self, logical: int, _old: int, new: int) -> None:
        if logical in self.frozen:
            self.setColumnWidth(logical, new)
            self.update_geometry()

    def _sort_clicked(self, logical: int) -> None:
        main_header = self.main.horizontalHeader()
        same = main_header.sortIndicatorSection() == logical
        order = (Qt.SortOrder.DescendingOrder
                 if same and main_header.sortIndicatorOrder() == Qt.SortOrder.AscendingOrder
                 else Qt.SortOrder.AscendingOrder)
        if logical < self.model().columnCount() - 1:  # the Action column does not sort
            self.main.sortByColumn(logical, order)

    def width_frozen(self) -> int:
        return sum(self.main.columnWidth(c) for c in self.frozen)

    def update_geometry(self) -> None:
        main = self.main
        frame = main.frameWidth()
        self.horizontalHeader().setFixedHeight(main.horizontalHeader().height())
        main.horizontalHeader().covered = self.width_frozen()  # group names beside us stay readable
        self.setGeometry(main.verticalHeader().width() + frame, frame, self.width_frozen(),
                         main.viewport().height() + main.horizontalHeader().height())


class FrozenTableView(QTableView):
    """A QTableView whose cells under the frozen overlay scroll into view when reached
    with the keyboard (the overlay is set with ``set_frozen``)."""

    frozen_view: FrozenColumns | None = None

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        if self.frozen_view is not None:
            self.frozen_view.update_geometry()

    def scrollTo(self, index: QModelIndex, hint=QAbstractItemView.ScrollHint.EnsureVisible) -> None:
        bar = self.horizontalScrollBar()
        before = bar.value()
        super().scrollTo(index, hint)
        if self.frozen_view is None:
            return
        if index.column() in self.frozen_view.frozen:  # always shown: scroll the rows only
            bar.setValue(before)
            return
        left = self.columnViewportPosition(index.column())
        hidden = self.frozen_view.width_frozen() - left
        if hidden > 0:
            bar.setValue(max(0, bar.value() - hidden))
