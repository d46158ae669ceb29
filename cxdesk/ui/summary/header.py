"""The Summary grid's two-line header: the column groups above the columns."""
from __future__ import annotations

from PySide6.QtCore import QRect, QSize, Qt
from PySide6.QtGui import QPainter
from PySide6.QtWidgets import QHeaderView, QStyleOptionHeader


class GroupHeaderView(QHeaderView):
    """A two-line header: the group (Period, Traffic, Duration, Money) above the columns.
    The model says which group a column is in through ``group_of(section)``."""

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

    def paintEvent(self, event) -> None:
        super().paintEvent(event)
        spans = self.group_spans()
        if not spans:
            return
        painter = QPainter(self.viewport())
        half = self.height() // 2
        for group, first, last in spans:
            left = self.sectionViewportPosition(self.logicalIndex(first))
            right = self.sectionViewportPosition(self.logicalIndex(last)) + self.sectionSize(self.logicalIndex(last))
            opt = QStyleOptionHeader()
            self.initStyleOption(opt)
            opt.rect = QRect(left, 0, right - left, half)
            opt.text = group
            opt.textAlignment = Qt.AlignmentFlag.AlignCenter
            opt.section = 0
            self.style().drawControl(self.style().ControlElement.CE_Header, opt, painter, self)
        painter.end()
