"""View > Scheduled changes: delayed saves waiting for their time, applied or failed."""
from __future__ import annotations

from PySide6.QtCore import QByteArray
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QCheckBox, QHBoxLayout, QMainWindow, QPushButton, QVBoxLayout, QWidget

from cxdesk.errors import UserError
from cxdesk.services import scheduler
from cxdesk.ui.kit import audit_comment, dialogs, fmt
from cxdesk.ui.kit.context import AppContext
from cxdesk.ui.kit.tables import Column, ColumnsTableModel, DataTableView, SortFilterProxy

COLUMNS = [
    Column("Due (UTC)", lambda r: r.due_at, text=lambda r: fmt.utc(r.due_at)),
    Column("State", lambda r: r.state),
    Column("Change", lambda r: r.summary),
    Column("Scheduled by", lambda r: r.operator_login),
    Column("Applied (UTC)", lambda r: r.applied_at, text=lambda r: fmt.utc(r.applied_at)),
    Column("Result", lambda r: r.result, tooltip=lambda r: r.result),
]


class ScheduledChangesWindow(QMainWindow):
    def __init__(self, ctx: AppContext, parent=None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.setWindowTitle("Scheduled changes")
        self.setAccessibleName("Scheduled changes")
        self.model = ColumnsTableModel(COLUMNS, parent=self)
        self.proxy = SortFilterProxy(self)
        self.proxy.setSourceModel(self.model)
        self.view = DataTableView("scheduled", ctx.settings, self)
        self.view.setModel(self.proxy)
        self.view.setAccessibleName("Scheduled changes")
        self.pending_only = QCheckBox("Pending only")
        self.pending_only.setAccessibleName("Pending only")
        self.cancel_button = QPushButton("Cancel change")
        self.cancel_button.setAccessibleName("Cancel the selected change")
        self.cancel_button.setEnabled(ctx.actor.can("edit_contacts"))
        refresh_button = QPushButton("Refresh")
        refresh_button.setAccessibleName("Refresh")
        top = QHBoxLayout()
        top.addWidget(self.pending_only)
        top.addStretch(1)
        top.addWidget(refresh_button)
        top.addWidget(self.cancel_button)
        central = QWidget()
        layout = QVBoxLayout(central)
        layout.addLayout(top)
        layout.addWidget(self.view, 1)
        self.setCentralWidget(central)
        refresh = QAction(self)
        refresh.setShortcut(QKeySequence.StandardKey.Refresh)
        refresh.triggered.connect(self.reload)
        self.addAction(refresh)
        refresh_button.clicked.connect(self.reload)
        self.pending_only.toggled.connect(lambda _c: self.reload())
        self.cancel_button.clicked.connect(self.cancel_selected)
        ctx.bus.data_changed.connect(lambda t: t in ("scheduled_changes", "contacts") and self.reload())
        geometry = ctx.settings.value("scheduled/geometry")
        if isinstance(geometry, QByteArray) and not geometry.isEmpty():
            self.restoreGeometry(geometry)
        else:
            self.resize(1000, 450)
        self.view.restore_state()
        self.reload()

    def reload(self) -> None:
        with self.ctx.db.read_session() as s:
            rows = scheduler.list_scheduled(s, states=("pending",) if self.pending_only.isChecked() else None)
        self.model.set_rows(rows)

    def cancel_selected(self) -> None:
        rows = self.view.selected_rows()
        if not rows:
            return
        row = rows[0]
        if row.state != "pending":
            dialogs.show_error(self, f"This change is {row.state}; only pending changes can be cancelled.")
            return
        if not dialogs.confirm(self, "Cancel scheduled change", f"Cancel “{row.summary}”, due {fmt.utc(row.due_at)}?",
                               "Cancel the change"):
            return
        comment = audit_comment.ask(self.ctx, self, "cancelling the change")
        if comment is None:
            return
        try:
            scheduler.cancel_scheduled(self.ctx.db, self.ctx.actor, row.id, comment)
        except UserError as exc:
            dialogs.show_error(self, exc)
        self.reload()

    def closeEvent(self, event) -> None:
        self.ctx.settings.setValue("scheduled/geometry", self.saveGeometry())
        self.view.save_state()
        super().closeEvent(event)
