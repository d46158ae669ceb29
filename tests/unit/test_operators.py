import datetime as dt
import json

import pytest
from sqlalchemy import select

from cxdesk.db import open_database
from cxdesk.errors import ConflictError, NotFound, PermissionDenied, ValidationError
from cxdesk.models import AuditEntry, Operator, utcnow
from cxdesk.services import audit_chain, operators, options, passwords
from cxdesk.services.actor import cli_actor
from cxdesk.services.operators import LoginLocked, SignInFailed
from cxdesk.services.uow import unit_of_work

PW = "Blue-Harbour-42"


def snapshot(db):
    with db.read_session() as s:
        ops = [(o.login, o.role, o.active, o.password_hash, o.failed_attempts, o.locked_until, o.version)
               for o in s.execute(select(Operator).order_by(Operator.id)).scalars()]
        audit = s.execute(select(AuditEntry.id)).scalars().all()
    return ops, audit


def audit_entries(db):
    with db.read_session() as s:
        return s.execute(select(AuditEntry).order_by(AuditEntry.id)).scalars().all()


@pytest.fixture
def first_admin(db):
    return operators.create_operator(db, None, "Root", PW, role="admin", display_name="Rita Root")


def make_op(db, login, role="staff", password=PW):
    return operators.create_operator(db, cli_actor(), login, password, role=role)


def test_first_admin_on_an_empty_database(db):
    assert not operators.has_operators(db)
    info = operators.create_operator(db, None, "Root", PW, role="admin", display_name="Rita Root")
    assert operators.has_operators(db)
    assert (info.login, info.role, info.display_name, info.active) == ("root", "admin", "Rita Root", True)
    [entry] = audit_entries(db)
    assert (entry.actor, entry.action, entry.table_name) == ("root", "CREATE", "operators")
    assert "first administrator" in entry.message
    assert json.loads(entry.after)["password_hash"] == "********"
    assert PW not in entry.after
    with db.read_session() as s:
        stored = s.execute(select(Operator.password_hash)).scalar_one()
    assert stored.startswith("scrypt$") and passwords.verify_password(PW, stored)


def test_only_one_first_admin_and_it_must_be_an_admin(db, first_admin):
    before = snapshot(db)
    with pytest.raises(PermissionDenied, match="Operators already exist"):
        operators.create_operator(db, None, "intruder", PW, role="admin")
    assert snapshot(db) == before


def test_first_operator_without_actor_must_be_admin(db):
    with pytest.raises(PermissionDenied, match="must be an administrator"):
        operators.create_operator(db, None, "sam", PW, role="staff")
    assert not operators.has_operators(db)


@pytest.mark.parametrize("actor_name", ["staff", "accountant", "supervisor"])
def test_only_admins_create_and_list_operators(db, first_admin, request, actor_name):
    actor = request.getfixturevalue(actor_name)
    before = snapshot(db)
    with pytest.raises(PermissionDenied, match="manage operators"):
        operators.create_operator(db, actor, "newbie", PW, role="staff")
    with pytest.raises(PermissionDenied):
        operators.list_operators(db, actor)
    assert snapshot(db) == before


def test_admin_creates_and_lists(db, first_admin, admin):
    operators.create_operator(db, admin, "sam", PW, role="staff", display_name="Sam")
    operators.create_operator(db, admin, "Acc.One", PW, role="accountant")
    listed = operators.list_operators(db, admin)
    assert [(o.login, o.role) for o in listed] == [("acc.one", "accountant"), ("root", "admin"), ("sam", "staff")]
    assert audit_entries(db)[-1].actor == "alice"


@pytest.mark.parametrize("login,role,password,exc,words", [
    ("", "staff", PW, ValidationError, "Type a login"),
    ("has space", "staff", PW, ValidationError, "cannot be a login"),
    ("cli:bob", "staff", PW, ValidationError, "cannot be a login"),
    ("Portal", "staff", PW, ValidationError, "cannot be a login"),
    ("x" * 81, "staff", PW, ValidationError, "cannot be a login"),
    ("bob", "boss", PW, ValidationError, "not a role"),
    ("bob", "staff", "short1", ValidationError, "too short"),
    ("bob", "staff", "password123", ValidationError, "common passwords"),
    ("bobby.tables", "staff", "Bobby.Tables", ValidationError, "must not be the email address or login"),
    ("ROOT", "staff", PW, ConflictError, "already an operator with the login root"),
])
def test_bad_input_is_refused_and_changes_nothing(db, first_admin, admin, login, role, password, exc, words):
    before = snapshot(db)
    with pytest.raises(exc, match=words):
        operators.create_operator(db, admin, login, password, role=role)
    assert snapshot(db) == before


