"""Prepared passwords through the services that store them, on SQLite and PostgreSQL:
portal contacts (create, Change Password) and SIP users (HA1)."""
from __future__ import annotations

import hashlib
import unicodedata

import pytest
from sqlalchemy import func, select

from cxdesk.errors import ValidationError
from cxdesk.models import AuditEntry, Contact, SipUser
from cxdesk.services import contacts, numbers, passwords
from cxdesk.services.contacts import ContactForm

NFC = unicodedata.normalize("NFC", "Grüße-aus-Köln-42")
NFD = unicodedata.normalize("NFD", NFC)


def form(password: str, email: str = "ann.smith@acme.example") -> ContactForm:
    return ContactForm(name="Ann Smith", email=email, auto_generate_password=False, password=password)


def contact_hash(db, contact_id: int) -> str:
    with db.read_session() as s:
        return s.get(Contact, contact_id).password_hash


def state(db):
    with db.read_session() as s:
        return (s.execute(select(Contact.id, Contact.password_hash, Contact.version).order_by(Contact.id)).all(),
                s.execute(select(SipUser.username, SipUser.ha1).order_by(SipUser.username)).all(),
                s.scalar(select(func.count()).select_from(AuditEntry)))


@pytest.mark.parametrize("typed,later", [(NFD, NFC), (NFC, NFD)], ids=["nfd-then-nfc", "nfc-then-nfd"])
def test_portal_password_spellings_verify_alike(db, staff, make_customer, typed, later):
    rec = contacts.create_contact(db, staff, make_customer(db), form(typed))
    stored = contact_hash(db, rec.id)
    assert stored.startswith("$argon2id$")
    assert passwords.verify_password(later, stored) and passwords.verify_password(typed, stored)

    new = unicodedata.normalize("NFC", "Ünïcode-Gravel-903")
    contacts.change_password(db, staff, rec.id, unicodedata.normalize("NFD" if later == NFC else "NFC", new))
    stored = contact_hash(db, rec.id)
    assert passwords.verify_password(unicodedata.normalize("NFD", new), stored)
    assert passwords.verify_password(new, stored)
    assert not passwords.verify_password(typed, stored)


@pytest.mark.parametrize("bad,words", [
    ("tab\there-Gravel-903", "control character"),
    ("un\u0378assigned-Gravel-903", "does not define"),
    ("Summer2024!", "This password is too easy to guess"),
    ("ann.smith2024", "This password is too easy to guess"),  # the address's local part + digits
])
def test_portal_passwords_are_prepared_and_checked(db, staff, make_customer, bad, words):
    acme = make_customer(db)
    rec = contacts.create_contact(db, staff, acme, form("Window-Gravel-903"))
    before = state(db)
    with pytest.raises(ValidationError, match=words) as err:
        contacts.change_password(db, staff, rec.id, bad)
    assert err.value.field == "password"
    with pytest.raises(ValidationError, match=words):
        contacts.create_contact(db, staff, acme, form(bad, email="Ann.Smith@other.example"))
    assert state(db) == before


def test_sip_ha1_of_both_spellings_is_the_nfc_one(db, staff, make_customer):
    acme = make_customer(db)
    numbers.add_sip_user(db, staff, acme, "2100", NFD)
    numbers.add_sip_user(db, staff, acme, "2101", NFC)
    numbers.add_sip_user(db, staff, acme, "2102", "Tr0ub4dor&3x")
    with db.read_session() as s:
        ha1 = dict(s.execute(select(SipUser.username, SipUser.ha1)).all())
    assert ha1["2100"] == hashlib.md5(f"2100:cxdesk:{NFC}".encode()).hexdigest()
    assert ha1["2101"] == hashlib.md5(f"2101:cxdesk:{NFC}".encode()).hexdigest()
    # ASCII: exactly the HA1 written before preparation existed
    assert ha1["2102"] == hashlib.md5(b"2102:cxdesk:Tr0ub4dor&3x").hexdigest()


@pytest.mark.parametrize("bad,words", [("tab\there-Gravel-903", "control character"),
                                       ("2100123456", "This password is too easy to guess")])
def test_sip_passwords_are_prepared_and_checked(db, staff, make_customer, bad, words):
    acme = make_customer(db)
    before = state(db)
    with pytest.raises(ValidationError, match=words):
        numbers.add_sip_user(db, staff, acme, "2100", bad)
    assert state(db) == before
