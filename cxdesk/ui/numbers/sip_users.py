"""The customer's Auth tab (its SIP users, i.e. extensions) and the dialog that adds one."""
from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import Qt, Signal
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
    QVBoxLayout,
    QWidget,
)

from cxdesk.errors import UserError
from cxdesk.services import numbers as svc
from cxdesk.ui.kit import dialogs, fmt
from cxdesk.ui.kit.context import AppContext
from cxdesk.ui.kit.forms import FormErrorLabel, typed_password
from cxdesk.ui.kit.panel import Panel
from cxdesk.ui.kit.tables import Column, ColumnsTableModel, DataTableView, SortFilterProxy, fit_columns
from cxdesk.ui.numbers.common import reselect, show_refusal, tool_button

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

#: free numbers the username picker offers
OFFERED = 200


def block_labels(blocks: list[svc.BlockInfo]) -> str:
    """ "the number block 2000-2999" or "the number blocks 2000-2999, 3000-3999"."""
    noun = "number block" if len(blocks) == 1 else "number blocks"
    return f"the {noun} " + ", ".join(b.label for b in blocks)


@dataclass(frozen=True)
class SipUsersData:
    customer_id: int
    blocks: list[svc.BlockInfo]
    users: list[svc.SipUserInfo]


@dataclass(frozen=True)
class Choices:
    """What the Add SIP user dialog offers: the customer's blocks and their first free numbers."""
    blocks: list[svc.BlockInfo]
    free: list[str]