def test_sign_in_returns_the_actor_and_is_audited(db, first_admin):
    make_op(db, "sam", "staff")
    actor = operators.sign_in(db, " SAM ", PW, ip="192.0.2.7")
    assert (actor.login, actor.role, actor.ip) == ("sam", "staff", "192.0.2.7")
    assert actor.can("edit_contacts") and not actor.can("generate_invoices")
    entry = audit_entries(db)[-1]
    assert (entry.actor, entry.ip, entry.action, entry.message) == ("sam", "192.0.2.7", "LOGIN", "Signed in")
    with db.read_session() as s:
        op = s.execute(select(Operator).where(Operator.login == "sam")).scalar_one()
    assert op.last_login_at is not None and op.failed_attempts == 0
    operators.sign_out(db, actor)
    entry = audit_entries(db)[-1]
    assert (entry.actor, entry.action, entry.message, entry.primary_key) == ("sam", "LOGIN", "Signed out", str(op.id))


def test_roles_give_what_the_issue_says(db, first_admin):
    for login, role in [("st", "staff"), ("ac", "accountant"), ("su", "supervisor")]:
        make_op(db, login, role)
    st, ac, su, ad = (operators.sign_in(db, lg, PW) for lg in ("st", "ac", "su", "root"))
    for cap in ("edit_customers", "edit_contacts", "edit_numbers"):
        assert all(a.can(cap) for a in (st, ac, su, ad))
    for cap in ("generate_invoices", "export"):
        assert not st.can(cap) and all(a.can(cap) for a in (ac, su, ad))
    for cap in ("view_audit", "verify_audit"):
        assert not st.can(cap) and not ac.can(cap) and su.can(cap) and ad.can(cap)
    for cap in ("manage_operators", "edit_settings"):
        assert [a.can(cap) for a in (st, ac, su, ad)] == [False, False, False, True]


def test_wrong_password_and_unknown_login_look_the_same(db, first_admin):
    with pytest.raises(SignInFailed) as wrong:
        operators.sign_in(db, "root", "Wrong-Typed-Text-1")
    with pytest.raises(SignInFailed) as unknown:
        operators.sign_in(db, "nobody-Typed-Login", "Other-Typed-Text-2")
    assert str(wrong.value) == str(unknown.value) == "The login or password is wrong; check both and try again."
    failed, unknown_entry = audit_entries(db)[-2:]
    assert (failed.actor, failed.action, failed.message) == ("root", "LOGIN", "Failed sign-in")
    assert (unknown_entry.actor, unknown_entry.action) == ("unknown", "LOGIN")
    assert "unknown login" in unknown_entry.message
    for e in audit_entries(db):
        text = json.dumps([e.actor, e.message, e.before, e.after, e.comment, e.primary_key])
        for typed in ("Wrong-Typed-Text-1", "Other-Typed-Text-2", "nobody-Typed-Login".lower(), PW):
            assert typed.lower() not in text.lower()


def test_five_failures_lock_the_login_across_connections(db, first_admin):
    make_op(db, "sam")
    for _ in range(4):
        with pytest.raises(SignInFailed):
            operators.sign_in(db, "sam", "not-the-password")
    # the counter is on the row: another process (here: another engine) sees it
    other = open_database(db.url.render_as_string(hide_password=False))
    try:
        start = utcnow()
        with pytest.raises(LoginLocked) as err:
            operators.sign_in(other, "sam", "not-the-password")
        with other.read_session() as s:
            until = s.execute(select(Operator.locked_until).where(Operator.login == "sam")).scalar_one()
        assert dt.timedelta(minutes=14) < until - start <= dt.timedelta(minutes=15, seconds=5)
        assert f"locked until {until:%Y-%m-%d %H:%M} UTC" in str(err.value)
        assert "Too many failed sign-ins for sam" in str(err.value)
    finally:
        other.close()
    # even the right password is refused while locked, and the lock does not grow
    with pytest.raises(LoginLocked):
        operators.sign_in(db, "sam", PW)
    entries = audit_entries(db)
    assert [e.message for e in entries[-2:]][0].startswith("Failed sign-in; locked for 15 minutes")
    assert entries[-1].message == "Sign-in refused: login locked"
    # other logins are not affected
    operators.sign_in(db, "root", PW)


