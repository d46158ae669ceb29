"""What changed: typed change sets published after every commit, from this process or others.

Every committed change has audit entries (table, primary key, customer), numbered in the
order they were committed, so the audit log is also the change feed:

- ``uow.commit()`` publishes a :class:`ChangeSet` of its own entries to the subscribers
  of this process (the desktop program's views) right after the commit;
- :func:`since` reads every entry after a given id, which is how another process's
  changes are found (``services.watch``), and how a workstation that lost its connection
  catches up without missing any.

Nothing here imports Qt; the desktop program bridges ``subscribe`` to a Qt signal.
"""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cxdesk.models import AuditEntry

log = logging.getLogger(__name__)

#: entries read at once by :func:`since`; more than this and the set says "everything"
MAX_ENTRIES = 5000
#: the PostgreSQL channel the unit of work notifies in the same transaction
CHANNEL = "cxdesk_changes"


@dataclass(frozen=True)
class Change:
    """One audit entry's worth of change: which row of which table, for which customer."""

    entry_id: int
    table: str
    key: str
    customer_id: int | None


@dataclass(frozen=True)
class ChangeSet:
    changes: tuple[Change, ...] = ()
    #: True when too much changed to list (a reader should reload everything it shows)
    everything: bool = False
    #: the highest audit entry id this set covers (0: unknown)
    last_id: int = 0
    #: "local" for this process's own commits, "remote" for what the watcher found
    origin: str = "local"
    #: which Database object committed a local set (``id(db)``), so a listener can tell
    #: its own database's commits from another one's in the same process (tests)
    source: int = 0
    tables: frozenset[str] = field(init=False)
    customers: frozenset[int] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "tables", frozenset(c.table for c in self.changes))
        object.__setattr__(self, "customers", frozenset(c.customer_id for c in self.changes
                                                        if c.customer_id is not None))

    @classmethod
    def of(cls, entries: Iterable[Change], *, origin: str = "local", everything: bool = False,
           source: int = 0) -> ChangeSet:
        changes = tuple(sorted(entries, key=lambda c: c.entry_id))
        last = changes[-1].entry_id if changes else 0
        return cls(changes, everything=everything, last_id=last, origin=origin, source=source)

    def merge(self, other: ChangeSet) -> ChangeSet:
        seen = {c.entry_id for c in self.changes}
        both = self.changes + tuple(c for c in other.changes if c.entry_id not in seen)
        return ChangeSet(tuple(sorted(both, key=lambda c: c.entry_id)), everything=self.everything or other.everything,
                         last_id=max(self.last_id, other.last_id), origin=self.origin, source=self.source)

    def __bool__(self) -> bool:
        return self.everything or bool(self.changes)

    @property
    def entry_ids(self) -> frozenset[int]:
        return frozenset(c.entry_id for c in self.changes)

    def keys(self, table: str) -> frozenset[str]:
        """Primary keys (as text) of ``table`` that changed; "bulk"-style keys included."""
        return frozenset(c.key for c in self.changes if c.table == table)

    def touches(self, tables: Iterable[str], customer_id: int | None = None) -> bool:
        """Does this set concern any of ``tables`` (for ``customer_id``, when given)?

        An entry without a customer (options, bulk statements, verification) concerns every
        customer, so a customer's view reloads on it rather than miss a change."""
        if self.everything:
            return True
        wanted = set(tables)
        for c in self.changes:
            if c.table in wanted and (customer_id is None or c.customer_id is None or c.customer_id == customer_id):
                return True
        return False

    def without(self, entry_ids: Iterable[int]) -> ChangeSet:
        drop = set(entry_ids)
        return ChangeSet(tuple(c for c in self.changes if c.entry_id not in drop), everything=self.everything,
                         last_id=self.last_id, origin=self.origin, source=self.source)

    def describe(self) -> str:
        if self.everything:
            return "everything"
        return ", ".join(f"{t} ({len(self.keys(t))})" for t in sorted(self.tables)) or "nothing"


# -- in-process publishing -----------------------------------------------------------

_lock = threading.Lock()
_subscribers: list[Callable[[ChangeSet], None]] = []


def subscribe(callback: Callable[[ChangeSet], None]) -> Callable[[], None]:
    """Call ``callback(change_set)`` after every commit in this process (on the committing
    thread). Returns the function that unsubscribes."""
    with _lock:
        _subscribers.append(callback)

    def unsubscribe() -> None:
        with _lock:
            if callback in _subscribers:
                _subscribers.remove(callback)

    return unsubscribe


def publish(change_set: ChangeSet) -> None:
    """Tell the subscribers; a failing subscriber never undoes or fails the commit."""
    if not change_set:
        return
    with _lock:
        targets = list(_subscribers)
    for callback in targets:
        try:
            callback(change_set)
        except Exception:  # noqa: BLE001 - the change is committed whatever a listener does
            log.exception("a change listener failed")


# -- reading the feed ----------------------------------------------------------------


def last_entry_id(session: Session) -> int:
    return int(session.scalar(select(func.max(AuditEntry.id))) or 0)


def since(session: Session, after_id: int, *, limit: int = MAX_ENTRIES) -> ChangeSet:
    """Every change committed after audit entry ``after_id`` (``origin`` "remote")."""
    rows = session.execute(
        select(AuditEntry.id, AuditEntry.table_name, AuditEntry.primary_key, AuditEntry.customer_id)
        .where(AuditEntry.id > after_id).order_by(AuditEntry.id).limit(limit + 1)
    ).all()
    if len(rows) > limit:
        last = last_entry_id(session)
        return ChangeSet((), everything=True, last_id=last, origin="remote")
    return ChangeSet.of((Change(r[0], r[1], r[2], r[3]) for r in rows), origin="remote")
