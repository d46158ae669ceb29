"""The operations layer: the only way the desktop program reads or writes the database.

Anki's QueryOp/CollectionOp are the model. Widgets never hold the database; they hand a
function to ``ctx.ops`` and get the result back on the GUI thread:

    ctx.ops.query(self, lambda s: svc.list_contacts(s, cid), success=self.show_rows, key="rows")
    ctx.ops.write(self, lambda job, comment: svc.delete_contact(job.db, job.actor, cid, v, comment),
                  success=self.deleted, what="deleting the contact", title="Deleting the contact")
    ctx.ops.task(self, export_fn, success=..., title="Exporting", cancellable=True)

One policy for all of them:

- the function runs off the GUI thread: reads on a small pool, writes on one writer,
  started once the GUI thread has painted what the event that began them changed;
- a progress dialog (``title``) appears only when the work takes more than about half a
  second, with Cancel when ``cancellable`` (the function polls ``job.cancelled()``);
- a write that needs a reason (``what``) asks for it only when Audit Comment is on, and
  again if the option was switched on meanwhile; cancelling the question cancels the write;
- errors a user can cause go to ``failure`` or, without one, to an error box; anything
  unexpected is logged and shown with its details;
- callbacks are dropped when their widget is gone, and a ``key``ed query's result is
  dropped when a newer query with the same key was started (the last click wins);
- what a write changed is published to every view through ``ctx.changes`` (kit.changes).
"""
from __future__ import annotations

import logging
import sys
import threading
import traceback
from collections.abc import Callable
from typing import Any

import shiboken6
from PySide6.QtCore import QCoreApplication, QEvent, QObject, QRunnable, Qt, QThreadPool, QTimer, Signal
from PySide6.QtWidgets import QProgressDialog, QWidget

from cxdesk.errors import Cancelled, UserError, ValidationError

log = logging.getLogger(__name__)
SHOW_PROGRESS_AFTER_MS = 500
#: seconds a thread runs Python before it must let another have the GIL, while background work
#: runs (Python's default is 5 ms). A painting view calls the model's data() from Qt hundreds of
#: times, each time waiting for the GIL: with a worker busy in Python, every call could wait
#: the whole interval, so painting a table took several times its CPU time.
BUSY_SWITCH_INTERVAL = 0.0005


class _BusySwitchInterval:
    """Shortens sys.setswitchinterval while any operation runs (of any Ops), restores it after."""

    def __init__(self) -> None:
        self.running = 0
        self.saved = sys.getswitchinterval()

    def enter(self) -> None:
        if self.running == 0:
            self.saved = sys.getswitchinterval()
            sys.setswitchinterval(min(self.saved, BUSY_SWITCH_INTERVAL))
        self.running += 1

    def leave(self) -> None:
        self.running = max(self.running - 1, 0)
        if self.running == 0:
            sys.setswitchinterval(self.saved)


_switch_interval = _BusySwitchInterval()


class CommentNeeded(ValidationError):
    """Raised in the worker when Audit Comment is on and no reason was given yet."""

    def __init__(self) -> None:
        super().__init__("A reason is required for every change (Audit Comment is on).", field="comment")


class Job:
    """What a task's function gets: the database, the operator, progress and cancel."""

    def __init__(self, db, actor, signals: _Signals | None) -> None:
        self.db = db
        self.actor = actor
        self._signals = signals
        self._cancel = threading.Event()

    def progress(self, done: int, total: int = 0, text: str = "") -> None:
        if self._signals is not None:
            self._signals.progress.emit(int(min(done, 2**31 - 1)), int(min(total, 2**31 - 1)), text)

    def cancel(self) -> None:
        self._cancel.set()

    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def check_cancelled(self) -> None:
        if self._cancel.is_set():
            raise Cancelled("Cancelled.")

    def read(self):
        """A read session for this job (a context manager), e.g. to load before a write."""
        return self.db.read_session()


class _Signals(QObject):
    done = Signal(object)
    failed = Signal(object, str)
    progress = Signal(int, int, str)

    def __init__(self) -> None:
        super().__init__()
        #: set once the worker no longer touches this object (it has returned from its last emit)
        self.released = threading.Event()


def _delete_when_released(signals: _Signals) -> None:
    """Delete a finished operation's signals object once its worker is done with it: the GUI
    thread can receive the result while the worker is still inside ``emit()``, and deleting
    the object then crashed the worker."""
    if signals.released.is_set():
        signals.deleteLater()
    else:
        QTimer.singleShot(1, lambda: _delete_when_released(signals))


