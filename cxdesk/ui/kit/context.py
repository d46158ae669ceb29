"""What every window and widget gets: the operations layer (never the database itself),
the signed-in operator and QSettings."""
from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QSettings

from cxdesk.services.actor import Actor
from cxdesk.ui.kit.changes import ChangeHub
from cxdesk.ui.kit.ops import Ops


@dataclass
class AppContext:
    ops: Ops
    actor: Actor
    settings: QSettings

    @property
    def changes(self) -> ChangeHub:
        """Typed change sets after every commit, this window's and other workstations'."""
        return self.ops.changes
