"""Call summaries of one customer: 24 hours (hourly rows), daily, weekly, monthly; UTC.

Rows are built from the hourly summary (``cxdesk.services.rollup``) by adding hour rows
up exactly (integers and Decimals), so a period's charge equals the sum of its CDRs'
charges to the last decimal. Ratios follow the platform: ASR = connected / attempts x
100, ACD = duration / connected (minutes), Profit = charge - cost, Profit % = profit /
charge x 100; a ratio whose divisor is 0 is blank (None). Periods are half-open:
``period_start <= t < period_end``.
"""
from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import NamedTuple

from sqlalchemy import select
from sqlalchemy.orm import Session

from cxdesk.errors import ValidationError
from cxdesk.models import HourlySummary
from cxdesk.models.base import MONEY_SCALE, utcnow
from cxdesk.services import export
from cxdesk.services.actor import Actor
from cxdesk.services.table import Column, Table

PERIODS = ("24h", "daily", "weekly", "monthly")
_UTC = dt.timezone.utc
_HOUR = dt.timedelta(hours=1)
_DAY = dt.timedelta(days=1)
_QUANT = Decimal(1).scaleb(-MONEY_SCALE)
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


def parse_day(value: str, field: str = "date") -> dt.date:
    try:
        return dt.date.fromisoformat(value.strip())
    except ValueError:
        raise ValidationError(f"'{value}' is not a date like 2026-01-05.", field=field) from None


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
    if not denominator:
        return None
    return (Decimal(numerator) * factor / Decimal(denominator)).quantize(_QUANT, ROUND_HALF_UP)


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
    def date_cell(self) -> dt.datetime | dt.date | str:
        """The Date column's value: the hour, the day, or the label of a week or month."""
        if self.period == "24h":
            return self.period_start
        if self.period == "daily":
            return self.period_start.date()
        return self.label


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
    """The customer's summary rows, oldest first; periods without calls have no row.

    Only rolled-up CDRs count (``rollup.run`` adds the newer ones).
    """
    start, end = bounds(period, date_from, date_to, now)
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
COLUMNS = (
    Column("date", "Date", "Period", "date"),
    Column("attempts", "Attempts", "Traffic", "int"),
    Column("connected", "Connected", "Traffic", "int"),
    Column("asr", "ASR", "Traffic", "percent"),
    Column("acd", "ACD", "Traffic", "minutes", additive=False),
    Column("duration", "Duration", "Duration", "minutes"),
    Column("billed_duration", "Billed Duration", "Duration", "minutes"),
    Column("customer_charge", "Customer Charge", "Money", "money", decimals=4),
    Column("vendor_cost", "Vendor Cost", "Money", "money", decimals=4),
    Column("profit", "Profit", "Money", "money", decimals=4),
    Column("profit_percent", "Profit %", "Money", "percent"),
)


def summary_table(rows: Sequence[SummaryRow]) -> Table:
    """The Summary grid's table (columns ``COLUMNS``, grouped Period/Traffic/Duration/Money)."""
    return Table.from_rows(
        COLUMNS,
        ((r.date_cell, r.attempts, r.connected, r.asr, r.acd_minutes, r.duration_minutes, r.billed_minutes,
          r.customer_charge, r.vendor_cost, r.profit, r.profit_percent) for r in rows),
        sort_keys={"date": [r.period_start for r in rows]},
    )


def export_summary(
    actor: Actor,
    rows: Sequence[SummaryRow],
    path: str | Path,
    *,
    currency: str | None = None,
    title: str | None = None,
    progress: Callable[[int, int], None] | None = None,
    cancel: Callable[[], bool] | None = None,
) -> None:
    """Write the rows as .xlsx (group headers, number formats, totals) or .csv (one
    header row), by the file's suffix: the Summary tab's Export and ``cxdesk summary``."""
    actor.require("export")
    suffix = Path(path).suffix.lower()
    if suffix not in (".csv", ".xlsx"):
        raise ValidationError(f"Cannot export to '{Path(path).name}': the name must end in .xlsx or .csv.", field="path")
    table = summary_table(rows)
    if suffix == ".csv":
        export.write_csv(table, path, headers="headers", progress=progress, cancel=cancel)
    else:
        export.write_xlsx(table, path, currency=currency, title=title, progress=progress, cancel=cancel)
