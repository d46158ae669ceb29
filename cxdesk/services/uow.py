"""The audited unit of work: the one way to change the database.

    with unit_of_work(db, actor, comment="reason") as uow:
        uow.add(Customer(...))
        contact.name = "New"            # changes to loaded rows are detected

Every changed row gets an audit entry (actor, IP, UTC time, table, key, action, message,
JSON before and after with secrets masked, comment) written in the same transaction, at
the end of the hash chain. A session that is not a unit of work refuses to flush, and a
bulk UPDATE/DELETE/INSERT is refused unless it goes through ``bulk_insert`` or
``bulk_execute``, which audit it as one entry.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

from sqlalchemy import event, inspect, text
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from cxdesk.db import Database, translate
from cxdesk.errors import ConflictError, UserError, ValidationError
from cxdesk.models import AuditEntry, AuditHead, Base, Option, utcnow
from cxdesk.models.base import Versioned
from cxdesk.services import audit_chain, audit_witness, changes
from cxdesk.services.actor import Actor

log = logging.getLogger(__name__)
MASK = "********"
MASK_CHANGED = "******** (changed)"
#: the key, in an audit document, of the digests of its secret columns: a secret is never
#: written in clear, but reconciliation (services.audit_reconcile) can still tell whether
#: the stored value is the one the entry recorded. The values are salted slow hashes or
#: HA1 digests of generated/policy-checked passwords, so the digest reveals nothing usable.
SECRET_DIGESTS = "secret_sha256"
BOOKKEEPING = {"version", "updated_at", "updated_by", "created_at"}
_UNTRACKED = (AuditEntry, AuditHead)


class AuditBypassError(RuntimeError):
    """A write tried to go around the unit of work (a programming error, never a user's)."""


def jsonable(value: Any) -> Any:
    if isinstance(value, Decimal):  # canonical: 10.500000 and 10.5 are the same amount
        return f"{value.quantize(Decimal('0.000001')).normalize():f}" if value.is_finite() else str(value)
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.timezone.utc).isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def secret_digest(table: str, column: str, value: Any) -> str:
    return hashlib.sha256(f"{table}\x1f{column}\x1f{value}".encode()).hexdigest()[:32]


def row_dict(obj: Base, changed_secrets: set[str] = frozenset()) -> dict[str, Any]:
    """The audit view of a row: every column, secrets replaced by a mask (and a digest)."""
    out: dict[str, Any] = {}
    digests: dict[str, str] = {}
    for attr in inspect(obj).mapper.column_attrs:
        col = attr.columns[0]
        if col.info.get("audit") is False:  # derived columns that only repeat others
            continue
        value = getattr(obj, attr.key)
        if col.info.get("secret"):
            if value is not None:
                digests[attr.key] = secret_digest(obj.__tablename__, attr.key, value)
            if attr.key in changed_secrets:
                value = MASK_CHANGED
            elif value is not None:
                value = MASK
        out[attr.key] = jsonable(value)
    if digests:
        out[SECRET_DIGESTS] = digests
    return out


def _pk(obj: Base) -> str:
    ident = inspect(obj).mapper.primary_key_from_instance(obj)
    return ",".join("" if v is None else str(v) for v in ident)


def dumps(doc: dict | None) -> str | None:
    return None if doc is None else json.dumps(doc, ensure_ascii=False, sort_keys=True)


