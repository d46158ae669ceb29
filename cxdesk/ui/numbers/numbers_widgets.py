"""Internal number blocks (Main tab section) and SIP users (the customer's Auth tab)."""
from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from cxdesk.errors import UserError
from cxdesk.services import numbers as svc
from cxdesk.ui.kit import audit_comment, dialogs, fmt
from cxdesk.ui.kit.context import AppContext
from cxdesk.ui.kit.forms import FormErrorLabel, typed_password
from cxdesk.ui.kit.tables import RIGHT, Column, ColumnsTableModel, DataTableView, SortFilterProxy

BLOCK_COLUMNS = [
    Column("Block", lambda b: b.start, text=lambda b: b.label),
    Column("Size", lambda b: b.size, align=RIGHT),
    Column("In use", lambda b: b.in_use, align=RIGHT),
    Column("Free", lambda b: b.free, align=RIGHT),
    Column("Assigned (UTC)", lambda b: b.assigned_at, text=lambda b: fmt.utc(b.assigned_at)),
]

SIP_COLUMNS = [
    Column("Username", lambda u: int(u.username) if u.username.isdigit() else u.username,
           text=lambda u: u.username, tooltip=lambda u: "the full extension, unique across the system"),
    Column("Short", lambda u: u.short, tooltip=lambda u: f"dial {u.short} inside the company" if u.short else
           "not inside one of the customer's blocks: no short extension"),
    Column("Caller ID", lambda u: u.caller_id),
    Column("Enabled", lambda u: u.enabled, text=lambda u: fmt.yes_no(u.enabled)),
    Column("Changed by", lambda u: u.updated_by),
    Column("Changed (UTC)", lambda u: u.updated_at, text=lambda u: fmt.utc(u.updated_at)),
]

_NUMBER_TABLES = ("number_blocks", "sip_users", "options")


def _tool_button(text: str, accessible: str, tooltip: str) -> QToolButton:
    b = QToolButton()
    b.setText(text)
    b.setAccessibleName(accessible)
    b.setToolTip(tooltip)
    return b


