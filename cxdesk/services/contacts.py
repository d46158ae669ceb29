"""Contacts of a customer: field checks, saving, passwords, portal login, Global Contacts.

Every field typed into the contact form goes through a ``normalise_*`` function that
returns the stored form or raises ValidationError naming the field. Saves are audited,
take the version the user loaded (ConflictError naming who changed it meanwhile) and
refuse notes that hold a password; notes that merely look like they hold a credential
raise NeedsConfirmation (with the warnings) until saved with ``confirm_warnings=True``.

Passwords are only ever kept as a slow salted hash. A generated password is emailed
before its hash is saved, in the same unit of work: if sending fails, nothing changes.

Notes and passwords: a password typed in the same save is refused when either notes
field contains it. Stored passwords cannot be read back, so for an existing contact
the notes are checked against the stored hash only for the few words that look like
a credential (after "password:" and the like, or long random tokens).

Phones and mobiles are read with phonenumbers (national numbers in Settings > Options
"default-region") and stored in E.164, an extension as RFC 3966 writes it
("+442071234567;ext=12"); records and list rows show them as ``format_phone`` does
("+44 20 7123 4567 ext. 12"), which reads back as the same number. Emails are checked
with email-validator; the portal login key is the local part lower-cased and the domain
in ASCII (punycode), so one mailbox is one login however its domain is written.

Keys written before the domain was kept in ASCII hold it in Unicode ("ann@müller.de").
Until a data migration rewrites them (every key recomputed with ``normalise_email``),
the duplicate check looks for both forms (``_legacy_keys``); a key written from an
unusual spelling (full-width letters, an ideographic full stop, a domain not in NFC) is
only found once rewritten.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import ipaddress
import re
import unicodedata
from dataclasses import dataclass, fields
from typing import Any
from urllib.parse import quote, urlsplit

import email_validator
import phonenumbers
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cxdesk.db import Database
from cxdesk.errors import ConflictError, NotFound, UserError, ValidationError
from cxdesk.models import CONTACT_TYPES, Contact, Customer
from cxdesk.services import options, passwords
from cxdesk.services.actor import Actor
from cxdesk.services.customers import check_version
from cxdesk.services.uow import UnitOfWork, unit_of_work

NAME_MAX = 200
EMAIL_MAX = 254
NOTES_MAX = 10_000
WHITELIST_MAX = 100
#: a word that looks like a generated secret: at least this long ...
TOKEN_MIN = 12
#: ... and switching between lower case, upper case, digits and symbols this often
TOKEN_MAX_MEAN_RUN = 2.0
#: at most this many suspicious words of existing notes are checked against the stored hash
HASH_CHECKS_MAX = 4

_LOCAL_RE = re.compile(r"[^\s@\"(),:;<>\[\]\\]+")
_LABEL_RE = re.compile(r"(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)")
_CREDENTIAL_RE = re.compile(
    r"(?i)(?<![a-z])(pass(?:word|wd|code|phrase)?|pwd|pw|pin|secret|api[ _-]?key|token|credentials?)\s*[:=]\s*(\S*)"
)
_PHONE_CHARS_RE = re.compile(r"[+0-9\s().\-/]+")
#: an extension after the number: ";ext=12", "ext. 12", "extension 12", "x12", "#12"
_PHONE_EXT_RE = re.compile(r"(?i)\s*(?:;\s*ext\s*=|,?\s*(?:ext(?:ension)?\.?|x)\s*:?|#)\s*(?P<ext>\d+)\s*#?\s*$")
#: at most this many digits of an extension: E.164 (16) + ";ext=" + 10 fits the 32 of the column
PHONE_EXT_MAX = 10
#: characters that show nothing or steer the text: refused anywhere in an email or phone
_INVISIBLE_CATEGORIES = ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp")
#: Unicode's Default_Ignorable_Code_Point ranges (DerivedCoreProperties.txt): some are letters
#: or marks (Hangul fillers, variation selectors, the combining grapheme joiner) yet invisible
_DEFAULT_IGNORABLE = (
    (0x00AD, 0x00AD), (0x034F, 0x034F), (0x061C, 0x061C), (0x115F, 0x1160), (0x17B4, 0x17B5),
    (0x180B, 0x180F), (0x200B, 0x200F), (0x202A, 0x202E), (0x2060, 0x206F), (0x3164, 0x3164),
    (0xFE00, 0xFE0F), (0xFEFF, 0xFEFF), (0xFFA0, 0xFFA0), (0xFFF0, 0xFFF8), (0x1BCA0, 0x1BCA3),
    (0x1D173, 0x1D17A), (0xE0000, 0xE0FFF),
)


# ---------------------------------------------------------------------------
# field checks: value as typed -> value as stored
# ---------------------------------------------------------------------------


def _no_controls(text: str, field: str, label: str, allowed: str = "") -> None:
    for ch in text:
        if ch not in allowed and unicodedata.category(ch) in ("Cc", "Cs"):
            raise ValidationError(f"{label} contains a control character (code {ord(ch)}); remove it.", field=field)


def _invisible(ch: str) -> bool:
    """A control, format (zero-width, bidi, soft hyphen...), separator or other character that shows nothing."""
    if unicodedata.category(ch) in _INVISIBLE_CATEGORIES:
        return True
    cp = ord(ch)
    return any(lo <= cp <= hi for lo, hi in _DEFAULT_IGNORABLE)


def _no_invisible(text: str, field: str, label: str, example: str) -> None:
    for ch in text:
        if _invisible(ch):
            name = unicodedata.name(ch, "a control character")
            raise ValidationError(f"{label} contains an invisible or control character (U+{ord(ch):04X} {name}); "
                                  f"retype it without that character, e.g. {example}.", field=field)


def _one_sentence(message: str) -> str:
    """email-validator's explanation ("The part after ... is not valid. It should have a period.")
    as a clause for one sentence: "the part after ... is not valid; it should have a period"."""
    parts = [p.strip().rstrip(".") for p in re.split(r"(?<=\.)\s+", str(message).strip()) if p.strip()]
    parts = [p[:1].lower() + p[1:] if len(p) > 1 and not p[1].isupper() else p for p in parts]
    return "; ".join(parts)


def normalise_name(value: str) -> str:
    name = " ".join(str(value or "").split())
    if not name:
        raise ValidationError("Type the contact's name.", field="name")
    if len(name) > NAME_MAX:
        raise ValidationError(f"The name is too long ({len(name)} characters; at most {NAME_MAX}).", field="name")
    _no_controls(name, "name", "The name")
    return name


def normalise_email(value: str) -> tuple[str, str]:
    """(email as stored, its login key). The email is the contact's portal login.

    Checked by email-validator (syntax, IDNA 2008 domain; no DNS look-up): no quoted
    local part, no [IP] domain, no display name, no special-use domain (.test, .local...),
    and no invisible or control character anywhere. Stored: the local part as typed
    (NFC) and the domain in Unicode, lower case (``ann@müller.de``). Key: the local part
    lower-cased (as before this change: ``Ann`` and ``ann`` are one login) and the domain
    in its ASCII (punycode) form, lower case, so ``ann@müller.de``, ``ann@xn--mller-kva.de``,
    ``ANN@MÜLLER.DE`` and a full-width ``ann@ｍüller.de`` are one login
    (``ann@xn--mller-kva.de``)."""
    email = str(value or "").strip()
    if not email:
        raise ValidationError("Type the contact's email address; it is also their portal login.", field="email")
    if len(email) > EMAIL_MAX:
        raise ValidationError(f"The email address is too long ({len(email)} characters; at most {EMAIL_MAX}).",
                              field="email")
    _no_invisible(email, "email", "The email address", "name@example.com")
    try:
        v = email_validator.validate_email(
            email, check_deliverability=False, allow_smtputf8=True, allow_quoted_local=False,
            allow_domain_literal=False, allow_display_name=False, globally_deliverable=True, test_environment=False)
    except email_validator.EmailNotValidError as exc:
        raise ValidationError(f"'{email}' is not an email address ({_one_sentence(str(exc))}); type one like "
                              "name@example.com.", field="email") from None
    stored = v.normalized
    key = f"{v.local_part.lower()}@{v.ascii_domain.lower()}"
    longest = max(len(stored), len(key))
    if longest > EMAIL_MAX:
        raise ValidationError(f"The email address is too long ({longest} characters once its domain is written "
                              f"in ASCII; at most {EMAIL_MAX}).", field="email")
    return stored, key


def _legacy_keys(email_key: str) -> list[str]:
    """``email_key`` and the key the same login had before keys held the ASCII domain:
    the domain in Unicode (``ann@xn--mller-kva.de`` -> ``ann@müller.de``). Until the
    stored keys are rewritten (see the module notes), both are looked for."""
    local, at, domain = email_key.rpartition("@")
    if not at or "xn--" not in domain:
        return [email_key]
    labels = []
    for label in domain.split("."):
        if label.startswith("xn--"):
            try:
                label = label[4:].encode("ascii").decode("punycode")
            except (UnicodeError, ValueError):
                return [email_key]
        labels.append(label)
    legacy = f"{local}@{'.'.join(labels)}"
    return [email_key] if legacy == email_key else [email_key, legacy]


# -- phone numbers ---------------------------------------------------------------


def _example_phone(region: str | None, field: str) -> str:
    """'+44 20 7123 4567' or, with a default region, '+44 121 234 5678 or 0121 234 5678'."""
    if not region:
        return "+44 20 7123 4567"
    kind = phonenumbers.PhoneNumberType.MOBILE if field == "mobile" else phonenumbers.PhoneNumberType.FIXED_LINE
    n = phonenumbers.example_number_for_type(region, kind) or phonenumbers.example_number(region)
    if n is None:
        return "+44 20 7123 4567"
    intl = phonenumbers.format_number(n, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
    national = phonenumbers.format_number(n, phonenumbers.PhoneNumberFormat.NATIONAL)
    return intl if national == intl else f"{intl} (or {national} within {region})"


def _country(n: phonenumbers.PhoneNumber) -> str:
    region = phonenumbers.region_code_for_country_code(n.country_code)
    return f"+{n.country_code}" if region in ("ZZ", "001") else f"{region} (+{n.country_code})"


def _why_invalid(n: phonenumbers.PhoneNumber) -> str:
    reason = phonenumbers.is_possible_number_with_reason(n)
    digits = len(phonenumbers.national_significant_number(n))
    where = _country(n)
    if reason == phonenumbers.ValidationResult.INVALID_COUNTRY_CODE:
        return f"+{n.country_code} is not a country code"
    if reason == phonenumbers.ValidationResult.IS_POSSIBLE_LOCAL_ONLY:
        return f"has too few digits for {where}: it lacks the area code"
    if reason == phonenumbers.ValidationResult.TOO_SHORT:
        return f"has too few digits for {where}: {digits} after the country code"
    if reason == phonenumbers.ValidationResult.TOO_LONG:
        return f"has too many digits for {where}: {digits} after the country code"
    if reason == phonenumbers.ValidationResult.INVALID_LENGTH:
        return f"has the wrong number of digits for {where}: {digits} after the country code"
    return f"is not a number in use in {where}"


_PARSE_ERRORS = {
    phonenumbers.NumberParseException.INVALID_COUNTRY_CODE: "does not start with a known country code",
    phonenumbers.NumberParseException.NOT_A_NUMBER: "is not a phone number",
    phonenumbers.NumberParseException.TOO_SHORT_AFTER_IDD: "has too few digits after the international prefix",
    phonenumbers.NumberParseException.TOO_SHORT_NSN: "has too few digits",
    phonenumbers.NumberParseException.TOO_LONG: "has too many digits",
}


def _parse_phone(typed: str, region: str | None, field: str, label: str) -> phonenumbers.PhoneNumber:
    """The valid number ``typed`` means (an extension kept), or ValidationError."""
    example = _example_phone(region, field)

    def refuse(why: str) -> ValidationError:
        return ValidationError(f"{label} '{typed}' {why}; type it like {example}.", field=field)

    _no_invisible(typed, field, label, example)
    ext = ""
    if typed[:4].lower() == "tel:":  # RFC 3966: tel:+44-20-7123-4567;ext=12 (phonenumbers reads the parameters)
        number = typed[4:].split(";", 1)[0]
        candidates = [typed]
    else:
        m = _PHONE_EXT_RE.search(typed)
        number, ext = (typed[:m.start()], m.group("ext")) if m else (typed, "")
        compact = re.sub(r"[\s().\-/]", "", number)
        candidates = [number]
        if compact.startswith("00"):  # 00 is the international prefix nearly everywhere
            candidates.append("+" + compact[2:])
    text = number.replace("(0)", "")
    if not _PHONE_CHARS_RE.fullmatch(text):
        raise refuse("may hold only digits, spaces, dots, dashes, brackets, a leading + and an extension "
                     "(ext. 12)")
    if "+" in text.strip()[1:]:
        raise refuse("has a + in the middle (only the first character may be +)")
    if not region and not re.sub(r"[\s().\-/]", "", text).startswith(("+", "00")) \
            and "phone-context=" not in typed.lower():
        raise refuse("needs its country code (no default phone region is set for this check)")
    first_error: ValidationError | None = None
    for candidate in candidates:
        try:
            n = phonenumbers.parse(candidate, region)
        except phonenumbers.NumberParseException as exc:
            error = refuse(_PARSE_ERRORS.get(exc.error_type, "is not a phone number"))
        else:
            if phonenumbers.is_valid_number(n):
                if ext:
                    n.extension = ext
                if n.extension and (not n.extension.isdigit() or len(n.extension) > PHONE_EXT_MAX):
                    raise refuse(f"has an extension of {len(n.extension)} digits (at most {PHONE_EXT_MAX})")
                return n
            error = refuse(_why_invalid(n))
        first_error = first_error or error
    raise first_error


def normalise_phone(value: str, field: str = "phone", region: str | None = None) -> str:
    """The number as stored: E.164, with an extension as RFC 3966 writes it.

    Read with phonenumbers: "+44 (0)20 7123-4567", "0044 20 7123 4567",
    "tel:+44-20-7123-4567;ext=12" and "+44 20 7123 4567 ext. 12" are all
    "+442071234567" (the last two with ";ext=12"); Italy keeps its 0
    ("+39 06 1234 5678" -> "+390612345678"). A national number (no + or 00) is read in
    ``region`` (Settings > Options: default-region); without one it needs its country
    code. Numbers phonenumbers does not hold valid are refused. ``format_phone`` shows
    the stored form back as "+44 20 7123 4567 ext. 12".
    """
    label = "The mobile number" if field == "mobile" else "The phone number"
    typed = str(value or "").strip()
    if not typed:
        return ""
    n = _parse_phone(typed, region, field, label)
    stored = phonenumbers.format_number(n, phonenumbers.PhoneNumberFormat.E164)
    return f"{stored};ext={n.extension}" if n.extension else stored


@functools.lru_cache(maxsize=4096)
def format_phone(stored: str) -> str:
    """A stored number as the forms and lists show it: "+442071234567;ext=12" ->
    "+44 20 7123 4567 ext. 12". A value this version would not have stored (written
    before numbers were checked) is shown as it is."""
    number, _, ext = (stored or "").partition(";ext=")
    try:
        n = phonenumbers.parse(number, None)
    except phonenumbers.NumberParseException:
        return stored or ""
    if not phonenumbers.is_valid_number(n) or phonenumbers.format_number(n, phonenumbers.PhoneNumberFormat.E164) \
            != number or (ext and not ext.isdigit()):
        return stored
    shown = phonenumbers.format_number(n, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
    return f"{shown} ext. {ext}" if ext else shown


def normalise_contact_type(value: str) -> str:
    text = str(value or "").strip().lower()
    if not text:
        return CONTACT_TYPES[0]
    for t in CONTACT_TYPES:
        if t.lower() == text:
            return t
    raise ValidationError(f"Contact Type '{value}' is not one of: {', '.join(CONTACT_TYPES)}.", field="contact_type")


def normalise_notes(value: str, field: str) -> str:
    label = "The public notes" if field == "public_notes" else "The private notes"
    text = str(value or "").replace("\r\n", "\n").replace("\r", "\n").rstrip()
    if len(text) > NOTES_MAX:
        raise ValidationError(f"{label} are too long ({len(text):,} characters; at most {NOTES_MAX:,}).", field=field)
    _no_controls(text, field, label, allowed="\n\t")
    return text


def normalise_ip_whitelist(value: str | list[str]) -> str:
    """Addresses and CIDR ranges, one per line, normalised and without repeats; "" = any address."""
    parts = value if isinstance(value, list) else re.split(r"[\s,;]+", str(value or ""))
    out: list[str] = []
    for entry in (p.strip() for p in parts):
        if not entry:
            continue
        bad = f"IP Whitelist: '{entry}' is not an IP address or range; use e.g. 203.0.113.7 or 203.0.113.0/24."
        if "%" in entry:
            raise ValidationError(f"IP Whitelist: '{entry}' names a network interface (%); leave that part out.",
                                  field="ip_whitelist")
        if "/" in entry:
            try:
                net = ipaddress.ip_network(entry, strict=True)
            except ValueError:
                try:
                    loose = ipaddress.ip_network(entry, strict=False)
                except ValueError:
                    raise ValidationError(bad, field="ip_whitelist") from None
                raise ValidationError(f"IP Whitelist: '{entry}' has address bits set beyond the /{loose.prefixlen} "
                                      f"mask; did you mean {loose}?", field="ip_whitelist") from None
            text = str(net.network_address) if net.prefixlen == net.max_prefixlen else str(net)
        else:
            try:
                text = str(ipaddress.ip_address(entry))
            except ValueError:
                raise ValidationError(bad, field="ip_whitelist") from None
        if text not in out:
            out.append(text)
    if len(out) > WHITELIST_MAX:
        raise ValidationError(f"IP Whitelist has {len(out)} entries; at most {WHITELIST_MAX} (use ranges).",
                              field="ip_whitelist")
    return "\n".join(out)


def _flag(value: Any, field: str, label: str) -> bool:
    if not isinstance(value, bool):
        raise ValidationError(f"{label} must be ticked or not.", field=field)
    return value


# ---------------------------------------------------------------------------
# notes that hold credentials
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class NoteWarning:
    """Why a notes field looks like it holds a credential."""

    field: str
    reason: str


class NeedsConfirmation(UserError):
    """The save would go through, but the notes look like they hold a credential.

    Show ``warnings`` and save again with ``confirm_warnings=True`` if the user agrees.
    """

    def __init__(self, warnings: list[NoteWarning]) -> None:
        text = " ".join(w.reason for w in warnings)
        super().__init__(f"{text} Passwords must never be kept in notes; remove it, or confirm to save anyway.",
                         field=warnings[0].field)
        self.warnings = warnings


def _mean_run(word: str) -> float:
    def kind(ch: str) -> int:
        return 0 if ch.islower() else 1 if ch.isupper() else 2 if ch.isdigit() else 3
    runs = 1 + sum(1 for a, b in zip(word, word[1:]) if kind(a) != kind(b))
    return len(word) / runs


def _random_tokens(text: str) -> list[str]:
    """Words that look generated: long, letters and digits, switching character class often."""
    out = []
    for raw in text.split():
        word = raw.strip(".,;:!?()[]{}<>\"'")
        if len(word) < TOKEN_MIN or "://" in word or "@" in word or word.lower().startswith("www."):
            continue
        if any(c.isalpha() for c in word) and any(c.isdigit() for c in word) and _mean_run(word) <= TOKEN_MAX_MEAN_RUN:
            out.append(word)
    return out


def note_warnings(field: str, text: str) -> tuple[list[NoteWarning], list[str]]:
    """(warnings, the suspicious words) for one notes field."""
    label = "public notes" if field == "public_notes" else "private notes"
    warnings: list[NoteWarning] = []
    words: list[str] = []
    for m in _CREDENTIAL_RE.finditer(text):
        warnings.append(NoteWarning(field, f"The {label} contain '{text[m.start(1):m.start(2)].rstrip()}', "
                                           "which usually introduces a password or key."))
        if m.group(2):
            words.append(m.group(2))
    for token in _random_tokens(text):
        shown = f"{token[:4]}...{token[-2:]}"
        warnings.append(NoteWarning(field, f"The {label} contain '{shown}', a long random-looking token "
                                           "that may be a password or key."))
        words.append(token)
    return warnings, words


def check_notes(values: dict[str, Any], password: str | None = None,
                stored_hash: str | None = None) -> list[NoteWarning]:
    """Refuse notes holding the password typed in this save (or, for the few words that
    look like credentials, the stored one); return the warnings for the rest."""
    out: list[NoteWarning] = []
    checked = 0
    for field in ("public_notes", "private_notes"):
        text = values.get(field) or ""
        label = "public notes" if field == "public_notes" else "private notes"
        if password and password in text:
            raise ValidationError(f"The {label} contain the contact's password; remove it (passwords must never be "
                                  "kept in notes) and save again.", field=field)
        warnings, words = note_warnings(field, text)
        out.extend(warnings)
        if stored_hash:
            for word in dict.fromkeys(words):
                if checked >= HASH_CHECKS_MAX:
                    break
                checked += 1
                if passwords.verify_password(word, stored_hash):
                    raise ValidationError(f"The {label} contain the contact's current password; remove it (passwords "
                                          "must never be kept in notes) and save again.", field=field)
    return out


# ---------------------------------------------------------------------------
# the form
# ---------------------------------------------------------------------------


@dataclass
class ContactForm:
    """The contact form as typed. ``password`` is a typed password (with
    auto_generate_password off); on an edit, empty leaves the password as it is."""

    name: str
    email: str
    phone: str = ""
    mobile: str = ""
    contact_type: str = "General"
    auto_generate_password: bool = True
    password: str = ""
    public_notes: str = ""
    private_notes: str = ""
    mobile_verified: bool = False
    email_verified: bool = False
    ip_whitelist: str = ""

    def __repr__(self) -> str:  # never print a typed password
        shown = {f.name: ("***" if f.name == "password" and self.password else getattr(self, f.name))
                 for f in fields(self)}
        return f"ContactForm({shown})"

    def clean(self, region: str | None = None) -> dict[str, Any]:
        """Column values (no password), or ValidationError naming the first wrong field.

        ``region``: the region national phone numbers are read in (see ``clean_form``,
        which reads it from Settings > Options); None: they need their country code."""
        email, email_key = normalise_email(self.email)
        values = {
            "name": normalise_name(self.name),
            "email": email,
            "email_key": email_key,
            "phone": normalise_phone(self.phone, "phone", region),
            "mobile": normalise_phone(self.mobile, "mobile", region),
            "contact_type": normalise_contact_type(self.contact_type),
            "auto_generate_password": _flag(self.auto_generate_password, "auto_generate_password",
                                            "Auto Generate Password"),
            "public_notes": normalise_notes(self.public_notes, "public_notes"),
            "private_notes": normalise_notes(self.private_notes, "private_notes"),
            "mobile_verified": _flag(self.mobile_verified, "mobile_verified", "Mobile Verified"),
            "email_verified": _flag(self.email_verified, "email_verified", "Email Verified"),
            "ip_whitelist": normalise_ip_whitelist(self.ip_whitelist),
        }
        if self.password:
            if values["auto_generate_password"]:
                raise ValidationError("Untick Auto Generate Password to type a password, or clear the password "
                                      "to have one generated and emailed.", field="password")
            passwords.check_policy(self.password, email)
        return values


VALUE_FIELDS = tuple(f.name for f in fields(ContactForm) if f.name != "password")


def default_region(session: Session) -> str:
    """Settings > Options: the region national phone numbers are read in."""
    return options.get(session, "default-region")


def clean_form(db: Database, form: ContactForm) -> dict[str, Any]:
    """``form.clean`` with the default phone region read from Settings > Options."""
    with db.read_session() as s:
        region = default_region(s)
    return form.clean(region)


@dataclass(frozen=True)
class ContactRecord:
    """One contact as the edit form shows it: ``phone`` and ``mobile`` as ``format_phone``
    shows them ("+44 20 7123 4567 ext. 12"; the column holds "+442071234567;ext=12"),
    which the form reads back as the same number."""

    id: int
    customer_id: int
    company: str
    name: str
    email: str
    phone: str
    mobile: str
    contact_type: str
    auto_generate_password: bool
    public_notes: str
    private_notes: str
    mobile_verified: bool
    email_verified: bool
    ip_whitelist: str
    has_password: bool
    password_changed_at: dt.datetime | None
    version: int
    updated_by: str
    updated_at: dt.datetime

    def form(self) -> ContactForm:
        """A form with this record's values and no typed password."""
        return ContactForm(**{name: getattr(self, name) for name in VALUE_FIELDS})


