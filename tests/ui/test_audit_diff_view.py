"""View Difference read at a glance: word highlights, multi-line values as lines, gutters with
line numbers and markers, colours for both palettes, F7 / Shift+F7, hostile text (pytest-qt)."""
from __future__ import annotations

import sqlite3

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QPalette, QTextCursor
from PySide6.QtWidgets import QApplication

from cxdesk.models import Contact
from cxdesk.services import jsondiff
from cxdesk.services.uow import unit_of_work
from cxdesk.ui.audit.diff_dialog import DiffDialog, hunks
from cxdesk.ui.audit.diff_pane import DiffColours, DiffPane

# the dialog is a top-level window here; the offscreen platform says so about its size hints
pytestmark = pytest.mark.qt_log_ignore(r"This plugin does not support propagateSizeHints\(\)")

NOTES_BEFORE = "Called about the March invoice.\nAsked for a refund.\nCall back on Monday."
NOTES_AFTER = "Called about the March invoice.\nAsked for a refund of 12.50 EUR.\nRefund approved by Sue.\nCall back on Monday."


def last_entry(db) -> int:
    with sqlite3.connect(db.path) as con:
        return con.execute("SELECT max(id) FROM audit_entries").fetchone()[0]


def change_contact(db, actor, contact: int, comment: str | None = None, **fields) -> int:
    with unit_of_work(db, actor, comment) as uow:
        c = uow.session.get(Contact, contact)
        for name, value in fields.items():
            setattr(c, name, value)
    return last_entry(db)


@pytest.fixture
def bob(sqlite_db, admin, make_customer) -> int:
    """Bob of Acme, a contact with a three-line private note."""
    acme = make_customer(sqlite_db, "Acme Telecom")
    with unit_of_work(sqlite_db, admin) as uow:
        contact = uow.add(Contact(customer_id=acme, name="Bob", email="bob@acme.example",
                                  email_key="bob@acme.example", private_notes=NOTES_BEFORE,
                                  public_notes="Technical"))
        uow.flush()
        return contact.id


@pytest.fixture
def open_diff(qtbot, make_ctx, sqlite_db, supervisor):
    def open_(entry_id: int) -> DiffDialog:
        dialog = DiffDialog(make_ctx(sqlite_db, supervisor), entry_id)
        qtbot.addWidget(dialog)
        dialog.resize(1280, 800)
        dialog.open()
        qtbot.waitUntil(lambda: dialog.loaded)
        return dialog
    return open_


def block_texts(pane) -> list[str]:
    doc = pane.document()
    return [doc.findBlockByNumber(n).text() for n in range(doc.blockCount())]


def row_of(dialog: DiffDialog, text: str, left: bool) -> int:
    lines = block_texts(dialog.left if left else dialog.right)
    return next(n for n, line in enumerate(lines) if text in line)


def line_y(pane, row: int) -> int:
    return pane.cursorRect(QTextCursor(pane.document().findBlockByNumber(row))).center().y()


def pixel(pane, row: int) -> QColor:
    """The background at the right edge of a row, past its text."""
    image = pane.viewport().grab().toImage()
    return image.pixelColor(image.width() - 3, line_y(pane, row))


def test_a_multi_line_note_change_reads_as_lines(qtbot, sqlite_db, supervisor, bob, open_diff, tmp_path):
    entry = change_contact(sqlite_db, supervisor, bob, private_notes=NOTES_AFTER, public_notes="Billing")
    dialog = open_diff(entry)
    left, right = block_texts(dialog.left), block_texts(dialog.right)
    assert not any("\\n" in line for line in left + right)  # lines, not \n escapes
    refund = row_of(dialog, "Asked for a refund", left=True)
    assert row_of(dialog, "Asked for a refund", left=False) == refund  # aligned line by line
    assert left[refund].endswith("Asked for a refund.")
    assert right[refund].endswith("Asked for a refund of 12.50 EUR.")
    approved = row_of(dialog, "Refund approved by Sue.", left=False)
    assert approved == refund + 1 and left[approved] == ""  # a filler opposite the new line
    # gutters: each side numbers its own lines; markers - ~ + and none for the unchanged
    rows = dialog.view.rows
    assert dialog.left.labels[refund] == (str(rows[refund].left_no), "~")
    assert dialog.right.labels[refund] == (str(rows[refund].right_no), "~")
    assert dialog.left.labels[approved] == ("", "")
    assert dialog.right.labels[approved] == (str(rows[approved].right_no), "+")
    assert int(dialog.right.labels[approved + 1][0]) == int(dialog.left.labels[approved + 1][0]) + 1
    same = row_of(dialog, "Call back on Monday", left=True)
    assert dialog.left.labels[same][1] == dialog.right.labels[same][1] == ""
    # word-level spans: "Technical" -> "Billing" is one whole word, the refund line only its new words
    public = rows[dialog.view.path_rows["public_notes"]]
    assert [public.left[s:e] for s, e in public.left_spans] == ["Technical"]
    assert [public.right[s:e] for s, e in public.right_spans] == ["Billing"]
    assert [rows[refund].right[s:e] for s, e in rows[refund].right_spans] == [" of 12.50 EUR"]
    # the gutter leaves room for its numbers and the text starts after it
    assert dialog.left.viewport().x() >= dialog.left.gutter.width() > 0
    gutter = dialog.right.gutter.grab().toImage()
    inks = {gutter.pixelColor(x, line_y(dialog.right, approved)).name() for x in range(gutter.width())}
    assert len(inks) > 2  # the "+" and the number are painted on the row's colour
    # colours: removed red-ish on the left, added green-ish on the right, filler not plain
    removed, added = pixel(dialog.left, refund), pixel(dialog.right, refund)
    assert removed.red() > removed.green() and added.green() > added.red()
    base = dialog.palette().color(QPalette.ColorRole.Base)
    assert pixel(dialog.left, same) == base
    dialog.grab().save(str(tmp_path / "shot_diff.png"))


