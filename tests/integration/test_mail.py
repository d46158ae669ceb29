"""Email through a real SMTP server (aiosmtpd on 127.0.0.1), including servers that fail."""
import json

import pytest
from sqlalchemy import select

from cxdesk.errors import PermissionDenied, ValidationError
from cxdesk.models import AuditEntry, Contact, Option
from cxdesk.services import mail, options, passwords, secrets
from cxdesk.services.mail import MailError, SmtpSettings
from cxdesk.services.uow import unit_of_work

SENDER = "noc@carrier.example"
TO = "ann.smith@customer.example"


def settings_for(server, security=None, user="", password=None, **kw):
    return SmtpSettings(host=server.host, port=server.port,
                        security=security or {"starttls": "starttls", "ssl": "ssl"}.get(server.mode, "none"),
                        user=user, sender=SENDER, password=password, **kw)


def audit(db):
    with db.read_session() as s:
        return s.execute(select(AuditEntry).order_by(AuditEntry.id)).scalars().all()


def test_plain_delivery(smtp_server):
    server = smtp_server("ok")
    mail.send(settings_for(server), TO, "Grüße", "Hello,\nline two ✓\n")
    [msg] = server.wait_for_messages(1)
    assert msg["From"] == SENDER and msg["To"] == TO and msg["Subject"] == "Grüße"
    assert msg["Message-ID"].endswith("@carrier.example>") and msg["Date"]
    assert msg.get_content().replace("\r\n", "\n") == "Hello,\nline two ✓\n"
    [(mail_from, rcpts, authenticated)] = server.envelopes
    assert (mail_from, rcpts, bool(authenticated)) == (SENDER, [TO], False)


def test_password_message_is_plain_and_names_url_and_login():
    subject, body = mail.password_message("https://portal.example.com", TO, "Xy7-secret-Zw9")
    assert subject == "Your customer portal password"
    assert "https://portal.example.com" in body and f"Login:    {TO}" in body
    assert "Password: Xy7-secret-Zw9" in body
    assert body.startswith("Hello,") and "Kind regards" in body


def test_authenticated_delivery(smtp_server):
    server = smtp_server("auth")
    mail.send(settings_for(server, user=server.username, password=server.password), TO, "s", "b")
    server.wait_for_messages(1)
    assert server.envelopes[0][2] is True


@pytest.mark.parametrize("mode", ["starttls", "ssl"])
def test_authenticated_delivery_over_tls(smtp_server, mode):
    server = smtp_server(mode, auth=True)
    settings = settings_for(server, user=server.username, password=server.password)
    mail.send(settings, TO, "s", "b", cafile=server.ca_pem_path)
    server.wait_for_messages(1)
    assert server.envelopes[0][2] is True


def test_wrong_credentials(smtp_server):
    server = smtp_server("auth")
    with pytest.raises(MailError) as err:
        mail.send(settings_for(server, user=server.username, password="Wrong-Pass-99"), TO, "s", "b")
    assert f"The SMTP server {server.host}:{server.port} did not accept the user name or password" in str(err.value)
    assert "Wrong-Pass-99" not in str(err.value)
    assert server.messages == []


def test_server_that_wants_auth_but_no_user_is_set(smtp_server):
    server = smtp_server("auth")
    with pytest.raises(MailError, match=r"requires sign-in \(530 5.7.0 Authentication required\); set the user and password"):
        mail.send(settings_for(server), TO, "s", "b")


@pytest.mark.parametrize("refuse_at,words", [
    ("rcpt", f"refused the recipient {TO} (550 5.1.1 Recipient refused"),
    ("data", "refused the message (550 5.7.1 Message refused"),
])
def test_refusing_server(smtp_server, refuse_at, words):
    server = smtp_server("refuse", refuse_at=refuse_at)
    with pytest.raises(MailError) as err:
        mail.send(settings_for(server), TO, "s", "b")
    assert words in str(err.value)


