"""Notice other workstations' changes: LISTEN on PostgreSQL, a cheap poll on SQLite.

A :class:`ChangeWatcher` runs one background thread with its own connection. When the
database says something was committed (a NOTIFY from another workstation's unit of
work, or SQLite's ``PRAGMA data_version`` moving), it reads the audit entries after the
last one it saw (``changes.since``) and hands them to ``on_changes`` as one ChangeSet.
The cursor only moves forward once a set was delivered, so after a lost connection the
watcher reconnects and catches up from where it was: no change is missed.

Qt-free: the desktop program passes a callback that forwards to its GUI thread.
"""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from cxdesk.db import Database
from cxdesk.services import changes

log = logging.getLogger(__name__)

#: how often SQLite is polled, and how long a LISTEN waits before checking for stop
INTERVAL = 0.25
RETRY_AFTER = (0.5, 1, 2, 5)


class ChangeWatcher:
    def __init__(self, db: Database, on_changes: Callable[[changes.ChangeSet], None], *,
                 on_state: Callable[[bool, str], None] | None = None, interval: float = INTERVAL) -> None:
        self.db = db
        self.on_changes = on_changes
        self.on_state = on_state
        self.interval = interval
        self.cursor: int | None = 0
        self.online = True
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- life ----------------------------------------------------------------------
    def start(self, after_id: int | None = None) -> None:
        """Watch for changes committed after audit entry ``after_id`` (default: the last one
        when the watcher's thread starts; read there, so the caller's thread runs no SQL)."""
        self.cursor = after_id
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="cxdesk-change-watcher", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    # -- the loop ------------------------------------------------------------------
    def _run(self) -> None:
        failures = 0
        while self.cursor is None and not self._stop.is_set():
            try:
                with self.db.read_session() as s:
                    self.cursor = changes.last_entry_id(s)
            except Exception as exc:  # noqa: BLE001 - the database is away: try again
                self._set_state(False, f"Cannot reach the database ({type(exc).__name__}); retrying.")
                self._stop.wait(RETRY_AFTER[-1])
        while not self._stop.is_set():
            try:
                if self.db.is_postgres:
                    self._listen()
                else:
                    self._poll()
            except Exception as exc:  # noqa: BLE001 - a lost connection: retry, then catch up
                delay = RETRY_AFTER[min(failures, len(RETRY_AFTER) - 1)]
                failures += 1
                self._set_state(False, f"Lost the connection to the database ({type(exc).__name__}); "
                                       f"retrying in {delay:g} s. Changes made meanwhile will appear then.")
                log.info("change watcher: %s; retrying in %s s", exc, delay)
                self._stop.wait(delay)
            else:
                failures = 0

    def _set_state(self, online: bool, text: str = "") -> None:
        if online == self.online:
            return
        self.online = online
        if self.on_state is not None:
            try:
                self.on_state(online, text)
            except Exception:  # noqa: BLE001
                log.exception("change watcher state callback failed")

    def catch_up(self) -> changes.ChangeSet:
        """Deliver every change after the cursor (on the calling thread); returns it."""
        with self.db.read_session() as s:
            found = changes.since(s, self.cursor)
        if found:
            self.on_changes(found)
            self.cursor = max(self.cursor, found.last_id)
        return found

    def _poll(self) -> None:
        raw = self.db.engine.raw_connection()
        try:
            cur = raw.cursor()
            cur.execute("PRAGMA data_version")
            version = cur.fetchone()[0]
            self._set_state(True)
            self.catch_up()
            while not self._stop.wait(self.interval):
                cur.execute("PRAGMA data_version")
                now = cur.fetchone()[0]
                if now != version:
                    version = now
                    self.catch_up()
        finally:
            raw.close()

    def _listen(self) -> None:
        raw = self.db.engine.raw_connection()
        try:
            conn = raw.driver_connection
            conn.autocommit = True
            conn.execute(f"LISTEN {changes.CHANNEL}")
            self._set_state(True)
            self.catch_up()  # whatever was committed while we were not listening
            while not self._stop.is_set():
                heard = False
                for _notify in conn.notifies(timeout=self.interval * 2):
                    heard = True
                    break
                if heard:
                    self.catch_up()
                else:
                    conn.execute("SELECT 1")  # notices a dead server between notifications
        except Exception:
            raw.invalidate()
            raise
        finally:
            try:
                raw.driver_connection.execute(f"UNLISTEN {changes.CHANNEL}")
                raw.driver_connection.autocommit = False  # as the pool expects it back
            except Exception:  # noqa: BLE001 - the connection may be gone
                pass
            raw.close()
