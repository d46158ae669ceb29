"""The operations layer: the only way the desktop program reads or writes the database.

Anki's QueryOp/CollectionOp are the model. Widgets never hold the database; they hand a
function to ``ctx.ops`` and get the result back on the GUI thread:

    ctx.ops.query(self, lambda s: svc.list_contacts(s, cid), success=self.show_rows, key="rows")
    ctx.ops.write(self, lambda job, comment: svc.delete_contact(job.db, job.actor, cid, v, comment),
                  success=self.deleted, what="deleting the contact", title="Deleting the contact")
    ctx.ops.task(self, export_fn, success=..., title="Exporting", cancellable=True)

One policy for all of them:

- the function runs off the GUI thread: reads on a small pool, writes on one writer;
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
import threading
import traceback
from collections.abc import Callable
from typing import Any

import shiboken6
from PySide6.QtCore import QObject, QRunnable, Qt, QThreadPool, QTimer, Signal
from PySide6.QtWidgets import QProgressDialog, QWidget

from cxdesk.errors import Cancelled, UserError, ValidationError

log = logging.getLogger(__name__)
SHOW_PROGRESS_AFTER_MS = 500


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


class _Signals(QObject):
    done = Signal(object)
    failed = Signal(object, str)
    progress = Signal(int, int, str)


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


def alive(widget: QObject | None) -> bool:
    """False once the widget's C++ object is deleted (closed with WA_DeleteOnClose, or
    its parent went away)."""
    return widget is None or shiboken6.isValid(widget)


def show_failure(parent: QWidget | None, exc: BaseException, details: str = "") -> None:
    """The one way an error reaches the user."""
    from cxdesk.ui.kit import dialogs

    parent = parent if alive(parent) else None
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
        self._readers = QThreadPool(self)
        self._readers.setMaxThreadCount(2)
        self._writer = QThreadPool(self)
        self._writer.setMaxThreadCount(1)
        self._live: set[_Signals] = set()
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
              key: Any = None, title: str | None = None, cancellable: bool = False) -> Job:
        """``fn(session)`` with a read session; ``success(result)`` on the GUI thread."""
        db = self._db

        def call(_job: Job):
            with db.read_session() as s:
                return fn(s)

        return self._start(parent, call, success, failure, None, key=key, title=title,
                           cancellable=cancellable, write=False)

    def task(self, parent: QObject | None, fn: Callable[[Job], Any], *, success=None, failure=None,
             always=None, key: Any = None, title: str | None = None, cancellable: bool = False,
             write: bool = False) -> Job:
        """``fn(job)``: long work with progress and cancel; ``write=True`` for the writer thread."""
        return self._start(parent, fn, success, failure, always, key=key, title=title,
                           cancellable=cancellable, write=write)

    def write(self, parent: QWidget | None, fn: Callable[[Job, str], Any], *, success=None, failure=None,
              always=None, what: str | None = "this change", comment: str | None = None,
              title: str | None = None, cancellable: bool = False) -> Job | None:
        """``fn(job, comment)`` on the writer thread. With ``what``, the reason is asked for
        when Audit Comment is on (``comment`` given: no question). ``always()`` runs after
        success, failure or a cancelled question, e.g. to enable the Save button again."""

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
               raw_failure: bool = False) -> Job:
        generation = None
        if key is not None:
            gkey = (id(parent), key)
            generation = self._generation[gkey] = self._generation.get(gkey, 0) + 1
        signals = _Signals()
        self._live.add(signals)
        job = Job(self._db, self.actor, signals)

        def current() -> bool:
            if not alive(parent):
                return False
            return generation is None or self._generation.get((id(parent), key)) == generation

        dialog = None
        timer = None
        if title and not self.inline:
            dialog = _progress_dialog(title, cancellable, parent if isinstance(parent, QWidget) else None, job)
            timer = QTimer(signals)
            timer.setSingleShot(True)
            timer.timeout.connect(dialog.show)
            timer.start(SHOW_PROGRESS_AFTER_MS)

        def finish() -> None:
            if timer is not None:
                timer.stop()
            if dialog is not None and shiboken6.isValid(dialog):
                dialog.reset()
                dialog.hide()
                dialog.deleteLater()
            self._live.discard(signals)
            signals.deleteLater()

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
            if dialog is not None and shiboken6.isValid(dialog):
                dialog.setMaximum(max(total, 0))
                dialog.setValue(min(done_, total) if total else 0)
                if text:
                    dialog.setLabelText(text)

        if self.inline:
            return self._run_inline(fn, job, done, failed)
        signals.done.connect(done, Qt.ConnectionType.QueuedConnection)
        signals.failed.connect(failed, Qt.ConnectionType.QueuedConnection)
        signals.progress.connect(progress, Qt.ConnectionType.QueuedConnection)
        (self._writer if write else self._readers).start(_Runnable(lambda: fn(job), signals))
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
        """Wait for running work (at exit and in tests)."""
        return self._readers.waitForDone(msecs) and self._writer.waitForDone(msecs)

    def close(self) -> None:
        self.changes.close()
        self.wait()


def _progress_dialog(title: str, cancellable: bool, parent: QWidget | None, job: Job) -> QProgressDialog:
    dialog = QProgressDialog(title, "Cancel" if cancellable else "", 0, 0, parent)
    dialog.setWindowTitle(title)
    dialog.setWindowModality(Qt.WindowModality.WindowModal)
    dialog.setAutoClose(False)
    dialog.setAutoReset(False)
    dialog.setMinimumDuration(SHOW_PROGRESS_AFTER_MS)  # setValue() must not show it sooner
    if not cancellable:
        dialog.setCancelButton(None)
    dialog.canceled.connect(job.cancel)
    dialog.setAccessibleName(title)
    dialog.hide()
    return dialog
