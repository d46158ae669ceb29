"""View Difference: an audit entry's record before and after, side by side.

The entry is read through ``ctx.ops`` (the dialog opens at once and fills in when the
worker has it); the two panes (diff_pane.py) scroll together, the changed paths jump to
their line, and F7 / Shift+F7 (or the toolbar) step through the changes, "Change 3 of 7".
Everything from the entry is shown as plain text, its invisible characters escaped.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from PySide6.QtCore import QEvent, Qt
from PySide6.QtGui import QAction, QGuiApplication, QKeySequence
from PySide6.QtWidgets import (
    QCheckBox, QHBoxLayout, QLabel, QListWidget, QListWidgetItem, QPushButton, QSplitter, QStyle, QToolBar,
    QVBoxLayout, QWidget,
)

from cxdesk.services import audit_log, jsondiff
from cxdesk.ui.audit.diff_pane import CHANGE_KINDS, DiffColours, DiffPane
from cxdesk.ui.kit.window import PersistentDialog


@dataclass(frozen=True)
class EntryDiff:
    """What the dialog shows of one entry, read in the worker."""

    entry_id: int
    title: str
    detail: str
    before: Any
    after: Any
    changes: list[jsondiff.Change] = field(default_factory=list)


def read_entry(session, entry_id: int) -> EntryDiff:
    """The entry's heading, message and documents (runs in an ops worker)."""
    entry = audit_log.entry(session, entry_id)
    before, after = audit_log.documents(entry)
    return EntryDiff(
        entry.id,
        f"Entry {entry.id}: {entry.action} {entry.table_name} {entry.primary_key} by {entry.actor}, "
        f"{entry.created_at:%Y-%m-%d %H:%M:%S} UTC",
        entry.message + (f"\nComment: {entry.comment}" if entry.comment else ""),
        before, after, audit_log.changes(entry),
    )


def hunks(rows: list[jsondiff.Row]) -> list[tuple[int, int]]:
    """(first, last) row of each run of changed rows: the steps of F7."""
    out: list[tuple[int, int]] = []
    for n, row in enumerate(rows):
        if row.kind in CHANGE_KINDS:
            if out and out[-1][1] == n - 1:
                out[-1] = (out[-1][0], n)
            else:
                out.append((n, n))
    return out


def _plain_label(name: str) -> QLabel:
    label = QLabel()
    label.setAccessibleName(name)
    label.setTextFormat(Qt.TextFormat.PlainText)  # an entry's text is never rich text
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    return label


