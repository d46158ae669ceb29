"""Contacts: field checks, saves (audited, optimistic locking), notes that hold credentials,
passwords (generated and emailed through a real SMTP server, or typed), Portal Login,
and the paged Global Contacts query."""
from __future__ import annotations

import dataclasses
import json
import re

import pytest
from sqlalchemy import func, select

from cxdesk.errors import ConflictError, NotFound, PermissionDenied, ValidationError
from cxdesk.models import AuditEntry, Contact, Customer, utcnow
from cxdesk.models.customer import contact_search_text
from cxdesk.services import contacts, mail, options, passwords
from cxdesk.services.actor import Actor
from cxdesk.services.contacts import ContactForm, NeedsConfirmation
from cxdesk.services.mail import MailError
from cxdesk.services.uow import unit_of_work

PASSWORD = "Tangerine-Kettle-42"


def form(**kw) -> ContactForm:
    base = dict(name="Ann Smith", email="ann.smith@acme.example", phone="+44 20 7123 4567",
                auto_generate_password=False, password=PASSWORD)
    base.update(kw)
    return ContactForm(**base)


def snapshot(db):
    with db.read_session() as s:
        cols = [getattr(Contact, c.key) for c in Contact.__table__.columns]
        return (s.execute(select(*cols).order_by(Contact.id)).all(),
                s.scalar(select(func.count()).select_from(AuditEntry)))


def audit(db, table="contacts"):
    with db.read_session() as s:
        return s.scalars(select(AuditEntry).where(AuditEntry.table_name == table).order_by(AuditEntry.id)).all()


def stored_hash(db, contact_id):
    with db.read_session() as s:
        return s.get(Contact, contact_id).password_hash


def configure_mail(db, admin, server, portal="https://portal.carrier.example"):
    """The test server speaks plain SMTP: an administrator allows passwords over it."""
    for key, value in (("smtp-host", server.host), ("smtp-port", str(server.port)), ("smtp-security", "none"),
                       ("smtp-sender", "noc@carrier.example"), ("portal-url", portal)):
        options.set_value(db, admin, key, value)
    mail.set_plaintext_passwords(db, admin, True)


def mailed_password(message) -> str:
    return re.search(r"^Password: +(\S+)", message.get_content(), re.M).group(1)


# ---------------------------------------------------------------------------
# field checks
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("typed,stored", [
    ("+44 (0)20 7123-4567", "+442071234567"),
    ("0044 20 7123 4567", "+442071234567"),
    ("+1 (415) 555.0100", "+14155550100"),
    ("  ", ""),
])
def test_phone_numbers_are_stored_in_international_form(typed, stored):
    assert contacts.normalise_phone(typed) == stored


def test_emails_keep_their_local_part_and_get_a_lower_case_key():
    assert contacts.normalise_email(" Ann.Smith+noc@Example.COM ") == \
        ("Ann.Smith+noc@example.com", "ann.smith+noc@example.com")
    # the key holds the domain in ASCII (punycode): one login however the domain is written
    assert contacts.normalise_email("ann@Bücher.example") == ("ann@bücher.example", "ann@xn--bcher-kva.example")


def test_ip_whitelist_is_normalised_one_per_line():
    typed = "10.0.0.1, 10.0.0.0/8;\n2001:DB8::1/128  10.0.0.1 2001:db8:0:0::/32 192.0.2.7/32"
    assert contacts.normalise_ip_whitelist(typed) == "10.0.0.1\n10.0.0.0/8\n2001:db8::1\n2001:db8::/32\n192.0.2.7"
    assert contacts.normalise_ip_whitelist(" \n ") == ""


def test_other_fields_are_normalised():
    assert contacts.normalise_contact_type("noc") == "NOC"
    assert contacts.normalise_contact_type("") == "General"
    assert contacts.normalise_name("  Ann \t Smith ") == "Ann Smith"
    assert contacts.normalise_notes("line 1\r\nline 2  \r\n\n", "public_notes") == "line 1\nline 2"


