"""Ctrl+C / Ctrl+Shift+C in every list (DataTableView): what reaches the clipboard is
defused like every export (see tests/unit/test_export_safety.py for the payloads)."""
from __future__ import annotations

import csv
import io

from PySide6.QtGui import QGuiApplication

from cxdesk.ui.kit.tables import Column, ColumnsTableModel, DataTableView
from tests.unit.test_export_safety import ALL_PAYLOADS, check_texts, defused


def test_copy_with_headers_defuses_cells_and_headers(qtbot) -> None:
    header = "=HYPERLINK(\"http://evil.example\",\"x\")"
    model = ColumnsTableModel([Column(header, lambda r: r), Column("Name", lambda r: "Acme")], ALL_PAYLOADS)
    view = DataTableView()
    qtbot.addWidget(view)
    view.setModel(model)
    view.selectAll()
    text = view.copy_selection(headers=True)
    assert QGuiApplication.clipboard().text() == text
    rows = list(csv.reader(io.StringIO(text, newline=""), delimiter="\t"))
    assert rows[0] == [defused(header), "Name"]
    assert [r[0] for r in rows[1:]] == [defused(p) for p in ALL_PAYLOADS]
    check_texts([f for r in rows for f in r], [defused(p) for p in ALL_PAYLOADS])
