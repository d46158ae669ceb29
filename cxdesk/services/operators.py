"""Operators: the back-office users, their roles, and signing in and out.

Passwords are kept only as argon2id hashes (cxdesk.services.passwords; older scrypt
hashes verify and are upgraded at the next successful sign-in). Five failed sign-ins in
a row lock a login for 15 minutes; the counter and the lock live on the operator row, so
they hold across workstations and restarts. An unknown login, a wrong password and a
locked login get the same answer (SIGN_IN_REFUSED) after the same work (one password
verification; a dummy hash for an unknown login), and an unknown login's failures are
counted too, in memory (never an operator row), so it goes through the same states. Every sign-in, failed
sign-in and sign-out is an audit entry with action LOGIN; what was typed is never kept.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass
from functools import lru_cache

from sqlalchemy import func, select

from cxdesk.db import Database
from cxdesk.errors import ConflictError, NotFound, PermissionDenied, ValidationError
from cxdesk.models import ROLES, AuditHead, Operator, utcnow
from cxdesk.services import passwords
from cxdesk.services.actor import Actor, workstation_ip
from cxdesk.services.uow import unit_of_work

MAX_FAILURES = 5
LOCK_MINUTES = 15
_LOGIN_RE = re.compile(r"[a-z0-9][a-z0-9._@-]{0,79}")
#: audit actor names that are not operators
_RESERVED = {"portal", "unknown"}


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return passwords.hash_password("cxdesk: no such operator")


class SignInFailed(PermissionDenied):
    """Wrong login or password (the two are not told apart)."""


class LoginLocked(PermissionDenied):
    """Too many failed sign-ins in a row; the login is locked for a while. Its text is
    SignInFailed's: the user is not told; the class lets a caller keep a remembered
    password (which may still be right) instead of forgetting it."""


@dataclass(frozen=True)
class OperatorInfo:
    id: int
    login: str
    display_name: str
    role: str
    active: bool
    locked_until: dt.datetime | None
    last_login_at: dt.datetime | None
    version: int
    updated_by: str
    updated_at: dt.datetime

    @classmethod
    def of(cls, op: Operator) -> OperatorInfo:
        return cls(op.id, op.login, op.display_name, op.role, op.active, op.locked_until,
                   op.last_login_at, op.version, op.updated_by, op.updated_at)


def normalise_login(login: str) -> str:
    """Logins are case-insensitive: kept in lower case."""
    return (login or "").strip().lower()


def _valid_login(login: str) -> str:
    value = normalise_login(login)
    if not value:
        raise ValidationError("Type a login name.", field="login")
    if not _LOGIN_RE.fullmatch(value) or value.startswith("cli:") or value in _RESERVED:
        raise ValidationError(
            f"'{login.strip()}' cannot be a login; use up to 80 letters, digits, '.', '_', '-' or '@', "
            "starting with a letter or digit.", field="login")
    return value


def _valid_role(role: str) -> str:
    value = (role or "").strip().lower()
    if value not in ROLES:
        raise ValidationError(f"'{role}' is not a role; choose one of: {', '.join(ROLES)}.", field="role")
    return value


def _clean_name(name: str) -> str:
    value = (name or "").strip()
    if len(value) > 200:
        raise ValidationError("The display name is too long (at most 200 characters).", field="display_name")
    return value


def has_operators(db: Database) -> bool:
    with db.read_session() as s:
        return s.execute(select(Operator.id).limit(1)).first() is not None


def create_operator(
    db: Database,
    actor: Actor | None,
    login: str,
    password: str,
    *,
    role: str = "staff",
    display_name: str = "",
    comment: str = "",
) -> OperatorInfo:
    """Create an operator (admins only). With ``actor=None`` this creates the first
    admin, which is allowed only while there is no operator at all."""
    login = _valid_login(login)
    role = _valid_role(role)
    display_name = _clean_name(display_name)
    passwords.check_policy(password, email=login, user_inputs=[display_name])
    if actor is not None:
        actor.require("manage_operators")
    elif role != "admin":
        raise PermissionDenied("The first operator must be an administrator.")
    audit_actor = actor or Actor(login=login, role="admin", display_name=display_name)
    hashed = passwords.hash_password(password)
    with unit_of_work(db, audit_actor, comment) as uow:
        s = uow.session
        if actor is None:
            # Lock the audit head first: two workstations cannot both create "the first" admin.
            s.execute(select(AuditHead.id).where(AuditHead.id == 1).with_for_update())
            if s.execute(select(func.count(Operator.id))).scalar_one():
                raise PermissionDenied("Operators already exist; sign in and ask an administrator to add you.")
        if s.execute(select(Operator.id).where(Operator.login == login)).first():
            raise ConflictError(f"There is already an operator with the login {login}; choose another login.",
                                field="login")
        op = uow.add(Operator(login=login, display_name=display_name, role=role, password_hash=hashed,
                              active=True, failed_attempts=0),
                     message=f"Created operator {login} ({role})" + (" as the first administrator" if actor is None else ""))
        uow.flush()
        info = OperatorInfo.of(op)
    return info


def list_operators(db: Database, actor: Actor) -> list[OperatorInfo]:
    actor.require("manage_operators")
    with db.read_session() as s:
        return [OperatorInfo.of(op) for op in s.execute(select(Operator).order_by(Operator.login)).scalars()]


def _load_for_edit(session, login: str, version: int | None) -> Operator:
    op = session.execute(
        select(Operator).where(Operator.login == normalise_login(login)).with_for_update()
    ).scalar_one_or_none()
    if op is None:
        raise NotFound(f"There is no operator with the login {normalise_login(login)}; check the spelling.")
    if version is not None and op.version != version:
        raise ConflictError(
            f"Operator {op.login} was changed by {op.updated_by or 'someone'} at "
            f"{op.updated_at:%Y-%m-%d %H:%M} UTC; reload it and apply your change again.")
    return op


def _other_active_admins(session, op: Operator) -> int:
    return session.execute(
        select(func.count(Operator.id)).where(Operator.role == "admin", Operator.active.is_(True),
                                              Operator.id != op.id)
    ).scalar_one()


def set_role(db: Database, actor: Actor, login: str, role: str, *, version: int | None = None,
             comment: str = "") -> OperatorInfo:
    actor.require("manage_operators")
    role = _valid_role(role)
    with unit_of_work(db, actor, comment) as uow:
        op = _load_for_edit(uow.session, login, version)
        if op.role == "admin" and role != "admin" and op.active and not _other_active_admins(uow.session, op):
            raise PermissionDenied(f"{op.login} is the last active administrator; make another operator an administrator first.")
        if op.role != role:
            uow.note(op, message=f"Changed the role of operator {op.login} from {op.role} to {role}")
            op.role = role
        uow.flush()
        info = OperatorInfo.of(op)
    return info


def set_password(db: Database, actor: Actor, login: str, password: str, *, version: int | None = None,
                 comment: str = "") -> OperatorInfo:
    """Set a new password (admins); also lifts a lock."""
    actor.require("manage_operators")
    with db.read_session() as s:
        display_name = s.execute(select(Operator.display_name)
                                 .where(Operator.login == normalise_login(login))).scalar_one_or_none()
    passwords.check_policy(password, email=normalise_login(login), user_inputs=[display_name])
    hashed = passwords.hash_password(password)
    with unit_of_work(db, actor, comment) as uow:
        op = _load_for_edit(uow.session, login, version)
        uow.note(op, message=f"Set a new password for operator {op.login}")
        op.password_hash = hashed
        op.failed_attempts = 0
        op.locked_until = None
        uow.flush()
        info = OperatorInfo.of(op)
    return info


def set_active(db: Database, actor: Actor, login: str, active: bool, *, version: int | None = None,
               comment: str = "") -> OperatorInfo:
    """Deactivate (no more sign-ins) or reactivate an operator (admins)."""
    actor.require("manage_operators")
    with unit_of_work(db, actor, comment) as uow:
        op = _load_for_edit(uow.session, login, version)
        if not active and op.active and op.role == "admin" and not _other_active_admins(uow.session, op):
            raise PermissionDenied(f"{op.login} is the last active administrator and cannot be deactivated.")
        if op.active != active:
            uow.note(op, message=f"{'Reactivated' if active else 'Deactivated'} operator {op.login}")
            op.active = active
        uow.flush()
        info = OperatorInfo.of(op)
    return info


#: the one answer to an unknown login, a wrong password and a locked login
SIGN_IN_REFUSED = ("Wrong login or password, or the login is locked; try again later or ask an "
                   "administrator.")
#: unknown logins remembered for the failure count (in memory, per process)
_UNKNOWN_MAX = 1024


class _UnknownLogins:
    """Failed sign-ins of logins that do not exist, counted like a real login's (five in
    a row "lock" it for LOCK_MINUTES) so that an unknown login goes through the same
    states as a real one. Kept in memory (never an operator row), keyed by a SHA-256 of
    the login so typed text is not kept, bounded to the _UNKNOWN_MAX most recent."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._seen: OrderedDict[bytes, tuple[int, dt.datetime | None]] = OrderedDict()

    @staticmethod
    def _key(name: str) -> bytes:
        return hashlib.sha256(name.encode("utf-8")).digest()

    def fail(self, name: str, now: dt.datetime) -> tuple[bool, bool]:
        """Count a failure: (was already locked, locked by this failure)."""
        key = self._key(name)
        with self._lock:
            count, until = self._seen.pop(key, (0, None))
            if until is not None and until > now:
                self._seen[key] = (count, until)
                return True, False
            count += 1
            locked = count >= MAX_FAILURES
            self._seen[key] = (0, now + dt.timedelta(minutes=LOCK_MINUTES)) if locked else (count, None)
            while len(self._seen) > _UNKNOWN_MAX:
                self._seen.popitem(last=False)
            return False, locked

    def clear(self) -> None:
        with self._lock:
            self._seen.clear()


