"""The customer's Summary tab: a spreadsheet of calls by hour, day, week or month (UTC),
its chart, selection statistics, copies, exports, the CDR report and Generate Invoice.

The customer's name and currency and the rows of the chosen period and range are read in
one function on a worker (``load_summary``); copies and statistics work on the rows in
memory; exports and the CDR report are cancellable tasks; invoices are written through
the operations layer, whose commit tells every view what changed.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QByteArray, QDate, QMimeData, Qt
from PySide6.QtGui import QAction, QGuiApplication, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDateEdit,
    QHBoxLayout,
    QLabel,
    QMenu,
    QPushButton,
    QSplitter,
    QVBoxLayout,
)

from cxdesk.services import cdr_report, invoices, summary
from cxdesk.services import customers as customer_svc
from cxdesk.services.clipboard import SelectionError, copy_text
from cxdesk.services.selection import Stats, footer_parts, selection_stats, whole_rows
from cxdesk.ui.invoices.invoices_tab import auto_result_text, show_status
from cxdesk.ui.kit import dialogs, fmt
from cxdesk.ui.kit.context import AppContext
from cxdesk.ui.kit.ops import Job
from cxdesk.ui.kit.panel import Panel
from cxdesk.ui.kit.column_fit import column_size_hint
from cxdesk.ui.kit.tables import fit_columns
from cxdesk.ui.summary.chart import SummaryChart
from cxdesk.ui.summary.frozen import FrozenColumns, FrozenTableView
from cxdesk.ui.summary.header import GroupHeaderView
from cxdesk.ui.summary.model import SummaryModel

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

PERIODS = (("24 hours", "24h"), ("Daily", "daily"), ("Weekly", "weekly"), ("Monthly", "monthly"))
SETTINGS_KEY = "summary"


@dataclass(frozen=True)
class SummaryData:
    """What one load brings: the customer's name and currency with the rows."""

    customer_id: int
    name: str
    currency: str
    period: str
    rows: list[summary.SummaryRow]


def load_summary(session: Session, customer_id: int, period: str, date_from: dt.date | None,
                 date_to: dt.date | None) -> SummaryData:
    """The worker's half of a load: the customer and the rows (with their partial and
    invoiced marks) in one read session."""
    customer = customer_svc.get_customer(session, customer_id)
    rows = summary.summary_view(session, customer_id, period, date_from, date_to)
    return SummaryData(customer_id, customer.name, customer.currency, period, rows)


def file_name(*parts: str) -> str:
    return "-".join(parts).replace(" ", "_").replace("/", "-")


class SummaryView(FrozenTableView):
    """Range selection (mouse, Shift+arrows, Ctrl for several ranges) and the copies;
    Date and Action stay in view while the figures scroll sideways (``freeze``)."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        header = GroupHeaderView(self)
        self.setHorizontalHeader(header)
        header.setSortIndicator(-1, Qt.SortOrder.AscendingOrder)  # time order until a header is clicked
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectItems)
        self.setSortingEnabled(True)
        self.setAlternatingRowColors(True)
        self.setWordWrap(False)
        self.verticalHeader().setDefaultSectionSize(22)
        self.setAccessibleName("Summary")
        self.setHorizontalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        #: True once the user resized a column (or a saved layout was restored): fit no more
        self.user_layout = False
        header.sectionResized.connect(self._resized)

    def _resized(self, *_args) -> None:
        if self.horizontalHeader().underMouse():  # dragged by the user, not by fit_columns
            self.user_layout = True

    def sizeHintForColumn(self, column: int) -> int:  # noqa: N802 - Qt's name
        """Fitting a column measures its texts (kit.column_fit), not every cell's delegate."""
        hint = column_size_hint(self, column)
        return super().sizeHintForColumn(column) if hint is None else hint

    def freeze(self) -> None:
        """Date and Action (moved beside it) stay at the left edge; call after a reset."""
        model = self.model()
        if self.frozen_view is None:
            frozen_header = GroupHeaderView()
            frozen_header.setSortIndicatorShown(False)
            self.frozen_view = FrozenColumns(self, frozen_header)
        self.frozen_view.freeze([0, model.action_column])
        self.frozen_view.show()

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


