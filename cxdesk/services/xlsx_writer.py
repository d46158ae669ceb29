"""The XLSX writer behind ``export.write_xlsx`` (openpyxl, write-only; see export's docstring)."""
from __future__ import annotations

import contextlib
import datetime as dt
import os
import re
import types
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import Cell
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet._write_only import WriteOnlyWorksheet
from openpyxl.worksheet.properties import PageSetupProperties

from cxdesk.services.export import CancelCheck, Progress, atomic_file, _chunks, number_format
from cxdesk.services.export_safety import safe_text, strip_forbidden
from cxdesk.services.figures import DATE_STYLES
from cxdesk.services.table import Column, Table, exact_decimal, group_spans

DATE_FORMAT = DATE_STYLES["day"][0]
DATETIME_FORMAT = DATE_STYLES["hour"][0]
#: the workbook's one font (openpyxl's default body font); headers only add bold
FONT_NAME, FONT_SIZE = "Calibri", 11
_CURRENCY = re.compile(r"[A-Z]{3}")
_SHEET_TITLE_BAD = re.compile(r"[\\/*?:\[\]]")
# Data rows go through a per-worksheet replacement of openpyxl's private
# WriteOnlyWorksheet._values_to_row that reuses one pre-styled cell per column (the
# public path costs ~60 % more per cell).  Without that hook the public path is used.
FAST_PATH = hasattr(WriteOnlyWorksheet, "_values_to_row")


def _clean_text(value: Any) -> str:
    """``safe_text`` of the value's text, at most the 32,767 characters a cell holds."""
    return safe_text(str(value))[:32767]


def _excel_date(value: Any) -> Any:
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        return value.astimezone(dt.timezone.utc).replace(tzinfo=None)
    if isinstance(value, (dt.date, dt.datetime)):
        return value
    return _clean_text(value)


def _column_values(table: Table, col: int, start: int, stop: int) -> list[Any]:
    """Python values of one column chunk as they go into the cells (None = empty)."""
    column = table.columns[col]
    valid = table.valid_mask(col)
    if column.numeric:
        values, _ = table.numeric(col)
        chunk = values[start:stop]
        if column.kind == "int" and column.scale == 0:
            out: list[Any] = chunk.tolist()
        else:  # the exact value; the cell's number format rounds it for display
            shift = (column.scale or 0) + (2 if column.kind == "percent" else 0)
            # int64 -> float64 is exact below 2**53 and the division is correctly rounded
            out = (chunk / float(10**shift)).tolist()
    elif column.kind == "date":
        out = [None if v is None or v == "" else _excel_date(v) for v in table.objects(col)[start:stop]]
    else:
        out = [None if v is None or v == "" else _clean_text(v) for v in table.objects(col)[start:stop]]
    if valid is not None:
        for i in np.flatnonzero(~valid[start:stop]).tolist():
            out[i] = None
    return out