def test_f7_and_shift_f7_step_through_the_changes(qtbot, sqlite_db, supervisor, bob, open_diff):
    entry = change_contact(sqlite_db, supervisor, bob, private_notes=NOTES_AFTER, public_notes="Billing",
                            contact_type="Billing")
    dialog = open_diff(entry)
    steps = hunks(dialog.view.rows)
    assert len(steps) >= 3
    assert dialog.status.text() == f"Change 1 of {len(steps)}"
    assert dialog.left.textCursor().blockNumber() == steps[0][0]
    assert not dialog.previous_action.isEnabled() and dialog.next_action.isEnabled()
    dialog.activateWindow()
    qtbot.waitUntil(dialog.isActiveWindow)
    dialog.right.setFocus()
    for n in range(1, len(steps)):
        qtbot.keyClick(dialog.right, Qt.Key.Key_F7)
        assert dialog.status.text() == f"Change {n + 1} of {len(steps)}"
        assert dialog.left.textCursor().blockNumber() == dialog.right.textCursor().blockNumber() == steps[n][0]
    assert not dialog.next_action.isEnabled()
    qtbot.keyClick(dialog.right, Qt.Key.Key_F7)  # at the last change F7 stays
    assert dialog.status.text() == f"Change {len(steps)} of {len(steps)}"
    qtbot.keyClick(dialog.paths, Qt.Key.Key_F7, Qt.KeyboardModifier.ShiftModifier)
    assert dialog.status.text() == f"Change {len(steps) - 1} of {len(steps)}"
    assert dialog.left.textCursor().blockNumber() == steps[-2][0]
    # a path clicked in the list becomes the current change; F7 goes on from there
    first_path = next(i for i in range(dialog.paths.count())
                      if dialog.view.path_rows.get(dialog.paths.item(i).data(Qt.ItemDataRole.UserRole))
                      == steps[0][0])
    item_rect = dialog.paths.visualItemRect(dialog.paths.item(first_path))
    qtbot.mouseClick(dialog.paths.viewport(), Qt.MouseButton.LeftButton, pos=item_rect.center())
    assert dialog.status.text() == f"Change 1 of {len(steps)}"
    qtbot.keyClick(dialog.left, Qt.Key.Key_F7)
    assert dialog.left.textCursor().blockNumber() == steps[1][0]
    # the toolbar buttons do the same, and "Only changes" keeps the position
    dialog.next_action.trigger()
    assert dialog.status.text() == f"Change 3 of {len(steps)}"
    dialog.only_changes.setChecked(True)
    assert dialog.status.text() == f"Change 3 of {len(steps)}"
    assert dialog.left.textCursor().blockNumber() == hunks(dialog.view.rows)[2][0]
    dialog.previous_action.trigger()
    assert dialog.status.text() == f"Change 2 of {len(steps)}"
    assert "F7" in dialog.next_action.toolTip() and "F7" in dialog.previous_action.toolTip()


HOSTILE_NAME = "<b>Evil</b> <img src=x> \u202eabc"
HOSTILE_NOTES = "bell\x07 esc\x1b[31m\u2028<a href='x'>click</a>\u200b"


