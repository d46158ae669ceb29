"""Clipboard text of a grid selection: TSV for Excel/LibreOffice plus an HTML table.

TSV is what Excel itself puts on the clipboard: fields separated by tabs, every row
ended by CRLF (including the last), fields containing a tab, quote, CR or LF quoted
with doubled quotes.  Numbers are raw (no thousands separators, '.' decimal point,
rounded once, half-up, to the column's display decimals as ``services.figures`` says;
percentages as shown, e.g. 45.23).  Headers carry their units ("Customer Charge (EUR)").
In the HTML every number cell also names its display format, for LibreOffice
(``sdnum``) and Excel (``mso-number-format`` through a class), so the pasted numbers are
numbers that show the grid's figures (2 decimals stay 2 decimals, thousands grouped).  Every text cell and header goes through ``export_safety.safe_text`` in
both the TSV and the HTML (characters XML forbids removed, a leading single quote on
text a spreadsheet could take for a formula); numbers are never altered.
"""
from __future__ import annotations

import html
import re
from typing import Literal, Sequence

from cxdesk.services.selection import Interval, Range, merge_intervals, normalise
from cxdesk.services.export_safety import safe_text
from cxdesk.services.figures import excel_format
from cxdesk.services.table import Column, Table, group_spans

HeaderMode = Literal["none", "headers", "group"]

_NEEDS_QUOTES = re.compile(r'[\t"\r\n]')


class SelectionError(ValueError):
    """The selection cannot be copied as one block; the message says what to do."""


_HTML_SPECIAL = re.compile(r"[&<>\"']")


def _field(text: str) -> str:
    if _NEEDS_QUOTES.search(text):
        return '"' + text.replace('"', '""') + '"'
    return text


def _tsv_column(texts: list[str]) -> list[str]:
    return [_field(t) for t in texts] if _NEEDS_QUOTES.search("".join(texts)) else texts


def _html_column(texts: list[str]) -> list[str]:
    return [html.escape(t) for t in texts] if _HTML_SPECIAL.search("".join(texts)) else texts


def copy_plan(table: Table, ranges: Sequence[Range]) -> tuple[list[Interval], list[int]]:
    """Rows (merged half-open intervals) and columns to copy, following Excel's rule:
    several rectangles must share the same columns (stacked) or the same rows (side by
    side); they are then copied in row or column order, each cell once."""
    selected = normalise(ranges, table.row_count, table.column_count)
    if not selected:
        raise SelectionError("Nothing is selected. Select the cells to copy, then copy again.")
    if len({(left, right) for _, left, _, right in selected}) == 1:
        _, left, _, right = selected[0]
        rows = merge_intervals([(top, bottom + 1) for top, _, bottom, _ in selected])
        return rows, list(range(left, right + 1))
    if len({(top, bottom) for top, _, bottom, _ in selected}) == 1:
        top, _, bottom, _ = selected[0]
        columns = sorted({c for _, left, _, right in selected for c in range(left, right + 1)})
        return [(top, bottom + 1)], columns
    raise SelectionError(
        "This action won't work on multiple selections. Select one block of cells, or "
        "blocks in the same columns or in the same rows, and copy again."
    )


def _header_rows(columns: list[Column], headers: HeaderMode) -> list[list[tuple[str, int]]]:
    """Header rows as (text, colspan) cells; the TSV expands the spans with blanks."""
    rows: list[list[tuple[str, int]]] = []
    if headers == "group":
        rows.append([(group, last - first + 1) for group, first, last in group_spans(columns)])
    if headers in ("headers", "group"):
        rows.append([(c.title, 1) for c in columns])
    return rows


def _html_formats(columns: list[Column]) -> tuple[list[str], str]:
    """Per column the opening <td> (number cells carry their display format) and the
    <style> block with Excel's classes."""
    opens: list[str] = []
    rules: list[str] = []
    for i, column in enumerate(columns):
        # the grid's figure: no currency code (the header names it), no % (the cell holds 45.23)
        fmt = excel_format(column.kind, column.decimals or 0) if column.numeric else None
        if fmt is None:
            opens.append("<td>")
            continue
        fmt = fmt.rstrip("%")
        opens.append(f'<td class="cx{i}" sdnum="1033;0;{html.escape(fmt)}">')
        excel = "".join("\\" + ch if ch in ',.#"' else ch for ch in fmt)
        rules.append(f'.cx{i}{{mso-number-format:"{excel}"}}')
    return opens, ("<style>" + "".join(rules) + "</style>" if rules else "")


def copy_text(table: Table, ranges: Sequence[Range], headers: HeaderMode = "none") -> tuple[str, str]:
    """(TSV, HTML) of the selection; ``headers`` adds the header row ("headers") and the
    group header row above it ("group").  Raises SelectionError for uncopyable ranges."""
    if headers not in ("none", "headers", "group"):
        raise ValueError(f"unknown header mode {headers!r}")
    intervals, cols = copy_plan(table, ranges)
    columns = [table.columns[c] for c in cols]
    cells: list[list[str]] = []
    for col in cols:
        cells.append([t for start, stop in intervals for t in table.texts(col, start, stop)])
    head = _header_rows(columns, headers)

    tsv_lines = [
        "\t".join(_field(safe_text(text)) + "\t" * (span - 1) for text, span in row) for row in head
    ]
    tsv_columns = [cells[i] if column.numeric else _tsv_column(cells[i]) for i, column in enumerate(columns)]
    tsv_lines.extend(map("\t".join, zip(*tsv_columns)))
    tsv = "\r\n".join(tsv_lines) + "\r\n"

    html_columns = [cells[i] if column.numeric else _html_column(cells[i]) for i, column in enumerate(columns)]
    cell_open, style = _html_formats(columns)
    parts = [style, "<table>"]
    if head:
        parts.append("<thead>")
        for row in head:
            parts.append("<tr>")
            parts.extend(
                f'<th colspan="{span}">{html.escape(safe_text(text))}</th>' if span > 1
                else f"<th>{html.escape(safe_text(text))}</th>"
                for text, span in row
            )
            parts.append("</tr>")
        parts.append("</thead>")
    parts.append("<tbody>")
    template = "<tr>" + "".join(f"{c}{{}}</td>" for c in cell_open) + "</tr>"
    parts.extend(template.format(*row) for row in zip(*html_columns))
    parts.append("</tbody></table>")
    return tsv, "".join(parts)