def _record(c: Contact, company: str) -> ContactRecord:
    skip = {"company", "has_password"}
    values = {f.name: getattr(c, f.name) for f in fields(ContactRecord) if f.name not in skip}
    values["phone"], values["mobile"] = format_phone(c.phone), format_phone(c.mobile)
    return ContactRecord(company=company, has_password=c.password_hash is not None, **values)


@dataclass(frozen=True)
class ContactRow:
    """One line of Contacts or Global Contacts (phone and mobile as ``format_phone`` shows them;
    sorting by them follows the stored E.164 form)."""

    id: int
    customer_id: int
    company: str
    name: str
    email: str
    phone: str
    mobile: str
    contact_type: str
    email_verified: bool
    mobile_verified: bool
    has_password: bool
    version: int


_ROW_COLUMNS = (
    Contact.id, Contact.customer_id, Customer.name, Contact.name, Contact.email, Contact.phone, Contact.mobile,
    Contact.contact_type, Contact.email_verified, Contact.mobile_verified, Contact.password_hash.is_not(None),
    Contact.version,
)


def _row(values) -> ContactRow:
    row = ContactRow(*values)
    return dataclasses.replace(row, phone=format_phone(row.phone), mobile=format_phone(row.mobile))


# ---------------------------------------------------------------------------
# reads
# ---------------------------------------------------------------------------