def _width(table: Table, col: int) -> float:
    column = table.columns[col]
    base = {"int": 10, "money": 14, "percent": 9, "minutes": 12, "date": 12, "text": 10}[column.kind]
    if not column.numeric:
        for value in table.objects(col)[:500]:
            if isinstance(value, dt.datetime):
                base = max(base, 17)
            elif value is not None and not isinstance(value, dt.date):
                base = max(base, len(str(value)) + 2)
    if column.kind == "money" and table.row_count:
        base = max(base, len(str(table.max_abs(col) // 10 ** (column.scale or 0))) + 8)
    return float(min(60, max(base, len(column.title) + 2, len(column.group) // 2)))


class _FixedStyleCell(Cell):
    """A reusable data cell whose style id was resolved once."""

    __slots__ = ("_sid",)
    has_style = True  # type: ignore[assignment]

    @property
    def style_id(self) -> int:  # type: ignore[override]
        return self._sid


class _CellFactory:
    """Pre-styled cells: one per (column, value type), so data rows only set values."""

    def __init__(self, ws: WriteOnlyWorksheet) -> None:
        self.ws = ws

    def styled(self, value: Any = None, fmt: str | None = None, font: Font | None = None,
               alignment: Alignment | None = None) -> Cell:
        cell = WriteOnlyCell(self.ws, value)
        if fmt:
            cell.number_format = fmt
        if font is not None:
            cell.font = font
        if alignment is not None:
            cell.alignment = alignment
        return cell

    def fixed(self, col: int, fmt: str | None, data_type: str) -> _FixedStyleCell:
        cell = _FixedStyleCell(self.ws, column=col + 1)
        cell._sid = self.styled(fmt=fmt).style_id if fmt else 0
        cell.data_type = data_type
        return cell


def _install_fast_rows(ws: WriteOnlyWorksheet, table: Table, formats: list[str | None]) -> None:
    factory = _CellFactory(ws)
    pickers: list[Callable[[Any], Cell]] = []
    for col, column in enumerate(table.columns):
        if column.numeric:
            pickers.append(lambda v, c=factory.fixed(col, formats[col], "n"): c)
        elif column.kind == "date":
            as_date = factory.fixed(col, _date_format(column, False), "d")
            as_time = factory.fixed(col, _date_format(column, True), "d")
            as_text = factory.fixed(col, None, "s")

            def pick(v: Any, d: Cell = as_date, t: Cell = as_time, s: Cell = as_text) -> Cell:
                return t if isinstance(v, dt.datetime) else d if isinstance(v, dt.date) else s

            pickers.append(pick)
        else:
            pickers.append(lambda v, c=factory.fixed(col, None, "s"): c)

    def values_to_row(self: WriteOnlyWorksheet, values: Sequence[Any], row_idx: int) -> Iterator[Cell]:
        for pick, value in zip(pickers, values):
            if value is None:
                continue
            cell = pick(value)
            cell._value = value
            cell.row = row_idx
            yield cell

    ws._values_to_row = types.MethodType(values_to_row, ws)  # type: ignore[method-assign]


def _public_row(factory: _CellFactory, table: Table, formats: list[str | None], values: Sequence[Any]) -> list[Any]:
    row: list[Any] = []
    for column, fmt, value in zip(table.columns, formats, values):
        if value is None:
            row.append(None)
        elif column.kind == "date" and isinstance(value, dt.date):
            row.append(factory.styled(value, _date_format(column, isinstance(value, dt.datetime))))
        elif column.numeric:
            row.append(factory.styled(value, fmt))
        else:
            cell = factory.styled(value)
            cell.data_type = "s"  # never a formula, even if openpyxl guessed one
            row.append(cell)
    return row


def _date_format(column: Column, with_time: bool) -> str:
    if column.date_style:
        return DATE_STYLES[column.date_style][0]
    return DATETIME_FORMAT if with_time else DATE_FORMAT


def _print_setup(ws: WriteOnlyWorksheet, first_head: int, header_row: int) -> None:
    """Landscape, one page wide (as many pages down as needed), header rows on every page."""
    ws.page_setup.orientation = "landscape"
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr = PageSetupProperties(fitToPage=True)
    ws.print_title_rows = f"{first_head}:{header_row}"
    ws.print_options.horizontalCentered = True


def _sheet_title(title: str | None) -> str:
    cleaned = _SHEET_TITLE_BAD.sub(" ", strip_forbidden(title or "")).strip().strip("'")[:31]
    return cleaned or "Summary"


def write_xlsx(
    table: Table,
    path: str | os.PathLike[str],
    *,
    currency: str | None = None,
    title: str | None = None,
    totals: Sequence[Any] | None = None,
    progress: Progress | None = None,
    cancel: CancelCheck | None = None,
) -> None:
    """Write the table as an Excel workbook (one sheet); see export's docstring."""
    if totals is not None and len(totals) != table.column_count:
        raise ValueError("one totals cell per column is required")
    if currency is not None and not _CURRENCY.fullmatch(currency):
        raise ValueError(f"currency must be a three-letter ISO code, not {currency!r}")
    columns = table.columns
    formats = [number_format(c, currency) for c in columns]
    bold = Font(name=FONT_NAME, size=FONT_SIZE, bold=True)
    wb = Workbook(write_only=True)
    ws = wb.create_sheet(_sheet_title(title))
    if title:
        wb.properties.title = strip_forbidden(title)
    factory = _CellFactory(ws)
    for col in range(len(columns)):
        ws.column_dimensions[get_column_letter(col + 1)].width = _width(table, col)
    last_letter = get_column_letter(max(len(columns), 1))

    head: list[list[Any]] = []
    if title:
        head.append([factory.styled(_clean_text(title), font=Font(name=FONT_NAME, bold=True, size=14))])
    if any(c.group for c in columns):
        group_row = len(head) + 1
        row: list[Any] = [None] * len(columns)
        centred = Alignment(horizontal="center")
        for group, first, last in group_spans(columns):
            if group:
                row[first] = factory.styled(_clean_text(group), font=bold, alignment=centred)
            if group and last > first:
                ws.merged_cells.add(f"{get_column_letter(first + 1)}{group_row}:{get_column_letter(last + 1)}{group_row}")
        head.append(row)
    head.append([factory.styled(_clean_text(c.title), font=bold) for c in columns])
    header_row = len(head)
    first_data, last_data = header_row + 1, header_row + table.row_count
    ws.freeze_panes = f"A{first_data}"
    _print_setup(ws, 2 if title else 1, header_row)
    ws.auto_filter.ref = f"A{header_row}:{last_letter}{max(last_data, header_row)}"

    with atomic_file(path) as temp:
        try:
            for line in head:
                ws.append(line)
            if FAST_PATH:
                _install_fast_rows(ws, table, formats)
            for start, stop in _chunks(table, progress, cancel):
                chunk = [_column_values(table, col, start, stop) for col in range(len(columns))]
                if FAST_PATH:
                    for values in zip(*chunk):
                        ws.append(values)
                else:
                    for values in zip(*chunk):
                        ws.append(_public_row(factory, table, formats, values))
            if FAST_PATH:
                del ws._values_to_row  # back to openpyxl's own method for the totals row
            if table.row_count and (totals is not None or any(c.additive for c in columns)):
                ws.append(_totals_row(factory, table, formats, totals or _exact_sums(table)))
            wb.save(temp)
        except BaseException:
            _discard(ws)
            raise
    if progress is not None:
        progress(table.row_count, table.row_count)


def _exact_sums(table: Table) -> list[Any]:
    """Exact sums of the additive columns (Decimal or int), "Total" first, None elsewhere."""
    out: list[Any] = []
    for col, column in enumerate(table.columns):
        if column.additive:
            values, _ = table.numeric(col)
            total = sum(int(values[i:i + 1_000_000].sum(dtype=object)) for i in range(0, len(values), 1_000_000))
            out.append(exact_decimal(total, column.scale or 0))
        else:
            out.append("Total" if col == 0 and not column.numeric else None)
    return out


def _totals_row(factory: _CellFactory, table: Table, formats: list[str | None], totals: Sequence[Any]) -> list[Any]:
    """Stored values (not formulas): readers that do not calculate show them too."""
    bold = Font(name=FONT_NAME, size=FONT_SIZE, bold=True)
    row: list[Any] = []
    for column, fmt, value in zip(table.columns, formats, totals):
        if value is None:
            row.append(None)
        elif isinstance(value, str):
            cell = factory.styled(_clean_text(value), font=bold)
            cell.data_type = "s"
            row.append(cell)
        else:
            number = float(value) / (100 if column.kind == "percent" else 1)
            row.append(factory.styled(int(value) if column.kind == "int" else number, fmt, bold))
    return row


def _discard(ws: WriteOnlyWorksheet) -> None:
    """Best effort: remove openpyxl's temporary sheet file after an aborted export."""
    writer = getattr(ws, "_writer", None)
    with contextlib.suppress(Exception):
        if not ws.closed:
            ws.close()
    with contextlib.suppress(Exception):
        if writer is not None:
            writer.cleanup()
