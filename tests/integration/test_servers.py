"""The test infrastructure itself: real PostgreSQL, Secret Service, SMTP, CI rules."""

import os
import smtplib
import ssl
import subprocess
import sys
import textwrap
import time
from email.message import EmailMessage
from pathlib import Path

import pytest

import servers

TESTS_DIR = Path(__file__).resolve().parents[1]


def _message(subject="Invoice 2024-001", to="billing@example.test"):
    msg = EmailMessage()
    msg["From"] = "cxdesk@example.test"
    msg["To"] = to
    msg["Subject"] = subject
    msg.set_content("Dear customer,\nyour invoice is attached.\n")
    return msg


# ---------------------------------------------------------------------------
# PostgreSQL
# ---------------------------------------------------------------------------


def test_pg_table_survives_restart(postgres_server, pg_url):
    import psycopg

    dbname = pg_url.rsplit("/", 1)[1]
    with postgres_server.connect(dbname) as conn:
        conn.execute("CREATE TABLE t (id int PRIMARY KEY, name text)")
        conn.execute("INSERT INTO t VALUES (1, 'Ørsted Telecom')")
        assert conn.execute("SHOW fsync").fetchone() == ("off",)
        assert conn.execute("SHOW listen_addresses").fetchone() == ("127.0.0.1",)
        old_pid = conn.info.backend_pid

    conn = postgres_server.connect(dbname)
    postgres_server.restart()
    with pytest.raises(psycopg.OperationalError):
        conn.execute("SELECT 1")  # the old session died with the restart
    conn.close()

    with postgres_server.connect(dbname) as conn:
        assert conn.execute("SELECT name FROM t").fetchall() == [("Ørsted Telecom",)]
        assert conn.info.backend_pid != old_pid


def test_pg_url_with_sqlalchemy(pg_url, postgres_server):
    import sqlalchemy as sa

    assert pg_url.startswith(f"postgresql+psycopg://postgres@127.0.0.1:{postgres_server.port}/")
    engine = sa.create_engine(pg_url)
    try:
        with engine.begin() as conn:
            assert conn.execute(sa.text("SELECT current_database()")).scalar() \
                == pg_url.rsplit("/", 1)[1]
            # a fresh database is empty
            assert conn.execute(sa.text(
                "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")).scalar() == 0
    finally:
        engine.dispose()


def test_pg_password_role(postgres_server, pg_url):
    import psycopg
    import sqlalchemy as sa

    user, good = servers.PostgresServer.TEST_USER, servers.PostgresServer.TEST_PASSWORD
    dbname = pg_url.rsplit("/", 1)[1]
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        postgres_server.connect(dbname, user=user, password="wrong-password")
    with pytest.raises(psycopg.OperationalError, match="no password supplied"):
        postgres_server.connect(dbname, user=user)

    engine = sa.create_engine(postgres_server.url(dbname, user=user, password=good))
    try:
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT current_user")).scalar() == user
    finally:
        engine.dispose()

    bad = sa.create_engine(postgres_server.url(dbname, user=user, password="nope"))
    try:
        with pytest.raises(sa.exc.OperationalError, match="password authentication failed"):
            bad.connect()
    finally:
        bad.dispose()


def test_pg_runs_unprivileged_on_loopback(postgres_server):
    import psycopg

    with postgres_server.connect() as conn:
        data_dir = conn.execute("SHOW data_directory").fetchone()[0]
    owner = os.stat(data_dir).st_uid
    if os.geteuid() == 0:
        assert owner != 0
    # nothing listens on other addresses: the server is only on 127.0.0.1
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(host="127.0.0.2", port=postgres_server.port, user="postgres",
                        dbname="postgres", connect_timeout=2)


def test_db_url_runs_on_both_backends(db_url, request):
    import sqlalchemy as sa

    engine = sa.create_engine(db_url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("CREATE TABLE numbers (e164 varchar(16) PRIMARY KEY)"))
            conn.execute(sa.text("INSERT INTO numbers VALUES ('+4930123456')"))
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT e164 FROM numbers")).scalar() == "+4930123456"
        expected = "sqlite" if request.node.callspec.params["db_url"] == "sqlite" else "postgresql"
        assert engine.dialect.name == expected
    finally:
        engine.dispose()


