"""Start the desktop program: open the database, sign in, show the main window."""
from __future__ import annotations

import argparse
import logging
import os
import sys
import traceback

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QApplication

from cxdesk import APP_NAME, __version__, config, logsetup
from cxdesk.errors import UserError

log = logging.getLogger(__name__)


def qt_environment() -> None:
    """Qt settings for the desktop program, made before its application object.

    QT_NO_GUI_THREADPOOL (any value turns the pool off): Qt splits a large fill (a view's
    background, a tall scroll bar) over a pool of threads and waits for them. On a desktop
    with two cores whose database work runs on other threads, those waits cost more than
    the fill: a 14-pixel-wide scroll bar took 2.3 ms to paint instead of 0.2 ms, and a
    window repaint (bench gui_session) carried several of them. Painting on the GUI thread
    alone keeps each frame short."""
    os.environ.setdefault("QT_NO_GUI_THREADPOOL", "1")


def make_app(argv: list[str] | None = None) -> QApplication:
    app = QApplication.instance()
    if app is None:
        qt_environment()
        app = QApplication(argv if argv is not None else sys.argv[:1])
    app.setApplicationName(APP_NAME)
    app.setOrganizationName(APP_NAME)
    app.setApplicationVersion(__version__)
    app.setDesktopFileName("cxdesk")
    from cxdesk.ui.kit import resources

    icon = resources.app_icon()
    if icon is not None:
        app.setWindowIcon(icon)
    return app


def settings() -> QSettings:
    return QSettings(QSettings.Format.IniFormat, QSettings.Scope.UserScope, APP_NAME, APP_NAME)


def install_excepthook() -> None:
    """An unexpected exception: logged, shown with "Copy details"; the open forms stay."""
    from cxdesk.ui.kit import dialogs

    def hook(exc_type, exc, tb):
        details = "".join(traceback.format_exception(exc_type, exc, tb))
        if isinstance(exc, UserError):
            dialogs.show_error(QApplication.activeWindow(), exc)
            return
        log.error("unexpected exception\n%s", details)
        dialogs.show_unexpected(QApplication.activeWindow(), exc, details)

    sys.excepthook = hook


def run(args: argparse.Namespace) -> int:
    from cxdesk.db import open_database
    from cxdesk.services.secrets import lookup_quietly
    from cxdesk.ui.kit import dialogs
    from cxdesk.ui.kit.context import AppContext
    from cxdesk.ui.main_window import MainWindow
    from cxdesk.ui.kit.ops import Ops

    logsetup.setup()
    app = make_app()
    install_excepthook()
    from cxdesk.ui.kit.collector import GuiThreadCollector

    app.collector = GuiThreadCollector(app)
    qs = settings()
    url = config.database_url(args.db)
    if url is None and not args.self_test:
        from cxdesk.ui.welcome import first_start

        url = first_start(qs)
        if url is False:
            return 0
    try:
        db = open_database(url, password_lookup=lookup_quietly)
    except UserError as exc:
        dialogs.show_error(None, exc, "cxdesk: cannot open the database")
        return 1
    if args.self_test:
        from cxdesk.ui.selftest import self_test

        return self_test(app, db, qs)
    from cxdesk.ui.operators.sign_in import sign_in_flow

    ops = Ops(db)
    try:
        actor = sign_in_flow(ops, qs)
    except UserError as exc:  # e.g. the server went away between opening and signing in
        dialogs.show_error(None, exc, "cxdesk: cannot sign in")
        actor = None
    if actor is None:
        ops.close()
        db.close()
        return 0
    ops.actor = actor
    witnessed = ops.call(_check_witness)  # the audit log still extends what this computer saw?
    if not witnessed.ok:
        dialogs.show_error(None, f"{witnessed.sentence} Tell a supervisor: Audit Log > Verify integrity "
                                 "shows more.", "cxdesk: the audit log was tampered with")
    ctx = AppContext(ops=ops, actor=actor, settings=qs)
    # other workstations' changes appear within a second, from the last entry before any view loads
    ctx.changes.start_watching(ops.call(_last_entry))
    window = MainWindow(ctx)
    window.show()
    code = app.exec()
    ops.close()
    db.close()
    return code


def _last_entry(job) -> int:
    from cxdesk.services.changes import last_entry_id

    with job.read() as session:
        return last_entry_id(session)


def _check_witness(job):
    from cxdesk.services import audit_witness

    return audit_witness.check_database(job.db)
