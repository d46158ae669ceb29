"""Contact phones read with phonenumbers and emails checked with email-validator, through
the service (create_contact / update_contact) on both backends: what is stored, how it is
shown back, the default phone region option, and that a refused value changes nothing."""
from __future__ import annotations

import dataclasses
import re

import pytest
from sqlalchemy import func, select

from cxdesk.errors import ConflictError, ValidationError
from cxdesk.models import AuditEntry, Contact, Option
from cxdesk.services import contacts, mail, options
from cxdesk.services.contacts import ContactForm
from cxdesk.services.uow import unit_of_work


def form(**kw) -> ContactForm:
    base = dict(name="Ann Smith", email="ann.smith@acme.example", auto_generate_password=False)
    base.update(kw)
    return ContactForm(**base)


def snapshot(db):
    """Every contact and option column, and the number of audit entries."""
    with db.read_session() as s:
        cols = [getattr(Contact, c.key) for c in Contact.__table__.columns]
        return (s.execute(select(*cols).order_by(Contact.id)).all(),
                s.execute(select(Option.key, Option.value).order_by(Option.key)).all(),
                s.scalar(select(func.count()).select_from(AuditEntry)))


def stored(db, contact_id: int) -> Contact:
    with db.read_session() as s:
        return s.get(Contact, contact_id)


def one_sentence(message: str) -> bool:
    """Ends with a full stop and no sentence starts inside it ("e.g. GB" and "ext. 12" do not end one)."""
    return message.endswith(".") and re.search(r"(?<!e\.g)[.!?]\s+[A-Z]", message) is None


# ---------------------------------------------------------------------------
# phones
# ---------------------------------------------------------------------------


ACCEPTED = [
    # typed, stored (E.164 [;ext=]), shown back
    ("+44 20 7123 4567", "+442071234567", "+44 20 7123 4567"),
    ("+44 020 7123 4567", "+442071234567", "+44 20 7123 4567"),  # the trunk 0 is not part of the number
    ("+44 (0)20 7123 4567", "+442071234567", "+44 20 7123 4567"),
    ("020 7123 4567", "+442071234567", "+44 20 7123 4567"),  # national: the default region, GB
    ("(020) 7123-4567", "+442071234567", "+44 20 7123 4567"),
    ("020.7123.4567", "+442071234567", "+44 20 7123 4567"),
    ("0044 20 7123 4567", "+442071234567", "+44 20 7123 4567"),
    ("+39 06 1234 5678", "+390612345678", "+39 06 1234 5678"),  # Italy keeps its 0
    ("+39 (0)6 1234 5678", "+390612345678", "+39 06 1234 5678"),
    ("tel:+39-06-1234-5678", "+390612345678", "+39 06 1234 5678"),
    ("tel:+44-20-7123-4567;ext=12", "+442071234567;ext=12", "+44 20 7123 4567 ext. 12"),
    ("+44 20 7123 4567 ext. 12", "+442071234567;ext=12", "+44 20 7123 4567 ext. 12"),
    ("+44 20 7123 4567 x12", "+442071234567;ext=12", "+44 20 7123 4567 ext. 12"),
    ("020 7123 4567;ext=12", "+442071234567;ext=12", "+44 20 7123 4567 ext. 12"),
    ("+1 (415) 555.0100", "+14155550100", "+1 415-555-0100"),
]


@pytest.mark.parametrize("typed,column,shown", ACCEPTED, ids=[a[0] for a in ACCEPTED])
def test_phones_are_stored_in_e164_and_shown_formatted(db, staff, make_customer, typed, column, shown):
    rec = contacts.create_contact(db, staff, make_customer(db), form(phone=typed, mobile=typed))
    c = stored(db, rec.id)
    assert (c.phone, c.mobile) == (column, column)
    assert (rec.phone, rec.mobile) == (shown, shown)
    assert column in c.search_text.split("\n")
    with db.read_session() as s:
        [row] = contacts.list_contacts(s, c.customer_id)
        assert (row.phone, row.mobile) == (shown, shown)
        assert contacts.get_contact(s, rec.id).phone == shown
    # the form shows the formatted number; saving it unchanged changes nothing
    same = contacts.update_contact(db, staff, rec.id, rec.version, rec.form())
    assert same.version == rec.version and stored(db, rec.id).phone == column


