"""The base of every view that shows data: it loads through ``ctx.ops`` off the GUI thread,
reloads when a change concerns it while it is shown, and otherwise is marked stale and
reloads when it is shown again.

    class ContactsPanel(Panel):
        TABLES = ("contacts",)

        def loader(self):
            cid = self.customer_id
            return None if cid is None else (lambda s: svc.list_contacts(s, cid))

        def show_data(self, rows):           # None when loader() returned None
            self.model.set_rows(rows or [])

``loader()`` runs on the GUI thread and returns the function the worker runs, so the worker
never reads a widget. Connections made with ``listen`` are dropped with the widget.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QWidget

from cxdesk.services.changes import ChangeSet
from cxdesk.ui.kit.ops import alive


def showing(widget: QWidget) -> bool:
    """Is the widget on screen, or would it be when its window is shown? A tab that is not
    the current one is not showing."""
    if widget.isVisible():
        return True
    window = widget.window()
    if window.isVisible():
        return False
    if window.isHidden() and window.testAttribute(Qt.WidgetAttribute.WA_WState_ExplicitShowHide):
        return False  # closed or hidden: not "not shown yet"
    return window is widget or widget.isVisibleTo(window)


class DataView:
    """Mixin for widgets and windows that load data: stale tracking and change handling."""

    #: tables whose changes make this view stale
    TABLES: tuple[str, ...] = ()
    #: True: only changes of the shown customer (or of no customer) concern the view
    CUSTOMER_SCOPED = True

    def _init_data_view(self, ctx) -> None:
        self.ctx = ctx
        self.customer_id: int | None = getattr(self, "customer_id", None)
        self.stale = True
        self.loads = 0  # completed loads, for tests and the benchmark
        ctx.changes.changed.connect(self._on_changes)

    # -- what subclasses write ---------------------------------------------------------------
    def loader(self) -> Callable[[Any], Any] | None:
        """The function (of a read session) that loads this view's data, or None."""
        return None

    def show_data(self, data: Any) -> None:
        """Show what the loader returned (None when there was nothing to load)."""

    def load_failed(self, exc) -> None:
        """A load was refused (a UserError, e.g. the record is gone): shown by default."""
        from cxdesk.ui.kit.ops import show_failure

        show_failure(self, exc)

    def _load_refused(self, exc) -> None:
        self.stale = True  # try again on the next show or change
        self.load_failed(exc)

    def concerns(self, change_set: ChangeSet) -> bool:
        if not self.TABLES:
            return False
        return change_set.touches(self.TABLES, self.customer_id if self.CUSTOMER_SCOPED else None)

    # -- the policy ---------------------------------------------------------------------------
    def set_customer(self, customer_id: int | None) -> None:
        if customer_id == self.customer_id and not self.stale:
            return
        if customer_id != self.customer_id:
            self.ctx.ops.cancel_key(self, "reload")  # what is loading now is for the old customer
            self.customer_id = customer_id
            self.show_data(None)  # never the old customer's data under the new one's name
        self.invalidate()

    def invalidate(self) -> None:
        """Reload now when shown, else on the next show."""
        self.stale = True
        if showing(self):
            self.reload()

    def _on_changes(self, change_set: ChangeSet) -> None:
        # the hub delivers what arrived in one turn as one set, so this reloads once; a
        # reload still running is superseded (keyed query: the last one wins)
        if self.concerns(change_set):
            self.stale = True
            if not showing(self):
                return
            if change_set.everything:  # F5: every shown view reloads, one per event-loop turn
                self.ctx.changes.pace(self)
            else:
                self.reload()

    def reload_if_due(self) -> bool:
        """Reload when still stale and shown (a paced reload's turn); True if it did."""
        if self.stale and showing(self):
            self.reload()
            return True
        return False

    def reload(self) -> None:
        self.stale = False
        fn = self.loader()
        if fn is None:
            self.ctx.ops.cancel_key(self, "reload")  # a load still running is for another customer
            self.show_data(None)
            self.loads += 1
            return
        customer_id = self.customer_id

        def done(data: Any) -> None:
            if customer_id != self.customer_id:  # the customer changed while it loaded
                return
            self.show_data(data)
            self.loads += 1

        self.ctx.ops.query(self, fn, success=done, failure=self._load_refused, key="reload")

    def showEvent(self, event) -> None:  # noqa: N802 - Qt's name
        super().showEvent(event)
        if self.stale:
            self.reload()

    # -- connections that go with the widget ----------------------------------------------------
    def listen(self, signal, slot: Callable[..., Any]) -> None:
        """Connect ``slot`` to a long-lived signal; it is not called once this widget is gone."""
        me = self

        def guarded(*args):
            if alive(me):
                slot(*args)

        signal.connect(guarded)
        self.destroyed.connect(lambda *_: _disconnect(signal, guarded))


def _disconnect(signal, slot) -> None:
    try:
        signal.disconnect(slot)
    except (RuntimeError, TypeError):
        pass


class Panel(DataView, QWidget):
    """A QWidget that is a DataView (a customer tab, or a section of one)."""

    def __init__(self, ctx, parent: QWidget | None = None) -> None:
        QWidget.__init__(self, parent)
        self._init_data_view(ctx)
