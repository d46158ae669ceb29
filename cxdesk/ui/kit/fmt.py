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


def counted(n: int, noun: str, plural: str | None = None) -> str:
    """"1 entry", "2 entries", "0 invoices": never "invoice(s)"."""
    if n == 1:
        return f"1 {noun}"
    if plural is None:
        plural = noun[:-1] + "ies" if noun.endswith("y") and noun[-2:-1] not in "aeiou" else noun + "s"
    return f"{n:,} {plural}"