def test_an_edit_to_a_phone_with_an_extension_is_stored_and_audited(db, staff, make_customer):
    rec = contacts.create_contact(db, staff, make_customer(db), form(phone="+44 20 7123 4567"))
    new = contacts.update_contact(db, staff, rec.id, rec.version,
                                  dataclasses.replace(rec.form(), phone="tel:+44-20-7123-4567;ext=345"))
    assert (new.phone, stored(db, rec.id).phone) == ("+44 20 7123 4567 ext. 345", "+442071234567;ext=345")
    with db.read_session() as s:
        entry = s.scalars(select(AuditEntry).order_by(AuditEntry.id.desc())).first()
    assert entry.action == "UPDATE" and '"phone": "+442071234567;ext=345"' in entry.after


def test_national_numbers_follow_the_default_region_option(db, admin, staff, make_customer):
    acme = make_customer(db)
    with db.read_session() as s:
        assert options.get(s, "default-region") == "GB"
    gb = contacts.create_contact(db, staff, acme, form(phone="030 1234 5678"))
    assert stored(db, gb.id).phone == "+443012345678"
    assert options.set_value(db, admin, "default-region", " de ") == "DE"
    de = contacts.create_contact(db, staff, acme, form(email="b@acme.example", phone="030 1234 5678"))
    assert stored(db, de.id).phone == "+493012345678"
    # an edit reads the national number in the region set now; the stored E.164 numbers stay
    options.set_value(db, admin, "default-region", "IT")
    it = contacts.update_contact(db, staff, gb.id, gb.version, dataclasses.replace(gb.form(), mobile="06 1234 5678"))
    assert (stored(db, gb.id).phone, stored(db, gb.id).mobile) == ("+443012345678", "+390612345678")
    assert it.mobile == "+39 06 1234 5678"


REFUSED_PHONES = [
    ("phone", "+999 1234 5678", "does not start with a known country code"),
    ("phone", "+0 20 7123 4567", "does not start with a known country code"),
    ("phone", "+44 12", "has too few digits for GB (+44)"),
    ("phone", "+12", "is not a phone number"),
    ("phone", "+44 20 7123 456", "is not a number in use in GB (+44)"),
    ("phone", "+44 7700 900123", "is not a number in use in GB (+44)"),  # Ofcom's range for drama
    ("phone", "0207 123", "is not a number in use in GB (+44)"),
    ("phone", "020 71", "has too few digits for GB (+44): it lacks the area code"),
    ("phone", "+44 20 CALL ME", "may hold only digits, spaces, dots, dashes, brackets"),
    ("phone", "+44+20 7123 4567", "has a + in the middle"),
    ("phone", "+44 20 7123 4567 ext. 12345678901", "has an extension of 11 digits (at most 10)"),
    ("phone", "+44\u200b20 7123 4567", "invisible or control character (U+200B ZERO WIDTH SPACE)"),
    ("mobile", "+44 7700 900 123 456 789", "has too many digits for GB (+44)"),
    ("mobile", "tel:+999-1234", "does not start with a known country code"),
]


@pytest.mark.parametrize("field,typed,words", REFUSED_PHONES, ids=[f"{r[0]}-{r[1]}" for r in REFUSED_PHONES])
def test_invalid_phones_are_refused_with_one_sentence_and_change_nothing(db, staff, make_customer,
                                                                           field, typed, words):
    acme = make_customer(db)
    existing = contacts.create_contact(db, staff, acme, form(phone="+44 20 7123 4567", mobile="07400 123456"))
    before = snapshot(db)
    label = "The mobile number" if field == "mobile" else "The phone number"
    with pytest.raises(ValidationError) as e:
        contacts.create_contact(db, staff, acme, form(email="other@acme.example", **{field: typed}))
    message = str(e.value)
    assert e.value.field == field and message.startswith(label) and words in message
    assert "type it like +44 " in message or "e.g. +44 " in message  # an example of a valid form
    assert one_sentence(message), message
    with pytest.raises(ValidationError) as e:
        contacts.update_contact(db, staff, existing.id, existing.version,
                                dataclasses.replace(existing.form(), **{field: typed}))
    assert e.value.field == field and words in str(e.value)
    assert snapshot(db) == before


