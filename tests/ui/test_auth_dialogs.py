"""Sign-in dialogs, the start-up flow and Settings > Email, driven with qtbot (never exec()).

The dialogs get the operations layer, never the database: ``Ops(db, inline=True)`` makes a
test read like a script; the ``threaded`` tests use the real asynchronous runner."""
import threading

import pytest
import shiboken6
from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QDialog
from sqlalchemy import select

from cxdesk.models import AuditEntry, Option
from cxdesk.services import mail, operators, options, secrets
from cxdesk.services.actor import cli_actor
from cxdesk.ui.kit import dialogs
from cxdesk.ui.kit.ops import Ops
from cxdesk.ui.operators import sign_in
from cxdesk.ui.operators.sign_in import FirstAdminDialog, SignInDialog, sign_in_flow
from cxdesk.ui.settings.email_page import EmailSettingsPage

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
def make_ops(qtbot, sqlite_db):
    made = []

    def make(inline: bool = True) -> Ops:
        made.append(Ops(sqlite_db, inline=inline))
        return made[-1]

    yield make
    for o in made:
        o.close()


@pytest.fixture
def ops(make_ops) -> Ops:
    """Inline: each service call runs on a worker thread, and the call waits for it."""
    return make_ops()


@pytest.fixture
def threaded_ops(make_ops) -> Ops:
    return make_ops(inline=False)


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


def test_first_admin_dialog_creates_and_signs_in_the_admin(qtbot, ops, sqlite_db):
    dialog = opened(qtbot, FirstAdminDialog(ops))
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
    ("password123", "password123", "This password is too easy to guess: This is a very common password."),
])
def test_first_admin_dialog_refuses_bad_passwords(qtbot, ops, sqlite_db, password, again, words):
    dialog = opened(qtbot, FirstAdminDialog(ops))
    qtbot.keyClicks(dialog.login_edit, "rita")
    qtbot.keyClicks(dialog.password_edit, password)
    qtbot.keyClicks(dialog.again_edit, again)
    click_ok(qtbot, dialog)
    assert dialog.isVisible() and dialog.message.isVisible()
    assert words in dialog.message.text()
    assert dialog.login_edit.text() == "rita" and dialog.password_edit.text() == ""
    assert not operators.has_operators(sqlite_db)


def test_flow_on_an_empty_database_shows_the_first_admin_dialog(qtbot, ops, sqlite_db, settings, monkeypatch):
    def run(dialog):
        assert isinstance(dialog, FirstAdminDialog)
        opened(qtbot, dialog)
        dialog.login_edit.setText("rita")
        dialog.password_edit.setText(PW)
        dialog.again_edit.setText(PW)
        click_ok(qtbot, dialog)
        return dialog.result() == QDialog.DialogCode.Accepted

    monkeypatch.setattr(sign_in, "exec_dialog", run)
    actor = sign_in_flow(ops, settings)
    assert actor.login == "rita" and actor.role == "admin"
    assert settings.value(sign_in.LAST_LOGIN_KEY) == "rita"


def test_flow_returns_none_when_cancelled(ops, sqlite_db, settings, monkeypatch):
    monkeypatch.setattr(sign_in, "exec_dialog", lambda dialog: False)
    assert sign_in_flow(ops, settings) is None
    operators.create_operator(sqlite_db, None, "root", PW, role="admin")
    assert sign_in_flow(ops, settings) is None


# -- signing in ------------------------------------------------------------------


def test_sign_in_dialog(qtbot, ops, with_sam, settings):
    dialog = opened(qtbot, SignInDialog(ops, settings))
    sign_in_with(qtbot, dialog, "Sam", PW)
    assert dialog.result() == QDialog.DialogCode.Accepted
    assert (dialog.actor.login, dialog.actor.role) == ("sam", "staff")
    assert settings.value(sign_in.LAST_LOGIN_KEY) == "sam"


def test_wrong_password_shows_the_message_and_keeps_the_login(qtbot, ops, with_sam, settings):
    dialog = opened(qtbot, SignInDialog(ops, settings))
    sign_in_with(qtbot, dialog, "sam", "not-the-password")
    assert dialog.isVisible() and dialog.actor is None
    assert dialog.message.text() == operators.SIGN_IN_REFUSED
    assert dialog.login_edit.text() == "sam" and dialog.password_edit.text() == ""
    qtbot.keyClicks(dialog.password_edit, PW)  # a second try in the same dialog works
    click_ok(qtbot, dialog)
    assert dialog.result() == QDialog.DialogCode.Accepted and dialog.actor.login == "sam"


