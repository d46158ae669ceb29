"""A full session with every kind of secret, then a search of everything cxdesk writes.

Operator passwords (typed and remembered), the SMTP password, a PostgreSQL password and
a contact's generated portal password are used for real: none of them may turn up in
the SQLite database (+ WAL), the settings file, QSettings, the logs or the work dir.
"""
import logging
import os
import uuid
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings, Qt
from sqlalchemy import select

from cxdesk import config, paths
from cxdesk.db import open_database, secret_name_for
from cxdesk.models import Contact, Customer
from cxdesk.services import mail, operators, passwords, secrets
from cxdesk.services.uow import unit_of_work
from cxdesk.ui.kit.context import AppContext
from cxdesk.ui.kit.ops import Ops
from cxdesk.ui.operators import sign_in
from cxdesk.ui.operators.sign_in import SignInDialog
from cxdesk.ui.settings.email_page import EmailSettingsPage
from servers import files_containing

pytestmark = [pytest.mark.slow,
              pytest.mark.qt_log_ignore(r"This plugin does not support propagateSizeHints\(\)")]




class _NotTheTestServer(logging.Filter):
    """aiosmtpd (the test's SMTP server, running in this process) is not cxdesk."""

    def filter(self, record):
        return not record.name.startswith("mail.")


@pytest.fixture
def debug_log():
    """Everything cxdesk and its libraries log, at DEBUG, into a file in the log dir; SQL
    statements with their parameters too (SQLAlchemy keeps its loggers at WARNING)."""
    log_dir = paths.log_dir()
    log_dir.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(log_dir / "cxdesk.log", encoding="utf-8")
    handler.addFilter(_NotTheTestServer())
    handler.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
    root, sql = logging.getLogger(), logging.getLogger("sqlalchemy.engine")
    old_levels = root.level, sql.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    sql.setLevel(logging.DEBUG)
    yield log_dir
    root.removeHandler(handler)
    root.setLevel(old_levels[0])
    sql.setLevel(old_levels[1])
    handler.close()


@pytest.fixture
def pg_role(postgres_server):
    """A PostgreSQL role with a fresh random password, and a database it owns."""
    from psycopg import sql

    role, dbname = "leak_" + uuid.uuid4().hex[:8], "t_" + uuid.uuid4().hex[:12]
    password = "Pg-" + passwords.generate_password()
    with postgres_server.connect() as conn:
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(sql.Identifier(role), sql.Literal(password)))
    postgres_server.create_database(dbname, owner=role)
    yield postgres_server.url(dbname, user=role), password
    postgres_server.drop_database(dbname)
    with postgres_server.connect() as conn:
        conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))