class SummaryTab(Panel):
    TABLES = ("hourly_summaries", "cdrs", "invoices", "customers")

    def __init__(self, ctx: AppContext, parent=None) -> None:
        super().__init__(ctx, parent)
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
        self.refresh_button = self._button("Refresh", "Refresh summary")
        self.export_button = self._button("Export...", "Export all")
        self.invoice_button = self._button("Generate Invoice")
        self.auto_invoice_button = self._button("Auto Generate Invoice")
        self.cdr_button = self._button("Download CDR Report")
        can = ctx.actor.can
        self.export_button.setEnabled(can("export"))
        self.cdr_button.setEnabled(can("export"))
        self.invoice_button.setEnabled(can("generate_invoices"))
        self.auto_invoice_button.setEnabled(can("generate_invoices"))
        # two rows, so the tab fits beside the customer list at 1280 px
        bar = QHBoxLayout()
        bar.addWidget(QLabel("View:"))
        for w in (self.period, self.limit, self.date_from, QLabel("to"), self.date_to, self.refresh_button):
            bar.addWidget(w)
        bar.addStretch(1)
        actions = QHBoxLayout()
        for w in (self.invoice_button, self.auto_invoice_button, self.export_button, self.cdr_button):
            actions.addWidget(w)
        actions.addStretch(1)
        self.model = SummaryModel(self)
        self.view = SummaryView(self)
        self.view.setModel(self.model)
        self.view.freeze()
        self.chart = SummaryChart(self)
        self.stats = QLabel()
        self.stats.setAccessibleName("Selection statistics")
        self.stats.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.ratios = QLabel()
        self.ratios.setAccessibleName("True ratios of the selected rows")
        note = QLabel("All times UTC. Data is rolled up hourly; F5 rolls up the newest calls.")
        note.setStyleSheet("color: #666")
        self.splitter = QSplitter(Qt.Orientation.Vertical)
        self.splitter.setObjectName("summary_splitter")
        self.splitter.addWidget(self.chart)
        self.splitter.addWidget(self.view)
        self.splitter.setStretchFactor(1, 4)
        status = QHBoxLayout()
        status.addWidget(self.stats, 1)
        status.addWidget(self.ratios)
        layout = QVBoxLayout(self)
        layout.addLayout(bar)
        layout.addLayout(actions)
        layout.addWidget(self.splitter, 1)
        layout.addLayout(status)
        layout.addWidget(note)
        self._build_actions()
        self._restore_state()
        self.period.currentIndexChanged.connect(lambda _i: self.invalidate())
        self.limit.toggled.connect(self._limit_toggled)
        self.date_from.dateChanged.connect(self._range_changed)
        self.date_to.dateChanged.connect(self._range_changed)
        self.refresh_button.clicked.connect(self.reload)
        self.export_button.clicked.connect(lambda: self.export(selection_only=False))
        self.invoice_button.clicked.connect(self.generate_invoice)
        self.auto_invoice_button.clicked.connect(self.auto_generate_invoice)
        self.cdr_button.clicked.connect(self.download_cdr_report)
        self.view.selectionModel().selectionChanged.connect(lambda *_: self.update_stats())
        self.update_stats()

    def _button(self, text: str, name: str | None = None) -> QPushButton:
        button = QPushButton(text)
        button.setAccessibleName(name or text)
        return button

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
        menu.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        menu.addActions([self.copy_action, self.copy_headers_action, self.copy_groups_action])
        menu.addSeparator()
        menu.addActions([self.export_selection_action, self.export_all_action])
        menu.addSeparator()
        menu.addActions([self.invoice_action, self.cdr_action])
        menu.popup(self.view.viewport().mapToGlobal(pos))

    # -- layout kept between sessions ---------------------------------------------------------
    def _restore_state(self) -> None:
        settings = self.ctx.settings
        splitter = settings.value(f"{SETTINGS_KEY}/splitter")
        if isinstance(splitter, QByteArray) and not splitter.isEmpty():
            self.splitter.restoreState(splitter)
        header = self.view.horizontalHeader()
        state = settings.value(f"{SETTINGS_KEY}/header")
        if isinstance(state, QByteArray) and not state.isEmpty() and header.restoreState(state):
            self.view.user_layout = True
            self.model.sort(header.sortIndicatorSection(), header.sortIndicatorOrder())

    def save_state(self) -> None:
        self.ctx.settings.setValue(f"{SETTINGS_KEY}/splitter", self.splitter.saveState())
        self.ctx.settings.setValue(f"{SETTINGS_KEY}/header", self.view.horizontalHeader().saveState())

    # -- data -------------------------------------------------------------------------------
    def period_key(self) -> str:
        return self.period.currentData()

    def _limit_toggled(self, on: bool) -> None:
        self.date_from.setEnabled(on)
        self.date_to.setEnabled(on)
        self.invalidate()

    def _range_changed(self, _date: QDate) -> None:
        if self.limit.isChecked():
            self.invalidate()

    def date_range(self) -> tuple[dt.date | None, dt.date | None]:
        if not self.limit.isChecked():
            return None, None
        return self.date_from.date().toPython(), self.date_to.date().toPython()

    def loader(self):
        cid = self.customer_id
        if cid is None:
            return None
        period = self.period_key()
        date_from, date_to = self.date_range()
        return lambda s: load_summary(s, cid, period, date_from, date_to)

    def show_data(self, data: SummaryData | None) -> None:
        if data is None:
            self.customer_name = ""
            self.model.set_rows([], self.period_key(), "")
            self.chart.set_rows([])
        else:
            self.customer_name = data.name
            self.model.set_rows(data.rows, data.period, data.currency, data.customer_id)
            self.chart.set_rows(data.rows, data.currency)
            fit_columns(self.view)
        self.view.freeze()
        self.update_stats()

    # -- selection statistics -----------------------------------------------------------------
    def update_stats(self) -> Stats:
        ranges = self.view.ranges()
        stats = selection_stats(self.model.table, ranges) if ranges else Stats()
        if stats.count == 0:
            self.stats.setText("Select cells to see their sum and average.")
        else:
            parts = footer_parts(self.model.table, ranges, stats)
            self.stats.setText("   ".join(f"{label}: {text}" for label, text in parts))
        self._update_ratios(ranges)
        return stats

    def _update_ratios(self, ranges) -> None:
        rows = whole_rows(ranges, self.model.table.column_count) if ranges else None
        if rows is None or len(rows) == 0:
            self.ratios.clear()
            self.ratios.setToolTip("")
            return
        true = summary.true_ratios([self.model.summary_row(int(r)) for r in rows])

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

    def export(self, selection_only: bool) -> Job | None:
        """Export the shown (or selected) rows to .xlsx or .csv; the Job of the export, or
        None when there was nothing to do."""
        rows = self._selected_rows() if selection_only else self.model.shown_rows()
        if not rows:
            dialogs.show_error(self, "There are no rows to export; select rows or choose another period.")
            return None
        default = file_name("summary", self.customer_name, self.period_key()) + ".xlsx"
        path = dialogs.save_file(self, "Export summary", default, "Excel workbook (*.xlsx);;CSV (*.csv)")
        if not path:
            return None
        currency, period = self.model.currency, self.model.period
        title = f"{self.customer_name} {self.period.currentText()}"

        def work(job: Job) -> str:
            summary.export_summary(job.actor, rows, path, currency=currency, title=title, period=period,
                                   progress=job.progress, cancel=job.cancelled)
            return path

        return self.ctx.ops.task(self, work, success=self.exported, title="Exporting the summary",
                                 cancellable=True)

    def exported(self, path: str) -> None:
        show_status(self, f"Exported to {path}")

    def download_cdr_report(self) -> Job | None:
        index = self.view.currentIndex()
        if self.customer_id is None or not index.isValid():
            dialogs.show_error(self, "Select a row of the summary first: its period's CDRs are downloaded.")
            return None
        row = self.model.summary_row(index.row())
        default = file_name("cdr", self.customer_name, row.label) + ".csv"
        path = dialogs.save_file(self, "Download CDR report", default, "CSV (*.csv)")
        if not path:
            return None
        cid = self.customer_id

        def work(job: Job) -> int:
            return cdr_report.write_cdr_report(job.db, job.actor, cid, row.period_start, row.period_end, Path(path),
                                               progress=job.progress, cancel=job.cancelled)

        def done(count: int) -> None:
            dialogs.info(self, "CDR report", f"{fmt.counted(count, 'CDR')} written to {path} (UTC).")

        return self.ctx.ops.task(self, work, success=done, title=f"Writing the CDRs of {row.label}",
                                 cancellable=True)

    # -- invoices ------------------------------------------------------------------------------------
    def generate_invoice(self) -> None:
        if not self.model.invoiceable:
            dialogs.show_error(self, "Hours of the 24-hour view cannot be invoiced; switch to Daily, Weekly or "
                                     "Monthly and tick the periods in the Action column.")
            return
        rows = self.model.checked_rows()
        if not rows or self.customer_id is None:
            dialogs.show_error(self, "Tick one or more periods in the Action column first.")
            return
        cid, period = self.customer_id, self.model.period
        starts = [r.period_start for r in rows]

        def done(created: list[invoices.InvoiceRecord]) -> None:
            self.model.clear_checked()
            dialogs.info(self, "Generate Invoice", f"Created {fmt.counted(len(created), 'invoice')}: "
                         + ", ".join(str(i.number) for i in created))

        self.ctx.ops.write(
            self, lambda job, comment: invoices.generate_for_periods(job.db, job.actor, cid, period, starts,
                                                                     comment=comment),
            success=done, what="generating the invoices", title="Generating invoices",
            disable=(self.invoice_button, self.auto_invoice_button))

    def auto_generate_invoice(self) -> None:
        if self.customer_id is None:
            return
        cid = self.customer_id
        self.ctx.ops.write(
            self, lambda job, comment: invoices.auto_generate(job.db, job.actor, cid, comment=comment),
            success=lambda result: dialogs.info(self, "Auto Generate Invoice", auto_result_text(result)),
            what="generating the missing invoices", title="Generating missing invoices",
            disable=(self.invoice_button, self.auto_invoice_button))
