"""Settings, About, the first-start welcome, the crash dialog and the log file."""
from __future__ import annotations

import logging
import sys
import threading

import pytest
import shiboken6
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog, QLineEdit
from sqlalchemy import func, select

from cxdesk import config, logsetup, paths
from cxdesk.db import default_url, open_database
from cxdesk.errors import DatabaseUnavailable
from cxdesk.models import AuditEntry, Customer, SipUser
from cxdesk.services import demo, operators, options
from cxdesk.services.uow import unit_of_work
from cxdesk.ui import app as app_module
from cxdesk.ui import welcome
from cxdesk.ui.kit import dialogs
from cxdesk.ui.about import AboutDialog
from cxdesk.ui.operators import sign_in
from cxdesk.ui.settings.settings_dialog import SettingsDialog
from cxdesk.ui.welcome import WelcomeDialog, first_start
from tests.ui.test_auth_dialogs import Gate

PW = "Kim-Str0ng-pass"


def test_settings_saves_changed_options_and_keeps_bad_input(ctx, sqlite_db, qtbot):
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
    with sqlite_db.read_session() as s:
        assert options.get(s, "block-size") == ""
        assert options.get(s, "portal-url") == ""  # nothing is saved while one value is wrong
    page.fields["block-size"].setText("1000")
    dialog.save()
    assert not dialog.isVisible()
    with sqlite_db.read_session() as s:
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


def test_about_shows_version_database_keyring_and_paths(ctx, sqlite_db, qtbot):
    dialog = AboutDialog(ctx)
    qtbot.addWidget(dialog)
    assert dialog.values["Database"] == str(sqlite_db.path)
    assert dialog.values["Keyring"] == "none"  # tests run without a keyring unless they ask for one
    assert dialog.values["Data folder"] == str(paths.data_dir())
    assert dialog.values["Log folder"] == str(paths.log_dir())


def test_welcome_defaults_to_demo_and_tests_a_server(qtbot, postgres_server):
    dialog = WelcomeDialog()
    qtbot.addWidget(dialog)
    dialog.open()
    assert dialog.choice() == "demo" and not dialog.server_form.isEnabled()
    dialog.server.setChecked(True)
    assert dialog.server_form.isEnabled()
    dialog.host.setText("127.0.0.1")
    dialog.port.setValue(postgres_server.port)
    dialog.database.setText("postgres")
    dialog.user.setText("cxdesk_test")
    dialog.password.setText("wrong-password")
    assert not connection_test_outcome(qtbot, dialog)
    assert "password" in dialog.message.text()
    name = "welcome_" + str(postgres_server.port)
    postgres_server.create_database(name, owner="cxdesk_test")
    dialog.database.setText(name)
    dialog.password.setText("pw-Test-1234")
    assert connection_test_outcome(qtbot, dialog), dialog.message.text()
    assert "Connected" in dialog.message.text()
    assert "pw-Test" not in dialog.server_url().render_as_string(hide_password=False)
    with qtbot.waitSignal(dialog.accepted):  # Start tests the server again, then closes
        qtbot.mouseClick(dialog.start_button, Qt.MouseButton.LeftButton)


def connection_test_outcome(qtbot, dialog) -> bool:
    """Click Test connection; the test runs in the background: its outcome."""
    with qtbot.waitSignal(dialog.tested, timeout=15_000) as outcome:
        qtbot.mouseClick(dialog.test_button, Qt.MouseButton.LeftButton)
        assert not dialog.test_button.isEnabled() and dialog.progress.isVisible()
    assert dialog.test_button.isEnabled() and not dialog.progress.isVisible()
    return outcome.args[0]