def test_the_example_in_a_refusal_follows_the_default_region(db, admin, staff, make_customer):
    options.set_value(db, admin, "default-region", "DE")
    acme = make_customer(db)
    before = snapshot(db)
    with pytest.raises(ValidationError) as e:
        contacts.create_contact(db, staff, acme, form(mobile="+49 12"))
    assert str(e.value).endswith("type it like +49 1512 3456789 (or 01512 3456789 within DE).")
    assert snapshot(db) == before


def test_without_a_region_a_national_number_needs_its_country_code():
    """ContactForm.clean() without a region (callers that do not read Settings > Options)."""
    with pytest.raises(ValidationError) as e:
        form(phone="020 7123 4567").clean()
    assert e.value.field == "phone" and "needs its country code" in str(e.value)
    assert form(phone="020 7123 4567").clean("GB")["phone"] == "+442071234567"
    assert form(phone="0044 20 7123 4567").clean()["phone"] == "+442071234567"
    assert contacts.normalise_phone("tel:7123-4567;phone-context=+44-20") == "+442071234567"


def test_values_stored_before_numbers_were_checked_are_shown_as_they_are():
    assert contacts.format_phone("") == ""
    assert contacts.format_phone("+447700900123") == "+447700900123"  # not a valid number
    assert contacts.format_phone("+4402071234567") == "+4402071234567"  # the trunk 0 stored by mistake
    assert contacts.format_phone("+442071234567;ext=12") == "+44 20 7123 4567 ext. 12"


# ---------------------------------------------------------------------------
# the default-region option
# ---------------------------------------------------------------------------


def test_default_region_option_is_defined_and_validated(db, admin):
    d = options.DEFINITIONS["default-region"]
    assert (d.label, d.default) == ("Default phone region", "GB")
    assert {"GB", "IT", "DE", "US"} <= set(d.choices) and "001" not in d.choices and "ZZ" not in d.choices
    assert all(d.validate(code) == code for code in d.choices)  # the Settings drop-down offers only valid ones
    with db.read_session() as s:
        assert options.all_values(s)["default-region"] == "GB"
    before = snapshot(db)
    for bad in ("XX", "UK", "GBR", "", "  ", "001"):
        with pytest.raises(ValidationError) as e:
            options.set_value(db, admin, "default-region", bad)
        assert "ISO 3166" in str(e.value) and one_sentence(str(e.value))
    assert snapshot(db) == before
    assert options.set_value(db, admin, "default-region", "it") == "IT"
    with db.read_session() as s:
        entry = s.scalars(select(AuditEntry).order_by(AuditEntry.id.desc())).first()
        assert entry.message == "Set option default-region to 'IT'"


def test_default_region_from_the_cli(sqlite_db, run_cli, staff, make_customer):
    url = f"sqlite:///{sqlite_db.path}"
    r = run_cli("options", "set", "default-region", "de", db_url=url)
    assert (r.returncode, r.stdout) == (0, "default-region = DE\n"), r.stderr
    r = run_cli("options", "set", "default-region", "Germany", db_url=url)
    assert r.returncode == 1
    assert r.stderr == ("cxdesk: 'Germany' is not a country with a known numbering plan; type its two-letter "
                        "ISO 3166 code, e.g. GB, US or DE.\n")
    rec = contacts.create_contact(sqlite_db, staff, make_customer(sqlite_db), form(phone="030 1234 5678"))
    assert stored(sqlite_db, rec.id).phone == "+493012345678"


# ---------------------------------------------------------------------------
# emails
# ---------------------------------------------------------------------------


SAME_MAILBOX = ["ann@müller.de", "ann@xn--mller-kva.de", "ANN@MÜLLER.DE", "ann@ｍüller.de", "Ann@Müller.DE"]


