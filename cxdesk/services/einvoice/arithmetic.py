"""Two sums the official rules check only loosely, checked exactly on a Document.

* BR-CO-17: the official Schematron (1.3.16) accepts a VAT category tax amount within
  1.00 of taxable x rate; EN 16931 states it "rounded to two decimals", so an amount one
  cent off (8.42 at 21 % stated as 1.76 instead of 1.77) passes it.  Here it must be the
  rounded product exactly.
* PEPPOL-EN16931-R120 (Peppol BIS 3.0, whose CustomizationID the UBL carries): a line's
  net amount is quantity x unit price, rounded.

"Rounded" is to the decimals the amount is stated with (at most 2, BR-DEC-*), half up or
half to even: both are accepted, the standard names no tie rule.
"""
from __future__ import annotations

from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal

from cxdesk.services.einvoice.document import MAX_AMOUNT_PLACES, Document
from cxdesk.services.einvoice.validate import Problem


def _places(*amounts: Decimal) -> int:
    return min(MAX_AMOUNT_PLACES, max(max(0, -a.as_tuple().exponent) for a in amounts))  # type: ignore[operator]


def _rounded(exact: Decimal, places: int) -> set[Decimal]:
    quantum = Decimal(1).scaleb(-places)
    return {exact.quantize(quantum, rounding=mode) for mode in (ROUND_HALF_UP, ROUND_HALF_EVEN)}


def arithmetic_problems(doc: Document) -> list[Problem]:
    problems = []
    for vat in doc.breakdown:
        if vat.category == "O":
            continue
        exact = vat.taxable_amount * vat.rate / 100
        if vat.tax_amount not in _rounded(exact, _places(vat.taxable_amount, vat.tax_amount)):
            problems.append(Problem(
                "BR-CO-17",
                f"the VAT of category {vat.category} {vat.rate.normalize():f} % is {vat.tax_amount}, "
                f"but {vat.taxable_amount} x {vat.rate.normalize():f} % rounded is "
                f"{min(_rounded(exact, _places(vat.taxable_amount, vat.tax_amount)))}",
            ))
    for line in doc.lines:
        exact = line.quantity * line.unit_price
        if line.net not in _rounded(exact, _places(line.net)):
            problems.append(Problem(
                "PEPPOL-EN16931-R120",
                f"line {line.id}'s net amount is {line.net}, but {line.quantity.normalize():f} x "
                f"{line.unit_price.normalize():f} rounded is {min(_rounded(exact, _places(line.net)))}",
            ))
    return problems
