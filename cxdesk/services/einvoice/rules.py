"""Plain words for the EN 16931 rules an invoice from cxdesk can break: what is wrong and
where to fix it.  A rule not listed here is explained by the rule's own text.

``explain(problem)`` -> (sentence, field); ``field`` names the setting to fix, as
"company.<name>" (Settings > Company), "customer.<name>" (the customer's billing data)
or "invoice" (the figures: a program error, the invoice must be regenerated or reported).
"""
from __future__ import annotations

from cxdesk.services.einvoice.validate import Problem

COMPANY = "set it in Settings > Company"
CUSTOMER = "set it in the customer's billing details"
FIGURES = "the invoice's figures do not add up; regenerate the invoice or report this as a program error"

_SELLER_VAT = ("the seller's VAT ID is missing", COMPANY, "company.vat_id")
_BUYER_VAT = ("the seller's and the customer's VAT IDs are both required for this VAT category",
              "set them in Settings > Company and in the customer's billing details", "customer.vat_id")
_REASON = ("the VAT exemption reason is missing for the customer's VAT category", CUSTOMER, "customer.vat_exemption_reason")
_NO_VAT_IDS = ("an invoice 'not subject to VAT' must not carry VAT IDs",
               "remove the customer's VAT ID or choose another VAT category", "customer.vat_category")

#: rule id -> (what is wrong, how to fix it, field)
RULES: dict[str, tuple[str, str, str]] = {
    "BR-6": ("the seller's legal name is missing", COMPANY, "company.name"),
    "BR-8": ("the seller's postal address is missing", COMPANY, "company.address"),
    "BR-9": ("the seller's country is missing", COMPANY, "company.country"),
    "BR-7": ("the customer's name is missing", CUSTOMER, "customer.name"),
    "BR-10": ("the customer's postal address is missing", CUSTOMER, "customer.address"),
    "BR-11": ("the customer's country is missing", CUSTOMER, "customer.country"),
    "BR-CL-14": ("a country is not an ISO 3166 code (such as DE or GB)",
                 "correct it in Settings > Company or in the customer's billing details", "customer.country"),
    "BR-CL-03": ("the currency is not an ISO 4217 code (such as EUR)", "correct the customer's currency", "customer.currency"),
    "BR-CL-04": ("the currency is not an ISO 4217 code (such as EUR)", "correct the customer's currency", "customer.currency"),
    "BR-CO-09": ("a VAT ID does not start with a country code (e.g. DE123456789)",
                 "correct it in Settings > Company or in the customer's billing details", "customer.vat_id"),
    "BR-S-02": _SELLER_VAT,
    "BR-Z-02": _SELLER_VAT,
    "BR-E-02": _SELLER_VAT,
    "BR-G-02": _SELLER_VAT,
    "BR-AE-02": _BUYER_VAT,
    "BR-AE-03": _BUYER_VAT,
    "BR-AE-04": _BUYER_VAT,
    "BR-IC-02": _BUYER_VAT,
    "BR-IC-03": _BUYER_VAT,
    "BR-IC-04": _BUYER_VAT,
    "BR-O-02": _NO_VAT_IDS,
    "BR-O-03": _NO_VAT_IDS,
    "BR-O-04": _NO_VAT_IDS,
    "BR-E-10": _REASON,
    "BR-AE-10": _REASON,
    "BR-IC-10": _REASON,
    "BR-G-10": _REASON,
    "BR-O-10": _REASON,
    "BR-IC-11": ("an intra-community supply needs the invoicing period or the delivery date",
                 "report this as a program error", "invoice"),
    "BR-IC-12": ("an intra-community supply needs the customer's country", CUSTOMER, "customer.country"),
    "BR-50": ("the seller's bank account (IBAN) is missing", COMPANY, "company.iban"),
    "BR-61": ("the seller's bank account (IBAN) is missing", COMPANY, "company.iban"),
    "BR-CO-25": ("the invoice has neither a due date nor payment terms", "set the payment terms in Settings > Company", "invoice"),
    "BR-16": ("the invoice has no lines", "there is nothing to invoice for this period", "invoice"),
    "BR-55": ("the credit note does not name the invoice it corrects", FIGURES, "invoice"),
}
#: rules about the figures (BR-CO-10..17, per-category sums, decimals)
_FIGURE_PREFIXES = ("BR-CO-1", "BR-DEC-", "BR-S-0", "BR-Z-0", "BR-E-0", "BR-AE-0", "BR-IC-0", "BR-G-0", "BR-O-0",
                    "PEPPOL-EN16931-R120")


def explain(problem: Problem) -> tuple[str, str]:
    """(sentence, field) for a failed rule, e.g. ("BR-S-02: the seller's VAT ID is missing:
    set it in Settings > Company", "company.vat_id")."""
    known = RULES.get(problem.rule)
    if known is not None:
        what, fix, field = known
        return f"{problem.rule}: {what}: {fix}", field
    text = problem.message.removeprefix(f"[{problem.rule}]-").rstrip(".")
    if problem.rule.startswith(_FIGURE_PREFIXES):
        return f"{problem.rule}: {text}: {FIGURES}", "invoice"
    return f"{problem.rule}: {text}", "invoice"