@pytest.mark.parametrize("first", SAME_MAILBOX[:2])
@pytest.mark.parametrize("second", SAME_MAILBOX)
def test_one_mailbox_is_one_login_however_its_domain_is_written(db, staff, make_customer, first, second):
    acme, beta = make_customer(db, "Acme"), make_customer(db, "Beta")
    rec = contacts.create_contact(db, staff, acme, form(email=first))
    c = stored(db, rec.id)
    assert (c.email, c.email_key, rec.email) == ("ann@müller.de", "ann@xn--mller-kva.de", "ann@müller.de")
    before = snapshot(db)
    with pytest.raises(ConflictError) as e:
        contacts.create_contact(db, staff, beta, form(name="Other Ann", email=second))
    assert e.value.field == "email"
    shown = contacts.normalise_email(second)[0]
    assert str(e.value) == (f"{shown} is already the login of contact {rec.id} (Ann Smith <ann@müller.de>) "
                            "of Acme; every contact needs an email address of their own.")
    other = contacts.create_contact(db, staff, beta, form(name="Bob", email="bob@beta.example"))
    before = snapshot(db)
    with pytest.raises(ConflictError, match=f"already the login of contact {rec.id} "):
        contacts.update_contact(db, staff, other.id, other.version, dataclasses.replace(other.form(), email=second))
    assert snapshot(db) == before


def test_the_stored_email_keeps_the_unicode_form_and_the_local_part(db, staff, make_customer):
    acme = make_customer(db)
    rec = contacts.create_contact(db, staff, acme, form(email="Jörg.Ann+noc@ｍüller.DE"))
    c = stored(db, rec.id)
    assert (c.email, c.email_key) == ("Jörg.Ann+noc@müller.de", "jörg.ann+noc@xn--mller-kva.de")
    # the local part is compared without regard to case, as before
    with pytest.raises(ConflictError):
        contacts.create_contact(db, staff, acme, form(name="B", email="JÖRG.ANN+NOC@xn--mller-kva.de"))
    # another local part at the same domain is another login
    assert contacts.create_contact(db, staff, acme, form(name="C", email="jorg.ann+noc@müller.de")).id != rec.id


INVISIBLE = [
    ("ann\u200b@acme.example", "U+200B ZERO WIDTH SPACE"),
    ("ann@acme.example\u200b", "U+200B ZERO WIDTH SPACE"),
    ("ann@ac\u200dme.example", "U+200D ZERO WIDTH JOINER"),
    ("a\u200cnn@acme.example", "U+200C ZERO WIDTH NON-JOINER"),
    ("\u202eann@acme.example", "U+202E RIGHT-TO-LEFT OVERRIDE"),
    ("ann@acme.exa\u2066mple", "U+2066 LEFT-TO-RIGHT ISOLATE"),
    ("ann@ac\u00adme.example", "U+00AD SOFT HYPHEN"),
    ("ann\u2060@acme.example", "U+2060 WORD JOINER"),
    ("\ufeffann@acme.example", "U+FEFF ZERO WIDTH NO-BREAK SPACE"),
    ("an\ufe0fn@acme.example", "U+FE0F VARIATION SELECTOR-16"),  # email-validator itself lets this one pass
    ("ann@ac\u3164me.example", "U+3164 HANGUL FILLER"),  # IDNA would drop it silently
    ("ann\x07@acme.example", "U+0007"),
    ("ann@acme\x00.example", "U+0000"),
]


@pytest.mark.parametrize("typed,named", INVISIBLE, ids=[i[1] for i in INVISIBLE])
def test_emails_with_invisible_or_control_characters_are_refused(db, staff, make_customer, typed, named):
    acme = make_customer(db)
    existing = contacts.create_contact(db, staff, acme, form())
    before = snapshot(db)
    with pytest.raises(ValidationError) as e:
        contacts.create_contact(db, staff, acme, form(name="Other", email=typed))
    assert e.value.field == "email"
    assert str(e.value).startswith(f"The email address contains an invisible or control character ({named}")
    assert one_sentence(str(e.value))
    with pytest.raises(ValidationError) as e:
        contacts.update_contact(db, staff, existing.id, existing.version,
                                dataclasses.replace(existing.form(), email=typed))
    assert e.value.field == "email" and named in str(e.value)
    assert snapshot(db) == before


