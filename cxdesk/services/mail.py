"""Email through the carrier's SMTP server (Settings > Email).

Host, port, security, user and sender are options (smtp-*); the password lives in the
OS keyring under the secret name "smtp", never in the database. Every failure is one
sentence (MailError). Sent mail is audited (action SEND) without its secret content.

A generated portal password is never emailed over an unencrypted connection (security
"none") unless an administrator allowed it with the option smtp-allow-plaintext-passwords,
which is only turned on through ``set_plaintext_passwords`` (Settings > Email asks for
confirmation, ``cxdesk email allow-plaintext-passwords on`` warns); such a send is logged
as a warning and its SEND entry says it was unencrypted. ``password_mail_status`` says,
before anything is typed, whether generated passwords can be emailed at all and why not.
"""
from __future__ import annotations

import logging
import os
import re
import smtplib
import socket
import ssl
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from sqlalchemy.orm import Session

from cxdesk.db import Database
from cxdesk.errors import UserError, ValidationError
from cxdesk.models import Option
from cxdesk.services import options, secrets
from cxdesk.services.actor import Actor
from cxdesk.services.uow import MASK_CHANGED, UnitOfWork, unit_of_work

SECRET_NAME = "smtp"
SECURITY = ("none", "starttls", "ssl")
OPTION_KEYS = ("smtp-host", "smtp-port", "smtp-security", "smtp-user", "smtp-sender")
CAFILE_ENV = "CXDESK_SMTP_CAFILE"
_ADDRESS_RE = re.compile(r"[^@\s<>,;\"]+@[^@\s<>,;\"]+\.[^@\s<>,;\"]+")
#: the option that lets generated passwords go out over SMTP security "none"
PLAINTEXT_OPTION = "smtp-allow-plaintext-passwords"
PLAINTEXT_REFUSED = ("Generated passwords are not emailed over an unencrypted connection (SMTP security none); "
                     "choose STARTTLS or SSL in Settings > Email, or have an administrator allow unencrypted "
                     "password emails there.")
PLAINTEXT_WARNING = ("Generated portal passwords will be emailed without encryption (SMTP security none), so anyone "
                     "on the network path to the mail server can read them; use STARTTLS or SSL whenever the "
                     "server offers it.")

log = logging.getLogger(__name__)


class MailError(UserError):
    """The message could not be sent; the text says why and what to check."""


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    security: str = "starttls"
    user: str = ""
    sender: str = ""
    password: str | None = field(default=None, repr=False)

    @property
    def where(self) -> str:
        return f"{self.host}:{self.port}"

    @classmethod
    def load(cls, session: Session, *, password: str | None = None) -> SmtpSettings:
        """The saved settings; the password from the keyring unless one is given."""
        user = options.get(session, "smtp-user")
        if user and password is None:
            password = secrets.get_secret(SECRET_NAME)
        return cls(
            host=options.get(session, "smtp-host"),
            port=options.get_int(session, "smtp-port") or 587,
            security=options.get(session, "smtp-security"),
            user=user,
            sender=options.get(session, "smtp-sender"),
            password=password,
        )


def check_address(address: str, what: str = "recipient") -> str:
    value = (address or "").strip()
    if not _ADDRESS_RE.fullmatch(value):
        raise ValidationError(f"'{value}' is not an email address; type one like name@example.com.", field=what)
    return value


def save_settings(db: Database, actor: Actor, values: dict[str, str], password: str | None = None,
                  comment: str = "") -> None:
    """Validate every smtp-* value first, then store the password in the keyring and the
    options in one unit of work: all of it or nothing."""
    actor.require("edit_settings")
    clean = {}
    for key in OPTION_KEYS:
        if key in values:
            d = options.definition(key)
            try:
                clean[key] = d.validate(values[key])
            except ValidationError as exc:
                raise ValidationError(f"{d.label}: {exc}", field=key) from None
    with unit_of_work(db, actor, comment) as uow:
        for key, new in clean.items():
            row = uow.session.get(Option, key)
            if row is None:
                uow.add(Option(key=key, value=new), message=f"Set option {key} to '{new}'")
            elif row.value != new:
                uow.note(row, message=f"Changed option {key} from '{row.value}' to '{new}'")
                row.value = new
        if password:
            uow.record("UPDATE", "options", SECRET_NAME, "Changed the SMTP password (kept in the system keyring)",
                       after={"smtp-password": MASK_CHANGED})
            uow.flush()
            # last step before the commit: a refused save leaves the keyring as it was
            secrets.set_secret(SECRET_NAME, password)


