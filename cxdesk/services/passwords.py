"""Passwords: preparation, slow salted hashes, the policy for typed passwords, generated ones, SIP HA1.

Preparation. Every password (operator, portal contact, SIP user) is first prepared with the
PRECIS OpaqueString profile (RFC 8265, library ``precis-i18n``): non-ASCII spaces become
U+0020 and the text is put in Unicode NFC, so the NFC and NFD spellings of one password
are the same password; control characters, unassigned code points and other characters
the profile disallows are refused with one sentence. Printable ASCII is left exactly as
typed, so every hash and HA1 made from an ASCII password before preparation existed
(all generated passwords, for one) is unchanged.

Hashes. Operator and portal passwords are only ever checked by this program, so they are
kept as argon2id hashes (``argon2-cffi``, PHC string ``$argon2id$v=19$m=...,t=...,p=...$salt$hash``)
with OWASP's first recommended setting: m = 19 MiB (19456 KiB), t = 2, p = 1, a 16-byte
salt and a 32-byte hash (about 60 ms on a workstation). Hashes written before this
(``scrypt$n$r$p$salt$hash``, n=2**14, r=8, p=1) still verify; :func:`needs_rehash` tells
the caller to replace them (operators: at the next successful sign-in).

A stored hash is data from a database, so its cost is bounded before anything is
computed: argon2 m <= 256 MiB, t <= 10, p <= 8; scrypt n <= 2**17, r <= 8, p <= 4. A hash
beyond that (or unreadable) is treated as damaged: verification returns False at once
and logs a warning naming the parameters (never the hash or the password).

A SIP password must stay usable by a switch for digest authentication, so it is kept as
HA1 instead (see :func:`sip_ha1`).
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import logging
import re
import secrets
import string
import threading
from collections.abc import Iterable

import zxcvbn as _zxcvbn
from argon2 import PasswordHasher, Type, extract_parameters
from argon2.exceptions import InvalidHashError, VerificationError
from precis_i18n import get_profile

from cxdesk.errors import ValidationError

log = logging.getLogger(__name__)

SCHEME = "argon2id"
#: argon2id cost (OWASP Password Storage Cheat Sheet: m=19 MiB, t=2, p=1)
ARGON2_MEMORY_KIB, ARGON2_TIME, ARGON2_PARALLELISM = 19 * 1024, 2, 1
SALT_BYTES = 16
KEY_BYTES = 32
#: stored argon2 parameters beyond these are refused as damaged, never run
ARGON2_MAX_MEMORY_KIB, ARGON2_MAX_TIME, ARGON2_MAX_PARALLELISM = 256 * 1024, 10, 8

#: the hashes written before argon2id; verified, never written
LEGACY_SCHEME = "scrypt"
#: stored scrypt parameters beyond these are refused as damaged, never run
SCRYPT_MAX_N, SCRYPT_MAX_R, SCRYPT_MAX_P = 2**17, 8, 4
#: hash and salt lengths (bytes) a stored hash may have, both schemes
_KEY_RANGE, _SALT_RANGE = range(16, 65), range(8, 65)

MIN_LENGTH = 10
MAX_LENGTH = 200
#: zxcvbn score (0-4) a typed password needs
MIN_SCORE = 3
#: zxcvbn's cost grows steeply with length (a random 200-character text takes seconds);
#: a longer password is judged by its first ZXCVBN_MAX_LENGTH characters
ZXCVBN_MAX_LENGTH = 72
#: a typed password longer than this is not even prepared for verification
_MAX_VERIFY_LENGTH = 4 * MAX_LENGTH
GENERATED_LENGTH = 16
#: no 0/O, 1/l/I: generated passwords are read from an email and typed by hand
_GENERATED_ALPHABET = "".join(c for c in string.ascii_letters + string.digits if c not in "0O1lI")

_HASHER = PasswordHasher(time_cost=ARGON2_TIME, memory_cost=ARGON2_MEMORY_KIB, parallelism=ARGON2_PARALLELISM,
                         hash_len=KEY_BYTES, salt_len=SALT_BYTES, type=Type.ID)
_OPAQUE = get_profile("OpaqueString")
#: zxcvbn keeps the user inputs of a call in a module-level dictionary: one call at a time
_ZXCVBN_LOCK = threading.Lock()

_PRECIS_SENTENCES = {
    "controls": "a control character (such as a tab or a line break)",
    "unassigned": "a character that Unicode does not define (unassigned)",
    "precis_ignorable_properties": "an invisible or reserved character (such as a zero-width space)",
}


# ---------------------------------------------------------------------------
# preparation
# ---------------------------------------------------------------------------


def prepare(password: str) -> str:
    """The PRECIS OpaqueString form of ``password`` (NFC, non-ASCII spaces as U+0020),
    or ValidationError (field ``password``) naming what cannot be in a password."""
    if not isinstance(password, str) or not password:
        raise ValidationError("Type a password.", field="password")
    try:
        return _OPAQUE.enforce(password)
    except UnicodeError as exc:
        reason = (exc.args[4] if len(exc.args) > 4 else "").rpartition("/")[2]
        if reason == "empty":
            raise ValidationError("Type a password.", field="password") from None
        position = exc.args[2] + 1 if len(exc.args) > 2 and isinstance(exc.args[2], int) else None
        what = _PRECIS_SENTENCES.get(reason, "a character that cannot be used in a password")
        where = f" (character {position})" if position else ""
        raise ValidationError(f"The password contains {what}{where}; remove it and type the password again.",
                              field="password") from None


def _prepared_or_none(password: str) -> str | None:
    try:
        return prepare(password)
    except ValidationError:
        return None


# ---------------------------------------------------------------------------
# hashes
# ---------------------------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int, dklen: int) -> bytes:
    return hashlib.scrypt(password.encode("utf-8"), salt=salt, n=n, r=r, p=p,
                          maxmem=129 * r * n * p + 1024 * 1024, dklen=dklen)


def hash_password(password: str) -> str:
    """A new salted argon2id hash of the prepared ``password`` (ValidationError if it
    cannot be prepared)."""
    return _HASHER.hash(prepare(password))


def _damaged(why: str) -> bool:
    log.warning("A stored password hash was refused as damaged (%s); it was not verified.", why)
    return False


def _argon2_parameters(stored: str):
    """The parameters of an argon2id hash within the ceilings, or None (logged)."""
    try:
        params = extract_parameters(stored)
    except (InvalidHashError, ValueError, TypeError):
        _damaged("unreadable argon2 hash")
        return None
    if params.type is not Type.ID or params.version != 19:
        _damaged(f"argon2 type {params.type.name} version {params.version}")
        return None
    if not (0 < params.memory_cost <= ARGON2_MAX_MEMORY_KIB and 0 < params.time_cost <= ARGON2_MAX_TIME
            and 0 < params.parallelism <= ARGON2_MAX_PARALLELISM
            and params.hash_len in _KEY_RANGE and params.salt_len in _SALT_RANGE):
        _damaged(f"argon2 m={params.memory_cost} KiB, t={params.time_cost}, p={params.parallelism}, "
                 f"hash {params.hash_len} bytes, salt {params.salt_len} bytes, beyond the ceiling "
                 f"m={ARGON2_MAX_MEMORY_KIB}, t={ARGON2_MAX_TIME}, p={ARGON2_MAX_PARALLELISM}")
        return None
    return params


def _scrypt_parts(stored: str):
    """(n, r, p, salt, key) of a legacy scrypt hash within the ceilings, or None (logged)."""
    try:
        scheme, n, r, p, salt_b64, key_b64 = stored.split("$")
        n, r, p = int(n), int(r), int(p)
        salt = base64.b64decode(salt_b64, validate=True)
        key = base64.b64decode(key_b64, validate=True)
    except (ValueError, binascii.Error):
        _damaged("unreadable scrypt hash")
        return None
    if not (1 < n <= SCRYPT_MAX_N and n & (n - 1) == 0 and 0 < r <= SCRYPT_MAX_R and 0 < p <= SCRYPT_MAX_P
            and len(key) in _KEY_RANGE and len(salt) in _SALT_RANGE):
        _damaged(f"scrypt n={n}, r={r}, p={p}, key {len(key)} bytes, salt {len(salt)} bytes, beyond the "
                 f"ceiling n={SCRYPT_MAX_N}, r={SCRYPT_MAX_R}, p={SCRYPT_MAX_P} or malformed")
        return None
    return n, r, p, salt, key


def verify_password(password: str, stored: str | None) -> bool:
    """True when ``password`` matches ``stored``; False for a wrong, unreadable or
    too costly hash (the last two logged, never computed).

    argon2id hashes are checked against the prepared password. Legacy scrypt hashes were
    made from the password as typed, so they are checked against it as typed and, when
    preparation changes it (NFD typed, NFC stored), against the prepared form too.
    """
    if not stored or not isinstance(password, str) or len(password) > _MAX_VERIFY_LENGTH:
        return False
    if stored.startswith("$argon2"):
        if _argon2_parameters(stored) is None:
            return False
        prepared = _prepared_or_none(password)
        if prepared is None:  # no stored hash was ever made from such a text
            return False
        try:
            return _HASHER.verify(stored, prepared)
        except VerificationError:  # VerifyMismatchError is one
            return False
        except InvalidHashError:
            return _damaged("unreadable argon2 hash")
    if stored.startswith(LEGACY_SCHEME + "$"):
        parts = _scrypt_parts(stored)
        if parts is None:
            return False
        n, r, p, salt, key = parts
        prepared = _prepared_or_none(password)
        for candidate in dict.fromkeys(c for c in (password, prepared) if c):
            try:
                if hmac.compare_digest(_scrypt(candidate, salt, n, r, p, len(key)), key):
                    return True
            except (ValueError, MemoryError):
                return _damaged("scrypt refused its parameters")
        return False
    return _damaged("unknown hash scheme")


def needs_rehash(stored: str | None) -> bool:
    """True when ``stored`` is not an argon2id hash with today's parameters (a legacy
    scrypt hash, or argon2id with other costs): after a successful verification the
    caller should store :func:`hash_password` of the password instead."""
    if not stored or not stored.startswith("$argon2id$"):
        return True
    try:
        return _HASHER.check_needs_rehash(stored)
    except (InvalidHashError, ValueError):
        return True


def rehash(password: str, stored: str | None) -> str | None:
    """The new hash to store after ``password`` verified against ``stored``, or None
    when ``stored`` is already current (or the password, accepted by a legacy hash,
    cannot be prepared: it keeps its old hash)."""
    if not needs_rehash(stored):
        return None
    try:
        return hash_password(password)
    except ValidationError:
        log.warning("A legacy password hash was not upgraded: the password cannot be prepared (PRECIS).")
        return None


def verify_and_update(password: str, stored: str | None) -> tuple[bool, str | None]:
    """(matches, new hash or None) for a sign-in: store the new hash when there is one."""
    if not verify_password(password, stored):
        return False, None
    return True, rehash(password, stored)


# ---------------------------------------------------------------------------
# the policy for typed passwords
# ---------------------------------------------------------------------------


def _words(texts: Iterable[str | None]) -> list[str]:
    """The user inputs zxcvbn matches against: each text, an address's local part and
    domain, and their words."""
    out: dict[str, None] = {}
    for text in texts:
        value = (text or "").strip().casefold()
        if not value:
            continue
        out[value] = None
        local, _, domain = value.partition("@")
        for part in (local, domain, *re.split(r"[^\w]+|_", value)):
            if len(part) >= 2:
                out[part] = None
    return list(out)


def strength(password: str, user_inputs: Iterable[str | None] = ()) -> dict:
    """zxcvbn's verdict on (the first ZXCVBN_MAX_LENGTH characters of) ``password``."""
    with _ZXCVBN_LOCK:
        return _zxcvbn.zxcvbn(password[:ZXCVBN_MAX_LENGTH], user_inputs=_words(user_inputs))