def test_server_down(down_address):
    host, port = down_address
    s = SmtpSettings(host=host, port=port, security="none", sender=SENDER)
    with pytest.raises(MailError, match=f"The SMTP server {host}:{port} refused the connection; check the host and port"):
        mail.send(s, TO, "s", "b")


@pytest.mark.parametrize("security", ["none", "starttls", "ssl"])
def test_server_that_never_answers_times_out(smtp_server, security):
    server = smtp_server("hang")
    with pytest.raises(MailError, match="did not answer within 0.5 seconds"):
        mail.send(settings_for(server, security=security), TO, "s", "b", timeout=0.5)


@pytest.mark.parametrize("mode", ["starttls", "ssl"])
def test_tls_with_a_trusted_certificate(smtp_server, mode):
    # (aiosmtpd does not offer AUTH over implicit TLS when it requires TLS for AUTH,
    # so only STARTTLS is tested with a user here)
    server = smtp_server(mode, auth=mode == "starttls")
    user, password = (server.username, server.password) if server.auth else ("", None)
    mail.send(settings_for(server, user=user, password=password), TO, "tls", "body",
              cafile=server.ca_pem_path)
    [msg] = server.wait_for_messages(1)
    assert msg["Subject"] == "tls" and bool(server.envelopes[0][2]) is server.auth


@pytest.mark.parametrize("mode", ["starttls", "ssl"])
def test_extra_ca_from_the_environment(smtp_server, mode, monkeypatch):
    server = smtp_server(mode)
    monkeypatch.setenv(mail.CAFILE_ENV, server.ca_pem_path)
    mail.send(settings_for(server), TO, "env", "body")
    server.wait_for_messages(1)


@pytest.mark.parametrize("mode", ["starttls", "ssl"])
@pytest.mark.parametrize("untrusted", [True, False])
def test_tls_with_an_untrusted_certificate(smtp_server, mode, untrusted):
    server = smtp_server(mode, untrusted_cert=untrusted)
    # untrusted=False without our CA file: the system store does not know the test CA either
    cafile = server.ca_pem_path if untrusted else None
    with pytest.raises(MailError, match="TLS certificate of the SMTP server .* is not trusted"):
        mail.send(settings_for(server), TO, "s", "b", cafile=cafile)
    assert server.messages == []


def test_security_that_does_not_match_the_server(smtp_server):
    plain = smtp_server("ok")
    with pytest.raises(MailError, match="does not offer STARTTLS; choose SSL or none"):
        mail.send(settings_for(plain, security="starttls"), TO, "s", "b")
    with pytest.raises(MailError, match="TLS connection to the SMTP server .* failed"):
        mail.send(settings_for(plain, security="ssl"), TO, "s", "b", timeout=3)
    assert plain.messages == []


def test_missing_ca_file_is_named():
    with pytest.raises(MailError, match="CA certificate file /nonexistent/ca.pem cannot be read"):
        mail.send(SmtpSettings("127.0.0.1", 1, "ssl", sender=SENDER), TO, "s", "b", cafile="/nonexistent/ca.pem")


@pytest.mark.parametrize("settings,to,words", [
    (SmtpSettings("127.0.0.1", 25, "none", sender=SENDER), "not-an-address", "is not an email address"),
    (SmtpSettings("127.0.0.1", 25, "none", sender=SENDER), "a@b.example, c@d.example", "is not an email address"),
    (SmtpSettings("", 25, "none", sender=SENDER), TO, "No SMTP server is set"),
    (SmtpSettings("127.0.0.1", 25, "none", sender=""), TO, "No sender address is set"),
    (SmtpSettings("127.0.0.1", 25, "tls", sender=SENDER), TO, "not an SMTP security mode"),
    (SmtpSettings("127.0.0.1", 25, "none", user="u", sender=SENDER), TO, "SMTP password is not stored"),
])
def test_bad_settings_are_refused_before_connecting(settings, to, words):
    with pytest.raises(ValidationError, match=words):
        mail.send(settings, to, "s", "b")


# -- audited sending ---------------------------------------------------------


