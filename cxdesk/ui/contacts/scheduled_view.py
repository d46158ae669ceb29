"""View > Scheduled changes: delayed saves waiting for their time, applied or failed."""
from __future__ import annotations

from PySide6.QtWidgets import QCheckBox, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from cxdesk.services import scheduler
from cxdesk.ui.kit import dialogs, fmt
from cxdesk.ui.kit.tables import Column, ColumnsTableModel, DataTableView, SortFilterProxy, fit_columns
from cxdesk.ui.kit.window import DataWindow

COLUMNS = [
    Column("Due (UTC)", lambda r: r.due_at, text=lambda r: fmt.utc(r.due_at)),
    Column("State", lambda r: r.state),
    Column("Change", lambda r: r.summary),
    Column("Scheduled by", lambda r: r.operator_login),
    Column("Applied (UTC)", lambda r: r.applied_at, text=lambda r: fmt.utc(r.applied_at)),
    Column("Result", lambda r: r.result, tooltip=lambda r: r.result),
]
#: the columns that get the width left over
WIDE = (2, 5)


class ScheduledChangesWindow(DataWindow):
    TABLES = ("scheduled_changes", "contacts")
    CUSTOMER_SCOPED = False

    def __init__(self, ctx, parent=None) -> None:
        super().__init__(ctx, "scheduled", (1000, 450), parent)
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
        self.count = QLabel()
        self.count.setAccessibleName("Change count")
        top = QHBoxLayout()
        top.addWidget(self.pending_only)
        top.addStretch(1)
        top.addWidget(refresh_button)
        top.addWidget(self.cancel_button)
        central = QWidget()
        layout = QVBoxLayout(central)
        layout.addLayout(top)
        layout.addWidget(self.view, 1)
        layout.addWidget(self.count)
        self.setCentralWidget(central)
        refresh_button.clicked.connect(self.reload)
        self.pending_only.toggled.connect(lambda _c: self.invalidate())
        self.cancel_button.clicked.connect(self.cancel_selected)
        self.keep(self.view)

    def loader(self):
        states = ("pending",) if self.pending_only.isChecked() else None
        return lambda s: scheduler.list_scheduled(s, states=states)

    def show_data(self, rows) -> None:
        self.model.set_rows(rows or [])
        fit_columns(self.view, wide=WIDE)
        n = self.model.rowCount()
        self.count.setText(fmt.counted(n, "pending change") if self.pending_only.isChecked() else fmt.counted(n, "change"))

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
        change_id = row.id
        self.ctx.ops.write(self, lambda job, comment: scheduler.cancel_scheduled(job.db, job.actor, change_id, comment),
                           what="cancelling the change", title="Cancelling the change")