def get_contact(session: Session, contact_id: int) -> ContactRecord:
    c = session.get(Contact, contact_id)
    if c is None:
        raise NotFound(f"Contact {contact_id} was deleted meanwhile; refresh the list.")
    return _record(c, c.customer.name)


def list_contacts(session: Session, customer_id: int) -> list[ContactRow]:
    """A customer's contacts by name."""
    stmt = (select(*_ROW_COLUMNS).join(Customer, Customer.id == Contact.customer_id)
            .where(Contact.customer_id == customer_id).order_by(Contact.search_text))
    return [_row(row) for row in session.execute(stmt)]


#: Global Contacts sort keys -> ORDER BY columns (each list a total order)
SORT_KEYS = {
    "name": (Contact.search_text,),  # starts with the lower-cased name; unique (holds the email)
    "email": (Contact.email_key,),
    "company": (func.lower(Customer.name), Customer.id, Contact.name, Contact.id),
    "phone": (Contact.phone, Contact.id),
    "mobile": (Contact.mobile, Contact.id),
    "contact_type": (Contact.contact_type, Contact.id),
    "email_verified": (Contact.email_verified, Contact.id),
    "mobile_verified": (Contact.mobile_verified, Contact.id),
    "has_password": (Contact.password_hash.is_not(None), Contact.id),
    "id": (Contact.id,),
}
#: walking an index in sort order costs about this many times a row of a plain scan;
#: a search whose matches are rarer than 1 in this many rows is filtered first, then sorted
_RANDOM_READ_COST = 8
#: from this offset on, a page may be read backwards from the end when that is shorter
_REVERSE_FROM = 2_000
#: up to this many companies matching a search are passed as a list of ids
_COMPANY_IDS_MAX = 500


