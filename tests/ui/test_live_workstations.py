"""Two workstations: changes made by another process (the CLI, a second program) appear in
this window by themselves within about a second, on SQLite and PostgreSQL, with the real
threaded operations layer and the change watcher."""
from __future__ import annotations

import time
from decimal import Decimal

import pytest

from cxdesk.models import Customer
from cxdesk.services.demo import load_demo
from cxdesk.ui.kit import fmt
from cxdesk.ui.main_window import MainWindow


@pytest.fixture
def live_window(make_ctx, db, admin, qtbot):
    load_demo(db, admin, customers=3, days=1, calls_per_day=5, seed=5)
    ctx = make_ctx(db, admin, inline=False)
    w = MainWindow(ctx)
    qtbot.addWidget(w)
    w.show()
    qtbot.waitUntil(lambda: w.customers.model.rowCount() == 3)
    ctx.changes.start_watching()
    qtbot.waitUntil(lambda: ctx.changes.watching)
    yield w
    ctx.ops.close()


def _names(w: MainWindow) -> set[str]:
    return {r.name for r in w.customers.model.rows()}


def test_another_workstations_changes_appear_by_themselves(live_window, db, run_cli, qtbot):
    w = live_window
    url = db.url.render_as_string(hide_password=False)
    w.customers.view.selectRow(0)
    cid = w.current_customer_id()
    header = w.customer_tab("Main").header
    qtbot.waitUntil(lambda: header.values["Currency"].text() != "—")
    loads_before = w.customers.loads

    done = run_cli("customer", "add", "Second Desk Telecom", "--currency", "GBP", db_url=url)
    assert done.returncode == 0, done.stderr
    ended = time.monotonic()
    qtbot.waitUntil(lambda: "Second Desk Telecom" in _names(w), timeout=5000)
    assert time.monotonic() - ended < 1.5
    assert w.customers.loads == loads_before + 1  # one reload for one change
    assert w.current_customer_id() == cid  # the selection stays where the user left it

    done = run_cli("customer", "adjust", str(cid), "77.25", "--reason", "Paid at the other desk", db_url=url)
    assert done.returncode == 0, done.stderr
    with db.read_session() as s:
        balance, currency = s.get(Customer, cid).credit, s.get(Customer, cid).currency
    qtbot.waitUntil(lambda: header.values["Balance"].text() == fmt.money(balance, currency), timeout=5000)
    assert balance > Decimal("0")


def test_a_hidden_view_is_only_marked_stale_by_another_workstations_change(live_window, db, run_cli, qtbot):
    w = live_window
    url = db.url.render_as_string(hide_password=False)
    w.customers.view.selectRow(0)
    cid = w.current_customer_id()
    summary = w.customer_tab("Summary")
    header = w.customer_tab("Main").header
    qtbot.waitUntil(lambda: header.loads >= 1)
    summary.stale = False  # as if it had been shown and loaded
    before = summary.loads
    done = run_cli("customer", "adjust", str(cid), "5", "--reason", "x", db_url=url)
    assert done.returncode == 0, done.stderr
    qtbot.waitUntil(lambda: summary.stale, timeout=5000)  # the change reached the hidden tab...
    assert summary.loads == before                         # ...which did not load
    w.show_customer_tab("Summary")
    qtbot.waitUntil(lambda: summary.loads == before + 1)
    assert not summary.stale
