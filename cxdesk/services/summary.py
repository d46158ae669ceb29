"""Call summaries of one customer: 24 hours (hourly rows), daily, weekly, monthly; UTC.

Rows are built from the hourly summary (``cxdesk.services.rollup``) by adding hour rows
up exactly (integers and Decimals), so a period's charge equals the sum of its CDRs'
charges to the last decimal. Ratios follow the platform: ASR = connected / attempts x
100, ACD = duration / connected (minutes), Profit = charge - cost, Profit % = profit /
charge x 100; a ratio whose divisor is 0 is blank (None). Periods are half-open:
``period_start <= t < period_end``.

Figures follow ``services.figures``: sums are exact, quotients (ratios, minutes) are kept
to 6 decimals rounded to odd, so that rounding them once half-up for display gives the
true quotient's rounding; totals add exact values (``totals``), so the daily, weekly and
monthly totals of the same dates agree to the last digit.

``summary_view`` is what the Summary tab and ``cxdesk summary`` show: the rows of exactly
the chosen dates (the first and last periods cut to them and marked partial, like a
period still running), every hour of the 24 hours view (hours without calls as zero
rows), and each period's invoices (read-only, from the Invoice table).
"""
from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from pathlib import Path
from typing import NamedTuple

from sqlalchemy import select
from sqlalchemy.orm import Session

from cxdesk.errors import ValidationError
from cxdesk.models import HourlySummary, Invoice
from cxdesk.models.base import utcnow
from cxdesk.services import export
from cxdesk.services.actor import Actor
from cxdesk.services.figures import format_decimal, minor_units, quotient_decimal
from cxdesk.services.table import Column, Table

PERIODS = ("24h", "daily", "weekly", "monthly")
_UTC = dt.timezone.utc
_HOUR = dt.timedelta(hours=1)
_DAY = dt.timedelta(days=1)
_HUNDRED = Decimal(100)
_SIXTY = Decimal(60)


# -- periods ---------------------------------------------------------------------------
def check_period(period: str) -> str:
    if period not in PERIODS:
        raise ValidationError(f"'{period}' is not a summary period; use one of {', '.join(PERIODS)}.", field="period")
    return period


def period_start(period: str, moment: dt.datetime) -> dt.datetime:
    """Start (UTC) of the period containing ``moment``; weeks start on Monday (ISO)."""
    moment = moment.astimezone(_UTC)
    if period == "24h":
        return moment.replace(minute=0, second=0, microsecond=0)
    day = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    if period == "daily":
        return day
    if period == "weekly":
        return day - dt.timedelta(days=day.weekday())
    return day.replace(day=1)


def period_end(period: str, start: dt.datetime) -> dt.datetime:
    if period == "24h":
        return start + _HOUR
    if period == "daily":
        return start + _DAY
    if period == "weekly":
        return start + 7 * _DAY
    return (start + 32 * _DAY).replace(day=1)


def period_label(period: str, start: dt.datetime) -> str:
    if period == "24h":
        return start.strftime("%Y-%m-%d %H:00")
    if period == "daily":
        return start.strftime("%Y-%m-%d")
    if period == "weekly":
        iso = start.isocalendar()
        return f"Week {iso.week} {iso.year}"
    return start.strftime("%Y-%m")


def _midnight(day: dt.date) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, tzinfo=_UTC)


#: the days a user may name: a period's end or a time zone would move the calendar's own
#: ends (years 1 and 9999) out of range
FIRST_DAY, LAST_DAY = dt.date(1900, 1, 1), dt.date(8999, 12, 31)


def _check_range(day: dt.date, value: str, field: str) -> None:
    if not FIRST_DAY <= day <= LAST_DAY:
        raise ValidationError(f"'{value}' is not between {FIRST_DAY} and {LAST_DAY}; type a date like 2026-01-05.",
                              field=field)


def parse_day(value: str, field: str = "date") -> dt.date:
    try:
        day = dt.date.fromisoformat(value.strip())
    except ValueError:
        raise ValidationError(f"'{value}' is not a date like 2026-01-05.", field=field) from None
    _check_range(day, value.strip(), field)
    return day


_FORMS = {"24h": "an hour like 2026-01-05 10:00", "daily": "a date like 2026-01-05",
          "weekly": "a week like 2026-W02 or any day in it",
          "monthly": "a month like 2026-01 or any day in it"}