def _search(session: Session, search: str):
    """The condition for a search: a case-insensitive substring of the name, email, phone,
    mobile or company. A term of 5 or more digits written with phone characters only is
    matched by its digits without leading zeros, so the national "020 7123" and the
    international "0044 20 7123" both find +442071234567. The company part is only
    added when some company matches (most terms match none). On PostgreSQL a pg_trgm
    index (see the migration) answers the substring test; on SQLite it is one scan of
    the narrow ix_contacts_search index."""
    term = " ".join((search or "").split())
    if not term:
        return None
    digits = re.sub(r"\D", "", term)
    needle = digits.lstrip("0") if _PHONE_CHARS_RE.fullmatch(term) and len(digits) >= 5 else term.lower()
    cond = Contact.search_text.contains(needle, autoescape=True)
    companies = select(Customer.id).where(func.lower(Customer.name).contains(needle, autoescape=True))
    ids = session.scalars(companies.limit(_COMPANY_IDS_MAX + 1)).all()
    if ids:  # a list of ids lets PostgreSQL OR two index scans; a subquery would not
        cond = cond | Contact.customer_id.in_(ids if len(ids) <= _COMPANY_IDS_MAX else companies)
    return cond


def global_contacts_count(session: Session, search: str = "") -> int:
    stmt = select(func.count()).select_from(Contact)
    cond = _search(session, search)
    if cond is not None:
        stmt = stmt.where(cond)
    return session.execute(stmt).scalar_one()


