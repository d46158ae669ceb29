"""Table storage and selection statistics (status bar: count, sum, average, min, max)."""
from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal

import numpy as np
import pytest

from cxdesk.services.selection import Stats, merge_intervals, selection_stats, whole_rows
from cxdesk.services.table import Column, Table, group_spans

COLUMNS = [
    Column("date", "Date", kind="date"),
    Column("attempts", "Attempts", "Calls", "int"),
    Column("connected", "Connected", "Calls", "int"),
    Column("asr", "ASR", "Calls", "percent"),
    Column("charge", "Customer Charge", "Money", "money"),
    Column("note", "Note", kind="text"),
]


def small() -> Table:
    return Table.from_rows(
        COLUMNS,
        [
            [dt.date(2024, 7, 1), 10, 5, Decimal("50"), Decimal("1.10"), "a"],
            [dt.date(2024, 7, 2), 4, 4, Decimal("100"), Decimal("2.20"), None],
            [dt.date(2024, 7, 3), None, 0, Decimal("0"), Decimal("-0.30"), "b"],
        ],
    )


def test_column_defaults() -> None:
    money = Column("m", "M", kind="money")
    assert (money.decimals, money.scale, money.additive) == (2, 6, True)
    assert Column("p", "P", kind="percent").additive is False
    assert Column("acd", "ACD", kind="minutes", additive=False).additive is False
    assert Column("n", "N", kind="int").scale == 0
    with pytest.raises(ValueError):
        Column("x", "X", kind="float")  # type: ignore[arg-type]


def test_group_spans_are_runs_of_equal_groups() -> None:
    assert group_spans(COLUMNS) == [("", 0, 0), ("Calls", 1, 3), ("Money", 4, 4), ("", 5, 5)]


def test_values_are_exact_and_typed() -> None:
    table = small()
    assert table.row_count == 3 and table.column_count == 6
    assert table.value(0, 1) == 10 and isinstance(table.value(0, 1), int)
    assert table.value(0, 4) == Decimal("1.10") and isinstance(table.value(0, 4), Decimal)
    assert table.value(2, 1) is None and table.value(1, 5) is None
    assert table.value(0, 0) == dt.date(2024, 7, 1)
    assert table.raw(0, 4) == 1_100_000  # micro-units
    assert table.raw(2, 1) is None


def test_money_refuses_float() -> None:
    with pytest.raises(TypeError):
        Table.from_rows([Column("m", "M", kind="money")], [[0.1]])


def test_arrays_are_read_only_and_empties_hold_zero() -> None:
    values = np.array([5, 99, 7], dtype=np.int64)
    table = Table([Column("n", "N", kind="int")], [(values, np.array([True, False, True]))])
    stored, valid = table.numeric(0)
    assert stored.tolist() == [5, 0, 7] and valid is not None
    with pytest.raises(ValueError):
        stored[0] = 1


def test_argsort_and_take_with_sort_keys() -> None:
    labels = ["Week 2 2025", "Week 52 2024", None]
    table = Table(
        [Column("w", "Week", kind="date"), Column("n", "N", kind="int")],
        [labels, np.array([3, 1, 2], dtype=np.int64)],
        sort_keys={"w": [(2025, 2), (2024, 52), None]},
    )
    assert table.argsort(0).tolist() == [1, 0, 2]
    assert table.argsort(0, descending=True).tolist() == [0, 1, 2]
    assert table.argsort(1).tolist() == [1, 2, 0]
    assert table.take([2, 0]).value(1, 0) == "Week 2 2025"


def test_single_range_counts_text_and_numbers_ignoring_empties() -> None:
    stats = selection_stats(small(), [(0, 0, 2, 5)])
    assert stats.count == 16  # 18 cells, two empty
    assert stats.numerical_count == 11
    assert stats.sum == Decimal("10") + Decimal("4") + Decimal("9") + Decimal("150") + Decimal("3.00")
    assert stats.min == Decimal("-0.30") and stats.max == Decimal("100")


def test_text_only_selection_has_no_sum() -> None:
    assert selection_stats(small(), [(0, 5, 2, 5)]) == Stats(count=2)


def test_overlapping_ranges_count_a_cell_once() -> None:
    table = small()
    once = selection_stats(table, [(0, 1, 1, 2)])
    twice = selection_stats(table, [(0, 1, 1, 2), (1, 2, 1, 2), (0, 1, 0, 1)])
    assert twice == once
    assert once.sum == Decimal(23) and once.count == 4


def test_disjoint_ranges_and_reversed_or_clipped_corners() -> None:
    table = small()
    stats = selection_stats(table, [(2, 4, 0, 4), (0, 1, 0, 1), (1, 3, 99, 3)])
    assert stats.numerical_count == 3 + 1 + 2
    assert stats.sum == Decimal("3.00") + 10 + 100
    assert selection_stats(table, []) == Stats()


