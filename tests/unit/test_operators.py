import base64
import datetime as dt
import hashlib
import json
import os
import time
import unicodedata

import argon2

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
NFC = unicodedata.normalize("NFC", "Grüße-aus-Köln-42")
NFD = unicodedata.normalize("NFD", NFC)
REFUSED = "Wrong login or password, or the login is locked; try again later or ask an administrator."


@pytest.fixture(autouse=True)
def _forget_unknown_logins():
    """The unknown logins' failure counts live in the process: each test starts afresh."""
    operators._unknown.clear()
    yield
    operators._unknown.clear()


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
    assert stored.startswith("$argon2id$v=19$m=19456,t=2,p=1$") and passwords.verify_password(PW, stored)


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
    ("bob", "staff", "password123", ValidationError, "This password is too easy to guess: This is a very common"),
    ("bobby.tables", "staff", "bobby.tables2024", ValidationError, "This password is too easy to guess"),  # login + digits
    ("bob", "staff", "Bob-Builder", ValidationError, "This password is too easy to guess"),  # the display name
    ("bob", "staff", "tab\there-Harbour-42", ValidationError, "control character"),
    ("bobby.tables", "staff", "Bobby.Tables", ValidationError, "must not be the email address or login"),
    ("ROOT", "staff", PW, ConflictError, "already an operator with the login root"),
])
def test_bad_input_is_refused_and_changes_nothing(db, first_admin, admin, login, role, password, exc, words):
    before = snapshot(db)
    with pytest.raises(exc, match=words):
        operators.create_operator(db, admin, login, password, role=role, display_name="Bob Builder")
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
    assert str(wrong.value) == str(unknown.value) == REFUSED
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
        assert str(err.value) == REFUSED  # the lock is not announced: same text as a wrong password
    finally:
        other.close()
    # even the right password is refused while locked, and the lock does not grow
    with pytest.raises(LoginLocked) as err:
        operators.sign_in(db, "sam", PW)
    assert str(err.value) == REFUSED
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


# ---------------------------------------------------------------------------
# hashes upgraded at sign-in, Unicode spellings, one answer for every refusal
# ---------------------------------------------------------------------------


def legacy_scrypt(password: str) -> str:
    """A hash as cxdesk wrote them before argon2id: scrypt n=2**14, r=8, p=1 of the text as typed."""
    salt = os.urandom(16)
    key = hashlib.scrypt(password.encode(), salt=salt, n=2**14, r=8, p=1, maxmem=32 * 2**20, dklen=32)
    return f"scrypt$16384$8$1${base64.b64encode(salt).decode()}${base64.b64encode(key).decode()}"


def store_hash(db, login: str, stored: str) -> None:
    with unit_of_work(db, cli_actor()) as uow:
        uow.session.execute(select(Operator).where(Operator.login == login)).scalar_one().password_hash = stored


def stored_hash(db, login: str) -> str:
    with db.read_session() as s:
        return s.execute(select(Operator.password_hash).where(Operator.login == login)).scalar_one()


def audit_text(entry) -> str:
    return json.dumps([entry.actor, entry.message, entry.before, entry.after, entry.comment, entry.primary_key])


@pytest.mark.parametrize("old_kind", ["scrypt", "argon2id-weaker"])
def test_an_old_hash_is_upgraded_at_the_next_sign_in_and_audited_masked(db, first_admin, old_kind):
    make_op(db, "sam")
    old = (legacy_scrypt(PW) if old_kind == "scrypt"
           else argon2.PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash(PW))
    store_hash(db, "sam", old)
    with pytest.raises(SignInFailed):  # a wrong password upgrades nothing
        operators.sign_in(db, "sam", "not-the-password")
    assert stored_hash(db, "sam") == old
    count = len(audit_entries(db))

    assert operators.sign_in(db, "sam", PW).login == "sam"
    new = stored_hash(db, "sam")
    assert new.startswith("$argon2id$v=19$m=19456,t=2,p=1$") and passwords.verify_password(PW, new)
    [entry] = audit_entries(db)[count:]  # one entry: the sign-in, carrying the upgrade
    assert (entry.actor, entry.action, entry.table_name) == ("sam", "LOGIN", "operators")
    assert entry.message == "Signed in; upgraded the password hash to argon2id"
    assert json.loads(entry.before)["password_hash"] == "********"
    assert json.loads(entry.after)["password_hash"] == "******** (changed)"
    for e in audit_entries(db):
        text = audit_text(e)
        for secret in (old, new, old.split("$")[-1], new.split("$")[-1], PW):
            assert secret not in text

    operators.sign_in(db, "sam", PW)  # already current: no second upgrade
    assert stored_hash(db, "sam") == new
    assert audit_entries(db)[-1].message == "Signed in"
    with db.read_session() as s:
        assert audit_chain.verify(s).ok


