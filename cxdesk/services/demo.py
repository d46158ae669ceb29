"""Realistic, deterministic demo data: customers, contacts and CDRs.

The seller (Settings > Company) is complete, and the customers take turns through
``VAT_PROFILES``: EUR, GBP, JPY, KWD and USD accounts, standard rated, zero rated, exempt
and reverse charge, each with a full address and, where EN 16931 needs one, a VAT ID, so
that their invoices, once issued, are valid e-invoices.

The same seed and end time give the same data. CDRs are written with bulk inserts in
chunks (one audit entry per chunk), so 500 customers and 1,000,000 CDRs take minutes,
not hours.
"""
from __future__ import annotations

import datetime as dt
import math
import random
from collections.abc import Callable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import func, select

from cxdesk.db import Database
from cxdesk.errors import ValidationError
from cxdesk.models import STATUSES, Cdr, Contact, Customer, Option
from cxdesk.services.actor import Actor
from cxdesk.services.uow import unit_of_work

CHUNK = 20_000
MICRO = Decimal("0.000001")

_PREFIX = ["North", "Blue", "Silver", "Atlas", "Nova", "Iron", "Bright", "Delta", "Summit", "Harbor",
           "Orbit", "Pioneer", "Crest", "Meridian", "Falcon", "Granite", "Vertex", "Lumen", "Cobalt", "Zenith"]
_CORE = ["wind", "line", "stream", "link", "wave", "path", "gate", "point", "bridge", "field",
         "voice", "net", "call", "tel", "com", "cast", "port", "way", "core", "spark"]
_SUFFIX = ["Telecom", "Communications", "Networks", "VoIP", "Carrier Services", "Connect", "Telco", "Global"]
_LEGAL = ["Ltd", "GmbH", "LLC", "S.A.", "BV", "Inc.", "AB", "Pty Ltd"]
_FIRST = ["Anna", "Ben", "Chloe", "David", "Elena", "Farid", "Greta", "Hugo", "Ines", "Jonas", "Kira", "Liam",
          "Maya", "Nils", "Olga", "Pavel", "Quinn", "Rosa", "Sami", "Tara", "Umar", "Vera", "Wim", "Yara", "Zoe"]
_LAST = ["Smith", "Müller", "Garcia", "Novak", "Rossi", "Jansen", "Kowalski", "Dubois", "Silva", "Okafor",
         "Larsen", "Tanaka", "Ivanova", "O'Brien", "Haddad", "Costa", "Berg", "Nguyen", "Patel", "Schmidt"]
_TYPES = ["General", "Billing", "Technical", "Sales", "NOC"]
# code, name, customer rate per minute, vendor rate per minute
DESTINATIONS = [
    ("44", "United Kingdom - Fixed", "0.0090", "0.0061"),
    ("447", "United Kingdom - Mobile", "0.0350", "0.0268"),
    ("1", "USA & Canada", "0.0075", "0.0049"),
    ("49", "Germany - Fixed", "0.0110", "0.0079"),
    ("4915", "Germany - Mobile", "0.0420", "0.0331"),
    ("33", "France - Fixed", "0.0100", "0.0072"),
    ("91", "India", "0.0190", "0.0146"),
    ("234", "Nigeria - Mobile", "0.1450", "0.1190"),
    ("61", "Australia - Fixed", "0.0230", "0.0171"),
    ("34", "Spain - Fixed", "0.0095", "0.0070"),
]
_FAIL = [(486, "Busy Here", "callee busy"), (480, "Temporarily Unavailable", "no answer"),
         (404, "Not Found", "number unknown"), (503, "Service Unavailable", "route failed"),
         (487, "Request Terminated", "caller cancelled")]
_CURRENCIES = ["USD", "EUR", "GBP"]
#: the demo's prices and balances are euro-sized; in these currencies they are scaled to a
#: realistic size (a call to the UK costs about 1.35 JPY a minute, not 0.009 JPY)
_PRICE_SCALE = {"JPY": Decimal("150"), "KWD": Decimal("0.3")}


