"""The Summary tab driven through Qt: periods, range selection statistics, copies with
(group) headers, export, the CDR report, and the Action column rules."""
from __future__ import annotations

import csv
import datetime as dt
from decimal import Decimal

import openpyxl
import pytest
from PySide6.QtCore import QItemSelection, QItemSelectionModel, Qt
from PySide6.QtGui import QGuiApplication

from cxdesk.models import Cdr
from cxdesk.services.figures import round_half_up
from cxdesk.services import invoices, rollup
from cxdesk.services.uow import unit_of_work
from cxdesk.ui.summary.summary_tab import SummaryTab

UTC = dt.timezone.utc
# (day, hour, duration s, billed s, charge, cost): three days of calls, one failed call a day
CALLS = [
    (1, 9, 120, 120, "0.018000", "0.012000"), (1, 10, 0, 0, "0", "0"), (1, 14, 61, 66, "0.009900", "0.006600"),
    (2, 8, 300, 300, "0.045000", "0.030000"), (2, 8, 0, 0, "0", "0"),
    (3, 23, 45, 60, "0.000001", "0.000000"), (3, 23, 0, 0, "0", "0"), (3, 12, 600, 600, "0.123457", "0.100000"),
]


def add_calls(db, actor, customer_id: int) -> None:
    """The CALLS as the customer's CDRs, rolled up into the hourly summary."""
    rows = [{
        "callid": f"c{i}", "dt": dt.datetime(2026, 3, day, hour, 5, tzinfo=UTC), "customer_id": customer_id,
        "duration": d, "customer_duration": b, "customer_charge": Decimal(ch), "provider_charge": Decimal(co),
        "sip_code": 200 if d else 486, "customer_card_dest_code": "44", "customer_card_dest_name": "UK",
        "customer_card_rate": Decimal("0.009"),
    } for i, (day, hour, d, b, ch, co) in enumerate(CALLS)]
    with unit_of_work(db, actor) as uow:
        uow.bulk_insert(Cdr, rows, "test CDRs")
    rollup.run(db)


@pytest.fixture
def customer(sqlite_db, make_customer, admin) -> int:
    cid = make_customer(sqlite_db, "Summary Telecom", currency="GBP")
    add_calls(sqlite_db, admin, cid)
    return cid


@pytest.fixture
def tab(ctx, customer, qtbot, model_tester):
    t = SummaryTab(ctx)
    qtbot.addWidget(t)
    model_tester(t.model)  # kept for the whole test: every reload and sort is checked
    t.show()
    t.set_customer(customer)
    return t


def stored_invoices(ctx) -> list:
    """The invoices in the database, read through the operations layer as the UI reads."""
    found = []
    ctx.ops.query(None, lambda s: [invoices.get_invoice(s, r.id) for r in invoices.list_invoices(s)],
                  success=found.extend)
    return found


def select(tab: SummaryTab, *rects) -> None:
    sel = QItemSelection()
    for top, left, bottom, right in rects:
        sel.select(tab.model.index(top, left), tab.model.index(bottom, right))
    tab.view.selectionModel().select(sel, QItemSelectionModel.SelectionFlag.ClearAndSelect)


def col(tab, header: str) -> int:
    return [tab.model.headerData(c, Qt.Orientation.Horizontal) for c in range(tab.model.columnCount())].index(header)


def test_daily_rows_and_money_are_exact(tab):
    assert tab.model.rowCount() == 3
    labels = [tab.model.data(tab.model.index(r, 0)) for r in range(3)]
    assert labels == ["2026-03-01", "2026-03-02", "2026-03-03"]
    charge = col(tab, "Customer Charge (GBP)")
    select(tab, (0, charge, 2, charge))
    stats = tab.update_stats()
    expected = sum(Decimal(c[4]) for c in CALLS)
    assert stats.sum == expected  # to the last micro-unit, not rounded
    assert stats.count == 3 and stats.numerical_count == 3
    # shown once rounded, half-up, at the currency's minor unit, with the currency
    assert "Sum: 0.20 GBP" in tab.stats.text() and "Min: 0.03 GBP" in tab.stats.text()


def test_average_of_averages_and_true_ratios_for_whole_rows(tab):
    asr = col(tab, "ASR (%)")
    select(tab, (0, asr, 2, asr))
    stats = tab.update_stats()
    # per day: 2/3, 1/2, 2/3 connected -> plain mean of the three percentages
    plain = (Decimal(200) / 3 + Decimal(50) + Decimal(200) / 3) / 3
    assert abs(stats.average - plain) < Decimal("0.01")
    assert tab.ratios.text() == ""  # not whole rows
    select(tab, (0, 0, 2, tab.model.action_column - 1))
    tab.update_stats()
    assert "True ASR 62.50 %" in tab.ratios.text()  # 5 connected of 8 attempts
    assert "average of averages" in tab.ratios.toolTip()


