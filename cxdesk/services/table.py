"""A column-oriented, immutable table behind the Summary spreadsheet (no Qt).

Numeric columns (kinds ``int``, ``money``, ``percent``, ``minutes``) are NumPy ``int64``
arrays of fixed-point values scaled by ``10**column.scale`` (money keeps micro-units by
default, so it is exact), with an optional boolean ``valid`` mask for empty cells; an
empty cell always holds 0 in the value array, so plain slice sums are correct.
Text and date columns are Python sequences (``None`` or ``""`` = empty); date columns
hold ``date``/``datetime`` objects or label strings ("Week 27 2024") plus an optional
sort key per row.

``column.decimals`` is the *display* precision (grid, footer, copy, CSV, XLSX format and
CLI round to it once, half away from zero: ``services.figures``); ``column.scale`` is the
*storage* precision.  Percent values are stored already multiplied by 100 (45.23 means
45.23 %), as the grid shows them.  ``column.unit`` ("EUR", "%", "min") goes into the
shown header (``column.title``) and after footer figures.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, localcontext
from typing import Any, Literal, TypeAlias, get_args

import numpy as np
import numpy.typing as npt

from cxdesk.services.export_safety import safe_text
from cxdesk.services.figures import DATE_STYLES, header_text

Kind: TypeAlias = Literal["text", "int", "money", "percent", "minutes", "date"]
KINDS: frozenset[str] = frozenset(get_args(Kind))
NUMERIC_KINDS: frozenset[str] = frozenset({"int", "money", "percent", "minutes"})
ADDITIVE_KINDS: frozenset[str] = frozenset({"int", "money", "minutes"})
_DEFAULT_DECIMALS = {"int": 0, "money": 2, "percent": 2, "minutes": 2, "text": 0, "date": 0}
_DEFAULT_SCALE = 6
_MAX_SCALE = 12

Int64Array: TypeAlias = npt.NDArray[np.int64]
BoolArray: TypeAlias = npt.NDArray[np.bool_]
IndexArray: TypeAlias = npt.NDArray[np.intp]
Cell: TypeAlias = "Decimal | int | str | dt.date | None"


@dataclass(frozen=True, slots=True)
class Column:
    """One column: ``decimals`` = shown/copied/exported decimals, ``scale`` = stored ones.

    ``additive`` says whether a total (export totals row) makes sense; by default true
    for counts, minutes and money, false for percentages, text and dates.  Set it to
    False for ratio columns of another kind (e.g. ACD in minutes).  ``unit`` is shown in
    the header (``title``) and after the footer's figures; ``date_style`` ("hour", "day",
    "month", see ``figures.DATE_STYLES``) fixes how a date column's dates are written.
    """

    key: str
    header: str
    group: str = ""
    kind: Kind = "text"
    decimals: int | None = None
    scale: int | None = None
    additive: bool | None = None
    unit: str = ""
    date_style: str = ""

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"column {self.key!r}: unknown kind {self.kind!r}")
        if self.date_style and (self.kind != "date" or self.date_style not in DATE_STYLES):
            raise ValueError(f"column {self.key!r}: date_style {self.date_style!r} needs a date column")
        decimals = _DEFAULT_DECIMALS[self.kind] if self.decimals is None else self.decimals
        if self.kind == "int":
            scale = 0 if self.scale is None else self.scale
        elif self.kind in NUMERIC_KINDS:
            scale = max(_DEFAULT_SCALE, decimals) if self.scale is None else self.scale
        else:
            scale = 0
        if not 0 <= decimals <= _MAX_SCALE or not 0 <= scale <= _MAX_SCALE:
            raise ValueError(f"column {self.key!r}: decimals and scale must be 0..{_MAX_SCALE}")
        additive = self.kind in ADDITIVE_KINDS if self.additive is None else self.additive
        object.__setattr__(self, "decimals", decimals)
        object.__setattr__(self, "scale", scale)
        object.__setattr__(self, "additive", additive and self.kind in NUMERIC_KINDS)

    @property
    def numeric(self) -> bool:
        return self.kind in NUMERIC_KINDS

    @property
    def title(self) -> str:
        """The header as shown everywhere: with its unit ("Customer Charge (EUR)")."""
        return header_text(self.header, self.unit)


def group_spans(columns: Sequence[Column]) -> list[tuple[str, int, int]]:
    """(group, first, last) for each run of consecutive columns with the same group."""
    spans: list[tuple[str, int, int]] = []
    for i, column in enumerate(columns):
        if spans and spans[-1][0] == column.group:
            spans[-1] = (column.group, spans[-1][1], i)
        else:
            spans.append((column.group, i, i))
    return spans


def round_scaled(values: Int64Array, scale: int, decimals: int) -> Int64Array:
    """Round fixed-point ``values`` from ``scale`` to ``decimals`` digits, half away from zero."""
    if decimals >= scale:
        return values * (10 ** (decimals - scale)) if decimals > scale else values
    factor = 10 ** (scale - decimals)
    magnitude = (np.abs(values) + factor // 2) // factor
    return np.where(values < 0, -magnitude, magnitude)


def format_fixed(values: Int64Array, decimals: int, grouping: bool = False) -> list[str]:
    """Decimal strings for integers scaled by ``10**decimals``: '-1234.50', or with
    ``grouping`` '-1,234.50' (the grid's and the footer's form)."""
    if decimals == 0:
        return [f"{v:,d}" for v in values.tolist()] if grouping else [str(v) for v in values.tolist()]
    unit = 10**decimals
    magnitude = np.abs(values)
    whole = (magnitude // unit).tolist()
    frac = (magnitude % unit).tolist()
    negative = (values < 0).tolist()
    if grouping:
        return [f"{'-' if n else ''}{w:,d}.{f:0{decimals}d}" for w, f, n in zip(whole, frac, negative)]
    positive_format = f"%d.%0{decimals}d"
    negative_format = "-" + positive_format
    return [(negative_format if n else positive_format) % (w, f) for w, f, n in zip(whole, frac, negative)]


def format_date(value: Any, style: str = "") -> str:
    """ISO text that Excel and LibreOffice parse as a date (``style``: see
    ``figures.DATE_STYLES``; by default by the value's type); labels pass through."""
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        value = value.astimezone(dt.timezone.utc).replace(tzinfo=None)
    if style and isinstance(value, dt.date):
        return value.strftime(DATE_STYLES[style][1])
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ", timespec="seconds" if value.second else "minutes")
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def exact_decimal(scaled: int, scale: int) -> Decimal:
    """``scaled / 10**scale`` as an exact Decimal (no context rounding, unlike scaleb)."""
    return Decimal(f"{scaled}e-{scale}") if scale else Decimal(scaled)


def to_scaled(value: Any, scale: int, *, allow_float: bool) -> int:
    """Exact conversion of int/Decimal/str (float only if allowed) to a scaled integer."""
    if isinstance(value, bool):
        raise TypeError("booleans are not numbers here")
    if isinstance(value, int):
        return value * 10**scale
    if isinstance(value, float):
        if not allow_float:
            raise TypeError("money must not be a float: use Decimal, int or str")
        value = Decimal(repr(value))
    number = value if isinstance(value, Decimal) else Decimal(str(value))
    if not number.is_finite():
        raise ValueError(f"not a finite number: {value!r}")
    with localcontext() as ctx:
        ctx.prec = 80
        return int(number.scaleb(scale).to_integral_value(rounding=ROUND_HALF_UP))


class Table:
    """Immutable column store.  ``data[i]`` belongs to ``columns[i]``:

    * numeric column: an ``int64`` array of scaled values, or ``(values, valid)``;
    * text/date column: a sequence of values (``None``/``""`` = empty).

    ``sort_keys`` maps a column index or key to per-row sort keys (date labels).
    Arrays are used without copying and marked read-only; do not mutate them later.
    """

    def __init__(
        self,
        columns: Sequence[Column],
        data: Sequence[Any],
        sort_keys: Mapping[int | str, Sequence[Any]] | None = None,
    ) -> None:
        if len(columns) != len(data):
            raise ValueError("one data entry per column is required")
        if len({c.key for c in columns}) != len(columns):
            raise ValueError("column keys must be unique")
        self.columns: tuple[Column, ...] = tuple(columns)
        self._values: list[Int64Array | None] = []
        self._valid: list[BoolArray | None] = []
        self._objects: list[Sequence[Any] | None] = []
        self._max_abs: list[int] = []
        self._compact: list[tuple[IndexArray, Int64Array] | None] = []
        self._extremes: list[tuple[int, int] | None] = []
        rows: int | None = None
        for column, entry in zip(self.columns, data):
            length = self._add(column, entry)
            if rows is not None and length != rows:
                raise ValueError(f"column {column.key!r} has {length} rows, expected {rows}")
            rows = length
        self.row_count: int = rows or 0
        self._sort_keys: dict[int, Sequence[Any]] = {}
        for ref, keys in (sort_keys or {}).items():
            index = ref if isinstance(ref, int) else self.index(ref)
            if len(keys) != self.row_count:
                raise ValueError(f"sort keys of column {ref!r} have the wrong length")
            self._sort_keys[index] = keys

    def _add(self, column: Column, entry: Any) -> int:
        if not column.numeric:
            objects = entry if isinstance(entry, Sequence) else list(entry)
            has_empty = objects.count(None) or objects.count("")
            valid = (
                np.fromiter((v is not None and v != "" for v in objects), bool, len(objects))
                if has_empty
                else None
            )
            self._values.append(None)
            self._compact.append(None)
            self._objects.append(objects)
            self._valid.append(valid)
            self._max_abs.append(0)
            self._extremes.append(None)
            return len(objects)
        values, valid = entry if isinstance(entry, tuple) else (entry, None)
        values = np.asarray(values)
        if values.dtype != np.int64 or values.ndim != 1:
            raise TypeError(f"column {column.key!r}: expected a 1-d int64 array of scaled values")
        if valid is not None:
            valid = np.asarray(valid, dtype=bool)
            if valid.shape != values.shape:
                raise ValueError(f"column {column.key!r}: valid mask has the wrong length")
            if valid.all():
                valid = None
            elif values[~valid].any():
                values = np.where(valid, values, 0)  # empty cells must hold 0
        values = values.view()
        values.flags.writeable = False
        compact: tuple[IndexArray, Int64Array] | None = None
        present = values
        if valid is not None:
            valid = valid.view()
            valid.flags.writeable = False
            positions = np.flatnonzero(valid)
            compact = (positions, values[positions])
            present = compact[1]
        extremes = (int(present.min()), int(present.max())) if present.size else None
        self._extremes.append(extremes)
        self._max_abs.append(max(-extremes[0], extremes[1]) if extremes else 0)
        self._compact.append(compact)
        self._values.append(values)
        self._valid.append(valid)
        self._objects.append(None)
        return len(values)

    @classmethod
    def from_rows(
        cls,
        columns: Sequence[Column],
        rows: Iterable[Sequence[Any]],
        sort_keys: Mapping[int | str, Sequence[Any]] | None = None,
    ) -> Table:
        """Build from Python rows (Decimal/int/str/None numbers; float only for non-money)."""
        materialised = [tuple(r) for r in rows]
        data: list[Any] = []
        for i, column in enumerate(columns):
            cells = [r[i] for r in materialised]
            if not column.numeric:
                data.append(cells)
                continue
            valid = np.array([c is not None and c != "" for c in cells], dtype=bool)
            allow_float = column.kind != "money"
            values = np.array(
                [to_scaled(c, column.scale, allow_float=allow_float) if ok else 0  # type: ignore[arg-type]
                 for c, ok in zip(cells, valid.tolist())],
                dtype=np.int64,
            )
            data.append((values, valid))
        return cls(columns, data, sort_keys)

    # -- access -----------------------------------------------------------------
    @property
    def column_count(self) -> int:
        return len(self.columns)

    def index(self, key: str) -> int:
        for i, column in enumerate(self.columns):
            if column.key == key:
                return i
        raise KeyError(key)

    def numeric(self, col: int) -> tuple[Int64Array, BoolArray | None]:
        """(scaled values, valid mask or None when no cell is empty) of a numeric column."""
        values = self._values[col]
        if values is None:
            raise TypeError(f"column {self.columns[col].key!r} is not numeric")
        return values, self._valid[col]

    def present(self, col: int) -> tuple[IndexArray, Int64Array] | None:
        """For a numeric column with empty cells: (rows of the non-empty cells, their
        values), precomputed so that range statistics slice instead of gathering.
        None when the column has no empty cell.  Costs 16 bytes per non-empty cell."""
        return self._compact[col]

    def objects(self, col: int) -> Sequence[Any]:
        objects = self._objects[col]
        if objects is None:
            raise TypeError(f"column {self.columns[col].key!r} is numeric")
        return objects

    def valid_mask(self, col: int) -> BoolArray | None:
        """Non-empty mask of any column (None = no empty cell)."""
        return self._valid[col]

    def max_abs(self, col: int) -> int:
        """Largest magnitude of a numeric column's scaled values (overflow guard)."""
        return self._max_abs[col]

    def extremes(self, col: int) -> tuple[int, int] | None:
        """(min, max) scaled value of a numeric column's non-empty cells, or None."""
        return self._extremes[col]

    def is_empty(self, row: int, col: int) -> bool:
        valid = self._valid[col]
        return valid is not None and not bool(valid[row])

    def value(self, row: int, col: int) -> Cell:
        """Decimal (money/percent/minutes), int (int), str/date (text/date), or None."""
        if not 0 <= row < self.row_count:
            raise IndexError(row)
        if self.is_empty(row, col):
            return None
        column = self.columns[col]
        values = self._values[col]
        if values is None:
            return self._objects[col][row]  # type: ignore[index]
        scaled = int(values[row])
        if column.kind == "int" and column.scale == 0:
            return scaled
        return exact_decimal(scaled, column.scale)  # type: ignore[arg-type]

    def raw(self, row: int, col: int) -> Any:
        """A sort value comparable within the column (None for empty cells)."""
        if self.is_empty(row, col):
            return None
        values = self._values[col]
        if values is not None:
            return int(values[row])
        keys = self._sort_keys.get(col)
        return keys[row] if keys is not None else self._objects[col][row]  # type: ignore[index]

    def argsort(self, col: int, descending: bool = False) -> npt.NDArray[np.intp]:
        """Stable row order by a column; empty cells always last."""
        values, valid = self._values[col], self._valid[col]
        if values is None:
            keys = self._sort_keys.get(col, self._objects[col])
            present = range(self.row_count) if valid is None else np.flatnonzero(valid).tolist()
            order = np.asarray(sorted(present, key=keys.__getitem__, reverse=descending), dtype=np.intp)  # type: ignore[union-attr]
            return order if valid is None else np.concatenate([order, np.flatnonzero(~valid)])
        order = np.argsort(-values if descending else values, kind="stable")
        if valid is None:
            return order
        ok = valid[order]
        return np.concatenate([order[ok], order[~ok]])

    def take(self, rows: npt.ArrayLike) -> Table:
        """A new table with the given rows in the given order (sorted/filtered views)."""
        index = np.asarray(rows, dtype=np.intp)
        data: list[Any] = []
        for col in range(self.column_count):
            values, valid = self._values[col], self._valid[col]
            if values is not None:
                data.append((values[index], None if valid is None else valid[index]))
            else:
                objects = self._objects[col]
                data.append([objects[i] for i in index.tolist()])  # type: ignore[index]
        keys = {c: [k[i] for i in index.tolist()] for c, k in self._sort_keys.items()}
        return Table(self.columns, data, keys)  # type: ignore[arg-type]

    def texts(self, col: int, start: int, stop: int, grouping: bool = False) -> list[str]:
        """Text of rows ``start..stop-1``: numbers rounded once, half-up, to the display
        decimals ('.' point; thousands separators only with ``grouping``, as the grid
        shows them; copy and CSV use none), ISO dates, text through
        ``export_safety.safe_text`` (numbers never: they are numbers, not text)."""
        column = self.columns[col]
        values = self._values[col]
        valid = self._valid[col]
        if values is not None:
            chunk = round_scaled(values[start:stop], column.scale, column.decimals)  # type: ignore[arg-type]
            out = format_fixed(chunk, column.decimals, grouping)  # type: ignore[arg-type]
        elif column.kind == "date":
            out = [
                "" if v is None else format_date(v, column.date_style) if isinstance(v, dt.date)
                else safe_text(str(v))
                for v in self._objects[col][start:stop]  # type: ignore[index]
            ]
        else:
            out = ["" if v is None else safe_text(str(v)) for v in self._objects[col][start:stop]]  # type: ignore[index]
        if valid is not None:
            for i in np.flatnonzero(~valid[start:stop]).tolist():
                out[i] = ""
        return out