@pytest.fixture
def contact(sqlite_db, make_customer, admin):
    cid = make_customer(sqlite_db)
    with unit_of_work(sqlite_db, admin) as uow:
        c = uow.add(Contact(customer_id=cid, name="Ann Smith", email=TO, email_key=TO,
                            password_hash=passwords.hash_password("Old-Portal-Pass-1")))
        uow.flush()
        return c.id


def change_contact_password(db, actor, contact_id, settings, new_password, comment=""):
    """What the Contacts service does: new hash and the email in one unit of work."""
    with unit_of_work(db, actor, comment) as uow:
        c = uow.session.get(Contact, contact_id)
        c.password_hash = passwords.hash_password(new_password)
        mail.send_password_email(uow, settings, c.email, c.email_key, new_password,
                                 table="contacts", primary_key=c.id, customer_id=c.customer_id, timeout=1)


def contact_hash(db, contact_id):
    with db.read_session() as s:
        return s.get(Contact, contact_id).password_hash


@pytest.fixture
def plain_allowed(sqlite_db, admin):
    """The test servers below speak plain SMTP: an administrator allows passwords over it."""
    mail.set_plaintext_passwords(sqlite_db, admin, True)


def test_password_email_is_sent_and_audited_without_the_password(sqlite_db, admin, staff, contact, smtp_server,
                                                                   plain_allowed):
    server = smtp_server("ok")
    options.set_value(sqlite_db, admin, "portal-url", "https://portal.carrier.example")
    new = passwords.generate_password()
    change_contact_password(sqlite_db, staff, contact, settings_for(server), new)
    [msg] = server.wait_for_messages(1)
    assert msg["To"] == TO and msg["Subject"] == "Your customer portal password"
    body = msg.get_content()
    assert f"Password: {new}" in body and "https://portal.carrier.example" in body and f"Login:    {TO}" in body
    assert passwords.verify_password(new, contact_hash(sqlite_db, contact))
    entries = audit(sqlite_db)
    send = [e for e in entries if e.action == "SEND"][0]
    assert (send.actor, send.table_name, send.primary_key) == ("sam", "contacts", str(contact))
    assert json.loads(send.after) == {"to": TO, "login": TO, "subject": "Your customer portal password",
                                      "security": "none"}
    for e in entries:
        assert new not in json.dumps([e.message, e.before, e.after, e.comment])


@pytest.mark.parametrize("failure", ["refuse", "down", "hang", "auth"])
def test_failed_send_leaves_the_password_unchanged(sqlite_db, admin, staff, contact, smtp_server,
                                                   down_address, failure, plain_allowed):
    options.set_value(sqlite_db, admin, "portal-url", "https://portal.carrier.example")
    if failure == "down":
        settings = SmtpSettings(*down_address, "none", sender=SENDER)
    elif failure == "auth":
        server = smtp_server("auth")
        settings = settings_for(server, user=server.username, password="Wrong-Pass-99")
    else:
        settings = settings_for(smtp_server(failure))
    old_hash = contact_hash(sqlite_db, contact)
    entries = len(audit(sqlite_db))
    with pytest.raises(MailError) as err:
        change_contact_password(sqlite_db, staff, contact, settings, passwords.generate_password())
    assert {"refuse": "refused the recipient", "down": "refused the connection",
            "hang": "did not answer within 1 seconds", "auth": "user name or password"}[failure] in str(err.value)
    assert contact_hash(sqlite_db, contact) == old_hash
    assert len(audit(sqlite_db)) == entries


def test_password_email_needs_the_portal_url(sqlite_db, staff, contact, smtp_server):
    server = smtp_server("ok")
    old_hash = contact_hash(sqlite_db, contact)
    with pytest.raises(ValidationError, match="Set the Customer Portal URL"):
        change_contact_password(sqlite_db, staff, contact, settings_for(server), passwords.generate_password())
    assert contact_hash(sqlite_db, contact) == old_hash and server.messages == []