def _check_comment(session: Session, actor: Actor, comment: str) -> None:
    """Refuse before sending, not after: a message cannot be unsent when the commit fails."""
    if not (comment or "").strip() and not actor.system and options.get(session, "audit-comment") == "on":
        raise ValidationError("A reason is required for every change (Audit Comment is on); "
                              "type one and send again.", field="comment")


# -- generated passwords: may they be emailed, and over what ---------------------------


def plaintext_allowed(session: Session) -> bool:
    """Has an administrator allowed generated passwords over SMTP security "none"?"""
    return options.get(session, PLAINTEXT_OPTION) == "on"


def guard_plaintext_option(_session: Session, key: str, _old: str, new: str) -> None:
    """options.set_value's guard: the allowance is turned on only through
    ``set_plaintext_passwords`` (which the Email page confirms and the CLI warns about);
    turning it off is always fine."""
    if new == "on":
        raise ValidationError("Unencrypted password emails are allowed only on Settings > Email or with "
                              "`cxdesk email allow-plaintext-passwords on`, which say what that risks; "
                              "nothing was changed.", field=key)


def set_plaintext_passwords(db: Database, actor: Actor, allow: bool, comment: str = "") -> bool:
    """Allow (or stop) emailing generated passwords over SMTP security "none"; admins only,
    audited. Returns whether the stored value changed."""
    actor.require("edit_settings")
    new = "on" if allow else "off"
    with unit_of_work(db, actor, comment) as uow:
        row = uow.session.get(Option, PLAINTEXT_OPTION)
        old = row.value if row is not None and row.value else options.definition(PLAINTEXT_OPTION).default
        if old == new:
            return False
        message = ("Allowed emailing generated portal passwords without encryption (SMTP security none)" if allow
                   else "Stopped emailing generated portal passwords without encryption")
        if row is None:
            uow.add(Option(key=PLAINTEXT_OPTION, value=new), message=message)
        else:
            row.value = new
            uow.note(row, message=message)
    if allow:
        log.info("%s allowed emailing generated passwords over unencrypted SMTP", actor.login)
    return True


@dataclass(frozen=True)
class PasswordMail:
    """Whether generated passwords can be emailed now: ``problem`` says why not (one
    sentence, ``field`` the setting to fix); ``warning`` is set when they go out unencrypted
    because an administrator allowed it."""

    problem: str | None = None
    field: str | None = None
    warning: str | None = None

    @property
    def ready(self) -> bool:
        return self.problem is None


def password_mail_status(session: Session, settings: SmtpSettings | None = None) -> PasswordMail:
    """Can a generated password be emailed with ``settings`` (default: the saved ones)?
    Reads options only (never the keyring), so a form can ask before anything is typed."""
    s = settings or SmtpSettings.load(session, password="")
    instead = "or type a password instead of generating one"
    if not s.host:
        return PasswordMail("No mail server is set, so a generated password cannot be emailed; an administrator "
                            f"fills in Settings > Email, {instead}.", "smtp-host")
    if not s.sender:
        return PasswordMail("No sender address is set in Settings > Email, so a generated password cannot be "
                            f"emailed; an administrator fills it in, {instead}.", "smtp-sender")
    if not options.get(session, "portal-url"):
        return PasswordMail("No Customer Portal URL is set in Settings > Options, so a password email could not "
                            f"say where to sign in; an administrator sets it, {instead}.", "portal-url")
    if s.security == "none":
        if not plaintext_allowed(session):
            return PasswordMail(PLAINTEXT_REFUSED, "smtp-security")
        return PasswordMail(warning=PLAINTEXT_WARNING)
    return PasswordMail()


def require_password_mail(session: Session, settings: SmtpSettings | None = None, *,
                          field: str | None = None) -> PasswordMail:
    """``password_mail_status``, raising ValidationError (naming ``field``, default the
    setting to fix) when a generated password cannot be emailed."""
    status = password_mail_status(session, settings)
    if not status.ready:
        raise ValidationError(status.problem, field=field or status.field)
    return status


def _tls_context(cafile: str | None) -> ssl.SSLContext:
    ctx = ssl.create_default_context()
    extra = cafile or os.environ.get(CAFILE_ENV)
    if extra:
        try:
            ctx.load_verify_locations(cafile=extra)
        except (OSError, ssl.SSLError):
            raise MailError(f"The CA certificate file {extra} cannot be read; check the path.") from None
    return ctx


