"""Copy, Copy with Headers, Copy with Group Headers: exact clipboard text."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from cxdesk.services.clipboard import SelectionError, copy_plan, copy_text
from cxdesk.services.table import Column, Table

COLUMNS = [
    Column("date", "Date", kind="date"),
    Column("attempts", "Attempts", "Calls", "int"),
    Column("asr", "ASR", "Calls", "percent"),
    Column("charge", "Charge", "Money", "money"),
    Column("rate", "Rate", "Money", "money", decimals=4),
    Column("note", "Note", kind="text"),
]
PAYLOADS = ["=cmd|' /C calc'!A0", "+1+1", "-2+3", "@SUM(1)", "\t=1", 'say "hi"', "a<b>&c"]


def table() -> Table:
    return Table.from_rows(
        COLUMNS,
        [
            [dt.date(2024, 7, 1), 1234, Decimal("45.235"), Decimal("1234.125"), Decimal("0.012345"), PAYLOADS[0]],
            [dt.datetime(2024, 7, 2, 13, 0), None, Decimal("0"), Decimal("-2.5"), Decimal("-0.00005"), PAYLOADS[1]],
            ["Week 27 2024", -7, None, Decimal("-0.004"), None, PAYLOADS[2]],
            [None, 0, Decimal("100"), Decimal("0"), Decimal("1"), PAYLOADS[3]],
            [dt.date(2024, 7, 5), 1, Decimal("1"), Decimal("1"), Decimal("1"), PAYLOADS[4]],
            [dt.date(2024, 7, 6), 2, Decimal("2"), Decimal("2"), Decimal("2"), PAYLOADS[5]],
            [dt.date(2024, 7, 7), 3, Decimal("3"), Decimal("3"), Decimal("3"), PAYLOADS[6]],
        ],
    )


def test_plain_copy_is_excel_tsv() -> None:
    tsv, _ = copy_text(table(), [(0, 0, 3, 5)])
    assert tsv == (
        "2024-07-01\t1234\t45.24\t1234.13\t0.0123\t'=cmd|' /C calc'!A0\r\n"
        "2024-07-02 13:00\t\t0.00\t-2.50\t-0.0001\t'+1+1\r\n"
        "Week 27 2024\t-7\t\t0.00\t\t'-2+3\r\n"
        "\t0\t100.00\t0.00\t1.0000\t'@SUM(1)\r\n"
    )


def test_rounding_is_half_away_from_zero_and_never_minus_zero() -> None:
    tsv, _ = copy_text(table(), [(0, 3, 2, 4)])
    assert tsv == "1234.13\t0.0123\r\n-2.50\t-0.0001\r\n0.00\t\r\n"


def test_quoting_and_injection_payloads() -> None:
    tsv, html = copy_text(table(), [(3, 5, 6, 5)])
    assert tsv == "'@SUM(1)\r\n\"'\t=1\"\r\n\"say \"\"hi\"\"\"\r\na<b>&c\r\n"
    assert html == (
        "<table><tbody>"
        "<tr><td>&#x27;@SUM(1)</td></tr>"
        "<tr><td>&#x27;\t=1</td></tr>"
        "<tr><td>say &quot;hi&quot;</td></tr>"
        "<tr><td>a&lt;b&gt;&amp;c</td></tr>"
        "</tbody></table>"
    )


def test_negative_numbers_stay_numbers() -> None:
    tsv, html = copy_text(table(), [(1, 3, 2, 3)])
    assert tsv == "-2.50\r\n0.00\r\n"
    assert '<td class="cx0" sdnum="1033;0;#,##0.00">-2.50</td>' in html


def test_copy_with_headers() -> None:
    tsv, html = copy_text(table(), [(0, 1, 1, 3)], "headers")
    assert tsv == "Attempts\tASR\tCharge\r\n1234\t45.24\t1234.13\r\n\t0.00\t-2.50\r\n"
    # every number cell names its display format: LibreOffice's sdnum, Excel's class
    assert html == (
        '<style>.cx0{mso-number-format:"\\#\\,\\#\\#0"}.cx1{mso-number-format:"0\\.00"}'
        '.cx2{mso-number-format:"\\#\\,\\#\\#0\\.00"}</style>'
        "<table><thead><tr><th>Attempts</th><th>ASR</th><th>Charge</th></tr></thead>"
        '<tbody><tr><td class="cx0" sdnum="1033;0;#,##0">1234</td><td class="cx1" sdnum="1033;0;0.00">45.24</td>'
        '<td class="cx2" sdnum="1033;0;#,##0.00">1234.13</td></tr>'
        '<tr><td class="cx0" sdnum="1033;0;#,##0"></td><td class="cx1" sdnum="1033;0;0.00">0.00</td>'
        '<td class="cx2" sdnum="1033;0;#,##0.00">-2.50</td></tr></tbody></table>'
    )


def test_copy_with_group_headers() -> None:
    tsv, html = copy_text(table(), [(0, 0, 0, 4)], "group")
    assert tsv == (
        "\tCalls\t\tMoney\t\r\n"
        "Date\tAttempts\tASR\tCharge\tRate\r\n"
        "2024-07-01\t1234\t45.24\t1234.13\t0.0123\r\n"
    )
    assert html.split("</style>")[1].startswith(
        '<table><thead><tr><th></th><th colspan="2">Calls</th><th colspan="2">Money</th></tr>'
        "<tr><th>Date</th><th>Attempts</th><th>ASR</th><th>Charge</th><th>Rate</th></tr></thead>"
    )


def test_stacked_ranges_copy_in_row_order_each_row_once() -> None:
    tsv, _ = copy_text(table(), [(5, 1, 6, 1), (0, 1, 0, 1), (6, 1, 6, 1)])
    assert tsv == "1234\r\n2\r\n3\r\n"


def test_side_by_side_ranges_copy_in_column_order() -> None:
    tsv, _ = copy_text(table(), [(4, 3, 5, 3), (4, 1, 5, 1)], "headers")
    assert tsv == "Attempts\tCharge\r\n1\t1.00\r\n2\t2.00\r\n"
    assert copy_plan(table(), [(4, 3, 5, 3), (4, 1, 5, 1)]) == ([(4, 6)], [1, 3])


def test_other_multiple_selections_are_refused_with_advice() -> None:
    with pytest.raises(SelectionError, match="multiple selections.*same columns or in the same rows"):
        copy_text(table(), [(0, 0, 1, 1), (3, 2, 4, 3)])
    with pytest.raises(SelectionError, match="Nothing is selected"):
        copy_text(table(), [])


def test_unknown_header_mode() -> None:
    with pytest.raises(ValueError):
        copy_text(table(), [(0, 0, 0, 0)], "all")  # type: ignore[arg-type]