def test_hostile_text_appears_literally(qtbot, sqlite_db, supervisor, bob, open_diff):
    entry = change_contact(sqlite_db, supervisor, bob, "<i>why</i>\u202e", name=HOSTILE_NAME,
                           private_notes=HOSTILE_NOTES)
    dialog = open_diff(entry)
    text = "\n".join(block_texts(dialog.left) + block_texts(dialog.right))
    assert '"<b>Evil</b> <img src=x> \\u202eabc"' in text
    assert '"bell\\u0007 esc\\u001b[31m\\u2028<a href=\'x\'>click</a>\\u200b"' in text
    assert not any(ch in text for ch in "\x07\x1b\u2028\u200b\u202e")
    assert dialog.left.document().blockCount() == len(dialog.view.rows)  # no line split by U+2028
    for label in (dialog.heading, dialog.message):
        assert label.textFormat() == Qt.TextFormat.PlainText
    assert dialog.message.text().endswith("Comment: <i>why</i>\\u202e")
    paths = [dialog.paths.item(i).text() for i in range(dialog.paths.count())]
    assert "replace  name" in paths


def contrast(a: QColor, b: QColor) -> float:
    def luminance(c: QColor) -> float:
        parts = [v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4 for v in (c.redF(), c.greenF(), c.blueF())]
        return 0.2126 * parts[0] + 0.7152 * parts[1] + 0.0722 * parts[2]
    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def dark_palette() -> QPalette:
    palette = QPalette(QApplication.palette())
    for role, colour in ((QPalette.ColorRole.Window, "#2b2b2b"), (QPalette.ColorRole.Base, "#1e1e1e"),
                         (QPalette.ColorRole.AlternateBase, "#262626"), (QPalette.ColorRole.Text, "#e6e6e6"),
                         (QPalette.ColorRole.WindowText, "#e6e6e6"), (QPalette.ColorRole.PlaceholderText, "#9a9a9a"),
                         (QPalette.ColorRole.Button, "#333333"), (QPalette.ColorRole.ButtonText, "#e6e6e6")):
        palette.setColor(role, QColor(colour))
    return palette


@pytest.mark.parametrize("palette", [QPalette, dark_palette], ids=["light", "dark"])
def test_colours_differ_and_keep_the_text_readable(qtbot, palette):
    pal = QPalette(QApplication.palette()) if palette is QPalette else palette()
    colours = DiffColours.of(pal)
    text = pal.color(QPalette.ColorRole.Text)
    base = pal.color(QPalette.ColorRole.Base)
    for background in (colours.removed_line, colours.removed_word, colours.added_line, colours.added_word,
                       colours.fold):
        assert contrast(text, background) >= 4.5, background.name()
    assert colours.removed_line.red() > colours.removed_line.green()
    assert colours.added_line.green() > colours.added_line.red()
    assert len({base.name(), colours.removed_line.name(), colours.removed_word.name(),
                colours.added_line.name(), colours.added_word.name()}) == 5
    assert colours.filler.style() != Qt.BrushStyle.SolidPattern  # hatched, not only a colour


def test_a_dark_palette_recolours_the_open_dialog(qtbot, sqlite_db, supervisor, bob, open_diff, tmp_path):
    entry = change_contact(sqlite_db, supervisor, bob, private_notes=NOTES_AFTER, public_notes="Billing")
    dialog = open_diff(entry)
    refund = row_of(dialog, "Asked for a refund", left=True)
    light = pixel(dialog.left, refund)
    dialog.setPalette(dark_palette())
    dark = pixel(dialog.left, refund)
    assert dark.lightness() < 100 < light.lightness() and dark.red() > dark.green()
    dialog.grab().save(str(tmp_path / "shot_diff_dark.png"))


def test_the_side_by_side_rows_link_paths_to_changed_lines_only():
    view = jsondiff.side_by_side({"n": NOTES_BEFORE}, {"n": NOTES_AFTER})
    assert view.rows[view.path_rows["n"]].kind != "same"
    assert [(first, last) for first, last in hunks(view.rows)] == [(2, 3)]


def test_the_gutter_marks_removed_lines_and_widens_for_long_documents(qtbot):
    pane = DiffPane("Before", left=True)
    other = DiffPane("After", left=False)
    qtbot.addWidget(pane)
    qtbot.addWidget(other)
    colours = DiffColours.of(pane.palette())
    rows = jsondiff.side_by_side({"a": 1, "gone": "x"}, {"a": 1}).rows
    pane.show_rows(rows, colours)
    other.show_rows(rows, colours)
    assert pane.labels == [("1", ""), ("2", ""), ("3", "-"), ("4", "")]
    assert other.labels == [("1", ""), ("2", ""), ("", ""), ("3", "")]
    narrow = pane.gutter_width()
    pane.show_rows(jsondiff.side_by_side({f"k{n}": n for n in range(12000)}, {}).rows, colours)
    assert pane.labels[-1] == ("12002", "-") and pane.gutter_width() > narrow
    assert pane.viewport().x() >= pane.gutter_width()