def test_missing_audit_comment_is_refused_before_anything_is_sent(sqlite_db, admin, staff, contact, smtp_server,
                                                                  plain_allowed):
    server = smtp_server("ok")
    options.set_value(sqlite_db, admin, "portal-url", "https://portal.carrier.example")
    options.set_value(sqlite_db, admin, "audit-comment", "on", comment="policy")
    old_hash = contact_hash(sqlite_db, contact)
    with pytest.raises(ValidationError, match="reason is required"):
        change_contact_password(sqlite_db, staff, contact, settings_for(server), passwords.generate_password())
    with pytest.raises(ValidationError, match="reason is required"):
        mail.send_test_email(sqlite_db, admin, TO, settings_for(server))
    assert server.messages == [] and contact_hash(sqlite_db, contact) == old_hash
    change_contact_password(sqlite_db, staff, contact, settings_for(server), passwords.generate_password(),
                            comment="customer asked")
    assert audit(sqlite_db)[-1].comment == "customer asked"


def test_test_email_is_audited_and_admin_only(sqlite_db, admin, supervisor, smtp_server):
    server = smtp_server("ok")
    with pytest.raises(PermissionDenied):
        mail.send_test_email(sqlite_db, supervisor, TO, settings_for(server))
    mail.send_test_email(sqlite_db, admin, TO, settings_for(server))
    [msg] = server.wait_for_messages(1)
    assert msg["Subject"] == "cxdesk test email" and "Alice Admin" in msg.get_content()
    entry = audit(sqlite_db)[-1]
    assert (entry.action, entry.actor, entry.table_name) == ("SEND", "alice", "options")
    assert f"Sent a test email to {TO} through 127.0.0.1:{server.port}" == entry.message


# -- settings: options plus the keyring --------------------------------------


def test_settings_round_trip_with_the_password_in_the_keyring(sqlite_db, admin, smtp_server, secret_service):
    server = smtp_server("starttls", auth=True)
    mail.save_settings(sqlite_db, admin, {
        "smtp-host": server.host, "smtp-port": str(server.port), "smtp-security": "STARTTLS",
        "smtp-user": server.username, "smtp-sender": SENDER}, password=server.password)
    try:
        with sqlite_db.read_session() as s:
            loaded = SmtpSettings.load(s)
            stored = dict(s.execute(select(Option.key, Option.value)).all())
        assert loaded == SmtpSettings(server.host, server.port, "starttls", server.username, SENDER, server.password)
        assert server.password not in repr(loaded)
        assert server.password not in json.dumps(stored)
        assert secrets.get_secret("smtp") == server.password
        mail.send_test_email(sqlite_db, admin, TO, cafile=server.ca_pem_path)
        server.wait_for_messages(1)
    finally:
        secrets.delete_secret("smtp")


def test_bad_settings_save_nothing(sqlite_db, admin, staff, secret_service):
    mail.save_settings(sqlite_db, admin, {"smtp-host": "mail.example", "smtp-port": "587"})
    entries = len(audit(sqlite_db))
    with pytest.raises(ValidationError, match="SMTP Port: The value must be at most 65,535"):
        mail.save_settings(sqlite_db, admin, {"smtp-host": "other.example", "smtp-port": "70000"},
                           password="Never-Stored-1")
    with pytest.raises(ValidationError, match="SMTP Security: 'tls' is not one of"):
        mail.save_settings(sqlite_db, admin, {"smtp-security": "tls"}, password="Never-Stored-1")
    with pytest.raises(PermissionDenied):
        mail.save_settings(sqlite_db, staff, {"smtp-host": "x.example"}, password="Never-Stored-1")
    with sqlite_db.read_session() as s:
        assert options.get(s, "smtp-host") == "mail.example"
    assert len(audit(sqlite_db)) == entries
    assert "smtp" not in secrets.names()