@pytest.mark.parametrize("text", [
    "Call after 5pm, ask for the NOC (ticket INC0012345).",
    "Trunk trunk-london-01 and Acme-Telecom2024 account; see https://portal.example/a8Fk2LmQ9xZ3x",
    "Passed the audit. Spoke to ann.smith99@acme.example on 2024-05-01.",
    "PIN code sent by post",
])
def test_ordinary_notes_raise_no_warning(text):
    assert contacts.check_notes({"public_notes": text, "private_notes": text}) == []


@pytest.mark.parametrize("text,shown", [
    ("Portal password: Hunter-22b", "'password:'"),
    ("pwd=letmein", "'pwd='"),
    ("API key = 77ab", "'API key ='"),
    ("login with xK9mQ2vL7pR4tZ8w please", "'xK9m...8w', a long random-looking token"),
    ("9f86d081884c7d659a2feaa0c55ad015", "a long random-looking token"),
])
def test_notes_that_look_like_credentials_are_warned_about(text, shown):
    [w] = contacts.check_notes({"public_notes": "", "private_notes": text})
    assert w.field == "private_notes" and shown in w.reason


# ---------------------------------------------------------------------------
# create, update, delete
# ---------------------------------------------------------------------------


def test_create_with_a_typed_password(db, staff, make_customer):
    acme = make_customer(db, "Acme")
    rec = contacts.create_contact(db, staff, acme, form(
        email="Ann.Smith@ACME.example", mobile="+44 7400 123456", contact_type="billing",
        public_notes="Prefers email", private_notes="VIP", email_verified=True, ip_whitelist="203.0.113.0/24"))
    assert (rec.company, rec.name, rec.email, rec.phone, rec.mobile, rec.contact_type) == \
        ("Acme", "Ann Smith", "Ann.Smith@acme.example", "+44 20 7123 4567", "+44 7400 123456", "Billing")
    with db.read_session() as s:  # stored in E.164, shown formatted
        assert (s.get(Contact, rec.id).phone, s.get(Contact, rec.id).mobile) == ("+442071234567", "+447400123456")
    assert (rec.email_verified, rec.mobile_verified, rec.ip_whitelist, rec.has_password) == \
        (True, False, "203.0.113.0/24", True)
    assert passwords.verify_password(PASSWORD, stored_hash(db, rec.id))
    [entry] = audit(db)
    after = json.loads(entry.after)
    assert (entry.actor, entry.action, entry.customer_id) == ("sam", "CREATE", acme)
    assert after["password_hash"] == "********" and "search_text" not in after
    assert PASSWORD not in entry.after


def test_create_without_a_password_leaves_the_contact_without_one(db, staff, make_customer):
    rec = contacts.create_contact(db, staff, make_customer(db), form(password=""))
    assert rec.has_password is False and stored_hash(db, rec.id) is None


def test_emails_are_unique_across_all_customers_regardless_of_case(db, staff, make_customer):
    acme, beta = make_customer(db, "Acme"), make_customer(db, "Beta")
    first = contacts.create_contact(db, staff, acme, form())
    before = snapshot(db)
    with pytest.raises(ConflictError) as e:
        contacts.create_contact(db, staff, beta, form(email="ANN.SMITH@acme.example", name="Other Ann"))
    assert e.value.field == "email"
    assert str(e.value) == (f"ANN.SMITH@acme.example is already the login of contact {first.id} "
                            "(Ann Smith <ann.smith@acme.example>) of Acme; "
                            "every contact needs an email address of their own.")
    assert snapshot(db) == before
    other = contacts.create_contact(db, staff, beta, form(email="bob@beta.example", name="Bob"))
    before = snapshot(db)
    with pytest.raises(ConflictError, match="already the login of contact"):
        contacts.update_contact(db, staff, other.id, other.version,
                                dataclasses.replace(other.form(), email="Ann.Smith@Acme.Example"))
    assert snapshot(db) == before


