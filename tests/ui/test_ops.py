"""The operations layer with the real threaded runner: work off the GUI thread, progress
after half a second, cancel, the audit-comment policy, error display, callbacks dropped
with their widget, the last keyed query wins, and change sets delivered after writes."""
from __future__ import annotations

import threading
import time

import pytest
import shiboken6
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QProgressDialog, QPushButton, QWidget
from sqlalchemy import select

from cxdesk.errors import ValidationError
from cxdesk.models import AuditEntry, Customer
from cxdesk.services import customers, options
from cxdesk.services.changes import ChangeSet
from cxdesk.ui.kit.panel import Panel


@pytest.fixture
def host(qtbot):
    w = QWidget()
    qtbot.addWidget(w)
    w.show()
    return w


def test_queries_run_off_the_gui_thread_and_deliver_on_it(threaded_ctx, host, qtbot, make_customer, sqlite_db):
    make_customer(sqlite_db, "Acme")
    seen = {}

    def work(s):
        seen["worker"] = threading.current_thread() is not threading.main_thread()
        return [r.name for r in customers.list_customers(s)]

    def done(names):
        seen["names"] = names
        seen["gui"] = threading.current_thread() is threading.main_thread()

    threaded_ctx.ops.query(host, work, success=done)
    assert "names" not in seen  # asynchronous: the call returned at once
    qtbot.waitUntil(lambda: "names" in seen)
    assert seen == {"worker": True, "names": ["Acme"], "gui": True}


class _PaintRecorder(QWidget):
    def __init__(self, order: list[str]) -> None:
        super().__init__()
        self.order = order

    def paintEvent(self, event) -> None:  # noqa: N802 - Qt's name
        self.order.append("paint")


def test_work_starts_after_the_gui_thread_has_painted(threaded_ctx, qtbot):
    """A click that changes the screen and starts a query paints first: the query's Python
    would otherwise compete with the paint for the interpreter (a first customer click
    froze the window for 40 ms instead of 15)."""
    order: list[str] = []
    widget = _PaintRecorder(order)
    qtbot.addWidget(widget)
    widget.show()
    qtbot.waitExposed(widget)
    qtbot.waitUntil(lambda: "paint" in order)
    order.clear()

    def click() -> None:
        widget.update()
        threaded_ctx.ops.query(widget, lambda s: order.append("work"), success=lambda _r: order.append("done"))
        time.sleep(0.05)  # time enough for a worker to have begun, had it been started here

    QTimer.singleShot(0, click)
    qtbot.waitUntil(lambda: "done" in order)
    assert order == ["paint", "work", "done"]


def test_waiting_for_work_starts_what_has_not_started_yet(threaded_ctx, host):
    ran = []
    threaded_ctx.ops.query(host, lambda s: ran.append("work"))
    assert threaded_ctx.ops.wait()
    assert ran == ["work"]


def test_inline_mode_still_runs_on_a_worker_thread(ctx, host):
    seen = {}
    ctx.ops.query(host, lambda s: threading.current_thread() is threading.main_thread(),
                  success=lambda on_main: seen.setdefault("on_main", on_main))
    assert seen == {"on_main": False}


def test_progress_appears_after_half_a_second_and_cancel_reaches_the_job(threaded_ctx, host, qtbot):
    started = threading.Event()
    outcome = {}

    def slow(job):
        started.set()
        for i in range(200):
            if job.cancelled():
                return "cancelled"
            job.progress(i, 200, f"step {i}")
            time.sleep(0.02)
        return "finished"

    threaded_ctx.ops.task(host, slow, title="Counting slowly", cancellable=True,
                          success=lambda r: outcome.setdefault("r", r))
    qtbot.waitUntil(started.is_set)
    assert not [d for d in host.findChildren(QProgressDialog) if d.isVisible()]  # not before 0.5 s
    qtbot.waitUntil(lambda: any(d.isVisible() for d in host.findChildren(QProgressDialog)), timeout=3000)
    dialog = next(d for d in host.findChildren(QProgressDialog) if d.isVisible())
    assert dialog.labelText().startswith("step ")
    cancel = dialog.findChild(QPushButton)
    assert cancel.text() == "Cancel"
    qtbot.mouseClick(cancel, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "r" in outcome, timeout=5000)
    assert outcome["r"] == "cancelled"
    qtbot.waitUntil(lambda: not any(d.isVisible() for d in host.findChildren(QProgressDialog)))


def test_a_quick_task_never_shows_progress(threaded_ctx, host, qtbot):
    done = []
    threaded_ctx.ops.task(host, lambda job: 42, title="Quick", success=done.append)
    qtbot.waitUntil(lambda: done == [42])
    assert not any(d.isVisible() for d in host.findChildren(QProgressDialog))


def test_user_errors_go_to_failure_or_an_error_box_and_bugs_to_the_details_box(threaded_ctx, host, qtbot,
                                                                               answers, monkeypatch):
    got = []
    threaded_ctx.ops.query(host, lambda s: (_ for _ in ()).throw(ValidationError("Bad value; fix it.")),
                           failure=got.append)
    qtbot.waitUntil(lambda: len(got) > 0)
    assert str(got[0]) == "Bad value; fix it." and answers.errors == []
    threaded_ctx.ops.query(host, lambda s: (_ for _ in ()).throw(ValidationError("Shown in a box.")))
    qtbot.waitUntil(lambda: len(answers.errors) > 0)
    assert answers.errors == ["Shown in a box."]
    unexpected = []
    from cxdesk.ui.kit import dialogs

    monkeypatch.setattr(dialogs, "show_unexpected", lambda parent, exc, details: unexpected.append(details))
    threaded_ctx.ops.query(host, lambda s: 1 / 0, failure=got.append)  # not a UserError: never to failure
    qtbot.waitUntil(lambda: len(unexpected) > 0)
    assert "ZeroDivisionError" in unexpected[0] and len(got) == 1


