"""UI fixtures: an AppContext on a real SQLite file with a synchronous task runner, and
modal questions answered by the test (dialogs are never exec()'d in tests)."""
from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QSettings

from cxdesk.ui import dialogs
from cxdesk.ui.context import AppContext
from cxdesk.ui.tasks import TaskRunner


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


@pytest.fixture
def make_ctx(qtbot, qsettings, answers):
    def make(db, actor) -> AppContext:
        return AppContext(db=db, actor=actor, tasks=TaskRunner(synchronous=True), settings=qsettings)
    return make


@pytest.fixture
def ctx(make_ctx, sqlite_db, admin) -> AppContext:
    return make_ctx(sqlite_db, admin)
