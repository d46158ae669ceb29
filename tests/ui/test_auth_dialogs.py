"""Sign-in dialogs, the start-up flow and Settings > Email, driven with qtbot (never exec())."""
import pytest
from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QDialog
from sqlalchemy import select

from cxdesk.models import AuditEntry, Option
from cxdesk.services import operators, secrets
from cxdesk.services.actor import cli_actor
from cxdesk.ui.kit import dialogs
from cxdesk.ui.operators import auth_dialogs
from cxdesk.ui.operators.auth_dialogs import EmailSettingsPage, FirstAdminDialog, SignInDialog, sign_in_flow
from cxdesk.ui.kit.context import AppContext
from cxdesk.ui.kit.ops import Ops
from cxdesk.ui.kit.tasks import TaskRunner

PW = "Blue-Harbour-42"
# Qt's offscreen platform warns about this for any top-level widget with a layout.
pytestmark = pytest.mark.qt_log_ignore(r"This plugin does not support propagateSizeHints\(\)")


@pytest.fixture(autouse=True)
def no_modal_boxes(monkeypatch):
    """Any modal box would block a test: record instead."""
    shown = []
    monkeypatch.setattr(dialogs, "show_error", lambda parent, exc, title="cxdesk": shown.append(str(exc)))
    monkeypatch.setattr(dialogs, "ask_text", lambda *a, **k: pytest.fail("unexpected question"))
    return shown


@pytest.fixture
def settings(tmp_path):
    s = QSettings(str(tmp_path / "cxdesk.ini"), QSettings.Format.IniFormat)
    yield s
    s.sync()


@pytest.fixture
def with_sam(sqlite_db):
    operators.create_operator(sqlite_db, None, "root", PW, role="admin")
    operators.create_operator(sqlite_db, cli_actor(), "sam", PW, role="staff", display_name="Sam Staff")
    return sqlite_db


def click_ok(qtbot, dialog):
    qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)


def sign_in_with(qtbot, dialog, login, password, remember=None):
    dialog.login_edit.setText(login)
    qtbot.keyClicks(dialog.password_edit, password)
    if remember is not None:
        dialog.remember_box.setChecked(remember)
    click_ok(qtbot, dialog)


def opened(qtbot, dialog):
    qtbot.addWidget(dialog)
    dialog.open()
    assert dialog.isVisible()
    return dialog


def audit_messages(db):
    with db.read_session() as s:
        return s.execute(select(AuditEntry.message).order_by(AuditEntry.id)).scalars().all()


# -- first administrator -------------------------------------------------------


def test_first_admin_dialog_creates_and_signs_in_the_admin(qtbot, sqlite_db):
    dialog = opened(qtbot, FirstAdminDialog(sqlite_db))
    qtbot.keyClicks(dialog.login_edit, "Rita")
    qtbot.keyClicks(dialog.name_edit, "Rita Root")
    qtbot.keyClicks(dialog.password_edit, PW)
    qtbot.keyClicks(dialog.again_edit, PW)
    click_ok(qtbot, dialog)
    assert dialog.result() == QDialog.DialogCode.Accepted and not dialog.isVisible()
    assert (dialog.actor.login, dialog.actor.role, dialog.actor.display_name) == ("rita", "admin", "Rita Root")
    assert operators.has_operators(sqlite_db)
    assert audit_messages(sqlite_db)[-1] == "Signed in"


@pytest.mark.parametrize("password,again,words", [
    (PW, PW + "x", "The two passwords differ"),
    ("short-1", "short-1", "too short (7 characters); use at least 10"),
    ("password123", "password123", "common passwords"),
])
def test_first_admin_dialog_refuses_bad_passwords(qtbot, sqlite_db, password, again, words):
    dialog = opened(qtbot, FirstAdminDialog(sqlite_db))
    qtbot.keyClicks(dialog.login_edit, "rita")
    qtbot.keyClicks(dialog.password_edit, password)
    qtbot.keyClicks(dialog.again_edit, again)
    click_ok(qtbot, dialog)
    assert dialog.isVisible() and dialog.message.isVisible()
    assert words in dialog.message.text()
    assert dialog.login_edit.text() == "rita" and dialog.password_edit.text() == ""
    assert not operators.has_operators(sqlite_db)


