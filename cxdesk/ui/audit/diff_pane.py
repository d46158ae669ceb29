"""One side of View Difference: the rows of ``jsondiff.side_by_side`` as plain text, with a
gutter of line numbers and markers and the changed lines and words coloured.

The text is set with ``setPlainText`` (never interpreted as HTML) and the service has already
written invisible and reordering characters as escapes. Colours are mixed from the palette's
Base colour, so they follow a dark palette; removed is red-ish and added green-ish, and the
markers say the same without colour: ``-`` removed, ``+`` added, ``~`` changed.
"""
from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QRect, QSize, Qt
from PySide6.QtGui import (
    QBrush, QColor, QFontDatabase, QPainter, QPaintEvent, QPalette, QTextCharFormat, QTextCursor,
)
from PySide6.QtWidgets import QPlainTextEdit, QTextEdit, QWidget

from cxdesk.services import jsondiff

CHANGE_KINDS = frozenset({"added", "removed", "changed"})
MARKERS = {"added": "+", "removed": "-", "changed": "~"}
_RED, _GREEN, _BLUE = QColor(215, 48, 39), QColor(26, 152, 80), QColor(69, 117, 180)


def _mix(base: QColor, tint: QColor, amount: float) -> QColor:
    return QColor.fromRgbF(*(b + (t - b) * amount for b, t in zip(
        (base.redF(), base.greenF(), base.blueF()), (tint.redF(), tint.greenF(), tint.blueF()))))


@dataclass(frozen=True)
class DiffColours:
    """Backgrounds for one palette: removed lines and words on the left, added on the right."""

    removed_line: QColor
    removed_word: QColor
    added_line: QColor
    added_word: QColor
    fold: QColor
    filler: QBrush

    @classmethod
    def of(cls, palette: QPalette) -> DiffColours:
        base = palette.color(QPalette.ColorRole.Base)
        dark = base.lightnessF() < 0.5  # a tint shows less on a dark base
        line, word = (0.28, 0.5) if dark else (0.16, 0.38)
        return cls(_mix(base, _RED, line), _mix(base, _RED, word), _mix(base, _GREEN, line),
                   _mix(base, _GREEN, word), _mix(base, _BLUE, line * 0.7),
                   QBrush(_mix(base, palette.color(QPalette.ColorRole.Text), 0.2), Qt.BrushStyle.BDiagPattern))

    def backgrounds(self, kind: str, left: bool) -> tuple[QColor | None, QColor | None]:
        """(line, word) backgrounds of a row's side; a "changed" row is old on the left."""
        if kind == "fold":
            return self.fold, None
        if kind not in CHANGE_KINDS:
            return None, None
        return (self.removed_line, self.removed_word) if left else (self.added_line, self.added_word)


def _utf16(text: str, index: int) -> int:
    """A code point index of ``text`` as a Qt (UTF-16) position."""
    return len(text[:index].encode("utf-16-le")) // 2


class _Gutter(QWidget):
    def __init__(self, pane: DiffPane) -> None:
        super().__init__(pane)
        self.pane = pane

    def sizeHint(self) -> QSize:
        return QSize(self.pane.gutter_width(), 0)

    def paintEvent(self, event: QPaintEvent) -> None:
        self.pane.paint_gutter(self, event)


