"""Work off the GUI thread: reads on a small pool, database writes on one writer thread.

``runner.run(fn, *args, on_done=..., on_error=..., title="Exporting", cancellable=True)``
calls ``fn(handle, *args)`` in a worker; ``handle.progress(done, total)`` and
``handle.cancelled()`` talk to the progress dialog, which appears only after about half
a second. Results and errors come back on the GUI thread. Tests use a synchronous runner.
"""
from __future__ import annotations

import logging
import threading
import traceback
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QRunnable, Qt, QThreadPool, QTimer, Signal
from PySide6.QtWidgets import QProgressDialog, QWidget

from cxdesk.errors import Cancelled, UserError

log = logging.getLogger(__name__)
SHOW_PROGRESS_AFTER_MS = 500


class TaskHandle:
    def __init__(self, signals: _Signals | None = None) -> None:
        self._signals = signals
        self._cancel = threading.Event()

    def progress(self, done: int, total: int = 0, text: str = "") -> None:
        if self._signals is not None:
            self._signals.progress.emit(int(done), int(total), text)

    def cancel(self) -> None:
        self._cancel.set()

    def cancelled(self) -> bool:
        return self._cancel.is_set()



class _Signals(QObject):
    done = Signal(object)
    failed = Signal(object, str)
    progress = Signal(int, int, str)


class _Runnable(QRunnable):
    def __init__(self, fn, args, handle: TaskHandle, signals: _Signals) -> None:
        super().__init__()
        self.fn, self.args, self.handle, self.signals = fn, args, handle, signals
        self.setAutoDelete(True)

    def run(self) -> None:
        try:
            result = self.fn(self.handle, *self.args)
        except BaseException as exc:  # noqa: BLE001 - handed to the GUI thread
            self.signals.failed.emit(exc, traceback.format_exc())
        else:
            self.signals.done.emit(result)


def default_error_handler(parent: QWidget | None, exc: BaseException, details: str) -> None:
    from cxdesk.ui.kit import dialogs

    if isinstance(exc, Cancelled):
        return
    if isinstance(exc, UserError):
        dialogs.show_error(parent, exc)
    else:
        log.error("background task failed:\n%s", details)
        dialogs.show_unexpected(parent, exc, details)


class TaskRunner(QObject):
    def __init__(self, synchronous: bool = False, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.synchronous = synchronous
        self._readers = QThreadPool(self)
        self._readers.setMaxThreadCount(2)
        self._writer = QThreadPool(self)
        self._writer.setMaxThreadCount(1)
        self._live: set[_Signals] = set()

    def run(
        self,
        fn: Callable[..., Any],
        *args: Any,
        on_done: Callable[[Any], None] | None = None,
        on_error: Callable[[BaseException], None] | None = None,
        title: str | None = None,
        cancellable: bool = False,
        write: bool = False,
        parent: QWidget | None = None,
    ) -> TaskHandle:
        if self.synchronous:
            return self._run_now(fn, args, on_done, on_error)
        signals = _Signals()
        self._live.add(signals)
        handle = TaskHandle(signals)
        dialog = self._progress_dialog(title, cancellable, parent, handle) if title else None
        timer = None
        if dialog is not None:
            timer = QTimer(signals)
            timer.setSingleShot(True)
            timer.timeout.connect(dialog.show)
            timer.start(SHOW_PROGRESS_AFTER_MS)

        def finish() -> None:
            if timer is not None:
                timer.stop()
            if dialog is not None:
                dialog.reset()
                dialog.hide()
                dialog.deleteLater()
            self._live.discard(signals)
            signals.deleteLater()

        def done(result: Any) -> None:
            finish()
            if on_done:
                on_done(result)

        def failed(exc: BaseException, details: str) -> None:
            finish()
            if on_error and not isinstance(exc, Cancelled):
                on_error(exc)
            else:
                default_error_handler(parent, exc, details)

        def progress(done_: int, total: int, text: str) -> None:
            if dialog is not None:
                dialog.setMaximum(max(total, 0))
                dialog.setValue(min(done_, total) if total else 0)
                if text:
                    dialog.setLabelText(text)

        signals.done.connect(done, Qt.ConnectionType.QueuedConnection)
        signals.failed.connect(failed, Qt.ConnectionType.QueuedConnection)
        signals.progress.connect(progress, Qt.ConnectionType.QueuedConnection)
        (self._writer if write else self._readers).start(_Runnable(fn, args, handle, signals))
        return handle

    def _run_now(self, fn, args, on_done, on_error) -> TaskHandle:
        handle = TaskHandle()
        try:
            result = fn(handle, *args)
        except BaseException as exc:  # noqa: BLE001
            if on_error and not isinstance(exc, Cancelled):
                on_error(exc)
            else:
                default_error_handler(None, exc, traceback.format_exc())
        else:
            if on_done:
                on_done(result)
        return handle

    @staticmethod
    def _progress_dialog(title, cancellable, parent, handle) -> QProgressDialog:
        dialog = QProgressDialog(title, "Cancel" if cancellable else "", 0, 0, parent)
        dialog.setWindowTitle(title)
        dialog.setWindowModality(Qt.WindowModality.WindowModal)
        dialog.setAutoClose(False)
        dialog.setAutoReset(False)
        dialog.setMinimumDuration(0)
        if not cancellable:
            dialog.setCancelButton(None)
        dialog.canceled.connect(handle.cancel)
        dialog.setAccessibleName(title)
        dialog.hide()
        return dialog

    def wait(self, msecs: int = 30_000) -> bool:
        """Wait for running tasks (used at exit and in tests)."""
        return self._readers.waitForDone(msecs) and self._writer.waitForDone(msecs)
