"""Python's garbage collector runs on the GUI thread only.

Left alone, the collector runs on whichever thread happens to allocate, and the work
threads of the operations layer allocate all the time: a cycle holding a dead dialog could
then be collected on a worker, deleting a QWidget off the GUI thread, which crashes Qt.
So automatic collection is switched off and a timer collects on the GUI thread instead
(the approach Anki takes), young objects often and everything now and then.
"""
from __future__ import annotations

import gc

from PySide6.QtCore import QObject, QTimer

YOUNG_EVERY_MS = 1_000
FULL_EVERY = 60  # young collections between two full ones


class GuiThreadCollector(QObject):
    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        gc.disable()
        self._ticks = 0
        self.timer = QTimer(self)
        self.timer.setInterval(YOUNG_EVERY_MS)
        self.timer.timeout.connect(self.collect)
        self.timer.start()

    def collect(self) -> None:
        self._ticks += 1
        if self._ticks % FULL_EVERY == 0:
            gc.collect()
        else:
            gc.collect(1)
