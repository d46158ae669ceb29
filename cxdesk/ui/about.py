"""Help > About: version, database, keyring backend, and where data and settings live."""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QFormLayout, QLabel, QVBoxLayout

from cxdesk import __version__, paths
from cxdesk.services import secrets
from cxdesk.ui.kit.context import AppContext


class AboutDialog(QDialog):
    def __init__(self, ctx: AppContext, parent=None) -> None:
        super().__init__(parent)
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)  # opened with open(), one per click
        self.setWindowTitle("About cxdesk")
        self.setAccessibleName("About cxdesk")
        form = QFormLayout()
        self.values = {
            "Version": __version__,
            "Database": ctx.ops.database_display,
            "Keyring": secrets.backend_name(),
            "Data folder": str(paths.data_dir()),
            "Settings folder": str(paths.config_dir()),
            "Log folder": str(paths.log_dir()),
            "Signed in as": f"{ctx.actor.login} ({ctx.actor.role})",
        }
        for key, value in self.values.items():
            label = QLabel(value)
            label.setTextInteractionFlags(label.textInteractionFlags() | label.textInteractionFlags().TextSelectableByMouse)
            label.setAccessibleName(key)
            form.addRow(f"{key}:", label)
        intro = QLabel("<b>cxdesk</b>: the back office of a VoIP carrier — customers, contacts, "
                       "number blocks, call summaries, invoices and an audit trail.")
        intro.setWordWrap(True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addLayout(form)
        layout.addWidget(buttons)
