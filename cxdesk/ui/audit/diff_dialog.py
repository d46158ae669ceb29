"""View Difference: an audit entry's record before and after, side by side.

The entry is read through ``ctx.ops`` (the dialog opens at once and fills in when the
worker has it); the two panes scroll together and the changed paths jump to their line.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QFontDatabase, QGuiApplication, QTextCharFormat, QTextCursor
from PySide6.QtWidgets import (
    QCheckBox, QHBoxLayout, QLabel, QListWidget, QListWidgetItem, QPlainTextEdit, QPushButton, QSplitter,
    QTextEdit, QVBoxLayout, QWidget,
)

from cxdesk.services import audit_log, jsondiff
from cxdesk.ui.kit.window import PersistentDialog

_BACKGROUND = {"added": QColor(220, 245, 220), "removed": QColor(250, 222, 222),
               "changed": QColor(253, 243, 208), "fold": QColor(232, 232, 240)}
_SPAN = {"added": QColor(160, 225, 160), "removed": QColor(240, 170, 170), "changed": QColor(245, 215, 140)}
_FILLER = QColor(242, 242, 242)


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


def _utf16(text: str, index: int) -> int:
    """A code point index of ``text`` as a Qt (UTF-16) position."""
    return len(text[:index].encode("utf-16-le")) // 2


class DiffPane(QPlainTextEdit):
    def __init__(self, name: str, parent=None) -> None:
        super().__init__(parent)
        self.setReadOnly(True)
        self.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.setAccessibleName(name)
        self.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))

    def show_rows(self, rows: list[jsondiff.Row], left: bool) -> None:
        lines = [(r.left if left else r.right) for r in rows]
        self.setPlainText("\n".join("" if line is None else line for line in lines))
        selections = []
        doc = self.document()
        for n, (row, line) in enumerate(zip(rows, lines)):
            colour = _FILLER if line is None else _BACKGROUND.get(row.kind)
            if colour is None:
                continue
            block = doc.findBlockByNumber(n)
            sel = QTextEdit.ExtraSelection()
            sel.format.setBackground(colour)
            sel.format.setProperty(QTextCharFormat.Property.FullWidthSelection, True)
            sel.cursor = QTextCursor(block)
            selections.append(sel)
            spans = row.left_spans if left else row.right_spans
            for start, end in spans if line is not None else ():
                span = QTextEdit.ExtraSelection()
                span.format.setBackground(_SPAN.get(row.kind, colour))
                span.cursor = QTextCursor(block)
                span.cursor.setPosition(block.position() + _utf16(line, start))
                span.cursor.setPosition(block.position() + _utf16(line, end), QTextCursor.MoveMode.KeepAnchor)
                selections.append(span)
        self.setExtraSelections(selections)

    def go_to_line(self, n: int) -> None:
        cursor = QTextCursor(self.document().findBlockByNumber(n))
        self.setTextCursor(cursor)
        self.centerCursor()


class DiffDialog(PersistentDialog):
    """An entry's record before and after, side by side, the two panes scrolling together;
    the changed paths on the left jump to their line. Open it with ``open()``: it is deleted
    when closed, and keeps its size, splitter and "Only changes" for the next one."""

    def __init__(self, ctx, entry_id: int, parent: QWidget | None = None) -> None:
        super().__init__(ctx.settings, "audit_diff", (1100, 700), parent)
        self.ctx = ctx
        self.entry_id = entry_id
        self.before: Any = None
        self.after: Any = None
        self.changes: list[jsondiff.Change] = []
        self.loaded = False
        self.view = jsondiff.SideBySide([], {})
        self.setWindowTitle(f"View Difference - entry {entry_id}")
        self.setAccessibleName("View Difference")
        self.heading = QLabel(f"Reading entry {entry_id}...")
        self.heading.setAccessibleName("Entry")
        self.heading.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.message = QLabel()
        self.message.setAccessibleName("Entry message")
        self.message.setWordWrap(True)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.paths = QListWidget()
        self.paths.setAccessibleName("Changed paths")
        self.left = DiffPane("Before")
        self.right = DiffPane("After")
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
        for caption, pane in (("Before", self.left), ("After", self.right)):
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
        layout.addWidget(self.splitter, 1)
        layout.addLayout(bottom)
        for a, b in ((self.left, self.right), (self.right, self.left)):
            a.verticalScrollBar().valueChanged.connect(b.verticalScrollBar().setValue)
            a.horizontalScrollBar().valueChanged.connect(b.horizontalScrollBar().setValue)
        self.paths.currentRowChanged.connect(self._jump)
        self.only_changes.toggled.connect(self._render)
        self.copy_button.clicked.connect(self.copy_json)
        close.clicked.connect(self.accept)
        self.keep(self.splitter)
        self.only_changes.setChecked(ctx.settings.value("audit_diff/only_changes", False, type=bool))
        ctx.ops.query(self, lambda s: read_entry(s, entry_id), success=self.show_entry, failure=self._missing)

    def show_entry(self, diff: EntryDiff) -> None:
        self.before, self.after, self.changes = diff.before, diff.after, diff.changes
        self.heading.setText(diff.title)
        self.message.setText(diff.detail)
        self.loaded = True
        self.copy_button.setEnabled(True)
        self._render()

    def _missing(self, exc: BaseException) -> None:
        self.heading.setText(str(exc))

    def _render(self, *_args) -> None:
        if not self.loaded:
            return
        self.view = jsondiff.side_by_side(self.before, self.after, only_changes=self.only_changes.isChecked())
        self.left.show_rows(self.view.rows, left=True)
        self.right.show_rows(self.view.rows, left=False)
        self.paths.blockSignals(True)
        self.paths.clear()
        for change in self.changes:
            path = jsondiff.format_path(change.path)
            item = QListWidgetItem(f"{change.op}  {path or '(document)'}")
            item.setData(Qt.ItemDataRole.UserRole, path)
            self.paths.addItem(item)
        self.paths.blockSignals(False)

    def _jump(self, index: int) -> None:
        item = self.paths.item(index)
        if item is None:
            return
        line = self.view.path_rows.get(item.data(Qt.ItemDataRole.UserRole))
        if line is not None:
            self.left.go_to_line(line)
            self.right.go_to_line(line)

    def copy_json(self) -> str:
        text = json.dumps(jsondiff.to_json_ops(self.changes), ensure_ascii=False, indent=2)
        QGuiApplication.clipboard().setText(text)
        return text

    def done(self, result: int) -> None:
        self.ctx.settings.setValue("audit_diff/only_changes", self.only_changes.isChecked())
        super().done(result)
