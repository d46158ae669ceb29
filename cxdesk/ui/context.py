"""What every window and widget needs: the database, the signed-in operator, the task
runner, a signal bus to tell other views that data changed, and QSettings."""
from __future__ import annotations

from dataclasses import dataclass, field

from PySide6.QtCore import QObject, QSettings, Signal

from cxdesk.db import Database
from cxdesk.services.actor import Actor
from cxdesk.ui.tasks import TaskRunner


class Bus(QObject):
    customers_changed = Signal()
    customer_changed = Signal(int)
    #: a table name ("contacts", "number_blocks", "hourly_summaries", ...)
    data_changed = Signal(str)


@dataclass
class AppContext:
    db: Database
    actor: Actor
    tasks: TaskRunner
    settings: QSettings
    bus: Bus = field(default_factory=Bus)