def global_contacts_page(session: Session, search: str = "", sort_key: str = "name", descending: bool = False,
                         offset: int = 0, limit: int = 100, *, total: int | None = None) -> list[ContactRow]:
    """One page of Global Contacts: rows ``offset`` .. ``offset + limit - 1`` of the
    contacts matching ``search``, sorted by ``sort_key``.

    Pass ``total`` (from global_contacts_count for the same search) when you have it:
    the query uses it to choose its plan (a rare search term is filtered first and then
    sorted; a common one is read in index order) and to read deep pages from the end.
    """
    if sort_key not in SORT_KEYS:
        raise ValueError(f"unknown sort key {sort_key!r}; one of {', '.join(SORT_KEYS)}")
    if offset < 0 or limit < 0:
        raise ValueError("offset and limit must not be negative")
    cond = _search(session, search)
    if total is None and (cond is not None or offset >= _REVERSE_FROM):
        total = global_contacts_count(session, search)
    reverse = total is not None and offset >= _REVERSE_FROM and offset + limit / 2 > total / 2
    if reverse:
        limit = max(0, min(limit, total - offset))
        offset = total - offset - limit
    if limit == 0:
        return []
    backwards = descending != reverse
    order = [col.desc() if backwards else col.asc() for col in SORT_KEYS[sort_key]]
    # the page's ids first, from contacts alone unless sorting by company, then their rows
    ids = select(Contact.id)
    if sort_key == "company":
        ids = ids.join(Customer, Customer.id == Contact.customer_id)
    if cond is not None:
        if (offset + limit) * _RANDOM_READ_COST < total:
            ids = ids.where(cond)  # dense: matches come soon in index order
        elif session.get_bind().dialect.name == "postgresql":  # rare: find the matches first, then sort
            matches = select(Contact.id.label("id")).where(cond).cte("matches").prefix_with("MATERIALIZED")
            ids = ids.join(matches, matches.c.id == Contact.id)
        else:  # SQLite evaluates an IN list first
            ids = ids.where(Contact.id.in_(select(Contact.id).where(cond)))
    page = ids.order_by(*order).offset(offset).limit(limit).subquery("page")
    stmt = (select(*_ROW_COLUMNS).join_from(page, Contact, Contact.id == page.c.id)
            .join(Customer, Customer.id == Contact.customer_id).order_by(*order))
    rows = [_row(row) for row in session.execute(stmt)]
    if reverse:
        rows.reverse()
    return rows