MALFORMED = [
    (dict(name=""), "name", "Type the contact's name"),
    (dict(name="x" * 201), "name", "too long"),
    (dict(name="Ann\x00Smith"), "name", "control character"),
    (dict(email=""), "email", "it is also their portal login"),
    (dict(email="ann.example.com"), "email", "is not an email address"),
    (dict(email="ann@example"), "email", "is not an email address"),
    (dict(email="ann@@example.com"), "email", "is not an email address"),
    (dict(email="ann smith@example.com"), "email", "is not an email address"),
    (dict(email="a..b@example.com"), "email", "is not an email address"),
    (dict(email="ann@-example.com"), "email", "is not an email address"),
    (dict(email="a" * 250 + "@x.example"), "email", "too long"),
    (dict(phone="+999 123 4567"), "phone", "does not start with a known country code"),
    (dict(phone="+44 20 CALL ME"), "phone", "may hold only digits"),
    (dict(phone="+12"), "phone", "is not a phone number"),
    (dict(phone="+0 20 7123 4567"), "phone", "does not start with a known country code"),
    (dict(phone="+44+20 7123 4567"), "phone", "has a + in the middle"),
    (dict(mobile="+44 7700 900 123 456 789"), "mobile", "The mobile number"),
    (dict(contact_type="Boss"), "contact_type", "is not one of: General, Billing, Technical, Sales, NOC"),
    (dict(ip_whitelist="10.0.0.300"), "ip_whitelist", "is not an IP address or range"),
    (dict(ip_whitelist="10.0.0.5/24"), "ip_whitelist", "did you mean 10.0.0.0/24?"),
    (dict(ip_whitelist="10.0.0.0/33"), "ip_whitelist", "is not an IP address or range"),
    (dict(ip_whitelist="fe80::1%eth0"), "ip_whitelist", "names a network interface"),
    (dict(ip_whitelist="\n".join(f"10.0.{i // 250}.{i % 250}" for i in range(101))), "ip_whitelist", "at most 100"),
    (dict(public_notes="a\x00b"), "public_notes", "control character"),
    (dict(private_notes="x" * 10_001), "private_notes", "too long"),
    (dict(auto_generate_password=True), "password", "Untick Auto Generate Password"),
    (dict(password="short"), "password", "too short"),
    (dict(password="ann.smith@acme.example"), "password", "must not be the email address"),
    (dict(password="qwertyuiop"), "password", "This password is too easy to guess"),
    (dict(email_verified="yes"), "email_verified", "must be ticked or not"),
    (dict(public_notes=f"Temporary: {PASSWORD}"), "public_notes", "contain the contact's password"),
]


@pytest.mark.parametrize("change,field,words", MALFORMED, ids=[f"{m[1]}-{i}" for i, m in enumerate(MALFORMED)])
def test_malformed_input_is_refused_and_changes_nothing(db, staff, make_customer, change, field, words):
    acme = make_customer(db, "Acme")
    existing = contacts.create_contact(db, staff, acme, form())  # the field checks come before "email taken"
    before = snapshot(db)
    with pytest.raises(ValidationError) as e:
        contacts.create_contact(db, staff, acme, form(**change), confirm_warnings=True)
    assert e.value.field == field and words in str(e.value)
    edit = dataclasses.replace(existing.form(), **{"password": PASSWORD, **change})
    with pytest.raises(ValidationError):
        contacts.update_contact(db, staff, existing.id, existing.version, edit, confirm_warnings=True)
    assert snapshot(db) == before


def test_update_saves_only_what_changed(db, staff, make_customer):
    rec = contacts.create_contact(db, staff, make_customer(db), form())
    same = contacts.update_contact(db, staff, rec.id, rec.version, rec.form())
    assert same.version == rec.version and len(audit(db)) == 1
    new = contacts.update_contact(db, staff, rec.id, rec.version,
                                  dataclasses.replace(rec.form(), phone="+1 415 555 0100", contact_type="NOC"))
    assert (new.phone, new.contact_type, new.version) == ("+1 415-555-0100", "NOC", rec.version + 1)
    assert audit(db)[-1].message == f"Updated contact {rec.id} (ann.smith@acme.example): contact_type, phone"
    assert passwords.verify_password(PASSWORD, stored_hash(db, rec.id))  # untouched without a typed one
    again = contacts.update_contact(db, staff, rec.id, new.version,
                                    dataclasses.replace(new.form(), auto_generate_password=False,
                                                        password="Another-Secret-77"))
    assert passwords.verify_password("Another-Secret-77", stored_hash(db, rec.id))
    assert json.loads(audit(db)[-1].after)["password_hash"] == "******** (changed)"
    assert again.version == new.version + 1