def parse_period(period: str, value: str) -> tuple[dt.datetime, dt.datetime]:
    """[start, end) of the period a user names: an hour (24h), a day, a week ("2026-W02"
    or any day in it), a month ("2026-01" or any day in it)."""
    check_period(period)
    value = value.strip()
    week = re.fullmatch(r"(\d{4})-?W(\d{1,2})", value, re.IGNORECASE)
    month = re.fullmatch(r"(\d{4})-(\d{2})", value)
    try:
        if period == "weekly" and week:
            moment = _midnight(dt.date.fromisocalendar(int(week[1]), int(week[2]), 1))
        elif period == "monthly" and month:
            moment = dt.datetime(int(month[1]), int(month[2]), 1, tzinfo=_UTC)
        elif period == "24h":
            moment = dt.datetime.fromisoformat(value)
            if len(value) <= 10:
                raise ValueError("no hour")
            moment = moment.replace(tzinfo=_UTC) if moment.tzinfo is None else moment
        else:
            moment = _midnight(dt.date.fromisoformat(value))
    except ValueError:
        raise ValidationError(f"'{value}' is not {_FORMS[period]}.", field="date") from None
    _check_range(moment.date(), value, "date")
    start = period_start(period, moment)
    return start, period_end(period, start)


def bounds(period: str, date_from: dt.date | None, date_to: dt.date | None,
           now: dt.datetime | None = None) -> tuple[dt.datetime | None, dt.datetime | None]:
    """The UTC range [start, end) whose hour rows make up the view (None = open).

    24h: the 24 hours up to the current hour, or up to the end of ``date_to``, not
    before ``date_from``. Daily, weekly, monthly: the whole periods that contain
    ``date_from`` and ``date_to`` and those between.
    """
    check_period(period)
    if date_from and date_to and date_from > date_to:
        raise ValidationError("The start date is after the end date; swap them.", field="date_from")
    if period == "24h":
        end = _midnight(date_to) + _DAY if date_to else period_start("24h", now or utcnow()) + _HOUR
        start = end - 24 * _HOUR
        if date_from:
            start = max(start, _midnight(date_from))
        return start, end
    start = period_start(period, _midnight(date_from)) if date_from else None
    end = period_end(period, period_start(period, _midnight(date_to))) if date_to else None
    return start, end


# -- rows ------------------------------------------------------------------------------
def _ratio(numerator: int | Decimal, denominator: int | Decimal, factor: Decimal = Decimal(1)) -> Decimal | None:
    """numerator x factor / denominator to 6 decimals rounded to odd (figures.quotient)."""
    if not denominator:
        return None
    return quotient_decimal(Decimal(numerator) * factor, denominator)


def asr(connected: int, attempts: int) -> Decimal | None:
    """Answer-seizure ratio in percent."""
    return _ratio(connected, attempts, _HUNDRED)


def acd_minutes(duration_seconds: int, connected: int) -> Decimal | None:
    """Average duration of a connected call."""
    return _ratio(duration_seconds, connected * _SIXTY)


def minutes(seconds: int) -> Decimal:
    return _ratio(seconds, _SIXTY)  # type: ignore[return-value]


def profit_percent(charge: Decimal, cost: Decimal) -> Decimal | None:
    return _ratio(charge - cost, charge, _HUNDRED)


@dataclass(frozen=True)
class SummaryRow:
    period: str
    label: str
    period_start: dt.datetime
    period_end: dt.datetime  #: exclusive
    attempts: int
    connected: int
    duration_seconds: int
    billed_seconds: int
    customer_charge: Decimal
    vendor_cost: Decimal
    #: the period is cut by the chosen dates or still running (summary_view only)
    partial: bool = False
    #: numbers of the customer's invoices covering (part of) this period (summary_view only)
    invoices: tuple[int, ...] = ()

    @property
    def asr(self) -> Decimal | None:
        return asr(self.connected, self.attempts)

    @property
    def acd_minutes(self) -> Decimal | None:
        return acd_minutes(self.duration_seconds, self.connected)

    @property
    def duration_minutes(self) -> Decimal:
        return minutes(self.duration_seconds)

    @property
    def billed_minutes(self) -> Decimal:
        return minutes(self.billed_seconds)

    @property
    def profit(self) -> Decimal:
        return self.customer_charge - self.vendor_cost

    @property
    def profit_percent(self) -> Decimal | None:
        return profit_percent(self.customer_charge, self.vendor_cost)

    @property
    def date_cell(self) -> dt.datetime | dt.date:
        """The Date column's value, a real date: the hour (naive UTC), else the first day."""
        if self.period == "24h":
            return self.period_start.replace(tzinfo=None)
        return self.period_start.date()


_SUMS = (HourlySummary.attempts, HourlySummary.connected, HourlySummary.duration,
         HourlySummary.billed_duration, HourlySummary.customer_charge, HourlySummary.vendor_cost)


def _row(period: str, start: dt.datetime, sums: list) -> SummaryRow:
    return SummaryRow(period, period_label(period, start), start, period_end(period, start), *sums)


def summary_rows(
    session: Session,
    customer_id: int,
    period: str,
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
    *,
    now: dt.datetime | None = None,
) -> list[SummaryRow]:
    """The customer's summary rows of whole periods (``bounds``), oldest first; periods
    without calls have no row.  Only rolled-up CDRs count (``rollup.run`` adds the newer ones).
    """
    start, end = bounds(period, date_from, date_to, now)
    return _rows_between(session, customer_id, period, start, end)


