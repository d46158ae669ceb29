"""Delay and Save: contact changes kept in scheduled_changes until due, applied exactly once.

Scheduling checks the form as a save would, so mistakes show at once; the change then
waits in the table (it survives restarts) until ``apply_due`` runs on any workstation.
Each due change is claimed and applied in one transaction: on PostgreSQL the claim is
``SELECT ... FOR UPDATE SKIP LOCKED`` (two workstations never take the same row); on
SQLite every write transaction starts with BEGIN IMMEDIATE, so appliers take turns.
A claimed row leaves "pending" in the same commit as its change, hence exactly once.

The change is applied and audited as the operator who scheduled it. A change that no
longer fits (the contact was deleted or edited after it was scheduled, the email is
taken now, the customer is gone, the email with the password cannot be sent) is not
forced: its state becomes "failed" with the reason in ``result``.

Passwords are never stored in a payload: a delayed new contact with Auto Generate
Password gets its password generated and emailed when the change is applied, and a
typed password cannot be delayed (the save is refused with a message saying so).
"""
from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cxdesk.db import Database
from cxdesk.errors import ConflictError, DatabaseUnavailable, NotFound, UserError, ValidationError
from cxdesk.models import Contact, Customer, Operator, ScheduledChange, utcnow
from cxdesk.services import contacts
from cxdesk.services.actor import Actor, workstation_ip
from cxdesk.services.customers import check_version, when
from cxdesk.services.uow import unit_of_work

CREATE = "contact.create"
UPDATE = "contact.update"
KINDS = (CREATE, UPDATE)
#: a change may wait at most this long
MAX_DELAY = dt.timedelta(days=366)


@dataclass(frozen=True)
class ScheduledRow:
    """One line of the Scheduled changes list."""

    id: int
    due_at: dt.datetime
    operator_login: str
    kind: str
    customer_id: int | None
    target_id: int | None
    summary: str
    state: str
    result: str
    applied_at: dt.datetime | None
    version: int


@dataclass(frozen=True)
class ApplyResult:
    """What apply_due did with one change: state "applied" or "failed", and why."""

    change_id: int
    state: str
    result: str


class _NoLongerApplies(Exception):
    """The change does not fit any more (reason in args[0]); nothing was written yet."""


def _check_due(due_at: dt.datetime, now: dt.datetime) -> dt.datetime:
    if not isinstance(due_at, dt.datetime) or due_at.tzinfo is None:
        raise ValidationError("Choose the date and time (with its time zone) at which to apply the change.",
                              field="due_at")
    due = due_at.astimezone(dt.timezone.utc)
    if due <= now:
        raise ValidationError(f"{when(due)} is not in the future; choose a later time, or save now.", field="due_at")
    if due - now > MAX_DELAY:
        raise ValidationError("A change can be delayed by at most a year; choose an earlier time.", field="due_at")
    return due


def schedule_contact_change(db: Database, actor: Actor, form: contacts.ContactForm, due_at: dt.datetime, *,
                            customer_id: int | None = None, contact_id: int | None = None,
                            expected_version: int | None = None, confirm_warnings: bool = False,
                            comment: str = "", now: dt.datetime | None = None) -> ScheduledRow:
    """Delay and Save for the contact form: a new contact of ``customer_id`` (``contact_id``
    None) or an edit of ``contact_id`` loaded at ``expected_version``, applied at ``due_at``."""
    actor.require("edit_contacts")
    now = now or utcnow()
    due = _check_due(due_at, now)
    if (contact_id is None) == (customer_id is None):
        raise ValueError("give customer_id for a new contact or contact_id for an edit, not both")
    if contact_id is not None and expected_version is None:
        raise ValueError("an edit needs the expected_version the form was loaded at")
    if form.password:
        raise ValidationError("A typed password cannot be delayed (it would have to be stored until then); "
                              "save now, or tick Auto Generate Password to have one generated and emailed "
                              "when the change is applied.", field="password")
    values = contacts.clean_form(db, form)
    with unit_of_work(db, actor, comment) as uow:
        s = uow.session
        if contact_id is None:
            customer = s.get(Customer, customer_id)
            if customer is None:
                raise NotFound(f"Customer {customer_id} was deleted meanwhile; choose another company.")
            contacts.check_email_free(s, values["email"], values["email_key"])
            contacts.screen_notes(values, confirm_warnings)
            if values["auto_generate_password"]:  # emailed when applied: refuse now what could not be
                contacts.check_password_mail(s)
            kind, target, version = CREATE, None, None
            summary = f"New contact {values['name']} <{values['email']}> of {customer.name}"
        else:
            c = s.get(Contact, contact_id)
            if c is None:
                raise NotFound(f"Contact {contact_id} was deleted meanwhile; refresh the list.")
            check_version(c, expected_version, f"contact {c.email}")
            if values["email_key"] != c.email_key:
                contacts.check_email_free(s, values["email"], values["email_key"], except_id=c.id)
            contacts.screen_notes(values, confirm_warnings, None, c.password_hash)
            changed = [k for k, v in values.items() if getattr(c, k) != v]
            if not changed:
                raise ValidationError("Nothing was changed, so there is nothing to delay.")
            customer_id = c.customer_id
            kind, target, version = UPDATE, c.id, c.version
            summary = f"Edit contact {c.id} ({c.email}): {', '.join(changed)}"
        payload = {"values": values, "comment": uow.comment, "role": actor.role,
                   "display_name": actor.display_name}
        row = uow.add(ScheduledChange(
            due_at=due, operator_login=actor.login, kind=kind, customer_id=customer_id, target_id=target,
            target_version=version, summary=summary[:300], payload=json.dumps(payload, ensure_ascii=False),
            state="pending", result="",
        ), message=f"Scheduled for {when(due)}: {summary}")
        uow.flush()
        return _row(row)


