"""``cxdesk --self-test``: the frozen build's smoke test. Opens the main window, loads demo
data, does one read and one audited write, verifies the audit chain, exits 0 when all work."""
from __future__ import annotations

import sys

from PySide6.QtCore import QSettings, QTimer
from PySide6.QtWidgets import QApplication

from cxdesk.db import Database
from cxdesk.services import audit_chain, options
from cxdesk.services.actor import Actor
from cxdesk.services.demo import load_demo


def self_test(app: QApplication, db: Database, settings: QSettings) -> int:
    from cxdesk.ui.kit.context import AppContext
    from cxdesk.ui.kit.ops import Ops
    from cxdesk.ui.main_window import MainWindow

    actor = Actor(login="self-test", role="admin", display_name="Self test", system=True)
    steps: list[str] = []
    ops = Ops(db, actor, inline=True)  # every step on a worker thread, waited for

    def run(fn):
        box: dict = {}

        def guarded(job):
            try:
                return False, fn(job)
            except Exception as exc:  # noqa: BLE001 - reported by the smoke test, not a dialog
                return True, exc

        ops.task(None, guarded, success=lambda r: box.setdefault("r", r), write=True)
        failed, value = box["r"]
        if failed:
            raise value
        return value

    try:
        result = run(lambda job: load_demo(job.db, actor, customers=3, days=2, calls_per_day=20, seed=7))
        steps.append(f"demo data: {result.customers} customers, {result.cdrs} CDRs")
        ctx = AppContext(ops=ops, actor=actor, settings=settings)
        window = MainWindow(ctx)
        window.show()
        QTimer.singleShot(0, app.quit)
        app.exec()
        shown = window.customers.model.rowCount()
        if shown < 3:
            raise RuntimeError(f"the customer list shows {shown} rows, expected at least 3")
        steps.append(f"read: the customer list shows {shown} customers")
        if app.windowIcon().isNull() or app.windowIcon().pixmap(64, 64).isNull():
            raise RuntimeError("the application icon did not load (cxdesk/resources or Qt's image plugins are missing)")
        steps.append("icon: the application icon loads")

        def write_and_verify(job):
            options.set_value(job.db, actor, "company-name", "Self-test Carrier Ltd", "self-test")
            with job.read() as s:
                if options.get(s, "company-name") != "Self-test Carrier Ltd":
                    raise RuntimeError("the audited write did not persist")
                return audit_chain.verify(s)

        verdict = run(write_and_verify)
        if not verdict.ok:
            raise RuntimeError(verdict.sentence())
        steps.append(f"write: option saved; {verdict.sentence()}")
        window.close()
    except Exception as exc:  # noqa: BLE001 - the smoke test reports any failure
        for s in steps:
            print(f"ok: {s}")
        print(f"self-test FAILED: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    finally:
        ops.close()
        db.close()
    for s in steps:
        print(f"ok: {s}")
    print("self-test passed")
    return 0