def test_flow_on_an_empty_database_shows_the_first_admin_dialog(qtbot, sqlite_db, settings, monkeypatch):
    def run(dialog):
        assert isinstance(dialog, FirstAdminDialog)
        opened(qtbot, dialog)
        dialog.login_edit.setText("rita")
        dialog.password_edit.setText(PW)
        dialog.again_edit.setText(PW)
        click_ok(qtbot, dialog)
        return dialog.result() == QDialog.DialogCode.Accepted

    monkeypatch.setattr(auth_dialogs, "exec_dialog", run)
    actor = sign_in_flow(sqlite_db, settings)
    assert actor.login == "rita" and actor.role == "admin"
    assert settings.value(auth_dialogs.LAST_LOGIN_KEY) == "rita"


def test_flow_returns_none_when_cancelled(sqlite_db, settings, monkeypatch):
    monkeypatch.setattr(auth_dialogs, "exec_dialog", lambda dialog: False)
    assert sign_in_flow(sqlite_db, settings) is None
    operators.create_operator(sqlite_db, None, "root", PW, role="admin")
    assert sign_in_flow(sqlite_db, settings) is None


# -- signing in ------------------------------------------------------------------


def test_sign_in_dialog(qtbot, with_sam, settings):
    dialog = opened(qtbot, SignInDialog(with_sam, settings))
    sign_in_with(qtbot, dialog, "Sam", PW)
    assert dialog.result() == QDialog.DialogCode.Accepted
    assert (dialog.actor.login, dialog.actor.role) == ("sam", "staff")
    assert settings.value(auth_dialogs.LAST_LOGIN_KEY) == "sam"


def test_wrong_password_shows_the_message_and_keeps_the_login(qtbot, with_sam, settings):
    dialog = opened(qtbot, SignInDialog(with_sam, settings))
    sign_in_with(qtbot, dialog, "sam", "not-the-password")
    assert dialog.isVisible() and dialog.actor is None
    assert dialog.message.text() == "The login or password is wrong; check both and try again."
    assert dialog.login_edit.text() == "sam" and dialog.password_edit.text() == ""
    qtbot.keyClicks(dialog.password_edit, PW)  # a second try in the same dialog works
    click_ok(qtbot, dialog)
    assert dialog.result() == QDialog.DialogCode.Accepted and dialog.actor.login == "sam"


def test_lockout_message(qtbot, with_sam, settings):
    dialog = opened(qtbot, SignInDialog(with_sam, settings, login="sam"))
    for _ in range(5):
        qtbot.keyClicks(dialog.password_edit, "not-the-password")
        click_ok(qtbot, dialog)
    assert "Too many failed sign-ins for sam: it is locked until" in dialog.message.text()
    assert "UTC; try again then" in dialog.message.text()
    qtbot.keyClicks(dialog.password_edit, PW)
    click_ok(qtbot, dialog)
    assert dialog.isVisible() and "locked until" in dialog.message.text()


def test_without_keyring_remember_me_is_off_and_says_why(qtbot, with_sam, settings):
    dialog = opened(qtbot, SignInDialog(with_sam, settings))
    sentence = ("No system keyring is available (no Secret Service on D-Bus, or it is locked), so nothing "
                "can be remembered; you can go on and type the password each time.")
    assert not dialog.remember_box.isEnabled() and not dialog.remember_box.isChecked()
    assert dialog.remember_box.toolTip() == sentence
    assert dialog.keyring_note.isVisible() and dialog.keyring_note.text() == sentence
    sign_in_with(qtbot, dialog, "sam", PW)
    assert dialog.result() == QDialog.DialogCode.Accepted  # goes on without remembering


def test_remember_me_stores_in_the_keyring_and_the_next_start_asks_nothing(
        qtbot, with_sam, settings, secret_service, monkeypatch):
    name = auth_dialogs.remembered_secret_name(with_sam, "sam")
    try:
        dialog = opened(qtbot, SignInDialog(with_sam, settings))
        assert dialog.remember_box.isEnabled() and dialog.keyring_note.isHidden()
        sign_in_with(qtbot, dialog, "sam", PW, remember=True)
        assert dialog.result() == QDialog.DialogCode.Accepted
        assert secrets.get_secret(name) == PW
        assert PW not in open(settings.fileName()).read()

        monkeypatch.setattr(auth_dialogs, "exec_dialog", lambda d: pytest.fail("no dialog expected"))
        actor = sign_in_flow(with_sam, settings)
        assert actor.login == "sam" and actor.role == "staff"
        assert audit_messages(with_sam)[-2:] == ["Signed in", "Signed in"]

        auth_dialogs.sign_out_flow(with_sam, settings, actor)
        assert secrets.get_secret(name) is None
        assert audit_messages(with_sam)[-1] == "Signed out"
    finally:
        auth_dialogs.forget_password(with_sam, "sam")