def test_no_secret_is_written_anywhere(qtbot, secret_service, smtp_server, pg_role, run_cli, debug_log, tmp_path):
    admin_pw = "Adm-" + passwords.generate_password()
    staff_pw = "Stf-" + passwords.generate_password()
    smtp_pw = "Smtp-" + passwords.generate_password()
    pg_url, pg_pw = pg_role
    server = smtp_server("auth", password=smtp_pw)
    cli_env = {"CXDESK_LOG_LEVEL": "DEBUG"}
    cli_log = debug_log / "cli.log"

    def cli(*args, **kw):
        done = run_cli(*args, env=cli_env, **kw)
        with cli_log.open("a", encoding="utf-8") as fh:
            fh.write(done.stdout + done.stderr)
        assert done.returncode == 0, done.stderr
        return done

    # operators through the CLI, on the default (embedded) database
    cli("operator", "add", "root", "--role", "admin", "--password-stdin", input=admin_pw + "\n")
    cli("operator", "add", "sam", "--role", "staff", "--name", "Sam Staff", "--password-stdin", input=staff_pw + "\n",
        operator=("root", admin_pw))
    db = open_database()
    assert db.path == paths.default_database_path()
    qsettings_path = Path(os.environ["XDG_CONFIG_HOME"]) / "cxdesk" / "cxdesk.ini"
    qsettings = QSettings(str(qsettings_path), QSettings.Format.IniFormat)
    ops = Ops(db, inline=True)  # no operator yet: as at the program's start
    try:
        # sign in with "Remember me", then a second start signs in from the keyring; a failed try too
        dialog = SignInDialog(ops, qsettings)
        qtbot.addWidget(dialog)
        dialog.open()
        dialog.login_edit.setText("root")
        qtbot.keyClicks(dialog.password_edit, staff_pw)  # the wrong one first
        qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)
        qtbot.keyClicks(dialog.password_edit, admin_pw)
        dialog.remember_box.setChecked(True)
        qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)
        assert dialog.actor is not None
        admin = sign_in.sign_in_flow(ops, qsettings)
        assert admin.login == "root"
        ops.actor = admin
        staff = operators.sign_in(db, "sam", staff_pw)

        # Settings > Email with its password; the PostgreSQL password through the CLI
        page = EmailSettingsPage(AppContext(ops=ops, actor=admin, settings=qsettings))
        qtbot.addWidget(page)
        page.host_edit.setText(server.host)
        page.port_spin.setValue(server.port)
        page.security_combo.setCurrentText("None")
        page.user_edit.setText(server.username)
        page.sender_edit.setText("noc@carrier.example")
        qtbot.keyClicks(page.password_edit, smtp_pw)
        qtbot.mouseClick(page.save_button, Qt.MouseButton.LeftButton)
        assert page.status.text() == "The email settings were saved."
        root = ("root", admin_pw)  # changes from the CLI sign in once the database has operators
        cli("options", "set", "portal-url", "https://portal.carrier.example", operator=root)
        cli("email", "allow-plaintext-passwords", "on", operator=root)  # the test server speaks plain SMTP
        cli("--db", pg_url, "secret", "set", "db", "--stdin", input=pg_pw + "\n")
        # the settings file gets the server URL (with the password typed into it: it is stripped)
        config.save(config.Config(database_url=pg_url.replace("@", f":{pg_pw}@", 1)))
        cli("options", "show")  # now on the PostgreSQL server, the password from the keyring
        cli("--db", str(db.path), "email", "test", "ops@carrier.example", operator=root)

        # a contact gets a generated portal password by email
        with unit_of_work(db, staff) as uow:
            customer = uow.add(Customer(name="Acme Telecom", currency="EUR"))
            uow.flush()
            contact = uow.add(Contact(customer_id=customer.id, name="Ann Smith", email="ann@acme.example",
                                      email_key="ann@acme.example"))
            uow.flush()
            contact_id = contact.id
        portal_pw = passwords.generate_password()
        with db.read_session() as s:
            smtp_settings = mail.SmtpSettings.load(s)
        with unit_of_work(db, staff) as uow:
            c = uow.session.get(Contact, contact_id)
            c.password_hash = passwords.hash_password(portal_pw)
            mail.send_password_email(uow, smtp_settings, c.email, c.email_key, portal_pw,
                                     table="contacts", primary_key=c.id, customer_id=c.customer_id)
        messages = server.wait_for_messages(2)
        assert portal_pw in messages[-1].get_content()
        operators.sign_out(db, staff)
        qsettings.sync()

        used = {"admin": admin_pw, "staff": staff_pw, "smtp": smtp_pw, "postgres": pg_pw, "portal": portal_pw}
        # every secret really was kept: in the keyring (or, for the portal one, only as a hash)
        assert secrets.get_secret(sign_in.remembered_secret_name(ops, "root")) == admin_pw
        assert secrets.get_secret("smtp") == smtp_pw
        assert secrets.get_secret(secret_name_for(pg_url)) == pg_pw
        with db.read_session() as s:
            assert passwords.verify_password(portal_pw, s.execute(select(Contact.password_hash)).scalar_one())

        wal = Path(str(db.path) + "-wal")
        assert wal.exists() and wal.stat().st_size > 0  # still open: recent pages live in the WAL
        roots = [paths.data_dir(), Path(os.environ["XDG_CONFIG_HOME"]), Path(os.environ["XDG_STATE_HOME"]),
                 Path(os.environ["XDG_CACHE_HOME"]), tmp_path]
        assert qsettings_path.exists() and config.Config().path.exists()
        logged = (debug_log / "cxdesk.log").read_text(encoding="utf-8")
        assert "UPDATE contacts SET password_hash" in logged and "INSERT INTO audit_entries" in logged
        assert "created operator sam (staff)" in cli_log.read_text(encoding="utf-8")
        assert all(r.exists() for r in roots[:3])
        for what, secret in used.items():
            assert files_containing(roots, secret) == [], f"the {what} password was written to disk"
    finally:
        ops.close()
        db.close()
        for name in (sign_in.remembered_secret_name(ops, "root"), "smtp", secret_name_for(pg_url)):
            secrets.delete_secret(name)
    for what, secret in used.items():  # after the final checkpoint too
        assert files_containing([paths.data_dir()], secret) == [], what

    # the search can fail: a secret written on purpose is found where it was written
    canary = paths.log_dir() / "canary.log"
    canary.write_text(f"oops {smtp_pw} oops", encoding="utf-8")
    assert files_containing(roots, smtp_pw) == [canary]
