"""The Main tab's "Internal Number Block" section: the customer's number blocks; "+" assigns
the next free one, Release gives an unused one back."""
from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QVBoxLayout

from cxdesk.services import numbers as svc
from cxdesk.ui.kit import dialogs, fmt
from cxdesk.ui.kit.context import AppContext
from cxdesk.ui.kit.panel import Panel
from cxdesk.ui.kit.tables import RIGHT, Column, ColumnsTableModel, DataTableView, SortFilterProxy, fit_columns
from cxdesk.ui.numbers.common import reselect, show_refusal, tool_button

BLOCK_COLUMNS = [
    Column("Block", lambda b: b.start, text=lambda b: b.label),
    Column("Size", lambda b: b.size, align=RIGHT),
    Column("In use", lambda b: b.in_use, align=RIGHT),
    Column("Free", lambda b: b.free, align=RIGHT),
    Column("Assigned (UTC)", lambda b: b.assigned_at, text=lambda b: fmt.utc(b.assigned_at)),
]

ASSIGN_TIP = "Assign the next free number block"


@dataclass(frozen=True)
class BlocksData:
    customer_id: int | None
    #: why no block can be assigned (the options are not set), or None
    problem: str | None
    blocks: list[svc.BlockInfo]


def load_blocks(session, customer_id: int | None) -> BlocksData:
    """Runs in the worker: the settings problem and the customer's blocks, in one read."""
    blocks = [] if customer_id is None else svc.list_blocks(session, customer_id)
    return BlocksData(customer_id, svc.block_settings_problem(session), blocks)


def in_use_text(n: int, where: str) -> str:
    """ "1 extension of 2000-2999 is in use", "2 extensions of 2000-2999 are in use"."""
    return f"{fmt.counted(n, 'extension')} of {where} {'is' if n == 1 else 'are'} in use"


class NumberBlocksWidget(Panel):
    """A customer's number blocks: "+" assigns the next free one, Release gives an unused one back."""

    # sip_users: the In use counts; options: the block settings
    TABLES = ("number_blocks", "sip_users", "options")

    def __init__(self, ctx: AppContext, parent=None) -> None:
        super().__init__(ctx, parent)
        self.last_action = ""
        #: the loaded settings problem ("+" explains it instead of assigning); valid once loaded
        self.problem: str | None = None
        self.loaded = False
        self.busy = False
        self._select_id: int | None = None
        self.model = ColumnsTableModel(BLOCK_COLUMNS, parent=self)
        self.proxy = SortFilterProxy(self)
        self.proxy.setSourceModel(self.model)
        self.view = DataTableView("number_blocks", ctx.settings, self)
        self.view.setModel(self.proxy)
        self.view.setAccessibleName("Number blocks")
        self.view.setMinimumHeight(80)
        self.add_button = tool_button("+", "Assign number block", ASSIGN_TIP)
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
        self.view.restore_state()
        self._sync_buttons()

    # -- loading ---------------------------------------------------------------------------
    def set_customer(self, customer_id: int | None) -> None:
        if customer_id != self.customer_id:  # never show (or act on) the previous customer's blocks
            self.last_action = ""
            self.loaded = False
            self._select_id = None
            self.model.set_rows([])
            self.status.clear()
        super().set_customer(customer_id)
        self._sync_buttons()

    def loader(self):
        cid = self.customer_id
        return lambda session: load_blocks(session, cid)

    def show_data(self, data: BlocksData | None) -> None:
        if data is None or data.customer_id != self.customer_id:
            return  # set_customer cleared the section; the current customer loads when shown
        self.loaded = True
        self.problem = data.problem
        self.explanation.setText(data.problem or "")
        self.explanation.setVisible(bool(data.problem))
        self.add_button.setToolTip(data.problem or ASSIGN_TIP)
        keep = self._select_id if self._select_id is not None else getattr(self.selected(), "id", None)
        self.model.set_rows(data.blocks)
        reselect(self.view, self.model, self.proxy, keep)
        self._select_id = None
        fit_columns(self.view)
        self._show_status()
        self._sync_buttons()

    def _show_status(self) -> None:
        self.status.setText(" ".join(t for t in (self.last_action, self._summary()) if t))

    def _summary(self) -> str:
        if self.customer_id is None or not self.loaded:
            return ""
        blocks = self.model.rows()
        if not blocks:
            return "No number block: this customer's SIP users may take any unused extension."
        return "Blocks held: " + ", ".join(b.label for b in blocks) + "."

    def selected(self) -> svc.BlockInfo | None:
        rows = self.view.selected_rows()
        return rows[0] if rows else None

    def _sync_buttons(self) -> None:
        can = (self.ctx.actor.can("edit_numbers") and self.customer_id is not None and self.loaded
               and not self.busy)
        self.add_button.setEnabled(can)
        block = self.selected()
        self.release_button.setEnabled(can and block is not None and block.in_use == 0)
        if block is None:
            tip = "Select a block to release"
        elif block.in_use:
            tip = f"{in_use_text(block.in_use, block.label)}; delete those SIP users on the Auth tab first"
        else:
            tip = f"Give {block.label} back; its numbers become free for other customers"
        self.release_button.setToolTip(tip)

    # -- writes ----------------------------------------------------------------------------
    def _write(self, fn, success, what: str, title: str) -> None:
        self.busy = True
        self._sync_buttons()
        self.ctx.ops.write(self, fn, success=success, failure=lambda exc: show_refusal(self, exc),
                           always=self._write_ended, what=what, title=title)

    def _write_ended(self) -> None:
        self.busy = False
        self._sync_buttons()

    def _did(self, text: str) -> None:
        self.last_action = text
        self._show_status()  # the commit's change set reloads the blocks

    def assign(self) -> None:
        cid = self.customer_id
        if cid is None or not self.loaded or self.busy:
            return
        if self.problem:  # as loaded; the service refuses too if the options changed since
            dialogs.info(self, "Internal number blocks", self.problem)
            return

        def done(block: svc.BlockInfo) -> None:
            if cid != self.customer_id:  # another customer is shown now: the list says it all
                return
            self._select_id = block.id
            if reselect(self.view, self.model, self.proxy, block.id):
                self._select_id = None  # the reload came first
            self._did(f"Assigned {block.label} ({fmt.counted(block.size, 'number')}).")

        self._write(lambda job, comment: svc.assign_block(job.db, job.actor, cid, comment), done,
                    "assigning a number block", "Assigning a number block")

    def release(self) -> None:
        block, cid = self.selected(), self.customer_id
        if block is None or cid is None or self.busy:
            return
        if not dialogs.confirm(
                self, "Release number block",
                f"Release number block {block.label} from {block.customer_name}? Its numbers become free "
                "for other customers.", "Release"):
            return
        self._write(lambda job, comment: svc.release_block(job.db, job.actor, cid, block.start, comment),
                    lambda released: cid == self.customer_id and self._did(f"Released {released.label}."),
                    "releasing the number block", "Releasing the number block")

    def save_state(self) -> None:
        self.view.save_state()
