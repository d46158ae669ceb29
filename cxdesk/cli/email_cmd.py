"""cxdesk email test TO"""
from __future__ import annotations

from cxdesk.cli.common import open_db
from cxdesk.services import mail
from cxdesk.services.actor import cli_actor


def register(sub) -> None:
    p = sub.add_parser("email", help="email through the SMTP server of Settings > Email")
    esub = p.add_subparsers(dest="email_command", metavar="ACTION", required=True)
    t = esub.add_parser("test", help="send a test message to check the settings")
    t.add_argument("to", help="recipient address")
    t.add_argument("--cafile", help=f"an extra CA certificate (PEM) to trust; also ${mail.CAFILE_ENV}")
    t.add_argument("--timeout", type=float, default=10, help="seconds to wait for the server (default 10)")
    t.set_defaults(func=test_cmd)


def test_cmd(args) -> int:
    with open_db(args) as db:
        with db.read_session() as session:
            settings = mail.SmtpSettings.load(session)
        mail.send_test_email(db, cli_actor(), args.to, settings, timeout=args.timeout,
                             cafile=args.cafile, comment=args.comment)
    print(f"sent a test email to {args.to} through {settings.where}")
    return 0