def test_min_ignores_empty_cells_holding_zero() -> None:
    table = Table([Column("n", "N", kind="int")], [(np.array([5, 0, 7], np.int64), np.array([1, 0, 1], bool))])
    stats = selection_stats(table, [(0, 0, 2, 0)])
    assert (stats.min, stats.max, stats.count, stats.average) == (5, 7, 2, 6)
    cells = [(r, 0, r, 0) for r in (2, 1, 0)] * 10  # many ranges: the gather path
    assert selection_stats(table, cells) == stats
    assert selection_stats(table, [(1, 0, 1, 0)] * 20) == Stats()


def test_money_sums_exactly_to_the_cent_over_many_rows() -> None:
    rows = 100_000
    cents = [Decimal("0.10"), Decimal("0.20"), Decimal("0.70")]
    column = Column("m", "M", kind="money")
    values = np.array([int(cents[i % 3] * 10**6) for i in range(rows)], dtype=np.int64)
    table = Table([column], [values])
    stats = selection_stats(table, [(0, 0, rows - 1, 0)])
    assert stats.sum == sum(cents[i % 3] for i in range(rows))
    assert float(sum(float(cents[i % 3]) for i in range(rows))) != float(stats.sum)  # what float would do


def test_columns_of_different_scales_combine_exactly() -> None:
    columns = [Column("a", "A", kind="money", scale=2), Column("b", "B", kind="minutes", scale=9)]
    table = Table(columns, [np.array([1, 2], np.int64), np.array([1, 10**9 + 1], np.int64)])
    stats = selection_stats(table, [(0, 0, 1, 1)])
    assert stats.sum == Decimal("0.03") + Decimal("0.000000001") + Decimal("1.000000001")
    assert stats.min == Decimal("1E-9") and stats.max == Decimal("1.000000001")


def test_average_is_the_plain_mean_of_cells() -> None:
    # ASR 50 % of 10 attempts and 100 % of 4: the grid shows 75, not 9/14 = 64.3 %.
    stats = selection_stats(small(), [(0, 3, 1, 3)])
    assert stats.average == Decimal(75)


def test_huge_values_do_not_overflow_int64() -> None:
    big = 2**62
    table = Table([Column("n", "N", kind="int")], [np.array([big, big, big, -5], np.int64)])
    stats = selection_stats(table, [(0, 0, 3, 0)])
    assert stats.sum == Decimal(3 * big - 5)
    spaced = Table([Column("n", "N", kind="int")], [np.array([big, 1] * 20, np.int64)])
    many = selection_stats(spaced, [(r, 0, r, 0) for r in range(0, 40, 2)])  # gather path
    assert many.sum == Decimal(20 * big) and many.count == 20


def brute_force(table: Table, ranges: list[tuple[int, int, int, int]]) -> tuple[int, int, Decimal | None]:
    cells = {(r, c) for t, l, b, rr in ranges for r in range(t, b + 1) for c in range(l, rr + 1)}
    values = [table.value(r, c) for r, c in cells]
    present = [v for v in values if v is not None]
    numbers = [Decimal(v) for v in present if isinstance(v, (int, Decimal))]
    return len(present), len(numbers), sum(numbers) if numbers else None


@pytest.mark.parametrize("seed", range(5))
def test_random_ranges_match_brute_force(seed: int) -> None:
    rng = random.Random(seed)
    rows = 60
    data = [
        [dt.date(2024, 1, 1) if rng.random() > 0.1 else None,
         rng.choice([None, rng.randint(-50, 50)]),
         rng.randint(0, 9),
         rng.choice([None, Decimal(rng.randint(0, 10000)) / 100]),
         Decimal(rng.randint(-10**8, 10**8)) / 10**6,
         rng.choice([None, "", "x"])]
        for _ in range(rows)
    ]
    table = Table.from_rows(COLUMNS, data)
    ranges = []
    for _ in range(rng.choice([1, 3, 40])):
        t, b = sorted(rng.randrange(rows) for _ in range(2))
        l, r = sorted(rng.randrange(6) for _ in range(2))
        ranges.append((t, l, b, r))
    stats = selection_stats(table, ranges)
    assert (stats.count, stats.numerical_count, stats.sum) == brute_force(table, ranges)
    # many separate pieces per column (the gather path), ending on the last row
    pieces = [(r, 0, min(r + rng.randrange(2), rows - 1), 5) for r in range(rows - 1, 0, -3)]
    stats = selection_stats(table, pieces)
    assert (stats.count, stats.numerical_count, stats.sum) == brute_force(table, pieces)
    numbers = [table.value(r, c) for t, _, b, _ in pieces for r in range(t, b + 1) for c in range(1, 5)]
    present = [Decimal(v) for v in numbers if v is not None]  # type: ignore[arg-type]
    assert (stats.min, stats.max) == (min(present), max(present))


def test_merge_intervals() -> None:
    assert merge_intervals([(5, 7), (0, 2), (2, 3), (6, 9)]) == [(0, 3), (5, 9)]


def test_whole_rows_only_when_every_range_spans_all_columns() -> None:
    assert whole_rows([(4, 0, 5, 5), (0, 0, 1, 5), (5, 0, 6, 5)], 6).tolist() == [0, 1, 4, 5, 6]  # type: ignore[union-attr]
    assert whole_rows([(0, 0, 1, 5), (3, 1, 3, 5)], 6) is None
    assert whole_rows([], 6) is None