def test_second_workstation_is_told_who_changed_the_contact_and_when(db, staff, admin, make_customer):
    rec = contacts.create_contact(db, admin, make_customer(db), form())
    saved = contacts.update_contact(db, staff, rec.id, rec.version, dataclasses.replace(rec.form(), name="Ann Jones"))
    before = snapshot(db)
    with pytest.raises(ConflictError) as e:
        contacts.update_contact(db, admin, rec.id, rec.version, dataclasses.replace(rec.form(), phone=""))
    assert str(e.value) == ("Contact ann.smith@acme.example was changed by sam at "
                            f"{saved.updated_at:%Y-%m-%d %H:%M} UTC after you opened it; "
                            "reload it and apply your change again.")
    with pytest.raises(ConflictError, match="was changed by sam"):
        contacts.delete_contact(db, admin, rec.id, rec.version)
    assert snapshot(db) == before


def test_delete(db, staff, make_customer):
    rec = contacts.create_contact(db, staff, make_customer(db), form())
    contacts.delete_contact(db, staff, rec.id, rec.version)
    assert snapshot(db)[0] == []
    entry = audit(db)[-1]
    assert (entry.action, entry.primary_key, entry.after) == ("DELETE", str(rec.id), None)
    with pytest.raises(NotFound, match="deleted meanwhile"):
        contacts.delete_contact(db, staff, rec.id)
    with pytest.raises(NotFound):
        contacts.update_contact(db, staff, rec.id, rec.version, rec.form())


def test_creating_for_a_missing_customer(db, staff):
    with pytest.raises(NotFound, match="choose another company"):
        contacts.create_contact(db, staff, 999, form())


def test_roles(db, make_customer):
    acme = make_customer(db)
    guest = Actor(login="guest", role="viewer")
    with pytest.raises(PermissionDenied):
        contacts.create_contact(db, guest, acme, form())


# ---------------------------------------------------------------------------
# notes holding credentials
# ---------------------------------------------------------------------------


def test_credential_like_notes_need_confirmation(db, staff, make_customer):
    acme = make_customer(db)
    before = snapshot(db)
    risky = form(private_notes="Router pwd=Blue42 for the NOC")
    with pytest.raises(NeedsConfirmation) as e:
        contacts.create_contact(db, staff, acme, risky)
    assert [w.field for w in e.value.warnings] == ["private_notes"]
    assert "'pwd='" in str(e.value) and "confirm to save anyway" in str(e.value)
    assert snapshot(db) == before
    rec = contacts.create_contact(db, staff, acme, risky, confirm_warnings=True)
    with pytest.raises(NeedsConfirmation):  # every later save shows it again
        contacts.update_contact(db, staff, rec.id, rec.version, dataclasses.replace(rec.form(), name="A. Smith"))


def test_the_stored_password_is_found_in_notes_of_an_existing_contact(db, staff, make_customer):
    rec = contacts.create_contact(db, staff, make_customer(db), form())
    before = snapshot(db)
    edit = dataclasses.replace(rec.form(), public_notes=f"Portal password: {PASSWORD}")
    with pytest.raises(ValidationError, match="contain the contact's current password") as e:
        contacts.update_contact(db, staff, rec.id, rec.version, edit, confirm_warnings=True)
    assert e.value.field == "public_notes"
    assert snapshot(db) == before


# ---------------------------------------------------------------------------
# passwords by email, Portal Login
# ---------------------------------------------------------------------------


