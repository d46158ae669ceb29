"""Every modal question goes through here, so tests can replace these functions."""
from __future__ import annotations

import logging

from PySide6.QtWidgets import QApplication, QFileDialog, QInputDialog, QMessageBox, QPushButton, QWidget

log = logging.getLogger(__name__)


def show_error(parent: QWidget | None, error: BaseException | str, title: str = "cxdesk") -> None:
    box = QMessageBox(QMessageBox.Icon.Warning, title, str(error), QMessageBox.StandardButton.Ok, parent)
    box.setAccessibleName("Error message")
    box.exec()


def info(parent: QWidget | None, title: str, text: str) -> None:
    box = QMessageBox(QMessageBox.Icon.Information, title, text, QMessageBox.StandardButton.Ok, parent)
    box.exec()


def confirm(parent: QWidget | None, title: str, text: str, ok_text: str = "OK") -> bool:
    box = QMessageBox(QMessageBox.Icon.Question, title, text, QMessageBox.StandardButton.Cancel, parent)
    ok = box.addButton(ok_text, QMessageBox.ButtonRole.AcceptRole)
    box.setDefaultButton(QMessageBox.StandardButton.Cancel)
    box.exec()
    return box.clickedButton() is ok


def ask_text(parent: QWidget | None, title: str, label: str, text: str = "") -> str | None:
    value, ok = QInputDialog.getText(parent, title, label, text=text)
    return value if ok else None


def save_file(parent: QWidget | None, title: str, suggested: str, filters: str) -> str | None:
    """A file name to write to (the platform's Save dialog), or None when cancelled."""
    path, _ = QFileDialog.getSaveFileName(parent, title, suggested, filters)
    return path or None


def show_unexpected(parent: QWidget | None, exc: BaseException, details: str) -> None:
    """An unexpected failure: a short message, the details a click away, the form kept."""
    log.error("unexpected error: %s\n%s", exc, details)
    box = QMessageBox(
        QMessageBox.Icon.Critical, "cxdesk: unexpected error",
        f"Something went wrong that cxdesk did not expect ({type(exc).__name__}). "
        "Your open forms are kept; the details are in the log.",
        QMessageBox.StandardButton.Close, parent,
    )
    box.setDetailedText(details)
    copy = QPushButton("Copy details")
    copy.setAccessibleName("Copy error details")
    box.addButton(copy, QMessageBox.ButtonRole.ActionRole)
    box.exec()
    if box.clickedButton() is copy:
        QApplication.clipboard().setText(details)

