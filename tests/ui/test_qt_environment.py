"""The desktop program paints on its GUI thread alone (cxdesk.ui.app.qt_environment).

Qt's threaded fills hand a tall, narrow area (a scroll bar, a view's background) to a pool
of threads and wait for them; on a two-core desktop whose database work runs on other
threads those waits made window repaints several times slower (bench gui_session). Run in
a fresh process each: the setting is read once, before the first paint."""
from __future__ import annotations

import os
import subprocess
import sys

PROBE = r"""
import os, sys
os.environ["QT_QPA_PLATFORM"] = "offscreen"
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QScrollBar
if sys.argv[1] == "program":
    from cxdesk.ui.app import make_app
    app = make_app([sys.argv[0]])
else:
    app = QApplication([sys.argv[0]])
bar = QScrollBar(Qt.Orientation.Vertical)
bar.resize(14, 700)
bar.show()
app.processEvents()
for _ in range(3):
    bar.repaint()
names = [open(f"/proc/self/task/{t}/comm").read().strip() for t in os.listdir("/proc/self/task")]
print(sum(name == "Thread (pooled)" for name in names))
"""


def _pool_threads(kind: str) -> int:
    env = {k: v for k, v in os.environ.items() if k != "QT_NO_GUI_THREADPOOL"}
    done = subprocess.run([sys.executable, "-c", PROBE, kind], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return int(done.stdout.strip().splitlines()[-1])


def test_bare_qt_fills_a_tall_area_on_a_thread_pool():
    """The control: without the program's setting the probe sees Qt's paint threads."""
    assert _pool_threads("bare") > 0


def test_the_program_paints_on_the_gui_thread_alone():
    assert _pool_threads("program") == 0