def _row(c: ScheduledChange) -> ScheduledRow:
    return ScheduledRow(c.id, c.due_at, c.operator_login, c.kind, c.customer_id, c.target_id, c.summary, c.state,
                        c.result, c.applied_at, c.version)


def list_scheduled(session: Session, *, customer_id: int | None = None,
                   states: tuple[str, ...] | None = ("pending",)) -> list[ScheduledRow]:
    """Scheduled changes by due time (``states`` None: every state)."""
    stmt = select(ScheduledChange)
    if customer_id is not None:
        stmt = stmt.where(ScheduledChange.customer_id == customer_id)
    if states:
        stmt = stmt.where(ScheduledChange.state.in_(states))
    stmt = stmt.order_by(ScheduledChange.due_at, ScheduledChange.id)
    return [_row(c) for c in session.scalars(stmt)]


def cancel_scheduled(db: Database, actor: Actor, change_id: int, comment: str = "") -> None:
    """Cancel a pending change; refused once it was applied, failed or cancelled."""
    actor.require("edit_contacts")
    with unit_of_work(db, actor, comment) as uow:
        # waits for a workstation that is applying it right now, then sees the outcome
        row = uow.session.execute(
            select(ScheduledChange).where(ScheduledChange.id == change_id).with_for_update()
        ).scalar_one_or_none()
        if row is None:
            raise NotFound(f"Scheduled change {change_id} does not exist; refresh the list.")
        if row.state != "pending":
            at = f" at {when(row.applied_at)}" if row.applied_at else ""
            raise ConflictError(f"Scheduled change {change_id} was already {row.state}{at}; "
                                "it can no longer be cancelled.")
        row.state = "cancelled"
        row.result = f"Cancelled by {actor.login}"
        uow.note(row, message=f"Cancelled scheduled change {row.id}: {row.summary}")


# ---------------------------------------------------------------------------
# applying
# ---------------------------------------------------------------------------


def _actor_for(session: Session, login: str, payload: dict) -> tuple[Actor, str | None]:
    """The scheduling operator as an actor, and why they can no longer apply it (or None)."""
    op = session.execute(select(Operator).where(Operator.login == login)).scalar_one_or_none()
    role = op.role if op is not None else payload.get("role", "staff")
    name = op.display_name if op is not None else payload.get("display_name", "")
    actor = Actor(login=login, role=role, display_name=name, ip=workstation_ip(), system=True)
    if op is not None and not op.active:
        return actor, f"the operator {login} who scheduled it is no longer active"
    if not actor.can("edit_contacts"):
        return actor, f"the role of {login} ({role}) may no longer edit contacts"
    return actor, None


def _apply_create(uow, change: ScheduledChange, values: dict, smtp) -> str:
    s = uow.session
    if s.get(Customer, change.customer_id) is None:
        raise _NoLongerApplies("the customer was deleted after the change was scheduled")
    owner = contacts.email_owner(s, values["email_key"])
    if owner is not None:
        raise _NoLongerApplies(f"{values['email']} is now the login of contact {owner[0]} of {owner[1]}")
    contact = contacts.insert(uow, change.customer_id, values, smtp=smtp,
                              message=f"Created contact {values['email']} (scheduled change {change.id} "
                                      f"of {change.operator_login})")
    return f"Created contact {contact.id}"