class DiffPane(QPlainTextEdit):
    """Before or After. ``labels`` holds each line's (number, marker) as the gutter shows them."""

    def __init__(self, name: str, left: bool, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.left = left
        self.setReadOnly(True)
        self.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.setAccessibleName(name)
        self.setAccessibleDescription("Gutter: line number, then - removed, + added, ~ changed")
        self.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.labels: list[tuple[str, str]] = []
        self._digits = 3  # the widest line number the gutter has room for
        self.line_colours: list[QColor | QBrush | None] = []
        self.gutter = _Gutter(self)
        self.updateRequest.connect(self._scroll_gutter)
        self._fit_gutter()

    def show_rows(self, rows: list[jsondiff.Row], colours: DiffColours) -> None:
        left = self.left
        lines = [(r.left if left else r.right) for r in rows]
        self.setPlainText("\n".join("" if line is None else line for line in lines))
        self.labels = [("" if (no := r.left_no if left else r.right_no) is None else str(no),
                        MARKERS.get(r.kind, "") if line is not None else "") for r, line in zip(rows, lines)]
        self.line_colours = []
        selections = []
        doc = self.document()
        for n, (row, line) in enumerate(zip(rows, lines)):
            background, word = colours.backgrounds(row.kind, left)
            if line is None and row.kind != "fold":
                background = colours.filler
            self.line_colours.append(background)
            if background is None:
                continue
            block = doc.findBlockByNumber(n)
            selections.append(self._selection(block, background))
            for start, end in (row.left_spans if left else row.right_spans) if line is not None else ():
                selections.append(self._selection(block, word, _utf16(line, start), _utf16(line, end)))
        self.setExtraSelections(selections)
        self._digits = max(3, max((len(number) for number, _ in self.labels), default=0))
        self._fit_gutter()

    @staticmethod
    def _selection(block, background, start: int | None = None, end: int | None = None):
        sel = QTextEdit.ExtraSelection()
        sel.format.setBackground(background)
        sel.cursor = QTextCursor(block)
        if start is None:
            sel.format.setProperty(QTextCharFormat.Property.FullWidthSelection, True)
        else:  # a changed word: stronger colour, and underlined for who cannot tell the colours
            sel.format.setFontUnderline(True)
            sel.cursor.setPosition(block.position() + start)
            sel.cursor.setPosition(block.position() + end, QTextCursor.MoveMode.KeepAnchor)
        return sel

    def go_to_line(self, n: int) -> None:
        cursor = QTextCursor(self.document().findBlockByNumber(n))
        self.setTextCursor(cursor)
        self.centerCursor()

    # -- gutter (as in Qt's code editor example)

    def gutter_width(self) -> int:
        return self.fontMetrics().horizontalAdvance("9") * (self._digits + 3)

    def _fit_gutter(self) -> None:
        self.setViewportMargins(self.gutter_width(), 0, 0, 0)
        rect = self.contentsRect()
        self.gutter.setGeometry(QRect(rect.left(), rect.top(), self.gutter_width(), rect.height()))

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._fit_gutter()

    def _scroll_gutter(self, rect: QRect, dy: int) -> None:
        if dy:
            self.gutter.scroll(0, dy)
        else:
            self.gutter.update(0, rect.y(), self.gutter.width(), rect.height())

    def paint_gutter(self, gutter: QWidget, event: QPaintEvent) -> None:
        painter = QPainter(gutter)
        palette = self.palette()
        painter.fillRect(event.rect(), palette.color(QPalette.ColorRole.AlternateBase))
        advance = self.fontMetrics().horizontalAdvance("9")
        width = gutter.width()
        block = self.firstVisibleBlock()
        top = round(self.blockBoundingGeometry(block).translated(self.contentOffset()).top())
        while block.isValid() and top <= event.rect().bottom():
            height = round(self.blockBoundingRect(block).height())
            n = block.blockNumber()
            if n < len(self.labels) and top + height >= event.rect().top():
                number, marker = self.labels[n]
                colour = self.line_colours[n]
                if colour is not None:
                    painter.fillRect(QRect(0, top, width, height), colour)
                painter.setPen(palette.color(QPalette.ColorRole.PlaceholderText))
                painter.drawText(QRect(0, top, width - 3 * advance, height),
                                 Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, number)
                painter.setPen(palette.color(QPalette.ColorRole.Text))
                painter.drawText(QRect(width - 2 * advance, top, advance, height),
                                 Qt.AlignmentFlag.AlignCenter, marker)
            block = block.next()
            top += height
        painter.end()