class UnitOfWork:
    def __init__(self, db: Database, actor: Actor, comment: str = "") -> None:
        self.db = db
        self.actor = actor
        self.comment = (comment or "").strip()
        self.session: Session = db.write_session()
        self.session.info["cxdesk_uow"] = self
        #: bulk tables' highest id when this transaction began (services.audit_reconcile)
        self.bulk_marks: dict[str, int] = {}
        self._entries: list[dict] = []
        self._notes: dict[int, tuple[str | None, str | None]] = {}
        self._before: dict[int, dict] = {}
        self.now = utcnow()

    # -- explicit operations -------------------------------------------------
    def add(self, obj: Base, message: str | None = None, action: str | None = None) -> Base:
        self.session.add(obj)
        if message or action:
            self.note(obj, message, action)
        return obj

    def delete(self, obj: Base, message: str | None = None) -> None:
        if message:
            self.note(obj, message)
        self.session.delete(obj)

    def note(self, obj: Base, message: str | None = None, action: str | None = None) -> None:
        """Override the message or action of the entry this object's next flush writes."""
        self._notes[id(obj)] = (message, action)

    def record(
        self,
        action: str,
        table: str,
        primary_key: str | int,
        message: str,
        *,
        before: dict | None = None,
        after: dict | None = None,
        customer_id: int | None = None,
    ) -> None:
        """An entry for an event that is not a row change (LOGIN, SEND, a verification...)."""
        self._entries.append(self._entry(action, table, str(primary_key), message, before, after, customer_id))

    def bulk_insert(self, model: type[Base], rows: list[dict], message: str, *, customer_id: int | None = None) -> None:
        """Insert many rows with one statement and one audit entry summarising them."""
        if not rows:
            return
        self.session.execute(
            model.__table__.insert(), rows, execution_options={"cxdesk_audited": True}
        )
        self.record("POST", model.__tablename__, f"{len(rows)} rows", message,
                    after={"rows": len(rows)}, customer_id=customer_id)

    def bulk_execute(self, statement, message: str, *, table: str, action: str = "UPDATE",
                     customer_id: int | None = None, params=None) -> Any:
        result = self.session.execute(statement, params, execution_options={"cxdesk_audited": True})
        rowcount = getattr(result, "rowcount", -1)
        self.record(action, table, "bulk", message, after={"rows": rowcount}, customer_id=customer_id)
        return result

    def flush(self) -> None:
        self.session.flush()

    # -- machinery -------------------------------------------------------------
    def _entry(self, action, table, pk, message, before, after, customer_id) -> dict:
        return {
            "actor": self.actor.login,
            "ip": self.actor.ip,
            "created_at": utcnow(),
            "table_name": table,
            "primary_key": pk,
            "action": action,
            "message": message,
            "before": dumps(before),
            "after": dumps(after),
            "comment": self.comment,
            "customer_id": customer_id,
        }

    def _before_flush(self, session: Session) -> None:
        for obj in list(session.new) + list(session.dirty):
            if isinstance(obj, Versioned) and (obj in session.new or session.is_modified(obj)):
                obj.updated_by = self.actor.login
        for obj in session.dirty:
            if isinstance(obj, _UNTRACKED) or not session.is_modified(obj):
                continue
            state = inspect(obj)
            before = {}
            secrets = set()
            for attr in state.mapper.column_attrs:
                hist = state.attrs[attr.key].history
                if hist.deleted:
                    before[attr.key] = hist.deleted[0]
                if hist.has_changes() and attr.columns[0].info.get("secret"):
                    secrets.add(attr.key)
            doc = row_dict(obj)
            for key, old in before.items():
                col = state.mapper.column_attrs[key].columns[0]
                if col.info.get("secret"):
                    doc[key] = MASK if old is not None else None
                    digests = doc.setdefault(SECRET_DIGESTS, {})
                    digests.pop(key, None)
                    if old is not None:
                        digests[key] = secret_digest(obj.__tablename__, key, old)
                    if not digests:
                        del doc[SECRET_DIGESTS]
                else:
                    doc[key] = jsonable(old)
            self._before[id(obj)] = (doc, secrets, sorted(k for k in before if k not in BOOKKEEPING))
        for obj in session.deleted:
            if not isinstance(obj, _UNTRACKED):
                self._before[id(obj)] = (row_dict(obj), set(), [])

    def _after_flush(self, session: Session) -> None:
        for obj in session.new:
            if isinstance(obj, _UNTRACKED):
                continue
            message, action = self._notes.pop(id(obj), (None, None))
            self._entries.append(self._entry(
                action or "CREATE", obj.__tablename__, _pk(obj),
                message or f"Created {obj.audit_label()}", None, row_dict(obj), obj.customer_ref(),
            ))
        for obj in session.dirty:
            if isinstance(obj, _UNTRACKED) or id(obj) not in self._before:
                continue
            before, secrets, changed = self._before.pop(id(obj))
            if not changed:
                continue
            message, action = self._notes.pop(id(obj), (None, None))
            self._entries.append(self._entry(
                action or "UPDATE", obj.__tablename__, _pk(obj),
                message or f"Updated {obj.audit_label()}: {', '.join(changed)}",
                before, row_dict(obj, secrets), obj.customer_ref(),
            ))
        for obj in session.deleted:
            if isinstance(obj, _UNTRACKED) or id(obj) not in self._before:
                continue
            before, _, _ = self._before.pop(id(obj))
            message, action = self._notes.pop(id(obj), (None, None))
            self._entries.append(self._entry(
                action or "DELETE", obj.__tablename__, _pk(obj),
                message or f"Deleted {obj.audit_label()}", before, None, obj.customer_ref(),
            ))

    def _require_comment(self) -> None:
        if self.comment or self.actor.system or not self._entries:
            return
        if all(e["action"] == "LOGIN" for e in self._entries):
            return
        opt = self.session.get(Option, "audit-comment")
        # turning the option off is itself a change that needs its reason
        was_on = any(e["table_name"] == "options" and e["primary_key"] == "audit-comment"
                     and e["before"] and json.loads(e["before"]).get("value") == "on" for e in self._entries)
        if was_on or (opt is not None and opt.value == "on"):
            raise ValidationError("A reason is required for every change (Audit Comment is on); type one and save again.", field="comment")

    def commit(self) -> list[int]:
        from cxdesk.services import audit_reconcile, commit_outcome

        self.session.flush()
        self._require_comment()
        entries, self._entries = self._entries, []
        audit_reconcile.stamp_bulk_entries(self, entries)
        ids = audit_chain.append(self.session, entries)
        if ids and self.db.is_postgres:
            # other workstations LISTEN on this channel; the notification is delivered
            # only if, and when, this transaction commits
            self.session.execute(text("SELECT pg_notify(:channel, :payload)"),
                                 {"channel": changes.CHANNEL, "payload": str(max(ids))})
        chain = self.session.info.get("cxdesk_chain")
        backend = commit_outcome.backend_id(self.session) if ids else None
        try:
            self.session.commit()
        except DBAPIError as exc:
            if not ids or not (exc.connection_invalidated or isinstance(exc, OperationalError) and self.db.is_postgres):
                raise
            # the answer to COMMIT was lost: find out what the server did (raises when not saved)
            commit_outcome.settle(self.db, ids[-1], chain[1], backend, exc)
        self._witness(ids)
        changes.publish(changes.ChangeSet.of(
            (changes.Change(i, e["table_name"], e["primary_key"], e["customer_id"]) for i, e in zip(ids, entries)),
            source=id(self.db),
        ))
        return ids

    def _witness(self, ids: list[int]) -> None:
        """This workstation saw the head it just wrote: its witness moves forward."""
        chain = self.session.info.pop("cxdesk_chain", None)
        if not ids or chain is None:
            return
        before, last_hash, count = chain
        try:
            audit_witness.after_commit(self.db.display, ids, last_hash, count, before)
        except OSError as exc:  # the change is committed; the next check records the head
            log.warning("could not record the audit head in the witness file: %s", exc)

    def rollback(self) -> None:
        self._entries.clear()
        try:
            self.session.rollback()
        except DBAPIError:  # the connection is gone: so is its transaction
            log.debug("rollback on a lost connection", exc_info=True)

    def close(self) -> None:
        self.session.close()