def _apply_update(uow, change: ScheduledChange, values: dict) -> str:
    s = uow.session
    c = s.get(Contact, change.target_id, with_for_update=True, populate_existing=True)
    if c is None:
        raise _NoLongerApplies("the contact was deleted after the change was scheduled")
    if c.version != change.target_version:
        raise _NoLongerApplies(f"the contact was changed by {c.updated_by or 'someone'} at {when(c.updated_at)} "
                               "after the change was scheduled")
    if values["email_key"] != c.email_key:
        owner = contacts.email_owner(s, values["email_key"], except_id=c.id)
        if owner is not None:
            raise _NoLongerApplies(f"{values['email']} is now the login of contact {owner[0]} of {owner[1]}")
    changed = contacts.assign(c, values)
    if not changed:
        return f"Contact {c.id} already had these values"
    uow.note(c, message=f"Updated {c.audit_label()}: {', '.join(changed)} (scheduled change {change.id} "
                        f"of {change.operator_login})")
    return f"Updated contact {c.id}: {', '.join(changed)}"


def _claim(session: Session, change_id: int) -> ScheduledChange | None:
    return session.execute(
        select(ScheduledChange)
        .where(ScheduledChange.id == change_id, ScheduledChange.state == "pending")
        .with_for_update(skip_locked=True)
    ).scalar_one_or_none()


def _finish(uow, change: ScheduledChange, state: str, result: str, now: dt.datetime) -> ApplyResult:
    change.state = state
    change.result = result
    change.applied_at = now
    change.attempts += 1
    verb = "Applied" if state == "applied" else "Could not apply"
    uow.note(change, message=f"{verb} scheduled change {change.id} ({change.summary}): {result}")
    return ApplyResult(change.id, state, result)


def _apply_one(db: Database, change_id: int, login: str, payload: dict, now: dt.datetime,
               smtp) -> ApplyResult | None:
    with db.read_session() as s:
        actor, refused = _actor_for(s, login, payload)
    with unit_of_work(db, actor, payload.get("comment", "")) as uow:
        change = _claim(uow.session, change_id)
        if change is None:  # another workstation has it, or has already done it
            return None
        if refused:
            return _finish(uow, change, "failed", refused, now)
        try:
            if change.kind == CREATE:
                result = _apply_create(uow, change, payload["values"], smtp)
            elif change.kind == UPDATE:
                result = _apply_update(uow, change, payload["values"])
            else:
                raise _NoLongerApplies(f"this version of cxdesk cannot apply changes of kind {change.kind!r}")
        except _NoLongerApplies as exc:
            return _finish(uow, change, "failed", str(exc), now)
        return _finish(uow, change, "applied", result, now)


def _fail_after_error(db: Database, change_id: int, login: str, payload: dict, reason: str,
                      now: dt.datetime) -> ApplyResult | None:
    """Record a failure whose work was rolled back (the email could not be sent...)."""
    with db.read_session() as s:
        actor, _ = _actor_for(s, login, payload)
    with unit_of_work(db, actor, payload.get("comment", "")) as uow:
        change = _claim(uow.session, change_id)
        if change is None:
            return None
        return _finish(uow, change, "failed", reason, now)


def apply_due(db: Database, now: dt.datetime | None = None, *, limit: int = 100, smtp=None) -> list[ApplyResult]:
    """Apply every pending change due at ``now`` (at most ``limit``), each in its own
    transaction; returns what was done. Safe to run on several workstations at once.

    DatabaseUnavailable propagates (nothing is marked; the next run tries again).
    """
    now = now or utcnow()
    results: list[ApplyResult] = []
    tried: set[int] = set()
    while len(results) < limit:
        with db.read_session() as s:
            stmt = (select(ScheduledChange.id, ScheduledChange.operator_login, ScheduledChange.payload)
                    .where(ScheduledChange.state == "pending", ScheduledChange.due_at <= now)
                    .order_by(ScheduledChange.due_at, ScheduledChange.id).limit(1))
            if tried:
                stmt = stmt.where(ScheduledChange.id.not_in(tried))
            candidate = s.execute(stmt).first()
        if candidate is None:
            break
        change_id, login, raw = candidate
        tried.add(change_id)
        payload: dict[str, Any] = json.loads(raw)
        try:
            outcome = _apply_one(db, change_id, login, payload, now, smtp)
        except DatabaseUnavailable:
            raise
        except UserError as exc:
            outcome = _fail_after_error(db, change_id, login, payload, str(exc), now)
        if outcome is not None:
            results.append(outcome)
    return results
