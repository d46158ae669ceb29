"""Start-up time: from process start to the first paint of the main window on a demo
database (target < 1.5 s), against a bare PySide6 "hello" window started the same way in
the same run.

Both are fresh ``python`` processes with QT_QPA_PLATFORM=offscreen and their own HOME and
XDG dirs. The time runs from just before the process is spawned to the first paint event
of the window (the child prints the wall clock then and quits). The cxdesk child starts
the way ``cxdesk.ui.app.run`` does after a remembered-password sign-in: log file, the
QApplication, the database (migrations checked), sign-in, then the main window.
Runs alternate between the two, so load on the machine hits both alike. Both start from
compiled bytecode, as an installed program does (the warm-up run writes it).
"""
from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET_S = 1.5
LOGIN, PASSWORD = "bench", "Bench-start-2468"
REPO = Path(__file__).resolve().parent.parent


def _painted_then_quit(window, app) -> None:
    """Print the wall clock at the window's first paint, then quit the event loop."""
    from PySide6.QtCore import QEvent, QObject, QTimer

    class FirstPaint(QObject):
        def eventFilter(self, obj, event):  # noqa: N802 - Qt API
            if event.type() == QEvent.Type.Paint and not self.seen:
                self.seen = True
                print(f"painted {time.time():.6f}", flush=True)
                QTimer.singleShot(0, app.quit)
            return False

    spy = FirstPaint(window)
    spy.seen = False
    window.installEventFilter(spy)


def child_hello() -> int:
    from PySide6.QtWidgets import QApplication, QLabel

    app = QApplication(sys.argv[:1])
    window = QLabel("hello")
    _painted_then_quit(window, app)
    window.show()
    return app.exec()


def child_cxdesk(db_path: str) -> int:
    from cxdesk import logsetup
    from cxdesk.db import open_database
    from cxdesk.services import operators
    from cxdesk.services.secrets import lookup_quietly
    from cxdesk.ui.app import make_app, settings
    from cxdesk.ui.kit.context import AppContext
    from cxdesk.ui.main_window import MainWindow
    from cxdesk.ui.kit.ops import Ops

    logsetup.setup()
    app = make_app()  # no excepthook: its error dialog would hang an offscreen child
    db = open_database(f"sqlite:///{db_path}", password_lookup=lookup_quietly)
    actor = operators.sign_in(db, LOGIN, PASSWORD)
    ctx = AppContext(ops=Ops(db, actor), actor=actor, settings=settings())
    window = MainWindow(ctx)
    _painted_then_quit(window, app)
    window.show()
    code = app.exec()
    ctx.ops.close()
    db.close()
    return code


def _make_demo_db(path: Path, customers: int, days: int) -> str:
    from cxdesk.db import open_database
    from cxdesk.services import operators
    from cxdesk.services.demo import load_demo

    db = open_database(f"sqlite:///{path}")
    try:
        operators.create_operator(db, None, LOGIN, PASSWORD, role="admin", display_name="Bench")
        actor = operators.sign_in(db, LOGIN, PASSWORD)
        result = load_demo(db, actor, customers=customers, days=days, seed=11)
    finally:
        db.close()
    return f"{result.customers} customers, {result.cdrs} CDRs"


def _env(base: Path) -> dict[str, str]:
    home = base / "home"
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "HOME": str(home)}
    # as an installed program starts: from compiled bytecode (pip compiles it on install), not
    # compiling every module on every start as PYTHONDONTWRITEBYTECODE=1 would make it
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    for var, sub in (("XDG_DATA_HOME", ".local/share"), ("XDG_CONFIG_HOME", ".config"),
                     ("XDG_STATE_HOME", ".local/state"), ("XDG_CACHE_HOME", ".cache")):
        (home / sub).mkdir(parents=True, exist_ok=True)
        env[var] = str(home / sub)
    return env


def _time_to_paint(args: list[str], env: dict[str, str]) -> float:
    started = time.time()
    done = subprocess.run([sys.executable, "-m", "bench.startup", *args], env=env, cwd=REPO,
                          capture_output=True, text=True, timeout=120)
    painted = [line for line in done.stdout.splitlines() if line.startswith("painted ")]
    if done.returncode != 0 or not painted:
        raise RuntimeError(f"{args[0]} start failed (exit {done.returncode}):\n{done.stdout}{done.stderr}")
    return float(painted[0].split()[1]) - started


def main(full: bool) -> None:
    runs = 10 if full else 3
    customers, days = (200, 35) if full else (30, 35)
    with tempfile.TemporaryDirectory(prefix="cxdesk-bench-startup-") as tmp:
        base = Path(tmp)
        db_path = base / "demo.db"
        print(f"   demo database: {_make_demo_db(db_path, customers, days)}", flush=True)
        env = _env(base)
        _time_to_paint(["cxdesk", str(db_path)], env)  # warm-up: disk cache, first QSettings
        _time_to_paint(["hello"], env)
        hello, app = [], []
        for _ in range(runs):
            hello.append(_time_to_paint(["hello"], env))
            app.append(_time_to_paint(["cxdesk", str(db_path)], env))
    h, a = statistics.median(hello), statistics.median(app)
    print(f"   load average during the runs: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    print(f"   bare PySide6 hello window:  median {h:.3f} s  (min {min(hello):.3f}, {runs} runs)")
    print(f"   cxdesk main window painted: median {a:.3f} s  (min {min(app):.3f}, {runs} runs)")
    verdict = "within" if a < TARGET_S else "OVER"
    print(f"   ratio cxdesk / hello: {a / h:.2f}x; {verdict} the {TARGET_S} s target")


if __name__ == "__main__":
    kind = sys.argv[1]
    sys.exit(child_hello() if kind == "hello" else child_cxdesk(sys.argv[2]))