def _timed_out(exc: BaseException) -> bool:
    while exc is not None:
        if isinstance(exc, (TimeoutError, socket.timeout)):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def _reply(exc: smtplib.SMTPResponseException) -> str:
    text = exc.smtp_error.decode("utf-8", "replace") if isinstance(exc.smtp_error, bytes) else str(exc.smtp_error)
    return f"{exc.smtp_code} {text}".strip()


def _explain(exc: BaseException, settings: SmtpSettings, to: str, timeout: float) -> MailError:
    where = settings.where
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return MailError(f"The SMTP server {where} did not accept the user name or password "
                         f"({_reply(exc)}); check them in Settings > Email.")
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        code, text = next(iter(exc.recipients.values()), (0, b""))
        text = text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)
        return MailError(f"The SMTP server {where} refused the recipient {to} ({code} {text}); check the address.")
    if isinstance(exc, smtplib.SMTPSenderRefused) and exc.smtp_code == 530:
        return MailError(f"The SMTP server {where} requires sign-in ({_reply(exc)}); "
                         "set the user and password in Settings > Email.")
    if isinstance(exc, smtplib.SMTPSenderRefused):
        return MailError(f"The SMTP server {where} refused the sender address {settings.sender} "
                         f"({_reply(exc)}); check the sender in Settings > Email.")
    if isinstance(exc, smtplib.SMTPDataError):
        return MailError(f"The SMTP server {where} refused the message ({_reply(exc)}); nothing was sent.")
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        if "AUTH" in str(exc):
            return MailError(f"The SMTP server {where} does not offer sign-in (AUTH) on this connection; "
                             "choose STARTTLS or SSL, or leave the user empty in Settings > Email.")
        return MailError(f"The SMTP server {where} cannot send this message ({exc}); nothing was sent.")
    if _timed_out(exc):
        return MailError(f"The SMTP server {where} did not answer within {timeout:g} seconds; "
                         "check the host, port and security setting, or try again later.")
    if isinstance(exc, ssl.SSLCertVerificationError):
        return MailError(f"The TLS certificate of the SMTP server {where} is not trusted "
                         f"({exc.verify_message}); check the host name or install the server's CA certificate.")
    if isinstance(exc, ssl.SSLError):
        return MailError(f"The TLS connection to the SMTP server {where} failed ({exc.reason or exc}); "
                         "check that the port matches the security setting (SSL is usually 465, STARTTLS 587).")
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return MailError(f"The SMTP server {where} closed the connection unexpectedly; "
                         "check that the port matches the security setting.")
    if isinstance(exc, smtplib.SMTPResponseException):
        return MailError(f"The SMTP server {where} answered {_reply(exc)}; nothing was sent.")
    if isinstance(exc, ConnectionRefusedError):
        return MailError(f"The SMTP server {where} refused the connection; check the host and port, "
                         "and that the server is running.")
    if isinstance(exc, socket.gaierror):
        return MailError(f"The SMTP host {settings.host} cannot be found; check its name in Settings > Email.")
    if isinstance(exc, OSError):
        return MailError(f"Cannot reach the SMTP server {where} ({exc.strerror or exc}); "
                         "check the network, the host and the port.")
    return MailError(f"Sending through {where} failed ({exc}); nothing was sent.")