MALFORMED_EMAILS = [
    ("ann@example", "it should have a period"),
    ("ann.example.com", "must have an @-sign"),
    ("ann@x.test", "special-use or reserved name"),
    ('"ann smith"@acme.example', "quoting the part before the @-sign is not allowed"),
    ("ann@[192.0.2.1]", "bracketed IP address"),
    ("Ann Smith <ann@acme.example>", "display name"),
    ("ann@acme..example", "two periods in a row"),
    ("ann@acme_corp.example", "invalid characters"),
    ("ann@xn--zz.example", "not valid"),  # not a punycode label
]


@pytest.mark.parametrize("typed,words", MALFORMED_EMAILS, ids=[m[0] for m in MALFORMED_EMAILS])
def test_malformed_emails_are_refused_with_one_sentence(db, staff, make_customer, typed, words):
    acme = make_customer(db)
    before = snapshot(db)
    with pytest.raises(ValidationError) as e:
        contacts.create_contact(db, staff, acme, form(email=typed))
    message = str(e.value)
    assert e.value.field == "email" and message.startswith(f"'{typed}' is not an email address (")
    assert words.lower() in message.lower() and message.endswith("; type one like name@example.com.")
    assert one_sentence(message), message
    assert snapshot(db) == before


def test_a_key_written_before_keys_held_the_ascii_domain_still_counts(db, admin, staff, make_customer):
    """A row whose key holds the Unicode domain (as keys were written before): the same
    mailbox typed in any form is still refused, and saving the row rewrites its key."""
    acme = make_customer(db, "Acme")
    with unit_of_work(db, admin) as uow:
        old = uow.add(Contact(customer_id=acme, name="Old Ann", email="ann@müller.de", email_key="ann@müller.de"))
        uow.flush()
        old_id = old.id
    before = snapshot(db)
    for typed in ("ann@xn--mller-kva.de", "ANN@müller.de"):
        with pytest.raises(ConflictError, match=rf"already the login of contact {old_id} \(Old Ann <ann@müller.de>\)"):
            contacts.create_contact(db, staff, acme, form(email=typed))
    assert snapshot(db) == before
    with db.read_session() as s:
        assert contacts.email_owner(s, "ann@xn--mller-kva.de") == (old_id, "Acme")
        rec = contacts.get_contact(s, old_id)
    contacts.update_contact(db, staff, old_id, rec.version, rec.form())
    assert stored(db, old_id).email_key == "ann@xn--mller-kva.de"


def test_a_generated_password_for_an_idn_address_is_sent_to_its_ascii_form(db, admin, staff, make_customer,
                                                                             smtp_server):
    """The stored email keeps the Unicode domain; the envelope uses the ASCII one, which any
    SMTP server accepts (a Unicode address needs the server's SMTPUTF8)."""
    server = smtp_server("ok")
    for key, value in (("smtp-host", server.host), ("smtp-port", str(server.port)), ("smtp-security", "none"),
                       ("smtp-sender", "noc@carrier.example"), ("portal-url", "https://portal.carrier.example")):
        options.set_value(db, admin, key, value)
    mail.set_plaintext_passwords(db, admin, True)  # the test server speaks plain SMTP
    rec = contacts.create_contact(db, staff, make_customer(db), form(email="Ann@ｍüller.de",
                                                                      auto_generate_password=True))
    [message] = server.wait_for_messages(1)
    assert message["To"] == "Ann@xn--mller-kva.de"
    assert "Login:    Ann@müller.de\r\n" in message.get_content()
    assert stored(db, rec.id).email == "Ann@müller.de"
    with db.read_session() as s:
        send = s.scalars(select(AuditEntry).where(AuditEntry.action == "SEND")).one()
    assert send.message == ("Emailed the new portal password for Ann@müller.de to Ann@xn--mller-kva.de "
                            "without encryption (allowed by an administrator)")