def test_lock_expires_and_success_resets_the_counter(db, first_admin):
    make_op(db, "sam")
    for _ in range(5):
        with pytest.raises((SignInFailed, LoginLocked)):
            operators.sign_in(db, "sam", "not-the-password")
    with unit_of_work(db, cli_actor()) as uow:  # 15 minutes pass
        op = uow.session.execute(select(Operator).where(Operator.login == "sam")).scalar_one()
        op.locked_until = utcnow() - dt.timedelta(seconds=1)
    with pytest.raises(SignInFailed):  # one failure after the lock is not a new lock
        operators.sign_in(db, "sam", "still-not-it")
    assert operators.sign_in(db, "sam", PW).login == "sam"
    with db.read_session() as s:
        op = s.execute(select(Operator).where(Operator.login == "sam")).scalar_one()
    assert (op.failed_attempts, op.locked_until) == (0, None)


def test_admin_password_reset_lifts_the_lock(db, first_admin, admin):
    make_op(db, "sam")
    for _ in range(5):
        with pytest.raises(PermissionDenied):
            operators.sign_in(db, "sam", "not-the-password")
    operators.set_password(db, admin, "sam", "Fresh-Start-2024")
    assert operators.sign_in(db, "sam", "Fresh-Start-2024").login == "sam"
    with pytest.raises(SignInFailed):
        operators.sign_in(db, "sam", PW)
    entry = [e for e in audit_entries(db) if e.message == "Set a new password for operator sam"][0]
    assert json.loads(entry.after)["password_hash"] == "******** (changed)"
    assert "Fresh-Start-2024" not in entry.after + entry.before


def test_deactivated_operator_cannot_sign_in(db, first_admin, admin):
    make_op(db, "sam")
    operators.set_active(db, admin, "sam", False)
    with pytest.raises(PermissionDenied, match="deactivated"):
        operators.sign_in(db, "sam", PW)
    with pytest.raises(SignInFailed):  # a wrong password does not reveal the deactivation
        operators.sign_in(db, "sam", "not-the-password")
    operators.set_active(db, admin, "sam", True)
    assert operators.sign_in(db, "sam", PW).role == "staff"


def test_role_changes_keep_an_active_admin(db, first_admin, admin, staff):
    with pytest.raises(PermissionDenied, match="last active administrator"):
        operators.set_role(db, admin, "root", "staff")
    with pytest.raises(PermissionDenied, match="last active administrator"):
        operators.set_active(db, admin, "root", False)
    make_op(db, "sam")
    before = snapshot(db)
    with pytest.raises(PermissionDenied):
        operators.set_role(db, staff, "sam", "admin")
    with pytest.raises(ValidationError, match="not a role"):
        operators.set_role(db, admin, "sam", "overlord")
    with pytest.raises(NotFound):
        operators.set_role(db, admin, "ghost", "staff")
    assert snapshot(db) == before
    info = operators.set_role(db, admin, "sam", "admin")
    assert info.role == "admin"
    assert audit_entries(db)[-1].message == "Changed the role of operator sam from staff to admin"
    operators.set_role(db, admin, "root", "supervisor")  # sam is an admin now
    assert operators.sign_in(db, "root", PW).role == "supervisor"


def test_edit_against_a_stale_version_is_refused(db, first_admin, admin):
    info = make_op(db, "sam")
    operators.sign_in(db, "sam", PW)  # bumps the row's version
    before = snapshot(db)
    with pytest.raises(ConflictError, match=r"Operator sam was changed by sam at \d{4}-\d\d-\d\d \d\d:\d\d UTC; reload"):
        operators.set_role(db, admin, "sam", "accountant", version=info.version)
    assert snapshot(db) == before


def test_sign_in_needs_no_audit_comment(db, first_admin, admin):
    options.set_value(db, admin, "audit-comment", "on", comment="policy")
    actor = operators.sign_in(db, "root", PW)
    operators.sign_out(db, actor)
    with pytest.raises(SignInFailed):
        operators.sign_in(db, "root", "not-the-password")
    with pytest.raises(ValidationError, match="reason is required"):
        operators.create_operator(db, actor, "sam", PW)
    with db.read_session() as s:
        assert audit_chain.verify(s).ok