def test_lockout_message(qtbot, ops, with_sam, settings):
    dialog = opened(qtbot, SignInDialog(ops, settings, login="sam"))
    for _ in range(5):
        qtbot.keyClicks(dialog.password_edit, "not-the-password")
        click_ok(qtbot, dialog)
    # the lock is not announced (same text as a wrong password), but it holds: the right password is refused
    assert dialog.message.text() == operators.SIGN_IN_REFUSED
    with with_sam.read_session() as s:
        assert s.scalar(select(operators.Operator.locked_until).where(operators.Operator.login == "sam")) is not None
    qtbot.keyClicks(dialog.password_edit, PW)
    click_ok(qtbot, dialog)
    assert dialog.isVisible() and dialog.actor is None
    assert dialog.message.text() == operators.SIGN_IN_REFUSED


def test_without_keyring_remember_me_is_off_and_says_why(qtbot, ops, with_sam, settings):
    dialog = opened(qtbot, SignInDialog(ops, settings))
    sentence = ("No system keyring is available (no Secret Service on D-Bus, or it is locked), so nothing "
                "can be remembered; you can go on and type the password each time.")
    assert not dialog.remember_box.isEnabled() and not dialog.remember_box.isChecked()
    assert dialog.remember_box.toolTip() == sentence
    assert dialog.keyring_note.isVisible() and dialog.keyring_note.text() == sentence
    sign_in_with(qtbot, dialog, "sam", PW)
    assert dialog.result() == QDialog.DialogCode.Accepted  # goes on without remembering


def test_remember_me_stores_in_the_keyring_and_the_next_start_asks_nothing(
        qtbot, ops, with_sam, settings, secret_service, monkeypatch):
    name = sign_in.remembered_secret_name(ops, "sam")
    try:
        dialog = opened(qtbot, SignInDialog(ops, settings))
        assert dialog.remember_box.isEnabled() and dialog.keyring_note.isHidden()
        sign_in_with(qtbot, dialog, "sam", PW, remember=True)
        assert dialog.result() == QDialog.DialogCode.Accepted
        assert secrets.get_secret(name) == PW
        assert PW not in open(settings.fileName()).read()

        monkeypatch.setattr(sign_in, "exec_dialog", lambda d: pytest.fail("no dialog expected"))
        actor = sign_in_flow(ops, settings)
        assert actor.login == "sam" and actor.role == "staff"
        assert audit_messages(with_sam)[-2:] == ["Signed in", "Signed in"]

        sign_in.sign_out_flow(ops, settings, actor)
        assert secrets.get_secret(name) is None
        assert audit_messages(with_sam)[-1] == "Signed out"
    finally:
        sign_in.forget_password(ops, "sam")


def test_unticking_remember_me_forgets_the_password(qtbot, ops, with_sam, settings, secret_service):
    name = sign_in.remembered_secret_name(ops, "sam")
    secrets.set_secret(name, PW)
    settings.setValue(sign_in.REMEMBER_KEY, True)
    dialog = opened(qtbot, SignInDialog(ops, settings, login="sam"))
    assert dialog.remember_box.isChecked()
    sign_in_with(qtbot, dialog, "sam", PW, remember=False)
    assert secrets.get_secret(name) is None
    assert settings.value(sign_in.REMEMBER_KEY, type=bool) is False


def test_a_remembered_password_that_stops_working_is_deleted(
        qtbot, ops, with_sam, settings, secret_service, monkeypatch):
    name = sign_in.remembered_secret_name(ops, "sam")
    secrets.set_secret(name, PW)
    settings.setValue(sign_in.LAST_LOGIN_KEY, "sam")
    operators.set_password(with_sam, cli_actor(), "sam", "Changed-Elsewhere-7")
    shown = []

    def run(dialog):
        opened(qtbot, dialog)
        shown.append((dialog.login_edit.text(), dialog.message.text()))
        return False

    monkeypatch.setattr(sign_in, "exec_dialog", run)
    assert sign_in_flow(ops, settings) is None
    assert shown == [("sam", "The remembered password for sam no longer works; type the current one.")]
    assert secrets.get_secret(name) is None


def test_a_locked_login_keeps_its_remembered_password(qtbot, ops, with_sam, settings, secret_service, monkeypatch):
    name = sign_in.remembered_secret_name(ops, "sam")
    secrets.set_secret(name, PW)
    settings.setValue(sign_in.LAST_LOGIN_KEY, "sam")
    try:
        for _ in range(5):
            with pytest.raises(operators.PermissionDenied):
                operators.sign_in(with_sam, "sam", "not-the-password")
        messages = []
        monkeypatch.setattr(sign_in, "exec_dialog",
                            lambda d: messages.append(opened(qtbot, d).message.text()) or False)
        assert sign_in_flow(ops, settings) is None
        assert messages[0] == operators.SIGN_IN_REFUSED
        assert secrets.get_secret(name) == PW
    finally:
        secrets.delete_secret(name)