def build_message(settings: SmtpSettings, to: str, subject: str, body: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = settings.sender
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = formatdate(localtime=False, usegmt=True)
    msg["Message-ID"] = make_msgid(domain=settings.sender.rpartition("@")[2] or None)
    msg.set_content(body)
    return msg


def send(settings: SmtpSettings, to: str, subject: str, body: str, timeout: float = 10,
         cafile: str | None = None) -> None:
    """Send one plain-text message, or raise MailError saying why it was not sent.

    ``cafile`` (or the CXDESK_SMTP_CAFILE environment variable) names an extra CA
    certificate to trust besides the system's.
    """
    to = check_address(to)
    if not settings.host:
        raise ValidationError("No SMTP server is set; fill in the host in Settings > Email.", field="smtp-host")
    if settings.security not in SECURITY:
        raise ValidationError(f"'{settings.security}' is not an SMTP security mode; choose none, STARTTLS or SSL.",
                              field="smtp-security")
    if not settings.sender:
        raise ValidationError("No sender address is set; fill it in Settings > Email.", field="smtp-sender")
    check_address(settings.sender, "smtp-sender")
    if settings.user and not settings.password:
        raise ValidationError("The SMTP password is not stored; type it in Settings > Email "
                              "(or run `cxdesk secret set smtp`).", field="smtp-password")
    msg = build_message(settings, to, subject, body)
    ctx = _tls_context(cafile) if settings.security != "none" else None
    try:
        if settings.security == "ssl":
            smtp = smtplib.SMTP_SSL(settings.host, settings.port, timeout=timeout, context=ctx)
        else:
            smtp = smtplib.SMTP(settings.host, settings.port, timeout=timeout)
        with smtp:
            smtp.ehlo()
            if settings.security == "starttls":
                if not smtp.has_extn("starttls"):
                    raise MailError(f"The SMTP server {settings.where} does not offer STARTTLS; "
                                    "choose SSL or none as the security in Settings > Email.")
                smtp.starttls(context=ctx)
                smtp.ehlo()
            if settings.user:
                smtp.login(settings.user, settings.password)
            smtp.send_message(msg, from_addr=settings.sender, to_addrs=[to])
    except MailError:
        raise
    except (smtplib.SMTPException, OSError) as exc:
        raise _explain(exc, settings, to, timeout) from None


def password_message(portal_url: str, login: str, password: str) -> tuple[str, str]:
    """(subject, body) of the email that hands a contact their new portal password."""
    subject = "Your customer portal password"
    body = (
        "Hello,\n\n"
        "a new password has been set for your access to our customer portal.\n\n"
        f"Portal:   {portal_url}\n"
        f"Login:    {login}\n"
        f"Password: {password}\n\n"
        "Please sign in and keep this password to yourself. If you did not expect this "
        "message, reply to it and we will look into it.\n\n"
        "Kind regards,\n"
        "Customer Support\n"
    )
    return subject, body


def send_password_email(uow: UnitOfWork, settings: SmtpSettings, to: str, login: str, password: str, *,
                        table: str, primary_key: str | int, customer_id: int | None = None,
                        timeout: float = 10, cafile: str | None = None) -> None:
    """Email a new portal password inside the caller's unit of work.

    The caller sets the new hash in the same unit of work; if sending fails, MailError
    propagates and the unit of work rolls the change back, so nothing is half done.
    The SEND entry names the recipient and login, never the password. Over SMTP security
    "none" it is refused (MailError) unless an administrator allowed it; then it is sent,
    logged as a warning, and the entry says it went out unencrypted.
    """
    _check_comment(uow.session, uow.actor, uow.comment)
    portal_url = options.get(uow.session, "portal-url")
    if not portal_url:
        raise ValidationError("Set the Customer Portal URL in Settings > Options before emailing passwords.",
                              field="portal-url")
    plain = settings.security == "none"
    if plain and not plaintext_allowed(uow.session):
        raise MailError(PLAINTEXT_REFUSED, field="smtp-security")
    subject, body = password_message(portal_url, login, password)
    send(settings, to, subject, body, timeout=timeout, cafile=cafile)
    message = f"Emailed the new portal password for {login} to {to}"
    if plain:
        log.warning("emailed a generated password to %s over unencrypted SMTP (%s), as allowed by %s",
                    to, settings.where, PLAINTEXT_OPTION)
        message += " without encryption (allowed by an administrator)"
    uow.record("SEND", table, primary_key, message,
               after={"to": to, "login": login, "subject": subject, "security": settings.security},
               customer_id=customer_id)


def send_test_email(db: Database, actor: Actor, to: str, settings: SmtpSettings | None = None,
                    timeout: float = 10, cafile: str | None = None, comment: str = "") -> None:
    """Send a short test message (the saved settings unless others are given); audited."""
    actor.require("edit_settings")
    to = check_address(to)
    with db.read_session() as s:
        _check_comment(s, actor, comment)
        if settings is None:
            settings = SmtpSettings.load(s)
    subject = "cxdesk test email"
    body = (
        "Hello,\n\n"
        f"this is a test message from cxdesk, sent by {actor.display_name or actor.login} "
        f"through {settings.where} ({settings.security}).\n"
        "If you can read it, the email settings work.\n"
    )
    send(settings, to, subject, body, timeout=timeout, cafile=cafile)
    with unit_of_work(db, actor, comment) as uow:
        uow.record("SEND", "options", "smtp", f"Sent a test email to {to} through {settings.where}",
                   after={"to": to, "subject": subject})
