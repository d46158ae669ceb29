"""Settings > Options: named values shared by every workstation, validated and audited."""
from __future__ import annotations

import importlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlparse

import phonenumbers
from sqlalchemy import select
from sqlalchemy.orm import Session

from cxdesk.db import Database
from cxdesk.errors import ValidationError
from cxdesk.models import Option
from cxdesk.services import party_checks
from cxdesk.services.actor import Actor
from cxdesk.services.uow import unit_of_work


def _positive_int(limit: int = 999_999_999) -> Callable[[str], str]:
    def check(value: str) -> str:
        v = value.strip().replace("_", "")
        if not re.fullmatch(r"\d+", v):
            raise ValidationError(f"'{value}' is not a whole number; type digits only, e.g. 1000.")
        n = int(v)
        if n <= 0:
            raise ValidationError("The value must be greater than zero.")
        if n > limit:
            raise ValidationError(f"The value must be at most {limit:,}.")
        return str(n)
    return check


def _power_of_ten(value: str) -> str:
    v = _positive_int(1_000_000)(value)
    if not re.fullmatch(r"10*", v) or v == "1":
        raise ValidationError(f"A block size must be 10, 100, 1000 or another power of ten, not {v}.")
    return v


def _choice(*choices: str) -> Callable[[str], str]:
    def check(value: str) -> str:
        v = value.strip().lower()
        for c in choices:
            if v == c.lower():
                return c
        raise ValidationError(f"'{value}' is not one of: {', '.join(choices)}.")
    return check


def _url(value: str) -> str:
    v = value.strip()
    if not v:
        return ""
    p = urlparse(v)
    if p.scheme not in ("http", "https") or not p.netloc:
        raise ValidationError(f"'{value}' is not a web address; it must start with https:// or http://.")
    return v


def _text(limit: int) -> Callable[[str], str]:
    def check(value: str) -> str:
        v = value.strip()
        if len(v) > limit:
            raise ValidationError(f"The text is too long ({len(v)} characters; at most {limit}).")
        return v
    return check


def _email(value: str) -> str:
    v = value.strip()
    if v and not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", v):
        raise ValidationError(f"'{value}' is not an email address.")
    return v


def _port(value: str) -> str:
    return _positive_int(65535)(value)


#: the regions phonenumbers has numbering plans for (ISO 3166 alpha-2 codes, plus AC, TA and XK)
PHONE_REGIONS = tuple(sorted(phonenumbers.SUPPORTED_REGIONS))


def _phone_region(value: str) -> str:
    v = value.strip().upper()
    if not v:
        raise ValidationError("Choose the default phone region: a two-letter ISO 3166 code, e.g. GB, US or DE.")
    if v not in PHONE_REGIONS:
        raise ValidationError(f"'{value.strip()}' is not a country with a known numbering plan; type its two-letter "
                              "ISO 3166 code, e.g. GB, US or DE.")
    return v


@dataclass(frozen=True)
class OptionDef:
    key: str
    label: str
    validate: Callable[[str], str]
    default: str = ""
    help: str = ""
    #: "module:function" called as guard(session, old, new) before a change; raises to refuse
    guard: str = ""
    #: the allowed values, for a drop-down (empty: free text)
    choices: tuple[str, ...] = ()


