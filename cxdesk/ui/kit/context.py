"""What every window and widget gets: the operations layer (never the database itself),
the signed-in operator and QSettings."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from PySide6.QtCore import QObject, QSettings, Signal

from cxdesk.services.actor import Actor
from cxdesk.ui.kit.changes import ChangeHub
from cxdesk.ui.kit.ops import Ops


class Bus(QObject):
    """Transitional: the string-typed bus of the first version, until every view listens to
    ``ctx.changes`` (typed ChangeSets)."""

    customers_changed = Signal()
    customer_changed = Signal(int)
    data_changed = Signal(str)


@dataclass
class AppContext:
    ops: Ops
    actor: Actor
    settings: QSettings
    # transitional, removed once every feature goes through ops
    db: Any = None
    tasks: Any = None
    bus: Bus = field(default_factory=Bus)

    @property
    def changes(self) -> ChangeHub:
        return self.ops.changes
