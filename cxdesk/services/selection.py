"""Status-bar statistics of a grid selection (no Qt).

A selection is a list of inclusive rectangles ``(top, left, bottom, right)``; they may
overlap, and a cell inside several of them counts once.  Per column the row intervals
of the rectangles covering it are merged and reduced with NumPy slice operations, so
the cost is a few vector passes per column, never a Python step per cell.  Columns
with empty cells are reduced over the table's precomputed compact array of non-empty
values (``Table.present``), so they too are plain slices; a whole column (select-all,
a column header click) uses the table's precomputed min and max and costs one sum.

Overflow: a column's values are int64; a slice sum is taken in int64 only when
``max_abs(column) * rows_in_slice < 2**63`` (checked with the column's precomputed
largest magnitude), otherwise the slice is summed in chunks that satisfy that bound.
Chunk results and the cross-column total are Python ints, so the sum is always exact.

``footer_parts`` writes the statistics as the footer shows them (``services.figures``:
rounded once, half-up, in the selected columns' format and unit).
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, localcontext
from typing import Sequence

import numpy as np
import numpy.typing as npt

from cxdesk.services.figures import format_decimal, with_unit
from cxdesk.services.table import Table, exact_decimal

Range = tuple[int, int, int, int]
Interval = tuple[int, int]  # half-open [start, stop)

_INT64_MAX = np.iinfo(np.int64).max
_GATHER_FROM = 16  # merged intervals per column from which one gather beats a loop


@dataclass(frozen=True, slots=True)
class Stats:
    """COUNTA-style ``count`` (non-empty cells of any kind), ``numerical_count`` (number
    cells); ``sum``/``average``/``min``/``max`` are exact Decimals over the number cells,
    None when none is selected.  ``average`` is the plain mean of the selected cells (an
    "average of averages" for ratio columns, as the platform shows it)."""

    count: int = 0
    numerical_count: int = 0
    sum: Decimal | None = None
    average: Decimal | None = None
    min: Decimal | None = None
    max: Decimal | None = None


def normalise(ranges: Sequence[Range], rows: int, columns: int) -> list[Range]:
    """Order each rectangle's corners, clip it to the table and drop empty ones."""
    out: list[Range] = []
    for top, left, bottom, right in ranges:
        top, bottom = sorted((top, bottom))
        left, right = sorted((left, right))
        top, left = max(top, 0), max(left, 0)
        bottom, right = min(bottom, rows - 1), min(right, columns - 1)
        if top <= bottom and left <= right:
            out.append((top, left, bottom, right))
    return out


def merge_intervals(intervals: Sequence[Interval]) -> list[Interval]:
    """Sorted, disjoint, non-adjacent half-open intervals covering the same rows."""
    merged: list[Interval] = []
    for start, stop in sorted(intervals):
        if merged and start <= merged[-1][1]:
            if stop > merged[-1][1]:
                merged[-1] = (merged[-1][0], stop)
        else:
            merged.append((start, stop))
    return merged


def column_intervals(ranges: Sequence[Range], column_count: int) -> dict[int, list[Interval]]:
    """Merged row intervals per selected column (ranges already normalised)."""
    per_column: dict[int, list[Interval]] = {}
    for top, left, bottom, right in ranges:
        for col in range(left, min(right, column_count - 1) + 1):
            per_column.setdefault(col, []).append((top, bottom + 1))
    return {col: merge_intervals(spans) for col, spans in sorted(per_column.items())}


def whole_rows(ranges: Sequence[Range], column_count: int) -> npt.NDArray[np.int64] | None:
    """Sorted unique rows when every rectangle spans all columns, else None."""
    if not ranges:
        return None
    spans: list[Interval] = []
    for top, left, bottom, right in ranges:
        top, bottom = sorted((top, bottom))
        left, right = sorted((left, right))
        if left > 0 or right < column_count - 1:
            return None
        spans.append((max(top, 0), bottom + 1))
    merged = [s for s in merge_intervals(spans) if s[1] > s[0]]
    if not merged:
        return np.empty(0, dtype=np.int64)
    return np.concatenate([np.arange(a, b, dtype=np.int64) for a, b in merged])


@dataclass(slots=True)
class _Partial:
    count: int = 0
    total: int = 0
    low: int | None = None
    high: int | None = None


def _safe_sum(values: npt.NDArray[np.int64], max_abs: int) -> int:
    if max_abs == 0:
        return 0
    step = _INT64_MAX // max_abs
    if len(values) <= step:
        return int(values.sum())
    return sum(int(values[i : i + step].sum()) for i in range(0, len(values), step))