def test_create_with_a_generated_password_emails_it_first(db, admin, staff, make_customer, smtp_server):
    server = smtp_server("ok")
    configure_mail(db, admin, server)
    rec = contacts.create_contact(db, staff, make_customer(db), form(auto_generate_password=True, password=""))
    [message] = server.wait_for_messages(1)
    assert message["To"] == "ann.smith@acme.example"
    password = mailed_password(message)
    assert passwords.verify_password(password, stored_hash(db, rec.id))
    create, send = audit(db)[-2:]
    assert (create.action, send.action, send.primary_key) == ("CREATE", "SEND", str(rec.id))
    assert password not in create.after + send.after + send.message


def test_no_contact_when_the_generated_password_cannot_be_sent(db, admin, staff, make_customer, smtp_server):
    server = smtp_server("refuse")
    configure_mail(db, admin, server)
    acme = make_customer(db)
    before = snapshot(db)
    with pytest.raises(MailError, match="refused the recipient"):
        contacts.create_contact(db, staff, acme, form(auto_generate_password=True, password=""))
    assert snapshot(db) == before


def test_change_password_generates_emails_then_saves(db, admin, staff, make_customer, smtp_server):
    server = smtp_server("ok")
    configure_mail(db, admin, server)
    rec = contacts.create_contact(db, staff, make_customer(db), form())
    contacts.change_password(db, staff, rec.id)
    password = mailed_password(server.wait_for_messages(1)[0])
    assert password != PASSWORD and passwords.verify_password(password, stored_hash(db, rec.id))
    send, generate = audit(db)[-2:]
    assert (send.action, generate.action) == ("SEND", "GENERATE")
    assert generate.message == f"Generated and emailed a new portal password for contact {rec.id} (ann.smith@acme.example)"
    assert json.loads(generate.after)["password_hash"] == "******** (changed)"


def test_change_password_changes_nothing_when_the_email_fails(db, admin, staff, make_customer, smtp_server):
    configure_mail(db, admin, smtp_server("refuse", refuse_at="data"))
    rec = contacts.create_contact(db, staff, make_customer(db), form())
    before = snapshot(db)
    with pytest.raises(MailError, match="refused the message"):
        contacts.change_password(db, staff, rec.id)
    assert snapshot(db) == before
    assert passwords.verify_password(PASSWORD, stored_hash(db, rec.id))


@pytest.mark.parametrize("setup,field,words", [
    ({}, "auto_generate_password", "No mail server is set, so a generated password cannot be emailed"),
    ({"smtp-host": "relay.example"}, "auto_generate_password", "No sender address is set in Settings > Email"),
    ({"smtp-host": "relay.example", "smtp-sender": "noc@carrier.example", "smtp-security": "none",
      "portal-url": "https://portal.carrier.example"}, "auto_generate_password",
     "not emailed over an unencrypted connection"),
])
def test_a_password_that_could_not_be_emailed_is_refused_before_anything_happens(
        db, admin, staff, make_customer, setup, field, words):
    for key, value in setup.items():
        options.set_value(db, admin, key, value)
    acme = make_customer(db)
    rec = contacts.create_contact(db, staff, acme, form(email="typed@acme.example"))
    before = snapshot(db)
    new = form(auto_generate_password=True, password="")
    for attempt in (lambda: contacts.create_contact(db, staff, acme, new),
                    lambda: contacts.change_password(db, staff, rec.id),
                    lambda: contacts.check_schedulable(db, new, new_contact=True)):
        with pytest.raises(ValidationError) as err:
            attempt()
        assert words in str(err.value) and err.value.field == field
    assert snapshot(db) == before
    # an edit sends no email, and a typed password needs none
    contacts.check_schedulable(db, new, new_contact=False)
    contacts.check_schedulable(db, form(email="other@acme.example"), new_contact=True)


def test_change_password_by_hand_is_policy_checked(db, staff, make_customer):
    rec = contacts.create_contact(db, staff, make_customer(db), form(private_notes="Old router: Gravel-Window-7"))
    before = snapshot(db)
    for bad in ("short", "ann.smith", "1234567890", "Gravel-Window-7"):
        with pytest.raises(ValidationError):
            contacts.change_password(db, staff, rec.id, bad)
    assert snapshot(db) == before
    contacts.change_password(db, staff, rec.id, "Window-Gravel-903")
    assert passwords.verify_password("Window-Gravel-903", stored_hash(db, rec.id))
    assert audit(db)[-1].message == f"Set a new portal password by hand for contact {rec.id} (ann.smith@acme.example)"
    with pytest.raises(NotFound):
        contacts.change_password(db, staff, 999, "Window-Gravel-903")


