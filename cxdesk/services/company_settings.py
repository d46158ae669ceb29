"""Settings > Company: the seller on every invoice (EN 16931 BG-4), kept as options.

``save_company`` validates every field first and stores the changed ones in one audited
transaction: a malformed value (an IBAN that does not check out, a country that is not an
ISO 3166 code...) is refused with one sentence naming its field, and nothing is saved.
"""
from __future__ import annotations

from sqlalchemy.orm import Session

from cxdesk.db import Database
from cxdesk.errors import UserError, ValidationError
from cxdesk.services import options
from cxdesk.services.actor import Actor
from cxdesk.services.invoices import COMPANY_OPTIONS
from cxdesk.services.uow import unit_of_work

#: the option keys of Settings > Company, in the order the page shows them
COMPANY_KEYS = tuple(COMPANY_OPTIONS.values())
LABELS = {
    "company-name": "Legal name", "company-address": "Address lines", "company-city": "City",
    "company-post-code": "Post code", "company-country": "Country", "company-vat-id": "VAT ID",
    "company-registration-id": "Registration ID", "company-iban": "IBAN", "company-bic": "BIC",
}


def company_values(session: Session) -> dict[str, str]:
    values = options.all_values(session)
    return {key: values[key] for key in COMPANY_KEYS}


def clean(values: dict[str, str]) -> dict[str, str]:
    """Every given value normalised, or a ValidationError naming the first wrong field."""
    out = {}
    for key, value in values.items():
        if key not in COMPANY_KEYS:
            raise ValidationError(f"'{key}' is not a company setting.", field=key)
        try:
            out[key] = options.definition(key).validate(value)
        except UserError as exc:
            raise ValidationError(f"{LABELS[key]}: {exc}", field=key) from exc
    return out


def save_company(db: Database, actor: Actor, values: dict[str, str], comment: str = "") -> dict[str, str]:
    """Store the company details (all or nothing); returns the stored values of those given."""
    actor.require("edit_settings")
    new = clean(values)
    with unit_of_work(db, actor, comment) as uow:
        for key, value in new.items():
            options.store(uow, key, value)
    return new
