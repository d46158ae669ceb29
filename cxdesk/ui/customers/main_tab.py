"""The customer's Main tab: the header figures, contacts and internal number blocks."""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from cxdesk.errors import NotFound
from cxdesk.services import customers as svc
from cxdesk.ui.kit import fmt
from cxdesk.ui.kit.context import AppContext
from cxdesk.ui.kit.panel import Panel

STATUS_COLOURS = {"Active": "#1b7f3b", "Inactive": "#6b6b6b", "Penalty": "#b00020", "Pending Approval": "#b26a00"}


class HeaderPanel(Panel):
    """Status, Balance, Debit Limit, Available, Currency, Channels in use / limit, peak 24 h."""

    FIELDS = ("Status", "Balance", "Debit Limit", "Available", "Currency", "Channels", "Peak (24 h)")
    TABLES = ("customers", "cdrs", "hourly_summaries")

    def __init__(self, ctx: AppContext, parent=None) -> None:
        super().__init__(ctx, parent)
        self.currency = ""
        self.values: dict[str, QLabel] = {}
        box = QGroupBox("Account")
        grid = QGridLayout()
        per_row = 4  # two rows, so the tab fits beside the customer list at 1280 px
        for i, name in enumerate(self.FIELDS):
            caption = QLabel(name)
            caption.setStyleSheet("color: #555")
            value = QLabel("—")
            value.setStyleSheet("font-size: 15px; font-weight: 600")
            value.setAccessibleName(name)
            value.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            self.values[name] = value
            row, col = divmod(i, per_row)
            grid.addWidget(caption, 2 * row, col)
            grid.addWidget(value, 2 * row + 1, col)
        self.edit_button = QPushButton("Edit customer...")
        self.edit_button.setAccessibleName("Edit customer")
        self.adjust_button = QPushButton("Adjust balance...")
        self.adjust_button.setAccessibleName("Adjust balance")
        # a child from the start: made visible without a parent, it opens as a window
        self.audit_button = QPushButton("View Audit Log", self)
        self.audit_button.setAccessibleName("View Audit Log")
        self.audit_button.setToolTip("When the customer was created and every change since")
        can = ctx.actor.can
        self.edit_button.setEnabled(can("edit_customers"))
        self.adjust_button.setEnabled(can("adjust_balance"))
        self.audit_button.setVisible(can("view_audit"))
        buttons = QHBoxLayout()
        buttons.addWidget(self.audit_button)
        buttons.addStretch(1)
        buttons.addWidget(self.edit_button)
        buttons.addWidget(self.adjust_button)
        inner = QVBoxLayout(box)
        inner.addLayout(grid)
        inner.addLayout(buttons)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(box)
        self.edit_button.clicked.connect(self.edit)
        self.adjust_button.clicked.connect(self.adjust)
        self.audit_button.clicked.connect(self.view_audit_log)

    def loader(self):
        cid = self.customer_id
        if cid is None:
            return None

        def load(s):
            try:
                return svc.header_figures(s, cid)
            except NotFound:  # deleted meanwhile: the list drops it on the same change
                return None

        return load

    def show_data(self, h) -> None:
        if h is None:
            for v in self.values.values():
                v.setText("—")
                v.setToolTip("")
            return
        self.currency = h.currency
        v = self.values
        v["Status"].setText(h.status)
        style = f"font-size: 15px; font-weight: 600; color: {STATUS_COLOURS.get(h.status, '#000')}"
        if v["Status"].styleSheet() != style:  # a new style sheet polishes and lays out the label again
            v["Status"].setStyleSheet(style)
        v["Balance"].setText(fmt.money(h.balance, h.currency))
        v["Debit Limit"].setText(fmt.money(h.debit_limit, h.currency))
        v["Available"].setText(fmt.money(h.available, h.currency))
        v["Available"].setToolTip("Available = balance + debit limit")
        v["Currency"].setText(h.currency)
        v["Channels"].setText(f"{h.channels_in_use} / {h.channels_limit}")
        v["Channels"].setToolTip("Calls in progress now / the account's channel limit (from CDR start times and durations)")
        v["Peak (24 h)"].setText(str(h.peak_24h))
        v["Peak (24 h)"].setToolTip(
            f"Most concurrent calls in the last 24 hours, first reached {fmt.utc(h.peak_at)}" if h.peak_at
            else "No calls in the last 24 hours"
        )

    def view_audit_log(self) -> None:
        window = self.window()
        if hasattr(window, "show_customer_tab"):
            window.show_customer_tab("Audit Log")

    def edit(self) -> None:
        from cxdesk.ui.customers.customer_dialog import CustomerDialog

        if self.customer_id is not None:
            CustomerDialog(self.ctx, self.customer_id, self).open()

    def adjust(self) -> None:
        from cxdesk.ui.customers.customer_dialog import AdjustBalanceDialog

        if self.customer_id is not None:
            AdjustBalanceDialog(self.ctx, self.customer_id, self.currency, self).open()


class MainTab(QWidget):
    """The header, the contacts and the number blocks; each loads itself when shown."""

    def __init__(self, ctx: AppContext, parent=None) -> None:
        super().__init__(parent)
        from cxdesk.ui.contacts.panel import ContactsPanel
        from cxdesk.ui.numbers.blocks import NumberBlocksWidget

        self.ctx = ctx
        self.header = HeaderPanel(ctx, self)
        self.contacts = ContactsPanel(ctx, self)
        self.numbers = NumberBlocksWidget(ctx, self)
        contacts_box = QGroupBox("Contacts")
        QVBoxLayout(contacts_box).addWidget(self.contacts)
        numbers_box = QGroupBox("Internal Number Block")
        QVBoxLayout(numbers_box).addWidget(self.numbers)
        self.splitter = QSplitter(Qt.Orientation.Vertical)
        self.splitter.setObjectName("main_tab_splitter")
        self.splitter.addWidget(contacts_box)
        self.splitter.addWidget(numbers_box)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 1)
        layout = QVBoxLayout(self)
        layout.addWidget(self.header)
        layout.addWidget(self.splitter, 1)

    def set_customer(self, customer_id: int | None) -> None:
        for part in (self.header, self.contacts, self.numbers):
            part.set_customer(customer_id)

    def save_state(self) -> None:
        self.contacts.save_state()
        if hasattr(self.numbers, "save_state"):
            self.numbers.save_state()
