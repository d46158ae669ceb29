"""The Summary grid's two-line header: the column groups above the columns."""
from __future__ import annotations

from PySide6.QtCore import QRect, QSize, Qt
from PySide6.QtGui import QPainter
from PySide6.QtWidgets import QHeaderView, QStyleOptionHeader


class GroupHeaderView(QHeaderView):
    """A two-line header: the group (Period, Traffic, Duration, Money) above the columns.
    The model says which group a column is in through ``group_of(section)``.

    ``covered`` is how many pixels at the viewport's left edge another widget lies over (the
    frozen columns): a group scrolled partly under it is drawn in the part still in view,
    so its name stays whole and readable."""

    covered = 0

    def __init__(self, parent=None) -> None:
        super().__init__(Qt.Orientation.Horizontal, parent)
        self.setDefaultAlignment(Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignBottom)
        self.setSectionsClickable(True)
        self.setSortIndicatorShown(True)
        self.setHighlightSections(True)

    def sizeHint(self) -> QSize:
        size = super().sizeHint()
        return QSize(size.width(), size.height() * 2)

    def group_spans(self) -> list[tuple[str, int, int]]:
        """(group, first, last) in visual order, for each run of columns of one group."""
        model = self.model()
        if model is None or not hasattr(model, "group_of"):
            return []
        spans = []
        section, count = 0, self.count()
        while section < count:
            group = model.group_of(self.logicalIndex(section))
            last = section
            while last + 1 < count and model.group_of(self.logicalIndex(last + 1)) == group:
                last += 1
            if group:
                spans.append((group, section, last))
            section = last + 1
        return spans

    def group_rects(self) -> list[tuple[str, QRect]]:
        """(group, rectangle of its cell in the top row) for the groups in view, each cut to
        the part of the viewport not covered."""
        half = self.height() // 2
        rects = []
        for group, first, last in self.group_spans():
            left = max(self.sectionViewportPosition(self.logicalIndex(first)), self.covered)
            right = self.sectionViewportPosition(self.logicalIndex(last)) + self.sectionSize(self.logicalIndex(last))
            if right > left:
                rects.append((group, QRect(left, 0, right - left, half)))
        return rects

    def paintEvent(self, event) -> None:
        super().paintEvent(event)
        rects = self.group_rects()
        if not rects:
            return
        painter = QPainter(self.viewport())
        for group, rect in rects:
            opt = QStyleOptionHeader()
            self.initStyleOption(opt)
            opt.rect = rect
            opt.text = group
            opt.textAlignment = Qt.AlignmentFlag.AlignCenter
            opt.section = 0
            self.style().drawControl(self.style().ControlElement.CE_Header, opt, painter, self)
        painter.end()
