"""Pieces every edit form shares: the error line, typed passwords, save conflicts."""
from __future__ import annotations

from PySide6.QtWidgets import QLabel, QLineEdit

from cxdesk.errors import ConflictError, UserError


class FormErrorLabel(QLabel):
    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setWordWrap(True)
        self.setStyleSheet("color: #b00020")
        self.setAccessibleName("Form error")
        self.hide()

    def show_error(self, text: str) -> None:
        self.setText(text)
        self.setVisible(bool(text))


def typed_password(password: QLineEdit, again: QLineEdit, error: FormErrorLabel, missing: str) -> str | None:
    """The password typed twice, or None after showing why not (focus on the field to fix)."""
    text = password.text()
    if not text:
        error.show_error(missing)
        password.setFocus()
        return None
    if text != again.text():
        error.show_error("The two passwords differ; type them again.")
        again.setFocus()
        return None
    return text


def after_conflict(exc: UserError, loaded: int | None, current_version) -> tuple[str, int | None]:
    """After someone else saved the record, the form keeps the typed values and takes the
    current version, so a second Save, now knowingly, replaces their change (the audit log
    keeps both). Returns (text to add to the error, the version to save against)."""
    if not isinstance(exc, ConflictError) or loaded is None:
        return "", loaded
    try:
        current = current_version()
    except UserError:  # deleted meanwhile: nothing to save against
        return "", loaded
    if current == loaded:
        return "", loaded
    return (" Your values are kept: save again to replace their change with yours, or Cancel to keep theirs.",
            current)