def test_callbacks_are_dropped_when_the_widget_is_deleted_while_its_work_runs(threaded_ctx, qtbot, answers):
    release = threading.Event()
    widget = QWidget()
    called = []

    def blocked(s):
        release.wait(10)
        raise ValidationError("too late")

    threaded_ctx.ops.query(widget, blocked, success=called.append, failure=called.append)
    threaded_ctx.ops.query(widget, lambda s: release.wait(10) and "late", success=called.append)
    widget.deleteLater()
    qtbot.waitUntil(lambda: not shiboken6.isValid(widget))
    release.set()
    assert threaded_ctx.ops.wait(10_000)
    qtbot.waitUntil(lambda: not threaded_ctx.ops.busy)
    assert called == [] and answers.errors == []


def test_the_last_keyed_query_wins(threaded_ctx, host, qtbot):
    first_may_finish = threading.Event()
    shown = []

    def first(s):
        first_may_finish.wait(10)
        return "old"

    threaded_ctx.ops.query(host, first, success=shown.append, key="rows")
    threaded_ctx.ops.query(host, lambda s: "new", success=shown.append, key="rows")
    qtbot.waitUntil(lambda: shown == ["new"])
    first_may_finish.set()
    qtbot.waitUntil(lambda: not threaded_ctx.ops.busy)
    assert shown == ["new"]  # the older result arrived later and was dropped


def test_a_write_asks_for_the_reason_only_when_audit_comment_is_on(threaded_ctx, host, qtbot, answers,
                                                                  sqlite_db, admin, make_customer):
    cid = make_customer(sqlite_db, "Acme")
    ops = threaded_ctx.ops
    after = []

    def adjust(job, comment):
        return customers.adjust_balance(job.db, job.actor, cid, "1", "Top-up", comment)

    ops.write(host, adjust, success=after.append, what="the balance adjustment")
    qtbot.waitUntil(lambda: len(after) > 0)
    assert answers.questions == []  # option off: no question
    options.set_value(sqlite_db, admin, "audit-comment", "on", "audits from now on")
    answers.text = [None]  # the user cancels the question
    finished = []
    ops.write(host, adjust, success=after.append, always=lambda: finished.append(True), what="the balance adjustment")
    qtbot.waitUntil(lambda: len(finished) > 0)
    assert len(after) == 1 and "Reason for the balance adjustment" in answers.questions[0]
    answers.text = ["   ", "Customer paid by card"]  # blank is asked again
    ops.write(host, adjust, success=after.append, what="the balance adjustment")
    qtbot.waitUntil(lambda: len(after) == 2)
    with sqlite_db.read_session() as s:
        last = s.scalars(select(AuditEntry).order_by(AuditEntry.id.desc())).first()
        assert last.comment == "Customer paid by card"
        assert s.get(Customer, cid).credit == 102  # 100 + 1 + 1: the cancelled one wrote nothing


def test_a_write_publishes_its_change_set_on_the_gui_thread(threaded_ctx, host, qtbot, make_customer, sqlite_db):
    cid = make_customer(sqlite_db, "Acme")
    sets: list[ChangeSet] = []
    threaded_ctx.changes.changed.connect(lambda cs: sets.append((cs, threading.current_thread())))
    threaded_ctx.ops.write(host, lambda job, c: customers.adjust_balance(job.db, job.actor, cid, "5", "Top-up", c),
                           what="the adjustment")
    qtbot.waitUntil(lambda: len(sets) > 0)
    cs, thread = sets[0]
    assert thread is threading.main_thread()
    assert cs.touches(["customers"], customer_id=cid) and cs.keys("customers") == {str(cid)}


class Probe(Panel):
    TABLES = ("customers",)

    def __init__(self, ctx, parent=None):
        super().__init__(ctx, parent)
        self.data = None

    def loader(self):
        cid = self.customer_id
        return None if cid is None else (lambda s: customers.get_customer(s, cid).credit)

    def show_data(self, data):
        self.data = data


def test_a_panel_reloads_when_shown_and_concerned_and_is_only_marked_stale_when_hidden(
        ctx, qtbot, sqlite_db, admin, make_customer):
    one, two = make_customer(sqlite_db, "One"), make_customer(sqlite_db, "Two")
    probe = Probe(ctx)
    qtbot.addWidget(probe)
    probe.set_customer(one)  # a window not on screen yet loads what it will show
    probe.show()
    assert probe.loads == 1 and probe.data == 100
    ctx.ops.write(probe, lambda job, c: customers.adjust_balance(job.db, admin, one, "5", "x", c))
    assert probe.loads == 2 and probe.data == 105
    ctx.ops.write(probe, lambda job, c: customers.adjust_balance(job.db, admin, two, "5", "x", c))
    assert probe.loads == 2  # another customer's change does not concern it
    probe.hide()
    ctx.ops.write(probe, lambda job, c: customers.adjust_balance(job.db, admin, one, "5", "x", c))
    assert probe.loads == 2 and probe.stale
    probe.show()
    assert probe.loads == 3 and probe.data == 110 and not probe.stale
    probe.set_customer(one)  # the same customer again: nothing to do
    assert probe.loads == 3
