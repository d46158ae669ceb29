"""How values are shown: money with its currency, UTC times, counts."""
from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal

from cxdesk.services.figures import minor_units


def money(value: Decimal | None, currency: str = "", places: int | None = None) -> str:
    """The amount rounded once, half-up, to ``places`` (default: the currency's minor unit,
    as everywhere else: 1,250 JPY, 12.50 EUR, 3.125 KWD), grouped, with the currency."""
    if value is None:
        return ""
    if places is None:
        places = minor_units(currency) if currency else 2
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
