"""The Summary tab on the real asynchronous operations layer: loads arrive later, the last
period chosen wins, exports can be cancelled, a deleted tab is never called back, and a
refused write keeps the ticks."""
from __future__ import annotations

import threading

import pytest
import shiboken6
from PySide6.QtCore import Qt

from cxdesk.services import summary
from cxdesk.ui.summary.summary_tab import SummaryTab
from tests.ui.test_summary_tab import add_calls

WAIT = 10  # seconds a blocked worker waits at most, so a failing test cannot hang


@pytest.fixture
def customer(sqlite_db, make_customer, admin) -> int:
    cid = make_customer(sqlite_db, "Summary Telecom", currency="GBP")
    add_calls(sqlite_db, admin, cid)
    return cid


def make_tab(ctx, qtbot, model_tester, customer: int, *, keep: bool = True) -> SummaryTab:
    """A shown tab of ``customer`` whose first load is under way (not yet arrived)."""
    tab = SummaryTab(ctx)
    if keep:  # tests that delete the tab do not hand it to qtbot
        qtbot.addWidget(tab)
    model_tester(tab.model)
    tab.set_customer(customer)
    tab.show()
    return tab


def idle(ctx, qtbot) -> None:
    qtbot.waitUntil(lambda: not ctx.ops.busy, timeout=WAIT * 1000)