@pytest.fixture
def own_data_dir(tmp_path, monkeypatch):
    """A data dir of this test's own: the no-keyring environment shares one between tests
    (tests/servers.py no_keyring_env), and these tests create the default database."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "own-data"))
    assert not paths.default_database_path().exists()


def test_first_start_is_skipped_when_the_default_database_exists(qsettings, own_data_dir):
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


def test_admins_manage_operators_in_settings(ctx, sqlite_db, qtbot, answers, model_tester):
    from sqlalchemy import select as sql_select

    from cxdesk.errors import UserError
    from cxdesk.models import AuditEntry
    from cxdesk.services import operators

    dialog = SettingsDialog(ctx)
    qtbot.addWidget(dialog)
    page = dialog.operators_page
    assert [dialog.tabs.tabText(i) for i in range(dialog.tabs.count())] == ["Options", "Company", "Email", "Operators"]
    dialog.show()
    dialog.tabs.setCurrentWidget(page)
    qtbot.waitUntil(lambda: page.loads == 1)
    model_tester(page.model)
    model_tester(page.proxy)
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
    qtbot.waitUntil(lambda: page.model.rowCount() == 1)  # reloaded through the change the write committed
    assert [(o.login, o.role) for o in page.model.rows()] == [("kim", "accountant")]
    assert page.new_login.text() == "" and page.new_password.text() == ""
    page.view.selectRow(0)
    page.role.setCurrentText("supervisor")
    page.change_role()
    qtbot.waitUntil(lambda: page.model.row_at(0).role == "supervisor")
    assert page.current().login == "kim"  # the selection is kept across the reload
    page.toggle_active()
    qtbot.waitUntil(lambda: page.model.row_at(0).active is False)
    with pytest.raises(UserError):
        operators.sign_in(sqlite_db, "kim", "Kim-Str0ng-pass")
    with sqlite_db.read_session() as s:
        messages = list(s.scalars(sql_select(AuditEntry.message).where(AuditEntry.table_name == "operators")))
    assert any("kim" in m for m in messages) and len(messages) >= 3


def test_settings_without_operators_page_for_non_admins(make_ctx, sqlite_db, supervisor, qtbot):
    dialog = SettingsDialog(make_ctx(sqlite_db, supervisor))
    qtbot.addWidget(dialog)
    assert not hasattr(dialog, "operators_page")


# -- with the real asynchronous runner ------------------------------------------------------


def test_operators_page_shows_another_writers_change_and_reloads_when_hidden_only_when_shown(
        threaded_ctx, sqlite_db, admin, qtbot, model_tester):
    operators.create_operator(sqlite_db, admin, "kim", PW, role="staff")
    dialog = SettingsDialog(threaded_ctx)
    qtbot.addWidget(dialog)
    dialog.show()
    page = dialog.operators_page
    model_tester(page.model)
    model_tester(page.proxy)
    qtbot.waitUntil(lambda: dialog.save_button.isEnabled())  # the options arrived
    assert page.loads == 0 and page.model.rowCount() == 0  # its tab is not shown: not loaded
    dialog.tabs.setCurrentWidget(page)
    qtbot.waitUntil(lambda: page.loads == 1)
    assert [(o.login, o.role) for o in page.model.rows()] == [("kim", "staff")]

    operators.set_role(sqlite_db, admin, "kim", "supervisor")  # another writer
    qtbot.waitUntil(lambda: page.model.row_at(0).role == "supervisor")
    assert page.loads == 2

    dialog.tabs.setCurrentWidget(dialog.email_page)
    operators.set_role(sqlite_db, admin, "kim", "accountant")
    qtbot.waitUntil(lambda: page.stale)
    qtbot.wait(100)
    assert page.loads == 2 and page.model.row_at(0).role == "supervisor"  # hidden: marked stale only
    dialog.tabs.setCurrentWidget(page)
    qtbot.waitUntil(lambda: page.loads == 3)
    assert page.model.row_at(0).role == "accountant"


def test_operators_page_shows_a_refused_write_and_keeps_the_form(threaded_ctx, sqlite_db, admin, qtbot,
                                                                 model_tester):
    operators.create_operator(sqlite_db, admin, "kim", PW, role="staff")
    dialog = SettingsDialog(threaded_ctx)
    qtbot.addWidget(dialog)
    dialog.show()
    page = dialog.operators_page
    model_tester(page.model)
    dialog.tabs.setCurrentWidget(page)
    qtbot.waitUntil(lambda: page.loads == 1)
    page.new_login.setText("Kim")
    page.new_name.setText("Kim Again")
    page.new_password.setText(PW)
    page.new_again.setText(PW)
    qtbot.mouseClick(page.add_button, Qt.MouseButton.LeftButton)
    assert not page.add_button.isEnabled()  # while the writer works
    qtbot.waitUntil(lambda: page.add_button.isEnabled())
    assert page.error.text() == "There is already an operator with the login kim; choose another login."
    assert (page.new_login.text(), page.new_name.text(), page.new_password.text()) == ("Kim", "Kim Again", PW)
    assert page.model.rowCount() == 1


def test_settings_load_in_the_background_and_a_server_refusal_keeps_the_form(
        threaded_ctx, sqlite_db, admin, make_customer, qtbot):
    customer = make_customer(sqlite_db)
    with unit_of_work(sqlite_db, admin) as uow:
        uow.add(SipUser(customer_id=customer, username="2001", ha1="0" * 32))
    dialog = SettingsDialog(threaded_ctx)
    qtbot.addWidget(dialog)
    dialog.show()
    page = dialog.options_page
    assert not dialog.save_button.isEnabled() and not page.fields["sip-realm"].isEnabled()
    qtbot.waitUntil(lambda: dialog.save_button.isEnabled())
    assert page.fields["sip-realm"].text() == "cxdesk"
    page.fields["sip-realm"].setText("sip.carrier.example")
    dialog.tabs.setCurrentWidget(dialog.email_page)
    qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
    assert not dialog.save_button.isEnabled()
    qtbot.waitUntil(lambda: dialog.save_button.isEnabled())
    assert dialog.isVisible() and dialog.tabs.currentWidget() is page
    assert page.error.text().startswith("SIP Realm: The SIP realm cannot change while 1 SIP user(s) exist")
    assert page.fields["sip-realm"].text() == "sip.carrier.example"  # what was typed is kept
    with sqlite_db.read_session() as s:
        assert options.get(s, "sip-realm") == "cxdesk"


def test_a_settings_dialog_closed_while_saving_neither_crashes_nor_calls_back(
        threaded_ctx, sqlite_db, qtbot, monkeypatch):
    saved = []
    monkeypatch.setattr(SettingsDialog, "_saved", lambda self, stored: saved.append(stored))
    gate = Gate(monkeypatch, options, "set_value")
    dialog = SettingsDialog(threaded_ctx)
    dialog.show()
    qtbot.waitUntil(lambda: dialog.save_button.isEnabled())
    dialog.options_page.fields["portal-url"].setText("https://portal.carrier.example")
    dialog.save()
    qtbot.waitUntil(lambda: len(gate.calls) == 1)
    dialog.reject()  # Cancel while the save runs: the dialog is deleted
    qtbot.waitUntil(lambda: not shiboken6.isValid(dialog))
    gate.open()
    qtbot.waitUntil(lambda: not threaded_ctx.ops.busy)
    with sqlite_db.read_session() as s:
        assert options.get(s, "portal-url") == "https://portal.carrier.example"  # the save finished...
    assert saved == []  # ...and nothing called back into the deleted dialog


def test_first_start_loads_the_demo_off_the_gui_thread_with_progress(qtbot, qsettings, monkeypatch, own_data_dir):
    monkeypatch.setattr(welcome, "DEMO_CUSTOMERS", 3)
    monkeypatch.setattr(welcome, "DEMO_DAYS", 2)
    threads, texts = [], []
    real_load = demo.load_demo

    def load(*args, **kwargs):
        threads.append(threading.current_thread())
        return real_load(*args, **kwargs)

    monkeypatch.setattr(demo, "load_demo", load)

    def run(dialog):
        qtbot.addWidget(dialog)
        dialog.open()
        show = dialog._show_progress
        dialog._show_progress = lambda done, total, text: (texts.append(text), show(done, total, text))
        assert dialog.choice() == "demo"
        qtbot.mouseClick(dialog.start_button, Qt.MouseButton.LeftButton)
        assert dialog.isVisible() and dialog.progress.isVisible() and not dialog.start_button.isEnabled()
        dialog.reject()  # Cancel is off while the demo loads
        assert dialog.isVisible()
        qtbot.waitUntil(lambda: dialog.result() == QDialog.DialogCode.Accepted, timeout=60_000)
        return True

    monkeypatch.setattr(sign_in, "exec_dialog", run)
    assert first_start(qsettings) is None
    assert threads and threads[0] is not threading.main_thread()
    assert texts[0] == "Creating the demo database..."
    assert texts[-1].startswith("Added ") and texts[-1].endswith(" demo calls; adding them up for the summaries...")
    db = open_database(default_url())
    try:
        with db.read_session() as s:
            assert s.scalar(select(func.count()).select_from(Customer)) == 3
    finally:
        db.close()


def test_a_welcome_dialog_deleted_while_testing_the_server_gets_no_callback(qtbot, monkeypatch):
    def refuse(url, **kwargs):
        raise DatabaseUnavailable("The server is down.")

    gate = Gate(monkeypatch, welcome, "open_database", then=refuse)
    dialog = WelcomeDialog()
    dialog.show()
    dialog.server.setChecked(True)
    outcomes = []
    dialog.tested.connect(outcomes.append)
    qtbot.mouseClick(dialog.test_button, Qt.MouseButton.LeftButton)
    assert dialog.message.text() == "Connecting to localhost:5432..." and not dialog.test_button.isEnabled()
    qtbot.waitUntil(lambda: len(gate.calls) == 1)
    shiboken6.delete(dialog)
    gate.open()
    qtbot.waitUntil(lambda: not welcome._running)
    assert outcomes == []
