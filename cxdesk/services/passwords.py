"""Passwords: slow salted hashes, the policy for typed passwords, generated ones, SIP HA1.

Operator and portal passwords are only ever checked by this program, so they are kept
as scrypt hashes (``scrypt$n$r$p$salt$hash``, salt and hash in base64; n=2**14, r=8,
p=1 costs about 70 ms and 16 MiB). A SIP password must stay usable by a switch for
digest authentication, so it is kept as HA1 instead (see :func:`sip_ha1`).
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import string

from cxdesk.errors import ValidationError

SCHEME = "scrypt"
N, R, P = 2**14, 8, 1
SALT_BYTES = 16
KEY_BYTES = 32
#: refuse stored parameters beyond these (a damaged row must not eat all memory)
MAX_N, MAX_R, MAX_P = 2**20, 32, 16

MIN_LENGTH = 10
MAX_LENGTH = 200
GENERATED_LENGTH = 16
#: no 0/O, 1/l/I: generated passwords are read from an email and typed by hand
_GENERATED_ALPHABET = "".join(c for c in string.ascii_letters + string.digits if c not in "0O1lI")

#: the commonest passwords of policy length (lower case); a short list, not a dictionary
COMMON_PASSWORDS = frozenset({
    "1234567890", "12345678910", "0123456789", "0987654321", "1111111111", "1234512345",
    "1q2w3e4r5t", "1qaz2wsx3edc", "abcd123456", "abc1234567", "password1!", "password12",
    "password123", "password1234", "passw0rd123", "p@ssw0rd123", "qwertyuiop", "qwerty1234",
    "qwerty12345", "qwerty123456", "asdfghjkl1", "azertyuiop", "iloveyou12", "iloveyou123",
    "letmein123", "welcome123", "welcome1234", "changeme123", "administrator", "admin12345",
    "admin123456", "football123", "baseball123", "superman123", "trustno1234", "sunshine123",
    "princess123", "dragon12345", "monkey12345", "1234qwerasdf", "zaq12wsxcde", "q1w2e3r4t5",
    "zxcvbnm123", "secret1234", "starwars123", "computer123", "internet123",
})


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int, dklen: int) -> bytes:
    return hashlib.scrypt(password.encode("utf-8"), salt=salt, n=n, r=r, p=p,
                          maxmem=129 * r * n * p + 1024 * 1024, dklen=dklen)


def hash_password(password: str) -> str:
    """A new salted scrypt hash of ``password``."""
    salt = secrets.token_bytes(SALT_BYTES)
    key = _scrypt(password, salt, N, R, P, KEY_BYTES)
    return f"{SCHEME}${N}${R}${P}${_b64(salt)}${_b64(key)}"


def verify_password(password: str, stored: str | None) -> bool:
    """True when ``password`` matches ``stored``; False for a wrong or unreadable hash."""
    try:
        scheme, n, r, p, salt_b64, key_b64 = (stored or "").split("$")
        n, r, p = int(n), int(r), int(p)
        salt = base64.b64decode(salt_b64, validate=True)
        key = base64.b64decode(key_b64, validate=True)
    except (ValueError, binascii.Error):
        return False
    if scheme != SCHEME or not (1 < n <= MAX_N and 0 < r <= MAX_R and 0 < p <= MAX_P) or not key:
        return False
    try:
        derived = _scrypt(password, salt, n, r, p, len(key))
    except ValueError:  # e.g. n not a power of two: a damaged row
        return False
    return hmac.compare_digest(derived, key)


def check_policy(password: str, email: str | None = None) -> None:
    """Raise ValidationError naming the rule a typed password breaks.

    ``email`` is the address (or login) the password belongs to; the password may be
    neither that nor its part before the @.
    """
    if len(password) < MIN_LENGTH:
        raise ValidationError(
            f"The password is too short ({len(password)} characters); use at least {MIN_LENGTH}.",
            field="password")
    if len(password) > MAX_LENGTH:
        raise ValidationError(f"The password is too long; use at most {MAX_LENGTH} characters.",
                              field="password")
    folded = password.strip().casefold()
    if email:
        address = email.strip().casefold()
        if folded in {address, address.split("@", 1)[0]}:
            raise ValidationError("The password must not be the email address or login it belongs to; choose another.",
                                  field="password")
    if folded in COMMON_PASSWORDS:
        raise ValidationError("That password is on the list of common passwords that are guessed first; choose another.",
                              field="password")


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
    """The SIP digest HA1: MD5 hex of "username:realm:password" (RFC 2617)."""
    data = f"{username}:{realm}:{password}".encode("utf-8")
    return hashlib.md5(data, usedforsecurity=False).hexdigest()
