"""Issue 13.6: changes from the command line are made by a signed-in operator (the real CLI
as a subprocess): role checks, the lockout and the Audit Comment option apply as in the
desktop program; the OS user is shown beside the operator, never instead of it."""
from __future__ import annotations

import os
import select
import subprocess
import sys
import time

import pytest
from sqlalchemy import func, select as sql_select

from cxdesk.cli import COMMENT_NEEDED
from cxdesk.models import AuditEntry, Customer, Operator, Option
from cxdesk.services import operators, options, secrets
from cxdesk.services.actor import cli_ip, os_user

ROOT = ("root", "Violet-Harbour-42")
SAM = ("sam", "Amber-Canyon-77")
ADD_ACME = ("customer", "add", "Acme Telecom", "--currency", "EUR")


def url_of(db) -> str:
    return db.url.render_as_string(hide_password=False)


@pytest.fixture
def staffed(db):
    """A database with an admin (root) and a staff operator (sam)."""
    root = operators.create_operator(db, None, ROOT[0], ROOT[1], role="admin")
    admin = operators.sign_in(db, *ROOT)
    operators.create_operator(db, admin, SAM[0], SAM[1], role="staff")
    assert root.role == "admin"
    return db


def counts(db) -> tuple[int, int]:
    """(customers, audit entries that are not sign-ins)."""
    with db.read_session() as s:
        return (s.scalar(sql_select(func.count(Customer.id))),
                s.scalar(sql_select(func.count(AuditEntry.id)).where(AuditEntry.action != "LOGIN")))


def last_entry(db, action: str | None = None) -> AuditEntry:
    query = sql_select(AuditEntry).order_by(AuditEntry.id.desc()).limit(1)
    if action:
        query = query.where(AuditEntry.action == action)
    with db.read_session() as s:
        return s.execute(query).scalar_one()


def one_line(done: subprocess.CompletedProcess, text: str) -> None:
    assert done.returncode == 1 and done.stdout == "", done.stderr
    assert done.stderr == f"cxdesk: {text}\n"


def test_a_write_without_an_operator_is_refused_and_changes_nothing(staffed, run_cli):
    before = counts(staffed)
    done = run_cli(*ADD_ACME, db_url=url_of(staffed))
    one_line(done, "This database has operators, so changes need one signed in: pass --operator LOGIN "
                   "(or set CXDESK_OPERATOR); nothing was changed.")
    assert counts(staffed) == before


def test_logname_forges_nothing_the_entry_names_the_operator(staffed, run_cli):
    done = run_cli(*ADD_ACME, db_url=url_of(staffed), operator=ROOT,
                   env={"LOGNAME": "ceo", "USER": "ceo", "USERNAME": "ceo"})
    assert done.returncode == 0, done.stderr
    created, signed_in = last_entry(staffed, "CREATE"), last_entry(staffed, "LOGIN")
    assert (created.actor, created.table_name, signed_in.actor) == ("root", "customers", "root")
    assert created.ip == signed_in.ip == cli_ip() and created.ip.endswith(f" (cli:{os_user()})")
    assert "ceo" not in created.actor + created.ip  # the real account, from the process's uid
    with staffed.read_session() as s:
        assert s.execute(sql_select(Customer.updated_by)).scalar_one() == "root"


def test_cli_ip_fits_the_column_with_a_long_os_user(monkeypatch):
    monkeypatch.setattr("cxdesk.services.actor.os_user", lambda: "x" * 80)
    text = cli_ip("255.255.255.255")
    assert len(text) == 45 and text.startswith("255.255.255.255 (cli:xxx") and text.endswith("~)")


def test_a_wrong_password_gets_one_sentence_and_counts_towards_the_lockout(staffed, run_cli):
    before = counts(staffed)
    for attempt in range(1, operators.MAX_FAILURES + 1):
        done = run_cli(*ADD_ACME, db_url=url_of(staffed), operator=(ROOT[0], "Not-The-Password-1"))
        one_line(done, operators.SIGN_IN_REFUSED)
        with staffed.read_session() as s:
            op = s.execute(sql_select(Operator).where(Operator.login == "root")).scalar_one()
        locked = attempt == operators.MAX_FAILURES
        assert (op.failed_attempts, op.locked_until is not None) == (0 if locked else attempt, locked)
    # locked: the right password gets the same answer, as in the desktop program
    one_line(run_cli(*ADD_ACME, db_url=url_of(staffed), operator=ROOT), operators.SIGN_IN_REFUSED)
    assert last_entry(staffed).message == "Sign-in refused: login locked"
    assert counts(staffed) == before


def test_staff_may_not_run_an_admin_command(staffed, run_cli):
    before = counts(staffed)
    done = run_cli("options", "set", "portal-url", "https://portal.example", db_url=url_of(staffed),
                   operator=SAM)
    one_line(done, "Your role (staff) may not edit settings; ask a user with the admin role or higher.")
    done = run_cli("operator", "role", "sam", "admin", db_url=url_of(staffed), operator=SAM)
    assert done.returncode == 1 and "Your role (staff) may not manage operators" in done.stderr
    with staffed.read_session() as s:
        assert s.get(Option, "portal-url") is None or s.get(Option, "portal-url").value != "https://portal.example"
        assert s.execute(sql_select(Operator.role).where(Operator.login == "sam")).scalar_one() == "staff"
    assert counts(staffed) == before
    done = run_cli(*ADD_ACME, db_url=url_of(staffed), operator=SAM)  # staff may add customers
    assert done.returncode == 0 and last_entry(staffed, "CREATE").actor == "sam"


