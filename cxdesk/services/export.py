"""CSV and XLSX export of a Table (no Qt), with progress and cancellation.

Both writers produce the file under a temporary name in the target folder and rename
it at the end, so a cancelled or failed export leaves neither a partial file nor a
damaged older file; cancellation raises ``Cancelled``.  Every text cell (headers
included) goes through ``export_safety.safe_text`` in both formats: characters XML
forbids removed, a leading single quote on text a spreadsheet could take for a formula.

Figures follow ``services.figures`` (rounded once, half-up, at the column's decimals).

CSV: UTF-8 with BOM (Excel detects the encoding), comma separated, CRLF, headers with
their units ("Customer Charge (EUR)"), numbers as on the clipboard (raw, '.' point,
display decimals; percentages as shown, 45.23).

XLSX (openpyxl, write-only): numbers are the exact values (a float in the file, the
nearest to the exact decimal) with the column's number format, so the cell shows the
grid's figure and Excel's own sums add exact values; dates are real dates in the
column's date style.  Percentages are stored as fractions (0.4523) with the format
``0.00%``.  Money uses ``#,##0.00 "EUR"`` (the currency's decimals) from the column's
unit.  A merged group-header row (when any column has a group) sits above the bold
header row; the panes are frozen below the headers, an autofilter covers the header and
data rows, and a bold totals row holds stored values (every reader shows them, also
those that do not calculate): the exact totals given, or the exact sums of the additive
columns.  Print setup: landscape, fit to one page wide (so no group header is split),
header rows repeated on every page, one font throughout.

The XLSX writer lives in ``xlsx_writer`` and is imported on first use: openpyxl takes
a noticeable part of a second to import, which the program's start should not pay.
"""
from __future__ import annotations

import contextlib
import csv
import os
import tempfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Literal

from cxdesk.errors import Cancelled, ValidationError
from cxdesk.services.export_safety import safe_text
from cxdesk.services.figures import excel_format
from cxdesk.services.table import Column, Table, group_spans

Progress = Callable[[int, int], None]
CancelCheck = Callable[[], bool]
CHUNK_ROWS = 2000


@contextlib.contextmanager
def atomic_file(path: str | os.PathLike[str]) -> Iterator[Path]:
    """A temp file beside ``path`` renamed over it at the end: never a partial export."""
    target = Path(path)
    if not target.parent.is_dir():
        raise ValidationError(f"The folder {target.parent} does not exist; choose another place.", field="path")
    try:
        fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    except OSError as exc:
        raise ValidationError(f"Cannot write in {target.parent} ({exc.strerror}); choose another place.", field="path") from exc
    os.close(fd)
    temp = Path(name)
    try:
        yield temp
        os.replace(temp, target)
    except OSError as exc:
        temp.unlink(missing_ok=True)
        raise ValidationError(f"Cannot write {target} ({exc.strerror}); choose another file.", field="path") from exc
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


def _chunks(table: Table, progress: Progress | None, cancel: CancelCheck | None) -> Iterator[tuple[int, int]]:
    total = table.row_count
    for start in range(0, total, CHUNK_ROWS):
        if cancel is not None and cancel():
            raise Cancelled("Export cancelled.")
        stop = min(start + CHUNK_ROWS, total)
        yield start, stop
        if progress is not None:
            progress(stop, total)
    if cancel is not None and cancel():
        raise Cancelled("Export cancelled.")


def _header_lines(columns: Sequence[Column], headers: str) -> list[list[str]]:
    lines: list[list[str]] = []
    if headers == "group":
        row: list[str] = []
        for group, first, last in group_spans(columns):
            row += [group] + [""] * (last - first)
        lines.append(row)
    if headers in ("headers", "group"):
        lines.append([c.title for c in columns])
    return [[safe_text(t) for t in line] for line in lines]


def write_csv(
    table: Table,
    path: str | os.PathLike[str],
    *,
    headers: Literal["none", "headers", "group"] = "headers",
    progress: Progress | None = None,
    cancel: CancelCheck | None = None,
) -> None:
    """Write the table as CSV; ``headers="group"`` adds the group header row."""
    with atomic_file(path) as temp, open(temp, "w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerows(_header_lines(table.columns, headers))
        for start, stop in _chunks(table, progress, cancel):
            cells = [table.texts(col, start, stop) for col in range(table.column_count)]
            writer.writerows(zip(*cells))


# -- XLSX ---------------------------------------------------------------------------
def number_format(column: Column, currency: str | None = None) -> str | None:
    """The Excel number format of a column (None = General); money names ``currency``
    or else the column's unit."""
    return excel_format(column.kind, column.decimals or 0, currency or column.unit or None)


def write_xlsx(
    table: Table,
    path: str | os.PathLike[str],
    *,
    currency: str | None = None,
    title: str | None = None,
    totals: Sequence[object] | None = None,
    progress: Progress | None = None,
    cancel: CancelCheck | None = None,
) -> None:
    """Write the table as an Excel workbook (one sheet); see the module docstring.
    ``totals``: the totals row's cells (exact numbers, text or None), by default the exact
    sums of the additive columns."""
    from cxdesk.services import xlsx_writer

    xlsx_writer.write_xlsx(table, path, currency=currency, title=title, totals=totals, progress=progress,
                           cancel=cancel)