def _too_easy(feedback: dict) -> str:
    warning = (feedback.get("warning") or "").strip().rstrip(".")
    suggestions = " ".join(s.strip() for s in feedback.get("suggestions") or () if s.strip())
    if not suggestions:
        suggestions = "Add another word or two, or use a generated password."
    head = "This password is too easy to guess"
    return f"{head}: {warning}. {suggestions}" if warning else f"{head}. {suggestions}"


def check_policy(password: str, email: str | None = None, *, user_inputs: Iterable[str | None] = ()) -> None:
    """Raise ValidationError (field ``password``) naming the rule a typed password breaks.

    ``email`` is the address (or login, or SIP extension) the password belongs to; the
    password may not be it, nor its part before the @. ``user_inputs`` are other words
    about the person (display name...). The password must survive PRECIS preparation,
    have MIN_LENGTH to MAX_LENGTH characters, and score MIN_SCORE or more with zxcvbn
    (email and user_inputs passed to it, so a password built from them is weak).
    """
    if isinstance(password, str) and len(password) > _MAX_VERIFY_LENGTH:
        raise ValidationError(f"The password is too long; use at most {MAX_LENGTH} characters.", field="password")
    prepared = prepare(password)
    if len(prepared) < MIN_LENGTH:
        raise ValidationError(
            f"The password is too short ({len(prepared)} characters); use at least {MIN_LENGTH}.",
            field="password")
    if len(prepared) > MAX_LENGTH:
        raise ValidationError(f"The password is too long; use at most {MAX_LENGTH} characters.",
                              field="password")
    folded = prepared.strip().casefold()
    if email:
        address = email.strip().casefold()
        if folded in {address, address.split("@", 1)[0]}:
            raise ValidationError("The password must not be the email address or login it belongs to; choose another.",
                                  field="password")
    verdict = strength(prepared, [email, *user_inputs])
    if verdict["score"] < MIN_SCORE:
        raise ValidationError(_too_easy(verdict["feedback"]), field="password")


def generate_password(length: int = GENERATED_LENGTH) -> str:
    """A random password (secrets module) with lower case, upper case and digits."""
    if length < GENERATED_LENGTH:
        raise ValueError(f"generated passwords have at least {GENERATED_LENGTH} characters")
    while True:
        pw = "".join(secrets.choice(_GENERATED_ALPHABET) for _ in range(length))
        if (any(c.islower() for c in pw) and any(c.isupper() for c in pw)
                and any(c.isdigit() for c in pw)):
            return pw


def sip_ha1(username: str, realm: str, password: str) -> str:
    """The SIP digest HA1: MD5 hex of "username:realm:prepared password" (RFC 2617).

    The password is prepared first (PRECIS OpaqueString, see :func:`prepare`): the NFC
    and NFD spellings of one password give one HA1, and a password that cannot be
    prepared is refused (ValidationError). A phone must send the NFC spelling, as RFC 8265
    asks of every client. Preparation leaves printable ASCII as it is, so the HA1 values
    stored for ASCII passwords (every generated one) before preparation existed are unchanged.
    """
    data = f"{username}:{realm}:{prepare(password)}".encode("utf-8")
    return hashlib.md5(data, usedforsecurity=False).hexdigest()