@event.listens_for(Session, "before_flush")
def _guard_before_flush(session: Session, _ctx, _instances) -> None:
    uow = session.info.get("cxdesk_uow")
    if uow is None:
        if not (session.new or session.dirty or session.deleted):
            return
        raise AuditBypassError("writes must go through unit_of_work(); this session is read-only")
    uow._before_flush(session)


@event.listens_for(Session, "after_begin")
def _mark_bulk_tables(session: Session, _transaction, connection) -> None:
    uow = session.info.get("cxdesk_uow")
    if uow is not None:
        from cxdesk.services import audit_reconcile

        uow.bulk_marks = audit_reconcile.bulk_marks(connection)


@event.listens_for(Session, "after_flush")
def _track_after_flush(session: Session, _ctx) -> None:
    uow = session.info.get("cxdesk_uow")
    if uow is not None:
        uow._after_flush(session)


@event.listens_for(Session, "do_orm_execute")
def _guard_bulk(state) -> None:
    if (state.is_update or state.is_delete or state.is_insert) and not state.execution_options.get("cxdesk_audited"):
        raise AuditBypassError(
            "bulk INSERT/UPDATE/DELETE must go through UnitOfWork.bulk_insert/bulk_execute so it is audited"
        )


def _friendly_integrity(exc: IntegrityError) -> UserError:
    msg = str(exc.orig).lower()
    if "unique" in msg or "duplicate key" in msg:
        return ConflictError("That value is already in use by another record; choose another one.")
    if "foreign key" in msg:
        return ConflictError("The record is still referred to by other records, or refers to one that no longer exists.")
    return ConflictError("The change breaks a rule of the database and was not saved.")


@contextmanager
def unit_of_work(db: Database, actor: Actor, comment: str = "") -> Iterator[UnitOfWork]:
    """Commit the change and its audit entries together, or nothing at all."""
    uow = UnitOfWork(db, actor, comment)
    try:
        yield uow
        uow.commit()
    except StaleDataError as exc:
        uow.rollback()
        raise ConflictError("Someone else changed this record meanwhile; reload it and apply your change again.") from exc
    except IntegrityError as exc:
        uow.rollback()
        raise _friendly_integrity(exc) from exc
    except SQLAlchemyError as exc:
        uow.rollback()
        err = translate(exc, db.url)
        if err is None:
            raise
        raise err from exc
    except BaseException:
        uow.rollback()
        raise
    finally:
        uow.close()