_unknown = _UnknownLogins()


def sign_in(db: Database, login: str, password: str, ip: str | None = None) -> Actor:
    """Check the password and return the signed-in actor, or raise SignInFailed (unknown
    login, wrong password) / LoginLocked (five failures in a row) -- both with the one
    text SIGN_IN_REFUSED, and each after one password verification, so neither the
    answer nor its time tells which logins exist -- or PermissionDenied (deactivated, said
    only to whoever typed the right password). Every outcome is audited (LOGIN).

    A stored hash of an older kind or cost is replaced (argon2id, today's cost) on a
    successful sign-in, in the same transaction and audit entry as the sign-in (the
    entry shows the hash column as changed, masked)."""
    ip = ip or workstation_ip()
    name = normalise_login(login)
    error: PermissionDenied | None = None
    with db.read_session() as s:
        known = s.execute(select(Operator.id).where(Operator.login == name)).first() is not None
    if not known:
        passwords.verify_password(password, _dummy_hash())  # as slow as a real login's check
        was_locked, locks = _unknown.fail(name, utcnow())
        with unit_of_work(db, Actor(login="unknown", ip=ip)) as uow:
            uow.record("LOGIN", "operators", "",
                       "Sign-in refused: unknown login, locked" if was_locked else
                       f"Failed sign-in: unknown login; locked for {LOCK_MINUTES} minutes after "
                       f"{MAX_FAILURES} failures in a row" if locks else "Failed sign-in: unknown login")
        raise LoginLocked(SIGN_IN_REFUSED) if was_locked or locks else SignInFailed(SIGN_IN_REFUSED)
    now = utcnow()
    with unit_of_work(db, Actor(login=name, ip=ip)) as uow:
        op = uow.session.execute(select(Operator).where(Operator.login == name).with_for_update()).scalar_one()
        # the check runs in every branch (its result unused while locked): same time for all answers
        matches = passwords.verify_password(password, op.password_hash)
        if op.locked_until is not None and op.locked_until > now:
            uow.record("LOGIN", "operators", op.id, "Sign-in refused: login locked")
            error = LoginLocked(SIGN_IN_REFUSED)
        elif not matches:
            op.failed_attempts = (op.failed_attempts or 0) + 1
            if op.failed_attempts >= MAX_FAILURES:
                op.failed_attempts = 0
                op.locked_until = now + dt.timedelta(minutes=LOCK_MINUTES)
                uow.note(op, message=f"Failed sign-in; locked for {LOCK_MINUTES} minutes after "
                                     f"{MAX_FAILURES} failures in a row", action="LOGIN")
                error = LoginLocked(SIGN_IN_REFUSED)
            else:
                uow.note(op, message="Failed sign-in", action="LOGIN")
                error = SignInFailed(SIGN_IN_REFUSED)
        elif not op.active:
            uow.record("LOGIN", "operators", op.id, "Sign-in refused: operator deactivated")
            error = PermissionDenied(f"The operator {op.login} is deactivated; ask an administrator to reactivate it.")
        else:
            op.failed_attempts = 0
            op.locked_until = None
            op.last_login_at = now
            message = "Signed in"
            upgraded = passwords.rehash(password, op.password_hash)
            if upgraded is not None:
                op.password_hash = upgraded
                message = f"Signed in; upgraded the password hash to {passwords.SCHEME}"
            uow.note(op, message=message, action="LOGIN")
            actor = Actor(login=op.login, role=op.role, display_name=op.display_name, ip=ip)
    if error is not None:
        raise error
    return actor


def sign_out(db: Database, actor: Actor) -> None:
    with db.read_session() as s:
        op_id = s.execute(select(Operator.id).where(Operator.login == actor.login)).scalar_one_or_none()
    with unit_of_work(db, actor) as uow:
        uow.record("LOGIN", "operators", "" if op_id is None else op_id, "Signed out")
