"""Changes reach the views on the GUI thread: this window's own commits at once, other
workstations' within about a second (services.watch), each as one typed ChangeSet.

``ctx.changes.changed`` carries a :class:`cxdesk.services.changes.ChangeSet`. Views do not
connect to it directly: the panel and window bases (kit.panel) connect, ask
``change_set.touches(tables, customer_id)``, and reload when visible or mark themselves
stale when hidden.
"""
from __future__ import annotations

import logging
import threading
import weakref
from collections import deque

import shiboken6
from PySide6.QtCore import QObject, Qt, QTimer, Signal

from cxdesk.services import changes
from cxdesk.services.changes import ChangeSet

log = logging.getLogger(__name__)
_KEEP_LOCAL_IDS = 10_000


class ChangeHub(QObject):
    changed = Signal(object)
    #: (online, text): the watcher lost or regained the database
    connection = Signal(bool, str)
    _wake = Signal()
    _state = Signal(bool, str)

    def __init__(self, db, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._db = db
        self._queue: deque[ChangeSet] = deque()
        self._lock = threading.Lock()
        self._delivered: set[int] = set()  # entry ids already delivered
        self._watcher = None
        self._paced: deque = deque()  # views waiting for their turn to reload (F5)
        self._pacer = QTimer(self)
        self._pacer.setInterval(0)  # one view per event-loop turn
        self._pacer.timeout.connect(self._reload_next)
        self._wake.connect(self.flush, Qt.ConnectionType.QueuedConnection)
        self._state.connect(self.connection, Qt.ConnectionType.QueuedConnection)
        me = weakref.ref(self)
        source = id(db)

        def incoming(change_set: ChangeSet) -> None:  # any thread
            hub = me()
            if hub is None or not shiboken6.isValid(hub):
                return
            if change_set.origin == "local" and change_set.source != source:
                return  # another Database object in this process: its changes come via the watcher
            with hub._lock:
                hub._queue.append(change_set)
            hub._wake.emit()

        self._unsubscribe = changes.subscribe(incoming)

    # -- other workstations -------------------------------------------------------------
    def start_watching(self, after_id: int | None = None) -> None:
        from cxdesk.services.watch import ChangeWatcher

        if self._watcher is None:
            me = weakref.ref(self)

            def deliver(change_set: ChangeSet) -> None:
                hub = me()
                if hub is not None and shiboken6.isValid(hub):
                    with hub._lock:
                        hub._queue.append(change_set)
                    hub._wake.emit()

            def state(online: bool, text: str) -> None:
                hub = me()
                if hub is not None and shiboken6.isValid(hub):
                    hub._state.emit(online, text)

            self._watcher = ChangeWatcher(self._db, deliver, on_state=state)
            self._watcher.start(after_id)

    @property
    def watching(self) -> bool:
        """True once the watcher runs and knows where the log ends."""
        return self._watcher is not None and self._watcher.running and self._watcher.cursor is not None

    def close(self) -> None:
        self._unsubscribe()
        if self._watcher is not None:
            self._watcher.stop()
            self._watcher = None

    # -- delivery on the GUI thread -----------------------------------------------------------
    def flush(self) -> None:
        """Deliver what has arrived as one ChangeSet (duplicates of own commits dropped)."""
        with self._lock:
            pending = list(self._queue)
            self._queue.clear()
        merged: ChangeSet | None = None
        for cs in pending:
            # the watcher reads every commit, this window's too, and may read one before its
            # commit is published here: whichever comes second is dropped
            fresh = cs.without(self._delivered)
            self._delivered |= cs.entry_ids
            if not fresh:
                continue
            merged = fresh if merged is None else merged.merge(fresh)
        if len(self._delivered) > _KEEP_LOCAL_IDS:
            self._delivered = set(sorted(self._delivered)[-_KEEP_LOCAL_IDS // 2:])
        if merged:
            log.debug("changes: %s", merged.describe())
            self.changed.emit(merged)

    def pace(self, view) -> None:
        """Reload ``view`` on a later event-loop turn, one view a turn, so that F5 (which
        concerns every shown view) does not start all their reloads in one long turn. The
        view's ``reload_if_due()`` decides then whether it still needs it."""
        if view not in self._paced:
            self._paced.append(view)
        self._pacer.start()

    def _reload_next(self) -> None:
        while self._paced:
            view = self._paced.popleft()
            if shiboken6.isValid(view) and view.reload_if_due():
                break  # the next one on the next turn
        if not self._paced:
            self._pacer.stop()

    def publish(self, change_set: ChangeSet) -> None:
        """Announce a change that did not come through a commit (F5: reload everything)."""
        self.changed.emit(change_set)