# ---------------------------------------------------------------------------
# writes
# ---------------------------------------------------------------------------


def _login_owner(session: Session, email_key: str, except_id: int | None = None):
    """(id, name, email, company) of the contact whose login is ``email_key`` (also under
    the key it had before keys held the ASCII domain), if any."""
    stmt = (select(Contact.id, Contact.name, Contact.email, Customer.name)
            .join(Customer, Customer.id == Contact.customer_id)
            .where(Contact.email_key.in_(_legacy_keys(email_key))).order_by(Contact.id))
    if except_id is not None:
        stmt = stmt.where(Contact.id != except_id)
    return session.execute(stmt).first()


def email_owner(session: Session, email_key: str, except_id: int | None = None) -> tuple[int, str] | None:
    """(contact id, company) of the contact whose login is ``email_key``, if any."""
    row = _login_owner(session, email_key, except_id)
    return None if row is None else (row[0], row[3])


def check_email_free(session: Session, email: str, email_key: str, except_id: int | None = None) -> None:
    """ConflictError naming the contact whose login ``email_key`` already is (``ann@müller.de``
    and ``ann@xn--mller-kva.de`` are one login)."""
    owner = _login_owner(session, email_key, except_id)
    if owner is not None:
        cid, name, their_email, company = owner
        raise ConflictError(f"{email} is already the login of contact {cid} ({name} <{their_email}>) of {company}; "
                            "every contact needs an email address of their own.", field="email")


