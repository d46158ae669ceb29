"""The Audit Comment option: when it is on, every save asks for a reason first."""
from __future__ import annotations

from PySide6.QtWidgets import QWidget

from cxdesk.services import options
from cxdesk.ui.kit import dialogs
from cxdesk.ui.kit.context import AppContext


def required(ctx: AppContext) -> bool:
    with ctx.db.read_session() as s:
        return options.get(s, "audit-comment") == "on"


def ask(ctx: AppContext, parent: QWidget | None, what: str = "this change") -> str | None:
    """The reason for a save: "" when the option is off, None when the user cancels."""
    if not required(ctx):
        return ""
    prompt = f"Reason for {what} (recorded in the audit log):"
    while True:
        text = dialogs.ask_text(parent, "Audit comment", prompt)
        if text is None:
            return None
        if text.strip():
            return text.strip()
        prompt = f"A reason is required while Audit Comment is on. Reason for {what}:"
