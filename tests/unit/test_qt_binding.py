"""The installed Qt binding must not leak references: PySide6 6.12.0 (on Python 3.11) drops
one reference to None on every Qt call that returns nothing, so a long session aborts with
"none_dealloc" (pyproject.toml keeps it out). Run in a child process: the bug kills it."""
from __future__ import annotations

import subprocess
import sys

CODE = """
import os, sys
os.environ["QT_QPA_PLATFORM"] = "offscreen"
from PySide6.QtCore import QObject, Signal

class S(QObject):
    sig = Signal()

o = S()
none, true = sys.getrefcount(None), sys.getrefcount(True)
for _ in range(2000):
    o.setObjectName("x")
    o.sig.emit()
print(none - sys.getrefcount(None), true - sys.getrefcount(True))
"""


def test_qt_calls_and_signal_emits_keep_their_references():
    done = subprocess.run([sys.executable, "-c", CODE], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-500:]
    lost_none, lost_true = map(int, done.stdout.split())
    assert lost_none < 50 and lost_true < 50, (
        f"{lost_none} references to None and {lost_true} to True lost in 2,000 Qt calls and emits: "
        "the Qt binding leaks (see pyproject.toml)")