class _Starter(QObject):
    """Starts the operations begun while the GUI thread handles an event once it has also
    painted what that event changed: one posted event, below Qt's repaint (UpdateRequest,
    posted at LowEventPriority). Started at once, a query's Python competed with the paint
    for the interpreter lock; a first customer click froze the window for 40 ms, not 15."""

    PRIORITY = Qt.EventPriority.LowEventPriority.value - 1

    def __init__(self, parent: QObject) -> None:
        super().__init__(parent)
        self.pending: list[tuple[QThreadPool, QRunnable]] = []

    def add(self, pool: QThreadPool, runnable: QRunnable) -> None:
        self.pending.append((pool, runnable))
        if len(self.pending) == 1:
            QCoreApplication.postEvent(self, QEvent(QEvent.Type.User), self.PRIORITY)

    def customEvent(self, event: QEvent) -> None:  # noqa: N802 - Qt's name
        self.start_all()

    def start_all(self) -> None:
        pending, self.pending = self.pending, []
        for pool, runnable in pending:
            pool.start(runnable)


class _Runnable(QRunnable):
    def __init__(self, call: Callable[[], Any], signals: _Signals) -> None:
        super().__init__()
        self.call, self.signals = call, signals
        self.setAutoDelete(True)

    def run(self) -> None:
        try:
            result = self.call()
        except BaseException as exc:  # noqa: BLE001 - handed to the GUI thread
            self.signals.failed.emit(exc, traceback.format_exc())
        else:
            self.signals.done.emit(result)
        finally:
            self.signals.released.set()


def alive(widget: QObject | None) -> bool:
    """False once the widget's C++ object is deleted (closed with WA_DeleteOnClose, or
    its parent went away)."""
    return widget is None or shiboken6.isValid(widget)


def show_failure(parent: QWidget | None, exc: BaseException, details: str = "") -> None:
    """The one way an error reaches the user."""
    from cxdesk.ui.kit import dialogs

    parent = parent if isinstance(parent, QWidget) and alive(parent) else None
    if isinstance(exc, Cancelled):
        return
    if isinstance(exc, UserError):
        dialogs.show_error(parent, exc)
    else:
        details = details or "".join(traceback.format_exception(exc))
        log.error("background work failed:\n%s", details)
        dialogs.show_unexpected(parent, exc, details)