def test_portal_login_url(db, admin, staff, make_customer):
    acme = make_customer(db, "Acme")
    rec = contacts.create_contact(db, staff, acme, form(email="Ann+noc@Acme.example"))
    before = snapshot(db)
    with pytest.raises(ValidationError, match="No Customer Portal URL is set"):
        contacts.portal_login_url(db, staff, rec.id)
    assert snapshot(db) == before
    options.set_value(db, admin, "portal-url", "https://portal.carrier.example/app/")
    url = contacts.portal_login_url(db, staff, rec.id, comment="customer asked for help")
    assert url == "https://portal.carrier.example/app/login?as=Ann%2Bnoc@acme.example"
    entry = audit(db)[-1]
    assert (entry.action, entry.actor, entry.primary_key, entry.customer_id, entry.comment) == \
        ("LOGIN", "sam", str(rec.id), acme, "customer asked for help")
    assert entry.message == "Opened the customer portal as Ann+noc@acme.example"
    with unit_of_work(db, admin) as uow:
        uow.session.get(Customer, acme).portal_access = False
    with pytest.raises(ValidationError, match="Portal Access is off for Acme"):
        contacts.portal_login_url(db, staff, rec.id)


def test_portal_login_needs_no_audit_comment(db, admin, staff, make_customer):
    rec = contacts.create_contact(db, staff, make_customer(db), form())
    options.set_value(db, admin, "portal-url", "https://portal.carrier.example")
    options.set_value(db, admin, "audit-comment", "on", comment="reasons from now on")
    assert contacts.portal_login_url(db, staff, rec.id).endswith("/login?as=ann.smith@acme.example")


# ---------------------------------------------------------------------------
# Contacts and Global Contacts lists
# ---------------------------------------------------------------------------


def seed(db, admin, n_customers=12, per_customer=25):
    """Contacts with varied names, some sharing a name; phones +44 20 7000 <nnnn>."""
    now = utcnow()
    firsts = ["Ann", "bob", "Carla", "Dmitri", "Émile", "ann"]
    with unit_of_work(db, admin) as uow:
        uow.bulk_insert(Customer, [dict(name=f"{'Zeta' if i % 2 else 'Alpha'} Telecom {i:02d}", currency="EUR",
                                        status="Active", credit=0, debit_limit=0, channels=0, flow_speed=0,
                                        tax_percent=0, invoice_schedule="Monthly", invoice_due_days=30,
                                        portal_access=True, tags="", version=1, created_at=now, updated_at=now,
                                        updated_by="t") for i in range(n_customers)], "seed")
        ids = uow.session.scalars(select(Customer.id).order_by(Customer.id)).all()
        rows = []
        for n in range(n_customers * per_customer):
            name = f"{firsts[n % len(firsts)]} Person{n % 7}"
            email = f"p{n}@c{n % n_customers}.example"
            phone = f"+44207000{n:04d}"
            rows.append(dict(customer_id=ids[n % n_customers], name=name, email=email, email_key=email, phone=phone,
                             mobile="", contact_type=["General", "NOC", "Billing"][n % 3],
                             auto_generate_password=True, public_notes="", private_notes="",
                             mobile_verified=False, email_verified=n % 2 == 0, ip_whitelist="",
                             search_text=contact_search_text(name, email, phone, ""), version=1,
                             created_at=now, updated_at=now, updated_by="t"))
        uow.bulk_insert(Contact, rows, "seed")
    return ids


