"""The Summary grid's frozen Date and Action columns: they stay in view while the other
columns scroll sideways, keyboard moves bring hidden cells out from under them, and the
group names beside them stay whole."""
from __future__ import annotations

from PySide6.QtCore import QItemSelectionModel, Qt

from tests.ui.test_summary_tab import col, customer, tab  # noqa: F401  (fixtures)


def _scroll_right(tab, qtbot):
    tab.resize(640, 500)  # narrow: the grid scrolls sideways
    qtbot.waitUntil(lambda: tab.view.horizontalScrollBar().maximum() > 0)
    bar = tab.view.horizontalScrollBar()
    bar.setValue(bar.maximum())
    return bar


def test_date_and_action_stay_in_view_when_scrolled_to_the_far_right(tab, qtbot):
    _scroll_right(tab, qtbot)
    overlay = tab.view.frozen_view
    assert overlay.isVisible()
    shown = [c for c in range(tab.model.columnCount()) if not overlay.isColumnHidden(c)]
    assert shown == sorted([0, tab.model.action_column])
    assert overlay.width() == tab.view.columnWidth(0) + tab.view.columnWidth(tab.model.action_column)
    assert overlay.rowAt(1) == tab.view.rowAt(1)  # same rows, side by side
    # the overlay's cells read the same as the grid's
    assert overlay.model() is tab.model


def test_a_cell_under_the_frozen_columns_comes_into_view_with_the_keyboard(tab, qtbot):
    bar = _scroll_right(tab, qtbot)
    attempts = col(tab, "Attempts")
    tab.view.setFocus()
    tab.view.selectionModel().setCurrentIndex(tab.model.index(0, col(tab, "Connected")),
                                              QItemSelectionModel.SelectionFlag.ClearAndSelect)
    qtbot.keyClick(tab.view, Qt.Key.Key_Left)
    assert tab.view.currentIndex().column() == attempts
    assert tab.view.columnViewportPosition(attempts) >= tab.view.frozen_view.width_frozen()
    assert bar.value() < bar.maximum()


def test_a_group_scrolled_beside_the_frozen_columns_keeps_its_name_whole(tab, qtbot):
    bar = _scroll_right(tab, qtbot)
    header = tab.view.horizontalHeader()
    frozen = tab.view.frozen_view.width_frozen()
    # scroll so that the Traffic group starts 40 px under the frozen columns, ends beside them
    first = header.logicalIndex(2)
    bar.setValue(0)
    bar.setValue(header.sectionViewportPosition(first) - frozen + 40)
    assert header.sectionViewportPosition(first) == frozen - 40
    rects = dict(header.group_rects())
    traffic = rects["Traffic"]
    assert traffic.left() >= frozen  # drawn where it can be seen, so its centred name is whole
    assert traffic.width() > 0
    assert "Period" not in rects  # under the overlay, which draws its own
    assert not header.grab().isNull()


def test_the_overlay_draws_its_right_border_without_a_style_sheet(tab, qtbot):
    _scroll_right(tab, qtbot)
    overlay = tab.view.frozen_view
    assert overlay.styleSheet() == ""  # a style sheet would paint every cell the slow way
    image = overlay.viewport().grab().toImage()
    mid = overlay.palette().mid().color().rgb()
    assert image.width() == overlay.width()  # no frame: the cells line up with the grid's
    for y in (0, image.height() // 2, image.height() - 1):
        assert image.pixel(image.width() - 1, y) == mid
    assert image.pixel(image.width() - 2, image.height() // 2) != mid