class Gate:
    """Holds a worker in a service until the test opens it."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.open = threading.Event()

    def hold(self) -> None:
        self.entered.set()
        assert self.open.wait(WAIT), "the test never opened the gate"


@pytest.fixture
def gate():
    g = Gate()
    yield g
    g.open.set()  # never leave a worker blocked, whatever the test did


def test_the_rows_arrive_after_the_load_returns(threaded_ctx, customer, qtbot, model_tester):
    tab = make_tab(threaded_ctx, qtbot, model_tester, customer)
    assert tab.model.rowCount() == 0 and tab.loads == 0  # on the GUI thread nothing was read
    qtbot.waitUntil(lambda: tab.model.rowCount() == 3)
    assert tab.customer_name == "Summary Telecom" and tab.model.currency == "GBP"
    assert tab.chart.charge_title() == "Charge (GBP)"
    assert tab.loads == 1


def test_switching_period_twice_shows_only_the_last_choice(threaded_ctx, customer, qtbot, model_tester,
                                                           monkeypatch, gate):
    tab = make_tab(threaded_ctx, qtbot, model_tester, customer)
    qtbot.waitUntil(lambda: tab.model.rowCount() == 3)
    loads = tab.loads
    rows = summary.summary_view

    def slow_weekly(session, customer_id, period, *args, **kwargs):
        if period == "weekly":
            gate.hold()  # the weekly load finishes after the monthly one
        return rows(session, customer_id, period, *args, **kwargs)

    monkeypatch.setattr(summary, "summary_view", slow_weekly)
    tab.period.setCurrentIndex(2)  # Weekly
    qtbot.waitUntil(gate.entered.is_set, timeout=WAIT * 1000)  # work starts once the window has painted
    tab.period.setCurrentIndex(3)  # Monthly
    qtbot.waitUntil(lambda: tab.model.period == "monthly")
    gate.open.set()
    idle(threaded_ctx, qtbot)
    qtbot.wait(50)
    assert tab.model.period == "monthly" and tab.loads == loads + 1  # the late weekly rows were dropped
    assert [tab.model.data(tab.model.index(r, 0)) for r in range(tab.model.rowCount())] == ["2026-03"]


def test_an_export_is_cancelled_through_its_job(threaded_ctx, customer, qtbot, model_tester, answers,
                                                monkeypatch, gate, tmp_path):
    tab = make_tab(threaded_ctx, qtbot, model_tester, customer)
    qtbot.waitUntil(lambda: tab.model.rowCount() == 3)
    export = summary.export_summary

    def held_export(*args, **kwargs):
        gate.hold()
        return export(*args, **kwargs)

    monkeypatch.setattr(summary, "export_summary", held_export)
    done = []
    monkeypatch.setattr(SummaryTab, "exported", lambda self, path: done.append(path))
    out = tmp_path / "out"
    out.mkdir()
    answers.save_path = str(out / "s.xlsx")
    job = tab.export(selection_only=False)
    qtbot.waitUntil(gate.entered.is_set, timeout=WAIT * 1000)  # work starts once the window has painted
    job.cancel()
    gate.open.set()
    idle(threaded_ctx, qtbot)
    assert job.cancelled() and done == [] and answers.errors == []  # a cancel is not an error
    assert list(out.iterdir()) == []  # no file, not even a partial one


def test_the_export_runs_when_not_cancelled(threaded_ctx, customer, qtbot, model_tester, answers, monkeypatch,
                                            tmp_path):
    tab = make_tab(threaded_ctx, qtbot, model_tester, customer)
    qtbot.waitUntil(lambda: tab.model.rowCount() == 3)
    done = []
    monkeypatch.setattr(SummaryTab, "exported", lambda self, path: done.append(path))
    answers.save_path = str(tmp_path / "s.csv")
    tab.export(selection_only=False)
    qtbot.waitUntil(lambda: done == [answers.save_path])
    assert (tmp_path / "s.csv").read_text(encoding="utf-8-sig").count("\n") == 4


def test_deleting_the_tab_while_it_loads(threaded_ctx, customer, qtbot, model_tester, monkeypatch, gate):
    rows = summary.summary_view

    def held_rows(*args, **kwargs):
        gate.hold()
        return rows(*args, **kwargs)

    monkeypatch.setattr(summary, "summary_view", held_rows)
    shown = []
    monkeypatch.setattr(SummaryTab, "show_data", lambda self, data: shown.append(data))
    tab = make_tab(threaded_ctx, qtbot, model_tester, customer, keep=False)
    qtbot.waitUntil(gate.entered.is_set, timeout=WAIT * 1000)  # work starts once the window has painted
    assert all(d is None for d in shown)  # only the clearing when the customer was set
    shown.clear()
    tab.deleteLater()
    qtbot.waitUntil(lambda: not shiboken6.isValid(tab))
    gate.open.set()
    idle(threaded_ctx, qtbot)
    qtbot.wait(50)
    assert shown == []


def test_deleting_the_tab_while_it_exports(threaded_ctx, customer, qtbot, model_tester, answers, monkeypatch,
                                           gate, tmp_path):
    tab = make_tab(threaded_ctx, qtbot, model_tester, customer, keep=False)
    qtbot.waitUntil(lambda: tab.model.rowCount() == 3)
    export = summary.export_summary

    def held_export(*args, **kwargs):
        gate.hold()
        return export(*args, **kwargs)

    monkeypatch.setattr(summary, "export_summary", held_export)
    done = []
    monkeypatch.setattr(SummaryTab, "exported", lambda self, path: done.append(path))
    answers.save_path = str(tmp_path / "s.xlsx")
    tab.export(selection_only=False)
    qtbot.waitUntil(gate.entered.is_set, timeout=WAIT * 1000)  # work starts once the window has painted
    tab.deleteLater()
    qtbot.waitUntil(lambda: not shiboken6.isValid(tab))
    gate.open.set()
    idle(threaded_ctx, qtbot)
    qtbot.wait(50)
    assert done == [] and answers.errors == [] and answers.infos == []
    assert (tmp_path / "s.xlsx").exists()  # the work itself finished; only the callback was dropped


def test_a_refused_invoice_is_reported_and_the_ticks_are_kept(threaded_ctx, customer, qtbot, model_tester,
                                                              answers, sqlite_db, admin):
    from cxdesk.services import invoices

    tab = make_tab(threaded_ctx, qtbot, model_tester, customer)
    qtbot.waitUntil(lambda: tab.model.rowCount() == 3)
    first = tab.model.summary_row(0).period_start
    invoices.generate_for_periods(sqlite_db, admin, customer, "daily", [first])  # another writer was first
    tab.model.setData(tab.model.index(0, tab.model.action_column), Qt.CheckState.Checked.value,
                      Qt.ItemDataRole.CheckStateRole)
    tab.generate_invoice()
    qtbot.waitUntil(lambda: answers.errors != [])
    assert "invoice 1" in answers.errors[0] and answers.infos == []
    # once the other writer's invoice is read, the period names it and is no longer ticked
    qtbot.waitUntil(lambda: tab.model.summary_row(0).invoices == (1,))
    assert tab.model.checked == set()