def load_for_update(session: Session, contact_id: int) -> Contact:
    c = session.get(Contact, contact_id, with_for_update=True, populate_existing=True)
    if c is None:
        raise NotFound(f"Contact {contact_id} was deleted meanwhile; refresh the list.")
    return c


def screen_notes(values: dict[str, Any], confirm_warnings: bool, password: str | None = None,
                 stored_hash: str | None = None) -> None:
    """check_notes, then NeedsConfirmation for its warnings unless they were confirmed."""
    warnings = check_notes(values, password, stored_hash)
    if warnings and not confirm_warnings:
        raise NeedsConfirmation(warnings)


def assign(contact: Contact, values: dict[str, Any]) -> list[str]:
    """Set the values that differ; returns their names."""
    changed = [k for k, v in values.items() if getattr(contact, k) != v]
    for key in changed:
        setattr(contact, key, values[key])
    return changed


def mail_address(email: str) -> str:
    """The address to send mail to: with an ASCII local part, the domain in ASCII
    ("ann@müller.de" -> "ann@xn--mller-kva.de"), which every SMTP server accepts; otherwise
    the stored form (the server must then offer SMTPUTF8)."""
    try:
        v = email_validator.validate_email(email, check_deliverability=False, allow_smtputf8=True,
                                           globally_deliverable=False, test_environment=False)
    except email_validator.EmailNotValidError:
        return email
    return v.ascii_email or email


def mail_password(uow: UnitOfWork, contact: Contact, password: str, smtp=None) -> None:
    """Email ``password`` to the contact (a SEND entry in ``uow``); MailError when it fails.
    The login in the message is the stored email; the envelope uses ``mail_address``."""
    from cxdesk.services import mail  # only when mailing: it loads the keyring

    settings = smtp or mail.SmtpSettings.load(uow.session)
    mail.send_password_email(uow, settings, mail_address(contact.email), contact.email, password,
                             table=Contact.__tablename__, primary_key=contact.id, customer_id=contact.customer_id)


def check_password_mail(session: Session, smtp=None) -> None:
    """Before a password is generated: ValidationError (on the Auto Generate field) saying why
    it could not be emailed (no mail server, no sender or portal URL, unencrypted SMTP that no
    administrator allowed); ``smtp``: settings to use instead of the saved ones."""
    from cxdesk.services import mail  # only when mailing: it loads the keyring

    mail.require_password_mail(session, smtp, field="auto_generate_password")


def check_schedulable(db: Database, form: ContactForm, *, new_contact: bool) -> None:
    """Delay and Save: refuse now what could not be applied when due. A new contact with Auto
    Generate Password gets its password emailed then, so the mail settings must allow it now."""
    if new_contact and form.auto_generate_password and not form.password:
        with db.read_session() as s:
            check_password_mail(s)


