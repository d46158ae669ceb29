"""GUI-thread stalls during a scripted session (issue 12): select customers, every
customer tab, every Summary view, the Audit Log window with a search, Global Contacts and
F5, on a demo database, measured by a 2 ms timer on the GUI thread.

Baseline, measured in the same run: the same timer's gaps on the idle main window. Targets:
worst stall under 50 ms and p95 gap under 16 ms. Runs on SQLite, and on PostgreSQL when a
server can be started here (the test setup's) or CXDESK_BENCH_PG_URL names an empty database.

Quick size: 30 customers x 20 days (about 40,000 CDRs); --full: 100 customers x 35 days at
700 calls a day (about 2.5 million CDRs; the demo load alone takes several minutes).
"""
from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

TICK_MS = 2
TARGET_WORST_MS, TARGET_P95_MS = 50.0, 16.0


class StallMonitor:
    """A 2 ms timer on the GUI thread; a gap between its ticks is time the thread was busy."""

    def __init__(self) -> None:
        from PySide6.QtCore import QTimer

        self.gaps: list[float] = []
        self._last = None
        self.timer = QTimer()
        self.timer.setInterval(TICK_MS)
        self.timer.timeout.connect(self._tick)

    def _tick(self) -> None:
        now = time.perf_counter()
        if self._last is not None:
            self.gaps.append((now - self._last) * 1000)
        self._last = now

    def start(self) -> None:
        self.gaps.clear()
        self._last = None
        self.timer.start()

    def stop(self) -> list[float]:
        self.timer.stop()
        return list(self.gaps)


def _p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1] if len(values) >= 20 else max(values, default=0.0)


def _run_loop_for(app, seconds: float) -> None:
    """Run the event loop for a while (a local loop: QApplication.quit() would close the windows)."""
    from PySide6.QtCore import QEventLoop, QTimer

    loop = QEventLoop()
    QTimer.singleShot(int(seconds * 1000), loop.quit)
    loop.exec()


def session_steps(window):
    """The scripted session: (label, action) pairs, each run once the previous work is done."""
    steps = []
    for row in range(5):
        steps.append((f"select customer {row + 1}", lambda r=row: window.customers.view.selectRow(r)))
    for i in range(window.tabs.count()):
        steps.append((f"tab {window.tabs.tabText(i)}", lambda i=i: window.tabs.setCurrentIndex(i)))
    steps.append(("tab Summary", lambda: window.show_customer_tab("Summary")))
    for k in range(4):  # the Summary's periods (24 h, daily, weekly, monthly); the tab is built when first shown
        steps.append((f"summary period {k + 1}", lambda k=k: window.customer_tab("Summary").period.setCurrentIndex(k)))
    steps.append(("open Audit Log", window.open_audit_log))

    def search_audit():
        audit = window._windows["audit"]
        box = audit.findChild(type(window.customers.search), None)
        widget = getattr(audit, "widget", audit)
        box = getattr(widget, "search", box)
        box.setText("Payment")
        box.returnPressed.emit()

    steps.append(("audit search", search_audit))
    steps.append(("open Global Contacts", window.open_global_contacts))
    steps.append(("F5", window.refresh_data))
    steps.append(("select customer 6", lambda: window.customers.view.selectRow(5)))
    return steps