# ---------------------------------------------------------------------------
# Secret Service keyring
# ---------------------------------------------------------------------------


def choose_standard_backend() -> None:
    """keyring's own choice among its standard backends: a backend class defined by another
    test in this worker (keyring registers every subclass) would otherwise join a chainer."""
    import keyring.core

    servers.reset_python_keyring()
    keyring.core.init_backend(limit=lambda b: type(b).__module__.startswith("keyring.backends.")
                              and type(b).__name__ != "ChainerBackend")


def test_keyring_round_trip(secret_service):
    import keyring
    from keyring.backends import SecretService

    choose_standard_backend()  # afresh for this env, whatever ran before in this worker

    assert os.environ["DBUS_SESSION_BUS_ADDRESS"] == secret_service.env["DBUS_SESSION_BUS_ADDRESS"]
    assert isinstance(keyring.get_keyring(), SecretService.Keyring)
    assert not secret_service.is_locked()

    backend = SecretService.Keyring()
    backend.set_password("cxdesk-test", "alice@db", "s3cret-Ü")
    assert backend.get_password("cxdesk-test", "alice@db") == "s3cret-Ü"
    assert keyring.get_password("cxdesk-test", "alice@db") == "s3cret-Ü"
    backend.delete_password("cxdesk-test", "alice@db")
    assert backend.get_password("cxdesk-test", "alice@db") is None


def test_keyring_from_subprocess(secret_service):
    import keyring

    keyring.set_password("cxdesk-test", "bob", "from-parent")
    code = ("import keyring; print(type(keyring.get_keyring()).__module__); "
            "print(keyring.get_password('cxdesk-test', 'bob'))")
    out = subprocess.run([sys.executable, "-c", code], env=secret_service.subprocess_env(),
                         capture_output=True, text=True, timeout=60, check=True).stdout
    assert out.split() == ["keyring.backends.SecretService", "from-parent"]
    keyring.delete_password("cxdesk-test", "bob")


def test_tests_without_keyring_fixture_see_no_keyring():
    import keyring
    from keyring.backends import fail

    assert isinstance(keyring.get_keyring(), fail.Keyring)


def test_no_dbus_fails_cleanly(no_keyring):
    import keyring
    import secretstorage

    from keyring.backends import SecretService, fail
    from keyring.errors import NoKeyringError

    choose_standard_backend()  # afresh for this env, whatever ran before in this worker

    assert os.environ["DBUS_SESSION_BUS_ADDRESS"] == no_keyring["DBUS_SESSION_BUS_ADDRESS"]
    # keyring's own choice falls back to the "fail" backend, which raises on use ...
    assert isinstance(keyring.get_keyring(), fail.Keyring)
    with pytest.raises(NoKeyringError):
        keyring.get_password("cxdesk-test", "alice")
    with pytest.raises(NoKeyringError):
        keyring.set_password("cxdesk-test", "alice", "pw")
    # ... the SecretService backend reports itself unusable ...
    with pytest.raises(RuntimeError, match="Unable to initialize SecretService"):
        SecretService.Keyring.priority  # noqa: B018
    # ... and used directly it raises secretstorage's error (not a KeyringError).
    with pytest.raises(secretstorage.exceptions.SecretServiceNotAvailableException):
        SecretService.Keyring().get_password("cxdesk-test", "alice")


def test_dbus_socket_path_missing_leaks_oserror(no_keyring, monkeypatch, tmp_path):
    """A bus address naming a file that does not exist: secretstorage only wraps
    ConnectionError, so the raw FileNotFoundError escapes the SecretService backend.
    keyring's own backend choice still copes (it falls back to "fail")."""
    import keyring
    from keyring.backends import SecretService, fail

    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", f"unix:path={tmp_path / 'nothing'}")
    servers.reset_python_keyring()
    assert isinstance(keyring.get_keyring(), fail.Keyring)
    with pytest.raises(FileNotFoundError):
        SecretService.Keyring().get_password("cxdesk-test", "alice")


def test_dbus_address_unset(no_keyring, monkeypatch):
    import secretstorage
    from keyring.backends import SecretService

    monkeypatch.delenv("DBUS_SESSION_BUS_ADDRESS")
    with pytest.raises(secretstorage.exceptions.SecretServiceNotAvailableException,
                       match="DBUS_SESSION_BUS_ADDRESS is unset"):
        SecretService.Keyring().get_password("cxdesk-test", "alice")


