"""The Summary chart: calls (attempts and connected, bars, left axis) and the customer's
charge (line, right axis) over the shown periods, with a legend and labelled axes."""
from __future__ import annotations

import math
from collections.abc import Sequence
from decimal import Decimal

from PySide6.QtCore import QPointF, QRect, Qt
from PySide6.QtGui import QColor, QFontMetrics, QPainter, QPainterPath, QPen
from PySide6.QtWidgets import QWidget

from cxdesk.services import summary
from cxdesk.ui.kit import fmt

ATTEMPTS = QColor("#c9d3de")
CONNECTED = QColor("#2f6fb2")
CHARGE = QColor("#e08a00")
#: (text, colour, drawn as) of each series, in the legend's order
LEGEND = (("Attempts", ATTEMPTS, "bar"), ("Connected", CONNECTED, "bar"), ("Charge", CHARGE, "line"))
CALLS_TITLE = "Calls"
GAP = 4


class SummaryChart(QWidget):
    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.rows: list[summary.SummaryRow] = []
        self.currency = ""
        self.setMinimumHeight(140)
        self.setAccessibleName("Calls and charge chart")

    def set_rows(self, rows: Sequence[summary.SummaryRow], currency: str = "") -> None:
        ordered = sorted(rows, key=lambda r: r.period_start)
        if ordered == self.rows and currency == self.currency:
            return  # a reload that found what is drawn: nothing to repaint
        self.rows = ordered
        self.currency = currency
        self.setToolTip(f"{len(self.rows)} periods: grey bars attempts and blue bars connected calls "
                        f"(left axis), orange line the customer's charge (right axis)")
        self.setAccessibleDescription(self.toolTip())
        self.update()

    # -- what the chart says, also for tests -----------------------------------------------
    def charge_title(self) -> str:
        return f"Charge ({self.currency})" if self.currency else "Charge"

    def top_calls(self) -> int:
        return max((r.attempts for r in self.rows), default=0) or 1

    def top_charge(self) -> Decimal:
        return max((r.customer_charge for r in self.rows), default=Decimal(0)) or Decimal(1)

    def charge_scale(self) -> str:
        """The top of the charge axis, with the decimals small amounts need (0.1235, 12.35, 1,235)."""
        top = self.top_charge()
        return fmt.money(top, "", 0 if top >= 100 else 2 if top >= 1 else 4)

    def plot_area(self) -> QRect:
        """Where the bars go: room above for the legend, at the sides for the axes, below
        for the period labels."""
        fm = self.fontMetrics()
        line = fm.height()
        left = line + GAP + max(fm.horizontalAdvance(f"{self.top_calls():,}"), fm.horizontalAdvance("0")) + GAP
        right = line + GAP + fm.horizontalAdvance(self.charge_scale()) + GAP
        return self.rect().adjusted(left, line + 2 * GAP, -right, -(line + GAP))

    def x_labels(self) -> list[tuple[int, str]]:
        """(row, label) of the periods labelled under the bars: as many as fit side by side."""
        if not self.rows:
            return []
        fm = self.fontMetrics()
        step = self.plot_area().width() / len(self.rows)
        widest = max(fm.horizontalAdvance(r.label) for r in self.rows) + 3 * GAP
        every = max(1, math.ceil(widest / step)) if step > 0 else len(self.rows)
        return [(i, self.rows[i].label) for i in range(0, len(self.rows), every)]

    # -- painting ----------------------------------------------------------------------------
    def paintEvent(self, event) -> None:
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        p.fillRect(self.rect(), self.palette().base())
        text = self.palette().text().color()
        area = self.plot_area()
        if not self.rows or area.width() <= 0 or area.height() <= 0:
            p.setPen(text)
            p.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, "No calls in this range")
            p.end()
            return
        self._paint_series(p, area)
        p.setPen(text)
        self._paint_axes(p, area)
        self._paint_legend(p)
        p.end()

    def _paint_series(self, p: QPainter, area: QRect) -> None:
        step = area.width() / len(self.rows)
        top_calls, top_charge = self.top_calls(), self.top_charge()
        bar = max(1.0, step * 0.8)
        for i, r in enumerate(self.rows):
            x = area.left() + i * step + (step - bar) / 2
            for value, colour in ((r.attempts, ATTEMPTS), (r.connected, CONNECTED)):
                h = area.height() * value / top_calls
                p.fillRect(int(x), int(area.bottom() - h), max(1, int(bar)), int(h), colour)
        path = QPainterPath()
        for i, r in enumerate(self.rows):
            point = QPointF(area.left() + (i + 0.5) * step,
                            area.bottom() - float(r.customer_charge / top_charge) * area.height())
            (path.moveTo if i == 0 else path.lineTo)(point)
        p.setPen(QPen(CHARGE, 2))
        p.drawPath(path)

    def _paint_axes(self, p: QPainter, area: QRect) -> None:
        fm = p.fontMetrics()
        p.drawLine(area.bottomLeft(), area.bottomRight())
        p.drawLine(area.bottomLeft(), area.topLeft())
        p.drawLine(area.bottomRight(), area.topRight())
        # the scale at the top and bottom of each axis
        top_calls = f"{self.top_calls():,}"
        top_charge = self.charge_scale()
        p.drawText(area.left() - GAP - fm.horizontalAdvance(top_calls), area.top() + fm.ascent(), top_calls)
        p.drawText(area.left() - GAP - fm.horizontalAdvance("0"), area.bottom(), "0")
        p.drawText(area.right() + GAP, area.top() + fm.ascent(), top_charge)
        p.drawText(area.right() + GAP, area.bottom(), "0")
        # axis titles, turned to run along their axes
        for title, x, angle in ((CALLS_TITLE, fm.ascent(), -90), (self.charge_title(), self.width() - fm.ascent(), 90)):
            title = fm.elidedText(title, Qt.TextElideMode.ElideRight, area.height())  # a short chart
            _vertical_text(p, title, x, area.center().y(), angle)
        # the periods under the bars
        step = area.width() / len(self.rows)
        baseline = area.bottom() + GAP + fm.ascent()
        drawn_to = -1.0
        for i, label in self.x_labels():
            width = fm.horizontalAdvance(label)
            x = area.left() + (i + 0.5) * step - width / 2
            x = min(max(x, area.left()), area.right() - width)  # the first and last stay inside
            if x < drawn_to + 2 * GAP:
                continue  # pushed onto its neighbour by staying inside: leave it out
            p.drawText(int(x), baseline, label)
            drawn_to = x + width

    def _paint_legend(self, p: QPainter) -> None:
        fm = QFontMetrics(p.font())
        swatch = fm.ascent()
        x = self.plot_area().left()
        y = GAP
        for label, colour, kind in LEGEND:
            if kind == "bar":
                p.fillRect(x, y + 1, swatch, swatch - 2, colour)
            else:
                p.save()
                p.setPen(QPen(colour, 2))
                p.drawLine(x, y + swatch // 2, x + swatch, y + swatch // 2)
                p.restore()
            x += swatch + GAP
            p.drawText(x, y + fm.ascent(), label)
            x += fm.horizontalAdvance(label) + 3 * GAP


def _vertical_text(p: QPainter, text: str, x: float, centre_y: float, angle: int) -> None:
    """``text`` centred on (x, centre_y), turned by ``angle`` degrees."""
    p.save()
    p.translate(x, centre_y)
    p.rotate(angle)
    width = p.fontMetrics().horizontalAdvance(text)
    p.drawText(int(-width / 2), 0, text)
    p.restore()