def test_overlapping_ranges_count_a_cell_once_and_text_is_not_a_number(tab):
    attempts = col(tab, "Attempts")
    select(tab, (0, 0, 1, attempts), (1, 0, 2, attempts))
    stats = tab.update_stats()
    assert stats.count == 6  # 3 dates (text) + 3 attempts; row 1 is in both ranges
    assert stats.numerical_count == 3
    assert stats.sum == 8


def test_copy_with_headers_and_group_headers(tab):
    attempts, connected = col(tab, "Attempts"), col(tab, "Connected")
    select(tab, (0, 0, 1, connected))
    tsv = tab.copy("headers")
    assert tsv == "Date\tAttempts\tConnected\r\n2026-03-01\t3\t2\r\n2026-03-02\t2\t1\r\n"
    assert QGuiApplication.clipboard().text() == tsv
    html = QGuiApplication.clipboard().mimeData().html()
    assert "<table" in html and "<th" in html
    tsv = tab.copy("group")
    assert tsv.splitlines()[0] == "Period\tTraffic\t"
    assert attempts == 1


def test_disjoint_ranges_in_other_rows_and_columns_are_refused(tab, answers):
    select(tab, (0, 0, 0, 1), (2, 3, 2, 4))
    assert tab.copy("none") is None
    assert "multiple selections" in answers.errors[-1]


def test_export_all_to_xlsx_and_csv(tab, answers, tmp_path):
    answers.save_path = str(tmp_path / "s.xlsx")
    tab.export(selection_only=False)
    wb = openpyxl.load_workbook(answers.save_path)
    ws = wb.active
    values = [[c.value for c in row] for row in ws.iter_rows(min_row=1, max_row=4)]
    assert values[0][0] == "Summary Telecom Daily"
    assert values[1][1] == "Traffic" and values[2][1] == "Attempts"
    assert values[3][:3] == [dt.datetime(2026, 3, 1), 3, 2]
    assert "B2:E2" in {str(r) for r in ws.merged_cells.ranges}
    assert ws.freeze_panes == "A4"
    answers.save_path = str(tmp_path / "s.csv")
    select(tab, (1, 0, 1, 2))
    tab.export(selection_only=True)
    rows = list(csv.reader(open(answers.save_path, encoding="utf-8-sig")))
    assert rows[0][:3] == ["Date", "Attempts", "Connected"] and rows[1][:2] == ["2026-03-02", "2"]
    assert len(rows) == 2


def test_cdr_report_of_the_current_row(tab, answers, tmp_path):
    answers.save_path = str(tmp_path / "cdr.csv")
    tab.view.setCurrentIndex(tab.model.index(2, 0))
    tab.download_cdr_report()
    rows = list(csv.DictReader(open(answers.save_path, encoding="utf-8-sig")))
    assert sorted(r["callid"] for r in rows) == ["c5", "c6", "c7"]
    assert "3 CDRs" in answers.infos[-1]


def test_hours_cannot_be_ticked_or_invoiced(tab, answers):
    tab.period.setCurrentIndex(0)  # 24 hours
    tab.limit.setChecked(True)
    tab.date_from.setDate(dt.date(2026, 3, 1))
    tab.date_to.setDate(dt.date(2026, 3, 3))
    # the 24 hours ending with the "to" day: every hour, with or without calls
    assert tab.model.rowCount() == 24
    assert [tab.model.data(tab.model.index(r, 0)) for r in (0, 12, 23)] == [
        "2026-03-03 00:00", "2026-03-03 12:00", "2026-03-03 23:00"]
    index = tab.model.index(0, tab.model.action_column)
    assert not tab.model.flags(index) & Qt.ItemFlag.ItemIsUserCheckable
    assert not tab.model.setData(index, Qt.CheckState.Checked.value, Qt.ItemDataRole.CheckStateRole)
    tab.generate_invoice()
    assert "cannot be invoiced" in answers.errors[-1]


def test_sorting_keeps_statistics_on_the_right_rows(tab):
    charge = col(tab, "Customer Charge (GBP)")
    tab.view.sortByColumn(charge, Qt.SortOrder.DescendingOrder)
    assert tab.model.data(tab.model.index(0, 0)) == "2026-03-03"
    select(tab, (0, charge, 0, charge))
    assert tab.update_stats().sum == Decimal("0.123458")


def test_weekly_and_monthly_labels(tab):
    tab.period.setCurrentIndex(2)
    # a real date (the Monday) with the week's label beside it
    assert [tab.model.data(tab.model.index(r, 0)) for r in range(tab.model.rowCount())] == ["2026-02-23", "2026-03-02"]
    assert [tab.model.data(tab.model.index(r, 1)) for r in range(tab.model.rowCount())] == ["Week 9 2026", "Week 10 2026"]
    tab.period.setCurrentIndex(3)
    assert tab.model.data(tab.model.index(0, 0)) == "2026-03"