# -- Settings > Email --------------------------------------------------------------


@pytest.fixture
def make_page(qtbot, make_ctx, sqlite_db):
    def make(actor, *, inline: bool = True) -> EmailSettingsPage:
        page = EmailSettingsPage(make_ctx(sqlite_db, actor, inline=inline))
        qtbot.addWidget(page)
        page.show()
        return page

    return make


def fill(page, server, user="", sender="noc@carrier.example", security="None"):
    page.host_edit.setText(server.host)
    page.port_spin.setValue(server.port)
    page.security_combo.setCurrentText(security)
    page.user_edit.setText(user)
    page.sender_edit.setText(sender)


def test_email_page_saves_options_and_the_password_in_the_keyring(
        qtbot, make_page, sqlite_db, admin, smtp_server, secret_service):
    server = smtp_server("auth")
    page = make_page(admin)
    assert page.password_edit.placeholderText() == "not stored yet"
    fill(page, server, user=server.username)
    qtbot.keyClicks(page.password_edit, server.password)
    try:
        with qtbot.waitSignal(page.ctx.changes.changed):
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


def test_email_page_bad_sender_saves_nothing(qtbot, make_page, sqlite_db, admin, smtp_server):
    page = make_page(admin)
    fill(page, smtp_server("ok"), sender="not an address")
    qtbot.mouseClick(page.save_button, Qt.MouseButton.LeftButton)
    assert page.status.text() == "Sender Address: 'not an address' is not an email address."
    assert page.sender_edit.text() == "not an address"  # the form keeps what was typed
    with sqlite_db.read_session() as s:
        assert s.execute(select(Option)).first() is None


def test_email_page_without_keyring_refuses_to_save_a_password(qtbot, make_page, sqlite_db, admin, smtp_server):
    page = make_page(admin)
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


def test_email_page_reports_a_failed_test(qtbot, make_page, sqlite_db, admin, down_address):
    page = make_page(admin)
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


def test_email_page_asks_for_the_audit_comment(qtbot, make_page, sqlite_db, admin, monkeypatch):
    options.set_value(sqlite_db, admin, "audit-comment", "on", comment="policy")
    monkeypatch.setattr(dialogs, "ask_text", lambda *a, **k: "new mail relay")
    page = make_page(admin)
    page.host_edit.setText("relay.carrier.example")
    qtbot.mouseClick(page.save_button, Qt.MouseButton.LeftButton)
    assert page.status.text() == "The email settings were saved."
    with sqlite_db.read_session() as s:
        entry = s.execute(select(AuditEntry).order_by(AuditEntry.id.desc())).scalars().first()
    assert entry.comment == "new mail relay"


def test_email_page_is_read_only_below_admin(qtbot, make_page, sqlite_db, supervisor):
    page = make_page(supervisor)
    assert not page.save_button.isEnabled() and not page.test_button.isEnabled()
    assert not page.host_edit.isEnabled()


# -- with the real asynchronous runner ------------------------------------------------------


class Gate:
    """Makes a function wait until the test opens the gate; ``then`` runs after (by default
    the real function)."""

    def __init__(self, monkeypatch, module, name, then=None) -> None:
        self.open_ = threading.Event()
        self.calls = []
        real = then or getattr(module, name)

        def held(*args, **kwargs):
            self.calls.append(args)
            assert self.open_.wait(10), "the test never opened the gate"
            return real(*args, **kwargs)

        monkeypatch.setattr(module, name, held)

    def open(self) -> None:
        self.open_.set()


def test_ops_call_runs_on_a_worker_and_raises_its_error_here(qtbot, threaded_ops):
    on_worker = threaded_ops.call(lambda job: threading.current_thread() is not threading.main_thread())
    assert on_worker is True
    with pytest.raises(ZeroDivisionError):
        threaded_ops.call(lambda job: 1 / 0)
    qtbot.waitUntil(lambda: not threaded_ops.busy)


def test_threaded_sign_in_waits_for_its_worker_and_a_second_click_does_nothing(
        qtbot, threaded_ops, with_sam, settings, monkeypatch):
    gate = Gate(monkeypatch, operators, "sign_in")
    before = len(audit_messages(with_sam))
    dialog = opened(qtbot, SignInDialog(threaded_ops, settings))
    sign_in_with(qtbot, dialog, "sam", PW)
    qtbot.waitUntil(lambda: len(gate.calls) == 1)
    assert dialog.isVisible() and not dialog.ok_button.isEnabled() and dialog.actor is None
    click_ok(qtbot, dialog)
    dialog.accept()  # Enter: ignored while the sign-in runs
    dialog.reject()  # Escape too: the sign-in being written needs its dialog
    assert dialog.isVisible()
    gate.open()
    qtbot.waitUntil(lambda: dialog.result() == QDialog.DialogCode.Accepted)
    assert dialog.actor.login == "sam" and not dialog.isVisible()
    assert len(gate.calls) == 1 and audit_messages(with_sam)[before:] == ["Signed in"]
    assert settings.value(sign_in.LAST_LOGIN_KEY) == "sam"


