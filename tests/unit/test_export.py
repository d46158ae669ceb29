"""CSV and XLSX export: read the files back and check what a user would see."""
from __future__ import annotations

import csv
import datetime as dt
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest
from openpyxl import load_workbook

from cxdesk.services import export, xlsx_writer
from cxdesk.services.export import Cancelled, number_format, write_csv, write_xlsx
from cxdesk.services.table import Column, Table

COLUMNS = [
    Column("date", "Date", kind="date"),
    Column("attempts", "Attempts", "Calls", "int"),
    Column("connected", "Connected", "Calls", "int"),
    Column("asr", "ASR", "Calls", "percent"),
    Column("acd", "ACD", "Duration", "minutes", additive=False),
    Column("billed", "Billed Duration", "Duration", "minutes"),
    Column("charge", "Customer Charge", "Money", "money"),
    Column("rate", "Rate", "Money", "money", decimals=4),
    Column("note", "Note", kind="text"),
]


def table() -> Table:
    return Table.from_rows(
        COLUMNS,
        [
            [dt.date(2024, 7, 1), 10, 5, Decimal("50"), Decimal("1.5"), Decimal("7.5"), Decimal("1234.125"), Decimal("0.012345"), "=cmd|' /C calc'!A0"],
            [dt.datetime(2024, 7, 2, 13, tzinfo=dt.timezone(dt.timedelta(hours=2))), None, 0, Decimal("0"), None, Decimal("0"), Decimal("-2.5"), None, "-2+3"],
            ["Week 27 2024", 3, 3, Decimal("100"), Decimal("2"), Decimal("6"), Decimal("0.1"), Decimal("1"), "bell\x07 ok"],
        ],
    )


