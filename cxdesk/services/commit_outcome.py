"""What happened to a COMMIT whose answer was lost (issue 13, point 7).

When the connection drops while the unit of work commits, the server may have committed
the change or not. The unit of work knows the id and the hash of the last audit entry it
wrote (the hash covers the entry's time, content and the chain before it, so no other
transaction's entry can have it): on a fresh connection, that entry is there with that
hash exactly when the change was saved.

On PostgreSQL the old server process may still be alive (a network cut the client does not
share with the server): it is terminated first -- its transaction then ends one way or the
other, atomically -- and the answer is read once it is gone. The application's role may
terminate its own sessions.
"""
from __future__ import annotations

import logging
import time

from sqlalchemy import select, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from cxdesk.errors import DatabaseUnavailable
from cxdesk.models import AuditEntry

log = logging.getLogger(__name__)
SETTLE_SECONDS = 5.0
NOT_SAVED = "The connection dropped while saving; the change was not saved; try again."


def backend_id(session: Session) -> int | None:
    """The server process of the session's connection (PostgreSQL), known without a query."""
    try:
        raw = session.connection().connection.dbapi_connection
        return int(raw.info.backend_pid)
    except (AttributeError, TypeError, ValueError, SQLAlchemyError):
        return None


def _gone(session: Session, pid: int) -> bool:
    """Terminate backend ``pid`` if it is still there; True once it is gone."""
    deadline = time.monotonic() + SETTLE_SECONDS
    terminated = False
    while True:
        alive = session.execute(text("SELECT count(*) FROM pg_stat_activity WHERE pid = :pid"),
                                {"pid": pid}).scalar()
        if not alive:
            return True
        if not terminated:
            terminated = bool(session.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}).scalar())
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)


def lookup(db, entry_id: int, entry_hash: str, backend: int | None) -> bool | None:
    """True: saved; False: not saved; None: cannot tell (the server cannot be reached, or the
    old server process would not end)."""
    for attempt in range(2):  # the pool may first hand out another connection the drop broke
        try:
            with db.read_session() as session:
                if db.is_postgres and backend is not None and not _gone(session, backend):
                    return None
                found = session.scalar(select(AuditEntry.hash).where(AuditEntry.id == entry_id))
                return found == entry_hash
        except SQLAlchemyError as exc:
            log.warning("looking up audit entry %s after a lost commit failed (attempt %d): %s",
                        entry_id, attempt + 1, exc)
    return None


def settle(db, entry_id: int, entry_hash: str, backend: int | None, exc: BaseException) -> None:
    """Return when the change was saved; raise a UserError saying what is known otherwise."""
    saved = lookup(db, entry_id, entry_hash, backend)
    if saved:
        log.warning("the answer to COMMIT was lost (%s), but audit entry %s is there: saved", exc, entry_id)
        return
    if saved is False:
        raise DatabaseUnavailable(NOT_SAVED) from exc
    raise DatabaseUnavailable(
        f"The connection to {db.display} dropped while saving and the server cannot be reached, so it is "
        f"unknown whether the change was saved: check the audit log for entry {entry_id} before trying again."
    ) from exc
