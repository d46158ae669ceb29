"""Checks of the party and tax data an EN 16931 invoice carries: currency (ISO 4217),
country (ISO 3166-1 alpha-2), VAT identifier, IBAN and BIC, VAT category with its rate and
exemption reason. Each returns the normalised value or raises a one-sentence
ValidationError naming the field. The code lists come from maintained packages:
``iso4217`` (ISO's published currency table, with minor units) and ``pycountry``;
IBAN and BIC are checked by ``schwifty``.
"""
from __future__ import annotations

import re
from decimal import Decimal
from functools import cache

import iso4217
import pycountry

from cxdesk.errors import ValidationError

#: UNTDID 5305 codes EN 16931 uses, as the customer form offers them
VAT_CATEGORY_NAMES = {
    "S": "Standard rate",
    "Z": "Zero rated",
    "E": "Exempt from VAT",
    "AE": "Reverse charge",
    "K": "Intra-community supply",
    "O": "Not subject to VAT",
}
#: categories whose invoices must say why no VAT is charged (BR-E-10, BR-AE-10, BR-IC-10, BR-O-10)
NEEDS_REASON = ("E", "AE", "K", "O")
#: the reason and VATEX code used when none is typed (E has none: the law differs per case)
DEFAULT_REASONS = {
    "AE": ("Reverse charge", "VATEX-EU-AE"),
    "K": ("Intra-Community supply", "VATEX-EU-IC"),
    "O": ("Not subject to VAT", "VATEX-EU-O"),
}


@cache
def _currencies() -> dict[str, int]:
    """ISO 4217 code -> minor unit, for the currencies that have one (not XAU, XDR, XXX...)."""
    return {c.code: c.exponent for c in iso4217.Currency if c.exponent is not None}


def currency_codes() -> tuple[str, ...]:
    return tuple(sorted(_currencies()))


def minor_units(currency: str) -> int:
    """Decimals of the currency's minor unit (ISO 4217): 2 for EUR, 0 for JPY, 3 for KWD."""
    return _currencies().get((currency or "").strip().upper(), 2)


def check_currency(value: str, field: str = "currency") -> str:
    raw = str(value or "").strip()
    code = raw.upper()
    if code not in _currencies():
        shown = f"'{raw}'" if raw else "An empty value"
        raise ValidationError(f"{shown} is not an ISO 4217 currency code; use one such as EUR, USD, GBP or JPY.",
                              field=field)
    return code


def check_country(value: str, field: str = "country", label: str = "The country", required: bool = False) -> str:
    raw = str(value or "").strip()
    if not raw:
        if required:
            raise ValidationError(f"{label} is missing; type its two-letter ISO 3166 code, such as DE, FR or GB.",
                                  field=field)
        return ""
    code = raw.upper()
    if len(code) != 2 or pycountry.countries.get(alpha_2=code) is None:
        raise ValidationError(f"'{raw}' is not a country code; type the two-letter ISO 3166 code, such as DE, FR or GB.",
                              field=field)
    return code


def check_vat_id(value: str, field: str = "vat_id") -> str:
    """A VAT identifier: a country prefix (ISO 3166 alpha-2, or EL for Greece; BR-CO-09) and
    2 to 13 letters or digits; spaces, dots and dashes are dropped."""
    raw = str(value or "").strip()
    compact = re.sub(r"[\s.\-]", "", raw).upper()
    if not compact:
        return ""
    prefix = compact[:2]
    if not re.fullmatch(r"[A-Z]{2}[A-Z0-9+*]{2,13}", compact) or (
            prefix != "EL" and pycountry.countries.get(alpha_2=prefix) is None):
        raise ValidationError(f"'{raw}' is not a VAT identifier; it starts with the country code, such as DE123456789.",
                              field=field)
    return compact