class Ops(QObject):
    """Runs the program's database work. ``inline=True`` (tests) still runs each function on a
    worker thread, but waits for it and delivers the callbacks before returning."""

    def __init__(self, db, actor=None, *, inline: bool = False, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._db = db
        self.actor = actor
        self.inline = inline
        self._starter = _Starter(self)
        self._readers = QThreadPool(self)
        self._readers.setMaxThreadCount(2)
        self._writer = QThreadPool(self)
        self._writer.setMaxThreadCount(1)
        # long reads (exports, reports) have their own threads: they never hold up a view's load
        self._long = QThreadPool(self)
        self._long.setMaxThreadCount(2)
        self._live: set[_Signals] = set()
        self._jobs: set[Job] = set()
        self._generation: dict[Any, int] = {}
        from cxdesk.ui.kit.changes import ChangeHub

        self.changes = ChangeHub(db, self)

    # -- what widgets may know about the database ----------------------------------------
    @property
    def database_display(self) -> str:
        return self._db.display

    @property
    def is_postgres(self) -> bool:
        return self._db.is_postgres

    @property
    def busy(self) -> bool:
        return bool(self._live)

    # -- the three kinds of operation ------------------------------------------------------
    def query(self, parent: QObject | None, fn: Callable[[Any], Any], *, success=None, failure=None,
              always=None, key: Any = None, title: str | None = None, cancellable: bool = False) -> Job:
        """``fn(session)`` with a read session; ``success(result)`` on the GUI thread."""
        db = self._db

        def call(_job: Job):
            with db.read_session() as s:
                return fn(s)

        return self._start(parent, call, success, failure, always, key=key, title=title,
                           cancellable=cancellable, write=False)

    def task(self, parent: QObject | None, fn: Callable[[Job], Any], *, success=None, failure=None,
             always=None, key: Any = None, title: str | None = None, cancellable: bool = False,
             write: bool = False) -> Job:
        """``fn(job)``: long work with progress and cancel; ``write=True`` for the writer thread."""
        return self._start(parent, fn, success, failure, always, key=key, title=title,
                           cancellable=cancellable, write=write, pool=None if write else self._long)

    def call(self, fn: Callable[[Job], Any], *, write: bool = False) -> Any:
        """Run ``fn(job)`` on a worker and wait for its result (or its exception, raised here).
        Only for the start of the program, before any window exists: the GUI thread waits
        but runs no SQL. Windows use query/task/write with callbacks."""
        box: dict[str, Any] = {}
        finished = threading.Event()

        def run(job: Job) -> None:
            try:
                box["result"] = fn(job)
            except BaseException as exc:  # noqa: BLE001 - raised again on the waiting thread
                box["error"] = exc
            finally:
                finished.set()

        self.task(None, run, write=write)
        self._starter.start_all()  # now: the GUI thread waits here, it paints nothing meanwhile
        finished.wait()
        if "error" in box:
            raise box["error"]
        return box.get("result")

    def write(self, parent: QWidget | None, fn: Callable[[Job, str], Any], *, success=None, failure=None,
              always=None, what: str | None = "this change", comment: str | None = None,
              title: str | None = None, cancellable: bool = False, disable=()) -> Job | None:
        """``fn(job, comment)`` on the writer thread. With ``what``, the reason is asked for
        when Audit Comment is on (``comment`` given: no question). ``always()`` runs after
        success, failure or a cancelled question, e.g. to enable the Save button again.
        ``disable``: widgets (buttons, actions) off until the write ends, so it cannot be
        started twice by a double click; each gets back the state it had, so use it for
        widgets whose state nothing else changes meanwhile (else keep a busy flag)."""
        if disable:
            was = [(w, w.isEnabled()) for w in disable]
            for w, _ in was:
                w.setEnabled(False)
            inner = always

            def always() -> None:
                for w, enabled in was:
                    if alive(w):
                        w.setEnabled(enabled)
                if inner is not None:
                    inner()

        def call(job: Job):
            if what is not None and not comment:
                from cxdesk.services import options

                with job.db.read_session() as s:
                    if options.get(s, "audit-comment") == "on":
                        raise CommentNeeded()
            return fn(job, comment or "")

        def failed(exc: BaseException) -> None:
            if what is not None and not comment and isinstance(exc, ValidationError) and exc.field == "comment":
                reason = self.ask_comment(parent, what)
                if reason is None:
                    if always is not None:
                        always()
                    return
                self.write(parent, fn, success=success, failure=failure, always=always, what=what,
                           comment=reason, title=title, cancellable=cancellable)
                return
            if always is not None:
                always()
            if failure is not None and isinstance(exc, UserError):
                failure(exc)
            else:
                show_failure(parent, exc)

        def done(result: Any) -> None:
            if always is not None:
                always()
            if success is not None:
                success(result)

        return self._start(parent, call, done, failed, None, key=None, title=title, cancellable=cancellable,
                           write=True, raw_failure=True)

    def cancel_key(self, parent: QObject | None, key: Any) -> None:
        """Drop the result of the keyed query still running for ``parent`` (if any)."""
        gkey = (id(parent), key)
        if gkey in self._generation:
            self._generation[gkey] += 1

    @staticmethod
    def ask_comment(parent: QWidget | None, what: str) -> str | None:
        """The reason for a change, asked until one is typed; None when the user cancels."""
        from cxdesk.ui.kit import dialogs

        prompt = f"Reason for {what} (recorded in the audit log):"
        while True:
            text = dialogs.ask_text(parent if alive(parent) else None, "Audit comment", prompt)
            if text is None:
                return None
            if text.strip():
                return text.strip()
            prompt = f"A reason is required while Audit Comment is on. Reason for {what}:"

    # -- machinery -----------------------------------------------------------------------
    def _start(self, parent, fn, success, failure, always, *, key, title, cancellable, write,
               raw_failure: bool = False, pool: QThreadPool | None = None) -> Job:
        generation = None
        if key is not None:
            gkey = (id(parent), key)
            generation = self._generation[gkey] = self._generation.get(gkey, 0) + 1
        signals = _Signals()
        self._live.add(signals)
        _switch_interval.enter()
        job = Job(self._db, self.actor, signals)
        self._jobs.add(job)

        def current() -> bool:
            if not alive(parent):
                return False
            # a few ints per widget and key, never removed: an older result must stay droppable
            return generation is None or self._generation.get((id(parent), key)) == generation

        dialog = None
        timer = None
        latest: list[tuple[int, int, str]] = []  # progress reported before the dialog shows

        def show_progress(done_: int, total: int, text: str) -> None:
            dialog.setMaximum(max(total, 0))
            dialog.setValue(min(done_, total) if total else 0)
            if text:
                dialog.setLabelText(text)

        def appear() -> None:
            if dialog is not None and shiboken6.isValid(dialog):
                dialog.show()
                if latest:
                    show_progress(*latest[-1])

        if title and not self.inline:
            dialog = _progress_dialog(title, cancellable, parent if isinstance(parent, QWidget) else None, job)
            timer = QTimer(signals)
            timer.setSingleShot(True)
            timer.timeout.connect(appear)
            timer.start(SHOW_PROGRESS_AFTER_MS)

        def finish() -> None:
            if timer is not None:
                timer.stop()
            if dialog is not None and shiboken6.isValid(dialog):
                dialog.reset()
                dialog.hide()
                dialog.deleteLater()
            if signals in self._live:
                self._live.discard(signals)
                _switch_interval.leave()
            self._jobs.discard(job)
            _delete_when_released(signals)

        def done(result: Any) -> None:
            finish()
            if not current():
                return
            if always is not None:
                always()
            if success is not None:
                success(result)

        def failed(exc: BaseException, details: str) -> None:
            finish()
            if not current():
                if not isinstance(exc, (UserError, Cancelled)):
                    log.error("background work failed after its window closed:\n%s", details)
                return
            if raw_failure:
                failure(exc)
                return
            if always is not None:
                always()
            if isinstance(exc, Cancelled):
                return
            if failure is not None and isinstance(exc, UserError):
                failure(exc)
            else:
                show_failure(parent, exc, details)

        def progress(done_: int, total: int, text: str) -> None:
            if dialog is None or not shiboken6.isValid(dialog):
                return
            if dialog.isVisible():
                show_progress(done_, total, text)
            else:  # before half a second: remembered, shown with the dialog
                latest[:] = [(done_, total, text)]

        if self.inline:
            signals.released.set()  # the inline worker never emits
            return self._run_inline(fn, job, done, failed)
        signals.done.connect(done, Qt.ConnectionType.QueuedConnection)
        signals.failed.connect(failed, Qt.ConnectionType.QueuedConnection)
        signals.progress.connect(progress, Qt.ConnectionType.QueuedConnection)
        self._starter.add((pool or (self._writer if write else self._readers)), _Runnable(lambda: fn(job), signals))
        return job

    def _run_inline(self, fn, job: Job, done, failed) -> Job:
        """Run on a worker thread and wait: SQL never runs on the GUI thread, even in tests."""
        box: dict[str, Any] = {}

        def run() -> None:
            try:
                box["result"] = fn(job)
            except BaseException as exc:  # noqa: BLE001
                box["error"] = (exc, traceback.format_exc())

        worker = threading.Thread(target=run, name="cxdesk-inline-op")
        worker.start()
        worker.join()
        self.changes.flush()
        if "error" in box:
            failed(*box["error"])
        else:
            done(box.get("result"))
        return job

    def wait(self, msecs: int = 30_000) -> bool:
        """Wait for running work (at exit and in tests): the writer first and always, so a
        save in progress is committed before the program closes the database."""
        self._starter.start_all()
        wrote = self._writer.waitForDone(msecs)
        read = self._readers.waitForDone(msecs)
        return self._long.waitForDone(msecs) and read and wrote

    def close(self) -> None:
        """At exit: stop watching, ask running work to stop, wait for it (saves finish)."""
        self.changes.close()
        for job in list(self._jobs):
            job.cancel()
        self.wait()


def _progress_dialog(title: str, cancellable: bool, parent: QWidget | None, job: Job) -> QProgressDialog:
    dialog = QProgressDialog(title, "Cancel" if cancellable else "", 0, 0, parent)
    dialog.setWindowTitle(title)
    # not modal: a modal QProgressDialog runs the event loop inside setValue(); the widgets
    # that started the work disable what must not be clicked twice meanwhile
    dialog.setWindowModality(Qt.WindowModality.NonModal)
    dialog.setAutoClose(False)
    dialog.setAutoReset(False)
    dialog.setMinimumDuration(2**30)  # shown by our timer only, never by Qt's own estimate
    if not cancellable:
        dialog.setCancelButton(None)
    dialog.canceled.connect(job.cancel)
    dialog.setAccessibleName(title)
    dialog.hide()
    return dialog