def test_locked_collection(secret_service_factory):
    import keyring
    from keyring.backends import SecretService
    from keyring.errors import KeyringLocked

    session = secret_service_factory(locked=True)
    assert session.is_locked()
    assert isinstance(keyring.get_keyring(), SecretService.Keyring)
    start = time.monotonic()
    with pytest.raises(KeyringLocked):
        keyring.get_password("cxdesk-test", "alice")
    with pytest.raises(KeyringLocked):
        keyring.set_password("cxdesk-test", "alice", "pw")
    assert time.monotonic() - start < 5  # no prompt to wait for


# ---------------------------------------------------------------------------
# SMTP
# ---------------------------------------------------------------------------


def test_smtp_ok(smtp_server):
    server = smtp_server("ok")
    with smtplib.SMTP(server.host, server.port, timeout=5) as client:
        client.send_message(_message())
    (msg,) = server.wait_for_messages(1)
    assert msg["Subject"] == "Invoice 2024-001"
    assert "your invoice is attached" in msg.get_content()
    assert server.envelopes[0][:2] == ("cxdesk@example.test", ["billing@example.test"])


def test_smtp_auth(smtp_server):
    server = smtp_server("auth")
    with smtplib.SMTP(server.host, server.port, timeout=5) as client:
        with pytest.raises(smtplib.SMTPAuthenticationError):
            client.login(server.username, "wrong")
    with smtplib.SMTP(server.host, server.port, timeout=5) as client:
        with pytest.raises(smtplib.SMTPSenderRefused) as exc:
            client.send_message(_message())  # no AUTH
        assert exc.value.smtp_code == 530
    with smtplib.SMTP(server.host, server.port, timeout=5) as client:
        client.login(server.username, server.password)
        client.send_message(_message())
    server.wait_for_messages(1)
    assert server.envelopes[0][2] is True  # authenticated


def test_smtp_refuse(smtp_server):
    server = smtp_server("refuse")
    with smtplib.SMTP(server.host, server.port, timeout=5) as client:
        with pytest.raises(smtplib.SMTPRecipientsRefused) as exc:
            client.send_message(_message())
    assert exc.value.recipients["billing@example.test"][0] == 550

    server = smtp_server("refuse", refuse_at="data")
    with smtplib.SMTP(server.host, server.port, timeout=5) as client:
        with pytest.raises(smtplib.SMTPDataError) as exc:
            client.send_message(_message())
    assert exc.value.smtp_code == 550
    assert server.messages == []


def test_smtp_starttls(smtp_server):
    server = smtp_server("starttls")
    assert Path(server.ca_pem_path).read_text().startswith("-----BEGIN CERTIFICATE-----")
    with smtplib.SMTP(server.host, server.port, timeout=5) as client:
        with pytest.raises(smtplib.SMTPSenderRefused):
            client.send_message(_message())  # TLS required first
    with smtplib.SMTP(server.host, server.port, timeout=5) as client:
        client.starttls(context=ssl.create_default_context(cafile=server.ca_pem_path))
        client.send_message(_message())
    server.wait_for_messages(1)
    # the system CA store does not know our test CA
    with smtplib.SMTP(server.host, server.port, timeout=5) as client:
        with pytest.raises(ssl.SSLCertVerificationError):
            client.starttls(context=ssl.create_default_context())


def test_smtp_starttls_with_auth(smtp_server):
    server = smtp_server("starttls", auth=True)
    with smtplib.SMTP(server.host, server.port, timeout=5) as client:
        client.starttls(context=server.client_ssl_context())
        client.login(server.username, server.password)
        client.send_message(_message())
    assert server.wait_for_messages(1)


def test_smtp_untrusted_certificate(smtp_server):
    server = smtp_server("starttls", untrusted_cert=True)
    with smtplib.SMTP(server.host, server.port, timeout=5) as client:
        with pytest.raises(ssl.SSLCertVerificationError):
            client.starttls(context=server.client_ssl_context())


