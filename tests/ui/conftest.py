"""UI fixtures: an AppContext on a real SQLite file, modal questions answered by the test
(dialogs are never exec()'d in tests), and a guard that fails any test in which UI code
runs SQL on the GUI thread.

``ctx`` uses the operations layer in its inline mode: every function still runs on a
worker thread, but the call waits and delivers the callbacks before returning, so a test
reads like a script. ``threaded_ctx`` uses the real asynchronous runner (progress, cancel,
closing a widget while its work runs); such tests wait with ``qtbot.waitUntil``.
"""
from __future__ import annotations

import sys
import threading
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings
from sqlalchemy import event
from sqlalchemy.engine import Engine

from cxdesk.ui.kit import dialogs
from cxdesk.ui.kit.context import AppContext
from cxdesk.ui.kit.ops import Ops


class Answers:
    """Records every modal question and answers it as the test said."""

    def __init__(self) -> None:
        self.confirm = True
        self.text: list[str | None] = []
        self.errors: list[str] = []
        self.infos: list[str] = []
        self.questions: list[str] = []
        self.save_path: str | None = None


@pytest.fixture
def answers(monkeypatch) -> Answers:
    a = Answers()

    def confirm(parent, title, text, ok_text="OK"):
        a.questions.append(text)
        return a.confirm

    def ask_text(parent, title, label, text=""):
        a.questions.append(label)
        return a.text.pop(0) if a.text else None

    monkeypatch.setattr(dialogs, "confirm", confirm)
    monkeypatch.setattr(dialogs, "ask_text", ask_text)
    monkeypatch.setattr(dialogs, "show_error", lambda parent, error, title="cxdesk": a.errors.append(str(error)))
    monkeypatch.setattr(dialogs, "info", lambda parent, title, text: a.infos.append(text))
    monkeypatch.setattr(dialogs, "save_file", lambda parent, title, name, filters: a.save_path)

    def unexpected(parent, exc, details):
        raise AssertionError(f"unexpected error dialog: {details}")

    monkeypatch.setattr(dialogs, "show_unexpected", unexpected)
    return a


@pytest.fixture
def qsettings(tmp_path: Path) -> QSettings:
    return QSettings(str(tmp_path / "cxdesk.ini"), QSettings.Format.IniFormat)


UI_DIR = str(Path(__file__).resolve().parents[2] / "cxdesk" / "ui")


class GuiThreadSql:
    """Statements that UI code (a frame under cxdesk/ui/) ran on the GUI thread."""

    def __init__(self) -> None:
        self.offences: list[str] = []
        self.armed = True

    def __call__(self, conn, cursor, statement, parameters, context, executemany) -> None:
        if not self.armed or threading.current_thread() is not threading.main_thread():
            return
        frame = sys._getframe(1)
        while frame is not None:
            if frame.f_code.co_filename.startswith(UI_DIR):
                self.offences.append(f"{frame.f_code.co_filename}:{frame.f_lineno}: {statement[:120]}")
                return
            frame = frame.f_back


@pytest.fixture(autouse=True)
def gui_thread_sql():
    """Fails the test when UI code executed SQL on the GUI thread (DESIGN.md: never)."""
    guard = GuiThreadSql()
    event.listen(Engine, "before_cursor_execute", guard)
    yield guard
    event.remove(Engine, "before_cursor_execute", guard)
    assert guard.offences == [], "SQL ran on the GUI thread:\n" + "\n".join(guard.offences)


@pytest.fixture
def make_ctx(qtbot, qsettings, answers):
    made: list[AppContext] = []

    def make(db, actor, *, inline: bool = True) -> AppContext:
        ops = Ops(db, actor, inline=inline)
        ctx = AppContext(ops=ops, actor=actor, settings=qsettings)
        made.append(ctx)
        return ctx

    yield make
    for ctx in made:
        ctx.ops.close()


@pytest.fixture
def threaded_ctx(make_ctx, sqlite_db, admin) -> AppContext:
    """The real asynchronous operations layer (waits are the test's job)."""
    return make_ctx(sqlite_db, admin, inline=False)


@pytest.fixture
def ctx(make_ctx, sqlite_db, admin) -> AppContext:
    return make_ctx(sqlite_db, admin)


@pytest.fixture
def model_tester():
    """``model_tester(model)`` checks the model with QAbstractItemModelTester for the whole
    test: the testers are kept alive until the test ends, so every reset, insert and layout
    change the test causes is checked, not only the model's first state. A violation is a
    Qt warning, and Qt warnings fail the test."""
    from PySide6.QtTest import QAbstractItemModelTester

    testers: list[QAbstractItemModelTester] = []

    def check(model):
        testers.append(QAbstractItemModelTester(model, QAbstractItemModelTester.FailureReportingMode.Warning))
        return testers[-1]

    yield check
    testers.clear()