def test_unticking_remember_me_forgets_the_password(qtbot, with_sam, settings, secret_service):
    name = auth_dialogs.remembered_secret_name(with_sam, "sam")
    secrets.set_secret(name, PW)
    settings.setValue(auth_dialogs.REMEMBER_KEY, True)
    dialog = opened(qtbot, SignInDialog(with_sam, settings, login="sam"))
    assert dialog.remember_box.isChecked()
    sign_in_with(qtbot, dialog, "sam", PW, remember=False)
    assert secrets.get_secret(name) is None
    assert settings.value(auth_dialogs.REMEMBER_KEY, type=bool) is False


def test_a_remembered_password_that_stops_working_is_deleted(
        qtbot, with_sam, settings, secret_service, monkeypatch):
    name = auth_dialogs.remembered_secret_name(with_sam, "sam")
    secrets.set_secret(name, PW)
    settings.setValue(auth_dialogs.LAST_LOGIN_KEY, "sam")
    operators.set_password(with_sam, cli_actor(), "sam", "Changed-Elsewhere-7")
    shown = []

    def run(dialog):
        opened(qtbot, dialog)
        shown.append((dialog.login_edit.text(), dialog.message.text()))
        return False

    monkeypatch.setattr(auth_dialogs, "exec_dialog", run)
    assert sign_in_flow(with_sam, settings) is None
    assert shown == [("sam", "The remembered password for sam no longer works; type the current one.")]
    assert secrets.get_secret(name) is None


def test_a_locked_login_keeps_its_remembered_password(qtbot, with_sam, settings, secret_service, monkeypatch):
    name = auth_dialogs.remembered_secret_name(with_sam, "sam")
    secrets.set_secret(name, PW)
    settings.setValue(auth_dialogs.LAST_LOGIN_KEY, "sam")
    try:
        for _ in range(5):
            with pytest.raises(operators.PermissionDenied):
                operators.sign_in(with_sam, "sam", "not-the-password")
        messages = []
        monkeypatch.setattr(auth_dialogs, "exec_dialog",
                            lambda d: messages.append(opened(qtbot, d).message.text()) or False)
        assert sign_in_flow(with_sam, settings) is None
        assert "locked until" in messages[0]
        assert secrets.get_secret(name) == PW
    finally:
        secrets.delete_secret(name)


# -- Settings > Email --------------------------------------------------------------


def make_page(qtbot, db, actor, settings):
    ctx = AppContext(ops=Ops(db, actor, inline=True), actor=actor, settings=settings, db=db,
                     tasks=TaskRunner(synchronous=True))
    page = EmailSettingsPage(ctx)
    qtbot.addWidget(page)
    page.show()
    return page


def fill(page, server, user="", sender="noc@carrier.example", security="None"):
    page.host_edit.setText(server.host)
    page.port_spin.setValue(server.port)
    page.security_combo.setCurrentText(security)
    page.user_edit.setText(user)
    page.sender_edit.setText(sender)