def _rows_between(session: Session, customer_id: int, period: str, start: dt.datetime | None,
                  end: dt.datetime | None) -> list[SummaryRow]:
    query = select(HourlySummary.hour, *_SUMS).where(HourlySummary.customer_id == customer_id)
    if start is not None:
        query = query.where(HourlySummary.hour >= start)
    if end is not None:
        query = query.where(HourlySummary.hour < end)
    groups: dict[dt.datetime, list] = {}
    for hour, *sums in session.execute(query.order_by(HourlySummary.hour)):
        key = period_start(period, hour)
        total = groups.get(key)
        if total is None:
            groups[key] = sums
        else:
            for i, value in enumerate(sums):
                total[i] += value
    return [_row(period, key, sums) for key, sums in groups.items()]


def view_bounds(period: str, date_from: dt.date | None, date_to: dt.date | None,
                now: dt.datetime | None = None) -> tuple[dt.datetime | None, dt.datetime | None]:
    """The hours a view covers: exactly the chosen dates (``date_from`` 00:00 to the end
    of ``date_to``), whatever the period; the 24 hours view as ``bounds``."""
    if period == "24h":
        return bounds(period, date_from, date_to, now)
    check_period(period)
    if date_from and date_to and date_from > date_to:
        raise ValidationError("The start date is after the end date; swap them.", field="date_from")
    return (_midnight(date_from) if date_from else None), (_midnight(date_to) + _DAY if date_to else None)


def invoiced_periods(session: Session, customer_id: int, start: dt.datetime | None,
                     end: dt.datetime | None) -> list[tuple[dt.datetime, dt.datetime, int]]:
    """(period start, period end, number) of the customer's invoices overlapping
    [start, end) (None = open), oldest first.  Read-only."""
    query = select(Invoice.period_start, Invoice.period_end, Invoice.number).where(Invoice.customer_id == customer_id)
    if start is not None:
        query = query.where(Invoice.period_end > start)
    if end is not None:
        query = query.where(Invoice.period_start < end)
    return [(a, b, n) for a, b, n in session.execute(query.order_by(Invoice.period_start, Invoice.number))]


def _hours(start: dt.datetime, end: dt.datetime) -> list[dt.datetime]:
    return [start + i * _HOUR for i in range(int((end - start) / _HOUR))]


def summary_view(
    session: Session,
    customer_id: int,
    period: str,
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
    *,
    now: dt.datetime | None = None,
) -> list[SummaryRow]:
    """The rows the Summary shows (see the module docstring): cut to the chosen dates,
    partial periods marked, every hour of the 24 hours view, invoices attached."""
    now = now or utcnow()
    start, end = view_bounds(period, date_from, date_to, now)
    rows = _rows_between(session, customer_id, period, start, end)
    if period == "24h" and start is not None and end is not None:
        have = {r.period_start: r for r in rows}
        rows = [have.get(h) or _row(period, h, [0, 0, 0, 0, Decimal(0), Decimal(0)]) for h in _hours(start, end)]
    covered_to = min(end, now) if end is not None else now
    invoiced = invoiced_periods(session, customer_id, start, end)
    out = []
    for r in rows:
        partial = (start is not None and r.period_start < start) or r.period_end > covered_to
        numbers = tuple(n for a, b, n in invoiced if a < r.period_end and b > r.period_start)
        out.append(replace(r, partial=partial, invoices=numbers))
    return out


@dataclass(frozen=True)
class Totals:
    """Exact totals of a set of rows (money exact, minutes from the summed seconds)."""

    attempts: int
    connected: int
    duration_seconds: int
    billed_seconds: int
    customer_charge: Decimal
    vendor_cost: Decimal

    @property
    def profit(self) -> Decimal:
        return self.customer_charge - self.vendor_cost


def totals(rows: Sequence[SummaryRow]) -> Totals:
    """The exact totals of ``rows`` (never a sum of rounded cells)."""
    return Totals(sum(r.attempts for r in rows), sum(r.connected for r in rows),
                  sum(r.duration_seconds for r in rows), sum(r.billed_seconds for r in rows),
                  sum((r.customer_charge for r in rows), Decimal(0)),
                  sum((r.vendor_cost for r in rows), Decimal(0)))


class Ratios(NamedTuple):
    asr: Decimal | None
    acd_minutes: Decimal | None
    profit_percent: Decimal | None


