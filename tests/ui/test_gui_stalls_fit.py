"""GUI-thread stalls (issue 12): what the GUI thread no longer does per cell.

- fitting columns measures a sample of rows, from the texts the model can say, and gives
  the width Qt's own delegate would give;
- the Summary grid formats a column once, not a cell at a time, and again after a sort;
- while background work runs the GIL is handed over often, so a painting view is not
  held up by a worker busy in Python.
"""
from __future__ import annotations

import datetime as dt
import sys
import threading
from decimal import Decimal

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QTableView

from cxdesk.services.summary import SummaryRow
from cxdesk.ui.kit import ops as ops_module
from cxdesk.ui.kit.column_fit import FIT_SAMPLE_ROWS
from cxdesk.ui.kit.tables import RIGHT, Column, ColumnsTableModel, DataTableView, SortFilterProxy, fit_columns
from cxdesk.ui.summary.model import SummaryModel

WORDS = ["a", "Acme Telecom GmbH", "x" * 30, "Nordic Voice", "Zeta"]


class CountingModel(ColumnsTableModel):
    """Remembers which rows Qt asked about, and how often."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.asked: list[int] = []

    def data(self, index, role=Qt.ItemDataRole.DisplayRole):
        if role == Qt.ItemDataRole.DisplayRole:
            self.asked.append(index.row())
        return super().data(index, role)


def _columns(tick: bool = False) -> list[Column]:
    return [
        Column("Name", lambda r: r[0]),
        Column("Balance", lambda r: r[1], text=lambda r: f"{r[1]:,.2f} EUR", align=RIGHT),
        Column("Portal", lambda r: r[2], checkable=tick),
    ]


def _view(qtbot, rows, tick: bool = False, proxy: bool = True) -> tuple[DataTableView, CountingModel]:
    model = CountingModel(_columns(tick), rows)
    view = DataTableView()
    qtbot.addWidget(view)
    if proxy:
        sorter = SortFilterProxy(view)
        sorter.setSourceModel(model)
        view.setModel(sorter)
    else:
        view.setModel(model)
    view.resize(700, 400)
    return view, model


def _rows(n: int) -> list[tuple]:
    return [(WORDS[i % len(WORDS)] + f" {i}", Decimal(i * 1234567) / 100, i % 2 == 0) for i in range(n)]


@pytest.mark.parametrize("proxy", [True, False])
def test_a_fitted_column_is_as_wide_as_qt_measures_it(qtbot, proxy):
    view, _model = _view(qtbot, _rows(40), proxy=proxy)
    view.show()
    view.horizontalHeader().setResizeContentsPrecision(-1)  # Qt: every row
    for column in (0, 1, 2):
        assert view.sizeHintForColumn(column) == QTableView.sizeHintForColumn(view, column), column


def test_fitting_asks_the_model_for_texts_not_qt_for_every_cell(qtbot):
    view, model = _view(qtbot, _rows(30))
    view.show()
    model.asked.clear()
    fit_columns(view)
    # the widths come from texts_for_fit: no cell's display text is asked through data()
    assert model.asked == []
    assert view.columnWidth(0) >= QTableView.sizeHintForColumn(view, 0)


def test_fitting_a_long_list_measures_a_sample_of_rows(qtbot):
    rows = _rows(1000)
    rows[900] = ("A name far wider than every name on screen " * 3, Decimal(1), True)
    view, model = _view(qtbot, rows, tick=True)
    view.show()
    model.asked.clear()
    fit_columns(view, max_width=10_000)
    # the tick box column is measured by Qt itself, on the sample only
    assert model.asked and max(model.asked) < FIT_SAMPLE_ROWS
    # the name column is fitted to the rows sampled, not to row 900 (Qt measured 1000 rows)
    sampled = view.fontMetrics().horizontalAdvance(max((r[0] for r in rows[:FIT_SAMPLE_ROWS]), key=len))
    assert sampled < view.columnWidth(0) < view.fontMetrics().horizontalAdvance(rows[900][0])


def test_a_tick_box_column_is_measured_by_qt(qtbot):
    view, _model = _view(qtbot, _rows(10), tick=True)
    view.show()
    assert view.sizeHintForColumn(2) == QTableView.sizeHintForColumn(view, 2) > 0


def _summary_rows() -> list[SummaryRow]:
    start = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
    return [
        SummaryRow("daily", f"2026-01-0{d + 1}", start + dt.timedelta(days=d), start + dt.timedelta(days=d + 1),
                   attempts=a, connected=a // 2, duration_seconds=a * 30, billed_seconds=a * 36,
                   customer_charge=Decimal(a) / 7, vendor_cost=Decimal(a) / 9)
        for d, a in enumerate([120, 4_500, 30, 999])
    ]


def test_the_summary_grid_formats_each_column_once_and_again_after_a_sort(qtbot, monkeypatch):
    model = SummaryModel()
    model.set_rows(_summary_rows(), "daily", "EUR", 1)
    calls = []
    real = type(model.table).texts

    def texts(table, col, start, stop, grouping=False):
        calls.append((col, start, stop))
        return real(table, col, start, stop, grouping)

    monkeypatch.setattr(type(model.table), "texts", texts)
    shown = [model.data(model.index(r, 1)) for r in range(4)]
    assert shown == ["120", "4,500", "30", "999"]
    assert calls == [(1, 0, 4)]  # one call for the column, not one per cell
    model.sort(1, Qt.SortOrder.DescendingOrder)
    assert [model.data(model.index(r, 1)) for r in range(4)] == ["4,500", "999", "120", "30"]
    assert model.data(model.index(0, 0)) == "2026-01-02"  # the rows moved with their figures


def test_the_gil_is_handed_over_often_while_work_runs(qtbot, threaded_ctx):
    before = sys.getswitchinterval()
    release, seen = threading.Event(), []
    done = []

    def work(_session):
        release.wait(10)
        return "ok"

    threaded_ctx.ops.query(None, work, success=done.append)
    seen.append(sys.getswitchinterval())
    release.set()
    qtbot.waitUntil(lambda: done == ["ok"])
    assert seen == [min(before, ops_module.BUSY_SWITCH_INTERVAL)] and seen[0] < before
    assert sys.getswitchinterval() == before


def test_a_reload_that_finds_the_rows_shown_changes_nothing_on_screen(qtbot):
    view, model = _view(qtbot, _rows(20))
    view.show()
    view.selectRow(3)
    resets = []
    model.modelReset.connect(lambda: resets.append(1))
    model.set_rows(_rows(20))  # equal rows, new objects: F5 or a change elsewhere
    assert resets == [] and [i.row() for i in view.selectionModel().selectedRows()] == [3]
    changed = _rows(20)
    changed[5] = ("Renamed", Decimal(1), False)
    model.set_rows(changed)
    assert resets == [1] and model.data(model.index(5, 0)) == "Renamed"


def test_the_summary_grid_is_not_reset_by_the_same_rows(qtbot):
    model = SummaryModel()
    model.set_rows(_summary_rows(), "daily", "EUR", 1)
    resets = []
    model.modelReset.connect(lambda: resets.append(1))
    model.set_rows(_summary_rows(), "daily", "EUR", 1)
    assert resets == []
    model.set_rows(_summary_rows(), "weekly", "EUR", 1)
    assert resets == [1]


def test_an_operations_signals_outlive_the_workers_last_emit(qtbot):
    import shiboken6

    signals = ops_module._Signals()
    ops_module._delete_when_released(signals)
    qtbot.wait(20)
    assert shiboken6.isValid(signals)  # the worker may still be inside emit()
    signals.released.set()
    qtbot.waitUntil(lambda: not shiboken6.isValid(signals))
