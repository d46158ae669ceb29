"""Settings, About, the first-start welcome, the crash dialog and the log file."""
from __future__ import annotations

import logging
import sys

import pytest
from PySide6.QtWidgets import QLineEdit
from sqlalchemy import select

from cxdesk import config, logsetup, paths
from cxdesk.models import AuditEntry
from cxdesk.services import options
from cxdesk.ui import app as app_module
from cxdesk.ui.kit import dialogs
from cxdesk.ui.about import AboutDialog
from cxdesk.ui.settings.settings_dialog import SettingsDialog
from cxdesk.ui.welcome import WelcomeDialog, first_start


def test_settings_saves_changed_options_and_keeps_bad_input(ctx, qtbot):
    dialog = SettingsDialog(ctx)
    qtbot.addWidget(dialog)
    dialog.open()
    page = dialog.options_page
    page.fields["block-size"].setText("250")
    page.fields["portal-url"].setText("https://portal.example.com")
    dialog.save()
    assert dialog.isVisible()
    assert "power of ten" in page.error.text()
    assert page.fields["block-size"].text() == "250"  # what was typed is kept
    with ctx.db.read_session() as s:
        assert options.get(s, "block-size") == ""
        assert options.get(s, "portal-url") == ""  # nothing is saved while one value is wrong
    page.fields["block-size"].setText("1000")
    dialog.save()
    assert not dialog.isVisible()
    with ctx.db.read_session() as s:
        assert options.get(s, "block-size") == "1000"
        assert options.get(s, "portal-url") == "https://portal.example.com"
        messages = list(s.scalars(select(AuditEntry.message).where(AuditEntry.table_name == "options")))
    assert any("block-size" in m for m in messages)


def test_settings_choice_options_are_drop_downs(ctx, qtbot):
    dialog = SettingsDialog(ctx)
    qtbot.addWidget(dialog)
    combo = dialog.options_page.fields["invoice-line-grouping"]
    assert [combo.itemText(i) for i in range(combo.count())] == ["day", "destination"]
    assert not isinstance(combo, QLineEdit)


def test_about_shows_version_database_keyring_and_paths(ctx, qtbot):
    dialog = AboutDialog(ctx)
    qtbot.addWidget(dialog)
    assert dialog.values["Database"] == str(ctx.db.path)
    assert dialog.values["Keyring"] == "none"  # tests run without a keyring unless they ask for one
    assert dialog.values["Data folder"] == str(paths.data_dir())
    assert dialog.values["Log folder"] == str(paths.log_dir())


def test_welcome_defaults_to_demo_and_tests_a_server(qtbot, postgres_server):
    dialog = WelcomeDialog()
    qtbot.addWidget(dialog)
    assert dialog.choice() == "demo" and not dialog.server_form.isEnabled()
    dialog.server.setChecked(True)
    assert dialog.server_form.isEnabled()
    dialog.host.setText("127.0.0.1")
    dialog.port.setValue(postgres_server.port)
    dialog.database.setText("postgres")
    dialog.user.setText("cxdesk_test")
    dialog.password.setText("wrong-password")
    assert not dialog.test_connection()
    assert "password" in dialog.message.text()
    name = "welcome_" + str(postgres_server.port)
    postgres_server.create_database(name, owner="cxdesk_test")
    dialog.database.setText(name)
    dialog.password.setText("pw-Test-1234")
    assert dialog.test_connection(), dialog.message.text()
    assert "Connected" in dialog.message.text()
    assert "pw-Test" not in dialog.server_url().render_as_string(hide_password=False)


def test_first_start_is_skipped_when_the_default_database_exists(qsettings):
    paths.default_database_path().parent.mkdir(parents=True, exist_ok=True)
    paths.default_database_path().write_bytes(b"")
    assert first_start(qsettings) is None
    assert config.load().database_url == ""


def test_unexpected_exception_is_logged_and_shown_with_details(monkeypatch, qtbot, tmp_path):
    shown = []
    monkeypatch.setattr(dialogs, "show_unexpected", lambda parent, exc, details: shown.append((exc, details)))
    monkeypatch.setattr(sys, "excepthook", sys.excepthook)
    log_path = logsetup.setup()
    app_module.install_excepthook()
    try:
        raise RuntimeError("boom in a slot")
    except RuntimeError:
        sys.excepthook(*sys.exc_info())
    assert shown and isinstance(shown[0][0], RuntimeError) and "boom in a slot" in shown[0][1]
    for h in logging.getLogger().handlers:
        h.flush()
    assert "boom in a slot" in log_path.read_text()
    assert log_path.parent == paths.log_dir()


def test_user_errors_from_slots_get_the_plain_message(monkeypatch):
    from cxdesk.errors import ValidationError

    shown = []
    monkeypatch.setattr(dialogs, "show_error", lambda parent, error, title="cxdesk": shown.append(str(error)))
    monkeypatch.setattr(sys, "excepthook", sys.excepthook)
    app_module.install_excepthook()
    try:
        raise ValidationError("Type the contact's name.")
    except ValidationError:
        sys.excepthook(*sys.exc_info())
    assert shown == ["Type the contact's name."]


@pytest.fixture(autouse=True)
def _drop_log_handlers():
    yield
    root = logging.getLogger()
    for h in list(root.handlers):
        if isinstance(h, logging.handlers.RotatingFileHandler):
            root.removeHandler(h)
            h.close()


def test_admins_manage_operators_in_settings(ctx, qtbot, answers):
    from sqlalchemy import select as sql_select

    from cxdesk.errors import UserError
    from cxdesk.models import AuditEntry
    from cxdesk.services import operators

    dialog = SettingsDialog(ctx)
    qtbot.addWidget(dialog)
    page = dialog.operators_page
    assert [dialog.tabs.tabText(i) for i in range(dialog.tabs.count())] == ["Options", "Email", "Operators"]
    page.new_login.setText("kim")
    page.new_role.setCurrentText("accountant")
    page.new_password.setText("Kim-Str0ng-pass")
    page.new_again.setText("Kim-Str0ng-pasz")
    page.add()
    assert "differ" in page.error.text() and page.model.rowCount() == 0
    page.new_again.setText("Kim-Str0ng-pass")
    page.new_password.setText("short")
    page.new_again.setText("short")
    page.add()
    assert "too short" in page.error.text() and page.new_login.text() == "kim"  # form kept
    page.new_password.setText("Kim-Str0ng-pass")
    page.new_again.setText("Kim-Str0ng-pass")
    page.add()
    assert [(o.login, o.role) for o in page.model.rows()] == [("kim", "accountant")]
    page.view.selectRow(0)
    page.role.setCurrentText("supervisor")
    page.change_role()
    assert page.model.row_at(0).role == "supervisor"
    page.view.selectRow(0)
    page.toggle_active()
    assert page.model.row_at(0).active is False
    with pytest.raises(UserError):
        operators.sign_in(ctx.db, "kim", "Kim-Str0ng-pass")
    with ctx.db.read_session() as s:
        messages = list(s.scalars(sql_select(AuditEntry.message).where(AuditEntry.table_name == "operators")))
    assert any("kim" in m for m in messages) and len(messages) >= 3


def test_settings_without_operators_page_for_non_admins(make_ctx, sqlite_db, supervisor, qtbot):
    dialog = SettingsDialog(make_ctx(sqlite_db, supervisor))
    qtbot.addWidget(dialog)
    assert not hasattr(dialog, "operators_page")
