"""The customer's Summary tab: a spreadsheet of calls by hour, day, week or month (UTC).

The model holds a column store (services.table.Table), so selection statistics, copies
and exports work on NumPy arrays and never walk QModelIndex objects cell by cell.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path

from PySide6.QtCore import (
    QAbstractTableModel,
    QDate,
    QMimeData,
    QModelIndex,
    QPersistentModelIndex,
    QPointF,
    QRect,
    QSize,
    Qt,
)
from PySide6.QtGui import QAction, QColor, QGuiApplication, QKeySequence, QPainter, QPainterPath, QPen
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDateEdit,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMenu,
    QPushButton,
    QSplitter,
    QStyleOptionHeader,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from cxdesk.errors import UserError
from cxdesk.services import cdr_report, summary
from cxdesk.services import customers as customer_svc
from cxdesk.services.clipboard import SelectionError, copy_text
from cxdesk.services.selection import Stats, selection_stats, whole_rows
from cxdesk.services.table import Table
from cxdesk.ui.kit import audit_comment, dialogs, fmt
from cxdesk.ui.kit.context import AppContext

PERIODS = (("24 hours", "24h"), ("Daily", "daily"), ("Weekly", "weekly"), ("Monthly", "monthly"))
ACTION_HEADER = "Action"
RIGHT = int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
LEFT = int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
UNITS = {"ASR": "%", "Profit %": "%", "ACD": "min", "Duration": "min", "Billed Duration": "min"}


class SummaryModel(QAbstractTableModel):
    """Summary rows as a column store, sorted in NumPy; the last column is the Action checkbox."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.period = "daily"
        self.currency = ""
        self.rows: list[summary.SummaryRow] = []
        self.table: Table = summary.summary_table([])
        self.order: list[int] = []  # view row -> index into self.rows
        self.checked: set[dt.datetime] = set()
        #: (column, descending) once a header was clicked
        self.sort_by: tuple[int, bool] | None = None

    # -- loading and sorting ----------------------------------------------------------
    def set_rows(self, rows: Sequence[summary.SummaryRow], period: str, currency: str) -> None:
        self.beginResetModel()
        self.rows, self.period, self.currency = list(rows), period, currency
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
        if column >= self.table.column_count:
            return
        self.layoutAboutToBeChanged.emit()
        before = self.order
        self.sort_by = (column, order == Qt.SortOrder.DescendingOrder)
        self._apply_sort()
        # selections and the current cell follow their rows, not their row numbers
        where = {row: view for view, row in enumerate(self.order)}
        old = self.persistentIndexList()
        self.changePersistentIndexList(old, [self.index(where[before[i.row()]], i.column()) for i in old])
        self.layoutChanged.emit()

    def summary_row(self, view_row: int) -> summary.SummaryRow:
        return self.rows[self.order[view_row]]

    @property
    def action_column(self) -> int:
        return self.table.column_count

    @property
    def invoiceable(self) -> bool:
        return self.period != "24h"

    def checked_rows(self) -> list[summary.SummaryRow]:
        return [r for r in self.rows if r.period_start in self.checked]

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
            header = self.table.columns[section].header
            unit = UNITS.get(header) or (self.currency if self.table.columns[section].kind == "money" else "")
            return f"{header} ({unit})" if unit else header
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


class GroupHeaderView(QHeaderView):
    """A two-line header: the group (Period, Traffic, Duration, Money) above the columns."""

    def __init__(self, parent=None) -> None:
        super().__init__(Qt.Orientation.Horizontal, parent)
        self.setDefaultAlignment(Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignBottom)
        self.setSectionsClickable(True)
        self.setSortIndicatorShown(True)
        self.setHighlightSections(True)

    def sizeHint(self) -> QSize:
        size = super().sizeHint()
        return QSize(size.width(), size.height() * 2)

    def paintEvent(self, event) -> None:
        super().paintEvent(event)
        model = self.model()
        if model is None or not hasattr(model, "group_of"):
            return
        painter = QPainter(self.viewport())
        half = self.height() // 2
        section = 0
        count = self.count()
        while section < count:
            group = model.group_of(self.logicalIndex(section))
            last = section
            while last + 1 < count and model.group_of(self.logicalIndex(last + 1)) == group:
                last += 1
            if group:
                left = self.sectionViewportPosition(self.logicalIndex(section))
                right = self.sectionViewportPosition(self.logicalIndex(last)) + self.sectionSize(self.logicalIndex(last))
                rect = QRect(left, 0, right - left, half)
                opt = QStyleOptionHeader()
                self.initStyleOption(opt)
                opt.rect = rect
                opt.text = group
                opt.textAlignment = Qt.AlignmentFlag.AlignCenter
                opt.section = 0
                self.style().drawControl(self.style().ControlElement.CE_Header, opt, painter, self)
            section = last + 1
        painter.end()