def test_a_sign_in_dialog_deleted_while_signing_in_gets_no_callback(
        qtbot, threaded_ops, with_sam, settings, monkeypatch):
    gate = Gate(monkeypatch, operators, "sign_in")
    dialog = SignInDialog(threaded_ops, settings)
    dialog.open()
    sign_in_with(qtbot, dialog, "sam", PW)
    qtbot.waitUntil(lambda: len(gate.calls) == 1)
    shiboken6.delete(dialog)
    gate.open()
    qtbot.waitUntil(lambda: not threaded_ops.busy)
    assert audit_messages(with_sam)[-1] == "Signed in"  # the worker finished its work...
    assert settings.value(sign_in.LAST_LOGIN_KEY) is None  # ...but nothing called back into the dead dialog


def test_the_flow_with_threaded_ops(qtbot, threaded_ops, sqlite_db, settings, secret_service, monkeypatch):
    """The flow waits for has_operators and the remembered password on the worker; the
    first-admin dialog gets its result through its own event loop."""
    def run(dialog):
        opened(qtbot, dialog)
        dialog.login_edit.setText("rita")
        dialog.password_edit.setText(PW)
        dialog.again_edit.setText(PW)
        click_ok(qtbot, dialog)
        assert dialog.result() != QDialog.DialogCode.Accepted  # not yet: the worker runs
        qtbot.waitUntil(lambda: dialog.result() == QDialog.DialogCode.Accepted)
        return True

    monkeypatch.setattr(sign_in, "exec_dialog", run)
    assert sign_in_flow(threaded_ops, settings).login == "rita"
    name = sign_in.remembered_secret_name(threaded_ops, "rita")
    secrets.set_secret(name, PW)
    try:
        monkeypatch.setattr(sign_in, "exec_dialog", lambda d: pytest.fail("no dialog expected"))
        actor = sign_in_flow(threaded_ops, settings)
        assert actor.login == "rita" and audit_messages(sqlite_db)[-1] == "Signed in"
        closed = []
        sign_in.sign_out_flow(threaded_ops, settings, actor, done=lambda: closed.append(True))
        assert secrets.get_secret(name) is None  # forgotten at once
        qtbot.waitUntil(lambda: closed == [True])
        assert audit_messages(sqlite_db)[-1] == "Signed out"
    finally:
        secrets.delete_secret(name)


def test_threaded_email_page_loads_then_keeps_typed_values_when_the_save_is_refused(
        qtbot, make_page, sqlite_db, admin):
    mail.save_settings(sqlite_db, admin, {"smtp-host": "relay.carrier.example", "smtp-sender": "noc@carrier.example"})
    page = make_page(admin, inline=False)
    assert not page.loaded and not page.save_button.isEnabled() and page.host_edit.text() == ""
    qtbot.waitUntil(lambda: page.loaded)
    assert page.host_edit.text() == "relay.carrier.example" and page.save_button.isEnabled()
    page.sender_edit.setText("not an address")
    qtbot.mouseClick(page.save_button, Qt.MouseButton.LeftButton)
    assert not page.save_button.isEnabled()  # while the writer works
    qtbot.waitUntil(lambda: page.save_button.isEnabled())
    assert page.status.text() == "Sender Address: 'not an address' is not an email address."
    assert page.sender_edit.text() == "not an address" and page.host_edit.text() == "relay.carrier.example"


def test_an_email_page_deleted_while_saving_gets_no_callback(qtbot, make_ctx, sqlite_db, admin, monkeypatch):
    saved = []
    monkeypatch.setattr(EmailSettingsPage, "_saved", lambda self, result: saved.append(result))
    gate = Gate(monkeypatch, mail, "save_settings")
    ctx = make_ctx(sqlite_db, admin, inline=False)
    page = EmailSettingsPage(ctx)
    page.show()
    qtbot.waitUntil(lambda: page.loaded)
    page.host_edit.setText("relay.carrier.example")
    qtbot.mouseClick(page.save_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: len(gate.calls) == 1)
    shiboken6.delete(page)
    gate.open()
    qtbot.waitUntil(lambda: not ctx.ops.busy)
    with sqlite_db.read_session() as s:
        assert options.get(s, "smtp-host") == "relay.carrier.example"  # saved...
    assert saved == []  # ...and nothing called back into the deleted page