@pytest.fixture(params=[True, False], ids=["fast", "public"])
def path_mode(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> bool:
    monkeypatch.setattr(xlsx_writer, "FAST_PATH", request.param)
    return bool(request.param)


def test_xlsx_cells_formats_and_layout(tmp_path: Path, path_mode: bool) -> None:
    target = tmp_path / "summary.xlsx"
    write_xlsx(table(), target, currency="EUR")
    ws = load_workbook(target).active
    assert ws.title == "Summary"
    assert [c.value for c in ws[1]] == [None, "Calls", None, None, "Duration", None, "Money", None, None]
    assert {str(r) for r in ws.merged_cells.ranges} == {"B1:D1", "E1:F1", "G1:H1"}
    assert [c.value for c in ws[2]] == [c.header for c in COLUMNS]
    assert all(c.font.b for c in ws[2])
    assert ws.freeze_panes == "A3"
    assert ws.auto_filter.ref == "A2:I5"

    first = [(c.value, c.number_format) for c in ws[3]]
    assert first == [
        (dt.datetime(2024, 7, 1), "yyyy-mm-dd"),
        (10, "#,##0"),
        (5, "#,##0"),
        (0.5, "0.00%"),
        (1.5, "#,##0.00"),
        (7.5, "#,##0.00"),
        (1234.125, '#,##0.00 "EUR"'),  # the exact value; the format shows 1,234.13
        (0.012345, '#,##0.0000 "EUR"'),
        ("'=cmd|' /C calc'!A0", "General"),
    ]
    assert ws["A4"].value == dt.datetime(2024, 7, 2, 11, 0) and ws["A4"].number_format == "yyyy-mm-dd hh:mm"
    assert ws["B4"].value is None and ws["H4"].value is None
    assert ws["G4"].value == -2.5 and ws["I4"].value == "'-2+3"
    assert ws["A5"].value == "Week 27 2024" and ws["I5"].value == "bell ok"
    assert ws["D5"].value == 1.0
    # print-ready: landscape, one page wide, header rows repeated, one font
    assert ws.page_setup.orientation == "landscape"
    assert ws.page_setup.fitToWidth == 1 and ws.page_setup.fitToHeight == 0
    assert ws.sheet_properties.pageSetUpPr.fitToPage
    assert ws.print_title_rows == "$1:$2"
    assert {c.font.name for row in ws.iter_rows() for c in row if c.value is not None} == {"Calibri"}


def test_xlsx_totals_row_sums_only_additive_columns(tmp_path: Path, path_mode: bool) -> None:
    target = tmp_path / "summary.xlsx"
    write_xlsx(table(), target, currency="EUR")
    ws = load_workbook(target).active
    totals = {c.column_letter: c.value for c in ws[6]}
    assert totals == {  # stored values (readers that do not calculate show them), exact sums
        "A": "Total",
        "B": 13,
        "C": 8,
        "D": None,  # percent: a sum would be wrong
        "E": None,  # ACD is a ratio although in minutes
        "F": 13.5,
        "G": 1231.725,
        "H": 1.012345,
        "I": None,
    }
    assert ws["G6"].number_format == '#,##0.00 "EUR"' and ws["G6"].font.b
    assert ws.max_row == 6


def test_xlsx_without_groups_with_title(tmp_path: Path) -> None:
    columns = [Column("d", "Day", kind="text"), Column("m", "Amount", kind="money")]
    data = Table(columns, [["a", "b"], np.array([10_000, 2_000_000], np.int64)])
    target = tmp_path / "t.xlsx"
    write_xlsx(data, target, title="Acme: Daily [UTC]")
    wb = load_workbook(target)
    ws = wb.active
    assert ws.title == "Acme  Daily  UTC"
    assert wb.properties.title == "Acme: Daily [UTC]"
    assert ws["A1"].value == "Acme: Daily [UTC]" and ws["A2"].value == "Day"
    assert ws.freeze_panes == "A3" and ws.auto_filter.ref == "A2:B4"
    assert ws["B3"].value == 0.01 and ws["B3"].number_format == "#,##0.00"
    assert ws["B5"].value == 2.01
    assert ws.print_title_rows == "$2:$2"
    assert not ws.merged_cells.ranges


def test_xlsx_empty_table(tmp_path: Path) -> None:
    target = tmp_path / "empty.xlsx"
    write_xlsx(Table(COLUMNS, [[] if not c.numeric else np.array([], np.int64) for c in COLUMNS]), target)
    ws = load_workbook(target).active
    assert ws.max_row == 2 and ws.auto_filter.ref == "A2:I2"


def test_number_formats() -> None:
    assert number_format(Column("m", "M", kind="money", decimals=0), "USD") == '#,##0 "USD"'
    assert number_format(Column("p", "P", kind="percent", decimals=1)) == "0.0%"
    assert number_format(Column("t", "T")) is None
    with pytest.raises(ValueError):
        write_xlsx(table(), "never.xlsx", currency='EUR";@')


def test_csv_reads_back(tmp_path: Path) -> None:
    target = tmp_path / "summary.csv"
    write_csv(table(), target, headers="group")
    assert target.read_bytes().startswith(b"\xef\xbb\xbf")
    with open(target, encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == ["", "Calls", "", "", "Duration", "", "Money", "", ""]
    assert rows[1] == [c.header for c in COLUMNS]
    assert rows[2] == ["2024-07-01", "10", "5", "50.00", "1.50", "7.50", "1234.13", "0.0123", "'=cmd|' /C calc'!A0"]
    assert rows[3] == ["2024-07-02 11:00", "", "0", "0.00", "", "0.00", "-2.50", "", "'-2+3"]
    assert rows[4][0] == "Week 27 2024" and len(rows) == 5


def big_table(rows: int) -> Table:
    columns = [Column("n", "N", kind="int"), Column("m", "M", kind="money"), Column("t", "T")]
    return Table(columns, [np.arange(rows, dtype=np.int64), np.arange(rows, dtype=np.int64) * 10_000, ["x"] * rows])


@pytest.mark.parametrize("writer", [write_csv, write_xlsx], ids=["csv", "xlsx"])
def test_progress_and_cancel_leave_no_file(tmp_path: Path, writer: object) -> None:
    data = big_table(export.CHUNK_ROWS * 3 + 5)
    target = tmp_path / "out"
    seen: list[tuple[int, int]] = []
    writer(data, target, progress=lambda done, total: seen.append((done, total)))  # type: ignore[operator]
    assert target.exists()
    assert seen[0] == (export.CHUNK_ROWS, data.row_count) and seen[-1] == (data.row_count, data.row_count)

    target.write_text("older export")
    calls: list[int] = []

    def cancel() -> bool:
        calls.append(1)
        return len(calls) > 2

    with pytest.raises(Cancelled):
        writer(data, target, cancel=cancel)  # type: ignore[operator]
    assert target.read_text() == "older export"  # the partial file is gone, the old one kept
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
    target.unlink()
    with pytest.raises(Cancelled):
        writer(data, target, cancel=lambda: True)  # type: ignore[operator]
    assert list(tmp_path.iterdir()) == []


def test_fast_path_hook_exists_in_installed_openpyxl() -> None:
    # write_xlsx falls back to the slower public path silently; make the loss visible.
    assert xlsx_writer.FAST_PATH, "openpyxl no longer has WriteOnlyWorksheet._values_to_row"


def test_cancel_removes_openpyxl_temp_files(tmp_path: Path) -> None:
    from openpyxl.worksheet._writer import ALL_TEMP_FILES

    before = list(ALL_TEMP_FILES)
    with pytest.raises(Cancelled):
        write_xlsx(big_table(export.CHUNK_ROWS * 2), tmp_path / "x.xlsx", cancel=iter([False, True]).__next__)
    assert ALL_TEMP_FILES == before


def test_xlsx_text_is_never_a_formula_or_error(tmp_path: Path, path_mode: bool) -> None:
    data = Table([Column("t", "Text")], [["#N/A", "x" * 40_000, "@SUM(1)"]])
    target = tmp_path / "t.xlsx"
    write_xlsx(data, target)
    ws = load_workbook(target).active
    assert [ws["A2"].data_type, ws["A2"].value] == ["s", "#N/A"]
    assert len(ws["A3"].value) == 32_767
    assert ws["A4"].value == "'@SUM(1)" and ws.max_row == 4  # no totals row: nothing to add
