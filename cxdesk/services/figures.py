"""The one figures policy of the Summary (and of whatever shows its figures); no Qt.

* Underneath every figure is exact: money as ``Decimal`` or integer micro-units, counts as
  integers.  A quotient (ASR, ACD, minutes of seconds, Profit %) is kept to
  ``QUOTIENT_SCALE`` decimals *rounded to odd* (``quotient``): truncated, and when that
  lost anything the last digit made odd.  Rounding such a value half-up to 4 or fewer
  decimals gives exactly what rounding the true quotient would give (a value rounded to
  odd is never a tie and stays on the true value's side of every tie), so a shown ratio
  is rounded once, never twice.
* Wherever a figure is shown (grid, footer, clipboard, CSV, XLSX display, CLI) it is
  rounded once, half-up (a 5 rounds away from zero), to its column's decimals: money to
  the currency's minor unit (``minor_units``), percentages and minutes to 2, counts to 0.
* Sums and totals add the exact values and are rounded once at the end, never sums of
  rounded cells.
* XLSX cells hold the exact values with the column's number format (``excel_format``), so
  Excel's display and its own sums agree with the grid.
"""
from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, localcontext

#: decimals kept for quotients (rounded to odd, so 2..4 shown decimals round correctly)
QUOTIENT_SCALE = 6
#: Excel format and strftime pattern of each date style of a date column
DATE_STYLES = {
    "hour": ("yyyy-mm-dd hh:mm", "%Y-%m-%d %H:%M"),
    "day": ("yyyy-mm-dd", "%Y-%m-%d"),
    "month": ("yyyy-mm", "%Y-%m"),
}
_PREC = 60


def minor_units(currency: str | None) -> int:
    """Decimals of the currency's minor unit (the maintained ISO 4217 list, as invoices
    use it): 2 for most, 0 for JPY, 3 for KWD..."""
    from cxdesk.services.party_checks import minor_units as iso_minor_units  # pycountry/iso4217: load late

    return iso_minor_units(currency or "")


def round_half_up(value: Decimal | int, decimals: int) -> Decimal:
    """``value`` rounded once, half-up (away from zero at .5), to ``decimals`` places."""
    with localcontext() as ctx:
        ctx.prec = _PREC
        return Decimal(value).quantize(Decimal(1).scaleb(-decimals), ROUND_HALF_UP)


def quotient(numerator: int | Decimal, denominator: int | Decimal, scale: int = QUOTIENT_SCALE) -> int:
    """``numerator / denominator`` as an integer scaled by ``10**scale``, rounded to odd
    (see the module docstring); the denominator must not be 0."""
    n_num, n_den = Decimal(numerator).as_integer_ratio()
    d_num, d_den = Decimal(denominator).as_integer_ratio()
    top, bottom = n_num * d_den * 10**scale, n_den * d_num
    if bottom < 0:
        top, bottom = -top, -bottom
    truncated, remainder = divmod(abs(top), bottom)
    if remainder and truncated % 2 == 0:
        truncated += 1
    return -truncated if top < 0 else truncated


def quotient_decimal(numerator: int | Decimal, denominator: int | Decimal, scale: int = QUOTIENT_SCALE) -> Decimal:
    """``quotient`` as a Decimal with ``scale`` decimals."""
    return Decimal(quotient(numerator, denominator, scale)).scaleb(-scale)


def format_decimal(value: Decimal | int | None, decimals: int, *, grouping: bool = True) -> str:
    """The shown text of a figure: rounded once half-up; '1,234.50' (grouping) or '1234.50'."""
    if value is None:
        return ""
    rounded = round_half_up(value, decimals)
    if not rounded:
        rounded = abs(rounded)  # never '-0.00'
    return f"{rounded:,f}" if grouping else f"{rounded:f}"


def with_unit(text: str, unit: str) -> str:
    """'12.50' and 'EUR' -> '12.50 EUR'; '45.20' and '%' -> '45.20 %'."""
    return f"{text} {unit}" if text and unit else text


def header_text(header: str, unit: str) -> str:
    """'ASR' and '%' -> 'ASR (%)'; a header already ending in its unit keeps it alone
    ('Profit %', not 'Profit % (%)')."""
    if not unit or header.endswith(unit):
        return header
    return f"{header} ({unit})"


def excel_format(kind: str, decimals: int, currency: str | None = None) -> str | None:
    """The Excel number format of a column kind at ``decimals`` (None = General).
    Percent cells hold fractions (0.4523 shows 45.23%)."""
    fraction = "." + "0" * decimals if decimals else ""
    if kind in ("int", "minutes"):
        return "#,##0" + fraction
    if kind == "money":
        return f'#,##0{fraction} "{currency}"' if currency else "#,##0" + fraction
    if kind == "percent":
        return f"0{fraction}%"
    return None