def _in_currency(amount: Decimal, currency: str, exponent: str = "") -> Decimal:
    """A euro-sized demo amount in ``currency``: scaled, then kept to ``exponent`` (default
    the currency's minor unit)."""
    from cxdesk.services.figures import minor_units

    scaled = amount * _PRICE_SCALE.get(currency, Decimal(1))
    return scaled.quantize(Decimal(exponent or Decimal(1).scaleb(-minor_units(currency))), rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class VatProfile:
    currency: str
    vat_category: str
    tax_percent: str
    country: str
    city: str
    post_code: str
    street: str
    vat_prefix: str  #: "" = no VAT ID
    vat_digits: int = 9
    exemption_reason: str = ""


#: the demo customers take these in turn (customer i gets profile i mod 6)
VAT_PROFILES = (
    VatProfile("EUR", "S", "19", "DE", "Berlin", "10115", "Friedrichstrasse {n}", "DE"),
    VatProfile("GBP", "S", "20", "GB", "Manchester", "M1 1AE", "{n} Deansgate", "GB"),
    VatProfile("JPY", "Z", "0", "JP", "Tokyo", "100-0001", "{n}-1 Marunouchi", ""),
    VatProfile("KWD", "E", "0", "KW", "Kuwait City", "13001", "Block {n}, Sharq", "",
               exemption_reason="Exempt: services to an international organisation (Article 151 of Directive "
                                "2006/112/EC)"),
    VatProfile("EUR", "AE", "0", "FR", "Paris", "75002", "{n} rue de la Paix", "FR", 11),
    VatProfile("USD", "AE", "0", "NL", "Amsterdam", "1012 AB", "Damrak {n}", "NL", 12),
)
#: Settings > Company of the demo: a complete seller
DEMO_COMPANY = {
    "company-name": "Example Carrier Ltd", "company-address": "1 Exchange Street", "company-city": "London",
    "company-post-code": "EC1A 1AA", "company-country": "GB", "company-vat-id": "GB123456789",
    "company-registration-id": "01234567", "company-iban": "GB33BUKB20201555555555", "company-bic": "BUKBGB22",
}


def _vat_fields(i: int) -> dict:
    """Customer i's currency, VAT and buyer data (deterministic, no random draws)."""
    p = VAT_PROFILES[i % len(VAT_PROFILES)]
    vat_id = f"{p.vat_prefix}{(i * 7919 + 123456789) % 10**p.vat_digits:0{p.vat_digits}d}" if p.vat_prefix else ""
    if p.vat_prefix == "NL":
        vat_id = f"NL{(i * 7919 + 12345678) % 10**9:09d}B01"
    reasons = {"AE": ("Reverse charge", "VATEX-EU-AE"), "E": (p.exemption_reason, "")}
    reason, code = reasons.get(p.vat_category, ("", ""))
    return {"currency": p.currency, "tax_percent": Decimal(p.tax_percent), "vat_category": p.vat_category,
            "vat_exemption_reason": reason, "vat_exemption_code": code, "country": p.country, "city": p.city,
            "post_code": p.post_code, "address_lines": p.street.format(n=10 + i), "vat_id": vat_id,
            "buyer_reference": f"PO-{2026000 + i}" if i % 2 == 0 else ""}


@dataclass
class DemoResult:
    customers: int
    contacts: int
    cdrs: int


def _company(rng: random.Random, taken: set[str]) -> str:
    while True:
        name = f"{rng.choice(_PREFIX)}{rng.choice(_CORE)} {rng.choice(_SUFFIX)} {rng.choice(_LEGAL)}"
        if name not in taken:
            taken.add(name)
            return name


def _slug(text: str) -> str:
    return "".join(c for c in text.lower() if c.isalnum())


def billed_seconds(duration: int) -> int:
    """60/6 billing: the first minute in full, then 6-second increments."""
    if duration <= 0:
        return 0
    if duration <= 60:
        return 60
    return 60 + math.ceil((duration - 60) / 6) * 6


def charge(rate_per_minute: Decimal, seconds: int) -> Decimal:
    return (rate_per_minute * seconds / 60).quantize(MICRO, rounding=ROUND_HALF_UP)


def load_demo(
    db: Database,
    actor: Actor,
    *,
    customers: int = 20,
    days: int = 14,
    seed: int = 1,
    end: dt.datetime | None = None,
    calls_per_day: int = 70,
    progress: Callable[[str, int, int], None] | None = None,
) -> DemoResult:
    """Add demo customers with contacts and ``days`` days of CDRs ending at ``end`` (UTC)."""
    actor.require("load_demo")
    if not 1 <= customers <= 100_000:
        raise ValidationError("--customers must be between 1 and 100,000.")
    if not 1 <= days <= 3_650:
        raise ValidationError("--days must be between 1 and 3,650.")
    if end is None:
        end = dt.datetime.now(dt.timezone.utc).replace(minute=0, second=0, microsecond=0)
    rng = random.Random(seed)
    with db.read_session() as s:
        taken = set(s.scalars(select(Customer.name)))
        emails = set(s.scalars(select(Contact.email_key)))
        existing_cdrs = s.scalar(select(func.count()).select_from(Cdr)) or 0
    n_contacts = 0
    ids: list[tuple[int, dict]] = []
    with unit_of_work(db, actor, "demo data") as uow:
        _demo_options(uow)
        for i in range(customers):
            status = STATUSES[i] if i < len(STATUSES) else rng.choices(STATUSES, [75, 9, 8, 8])[0]
            name = _company(rng, taken)
            debit = rng.choice(["0", "0", "500", "1000", "2500", "-50"])
            if i >= 3:
                rng.choice(_CURRENCIES)  # keeps the random stream of earlier demos (same calls, same CDRs)
            credit = Decimal(rng.randrange(-20_000, 800_000)) / 100
            channels, flow_speed = rng.choice([10, 30, 50, 100, 250]), rng.choice([5, 10, 20, 50])
            rng.choice(["0", "20", "19", "21", "0"])  # the tax rate comes from the VAT profile now
            vat = _vat_fields(i)
            cust = uow.add(Customer(
                name=name, status=status, credit=_in_currency(credit, vat["currency"]),
                debit_limit=_in_currency(Decimal(debit), vat["currency"]),
                channels=channels, flow_speed=flow_speed,
                invoice_schedule=rng.choice(["Daily", "Weekly", "Monthly", "Monthly"]),
                invoice_due_days=rng.choice([7, 14, 30]), portal_access=rng.random() < 0.85,
                tags=",".join(rng.sample(["wholesale", "retail", "vip", "trial", "eu", "us"], rng.randint(0, 2))),
                **vat,
            ))
            uow.flush()
            domain = _slug(name.split()[0]) + ".example"
            for _ in range(rng.randint(1, 5)):
                first, last = rng.choice(_FIRST), rng.choice(_LAST)
                email = f"{_slug(first)}.{_slug(last)}@{domain}"
                k = 2
                while email in emails:
                    email = f"{_slug(first)}.{_slug(last)}{k}@{domain}"
                    k += 1
                emails.add(email)
                uow.add(Contact(
                    customer_id=cust.id, name=f"{first} {last}", email=email, email_key=email,
                    # stored normalised, as the contact form stores them
                    phone=f"+44207{rng.randrange(100, 999)}{rng.randrange(1000, 9999)}",
                    mobile=f"+447{rng.randrange(100, 999)}{rng.randrange(100000, 999999)}",
                    contact_type=rng.choice(_TYPES), auto_generate_password=True,
                    email_verified=rng.random() < 0.7, mobile_verified=rng.random() < 0.4,
                ))
                n_contacts += 1
            profile = {
                "asr": rng.uniform(0.40, 0.70),
                "volume": max(1, int(calls_per_day * rng.lognormvariate(0, 0.5))),
                "dests": rng.sample(DESTINATIONS, rng.randint(3, 6)),
                "mean": rng.uniform(90, 240),
                "provider": rng.randint(1, 6),
                "currency": cust.currency,
            }
            ids.append((cust.id, profile))
    n_cdrs = _write_cdrs(db, actor, rng, ids, days, end, seed, existing_cdrs, progress)
    from cxdesk.services import rollup

    rollup.run(db)
    return DemoResult(customers, n_contacts, n_cdrs)


def _demo_options(uow) -> None:
    defaults = {
        "number-range-start": "1000", "block-size": "1000", "portal-url": "https://portal.example.com",
        **DEMO_COMPANY,
    }
    for key, value in defaults.items():
        if uow.session.get(Option, key) is None:
            uow.add(Option(key=key, value=value), message=f"Set option {key} to '{value}' (demo)")


def _write_cdrs(db, actor, rng, customers, days, end, seed, offset, progress) -> int:
    start = end - dt.timedelta(days=days)
    total_seconds = int((end - start).total_seconds())
    expected = sum(p["volume"] for _, p in customers) * days
    currencies = {p["currency"] for _, p in customers}
    rates = {(code, cur): (_in_currency(Decimal(cr), cur, "0.0001"), _in_currency(Decimal(vr), cur, "0.0001"))
             for code, _, cr, vr in DESTINATIONS for cur in currencies}
    rows: list[dict] = []
    written = 0
    serial = offset

    def flush() -> None:
        nonlocal rows, written
        if rows:
            from cxdesk.services import rollup

            with unit_of_work(db, actor, "demo data") as uow:
                rollup.hold_off(uow.session)  # a concurrent rollup must not skip these ids
                uow.bulk_insert(Cdr, rows, f"Imported {len(rows)} demo CDRs")
            written += len(rows)
            rows = []
            if progress:
                progress("cdrs", written, expected)

    for cust_id, p in customers:
        for _ in range(p["volume"] * days):
            serial += 1
            # calls cluster in the working day (UTC 07-19), some at night
            day = rng.randrange(days)
            hour = int(rng.triangular(0, 24, 13)) if rng.random() < 0.85 else rng.randrange(24)
            at = start + dt.timedelta(days=day, hours=hour, seconds=rng.randrange(3600))
            if at >= end:
                at = start + dt.timedelta(seconds=rng.randrange(total_seconds))
            code, dname, _, _ = rng.choice(p["dests"])
            rate, vrate = rates[code, p["currency"]]
            connected = rng.random() < p["asr"]
            if connected:
                duration = max(1, min(7200, int(rng.expovariate(1 / p["mean"]))))
                sip = (200, "OK", "normal clearing")
            else:
                duration = 0
                sip = rng.choice(_FAIL)
            billed = billed_seconds(duration)
            rows.append({
                "callid": f"demo-{seed}-{serial}",
                "dt": at,
                "customer_id": cust_id,
                "source_cli": f"+44{rng.randrange(10**9, 10**10)}",
                "dest_number": f"{code}{rng.randrange(10**8, 10**9)}",
                "duration": duration,
                "customer_duration": billed,
                "customer_charge": charge(rate, billed),
                "customer_card_rate": rate,
                "customer_card_dest_code": code,
                "customer_card_dest_name": dname,
                "customer_card_currency": p["currency"],
                "provider_id": p["provider"],
                "provider_charge": charge(vrate, billed),
                "pdd_out": rng.randrange(800, 4500),
                "ring_duration": rng.randrange(0, 25),
                "sip_code": sip[0],
                "sip_reason": sip[1],
                "release_reason": sip[2],
            })
            if len(rows) >= CHUNK:
                flush()
    flush()
    return written