def test_audit_comment_on_needs_comment(staffed, run_cli):
    admin = operators.sign_in(staffed, *ROOT)
    options.set_value(staffed, admin, "audit-comment", "on", comment="policy")
    before = counts(staffed)
    one_line(run_cli(*ADD_ACME, db_url=url_of(staffed), operator=SAM), COMMENT_NEEDED)
    assert counts(staffed) == before
    done = run_cli("--comment", "new carrier", *ADD_ACME, db_url=url_of(staffed), operator=SAM)
    assert done.returncode == 0, done.stderr
    entry = last_entry(staffed, "CREATE")
    assert (entry.actor, entry.comment) == ("sam", "new carrier")


def test_the_first_line_of_stdin_is_the_operators_the_next_the_commands(staffed, run_cli):
    done = run_cli("operator", "password", "sam", "--password-stdin", db_url=url_of(staffed),
                   input="Third-Str0ng-pw\n", operator=ROOT)
    assert done.returncode == 0, done.stderr
    assert operators.sign_in(staffed, "sam", "Third-Str0ng-pw").role == "staff"
    assert last_entry(staffed, "UPDATE").actor == "root"


def test_without_a_password_source_one_sentence(staffed, run_cli):
    done = run_cli(*ADD_ACME, db_url=url_of(staffed), env={"CXDESK_OPERATOR": "root"}, input="")
    one_line(done, "Signing in as root needs its password: give it on the first line of standard input "
                   "with --password-stdin, remember it with `cxdesk operator remember root`, or run the "
                   "command in a terminal to be asked; nothing was changed.")


def test_read_only_commands_need_no_sign_in(staffed, run_cli):
    for args in (("customer", "list"), ("options", "show"), ("operator", "list"), ("audit", "verify")):
        done = run_cli(*args, db_url=url_of(staffed))
        assert done.returncode == 0, (args, done.stderr)


def test_the_first_operator_add_on_an_empty_database(db, run_cli):
    refused = run_cli("operator", "add", "kim", "--role", "staff", "--password-stdin", db_url=url_of(db),
                      input="First-Str0ng-pw\n")
    one_line(refused, "The first operator must be an administrator; pass --role admin.")
    assert not operators.has_operators(db)
    done = run_cli("operator", "add", "root", "--role", "admin", "--password-stdin", db_url=url_of(db),
                   input=ROOT[1] + "\n")
    assert done.returncode == 0, done.stderr
    assert last_entry(db, "CREATE").actor == f"cli:{os_user()}"
    assert operators.sign_in(db, *ROOT).role == "admin"


def test_audit_checkpoint_needs_a_supervisor(staffed, run_cli, tmp_path):
    done = run_cli("audit", "checkpoint", "-o", str(tmp_path / "cp.txt"), db_url=url_of(staffed), operator=SAM)
    assert done.returncode == 1 and "Your role (staff) may not verify audit" in done.stderr
    assert not (tmp_path / "cp.txt").exists()


def test_remember_then_sign_in_from_the_keyring(sqlite_db, secret_service, run_cli):
    from cxdesk.cli.signin import secret_name

    operators.create_operator(sqlite_db, None, ROOT[0], ROOT[1], role="admin")
    url = url_of(sqlite_db)
    name = secret_name(sqlite_db, "root")
    wrong = run_cli("operator", "remember", "root", "--password-stdin", db_url=url, input="Wrong-Pass-99\n")
    one_line(wrong, operators.SIGN_IN_REFUSED)
    assert secrets.get_secret(name) is None
    done = run_cli("operator", "remember", "root", "--password-stdin", db_url=url, input=ROOT[1] + "\n")
    assert done.returncode == 0, done.stderr
    assert secrets.get_secret(name) == ROOT[1]
    env = {"CXDESK_OPERATOR": "root"}
    done = run_cli(*ADD_ACME, db_url=url, env=env, input="")
    assert done.returncode == 0, done.stderr
    assert last_entry(sqlite_db, "CREATE").actor == "root"
    forgot = run_cli("operator", "forget", "root", db_url=url)
    assert forgot.returncode == 0 and secrets.get_secret(name) is None
    again = run_cli("customer", "add", "Beta Ltd", "--currency", "EUR", db_url=url, env=env, input="")
    assert again.returncode == 1 and "needs its password" in again.stderr


def test_a_hidden_prompt_on_a_terminal(sqlite_db, tmp_path):
    operators.create_operator(sqlite_db, None, ROOT[0], ROOT[1], role="admin")
    master, slave = os.openpty()
    env = {k: v for k, v in os.environ.items() if k not in ("CXDESK_OPERATOR", "CXDESK_LOG_LEVEL")}
    proc = subprocess.Popen([sys.executable, "-m", "cxdesk", "--db", url_of(sqlite_db), "--operator", "root",
                             *ADD_ACME], stdin=slave, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=env, cwd=tmp_path, start_new_session=True)  # no controlling terminal
    os.close(slave)
    try:
        seen, deadline = b"", time.monotonic() + 60
        while b"Password for root" not in seen and time.monotonic() < deadline:
            if select.select([proc.stderr], [], [], 1)[0]:
                seen += os.read(proc.stderr.fileno(), 1024)
        assert b"Password for root" in seen
        os.write(master, ROOT[1].encode() + b"\n")
        out, err = proc.communicate(timeout=60)
        echoed = b""
        while select.select([master], [], [], 0.2)[0]:  # what the terminal showed
            try:
                echoed += os.read(master, 1024)
            except OSError:  # EIO: the other side is closed
                break
    finally:
        os.close(master)
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert ROOT[1].encode() not in echoed + out + err  # typed at a hidden prompt: never shown
    assert last_entry(sqlite_db, "CREATE").actor == "root"