def true_ratios(rows: Sequence[SummaryRow]) -> Ratios:
    """Weighted ASR, ACD and Profit % of a set of rows (not the mean of their ratios)."""
    charge = sum((r.customer_charge for r in rows), Decimal(0))
    cost = sum((r.vendor_cost for r in rows), Decimal(0))
    connected = sum(r.connected for r in rows)
    return Ratios(asr(connected, sum(r.attempts for r in rows)),
                  acd_minutes(sum(r.duration_seconds for r in rows), connected),
                  profit_percent(charge, cost))


# -- the grid's table and its export ---------------------------------------------------
_DATE_STYLE = {"24h": "hour", "daily": "day", "weekly": "day", "monthly": "month"}


def summary_columns(period: str = "daily", currency: str | None = None) -> tuple[Column, ...]:
    """The Summary's columns for a period and currency: money at the currency's minor
    unit with the currency in its header, units in the headers, a Week label column
    beside the (Monday) date of the weekly view."""
    money = {"kind": "money", "decimals": minor_units(currency), "unit": currency or ""}
    date = Column("date", "Date", "Period", "date", date_style=_DATE_STYLE[check_period(period)])
    week = (Column("week", "Week", "Period", "text"),) if period == "weekly" else ()
    return (
        date, *week,
        Column("attempts", "Attempts", "Traffic", "int"),
        Column("connected", "Connected", "Traffic", "int"),
        Column("asr", "ASR", "Traffic", "percent", unit="%"),
        Column("acd", "ACD", "Traffic", "minutes", additive=False, unit="min"),
        Column("duration", "Duration", "Duration", "minutes", unit="min"),
        Column("billed_duration", "Billed Duration", "Duration", "minutes", unit="min"),
        Column("customer_charge", "Customer Charge", "Money", **money),  # type: ignore[arg-type]
        Column("vendor_cost", "Vendor Cost", "Money", **money),  # type: ignore[arg-type]
        Column("profit", "Profit", "Money", **money),  # type: ignore[arg-type]
        Column("profit_percent", "Profit %", "Money", "percent", unit="%"),
    )


#: the daily columns without a currency (benchmarks, generic uses)
COLUMNS = summary_columns()


def _cells(r: SummaryRow, weekly: bool) -> tuple:
    week = (r.label,) if weekly else ()
    return (r.date_cell, *week, r.attempts, r.connected, r.asr, r.acd_minutes, r.duration_minutes,
            r.billed_minutes, r.customer_charge, r.vendor_cost, r.profit, r.profit_percent)


def summary_table(rows: Sequence[SummaryRow], currency: str | None = None, period: str | None = None) -> Table:
    """The Summary grid's table (``summary_columns``, grouped Period/Traffic/Duration/Money)."""
    period = period or (rows[0].period if rows else "daily")
    weekly = period == "weekly"
    return Table.from_rows(summary_columns(period, currency), (_cells(r, weekly) for r in rows),
                           sort_keys={"date": [r.period_start for r in rows]})


def total_cells(rows: Sequence[SummaryRow], table: Table) -> list[object]:
    """The totals row of ``table`` (made from ``rows``): exact totals of the additive
    columns, "Total" in the first column, None elsewhere."""
    t = totals(rows)
    values = {"attempts": t.attempts, "connected": t.connected,
              "duration": quotient_decimal(t.duration_seconds, 60),
              "billed_duration": quotient_decimal(t.billed_seconds, 60),
              "customer_charge": t.customer_charge, "vendor_cost": t.vendor_cost, "profit": t.profit}
    return ["Total" if i == 0 else values.get(c.key) for i, c in enumerate(table.columns)]


def total_texts(rows: Sequence[SummaryRow], table: Table, grouping: bool = True) -> list[str]:
    """``total_cells`` as text, each rounded once in its column's format (the CLI's and
    the grid's totals line)."""
    return [c if isinstance(c, str) else format_decimal(c, col.decimals or 0, grouping=grouping)  # type: ignore[arg-type]
            for c, col in zip(total_cells(rows, table), table.columns)]


def export_summary(
    actor: Actor,
    rows: Sequence[SummaryRow],
    path: str | Path,
    *,
    currency: str | None = None,
    title: str | None = None,
    period: str | None = None,
    progress: Callable[[int, int], None] | None = None,
    cancel: Callable[[], bool] | None = None,
) -> None:
    """Write the rows as .xlsx (group headers, number formats, exact totals, print
    setup) or .csv (one header row with units), by the file's suffix: the Summary tab's
    Export and ``cxdesk summary``."""
    actor.require("export")
    suffix = Path(path).suffix.lower()
    if suffix not in (".csv", ".xlsx"):
        raise ValidationError(f"Cannot export to '{Path(path).name}': the name must end in .xlsx or .csv.", field="path")
    table = summary_table(rows, currency, period)
    if suffix == ".csv":
        export.write_csv(table, path, headers="headers", progress=progress, cancel=cancel)
    else:
        export.write_xlsx(table, path, title=title, totals=total_cells(rows, table), progress=progress,
                          cancel=cancel)