def test_cli_email_test(sqlite_db, admin, smtp_server, secret_service, run_cli):
    server = smtp_server("starttls", auth=True)
    mail.save_settings(sqlite_db, admin, {
        "smtp-host": server.host, "smtp-port": str(server.port), "smtp-security": "starttls",
        "smtp-user": server.username, "smtp-sender": SENDER}, password=server.password)
    url = sqlite_db.url.render_as_string(hide_password=False)
    try:
        env = {mail.CAFILE_ENV: server.ca_pem_path}
        done = run_cli("email", "test", TO, db_url=url, env=env)
        assert done.returncode == 0, done.stderr
        assert f"sent a test email to {TO} through 127.0.0.1:{server.port}" in done.stdout
        server.wait_for_messages(1)
        bad = run_cli("email", "test", TO, db_url=url)  # no CA: the certificate is not trusted
        assert bad.returncode == 1
        assert bad.stderr.startswith("cxdesk: The TLS certificate of the SMTP server") and bad.stderr.count("\n") == 1
        bad = run_cli("email", "test", "nobody", db_url=url, env=env)
        assert bad.returncode == 1 and "'nobody' is not an email address" in bad.stderr
    finally:
        secrets.delete_secret("smtp")
    assert audit(sqlite_db)[-1].actor.startswith("cli:")


# -- generated passwords and unencrypted SMTP -------------------------------------


def test_a_password_over_plain_smtp_is_refused_until_an_admin_allows_it(sqlite_db, admin, staff, contact,
                                                                         smtp_server, caplog):
    server = smtp_server("ok")
    options.set_value(sqlite_db, admin, "portal-url", "https://portal.carrier.example")
    old_hash, entries = contact_hash(sqlite_db, contact), len(audit(sqlite_db))
    with pytest.raises(MailError) as err:
        change_contact_password(sqlite_db, staff, contact, settings_for(server), passwords.generate_password())
    assert str(err.value) == mail.PLAINTEXT_REFUSED and err.value.field == "smtp-security"
    assert str(err.value).count(". ") == 0 and "choose STARTTLS or SSL in Settings > Email" in str(err.value)
    assert server.messages == [] and contact_hash(sqlite_db, contact) == old_hash
    assert len(audit(sqlite_db)) == entries
    # only an administrator allows it, and not through the plain option setter (no warning there)
    with pytest.raises(PermissionDenied):
        mail.set_plaintext_passwords(sqlite_db, staff, True)
    with pytest.raises(ValidationError, match="allowed only on Settings > Email or with `cxdesk email"):
        options.set_value(sqlite_db, admin, mail.PLAINTEXT_OPTION, "on")
    assert len(audit(sqlite_db)) == entries
    assert mail.set_plaintext_passwords(sqlite_db, admin, True, comment="old relay, no TLS") is True
    allowed = audit(sqlite_db)[-1]
    assert (allowed.actor, allowed.table_name, allowed.primary_key, allowed.comment) == (
        "alice", "options", mail.PLAINTEXT_OPTION, "old relay, no TLS")
    assert allowed.message == "Allowed emailing generated portal passwords without encryption (SMTP security none)"
    assert json.loads(allowed.after)["value"] == "on"
    assert mail.set_plaintext_passwords(sqlite_db, admin, True) is False  # already on: no second entry
    with caplog.at_level("WARNING", logger="cxdesk.services.mail"):
        change_contact_password(sqlite_db, staff, contact, settings_for(server), passwords.generate_password())
    server.wait_for_messages(1)
    send = audit(sqlite_db)[-1]
    assert send.action == "SEND" and send.message.endswith(" without encryption (allowed by an administrator)")
    assert json.loads(send.after)["security"] == "none"
    assert any("over unencrypted SMTP" in r.getMessage() for r in caplog.records)
    # turning it off needs no ceremony, also through the option setter
    options.set_value(sqlite_db, admin, mail.PLAINTEXT_OPTION, "off")
    with pytest.raises(MailError, match="not emailed over an unencrypted connection"):
        change_contact_password(sqlite_db, staff, contact, settings_for(server), passwords.generate_password())


