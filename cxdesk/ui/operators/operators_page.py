"""Settings > Operators (admins): add operators, change roles, set passwords, deactivate."""
from __future__ import annotations

from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from cxdesk.errors import UserError
from cxdesk.models import ROLES
from cxdesk.services import operators
from cxdesk.ui.kit import audit_comment, fmt
from cxdesk.ui.kit.context import AppContext
from cxdesk.ui.kit.forms import FormErrorLabel
from cxdesk.ui.kit.tables import Column, ColumnsTableModel, DataTableView

COLUMNS = [
    Column("Login", lambda o: o.login),
    Column("Name", lambda o: o.display_name),
    Column("Role", lambda o: o.role),
    Column("Active", lambda o: o.active, text=lambda o: fmt.yes_no(o.active)),
    Column("Last sign-in", lambda o: o.last_login_at, text=lambda o: fmt.utc(o.last_login_at)),
    Column("Locked until", lambda o: o.locked_until, text=lambda o: fmt.utc(o.locked_until)),
]


def _password_edit(name: str) -> QLineEdit:
    edit = QLineEdit()
    edit.setEchoMode(QLineEdit.EchoMode.Password)
    edit.setAccessibleName(name)
    return edit


class OperatorsPage(QWidget):
    def __init__(self, ctx: AppContext, parent=None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.model = ColumnsTableModel(COLUMNS, parent=self)
        self.view = DataTableView("operators", ctx.settings, self)
        self.view.setModel(self.model)
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
        self.reload()

    def reload(self) -> None:
        current = self.current()
        self.model.set_rows(operators.list_operators(self.ctx.db, self.ctx.actor))
        self.view.fit_columns_once()
        if current is not None:
            for row, op in enumerate(self.model.rows()):
                if op.id == current.id:
                    self.view.selectRow(row)
        self._selection_changed()

    def current(self) -> operators.OperatorInfo | None:
        rows = self.view.selected_rows()
        return rows[0] if rows else None

    def _selection_changed(self) -> None:
        op = self.current()
        for w in (self.role, self.role_button, self.password, self.password_button, self.active_button):
            w.setEnabled(op is not None)
        if op is not None:
            self.role.setCurrentText(op.role)
            self.active_button.setText("Deactivate" if op.active else "Activate")

    def _run(self, what: str, action) -> bool:
        """One audited change; on refusal the reason is shown and the form kept."""
        self.error.show_error("")
        comment = audit_comment.ask(self.ctx, self, what)
        if comment is None:
            return False
        try:
            action(comment)
        except UserError as exc:
            self.error.show_error(str(exc))
            return False
        self.reload()
        return True

    def change_role(self) -> None:
        op = self.current()
        if op is not None:
            self._run("the role change", lambda c: operators.set_role(
                self.ctx.db, self.ctx.actor, op.login, self.role.currentText(), version=op.version, comment=c))

    def set_password(self) -> None:
        op = self.current()
        if op is not None and self._run("the new password", lambda c: operators.set_password(
                self.ctx.db, self.ctx.actor, op.login, self.password.text(), version=op.version, comment=c)):
            self.password.clear()

    def toggle_active(self) -> None:
        op = self.current()
        if op is not None:
            self._run("the change", lambda c: operators.set_active(
                self.ctx.db, self.ctx.actor, op.login, not op.active, version=op.version, comment=c))

    def add(self) -> None:
        if self.new_password.text() != self.new_again.text():
            self.error.show_error("The two passwords differ; type them again.")
            self.new_again.setFocus()
            return
        if self._run("the new operator", lambda c: operators.create_operator(
                self.ctx.db, self.ctx.actor, self.new_login.text(), self.new_password.text(),
                role=self.new_role.currentText(), display_name=self.new_name.text(), comment=c)):
            for w in (self.new_login, self.new_name, self.new_password, self.new_again):
                w.clear()
