import hashlib
import time

import pytest

from cxdesk.errors import ValidationError
from cxdesk.services import passwords


def test_hash_has_the_documented_format_and_verifies():
    stored = passwords.hash_password("correct horse battery")
    scheme, n, r, p, salt, key = stored.split("$")
    assert (scheme, int(n), int(r), int(p)) == ("scrypt", 2**14, 8, 1)
    assert "correct horse battery" not in stored
    assert passwords.verify_password("correct horse battery", stored)
    assert not passwords.verify_password("correct horse batterY", stored)
    assert not passwords.verify_password("", stored)


def test_salt_makes_every_hash_different():
    a, b = passwords.hash_password("same-password-1"), passwords.hash_password("same-password-1")
    assert a != b
    assert passwords.verify_password("same-password-1", a) and passwords.verify_password("same-password-1", b)


def test_hash_is_slow_enough():
    start = time.perf_counter()
    passwords.hash_password("timing-password")
    # scrypt n=2**14,r=8 needs 16 MiB and tens of milliseconds; a fast hash takes microseconds
    assert time.perf_counter() - start > 0.01


def test_stronger_stored_parameters_still_verify():
    import base64
    salt = b"0123456789abcdef"
    key = hashlib.scrypt(b"pw-for-stronger", salt=salt, n=2**15, r=8, p=1, maxmem=64 * 2**20, dklen=32)
    stored = f"scrypt$32768$8$1${base64.b64encode(salt).decode()}${base64.b64encode(key).decode()}"
    assert passwords.verify_password("pw-for-stronger", stored)
    assert not passwords.verify_password("pw-for-weaker!", stored)


@pytest.mark.parametrize("stored", [
    None, "", "plain-text-password", "md5$abc", "scrypt$16384$8$1$!!notbase64$AAAA",
    "scrypt$16384$8$1$AAAA$", "scrypt$x$8$1$AAAA$AAAA", "bcrypt$16384$8$1$AAAA$AAAA",
    "scrypt$1073741824$8$1$AAAA$AAAA",  # absurd cost from a damaged row: refused, not computed
])
def test_unreadable_hashes_never_verify(stored):
    assert passwords.verify_password("anything-at-all", stored) is False


@pytest.mark.parametrize("password,email,words", [
    ("k9#Zq", None, "too short (5 characters); use at least 10"),
    ("123456789", None, "too short (9 characters)"),
    ("ann.smith@example.com", "Ann.Smith@Example.com", "must not be the email"),
    ("ann.smith.", "ann.smith.@example.com", "must not be the email"),
    ("Password123", None, "common passwords"),
    ("QWERTYUIOP", None, "common passwords"),
    ("x" * 201, None, "too long"),
])
def test_policy_names_the_rule_that_failed(password, email, words):
    with pytest.raises(ValidationError) as err:
        passwords.check_policy(password, email=email)
    assert words in str(err.value)
    assert err.value.field == "password"
    assert password not in str(err.value)  # never echo a typed password


@pytest.mark.parametrize("password", ["abcdefghij", "Tr0ub4dor&3x", "ann.smith@example.org"])
def test_policy_accepts_good_passwords(password):
    passwords.check_policy(password, email="ann.smith@example.com")


def test_generated_passwords_meet_the_policy_and_differ():
    seen = set()
    for _ in range(200):
        pw = passwords.generate_password()
        assert len(pw) >= 16
        passwords.check_policy(pw, email="someone@example.com")
        assert any(c.islower() for c in pw) and any(c.isupper() for c in pw) and any(c.isdigit() for c in pw)
        assert not set(pw) & set("0O1lI")
        seen.add(pw)
    assert len(seen) == 200
    assert len(passwords.generate_password(24)) == 24
    with pytest.raises(ValueError):
        passwords.generate_password(8)


def test_sip_ha1_is_md5_of_user_realm_password():
    # RFC 2617 section 3.5 example values
    assert passwords.sip_ha1("Mufasa", "testrealm@host.com", "Circle Of Life") == "939e7578ed9e3c518a452acee763bce9"
    assert passwords.sip_ha1("2100", "cxdesk", "pässword") == hashlib.md5("2100:cxdesk:pässword".encode()).hexdigest()
