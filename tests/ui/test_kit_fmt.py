"""How the desktop shows money: at the currency's minor unit, rounded once half-up, like
the Summary, the exports and the invoices."""
from __future__ import annotations

from decimal import Decimal

import pytest

from cxdesk.ui.kit import fmt


@pytest.mark.parametrize(("value", "currency", "shown"), [
    (Decimal("249245"), "JPY", "249,245 JPY"),
    (Decimal("1249.5"), "JPY", "1,250 JPY"),  # half-up, not to even
    (Decimal("1772.9"), "KWD", "1,772.900 KWD"),
    (Decimal("0.0005"), "KWD", "0.001 KWD"),
    (Decimal("-1425.005"), "EUR", "-1,425.01 EUR"),  # half away from zero
    (Decimal("7191.48"), "GBP", "7,191.48 GBP"),
    (Decimal("12.5"), "", "12.50"),  # no currency: 2 decimals
])
def test_money_is_shown_at_the_currencys_minor_unit(value, currency, shown):
    assert fmt.money(value, currency) == shown


def test_money_with_explicit_places_and_none():
    assert fmt.money(Decimal("0.123456"), "", 4) == "0.1235"
    assert fmt.money(None, "EUR") == ""
