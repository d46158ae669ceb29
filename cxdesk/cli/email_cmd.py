"""cxdesk email test TO | status | allow-plaintext-passwords on|off"""
from __future__ import annotations

import sys

from cxdesk.cli.common import open_db
from cxdesk.cli.signin import operator_actor
from cxdesk.services import mail


def register(sub) -> None:
    p = sub.add_parser("email", help="email through the SMTP server of Settings > Email")
    esub = p.add_subparsers(dest="email_command", metavar="ACTION", required=True)
    t = esub.add_parser("test", help="send a test message to check the settings")
    t.add_argument("to", help="recipient address")
    t.add_argument("--cafile", help=f"an extra CA certificate (PEM) to trust; also ${mail.CAFILE_ENV}")
    t.add_argument("--timeout", type=float, default=10, help="seconds to wait for the server (default 10)")
    t.set_defaults(func=test_cmd)
    st = esub.add_parser("status", help="say whether generated portal passwords can be emailed, and if not why")
    st.set_defaults(func=status_cmd)
    a = esub.add_parser("allow-plaintext-passwords",
                        help="allow (on) or stop (off) emailing generated passwords over SMTP security none")
    a.add_argument("state", choices=("on", "off"))
    a.set_defaults(func=allow_plaintext_cmd)


def test_cmd(args) -> int:
    with open_db(args) as db:
        with db.read_session() as session:
            settings = mail.SmtpSettings.load(session)
        mail.send_test_email(db, operator_actor(args, db), args.to, settings, timeout=args.timeout,
                             cafile=args.cafile, comment=args.comment)
    print(f"sent a test email to {args.to} through {settings.where}")
    return 0


def status_cmd(args) -> int:
    with open_db(args) as db, db.read_session() as session:
        settings = mail.SmtpSettings.load(session, password="")
        status = mail.password_mail_status(session, settings)
    server = f"{settings.where} ({settings.security})" if settings.host else "not set"
    print(f"mail server: {server}")
    if status.ready:
        print("generated passwords: emailed" + (" WITHOUT encryption" if status.warning else ""))
    else:
        print(f"generated passwords: unavailable. {status.problem}")
    if status.warning:
        print(f"cxdesk: warning: {status.warning}", file=sys.stderr)
    return 0


def allow_plaintext_cmd(args) -> int:
    allow = args.state == "on"
    with open_db(args) as db:
        changed = mail.set_plaintext_passwords(db, operator_actor(args, db), allow, comment=args.comment)
    if allow:
        print(f"cxdesk: warning: {mail.PLAINTEXT_WARNING}", file=sys.stderr)
    print(f"{mail.PLAINTEXT_OPTION} = {args.state}" + ("" if changed else " (unchanged)"))
    return 0
