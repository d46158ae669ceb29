"""The application's icon and other packaged resources."""
from __future__ import annotations

from pathlib import Path

from PySide6.QtGui import QIcon

RESOURCES = Path(__file__).resolve().parents[2] / "resources"  # cxdesk/resources


def app_icon() -> QIcon | None:
    icon = QIcon()
    for png in sorted((RESOURCES / "icons").glob("cxdesk-*.png")):
        icon.addFile(str(png))
    svg = RESOURCES / "icons" / "cxdesk.svg"
    if svg.exists():
        icon.addFile(str(svg))
    return None if icon.isNull() else icon