def test_search_follows_saved_changes(db, staff, make_customer):
    acme = make_customer(db, "Acme")
    rec = contacts.create_contact(db, staff, acme, form())
    with db.read_session() as s:
        assert [r.id for r in contacts.global_contacts_page(s, "ann smith")] == [rec.id]
    contacts.update_contact(db, staff, rec.id, rec.version,
                            dataclasses.replace(rec.form(), name="Ann Jones", phone="+1 415 555 0100"))
    with db.read_session() as s:
        assert contacts.global_contacts_count(s, "ann smith") == 0
        assert [r.id for r in contacts.global_contacts_page(s, "ANN JONES")] == [rec.id]
        assert [r.id for r in contacts.global_contacts_page(s, "415 555 01")] == [rec.id]
        assert [r.id for r in contacts.global_contacts_page(s, "acme")] == [rec.id]  # the company


def test_contacts_of_one_customer(db, staff, make_customer):
    acme, beta = make_customer(db, "Acme"), make_customer(db, "Beta")
    contacts.create_contact(db, staff, acme, form(name="zoe", email="z@acme.example"))
    contacts.create_contact(db, staff, acme, form(name="Adam", email="a@acme.example", password=""))
    contacts.create_contact(db, staff, beta, form(name="Bea", email="b@beta.example"))
    with db.read_session() as s:
        rows = contacts.list_contacts(s, acme)
        assert [(r.name, r.company, r.has_password) for r in rows] == [("Adam", "Acme", False), ("zoe", "Acme", True)]
        assert contacts.get_contact(s, rows[0].id).email == "a@acme.example"


@pytest.mark.parametrize("search,expected", [
    ("", 300),
    ("ANN", 100),  # "Ann" and "ann", any case
    ("person3", 43),
    ("zeta telecom", 150),  # the company
    ("telecom 03", 25),
    ("@c3.", 25),
    ("020 7000 0012", 1),  # national form of +44 20 7000 0012
    ("0044 20 7000 001", 10),
    ("p1_", 0),  # _ is not a wildcard
    ("émile", 50),
    ("nobody", 0),
])
def test_global_search_counts(db, admin, search, expected):
    seed(db, admin)
    with db.read_session() as s:
        assert contacts.global_contacts_count(s, search) == expected
        rows = contacts.global_contacts_page(s, search, limit=1000)
        assert len(rows) == expected


@pytest.mark.parametrize("sort_key", sorted(contacts.SORT_KEYS))
def test_global_pages_stitch_together_in_every_order_and_plan(db, admin, monkeypatch, sort_key):
    """Every page, read forwards or (deep ones) backwards, filtered first or in index
    order, matches the slice of the complete sorted list."""
    seed(db, admin)
    monkeypatch.setattr(contacts, "_REVERSE_FROM", 20)
    with db.read_session() as s:
        for search in ("", "ann", "telecom 0"):
            total = contacts.global_contacts_count(s, search)
            for descending in (False, True):
                full = contacts.global_contacts_page(s, search, sort_key, descending, 0, 10_000)
                assert len(full) == total and len({r.id for r in full}) == total
                for cost in (0, 10**9):  # always index order / always filter first
                    monkeypatch.setattr(contacts, "_RANDOM_READ_COST", cost)
                    for offset in (0, 30, total // 2 - 7, total - 40, total - 5):
                        page = contacts.global_contacts_page(s, search, sort_key, descending, offset, 25, total=total)
                        assert [r.id for r in page] == [r.id for r in full[offset:offset + 25]], (search, offset)
                    assert contacts.global_contacts_page(s, search, sort_key, descending, total + 3, 25) == []


def test_global_sort_by_name_ignores_case_and_rows_carry_the_company(db, admin):
    seed(db, admin, n_customers=2, per_customer=3)
    with db.read_session() as s:
        rows = contacts.global_contacts_page(s, "", "name", False, 0, 100)
        assert [r.name for r in rows] == ["Ann Person0", "ann Person5", "bob Person1", "Carla Person2",
                                          "Dmitri Person3", "Émile Person4"]
        assert {r.company for r in rows} == {"Alpha Telecom 00", "Zeta Telecom 01"}
        with pytest.raises(ValueError):
            contacts.global_contacts_page(s, "", "password_hash")