def insert(uow: UnitOfWork, customer_id: int, values: dict[str, Any], *, typed_password: str = "",
           smtp=None, message: str | None = None) -> Contact:
    """Add a contact in ``uow``; with auto_generate_password (and no typed password) a
    generated password is emailed after the row is written and before the commit."""
    customer = uow.session.get(Customer, customer_id)
    if customer is None:
        raise NotFound(f"Customer {customer_id} was deleted meanwhile; choose another company.")
    check_email_free(uow.session, values["email"], values["email_key"])
    auto = values["auto_generate_password"] and not typed_password
    if auto:
        check_password_mail(uow.session, smtp)
    generated = passwords.generate_password() if auto else ""
    secret = typed_password or generated
    contact = Contact(customer_id=customer_id, **values)
    if secret:
        contact.password_hash = passwords.hash_password(secret)
        contact.password_changed_at = uow.now
    uow.add(contact, message=message)
    uow.flush()
    if generated:
        mail_password(uow, contact, generated, smtp)
    return contact


def create_contact(db: Database, actor: Actor, customer_id: int, form: ContactForm, *,
                   confirm_warnings: bool = False, comment: str = "", smtp=None) -> ContactRecord:
    """Add a contact to a customer (Global Contacts: the chosen company).

    With Auto Generate Password ticked, a password is generated and emailed to the
    contact (``smtp``: settings to use instead of the saved ones); if the email cannot
    be sent, nothing is saved. With it unticked, the typed password is used; without
    one, the contact has no portal password until one is set.
    """
    actor.require("edit_contacts")
    values = clean_form(db, form)
    screen_notes(values, confirm_warnings, form.password or None)
    with unit_of_work(db, actor, comment) as uow:
        contact = insert(uow, customer_id, values, typed_password=form.password, smtp=smtp)
        return _record(contact, contact.customer.name)


def update_contact(db: Database, actor: Actor, contact_id: int, expected_version: int, form: ContactForm, *,
                   confirm_warnings: bool = False, comment: str = "") -> ContactRecord:
    """Save the edit form; refused when the contact changed since ``expected_version``.

    A typed password (auto generate unticked) replaces the current one; empty keeps it.
    """
    actor.require("edit_contacts")
    values = clean_form(db, form)
    with unit_of_work(db, actor, comment) as uow:
        c = load_for_update(uow.session, contact_id)
        check_version(c, expected_version, f"contact {c.email}")
        screen_notes(values, confirm_warnings, form.password or None, None if form.password else c.password_hash)
        if values["email_key"] != c.email_key:
            check_email_free(uow.session, values["email"], values["email_key"], except_id=c.id)
        assign(c, values)
        if form.password:
            c.password_hash = passwords.hash_password(form.password)
            c.password_changed_at = uow.now
        uow.flush()
        return _record(c, c.customer.name)


def delete_contact(db: Database, actor: Actor, contact_id: int, expected_version: int | None = None,
                   comment: str = "") -> None:
    """Delete a contact; with ``expected_version``, refused if it changed since it was shown."""
    actor.require("edit_contacts")
    with unit_of_work(db, actor, comment) as uow:
        c = load_for_update(uow.session, contact_id)
        check_version(c, expected_version, f"contact {c.email}")
        uow.delete(c)


def change_password(db: Database, actor: Actor, contact_id: int, password: str | None = None, *,
                    comment: str = "", smtp=None) -> None:
    """Row action Change Password.

    ``password`` None: generate one and email it to the contact first, then save its
    hash (if sending fails nothing changes). A typed ``password`` must meet the policy
    and is saved without an email.
    """
    actor.require("edit_contacts")
    with unit_of_work(db, actor, comment) as uow:
        c = load_for_update(uow.session, contact_id)
        if password is None:
            check_password_mail(uow.session, smtp)
            secret = passwords.generate_password()
            mail_password(uow, c, secret, smtp)
            uow.note(c, message=f"Generated and emailed a new portal password for {c.audit_label()}",
                     action="GENERATE")
        else:
            passwords.check_policy(password, c.email)
            if password in c.public_notes or password in c.private_notes:
                raise ValidationError("The contact's notes contain this password; choose another one (passwords "
                                      "must never be kept in notes).", field="password")
            secret = password
            uow.note(c, message=f"Set a new portal password by hand for {c.audit_label()}")
        c.password_hash = passwords.hash_password(secret)
        c.password_changed_at = uow.now


def portal_url_for(portal: str, email: str) -> str:
    """The portal's login page with the contact's login filled in: {portal}/login?as=<email>."""
    parts = urlsplit(portal)
    base = f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}"
    return f"{base}/login?as={quote(email, safe='@')}"


def portal_login_url(db: Database, actor: Actor, contact_id: int, comment: str = "") -> str:
    """Row action Portal Login: the URL to open, audited as LOGIN.

    The URL carries no secret; the portal still checks who opens it.
    """
    actor.require("edit_contacts")
    with unit_of_work(db, actor, comment) as uow:
        s = uow.session
        c = s.get(Contact, contact_id)
        if c is None:
            raise NotFound(f"Contact {contact_id} was deleted meanwhile; refresh the list.")
        portal = options.get(s, "portal-url")
        if not portal:
            raise ValidationError("No Customer Portal URL is set; an administrator sets it in Settings > Options "
                                  "(portal-url).", field="portal-url")
        if not c.customer.portal_access:
            raise ValidationError(f"Portal Access is off for {c.customer.name}; turn it on in the customer's "
                                  "settings first.", field="portal_access")
        url = portal_url_for(portal, c.email)
        uow.record("LOGIN", Contact.__tablename__, c.id, f"Opened the customer portal as {c.email}",
                   after={"url": url}, customer_id=c.customer_id)
    return url
