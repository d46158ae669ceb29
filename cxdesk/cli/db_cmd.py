"""cxdesk db upgrade | info | roles"""
from __future__ import annotations

from sqlalchemy import func, select

from cxdesk.cli.common import database_url, open_db, read_secret
from cxdesk.db import current_revision, head_revision, parse_url, secret_name_for
from cxdesk.errors import UserError, ValidationError
from cxdesk.services.pg_roles import APP_DEFAULT, OWNER_DEFAULT


def register(sub) -> None:
    p = sub.add_parser("db", help="create or upgrade the database, or show what it is")
    dsub = p.add_subparsers(dest="db_command", metavar="ACTION", required=True)
    up = dsub.add_parser("upgrade", help="apply the schema migrations (also done on every open)")
    up.set_defaults(func=upgrade)
    info = dsub.add_parser("info", help="print the database, its schema revision and row counts")
    info.set_defaults(func=info_cmd)
    roles = dsub.add_parser(
        "roles", help="PostgreSQL: create the owner role (runs upgrades) and the application role "
                      "(workstations; may only add to and read the audit log)")
    roles.add_argument("--url", help="connect as this administrator (a superuser); default: --db")
    roles.add_argument("--owner", default=OWNER_DEFAULT, help=f"the owner role (default {OWNER_DEFAULT})")
    roles.add_argument("--app", default=APP_DEFAULT, help=f"the application role (default {APP_DEFAULT})")
    roles.add_argument("--password-stdin", action="store_true",
                       help="read the owner's password, then the application role's, one a line from stdin")
    roles.set_defaults(func=roles_cmd)


def upgrade(args) -> int:
    with open_db(args, create=True) as db:
        print(f"{db.display}: schema {head_revision()} (up to date)")
    return 0


def info_cmd(args) -> int:
    from cxdesk.models import AuditEntry, Cdr, Contact, Customer, Invoice, Operator
    from cxdesk.models.cdr_staging import visible_cdrs

    with open_db(args) as db, db.read_session() as s, db.engine.connect() as conn:
        print(f"database: {db.display}")
        print(f"schema:   {current_revision(conn)}")
        for label, model in [("customers", Customer), ("contacts", Contact), ("operators", Operator),
                             ("cdrs", Cdr), ("invoices", Invoice), ("audit entries", AuditEntry)]:
            count = select(func.count()).select_from(model)
            if model is Cdr:  # not the rows of an import still being published
                count = count.where(visible_cdrs())
            print(f"{label + ':':15}{s.scalar(count)}")
    return 0


def roles_cmd(args) -> int:
    from cxdesk.services import pg_roles, secrets

    url = args.url or database_url(args)
    if not url or parse_url(url).get_backend_name() != "postgresql":
        raise ValidationError("`db roles` needs a PostgreSQL URL in --url or --db; a SQLite file has no "
                              "roles and needs nothing set up.", field="url")
    owner, app = pg_roles.check_names(args.owner, args.app)
    owner_pw = pg_roles.check_password(read_secret(f"Password for the owner role {owner}: ", args.password_stdin),
                                       "owner")
    app_pw = pg_roles.check_password(read_secret(f"Password for the application role {app}: ",
                                                 args.password_stdin), "app")
    report = pg_roles.set_up_database(url, owner, app, owner_pw, app_pw, password_lookup=secrets.lookup_quietly)
    made = f" (created {', '.join(report.created)})" if report.created else ""
    u = parse_url(report.app_url)
    print(f"{u.host}:{u.port or 5432}/{u.database}: schema {report.schema}, owned by {owner}; "
          f"workstations connect as {app}{made}.")
    try:
        for role_url, password in ((report.owner_url, owner_pw), (report.app_url, app_pw)):
            secrets.set_secret(secret_name_for(role_url), password)
        print(f"Both passwords are stored in this computer's {secrets.backend_name()} keyring.")
    except UserError:
        print("The passwords were not stored: no system keyring answered; store each where it is "
              "needed with the `secret set db` command below.")
    print(f"Workstations:     cxdesk --db {report.app_url} secret set db   (then use that --db URL)")
    print(f"Schema upgrades:  cxdesk --db {report.owner_url} db upgrade   (its password: secret set db)")
    return 0