class SummaryChart(QWidget):
    """Calls (attempts and connected, bars) and charge (line) over the shown periods."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.rows: list[summary.SummaryRow] = []
        self.setMinimumHeight(120)
        self.setAccessibleName("Calls and charge chart")

    def set_rows(self, rows: Sequence[summary.SummaryRow]) -> None:
        self.rows = sorted(rows, key=lambda r: r.period_start)
        self.setToolTip(f"{len(self.rows)} periods: grey bars attempts, blue bars connected calls, "
                        "orange line customer charge")
        self.update()

    def paintEvent(self, event) -> None:
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        area = self.rect().adjusted(40, 8, -40, -18)
        p.fillRect(self.rect(), self.palette().base())
        if not self.rows or area.width() <= 0:
            p.setPen(self.palette().text().color())
            p.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, "No calls in this range")
            return
        n = len(self.rows)
        step = area.width() / n
        top_calls = max(r.attempts for r in self.rows) or 1
        top_charge = max((r.customer_charge for r in self.rows), default=Decimal(0)) or Decimal(1)
        bar = max(1.0, step * 0.8)
        for i, r in enumerate(self.rows):
            x = area.left() + i * step + (step - bar) / 2
            for value, colour in ((r.attempts, QColor("#c9d3de")), (r.connected, QColor("#2f6fb2"))):
                h = area.height() * value / top_calls
                p.fillRect(int(x), int(area.bottom() - h), max(1, int(bar)), int(h), colour)
        path = QPainterPath()
        for i, r in enumerate(self.rows):
            x = area.left() + (i + 0.5) * step
            y = area.bottom() - float(r.customer_charge / top_charge) * area.height()
            (path.moveTo if i == 0 else path.lineTo)(QPointF(x, y))
        p.setPen(QPen(QColor("#e08a00"), 2))
        p.drawPath(path)
        p.setPen(self.palette().text().color())
        p.drawText(4, area.top() + 10, f"{top_calls:,}")
        p.drawText(area.right() + 4, area.top() + 10, fmt.money(top_charge, "", 0))
        p.drawText(area.left(), self.height() - 4, self.rows[0].label)
        last = self.rows[-1].label
        p.drawText(area.right() - p.fontMetrics().horizontalAdvance(last), self.height() - 4, last)


class SummaryView(QTableView):
    """Range selection (mouse, Shift+arrows, Ctrl for several ranges) and the copies."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setHorizontalHeader(GroupHeaderView(self))
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectItems)
        self.setSortingEnabled(True)
        self.setAlternatingRowColors(True)
        self.setWordWrap(False)
        self.verticalHeader().setDefaultSectionSize(22)
        self.setAccessibleName("Summary")

    def ranges(self) -> list[tuple[int, int, int, int]]:
        """The selected rectangles (top, left, bottom, right) in table columns (Action excluded)."""
        model = self.model()
        last = model.action_column - 1
        out = []
        for r in self.selectionModel().selection():
            left, right = r.left(), min(r.right(), last)
            if left <= right:
                out.append((r.top(), left, r.bottom(), right))
        return out