class DiffDialog(PersistentDialog):
    """An entry's record before and after, side by side, the two panes scrolling together;
    the changed paths on the left jump to their line, F7 / Shift+F7 to the next / previous
    change. Open it with ``open()``: it is deleted when closed, and keeps its size, splitter
    and "Only changes" for the next one."""

    def __init__(self, ctx, entry_id: int, parent: QWidget | None = None) -> None:
        super().__init__(ctx.settings, "audit_diff", (1100, 700), parent)
        self.ctx = ctx
        self.entry_id = entry_id
        self.before: Any = None
        self.after: Any = None
        self.changes: list[jsondiff.Change] = []
        self.loaded = False
        self.view = jsondiff.SideBySide([], {})
        self.hunks: list[tuple[int, int]] = []
        self.current = -1  # index into hunks, -1 before the first
        self.setWindowTitle(f"View Difference - entry {entry_id}")
        self.setAccessibleName("View Difference")
        self.heading = _plain_label("Entry")
        self.heading.setText(f"Reading entry {entry_id}...")
        self.message = _plain_label("Entry message")
        self.message.setWordWrap(True)
        self.paths = QListWidget()
        self.paths.setAccessibleName("Changed paths")
        self.left = DiffPane("Before", left=True)
        self.right = DiffPane("After", left=False)
        self.toolbar = QToolBar()
        self.toolbar.setAccessibleName("Changes")
        self.toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.previous_action = self._step_action("Previous change", QStyle.StandardPixmap.SP_ArrowUp,
                                                 QKeySequence(Qt.Modifier.SHIFT | Qt.Key.Key_F7), -1)
        self.next_action = self._step_action("Next change", QStyle.StandardPixmap.SP_ArrowDown,
                                             QKeySequence(Qt.Key.Key_F7), 1)
        self.status = QLabel()
        self.status.setAccessibleName("Change position")
        self.toolbar.addWidget(self.status)
        self.only_changes = QCheckBox("Only changes")
        self.only_changes.setAccessibleName("Show only the changed lines")
        self.copy_button = QPushButton("Copy as JSON")
        self.copy_button.setAccessibleName("Copy the changes as JSON")
        self.copy_button.setToolTip("The changes as [{op, path, old, new}], as `cxdesk audit diff --json` prints them")
        self.copy_button.setEnabled(False)
        close = QPushButton("Close")
        close.setAccessibleName("Close")
        panes = QWidget()
        pane_layout = QHBoxLayout(panes)
        pane_layout.setContentsMargins(0, 0, 0, 0)
        for caption, pane in (("Before (- removed, ~ changed)", self.left), ("After (+ added, ~ changed)", self.right)):
            column = QVBoxLayout()
            column.addWidget(QLabel(caption))
            column.addWidget(pane, 1)
            pane_layout.addLayout(column, 1)
        self.splitter = QSplitter()
        self.splitter.setObjectName("splitter")
        self.splitter.addWidget(self.paths)
        self.splitter.addWidget(panes)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setSizes([200, 800])
        bottom = QHBoxLayout()
        bottom.addWidget(self.only_changes)
        bottom.addStretch(1)
        bottom.addWidget(self.copy_button)
        bottom.addWidget(close)
        layout = QVBoxLayout(self)
        layout.addWidget(self.heading)
        layout.addWidget(self.message)
        layout.addWidget(self.toolbar)
        layout.addWidget(self.splitter, 1)
        layout.addLayout(bottom)
        for a, b in ((self.left, self.right), (self.right, self.left)):
            a.verticalScrollBar().valueChanged.connect(b.verticalScrollBar().setValue)
            a.horizontalScrollBar().valueChanged.connect(b.horizontalScrollBar().setValue)
        self.paths.currentRowChanged.connect(self._jump)
        self.paths.itemClicked.connect(lambda item: self._jump(self.paths.row(item)))  # again, if current
        self.only_changes.toggled.connect(self._render)
        self.copy_button.clicked.connect(self.copy_json)
        close.clicked.connect(self.accept)
        self.keep(self.splitter)
        self._show_position()
        self.only_changes.setChecked(ctx.settings.value("audit_diff/only_changes", False, type=bool))
        ctx.ops.query(self, lambda s: read_entry(s, entry_id), success=self.show_entry, failure=self._missing)

    def _step_action(self, text: str, icon: QStyle.StandardPixmap, keys: QKeySequence, step: int) -> QAction:
        action = QAction(self.style().standardIcon(icon), text, self)
        action.setShortcut(keys)
        action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        action.setToolTip(f"{text} ({keys.toString(QKeySequence.SequenceFormat.NativeText)})")
        action.triggered.connect(lambda: self.go_to_change(self.current + step))
        self.addAction(action)  # the shortcut works wherever the focus is in the dialog
        self.toolbar.addAction(action)
        return action

    def show_entry(self, diff: EntryDiff) -> None:
        self.before, self.after, self.changes = diff.before, diff.after, diff.changes
        self.heading.setText(jsondiff.visible(diff.title))
        self.message.setText("\n".join(jsondiff.visible(line) for line in diff.detail.split("\n")))
        self.loaded = True
        self.copy_button.setEnabled(True)
        self._render()
        self.go_to_change(0)

    def _missing(self, exc: BaseException) -> None:
        self.heading.setText(str(exc))

    def _render(self, *_args) -> None:
        if not self.loaded:
            return
        self.view = jsondiff.side_by_side(self.before, self.after, only_changes=self.only_changes.isChecked())
        colours = DiffColours.of(self.palette())
        self.left.show_rows(self.view.rows, colours)
        self.right.show_rows(self.view.rows, colours)
        self.hunks = hunks(self.view.rows)  # folding keeps the changes, so self.current stays
        self.paths.blockSignals(True)
        self.paths.clear()
        for change in self.changes:
            path = jsondiff.format_path(change.path)
            item = QListWidgetItem(f"{change.op}  {jsondiff.visible(path) or '(document)'}")
            item.setData(Qt.ItemDataRole.UserRole, path)
            self.paths.addItem(item)
        self.paths.blockSignals(False)
        if 0 <= self.current < len(self.hunks):
            self._show_line(self.hunks[self.current][0])
        self._show_position()

    def go_to_change(self, index: int) -> None:
        """Show the index-th run of changed lines (from 0) in both panes, if there is one."""
        if 0 <= index < len(self.hunks):
            self.current = index
            self._show_line(self.hunks[index][0])
        self._show_position()

    def _show_position(self) -> None:
        count = len(self.hunks)
        if not self.loaded:
            self.status.setText("")
        elif not count:
            self.status.setText("No changes")
        else:
            self.status.setText(f"Change {self.current + 1} of {count}")
        self.previous_action.setEnabled(self.current > 0)
        self.next_action.setEnabled(self.current < count - 1)

    def _show_line(self, line: int) -> None:
        self.left.go_to_line(line)
        self.right.go_to_line(line)

    def _jump(self, index: int) -> None:
        item = self.paths.item(index)
        if item is None:
            return
        line = self.view.path_rows.get(item.data(Qt.ItemDataRole.UserRole))
        if line is not None:
            self._show_line(line)
            self.current = next((n for n, (first, last) in enumerate(self.hunks) if first <= line <= last),
                                self.current)
            self._show_position()

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.Type.PaletteChange:  # e.g. the system switched to dark
            self._render()

    def copy_json(self) -> str:
        text = json.dumps(jsondiff.to_json_ops(self.changes), ensure_ascii=False, indent=2)
        QGuiApplication.clipboard().setText(text)
        return text

    def done(self, result: int) -> None:
        self.ctx.settings.setValue("audit_diff/only_changes", self.only_changes.isChecked())
        super().done(result)