def test_generate_invoice_for_ticked_days_then_refuse_them_again(tab, answers, ctx):
    tab.generate_invoice()
    assert "Tick one or more periods" in answers.errors[-1]
    for row in (0, 2):
        index = tab.model.index(row, tab.model.action_column)
        assert tab.model.setData(index, Qt.CheckState.Checked.value, Qt.ItemDataRole.CheckStateRole)
    tab.generate_invoice()
    assert answers.infos[-1] == "Created 2 invoices: 1, 2"
    day1 = sum(Decimal(c[4]) for c in CALLS if c[0] == 1)
    day3 = sum(Decimal(c[4]) for c in CALLS if c[0] == 3)
    assert [i.net for i in stored_invoices(ctx)] == [round_half_up(day1, 2), round_half_up(day3, 2)]
    assert tab.model.checked == set()
    tab.reload()
    # the invoiced periods name their invoice and cannot be ticked again
    action = tab.model.action_column
    assert [tab.model.data(tab.model.index(r, action)) for r in range(3)] == ["Invoice 1", None, "Invoice 2"]
    assert not tab.model.setData(tab.model.index(0, action), Qt.CheckState.Checked.value,
                                 Qt.ItemDataRole.CheckStateRole)
    assert not tab.model.flags(tab.model.index(0, action)) & Qt.ItemFlag.ItemIsUserCheckable
    assert tab.model.checked == set()
    assert len(stored_invoices(ctx)) == 2


def test_selection_follows_its_rows_when_sorted_and_sort_survives_reload(tab):
    charge = col(tab, "Customer Charge (GBP)")
    select(tab, (0, 0, 0, 0))  # 2026-03-01
    tab.view.sortByColumn(charge, Qt.SortOrder.DescendingOrder)
    selected = tab.view.selectionModel().selectedIndexes()
    assert [tab.model.data(i) for i in selected] == ["2026-03-01"]
    tab.reload()
    assert tab.model.data(tab.model.index(0, 0)) == "2026-03-03"  # still sorted by charge


def test_headers_name_their_units_once(tab):
    headers = [tab.model.headerData(c, Qt.Orientation.Horizontal) for c in range(tab.model.columnCount())]
    assert headers == ["Date", "Attempts", "Connected", "ASR (%)", "ACD (min)", "Duration (min)",
                       "Billed Duration (min)", "Customer Charge (GBP)", "Vendor Cost (GBP)", "Profit (GBP)",
                       "Profit %", "Action"]
    # visually Action sits beside Date (both frozen), the groups follow
    assert tab.view.horizontalHeader().visualIndex(tab.model.action_column) == 1
    assert tab.view.horizontalHeader().group_spans() == [
        ("Period", 0, 0), ("Traffic", 2, 5), ("Duration", 6, 7), ("Money", 8, 11)]


def test_the_chart_has_a_legend_and_labelled_axes(tab):
    from cxdesk.ui.summary.chart import CALLS_TITLE, LEGEND

    chart = tab.chart
    assert [text for text, _colour, _kind in LEGEND] == ["Attempts", "Connected", "Charge"]
    assert (CALLS_TITLE, chart.charge_title()) == ("Calls", "Charge (GBP)")
    assert chart.top_calls() == 3 and chart.top_charge() == Decimal("0.123458")  # day 3
    assert chart.charge_scale() == "0.1235"  # the axis says how much, not "0"
    chart.resize(600, 200)
    assert [label for _row, label in chart.x_labels()] == ["2026-03-01", "2026-03-02", "2026-03-03"]
    chart.resize(140, 200)  # no room for every period: some are left out, never overlapping
    assert [label for _row, label in chart.x_labels()] == ["2026-03-01"]
    assert not chart.grab().isNull()  # painting works (a Qt warning would fail the test)
    assert "left axis" in chart.toolTip() and "right axis" in chart.toolTip()


def test_auto_generate_invoice_reports_what_it_made(tab, answers, ctx):
    tab.auto_generate_invoice()
    assert answers.infos[-1] == "Created 1 invoice (1)."  # the customer's schedule is monthly: March 2026
    assert [i.name for i in stored_invoices(ctx)] == ["March 2026"]


def test_the_layout_and_sort_come_back_in_the_next_session(tab, ctx, customer, qtbot):
    charge = col(tab, "Customer Charge (GBP)")
    tab.view.sortByColumn(charge, Qt.SortOrder.DescendingOrder)
    tab.view.setColumnWidth(0, 177)
    tab.save_state()
    again = SummaryTab(ctx)
    qtbot.addWidget(again)
    again.show()
    again.set_customer(customer)
    assert again.view.columnWidth(0) == 177  # the saved layout is not refitted
    assert again.model.data(again.model.index(0, 0)) == "2026-03-03"


def test_no_plural_in_brackets_in_the_feature():
    """"1 invoice", "2 invoices": no plural in brackets in any text of the Summary or Invoices tab."""
    import ast
    from pathlib import Path

    import cxdesk.ui.invoices
    import cxdesk.ui.summary

    for package in (cxdesk.ui.summary, cxdesk.ui.invoices):
        for source in Path(package.__file__).parent.glob("*.py"):
            tree = ast.parse(source.read_text(encoding="utf-8"))
            texts = [node.value for node in ast.walk(tree)
                     if isinstance(node, ast.Constant) and isinstance(node.value, str)]
            assert not [t for t in texts if "(s)" in t], source