def _numeric_partial(table: Table, col: int, intervals: list[Interval]) -> _Partial:
    values, _ = table.numeric(col)
    present = table.present(col)
    if present is not None:  # only non-empty cells, so every slice is all numbers
        positions, values = present
        starts = np.searchsorted(positions, [a for a, _ in intervals])
        stops = np.searchsorted(positions, [b for _, b in intervals])
        intervals = [(a, b) for a, b in zip(starts.tolist(), stops.tolist()) if b > a]
    part = _Partial()
    if not intervals:
        return part
    max_abs = table.max_abs(col)
    part.count = sum(b - a for a, b in intervals)
    if len(intervals) >= _GATHER_FROM:  # many small pieces: one gather, three passes
        starts = np.fromiter((a for a, _ in intervals), np.intp, len(intervals))
        lengths = np.fromiter((b - a for a, b in intervals), np.intp, len(intervals))
        offsets = np.cumsum(lengths) - lengths
        picked = values[np.arange(part.count) + np.repeat(starts - offsets, lengths)]
        part.total = _safe_sum(picked, max_abs)
        part.low, part.high = int(picked.min()), int(picked.max())
        return part
    if intervals == [(0, len(values))]:  # the whole column: extremes are precomputed
        part.total = _safe_sum(values, max_abs)
        part.low, part.high = table.extremes(col)  # type: ignore[misc]
        return part
    lows: list[int] = []
    highs: list[int] = []
    for start, stop in intervals:
        chunk = values[start:stop]
        part.total += _safe_sum(chunk, max_abs)
        lows.append(int(chunk.min()))
        highs.append(int(chunk.max()))
    part.low, part.high = min(lows), max(highs)
    return part


def _non_empty(table: Table, col: int, intervals: list[Interval]) -> int:
    valid = table.valid_mask(col)
    if valid is None:
        return sum(b - a for a, b in intervals)
    return sum(int(np.count_nonzero(valid[a:b])) for a, b in intervals)


def selection_stats(table: Table, ranges: Sequence[Range]) -> Stats:
    """Count, numerical count, exact sum, average, min and max of the selected cells."""
    selected = normalise(ranges, table.row_count, table.column_count)
    count = numbers = 0
    scaled_totals: list[tuple[int, int]] = []  # (total, scale)
    lows: list[Decimal] = []
    highs: list[Decimal] = []
    for col, intervals in column_intervals(selected, table.column_count).items():
        column = table.columns[col]
        if not column.numeric:
            count += _non_empty(table, col, intervals)
            continue
        part = _numeric_partial(table, col, intervals)
        if part.count == 0:
            continue
        count += part.count
        numbers += part.count
        scale = column.scale or 0
        scaled_totals.append((part.total, scale))
        lows.append(exact_decimal(part.low, scale))  # type: ignore[arg-type]
        highs.append(exact_decimal(part.high, scale))  # type: ignore[arg-type]
    if numbers == 0:
        return Stats(count=count)
    common = max(scale for _, scale in scaled_totals)
    total_int = sum(total * 10 ** (common - scale) for total, scale in scaled_totals)
    total = exact_decimal(total_int, common)
    with localcontext() as ctx:
        ctx.prec = max(34, len(str(abs(total_int))) + 6)
        average = Decimal(total_int) / numbers / Decimal(10) ** common
    return Stats(count, numbers, total, average, min(lows), max(highs))


def selection_format(table: Table, ranges: Sequence[Range]) -> tuple[int, str]:
    """(decimals, unit) in which the footer shows a selection's Sum, Average, Min and Max:
    the number columns' own when they all share them (money in its currency, ASR in %),
    else the most decimals among them and no unit."""
    selected = normalise(ranges, table.row_count, table.column_count)
    columns = {table.columns[c] for c in column_intervals(selected, table.column_count) if table.columns[c].numeric}
    shapes = {(c.decimals or 0, c.unit) for c in columns}
    if len(shapes) == 1:
        return next(iter(shapes))
    return max((d for d, _ in shapes), default=0), ""


def footer_parts(table: Table, ranges: Sequence[Range], stats: Stats | None = None) -> list[tuple[str, str]]:
    """The footer's (label, text) pairs, Excel's status bar semantics: Count of the
    non-empty cells, Numerical Count of the number cells (blanks and text ignored by the
    others), every figure rounded once half-up in the selection's format."""
    stats = selection_stats(table, ranges) if stats is None else stats
    decimals, unit = selection_format(table, ranges)

    def figure(value: Decimal | None) -> str:
        return with_unit(format_decimal(value, decimals), unit)

    return [("Sum", figure(stats.sum)), ("Average", figure(stats.average)), ("Count", f"{stats.count:,}"),
            ("Numerical Count", f"{stats.numerical_count:,}"), ("Min", figure(stats.min)),
            ("Max", figure(stats.max))]
