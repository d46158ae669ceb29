"""Windows and dialogs that keep their size, position, splitters and column layout.

    class GlobalContactsWindow(DataWindow):
        def __init__(self, ctx, parent=None):
            super().__init__(ctx, "global_contacts", (1100, 650), parent)
            ...
            self.keep(self.view)           # header state saved on close, restored now

F5 reloads a DataWindow; Ctrl+F focuses its ``search`` box when it has one.
"""
from __future__ import annotations

from PySide6.QtCore import QByteArray, QSettings, Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QDialog, QMainWindow, QSplitter, QWidget

from cxdesk.ui.kit.panel import DataView


class _Keeper:
    """Geometry, splitter and header state under ``<key>/...`` in QSettings."""

    def _init_keeper(self, settings: QSettings, key: str, size: tuple[int, int]) -> None:
        self._settings, self._key = settings, key
        self._kept: list = []
        geometry = settings.value(f"{key}/geometry")
        if isinstance(geometry, QByteArray) and not geometry.isEmpty():
            self.restoreGeometry(geometry)
        else:
            self.resize(*size)

    def keep(self, *widgets) -> None:
        """Save these views' header state and splitters' sizes with the window's geometry."""
        for widget in widgets:
            self._kept.append(widget)
            if isinstance(widget, QSplitter):
                state = self._settings.value(f"{self._key}/{widget.objectName() or 'splitter'}")
                if isinstance(state, QByteArray) and not state.isEmpty():
                    widget.restoreState(state)
            elif hasattr(widget, "restore_state"):
                widget.restore_state()

    def save_state(self) -> None:
        self._settings.setValue(f"{self._key}/geometry", self.saveGeometry())
        for widget in self._kept:
            if isinstance(widget, QSplitter):
                self._settings.setValue(f"{self._key}/{widget.objectName() or 'splitter'}", widget.saveState())
            elif hasattr(widget, "save_state"):
                widget.save_state()


class PersistentDialog(_Keeper, QDialog):
    """A dialog deleted when closed (``open()`` it), that keeps its size and columns."""

    def __init__(self, settings: QSettings, key: str, size: tuple[int, int], parent: QWidget | None = None) -> None:
        QDialog.__init__(self, parent)
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self._init_keeper(settings, key, size)

    def done(self, result: int) -> None:
        self.save_state()
        super().done(result)


class DataWindow(DataView, _Keeper, QMainWindow):
    """A top-level window that shows data (Global Contacts, Audit Log, Scheduled changes)."""

    def __init__(self, ctx, key: str, size: tuple[int, int], parent: QWidget | None = None) -> None:
        QMainWindow.__init__(self, parent)
        self._init_data_view(ctx)
        self._init_keeper(ctx.settings, key, size)
        self.setWindowFlag(Qt.WindowType.Window)
        refresh = QAction("Refresh", self)
        refresh.setShortcut(QKeySequence.StandardKey.Refresh)
        refresh.triggered.connect(self.reload)
        find = QAction("Find", self)
        find.setShortcut(QKeySequence.StandardKey.Find)
        find.triggered.connect(self.focus_search)
        self.addActions([refresh, find])

    def focus_search(self) -> None:
        box = getattr(self, "search", None)
        if box is not None:
            box.setFocus()
            box.selectAll()

    def closeEvent(self, event) -> None:  # noqa: N802
        self.save_state()
        super().closeEvent(event)