def check_iban(value: str, field: str = "iban") -> str:
    from schwifty import IBAN
    from schwifty.exceptions import SchwiftyException

    raw = str(value or "").strip()
    if not raw:
        return ""
    try:
        return IBAN(raw).compact
    except SchwiftyException as exc:
        text = str(exc).lower()
        reason = ("its check digits do not match" if "checksum" in text
                  else "wrong length or characters for its country")
        raise ValidationError(f"'{raw}' is not a valid IBAN ({reason}); copy it again from the bank statement.",
                              field=field) from None


def check_bic(value: str, field: str = "bic") -> str:
    from schwifty import BIC
    from schwifty.exceptions import SchwiftyException

    raw = str(value or "").strip()
    if not raw:
        return ""
    try:
        return BIC(raw, allow_invalid=False).compact
    except SchwiftyException:
        raise ValidationError(f"'{raw}' is not a BIC; it has 8 or 11 letters and digits, such as COBADEFFXXX.",
                              field=field) from None


def check_vat(category: str, rate: Decimal, reason: str, code: str) -> tuple[str, str, str]:
    """(category, exemption reason, exemption code) for a VAT category and rate (percent).

    S needs a rate above 0; the others a rate of 0 (BR-Z-05, BR-E-05, BR-AE-05, BR-IC-05;
    O carries no rate). E needs a reason typed; AE, K and O get a default when none is.
    S and Z carry no reason (BR-S-10, BR-Z-10).
    """
    cat = str(category or "").strip().upper()
    if cat not in VAT_CATEGORY_NAMES:
        raise ValidationError(f"'{category}' is not a VAT category; choose one of: "
                              f"{', '.join(VAT_CATEGORY_NAMES)}.", field="vat_category")
    reason = " ".join(str(reason or "").split())
    code = str(code or "").strip().upper()
    if len(reason) > 300:
        raise ValidationError(f"The exemption reason is too long ({len(reason)} characters; at most 300).",
                              field="vat_exemption_reason")
    if code and not re.fullmatch(r"VATEX-[A-Z0-9-]{1,24}", code):
        raise ValidationError(f"'{code}' is not a VATEX code; use one such as VATEX-EU-132 or leave it empty.",
                              field="vat_exemption_code")
    if cat == "S" and rate <= 0:
        raise ValidationError("A standard-rated customer needs a tax rate above 0 %; type the rate, or choose "
                              "Zero rated.", field="tax_percent")
    if cat != "S" and rate != 0:
        raise ValidationError(f"Customers with VAT category {cat} ({VAT_CATEGORY_NAMES[cat]}) are charged no VAT; "
                              "set the tax rate to 0 or choose Standard rate.", field="tax_percent")
    if cat not in NEEDS_REASON:
        if reason or code:
            raise ValidationError(f"Invoices of VAT category {cat} carry no exemption reason; leave it empty.",
                                  field="vat_exemption_reason")
        return cat, "", ""
    if not reason and not code:
        if cat not in DEFAULT_REASONS:
            raise ValidationError("Exempt invoices must say why (EN 16931 BR-E-10); type the exemption reason, "
                                  "such as the article of the VAT law.", field="vat_exemption_reason")
        reason, code = DEFAULT_REASONS[cat]
    return cat, reason, code


def check_address_lines(value: str, field: str = "address_lines") -> str:
    """Up to three address lines (BT-35, BT-36, BT-162), each at most 100 characters."""
    lines = [" ".join(line.split()) for line in str(value or "").splitlines()]
    lines = [line for line in lines if line]
    if len(lines) > 3:
        raise ValidationError(f"The address has {len(lines)} lines; an invoice holds at most 3 (street, building, "
                              "floor), with the post code and city in their own fields.", field=field)
    for line in lines:
        if len(line) > 100:
            raise ValidationError(f"An address line is too long ({len(line)} characters; at most 100).", field=field)
    return "\n".join(lines)


def check_text(value: str, field: str, label: str, limit: int) -> str:
    text = " ".join(str(value or "").split())
    if len(text) > limit:
        raise ValidationError(f"{label} is too long ({len(text)} characters; at most {limit}).", field=field)
    return text
