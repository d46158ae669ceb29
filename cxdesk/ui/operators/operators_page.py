"""Settings > Operators (admins): add operators, change roles, set passwords, deactivate.

The list loads through ``ctx.ops`` and reloads whenever the operators table changes (a
change here, or another workstation's); each change is an audited write, and a refused
one shows why and keeps the form as typed.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
)

from cxdesk.errors import UserError
from cxdesk.models import ROLES
from cxdesk.services import operators
from cxdesk.ui.kit import fmt
from cxdesk.ui.kit.context import AppContext
from cxdesk.ui.kit.forms import FormErrorLabel
from cxdesk.ui.kit.ops import Job
from cxdesk.ui.kit.panel import Panel
from cxdesk.ui.kit.tables import ROW_ROLE, Column, ColumnsTableModel, DataTableView, SortFilterProxy, fit_columns

COLUMNS = [
    Column("Login", lambda o: o.login),
    Column("Name", lambda o: o.display_name),
    Column("Role", lambda o: o.role),
    Column("Active", lambda o: o.active, text=lambda o: fmt.yes_no(o.active)),
    Column("Last sign-in", lambda o: o.last_login_at, text=lambda o: fmt.utc(o.last_login_at)),
    Column("Locked until", lambda o: o.locked_until, text=lambda o: fmt.utc(o.locked_until)),
]
NAME_COLUMN = 1


def _password_edit(name: str) -> QLineEdit:
    edit = QLineEdit()
    edit.setEchoMode(QLineEdit.EchoMode.Password)
    edit.setAccessibleName(name)
    return edit


class OperatorsPage(Panel):
    TABLES = ("operators",)
    CUSTOMER_SCOPED = False

    def __init__(self, ctx: AppContext, parent=None) -> None:
        super().__init__(ctx, parent)
        self.busy = False
        self.model = ColumnsTableModel(COLUMNS, parent=self)
        self.proxy = SortFilterProxy(self)
        self.proxy.setSourceModel(self.model)
        self.view = DataTableView("operators", ctx.settings, self)
        self.view.setModel(self.proxy)
        self.view.setSelectionMode(DataTableView.SelectionMode.SingleSelection)
        self.view.setAccessibleName("Operators")
        self.role = QComboBox()
        self.role.addItems(list(ROLES))
        self.role.setAccessibleName("Role of the selected operator")
        self.role_button = QPushButton("Change role")
        self.active_button = QPushButton("Deactivate")
        self.password = _password_edit("New password for the selected operator")
        self.password.setPlaceholderText("new password for the selected operator")
        self.password_button = QPushButton("Set password")
        for b in (self.role_button, self.active_button, self.password_button):
            b.setAccessibleName(b.text())
        selected = QHBoxLayout()
        selected.addWidget(self.role)
        selected.addWidget(self.role_button)
        selected.addWidget(self.password, 1)
        selected.addWidget(self.password_button)
        selected.addWidget(self.active_button)
        self.new_login = QLineEdit()
        self.new_login.setAccessibleName("New operator login")
        self.new_name = QLineEdit()
        self.new_name.setAccessibleName("New operator name")
        self.new_role = QComboBox()
        self.new_role.addItems(list(ROLES))
        self.new_role.setAccessibleName("New operator role")
        self.new_password = _password_edit("New operator password")
        self.new_again = _password_edit("New operator password again")
        self.add_button = QPushButton("Add operator")
        self.add_button.setAccessibleName("Add operator")
        add_box = QGroupBox("New operator")
        form = QFormLayout(add_box)
        form.addRow("Login:", self.new_login)
        form.addRow("Name:", self.new_name)
        form.addRow("Role:", self.new_role)
        form.addRow("Password:", self.new_password)
        form.addRow("Again:", self.new_again)
        form.addRow(self.add_button)
        self.error = FormErrorLabel(self)
        layout = QVBoxLayout(self)
        layout.addWidget(self.view, 1)
        layout.addLayout(selected)
        layout.addWidget(add_box)
        layout.addWidget(self.error)
        self.view.selectionModel().selectionChanged.connect(lambda *_: self._selection_changed())
        self.role_button.clicked.connect(self.change_role)
        self.password_button.clicked.connect(self.set_password)
        self.active_button.clicked.connect(self.toggle_active)
        self.add_button.clicked.connect(self.add)
        self._selection_changed()

    # -- loading -------------------------------------------------------------------------------
    def reload(self) -> None:
        """As Panel.reload, through a task: the service opens its own read session."""
        self.stale = False
        actor = self.ctx.actor
        self.ctx.ops.task(self, lambda job: operators.list_operators(job.db, actor), success=self.show_data,
                          key="reload")

    def show_data(self, rows: list[operators.OperatorInfo]) -> None:
        current = self.current()
        self.model.set_rows(rows)
        fit_columns(self.view, wide=[NAME_COLUMN])
        if current is not None:
            for row in range(self.proxy.rowCount()):
                if self.proxy.index(row, 0).data(ROW_ROLE).id == current.id:
                    self.view.selectRow(row)
        self._selection_changed()
        self.loads += 1

    def current(self) -> operators.OperatorInfo | None:
        rows = self.view.selected_rows()
        return rows[0] if rows else None

    def _selection_changed(self) -> None:
        op = self.current()
        for w in (self.role, self.role_button, self.password, self.password_button, self.active_button):
            w.setEnabled(op is not None and not self.busy)
        self.add_button.setEnabled(not self.busy)
        if op is not None:
            if op.id != getattr(self, "_role_shown_for", None):  # a reload keeps a role being chosen
                self.role.setCurrentText(op.role)
                self._role_shown_for = op.id
            self.active_button.setText("Deactivate" if op.active else "Activate")
        else:
            self._role_shown_for = None

    # -- changes -------------------------------------------------------------------------------
    def _run(self, what: str, change: Callable[[Job, str], Any], done: Callable[[], None] | None = None) -> None:
        """One audited change on the writer; the list reloads through the change it commits.
        On refusal the reason is shown and the form kept."""
        self.error.show_error("")
        self.busy = True
        self._selection_changed()

        def always() -> None:
            self.busy = False
            self._selection_changed()

        def failed(exc: UserError) -> None:
            self.error.show_error(str(exc))

        self.ctx.ops.write(self, change, success=lambda _info: done() if done is not None else None,
                           failure=failed, always=always, what=what, title="Saving the operator")

    def change_role(self) -> None:
        op, role = self.current(), self.role.currentText()
        if op is not None:
            self._run("the role change", lambda job, c: operators.set_role(
                job.db, job.actor, op.login, role, version=op.version, comment=c))

    def set_password(self) -> None:
        op, password = self.current(), self.password.text()
        if op is not None:
            self._run("the new password", lambda job, c: operators.set_password(
                job.db, job.actor, op.login, password, version=op.version, comment=c), self.password.clear)

    def toggle_active(self) -> None:
        op = self.current()
        if op is not None:
            self._run("deactivating the operator" if op.active else "reactivating the operator",
                      lambda job, c: operators.set_active(job.db, job.actor, op.login, not op.active,
                                                          version=op.version, comment=c))

    def add(self) -> None:
        if self.new_password.text() != self.new_again.text():
            self.error.show_error("The two passwords differ; type them again.")
            self.new_again.setFocus()
            return
        login, name, role, password = (self.new_login.text(), self.new_name.text(), self.new_role.currentText(),
                                       self.new_password.text())
        self._run("the new operator", lambda job, c: operators.create_operator(
            job.db, job.actor, login, password, role=role, display_name=name, comment=c), self._added)

    def _added(self) -> None:
        for w in (self.new_login, self.new_name, self.new_password, self.new_again):
            w.clear()