def test_email_page_saves_options_and_the_password_in_the_keyring(
        qtbot, sqlite_db, admin, settings, smtp_server, secret_service):
    server = smtp_server("auth")
    page = make_page(qtbot, sqlite_db, admin, settings)
    assert page.password_edit.placeholderText() == "not stored yet"
    fill(page, server, user=server.username)
    qtbot.keyClicks(page.password_edit, server.password)
    try:
        with qtbot.waitSignal(page.ctx.bus.data_changed):
            qtbot.mouseClick(page.save_button, Qt.MouseButton.LeftButton)
        assert page.status.text() == "The email settings were saved."
        assert page.password_edit.text() == ""
        assert page.password_edit.placeholderText() == "stored in the system keyring; type to replace"
        assert secrets.get_secret("smtp") == server.password
        with sqlite_db.read_session() as s:
            stored = dict(s.execute(select(Option.key, Option.value)).all())
        assert stored["smtp-host"] == server.host and stored["smtp-port"] == str(server.port)
        assert stored["smtp-security"] == "none" and stored["smtp-user"] == server.username
        assert server.password not in repr(stored)

        page.test_to_edit.setText("ann@customer.example")
        qtbot.mouseClick(page.test_button, Qt.MouseButton.LeftButton)
        [msg] = server.wait_for_messages(1)
        assert msg["To"] == "ann@customer.example"
        assert page.status.text() == f"A test email was sent to ann@customer.example through {server.host}:{server.port}."
        assert page.test_button.isEnabled()
    finally:
        secrets.delete_secret("smtp")


def test_email_page_bad_sender_saves_nothing(qtbot, sqlite_db, admin, settings, smtp_server):
    page = make_page(qtbot, sqlite_db, admin, settings)
    fill(page, smtp_server("ok"), sender="not an address")
    qtbot.mouseClick(page.save_button, Qt.MouseButton.LeftButton)
    assert page.status.text() == "Sender Address: 'not an address' is not an email address."
    assert page.sender_edit.text() == "not an address"  # the form keeps what was typed
    with sqlite_db.read_session() as s:
        assert s.execute(select(Option)).first() is None


def test_email_page_without_keyring_refuses_to_save_a_password(qtbot, sqlite_db, admin, settings, smtp_server):
    page = make_page(qtbot, sqlite_db, admin, settings)
    assert page.password_edit.placeholderText() == "not saved: no system keyring"
    assert "No system keyring is available" in page.password_edit.toolTip()
    server = smtp_server("auth")
    fill(page, server, user=server.username)
    page.password_edit.setText(server.password)
    qtbot.mouseClick(page.save_button, Qt.MouseButton.LeftButton)
    assert page.status.text().startswith("No system keyring is available")
    with sqlite_db.read_session() as s:
        assert s.execute(select(Option)).first() is None
    # the typed password still serves a test email
    page.test_to_edit.setText("ann@customer.example")
    qtbot.mouseClick(page.test_button, Qt.MouseButton.LeftButton)
    server.wait_for_messages(1)
    assert page.status.text().startswith("A test email was sent")


def test_email_page_reports_a_failed_test(qtbot, sqlite_db, admin, settings, down_address):
    page = make_page(qtbot, sqlite_db, admin, settings)
    page.host_edit.setText(down_address[0])
    page.port_spin.setValue(down_address[1])
    page.sender_edit.setText("noc@carrier.example")
    page.test_to_edit.setText("ann@customer.example")
    qtbot.mouseClick(page.test_button, Qt.MouseButton.LeftButton)
    assert page.status.text() == (f"The SMTP server {down_address[0]}:{down_address[1]} refused the connection; "
                                  "check the host and port, and that the server is running.")
    assert page.test_button.isEnabled()
    with sqlite_db.read_session() as s:
        assert s.execute(select(AuditEntry).where(AuditEntry.action == "SEND")).first() is None


def test_email_page_asks_for_the_audit_comment(qtbot, sqlite_db, admin, settings, monkeypatch):
    from cxdesk.services import options

    options.set_value(sqlite_db, admin, "audit-comment", "on", comment="policy")
    monkeypatch.setattr(dialogs, "ask_text", lambda *a, **k: "new mail relay")
    page = make_page(qtbot, sqlite_db, admin, settings)
    page.host_edit.setText("relay.carrier.example")
    qtbot.mouseClick(page.save_button, Qt.MouseButton.LeftButton)
    assert page.status.text() == "The email settings were saved."
    with sqlite_db.read_session() as s:
        entry = s.execute(select(AuditEntry).order_by(AuditEntry.id.desc())).scalars().first()
    assert entry.comment == "new mail relay"


def test_email_page_is_read_only_below_admin(qtbot, sqlite_db, supervisor, settings):
    page = make_page(qtbot, sqlite_db, supervisor, settings)
    assert not page.save_button.isEnabled() and not page.test_button.isEnabled()
    assert not page.host_edit.isEnabled()