def test_smtp_ssl(smtp_server):
    server = smtp_server("ssl")
    with smtplib.SMTP_SSL(server.host, server.port, timeout=5,
                          context=server.client_ssl_context()) as client:
        client.send_message(_message())
    server.wait_for_messages(1)
    with pytest.raises(ssl.SSLCertVerificationError):
        smtplib.SMTP_SSL(server.host, server.port, timeout=5,
                         context=ssl.create_default_context())
    bad = smtp_server("ssl", untrusted_cert=True)
    with pytest.raises(ssl.SSLCertVerificationError):
        smtplib.SMTP_SSL(bad.host, bad.port, timeout=5, context=bad.client_ssl_context())


def test_smtp_hang_times_out(smtp_server):
    server = smtp_server("hang")
    start = time.monotonic()
    # smtplib wraps the read timeout of the greeting into SMTPServerDisconnected
    with pytest.raises(smtplib.SMTPServerDisconnected, match="timed out"):
        smtplib.SMTP(server.host, server.port, timeout=0.5)
    assert 0.4 < time.monotonic() - start < 3


def test_down_address_refuses(down_address):
    start = time.monotonic()
    with pytest.raises(ConnectionRefusedError):
        smtplib.SMTP(*down_address, timeout=5)
    assert time.monotonic() - start < 2


# ---------------------------------------------------------------------------
# The rules of the test run itself (pytest in a subprocess with the root conftest)
# ---------------------------------------------------------------------------


def _run_pytest(tmp_path, source, *args, ci):
    (tmp_path / "test_inner.py").write_text(textwrap.dedent(source))
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "PYTEST_ADDOPTS")}
    env.pop("PYTEST_XDIST_WORKER", None)
    if ci:
        env["CI"] = "true"
    env["PYTHONPATH"] = os.pathsep.join([str(TESTS_DIR), env.get("PYTHONPATH", "")]).rstrip(
        os.pathsep)
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "conftest", "-p", "no:cacheprovider",
         "-q", "-rfEs", "test_inner.py", *args],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
    )


SKIPPING = """
    import pytest

    def test_passes():
        pass

    def test_skips():
        pytest.skip("PostgreSQL server binaries not found")

    @pytest.fixture
    def needs_service():
        pytest.skip("no service here")

    def test_skips_in_fixture(needs_service):
        pass

    @pytest.mark.xfail(reason="known bug", strict=True)
    def test_xfails():
        assert False
"""


def test_skip_is_fine_locally(tmp_path):
    proc = _run_pytest(tmp_path, SKIPPING, ci=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "1 passed, 2 skipped, 1 xfailed" in proc.stdout


def test_skip_fails_in_ci(tmp_path):
    proc = _run_pytest(tmp_path, SKIPPING, ci=True)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    # a skip in a fixture becomes a setup error, a skip in the test a failure
    assert "1 failed, 1 passed, 1 xfailed, 1 error" in proc.stdout
    assert "CI=true forbids skipping (call): PostgreSQL server binaries not found" in proc.stdout
    assert "CI=true forbids skipping (setup): no service here" in proc.stdout


def test_skip_fails_in_ci_under_xdist(tmp_path):
    proc = _run_pytest(tmp_path, SKIPPING, "-n", "2", ci=True)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "1 failed, 1 passed, 1 xfailed, 1 error" in proc.stdout


def test_module_level_skip_fails_in_ci(tmp_path):
    source = """
        import pytest
        pytest.importorskip("no_such_module_cxdesk")

        def test_never():
            pass
    """
    local = _run_pytest(tmp_path, source, ci=False)
    assert local.returncode == 5 and "1 skipped" in local.stdout  # 5: no test ran
    proc = _run_pytest(tmp_path, source, ci=True)
    assert proc.returncode != 0, proc.stdout + proc.stderr
    assert "CI=true forbids skipping (collection)" in proc.stdout


def test_qt_warning_fails_test_and_clipboard_exit_is_clean(tmp_path):
    source = """
        from PySide6.QtCore import QMimeData, qWarning
        from PySide6.QtWidgets import QApplication

        def test_warns(qapp):
            qWarning("something is off")

        def test_clipboard(qapp):
            data = QMimeData()
            data.setText("+49 30 123456")
            QApplication.clipboard().setMimeData(data)

        def test_quiet(qapp):
            pass
    """
    proc = _run_pytest(tmp_path, source, ci=False)
    # 1, not 139: without the clipboard clean-up Qt offscreen segfaults at exit
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "1 failed, 2 passed" in proc.stdout
    assert "something is off" in proc.stdout