@pytest.mark.parametrize("mode", ["starttls", "ssl"])
def test_a_password_goes_out_over_tls_without_any_allowance(sqlite_db, admin, staff, contact, smtp_server, mode):
    server = smtp_server(mode)
    options.set_value(sqlite_db, admin, "portal-url", "https://portal.carrier.example")
    new = passwords.generate_password()
    with unit_of_work(sqlite_db, staff) as uow:
        c = uow.session.get(Contact, contact)
        c.password_hash = passwords.hash_password(new)
        mail.send_password_email(uow, settings_for(server), c.email, c.email_key, new, table="contacts",
                                 primary_key=c.id, cafile=server.ca_pem_path, timeout=5)
    [msg] = server.wait_for_messages(1)
    assert f"Password: {new}" in msg.get_content()
    send = audit(sqlite_db)[-1]
    assert send.message == f"Emailed the new portal password for {TO} to {TO}"
    assert json.loads(send.after)["security"] == mode


def test_password_mail_status_says_why_before_anything_is_typed(sqlite_db, admin):
    def status():
        with sqlite_db.read_session() as s:
            return mail.password_mail_status(s)

    first = status()
    assert not first.ready and first.field == "smtp-host"
    assert first.problem.startswith("No mail server is set, so a generated password cannot be emailed")
    options.set_value(sqlite_db, admin, "smtp-host", "relay.carrier.example")
    assert status().field == "smtp-sender"
    options.set_value(sqlite_db, admin, "smtp-sender", SENDER)
    assert status().field == "portal-url"
    options.set_value(sqlite_db, admin, "portal-url", "https://portal.carrier.example")
    assert status() == mail.PasswordMail()  # STARTTLS by default: ready, no warning
    options.set_value(sqlite_db, admin, "smtp-security", "none")
    assert status() == mail.PasswordMail(mail.PLAINTEXT_REFUSED, "smtp-security")
    mail.set_plaintext_passwords(sqlite_db, admin, True)
    assert status() == mail.PasswordMail(warning=mail.PLAINTEXT_WARNING) and status().ready


def test_cli_status_and_the_plaintext_allowance(sqlite_db, admin, run_cli):
    url = sqlite_db.url.render_as_string(hide_password=False)
    done = run_cli("email", "status", db_url=url)
    assert done.returncode == 0, done.stderr
    assert "mail server: not set" in done.stdout
    assert "generated passwords: unavailable. No mail server is set, so a generated password cannot be emailed" \
        in done.stdout
    bad = run_cli("options", "set", mail.PLAINTEXT_OPTION, "on", db_url=url)
    assert bad.returncode == 1 and bad.stderr.count("\n") == 1 and "allowed only on Settings > Email" in bad.stderr
    done = run_cli("email", "allow-plaintext-passwords", "on", db_url=url)
    assert done.returncode == 0, done.stderr
    assert done.stderr == f"cxdesk: warning: {mail.PLAINTEXT_WARNING}\n"
    assert done.stdout == f"{mail.PLAINTEXT_OPTION} = on\n"
    entry = audit(sqlite_db)[-1]
    assert entry.actor.startswith("cli:") and entry.primary_key == mail.PLAINTEXT_OPTION
    for key, value in (("smtp-host", "relay.carrier.example"), ("smtp-sender", SENDER),
                       ("portal-url", "https://portal.carrier.example"), ("smtp-security", "none")):
        options.set_value(sqlite_db, admin, key, value)
    done = run_cli("email", "status", db_url=url)
    assert "mail server: relay.carrier.example:587 (none)" in done.stdout
    assert "generated passwords: emailed WITHOUT encryption" in done.stdout
    assert f"cxdesk: warning: {mail.PLAINTEXT_WARNING}" in done.stderr
    done = run_cli("email", "allow-plaintext-passwords", "off", db_url=url)
    assert done.returncode == 0 and done.stderr == "" and done.stdout == f"{mail.PLAINTEXT_OPTION} = off\n"
    assert "unavailable. Generated passwords are not emailed over an unencrypted connection" in run_cli(
        "email", "status", db_url=url).stdout
