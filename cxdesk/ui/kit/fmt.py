"""How values are shown: money with its currency, UTC times, counts."""
from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal


def money(value: Decimal | None, currency: str = "", places: int = 2) -> str:
    if value is None:
        return ""
    q = Decimal(1).scaleb(-places)
    text = f"{value.quantize(q, rounding=ROUND_HALF_UP):,.{places}f}"
    return f"{text} {currency}".strip()


def utc(value: dt.datetime | None, seconds: bool = False) -> str:
    if value is None:
        return ""
    v = value.astimezone(dt.timezone.utc)
    return v.strftime("%Y-%m-%d %H:%M:%S UTC" if seconds else "%Y-%m-%d %H:%M UTC")


def yes_no(value: bool) -> str:
    return "Yes" if value else "No"