DEFINITIONS: dict[str, OptionDef] = {d.key: d for d in [
    OptionDef("number-range-start", "Internal Number Range Start", _positive_int(),
              help="first number of the first internal number block", guard="cxdesk.services.numbers:guard_option"),
    OptionDef("block-size", "Internal Number Block Size", _power_of_ten,
              help="numbers per block: 10, 100, 1000...", guard="cxdesk.services.numbers:guard_option"),
    OptionDef("audit-comment", "Audit Comment", _choice("on", "off"), "off", "ask for a reason on every save",
              choices=("on", "off")),
    OptionDef("portal-url", "Customer Portal URL", _url, help="e.g. https://portal.example.com"),
    OptionDef("sip-realm", "SIP Realm", _text(120), "cxdesk", "realm of the SIP digest (HA1)",
              guard="cxdesk.services.numbers:guard_realm"),
    OptionDef("invoice-line-grouping", "Invoice Line Grouping", _choice("day", "destination"), "day",
              choices=("day", "destination")),
    OptionDef("company-name", "Company Name", _text(200), help="shown on invoices"),
    OptionDef("company-address", "Company Address", lambda v: party_checks.check_address_lines(v, "company-address"),
              help="street lines of the seller (up to 3), shown on invoices"),
    OptionDef("company-city", "Company City", lambda v: party_checks.check_text(v, "company-city", "The city", 100)),
    OptionDef("company-post-code", "Company Post Code",
              lambda v: party_checks.check_text(v, "company-post-code", "The post code", 20)),
    OptionDef("company-country", "Company Country", lambda v: party_checks.check_country(v, "company-country"),
              help="ISO 3166 two-letter code, such as DE"),
    OptionDef("company-vat-id", "Company VAT ID", lambda v: party_checks.check_vat_id(v, "company-vat-id"),
              help="with the country prefix, such as DE123456789"),
    OptionDef("company-registration-id", "Company Registration ID",
              lambda v: party_checks.check_text(v, "company-registration-id", "The registration id", 100),
              help="legal registration (trade register) number"),
    OptionDef("company-iban", "Company IBAN", lambda v: party_checks.check_iban(v, "company-iban"),
              help="account the customers pay to"),
    OptionDef("company-bic", "Company BIC", lambda v: party_checks.check_bic(v, "company-bic")),
    OptionDef("smtp-host", "SMTP Host", _text(253)),
    OptionDef("smtp-port", "SMTP Port", _port, "587"),
    OptionDef("smtp-security", "SMTP Security", _choice("none", "starttls", "ssl"), "starttls",
              choices=("none", "starttls", "ssl")),
    OptionDef("smtp-user", "SMTP User", _text(200)),
    OptionDef("smtp-sender", "Sender Address", _email),
    OptionDef("smtp-allow-plaintext-passwords", "Email Passwords Unencrypted", _choice("off", "on"), "off",
              "on: generated passwords may be emailed over SMTP security none (turned on in Settings > Email)",
              guard="cxdesk.services.mail:guard_plaintext_option", choices=("off", "on")),
    OptionDef("default-region", "Default phone region", _phone_region, "GB",
              "country whose national numbers (typed without + or 00) contacts' phones are read in",
              choices=PHONE_REGIONS),
]}


def definition(key: str) -> OptionDef:
    try:
        return DEFINITIONS[key]
    except KeyError:
        raise ValidationError(f"There is no option '{key}'; the options are: {', '.join(DEFINITIONS)}.") from None


def get(session: Session, key: str) -> str:
    d = definition(key)
    value = session.execute(select(Option.value).where(Option.key == key)).scalar_one_or_none()
    return d.default if value is None or value == "" else value


def get_int(session: Session, key: str) -> int | None:
    v = get(session, key)
    return int(v) if v else None


def all_values(session: Session) -> dict[str, str]:
    stored = dict(session.execute(select(Option.key, Option.value)).all())
    return {k: (stored.get(k) or d.default) for k, d in DEFINITIONS.items()}


def set_value(db: Database, actor: Actor, key: str, value: str, comment: str = "") -> str:
    """Validate and store one option; returns the stored (normalised) value."""
    actor.require("edit_settings")
    d = definition(key)
    new = d.validate(value)
    with unit_of_work(db, actor, comment) as uow:
        row = uow.session.get(Option, key)
        old = row.value if row else ""
        if d.guard and old != new:
            module, fn = d.guard.split(":")
            getattr(importlib.import_module(module), fn)(uow.session, key, old, new)
        store(uow, key, new, row)
    return new


def store(uow, key: str, value: str, row: Option | None = None) -> None:
    """Write an already validated option in ``uow`` (audited; nothing when unchanged)."""
    row = row if row is not None else uow.session.get(Option, key)
    old = row.value if row else ""
    if row is None:
        uow.add(Option(key=key, value=value), message=f"Set option {key} to '{value}'")
    elif old != value:
        row.value = value
        uow.note(row, message=f"Changed option {key} from '{old}' to '{value}'")