def test_a_legacy_hash_of_an_nfc_password_accepts_the_nfd_spelling_and_is_upgraded(db, first_admin):
    make_op(db, "sam")
    store_hash(db, "sam", legacy_scrypt(NFC))
    assert operators.sign_in(db, "sam", NFD).login == "sam"
    new = stored_hash(db, "sam")
    assert new.startswith("$argon2id$")
    assert operators.sign_in(db, "sam", NFC).login == "sam"  # and both spellings work from now on
    assert operators.sign_in(db, "sam", NFD).login == "sam"


def test_nfc_and_nfd_spellings_sign_in_alike(db, first_admin, admin):
    make_op(db, "sam", password=NFC)
    assert operators.sign_in(db, "sam", NFD).login == "sam"
    operators.set_password(db, admin, "sam", unicodedata.normalize("NFD", "Ünïcode-Harbour-42"))
    assert operators.sign_in(db, "sam", unicodedata.normalize("NFC", "Ünïcode-Harbour-42")).login == "sam"
    with pytest.raises(SignInFailed):
        operators.sign_in(db, "sam", NFC)


def test_a_hash_beyond_the_cost_ceiling_refuses_the_sign_in_quickly(db, first_admin, caplog):
    make_op(db, "sam")
    real = argon2.PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash(PW)
    parts = real.split("$")
    parts[3] = "m=4194304,t=1000,p=64"  # 4 GiB, 1000 passes: would never end
    store_hash(db, "sam", "$".join(parts))
    start = time.perf_counter()
    with pytest.raises(SignInFailed) as err:
        operators.sign_in(db, "sam", PW)
    assert time.perf_counter() - start < 5
    assert str(err.value) == REFUSED
    assert any("refused as damaged" in r.getMessage() for r in caplog.records)


@pytest.fixture
def count_verifications(monkeypatch):
    calls = []
    real = passwords.verify_password

    def counting(password, stored):
        calls.append(stored)
        return real(password, stored)

    monkeypatch.setattr(passwords, "verify_password", counting)
    return calls


def attempt(db, login, password):
    """(exception class, text) of a refused sign-in."""
    with pytest.raises(PermissionDenied) as err:
        operators.sign_in(db, login, password)
    return type(err.value), str(err.value)


def test_unknown_wrong_and_locked_get_the_same_answer_after_one_verification(db, first_admin, count_verifications):
    make_op(db, "sam")
    before_ops = snapshot(db)[0]
    real, unknown = [], []
    for i in range(6):  # five failures lock; the sixth meets the lock, with the right password
        real.append(attempt(db, "sam", PW if i == 5 else f"not-the-password-{i}"))
        unknown.append(attempt(db, "Ghost-Login", PW if i == 5 else f"not-the-password-{i}"))
    assert real == unknown == [(SignInFailed, REFUSED)] * 4 + [(LoginLocked, REFUSED)] * 2
    assert len(count_verifications) == 12  # one password check for every attempt, locked or unknown
    with db.read_session() as s:
        assert s.execute(select(Operator.locked_until).where(Operator.login == "sam")).scalar_one() is not None
    # the unknown login was counted in memory only: no operator row appeared
    assert [o[0] for o in snapshot(db)[0]] == [o[0] for o in before_ops]
    messages = [e.message for e in audit_entries(db) if e.actor == "unknown"]
    assert messages == ["Failed sign-in: unknown login"] * 4 + [
        "Failed sign-in: unknown login; locked for 15 minutes after 5 failures in a row",
        "Sign-in refused: unknown login, locked"]
    assert all("ghost" not in audit_text(e).lower() for e in audit_entries(db))


def test_an_unknown_logins_lock_expires_like_a_real_one(db, first_admin, monkeypatch):
    for i in range(5):
        attempt(db, "ghost", f"not-the-password-{i}")
    assert attempt(db, "ghost", PW)[0] is LoginLocked
    later = utcnow() + dt.timedelta(minutes=15, seconds=1)
    monkeypatch.setattr(operators, "utcnow", lambda: later)
    assert attempt(db, "ghost", PW)[0] is SignInFailed  # the lock ran out; counting starts again


def test_an_unknown_login_takes_about_as_long_as_a_wrong_password(db, first_admin):
    make_op(db, "sam")

    def timed(login, password):
        start = time.perf_counter()
        with pytest.raises(PermissionDenied):
            operators.sign_in(db, login, password)
        return time.perf_counter() - start

    wrong = min(timed("sam", f"not-the-password-{i}") for i in range(3))
    unknown = min(timed(f"ghost{i}", "not-the-password") for i in range(3))
    for _ in range(2):  # sam locks at the fifth failure
        timed("sam", "not-the-password")
    locked = min(timed("sam", PW) for _ in range(3))
    # each runs one argon2id verification (tens of ms); without it, only a few ms of SQL
    assert unknown > 0.5 * wrong and locked > 0.5 * wrong, (wrong, unknown, locked)