class NumberBlocksWidget(QWidget):
    """A customer's number blocks: "+" assigns the next free one, Release gives an unused one back."""

    def __init__(self, ctx: AppContext, parent=None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.customer_id: int | None = None
        self.last_action = ""
        self.model = ColumnsTableModel(BLOCK_COLUMNS, parent=self)
        self.proxy = SortFilterProxy(self)
        self.proxy.setSourceModel(self.model)
        self.view = DataTableView("number_blocks", ctx.settings, self)
        self.view.setModel(self.proxy)
        self.view.setAccessibleName("Number blocks")
        self.view.setMinimumHeight(80)
        self.add_button = _tool_button("+", "Assign number block", "Assign the next free number block")
        self.release_button = QPushButton("Release...")
        self.release_button.setAccessibleName("Release number block")
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.status.setAccessibleName("Number block status")
        self.explanation = QLabel()
        self.explanation.setWordWrap(True)
        self.explanation.setStyleSheet("color: #b26a00")
        self.explanation.setAccessibleName("Number block settings")
        self.explanation.hide()
        top = QHBoxLayout()
        top.addWidget(self.status, 1)
        top.addWidget(self.release_button)
        top.addWidget(self.add_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(top)
        layout.addWidget(self.explanation)
        layout.addWidget(self.view, 1)
        self.add_button.clicked.connect(self.assign)
        self.release_button.clicked.connect(self.release)
        self.view.selectionModel().selectionChanged.connect(lambda *_: self._sync_buttons())
        ctx.bus.data_changed.connect(lambda table: table in _NUMBER_TABLES and self.reload())
        self.view.restore_state()
        self._sync_buttons()

    def set_customer(self, customer_id: int | None) -> None:
        self.customer_id = customer_id
        self.last_action = ""
        self.reload()

    def reload(self) -> None:
        problem = svc.block_settings_problem(self.ctx.db)
        self.explanation.setText(problem or "")
        self.explanation.setVisible(bool(problem))
        self.add_button.setToolTip(problem or "Assign the next free number block")
        blocks = [] if self.customer_id is None else svc.list_blocks(self.ctx.db, self.customer_id)
        self.model.set_rows(blocks)
        self.status.setText(" ".join(t for t in (self.last_action, self._summary(blocks)) if t))
        self._sync_buttons()

    def _summary(self, blocks) -> str:
        if self.customer_id is None:
            return ""
        if not blocks:
            return "No number block: this customer's SIP users may take any unused extension."
        return "Blocks held: " + ", ".join(b.label for b in blocks) + "."

    def selected(self) -> svc.BlockInfo | None:
        rows = self.view.selected_rows()
        return rows[0] if rows else None

    def _sync_buttons(self) -> None:
        can = self.ctx.actor.can("edit_numbers") and self.customer_id is not None
        self.add_button.setEnabled(can)
        block = self.selected()
        self.release_button.setEnabled(can and block is not None and block.in_use == 0)
        self.release_button.setToolTip(
            "Select a block to release" if block is None else
            f"{block.in_use} extension(s) of {block.label} are in use; delete those SIP users first"
            if block.in_use else f"Give {block.label} back; its numbers become free for other customers")

    def _changed(self) -> None:
        self.ctx.bus.data_changed.emit("number_blocks")

    def assign(self) -> None:
        if self.customer_id is None:
            return
        problem = svc.block_settings_problem(self.ctx.db)
        if problem:
            self.reload()
            dialogs.info(self, "Internal number blocks", problem)
            return
        comment = audit_comment.ask(self.ctx, self, "assigning a number block")
        if comment is None:
            return
        db, actor, customer_id = self.ctx.db, self.ctx.actor, self.customer_id

        def done(block: svc.BlockInfo) -> None:
            self.last_action = f"Assigned {block.label} ({block.size:,} numbers)."
            self._changed()
            for row, b in enumerate(self.model.rows()):
                if b.id == block.id:
                    self.view.selectRow(self.proxy.mapFromSource(self.model.index(row, 0)).row())

        self.ctx.tasks.run(lambda _h: svc.assign_block(db, actor, customer_id, comment), write=True,
                           parent=self, title="Assigning a number block", on_done=done,
                           on_error=lambda exc: self._failed(exc))

    def release(self) -> None:
        block = self.selected()
        if block is None or self.customer_id is None:
            return
        if not dialogs.confirm(
                self, "Release number block",
                f"Release number block {block.label} from {block.customer_name}? Its numbers become free "
                "for other customers.", "Release"):
            return
        comment = audit_comment.ask(self.ctx, self, "releasing the number block")
        if comment is None:
            return
        db, actor, customer_id = self.ctx.db, self.ctx.actor, self.customer_id

        def done(released: svc.BlockInfo) -> None:
            self.last_action = f"Released {released.label}."
            self._changed()

        self.ctx.tasks.run(lambda _h: svc.release_block(db, actor, customer_id, block.start, comment), write=True,
                           parent=self, title="Releasing the number block", on_done=done,
                           on_error=lambda exc: self._failed(exc))

    def _failed(self, exc: BaseException) -> None:
        if not isinstance(exc, UserError):
            raise exc
        dialogs.show_error(self, exc)
        self._changed()  # someone else may have changed the blocks meanwhile

    def save_state(self) -> None:
        self.view.save_state()


class SipUserDialog(QDialog):
    """Add a SIP user: the username picker offers the block's free numbers; the password is
    generated (shown once, here) or typed; caller ID and Enabled."""

    saved = Signal(int)  # customer id

    def __init__(self, ctx: AppContext, customer_id: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.customer_id = customer_id
        self.setWindowTitle("Add SIP user")
        self.setAccessibleName("Add SIP user")
        self.blocks = svc.list_blocks(ctx.db, customer_id)
        self.username = QComboBox()
        self.username.setEditable(True)
        self.username.setAccessibleName("Username")
        self.username.addItems(svc.free_numbers(ctx.db, customer_id, limit=200))
        self.username.lineEdit().setPlaceholderText("an unused number, e.g. 2100")
        self.short = QLabel()
        self.short.setAccessibleName("Short extension")
        self.hint = QLabel(
            "Numbers from " + ", ".join(b.label for b in self.blocks) if self.blocks
            else "No number block: any number that no one uses yet.")
        self.hint.setWordWrap(True)
        self.hint.setStyleSheet("color: #555")
        self.generate = QCheckBox("Generate password (shown once after saving)")
        self.generate.setChecked(True)
        self.generate.setAccessibleName("Generate password")
        self.password = QLineEdit()
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        self.password.setAccessibleName("Password")
        self.password.setPlaceholderText("at least 10 characters, not the username")
        self.again = QLineEdit()
        self.again.setEchoMode(QLineEdit.EchoMode.Password)
        self.again.setAccessibleName("Password again")
        self.caller_id = QLineEdit()
        self.caller_id.setAccessibleName("Caller ID")
        self.caller_id.setPlaceholderText("optional, e.g. +441234567890")
        self.enabled = QCheckBox("Enabled")
        self.enabled.setChecked(True)
        self.enabled.setAccessibleName("Enabled")
        user_row = QHBoxLayout()
        user_row.addWidget(self.username, 1)
        user_row.addWidget(self.short)
        form = QFormLayout()
        form.addRow("Username:", user_row)
        form.addRow("", self.hint)
        form.addRow(self.generate)
        form.addRow("Password:", self.password)
        form.addRow("Again:", self.again)
        form.addRow("Caller ID:", self.caller_id)
        form.addRow(self.enabled)
        self.error = FormErrorLabel(self)
        # shown once, after saving with a generated password
        self.result = QWidget()
        rl = QHBoxLayout(self.result)
        rl.setContentsMargins(0, 0, 0, 0)
        self.generated = QLineEdit()
        self.generated.setReadOnly(True)
        self.generated.setAccessibleName("Generated password")
        self.copy_button = QPushButton("Copy")
        self.copy_button.setAccessibleName("Copy generated password")
        self.result_label = QLabel()
        self.result_label.setWordWrap(True)
        self.result_label.setAccessibleName("Saved SIP user")
        rl.addWidget(self.generated, 1)
        rl.addWidget(self.copy_button)
        self.result.hide()
        self.result_label.hide()
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel)
        self.save_button = self.buttons.button(QDialogButtonBox.StandardButton.Save)
        self.save_button.setAccessibleName("Save SIP user")
        self.cancel_button = self.buttons.button(QDialogButtonBox.StandardButton.Cancel)
        self.cancel_button.setAccessibleName("Cancel")
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.error)
        layout.addWidget(self.result_label)
        layout.addWidget(self.result)
        layout.addWidget(self.buttons)
        self.fields = {"username": self.username, "password": self.password, "caller_id": self.caller_id}
        self.buttons.accepted.connect(self.save)
        self.buttons.rejected.connect(self.reject)
        self.copy_button.clicked.connect(lambda: QGuiApplication.clipboard().setText(self.generated.text()))
        self.generate.toggled.connect(self._sync_password)
        self.username.currentTextChanged.connect(self._show_short)
        self.finished.connect(lambda _r: self.generated.clear())  # the password lives no longer than the dialog
        self._sync_password()
        self._show_short(self.username.currentText())

    def _sync_password(self) -> None:
        typed = not self.generate.isChecked()
        for w in (self.password, self.again):
            w.setEnabled(typed)
            if not typed:
                w.clear()

    def _show_short(self, text: str) -> None:
        short = svc.short_for(text.strip(), self.blocks)
        self.short.setText(f"short {short}" if short else "")

    def save(self) -> None:
        self.error.show_error("")
        password = None
        if not self.generate.isChecked():
            password = typed_password(self.password, self.again, self.error,
                                      "Type the password, or tick Generate password.")
            if password is None:
                return
        comment = audit_comment.ask(self.ctx, self, "adding the SIP user")
        if comment is None:
            return
        db, actor, customer_id = self.ctx.db, self.ctx.actor, self.customer_id
        username, caller_id, enabled = self.username.currentText(), self.caller_id.text(), self.enabled.isChecked()
        self.save_button.setEnabled(False)
        self.ctx.tasks.run(
            lambda _h: svc.add_sip_user(db, actor, customer_id, username, password, caller_id=caller_id,
                                        enabled=enabled, comment=comment),
            write=True, parent=self, title="Adding the SIP user", on_done=self._saved, on_error=self._failed)

    def _failed(self, exc: BaseException) -> None:
        self.save_button.setEnabled(True)
        if not isinstance(exc, UserError):
            raise exc
        self.error.show_error(str(exc))
        widget = self.fields.get(exc.field or "")
        if widget is not None:
            widget.setFocus()

    def _saved(self, added: svc.AddedSipUser) -> None:
        self.saved.emit(self.customer_id)
        self.ctx.bus.data_changed.emit("sip_users")
        if added.generated_password is None:
            self.accept()
            return
        u = added.user
        short = f" (short {u.short})" if u.short else ""
        self.result_label.setText(
            f"Added SIP user {u.username}{short}. Its password is shown only now: copy it to the "
            "device or the customer. cxdesk keeps only the digest hash.")
        self.generated.setText(added.generated_password)
        for w in (self.username, self.generate, self.password, self.again, self.caller_id, self.enabled):
            w.setEnabled(False)
        self.result_label.show()
        self.result.show()
        self.save_button.hide()
        self.cancel_button.setText("Close")
        self.cancel_button.setAccessibleName("Close")


class AuthTab(QWidget):
    """The customer's SIP users (extensions): add, enable or disable, delete."""

    def __init__(self, ctx: AppContext, parent=None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.customer_id: int | None = None
        self.model = ColumnsTableModel(SIP_COLUMNS, parent=self)
        self.proxy = SortFilterProxy(self)
        self.proxy.setSourceModel(self.model)
        self.view = DataTableView("sip_users", ctx.settings, self)
        self.view.setModel(self.proxy)
        self.view.setAccessibleName("SIP users")
        self.blocks_label = QLabel()
        self.blocks_label.setWordWrap(True)
        self.blocks_label.setAccessibleName("Number blocks of the customer")
        self.filter = QLineEdit()
        self.filter.setPlaceholderText("Filter SIP users")
        self.filter.setAccessibleName("Filter SIP users")
        self.filter.setClearButtonEnabled(True)
        self.filter.textChanged.connect(self.proxy.setFilterFixedString)
        self.add_button = _tool_button("+", "Add SIP user", "Add a SIP user (extension)")
        self.toggle_button = QPushButton("Disable")
        self.toggle_button.setAccessibleName("Enable or disable SIP user")
        self.delete_button = QPushButton("Delete...")
        self.delete_button.setAccessibleName("Delete SIP user")
        top = QHBoxLayout()
        top.addWidget(self.filter, 1)
        top.addWidget(self.toggle_button)
        top.addWidget(self.delete_button)
        top.addWidget(self.add_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.blocks_label)
        layout.addLayout(top)
        layout.addWidget(self.view, 1)
        self.add_button.clicked.connect(self.add)
        self.toggle_button.clicked.connect(self.toggle_enabled)
        self.delete_button.clicked.connect(self.delete)
        self.view.selectionModel().selectionChanged.connect(lambda *_: self._sync_buttons())
        ctx.bus.data_changed.connect(lambda table: table in _NUMBER_TABLES and self.reload())
        self.view.restore_state()
        self._sync_buttons()

    def set_customer(self, customer_id: int | None) -> None:
        self.customer_id = customer_id
        self.reload()

    def reload(self) -> None:
        if self.customer_id is None:
            self.model.set_rows([])
            self.blocks_label.clear()
            self._sync_buttons()
            return
        blocks = svc.list_blocks(self.ctx.db, self.customer_id)
        self.model.set_rows(svc.list_sip_users(self.ctx.db, self.customer_id))
        self.blocks_label.setText(
            "Extensions come from the number block(s) " + ", ".join(b.label for b in blocks)
            + f"; the short extension is the last {svc.short_width(blocks[0].size)} digits." if blocks
            else "No number block: SIP users may take any extension that no one uses yet.")
        self._sync_buttons()

    def selected(self) -> svc.SipUserInfo | None:
        rows = self.view.selected_rows()
        return rows[0] if rows else None

    def _sync_buttons(self) -> None:
        can = self.ctx.actor.can("edit_numbers") and self.customer_id is not None
        user = self.selected()
        self.add_button.setEnabled(can)
        self.toggle_button.setEnabled(can and user is not None)
        self.toggle_button.setText("Enable" if user is not None and not user.enabled else "Disable")
        self.delete_button.setEnabled(can and user is not None)

    def add(self) -> SipUserDialog | None:
        if self.customer_id is None:
            return None
        dialog = SipUserDialog(self.ctx, self.customer_id, self)
        dialog.open()
        return dialog

    def _run(self, fn, title: str) -> None:
        def failed(exc: BaseException) -> None:
            if not isinstance(exc, UserError):
                raise exc
            dialogs.show_error(self, exc)
            self.reload()

        self.ctx.tasks.run(fn, write=True, parent=self, title=title,
                           on_done=lambda _r: self.ctx.bus.data_changed.emit("sip_users"), on_error=failed)

    def toggle_enabled(self) -> None:
        user = self.selected()
        if user is None:
            return
        verb = "enabling" if not user.enabled else "disabling"
        comment = audit_comment.ask(self.ctx, self, f"{verb} the SIP user")
        if comment is None:
            return
        db, actor = self.ctx.db, self.ctx.actor
        self._run(lambda _h: svc.set_sip_enabled(db, actor, user.id, not user.enabled, user.version, comment),
                  f"{verb.capitalize()} SIP user {user.username}")

    def delete(self) -> None:
        user = self.selected()
        if user is None:
            return
        if not dialogs.confirm(self, "Delete SIP user",
                               f"Delete SIP user {user.username}? Devices using it can no longer register, "
                               "and the extension becomes free.", "Delete"):
            return
        comment = audit_comment.ask(self.ctx, self, "deleting the SIP user")
        if comment is None:
            return
        db, actor = self.ctx.db, self.ctx.actor
        self._run(lambda _h: svc.delete_sip_user(db, actor, user.id, user.version, comment),
                  f"Deleting SIP user {user.username}")

    def save_state(self) -> None:
        self.view.save_state()