class SipUserDialog(QDialog):
    """Add a SIP user: the username picker offers the block's free numbers; the password is
    generated (shown once, here) or typed; caller ID and Enabled. Deleted when closed."""

    saved = Signal(int)  # customer id

    def __init__(self, ctx: AppContext, customer_id: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.ctx = ctx
        self.customer_id = customer_id
        self.blocks: list[svc.BlockInfo] = []
        #: the blocks and free numbers have arrived (Save is disabled until then)
        self.loaded = False
        self.saving = False
        self.setWindowTitle("Add SIP user")
        self.setAccessibleName("Add SIP user")
        self.username = QComboBox()
        self.username.setEditable(True)
        self.username.setAccessibleName("Username")
        self.username.lineEdit().setPlaceholderText("an unused number, e.g. 2100")
        self.short = QLabel()
        self.short.setAccessibleName("Short extension")
        self.hint = QLabel("Looking up the customer's number blocks and free numbers...")
        self.hint.setWordWrap(True)
        self.hint.setStyleSheet("color: #555")
        self.hint.setAccessibleName("Where the numbers come from")
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
        self.finished.connect(self._forget_password)  # the password lives no longer than the dialog
        self._sync_password()
        self._sync_save()
        cid = customer_id
        ctx.ops.query(self, lambda s: Choices(svc.list_blocks(s, cid), svc.free_numbers(s, cid, limit=OFFERED)),
                      success=self._choices_arrived, failure=self._choices_failed)

    # -- the choices, loaded ----------------------------------------------------------------
    def _choices_arrived(self, choices: Choices) -> None:
        self.blocks = choices.blocks
        typed = self.username.currentText()
        self.username.addItems(choices.free)
        if typed:  # typed while loading: kept
            self.username.setCurrentText(typed)
        self.hint.setText(f"Numbers from {block_labels(self.blocks)}." if self.blocks
                          else "No number block: any number that no one uses yet.")
        self.loaded = True
        self._show_short(self.username.currentText())
        self._sync_save()

    def _choices_failed(self, exc: UserError) -> None:
        self.hint.setText("The customer's number blocks could not be read; close and try again.")
        self.error.show_error(str(exc))

    def _sync_save(self) -> None:
        self.save_button.setEnabled(self.loaded and not self.saving)

    def _sync_password(self) -> None:
        typed = not self.generate.isChecked()
        for w in (self.password, self.again):
            w.setEnabled(typed)
            if not typed:
                w.clear()

    def _show_short(self, text: str) -> None:
        short = svc.short_for(text.strip(), self.blocks)
        self.short.setText(f"short {short}" if short else "")

    def _forget_password(self, _result: int = 0) -> None:
        self.generated.clear()

    # -- saving ----------------------------------------------------------------------------
    def save(self) -> None:
        if not self.loaded or self.saving:
            return
        self.error.show_error("")
        password = None
        if not self.generate.isChecked():
            password = typed_password(self.password, self.again, self.error,
                                      "Type the password, or tick Generate password.")
            if password is None:
                return
        customer_id = self.customer_id
        username, caller_id, enabled = self.username.currentText(), self.caller_id.text(), self.enabled.isChecked()
        self.saving = True
        self._sync_save()
        self.ctx.ops.write(
            self, lambda job, comment: svc.add_sip_user(job.db, job.actor, customer_id, username, password,
                                                        caller_id=caller_id, enabled=enabled, comment=comment),
            success=self._saved, failure=self._failed, always=self._save_ended,
            what="adding the SIP user", title="Adding the SIP user")

    def _save_ended(self) -> None:
        self.saving = False
        self._sync_save()

    def _failed(self, exc: UserError) -> None:
        self.error.show_error(str(exc))
        widget = self.fields.get(exc.field or "")
        if widget is not None:
            widget.setFocus()

    def _saved(self, added: svc.AddedSipUser) -> None:
        self.saved.emit(self.customer_id)  # the Auth tab reloads through the commit's change set
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


class AuthTab(Panel):
    """The customer's SIP users (extensions): add, enable or disable, delete."""

    # number_blocks: the short extensions and the blocks line
    TABLES = ("sip_users", "number_blocks")

    def __init__(self, ctx: AppContext, parent=None) -> None:
        super().__init__(ctx, parent)
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
        self.add_button = tool_button("+", "Add SIP user", "Add a SIP user (extension)")
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
        self.view.restore_state()
        self._sync_buttons()

    # -- loading ---------------------------------------------------------------------------
    def set_customer(self, customer_id: int | None) -> None:
        if customer_id != self.customer_id:  # never show (or act on) the previous customer's users
            self.model.set_rows([])
            self.blocks_label.clear()
        super().set_customer(customer_id)
        self._sync_buttons()

    def loader(self):
        cid = self.customer_id
        if cid is None:
            return None
        return lambda s: SipUsersData(cid, svc.list_blocks(s, cid), svc.list_sip_users(s, cid))

    def show_data(self, data: SipUsersData | None) -> None:
        if data is None:
            self.model.set_rows([])
            self.blocks_label.clear()
        elif data.customer_id == self.customer_id:  # else: loaded for the customer shown before
            keep = getattr(self.selected(), "id", None)
            self.model.set_rows(data.users)
            reselect(self.view, self.model, self.proxy, keep)
            fit_columns(self.view)
            self.blocks_label.setText(self._blocks_text(data.blocks))
        self._sync_buttons()

    @staticmethod
    def _blocks_text(blocks: list[svc.BlockInfo]) -> str:
        if not blocks:
            return "No number block: SIP users may take any extension that no one uses yet."
        widths = sorted({svc.short_width(b.size) for b in blocks})
        digits = (fmt.counted(widths[0], "digit") if len(widths) == 1
                  else " or ".join(str(w) for w in widths) + " digits, by block")
        return f"Extensions come from {block_labels(blocks)}; the short extension is the last {digits}."

    def selected(self) -> svc.SipUserInfo | None:
        rows = self.view.selected_rows()
        return rows[0] if rows else None

    def _sync_buttons(self) -> None:
        can = self.ctx.actor.can("edit_numbers") and self.customer_id is not None
        user = self.selected()
        free = not getattr(self, "busy", False)  # a write still running: not twice
        self.add_button.setEnabled(can)
        self.toggle_button.setEnabled(can and user is not None and free)
        self.toggle_button.setText("Enable" if user is not None and not user.enabled else "Disable")
        self.delete_button.setEnabled(can and user is not None and free)

    # -- actions ---------------------------------------------------------------------------
    def add(self) -> SipUserDialog | None:
        if self.customer_id is None:
            return None
        dialog = SipUserDialog(self.ctx, self.customer_id, self)
        dialog.open()
        return dialog

    def _write(self, fn, what: str, title: str) -> None:
        # the commit's change set reloads this tab; a refusal is shown and reloads it too
        self.busy = True
        self._sync_buttons()
        self.ctx.ops.write(self, fn, failure=lambda exc: show_refusal(self, exc), what=what, title=title,
                           always=self._write_ended)

    def _write_ended(self) -> None:
        self.busy = False
        self._sync_buttons()

    def toggle_enabled(self) -> None:
        user = self.selected()
        if user is None:
            return
        verb = "enabling" if not user.enabled else "disabling"
        self._write(lambda job, comment: svc.set_sip_enabled(job.db, job.actor, user.id, not user.enabled,
                                                             user.version, comment),
                    f"{verb} the SIP user", f"{verb.capitalize()} SIP user {user.username}")

    def delete(self) -> None:
        user = self.selected()
        if user is None:
            return
        if not dialogs.confirm(self, "Delete SIP user",
                               f"Delete SIP user {user.username}? Devices using it can no longer register, "
                               "and the extension becomes free.", "Delete"):
            return
        self._write(lambda job, comment: svc.delete_sip_user(job.db, job.actor, user.id, user.version, comment),
                    "deleting the SIP user", f"Deleting SIP user {user.username}")

    def save_state(self) -> None:
        self.view.save_state()
