"""The selected customer's tabs, each built (and its module imported) when first shown.

Start-up builds only the tab on screen (Main); the Summary and Audit Log tabs pull in the
table and export code (numpy) that the first window does not need. ``prefetch()`` imports the
other tabs' modules in the background once the window is up. A tab built later gets
the current customer at once and, being stale, loads when shown. ``panel(title)`` builds
a tab on demand and returns it; ``built()`` lists the tabs that exist; ``set_customer``
hands the customer to the built tabs and remembers it for the others."""
from __future__ import annotations

from collections.abc import Callable
from importlib import import_module

from PySide6.QtWidgets import QTabWidget, QVBoxLayout, QWidget

#: (title, "module:Class") of a customer's tabs, Main first; Audit Log needs view_audit
TABS = (
    ("Main", "cxdesk.ui.customers.main_tab:MainTab"),
    ("Auth", "cxdesk.ui.numbers.sip_users:AuthTab"),
    ("Summary", "cxdesk.ui.summary.summary_tab:SummaryTab"),
    ("Invoices", "cxdesk.ui.invoices.invoices_tab:InvoicesTab"),
    ("Audit Log", "cxdesk.ui.audit.audit_log:CustomerAuditTab"),
)


def _factory(path: str) -> Callable:
    def make(ctx, parent):
        module, name = path.split(":")  # imported at first use (or by prefetch)
        return getattr(import_module(module), name)(ctx, parent)

    return make


def _module(title: str) -> str:
    return dict(TABS)[title].split(":")[0]


def customer_tab_factories(ctx) -> list[tuple[str, Callable]]:
    """(title, factory(ctx, parent)) for each tab of a customer, Main first; a factory
    imports its tab's module when called."""
    return [(title, _factory(path)) for title, path in TABS
            if title != "Audit Log" or ctx.actor.can("view_audit")]


class CustomerTabs(QTabWidget):
    """A QTabWidget whose pages are empty holders until first shown."""

    def __init__(self, ctx) -> None:
        super().__init__()
        self.ctx = ctx
        self.customer_id: int | None = None
        self._factories: dict[str, Callable] = {}
        self._panels: dict[str, QWidget] = {}
        self.setAccessibleName("Customer tabs")
        for title, factory in customer_tab_factories(ctx):
            self._factories[title] = factory
            holder = QWidget()
            holder.setObjectName(f"{title} holder")
            QVBoxLayout(holder).setContentsMargins(0, 0, 0, 0)
            self.addTab(holder, title)
        self.currentChanged.connect(self._shown)
        self._shown(self.currentIndex())

    def titles(self) -> list[str]:
        return [self.tabText(i) for i in range(self.count())]

    def panel(self, title: str) -> QWidget:
        """The tab titled ``title``, built now if it was not yet; KeyError if there is none."""
        built = self._panels.get(title)
        if built is not None:
            return built
        if title not in self._factories:
            raise KeyError(title)
        holder = self.widget(self.titles().index(title))
        panel = self._factories[title](self.ctx, holder)
        panel.set_customer(self.customer_id)  # hidden yet: only noted, loads when shown
        holder.layout().addWidget(panel)
        self._panels[title] = panel
        if holder.isVisible():
            panel.show()  # at once, not on the layout's next turn: the tab on screen loads now
        return panel

    def set_customer(self, customer_id: int | None) -> None:
        """Hand the customer to the tabs built so far (the shown one loads, the others are
        marked stale); a tab built later gets it when built."""
        self.customer_id = customer_id
        for panel in self.built():
            panel.set_customer(customer_id)

    def current_panel(self) -> QWidget | None:
        index = self.currentIndex()
        return None if index < 0 else self.panel(self.tabText(index))

    def built(self) -> list[QWidget]:
        return list(self._panels.values())

    def prefetch(self):
        """Import the modules of the tabs not built yet on a worker (an ops task: short GIL
        hand-overs meanwhile, waited for at exit), so that showing one later does not stall
        the GUI thread on imports (numpy alone ~0.1 s). Only imports: no widget is made."""
        modules = [_module(title) for title in self._factories if title not in self._panels]

        def imports(_job) -> None:
            for module in modules:
                import_module(module)

        return self.ctx.ops.task(self, imports)

    def _shown(self, index: int) -> None:
        if index >= 0:
            self.panel(self.tabText(index))
