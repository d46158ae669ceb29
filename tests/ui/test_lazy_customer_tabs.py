"""Issue 12: a customer's tabs are built when first shown. Start-up builds only Main (and
imports neither the other tabs' modules nor numpy); a tab built later shows the current
customer at once and follows the change rules (hidden = stale, reload when shown)."""
from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from cxdesk.services.changes import ChangeSet
from cxdesk.services.demo import load_demo
from cxdesk.ui.main_window import MainWindow


@pytest.fixture
def window(make_ctx, sqlite_db, admin, qtbot):
    load_demo(sqlite_db, admin, customers=3, days=2, calls_per_day=5, seed=4)
    w = MainWindow(make_ctx(sqlite_db, admin))
    qtbot.addWidget(w)
    w.show()
    return w


def test_only_the_main_tab_is_built_at_start_up(window):
    assert window.tabs.titles() == ["Main", "Auth", "Summary", "Invoices", "Audit Log"]
    assert window.tabs.built() == [window.customer_tab("Main")]
    assert window.tabs.widget(2).layout().count() == 0  # the Summary's page is still empty


def test_a_tab_shown_for_the_first_time_shows_the_current_customer_at_once(window):
    window.customers.view.selectRow(1)
    cid = window.current_customer_id()
    assert window.show_customer_tab("Summary")
    summary = window.customer_tab("Summary")
    assert window.tabs.built()[-1] is summary and summary.isVisible()
    assert summary.customer_id == cid and summary.loads == 1 and not summary.stale
    assert summary.model.rowCount() > 0
    window.customers.view.selectRow(2)  # the shown tab follows the selection
    assert summary.customer_id == window.current_customer_id() and summary.loads == 2


def test_a_tab_built_while_hidden_is_only_marked_stale_until_shown(window):
    window.customers.view.selectRow(0)
    invoices = window.customer_tab("Invoices")  # built on demand, not shown
    assert not invoices.isVisible()
    assert invoices.customer_id == window.current_customer_id() and invoices.stale and invoices.loads == 0
    window.ctx.changes.publish(ChangeSet(everything=True))
    assert invoices.loads == 0
    window.customers.view.selectRow(1)
    assert invoices.customer_id == window.current_customer_id() and invoices.loads == 0
    window.show_customer_tab("Invoices")
    assert invoices.loads == 1 and not invoices.stale
    window.show_customer_tab("Main")
    assert window.customer_tab("Invoices") is invoices  # built once


def test_ctrl_f_in_a_lazily_built_tab_goes_to_its_search(window, qtbot):
    window.customers.view.selectRow(0)
    window.show_customer_tab("Audit Log")
    audit = window.customer_tab("Audit Log")
    audit.log.view.setFocus()
    window.find_customer()
    assert window.focusWidget() is audit.search


def test_a_role_without_the_audit_log_has_no_such_tab(make_ctx, sqlite_db, staff, qtbot):
    w = MainWindow(make_ctx(sqlite_db, staff))
    qtbot.addWidget(w)
    assert "Audit Log" not in w.tabs.titles()
    with pytest.raises(KeyError):
        w.customer_tab("Audit Log")
    assert not w.show_customer_tab("Audit Log")


START_UP = textwrap.dedent("""
    import json, sys
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication
    app = QApplication([])
    from cxdesk.db import open_database
    from cxdesk.services.actor import Actor
    from cxdesk.ui.kit.context import AppContext
    from cxdesk.ui.kit.ops import Ops
    from cxdesk.ui.main_window import MainWindow
    db = open_database(sys.argv[1])
    actor = Actor("bench", "admin", "Bench", system=True)
    ctx = AppContext(ops=Ops(db, actor), actor=actor, settings=QSettings(sys.argv[2], QSettings.Format.IniFormat))
    w = MainWindow(ctx)
    w.show()
    app.processEvents()
    before = {m: m in sys.modules for m in ("numpy", "cxdesk.ui.summary.summary_tab", "cxdesk.ui.audit.audit_log")}
    w.tabs.prefetch()
    ctx.ops.wait()
    after = "cxdesk.ui.summary.summary_tab" in sys.modules and "cxdesk.ui.audit.audit_log" in sys.modules
    print(json.dumps({"before": before, "after": after}))
    w.close(); ctx.ops.close(); db.close()
""")


def test_start_up_imports_no_other_tab_and_the_prefetch_imports_them(tmp_path: Path):
    env = {"QT_QPA_PLATFORM": "offscreen", "PATH": "/usr/bin:/bin"}
    done = subprocess.run([sys.executable, "-c", START_UP, f"sqlite:///{tmp_path / 'x.db'}", str(tmp_path / "ui.ini")],
                          capture_output=True, text=True, timeout=120, env=env,
                          cwd=Path(__file__).resolve().parents[2])
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["before"] == {"numpy": False, "cxdesk.ui.summary.summary_tab": False,
                                "cxdesk.ui.audit.audit_log": False}
    assert result["after"]


def test_f5_reloads_the_shown_views_one_per_event_loop_turn_and_leaves_hidden_ones_stale(window, qtbot):
    from PySide6.QtCore import QTimer

    window.customers.view.selectRow(0)
    main, invoices = window.customer_tab("Main"), window.customer_tab("Invoices")
    shown = [main.header, main.contacts, main.numbers, window.customers]
    turns = {"n": 0, "at": []}  # a zero timer counts event-loop turns; each reload notes its turn
    ticker = QTimer(window)
    ticker.setInterval(0)
    ticker.timeout.connect(lambda: turns.__setitem__("n", turns["n"] + 1))
    for view in shown:
        real = view.reload
        view.reload = lambda real=real: (turns["at"].append(turns["n"]), real())
    loads = lambda: [v.loads for v in shown]  # noqa: E731
    before = loads()
    ticker.start()
    window.refresh_data()  # inline ops: the rollup is done and "everything" published
    assert loads() == before and all(v.stale for v in shown)  # none started in F5's own turn
    qtbot.waitUntil(lambda: loads() == [n + 1 for n in before])  # each shown view once
    assert len(turns["at"]) == len(shown) and len(set(turns["at"])) == len(shown), turns["at"]  # one a turn
    assert invoices.loads == 0 and invoices.stale  # hidden: only marked