def run_session(url: str, label: str) -> dict:
    from PySide6.QtCore import QEventLoop, QSettings, QTimer

    from cxdesk.db import open_database
    from cxdesk.services.actor import Actor
    from cxdesk.ui.app import make_app
    from cxdesk.ui.kit.context import AppContext
    from cxdesk.ui.kit.ops import Ops
    from cxdesk.ui.main_window import MainWindow

    app = make_app(sys.argv[:1])  # as the program makes it (its Qt settings included)
    db = open_database(url)
    actor = Actor("bench", "admin", "Bench", system=True)
    ops = Ops(db, actor)
    settings_dir = Path(tempfile.mkdtemp(prefix="cxdesk-bench-gui-"))
    ctx = AppContext(ops=ops, actor=actor, settings=QSettings(str(settings_dir / "ui.ini"), QSettings.Format.IniFormat))
    window = MainWindow(ctx)
    window.resize(1280, 800)
    window.show()
    _run_loop_for(app, 1.0)  # first paint and the customer list
    monitor = StallMonitor()
    monitor.start()
    _run_loop_for(app, 2.0)
    idle = monitor.stop()

    steps = session_steps(window)
    timings: list[tuple[str, float]] = []
    cpu: list[tuple[str, float]] = []  # the GUI thread's CPU time per step (less noisy than wall time)
    state = {"i": 0, "quiet": 0, "started": time.perf_counter(), "cpu": time.thread_time()}

    def drive() -> None:
        if ops.busy:
            state["quiet"] = 0
            return
        state["quiet"] += 1
        if state["quiet"] < 3:  # quiet for three driver ticks: the step's work has landed
            return
        if state["i"] > 0:
            timings.append((steps[state["i"] - 1][0], time.perf_counter() - state["started"]))
            cpu.append((steps[state["i"] - 1][0], time.thread_time() - state["cpu"]))
        if state["i"] == len(steps):
            state["loop"].quit()
            return
        state["started"], state["cpu"] = time.perf_counter(), time.thread_time()
        steps[state["i"]][1]()
        state["i"] += 1
        state["quiet"] = 0

    driver = QTimer()
    driver.setInterval(10)
    driver.timeout.connect(drive)
    monitor.start()
    driver.start()
    loop = QEventLoop()
    state["loop"] = loop
    loop.exec()
    driver.stop()
    busy = monitor.stop()
    for w in list(window._windows.values()):
        w.close()
    window.close()
    ops.close()
    db.close()
    slowest = sorted(timings, key=lambda t: -t[1])[:3]
    return {"label": label, "idle": idle, "busy": busy, "slowest": slowest, "steps": len(steps),
            "cpu": sum(c for _, c in cpu), "busiest": sorted(cpu, key=lambda t: -t[1])[:3]}


def _report(r: dict) -> None:
    idle_worst, idle_p95 = max(r["idle"]), _p95(r["idle"])
    worst, p95 = max(r["busy"]), _p95(r["busy"])
    print(f"   [{r['label']}] {r['steps']} steps; idle window: worst gap {idle_worst:.1f} ms, p95 {idle_p95:.1f} ms")
    print(f"   [{r['label']}] session:     worst gap {worst:.1f} ms, p95 {p95:.1f} ms "
          f"(ratio to idle: worst {worst / idle_worst:.1f}x, p95 {p95 / idle_p95:.1f}x)")
    verdict = "within" if worst < TARGET_WORST_MS and p95 < TARGET_P95_MS else "OVER"
    print(f"   [{r['label']}] {verdict} the targets (worst < {TARGET_WORST_MS:.0f} ms, p95 < {TARGET_P95_MS:.0f} ms); "
          "slowest steps: " + ", ".join(f"{name} {sec * 1000:.0f} ms" for name, sec in r["slowest"]))
    print(f"   [{r['label']}] GUI-thread CPU time: {r['cpu'] * 1000:.0f} ms in all; most: "
          + ", ".join(f"{name} {sec * 1000:.0f} ms" for name, sec in r["busiest"]))


def _demo(url: str, full: bool) -> str:
    from cxdesk.db import open_database
    from cxdesk.services.actor import Actor
    from cxdesk.services.demo import load_demo

    db = open_database(url)
    try:
        customers, days, per_day = (100, 35, 700) if full else (30, 20, 70)
        result = load_demo(db, Actor("bench", "admin", "Bench", system=True), customers=customers, days=days,
                           calls_per_day=per_day, seed=12)
    finally:
        db.close()
    return f"{result.customers} customers, {result.cdrs:,} CDRs"


def _postgres():
    """(url, server or None): CXDESK_BENCH_PG_URL, else a server started as the tests do."""
    if os.environ.get("CXDESK_BENCH_PG_URL"):
        return os.environ["CXDESK_BENCH_PG_URL"], None
    tests = Path(__file__).resolve().parent.parent / "tests"
    sys.path.insert(0, str(tests))
    try:
        import servers  # the test setup's PostgreSQL helper
    except ImportError:
        return None, None
    if servers.PostgresServer.unavailable_reason():
        return None, None
    server = servers.PostgresServer().start()
    server.create_database("bench_gui")
    return server.url("bench_gui"), server


def main(full: bool) -> None:
    with tempfile.TemporaryDirectory(prefix="cxdesk-bench-gui-") as tmp:
        url = f"sqlite:///{Path(tmp) / 'demo.db'}"
        print(f"   SQLite demo database: {_demo(url, full)}", flush=True)
        _report(run_session(url, "SQLite"))
    pg_url, server = _postgres()
    if pg_url is None:
        print("   PostgreSQL: no server available here; skipped")
        return
    try:
        print(f"   PostgreSQL demo database: {_demo(pg_url, full)}", flush=True)
        _report(run_session(pg_url, "PostgreSQL"))
    finally:
        if server is not None:
            server.stop()


if __name__ == "__main__":
    main("--full" in sys.argv)