class SummaryTab(QWidget):
    def __init__(self, ctx: AppContext, parent=None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.customer_id: int | None = None
        self.customer_name = ""
        self.period = QComboBox()
        for label, key in PERIODS:
            self.period.addItem(label, key)
        self.period.setCurrentIndex(1)
        self.period.setAccessibleName("Period")
        self.limit = QCheckBox("From")
        self.limit.setAccessibleName("Limit to dates")
        today = QDate.currentDate()
        self.date_from = QDateEdit(today.addDays(-30))
        self.date_to = QDateEdit(today)
        for w, name in ((self.date_from, "From date"), (self.date_to, "To date")):
            w.setCalendarPopup(True)
            w.setDisplayFormat("yyyy-MM-dd")
            w.setAccessibleName(name)
            w.setEnabled(False)
        self.refresh_button = QPushButton("Refresh")
        self.refresh_button.setAccessibleName("Refresh summary")
        self.export_button = QPushButton("Export...")
        self.export_button.setAccessibleName("Export all")
        self.invoice_button = QPushButton("Generate Invoice")
        self.invoice_button.setAccessibleName("Generate Invoice")
        self.auto_invoice_button = QPushButton("Auto Generate Invoice")
        self.auto_invoice_button.setAccessibleName("Auto Generate Invoice")
        self.cdr_button = QPushButton("Download CDR Report")
        self.cdr_button.setAccessibleName("Download CDR Report")
        can = ctx.actor.can
        self.export_button.setEnabled(can("export"))
        self.cdr_button.setEnabled(can("export"))
        self.invoice_button.setEnabled(can("generate_invoices"))
        self.auto_invoice_button.setEnabled(can("generate_invoices"))
        bar = QHBoxLayout()
        bar.addWidget(QLabel("View:"))
        bar.addWidget(self.period)
        bar.addWidget(self.limit)
        bar.addWidget(self.date_from)
        bar.addWidget(QLabel("to"))
        bar.addWidget(self.date_to)
        bar.addWidget(self.refresh_button)
        bar.addStretch(1)
        bar.addWidget(self.cdr_button)
        bar.addWidget(self.export_button)
        bar.addWidget(self.auto_invoice_button)
        bar.addWidget(self.invoice_button)
        self.model = SummaryModel(self)
        self.view = SummaryView(self)
        self.view.setModel(self.model)
        self.chart = SummaryChart(self)
        self.stats = QLabel()
        self.stats.setAccessibleName("Selection statistics")
        self.stats.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.ratios = QLabel()
        self.ratios.setAccessibleName("True ratios of the selected rows")
        note = QLabel("All times UTC. Data is rolled up hourly; F5 rolls up the newest calls.")
        note.setStyleSheet("color: #666")
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(self.chart)
        splitter.addWidget(self.view)
        splitter.setStretchFactor(1, 4)
        status = QHBoxLayout()
        status.addWidget(self.stats, 1)
        status.addWidget(self.ratios)
        layout = QVBoxLayout(self)
        layout.addLayout(bar)
        layout.addWidget(splitter, 1)
        layout.addLayout(status)
        layout.addWidget(note)
        self._build_actions()
        self.period.currentIndexChanged.connect(lambda _i: self.reload())
        self.limit.toggled.connect(self._limit_toggled)
        self.date_from.dateChanged.connect(lambda _d: self.limit.isChecked() and self.reload())
        self.date_to.dateChanged.connect(lambda _d: self.limit.isChecked() and self.reload())
        self.refresh_button.clicked.connect(self.reload)
        self.export_button.clicked.connect(lambda: self.export(selection_only=False))
        self.invoice_button.clicked.connect(self.generate_invoice)
        self.auto_invoice_button.clicked.connect(self.auto_generate_invoice)
        self.cdr_button.clicked.connect(self.download_cdr_report)
        self.view.selectionModel().selectionChanged.connect(lambda *_: self.update_stats())
        ctx.bus.data_changed.connect(lambda t: t in ("hourly_summaries", "cdrs") and self.reload())

    def _build_actions(self) -> None:
        def act(text, slot, shortcut=None):
            a = QAction(text, self)
            if shortcut:
                a.setShortcut(QKeySequence(shortcut))
                a.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            a.triggered.connect(slot)
            self.view.addAction(a)
            return a

        self.copy_action = act("Copy", lambda: self.copy("none"), QKeySequence.StandardKey.Copy)
        self.copy_headers_action = act("Copy with Headers", lambda: self.copy("headers"), "Ctrl+Shift+C")
        self.copy_groups_action = act("Copy with Group Headers", lambda: self.copy("group"), "Ctrl+Alt+C")
        self.export_selection_action = act("Export selection...", lambda: self.export(selection_only=True))
        self.export_all_action = act("Export all...", lambda: self.export(selection_only=False))
        self.invoice_action = act("Generate Invoice", self.generate_invoice)
        self.cdr_action = act("Download CDR Report...", self.download_cdr_report)
        for a in (self.export_selection_action, self.export_all_action, self.cdr_action):
            a.setEnabled(self.ctx.actor.can("export"))
        self.invoice_action.setEnabled(self.ctx.actor.can("generate_invoices"))
        self.view.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.view.customContextMenuRequested.connect(self._context_menu)

    def _context_menu(self, pos) -> None:
        menu = QMenu(self)
        menu.addActions([self.copy_action, self.copy_headers_action, self.copy_groups_action])
        menu.addSeparator()
        menu.addActions([self.export_selection_action, self.export_all_action])
        menu.addSeparator()
        menu.addActions([self.invoice_action, self.cdr_action])
        menu.popup(self.view.viewport().mapToGlobal(pos))

    # -- data -------------------------------------------------------------------------------
    def set_customer(self, customer_id: int | None) -> None:
        self.customer_id = customer_id
        self.model.checked.clear()
        self.reload()

    def period_key(self) -> str:
        return self.period.currentData()

    def _limit_toggled(self, on: bool) -> None:
        self.date_from.setEnabled(on)
        self.date_to.setEnabled(on)
        self.reload()

    def date_range(self) -> tuple[dt.date | None, dt.date | None]:
        if not self.limit.isChecked():
            return None, None
        return self.date_from.date().toPython(), self.date_to.date().toPython()

    def reload(self) -> None:
        if self.customer_id is None:
            self.model.set_rows([], self.period_key(), "")
            self.chart.set_rows([])
            self.update_stats()
            return
        date_from, date_to = self.date_range()
        try:
            with self.ctx.db.read_session() as s:
                customer = customer_svc.get_customer(s, self.customer_id)
                rows = summary.summary_rows(s, self.customer_id, self.period_key(), date_from, date_to)
        except UserError as exc:
            dialogs.show_error(self, exc)
            return
        self.customer_name = customer.name
        self.model.set_rows(rows, self.period_key(), customer.currency)
        self.chart.set_rows(rows)
        self.view.resizeColumnsToContents()
        self.update_stats()

    # -- selection statistics -----------------------------------------------------------------
    def update_stats(self) -> Stats:
        ranges = self.view.ranges()
        stats = selection_stats(self.model.table, ranges) if ranges else Stats()
        if stats.count == 0:
            self.stats.setText("Select cells to see their sum and average.")
        else:
            def num(v):
                return "" if v is None else f"{v.quantize(Decimal('0.0001')).normalize():,f}"
            self.stats.setText(
                f"Sum: {num(stats.sum)}   Average: {num(stats.average)}   Count: {stats.count}   "
                f"Numerical Count: {stats.numerical_count}   Min: {num(stats.min)}   Max: {num(stats.max)}"
            )
        self._update_ratios(ranges)
        return stats

    def _update_ratios(self, ranges) -> None:
        rows = whole_rows(ranges, self.model.table.column_count) if ranges else None
        if rows is None or len(rows) == 0:
            self.ratios.clear()
            self.ratios.setToolTip("")
            return
        chosen = [self.model.summary_row(int(r)) for r in rows]
        true = summary.true_ratios(chosen)

        def pct(v):
            return "—" if v is None else f"{v:.2f}"
        self.ratios.setText(f"True ASR {pct(true.asr)} %   ACD {pct(true.acd_minutes)} min   "
                            f"Profit {pct(true.profit_percent)} %")
        self.ratios.setToolTip(
            "Weighted over the selected rows: ASR = all connected / all attempts; ACD = all duration / all "
            "connected; Profit % = all profit / all charge. The Average on the left is the plain mean of the "
            "selected cells (an average of averages, as the platform shows it), which differs when the rows "
            "have different traffic."
        )

    # -- copy and export ------------------------------------------------------------------------
    def copy(self, headers: str) -> str | None:
        ranges = self.view.ranges()
        if not ranges:
            return None
        try:
            tsv, html = copy_text(self.model.table, ranges, headers)  # type: ignore[arg-type]
        except SelectionError as exc:
            dialogs.show_error(self, str(exc))
            return None
        data = QMimeData()
        data.setText(tsv)
        data.setHtml(html)
        QGuiApplication.clipboard().setMimeData(data)
        return tsv

    def _selected_rows(self) -> list[summary.SummaryRow]:
        picked = sorted({r for top, _l, bottom, _r in self.view.ranges() for r in range(top, bottom + 1)})
        return [self.model.summary_row(r) for r in picked]

    def export(self, selection_only: bool) -> None:
        rows = self._selected_rows() if selection_only else [self.model.summary_row(r) for r in range(self.model.rowCount())]
        if not rows:
            dialogs.show_error(self, "There are no rows to export; select rows or choose another period.")
            return
        default = f"summary-{self.customer_name}-{self.period_key()}.xlsx".replace(" ", "_").replace("/", "-")
        path = dialogs.save_file(self, "Export summary", default, "Excel workbook (*.xlsx);;CSV (*.csv)")
        if not path:
            return
        actor, currency = self.ctx.actor, self.model.currency
        title = f"{self.customer_name} {self.period.currentText()}"

        def work(handle):
            summary.export_summary(actor, rows, path, currency=currency, title=title,
                                   progress=handle.progress, cancel=handle.cancelled)
            return path

        self.ctx.tasks.run(work, title="Exporting the summary", cancellable=True, parent=self,
                           on_done=lambda p: self.window().statusBar().showMessage(f"Exported to {p}", 10_000)
                           if hasattr(self.window(), "statusBar") else None)

    def download_cdr_report(self) -> None:
        index = self.view.currentIndex()
        if self.customer_id is None or not index.isValid():
            dialogs.show_error(self, "Select a row of the summary first: its period's CDRs are downloaded.")
            return
        row = self.model.summary_row(index.row())
        default = f"cdr-{self.customer_name}-{row.label}.csv".replace(" ", "_").replace("/", "-")
        path = dialogs.save_file(self, "Download CDR report", default, "CSV (*.csv)")
        if not path:
            return
        db, actor, cid = self.ctx.db, self.ctx.actor, self.customer_id

        def work(handle):
            return cdr_report.write_cdr_report(db, actor, cid, row.period_start, row.period_end, Path(path),
                                               progress=handle.progress, cancel=handle.cancelled)

        self.ctx.tasks.run(work, title=f"Writing the CDRs of {row.label}", cancellable=True, parent=self,
                           on_done=lambda n: dialogs.info(self, "CDR report", f"{n:,} CDRs written to {path} (UTC)."))

    # -- invoices ------------------------------------------------------------------------------------
    def generate_invoice(self) -> None:
        if not self.model.invoiceable:
            dialogs.show_error(self, "Hours of the 24-hour view cannot be invoiced; switch to Daily, Weekly or "
                                     "Monthly and tick the periods in the Action column.")
            return
        rows = self.model.checked_rows()
        if not rows:
            dialogs.show_error(self, "Tick one or more periods in the Action column first.")
            return
        from cxdesk.services import invoices

        comment = audit_comment.ask(self.ctx, self, "generating the invoices")
        if comment is None:
            return
        db, actor, cid, period = self.ctx.db, self.ctx.actor, self.customer_id, self.period_key()
        starts = [r.period_start for r in rows]

        def done(created) -> None:
            self.model.checked.clear()
            self.model.dataChanged.emit(self.model.index(0, self.model.action_column),
                                        self.model.index(max(0, self.model.rowCount() - 1), self.model.action_column))
            self.ctx.bus.data_changed.emit("invoices")
            dialogs.info(self, "Generate Invoice", f"Created {len(created)} invoice(s): "
                         + ", ".join(str(i.number) for i in created))

        self.ctx.tasks.run(lambda _h: invoices.generate_for_periods(db, actor, cid, period, starts, comment=comment),
                           write=True, title="Generating invoices", parent=self, on_done=done)

    def auto_generate_invoice(self) -> None:
        if self.customer_id is None:
            return
        from cxdesk.services import invoices

        comment = audit_comment.ask(self.ctx, self, "generating the missing invoices")
        if comment is None:
            return
        db, actor, cid = self.ctx.db, self.ctx.actor, self.customer_id

        def done(result) -> None:
            self.ctx.bus.data_changed.emit("invoices")
            text = result.sentence()
            details = "\n".join(result.skipped)
            dialogs.info(self, "Auto Generate Invoice", text[0].upper() + text[1:] + "." + (f"\n{details}" if details else ""))

        self.ctx.tasks.run(lambda _h: invoices.auto_generate(db, actor, cid, comment=comment), write=True,
                           title="Generating missing invoices", parent=self, on_done=done)
