"""Passwords without a database: argon2id hashes and their cost, legacy scrypt hashes,
bounded stored parameters, PRECIS preparation, the zxcvbn policy, generated passwords, HA1."""
import base64
import hashlib
import logging
import time
import unicodedata

import argon2
import pytest

from cxdesk.errors import ValidationError
from cxdesk.services import passwords

NFC = unicodedata.normalize("NFC", "Grüße-aus-Köln-42")
NFD = unicodedata.normalize("NFD", NFC)


def legacy_scrypt(password: str, n: int = 2**14, r: int = 8, p: int = 1, salt: bytes = b"0123456789abcdef") -> str:
    """A hash as cxdesk wrote them before argon2id (scrypt$n$r$p$salt$key, of the text as typed)."""
    key = hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p, maxmem=129 * r * n * p + 2**20, dklen=32)
    return f"scrypt${n}${r}${p}${base64.b64encode(salt).decode()}${base64.b64encode(key).decode()}"


def with_argon2_cost(stored: str, m: int, t: int, p: int) -> str:
    """``stored`` (a real argon2id hash) claiming other costs: what a hostile row could hold."""
    parts = stored.split("$")
    parts[3] = f"m={m},t={t},p={p}"
    return "$".join(parts)


# ---------------------------------------------------------------------------
# hashes
# ---------------------------------------------------------------------------


def test_new_hashes_are_argon2id_with_the_documented_cost():
    stored = passwords.hash_password("correct horse battery")
    assert stored.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    params = argon2.extract_parameters(stored)
    assert (params.type, params.memory_cost, params.time_cost, params.parallelism, params.salt_len, params.hash_len) \
        == (argon2.Type.ID, 19 * 1024, 2, 1, 16, 32)
    # at least OWASP's minimum (m=19 MiB, t=2, p=1)
    assert params.memory_cost >= 19456 and params.time_cost >= 2 and params.parallelism >= 1
    assert "correct horse battery" not in stored and len(stored) <= 200  # fits operators/contacts columns
    assert passwords.verify_password("correct horse battery", stored)
    assert not passwords.verify_password("correct horse batterY", stored)
    assert not passwords.verify_password("", stored)
    assert not passwords.needs_rehash(stored)


def test_salt_makes_every_hash_different():
    a, b = passwords.hash_password("same-password-1"), passwords.hash_password("same-password-1")
    assert a != b
    assert passwords.verify_password("same-password-1", a) and passwords.verify_password("same-password-1", b)


def test_hash_is_slow_enough():
    start = time.perf_counter()
    passwords.hash_password("timing-password")
    # argon2id with 19 MiB takes tens of milliseconds; a fast hash takes microseconds
    assert time.perf_counter() - start > 0.01


def test_todays_scrypt_hashes_still_verify_and_ask_for_an_upgrade():
    stored = legacy_scrypt("pw-for-legacy")
    assert passwords.verify_password("pw-for-legacy", stored)
    assert not passwords.verify_password("pw-for-legacY", stored)
    assert passwords.needs_rehash(stored)
    ok, new = passwords.verify_and_update("pw-for-legacy", stored)
    assert ok and new.startswith("$argon2id$") and passwords.verify_password("pw-for-legacy", new)
    assert passwords.verify_and_update("wrong-password", stored) == (False, None)
    assert passwords.verify_and_update("pw-for-legacy", new) == (True, None)  # current: nothing to store
    stronger = legacy_scrypt("pw-for-stronger", n=2**15)  # within the ceiling
    assert passwords.verify_password("pw-for-stronger", stronger)


def test_argon2id_with_other_costs_verifies_and_asks_for_an_upgrade():
    weaker = argon2.PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash("pw-for-weaker")
    assert passwords.verify_password("pw-for-weaker", weaker)
    assert passwords.needs_rehash(weaker)
    assert passwords.rehash("pw-for-weaker", weaker).startswith("$argon2id$v=19$m=19456,t=2,p=1$")


def test_a_legacy_hash_of_an_unpreparable_password_verifies_but_is_kept():
    stored = legacy_scrypt("tab\there-legacy")  # the old policy allowed control characters
    assert passwords.verify_password("tab\there-legacy", stored)
    assert passwords.rehash("tab\there-legacy", stored) is None  # cannot be prepared: keeps its scrypt hash


@pytest.mark.parametrize("stored", [
    None, "", "plain-text-password", "md5$abc", "scrypt$16384$8$1$!!notbase64$AAAA",
    "scrypt$16384$8$1$AAAA$", "scrypt$x$8$1$AAAA$AAAA", "bcrypt$16384$8$1$AAAA$AAAA",
    "scrypt$1073741824$8$1$AAAA$AAAA", "$argon2id$v=19$m=19456,t=2,p=1$broken", "$argon2id$",
    "$argon2i$v=19$m=19456,t=2,p=1$MDEyMzQ1Njc4OWFiY2RlZg$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
])
def test_unreadable_hashes_never_verify(stored):
    assert passwords.verify_password("anything-at-all", stored) is False


def _hostile_hashes():
    real = argon2.PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash("pw-hostile")
    return [
        ("argon2 m=1 GiB", with_argon2_cost(real, 2**20, 1, 1)),
        ("argon2 m=257 MiB", with_argon2_cost(real, 256 * 1024 + 1, 1, 1)),
        ("argon2 t=11", with_argon2_cost(real, 8192, 11, 1)),
        ("argon2 t=1000", with_argon2_cost(real, 8192, 1000, 1)),
        ("argon2 p=9", with_argon2_cost(real, 8192, 1, 9)),
        ("scrypt n=2**18", "scrypt$262144$8$1$MDEyMzQ1Njc4OWFiY2RlZg==$" + "A" * 44),
        ("scrypt n=2**20", "scrypt$1048576$8$1$MDEyMzQ1Njc4OWFiY2RlZg==$" + "A" * 44),
        ("scrypt r=9", "scrypt$16384$9$1$MDEyMzQ1Njc4OWFiY2RlZg==$" + "A" * 44),
        ("scrypt r=32", "scrypt$16384$32$1$MDEyMzQ1Njc4OWFiY2RlZg==$" + "A" * 44),
        ("scrypt p=5", "scrypt$16384$8$5$MDEyMzQ1Njc4OWFiY2RlZg==$" + "A" * 44),
        ("scrypt p=16", "scrypt$16384$8$16$MDEyMzQ1Njc4OWFiY2RlZg==$" + "A" * 44),
    ]


@pytest.mark.parametrize("label,stored", _hostile_hashes(), ids=[h[0] for h in _hostile_hashes()])
def test_stored_costs_beyond_the_ceiling_are_refused_without_running(label, stored, monkeypatch, caplog):
    class NeverRun:
        def verify(self, *a):
            pytest.fail("a hash beyond the ceiling was computed")

    def never_scrypt(*a):
        pytest.fail("a scrypt hash beyond the ceiling was computed")

    monkeypatch.setattr(passwords, "_HASHER", NeverRun())
    monkeypatch.setattr(passwords, "_scrypt", never_scrypt)
    caplog.set_level(logging.WARNING, logger="cxdesk.services.passwords")
    start = time.perf_counter()
    assert passwords.verify_password("pw-hostile", stored) is False
    assert time.perf_counter() - start < 0.05
    [record] = caplog.records
    assert "refused as damaged" in record.getMessage()
    assert stored not in record.getMessage() and "pw-hostile" not in record.getMessage()


def test_the_ceiling_itself_is_still_run(monkeypatch):
    """The bounds refuse only what is beyond them: a hash at each limit is computed."""
    ran = []
    monkeypatch.setattr(passwords, "_scrypt", lambda *a: ran.append(a[2:5]) or b"x" * 32)
    passwords.verify_password("pw", "scrypt$131072$8$4$MDEyMzQ1Njc4OWFiY2RlZg==$" + "A" * 44)
    assert ran[0] == (2**17, 8, 4)
    real = argon2.PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash("pw")

    class Counting:
        def verify(self, *a):
            ran.append("argon2")
            return False

    monkeypatch.setattr(passwords, "_HASHER", Counting())
    passwords.verify_password("pw", with_argon2_cost(real, 256 * 1024, 10, 8))
    assert ran[-1] == "argon2"


# ---------------------------------------------------------------------------
# PRECIS OpaqueString preparation
# ---------------------------------------------------------------------------


def test_nfc_and_nfd_spellings_are_one_password():
    assert NFC != NFD
    assert passwords.prepare(NFD) == NFC
    for typed, stored_as in ((NFC, NFD), (NFD, NFC)):
        stored = passwords.hash_password(stored_as)
        assert passwords.verify_password(typed, stored)
    # a legacy scrypt hash of the NFC text accepts the NFD spelling too (then gets upgraded)
    assert passwords.verify_password(NFD, legacy_scrypt(NFC))
    # non-ASCII spaces are the ASCII space
    assert passwords.verify_password("Grüße\u00a0aus Köln-42", passwords.hash_password("Grüße aus Köln-42"))


def test_printable_ascii_is_left_as_typed():
    text = "".join(chr(c) for c in range(0x20, 0x7F))
    assert passwords.prepare(text) == text


@pytest.mark.parametrize("password,words", [
    ("tab\there-Harbour-42", "contains a control character (such as a tab or a line break) (character 4)"),
    ("line\nbreak-Harbour-42", "control character"),
    ("bell\x07-Harbour-42", "control character"),
    ("un\u0378assigned-Harbour-42", "a character that Unicode does not define (unassigned) (character 3)"),
    ("zero\u200bwidth-Harbour-42", "an invisible or reserved character"),
    ("surrogate\ud800-Harbour-42", "a character that cannot be used in a password"),
])
def test_unusable_characters_are_refused_in_one_sentence(password, words):
    with pytest.raises(ValidationError) as err:
        passwords.check_policy(password, email="ann@example.com")
    message = str(err.value)
    assert words in message and err.value.field == "password"
    assert message.endswith("; remove it and type the password again.") and message.count(".") == 1
    assert password not in message
    with pytest.raises(ValidationError):
        passwords.hash_password(password)
    with pytest.raises(ValidationError):
        passwords.sip_ha1("2100", "cxdesk", password)


def test_an_empty_password_is_asked_for():
    with pytest.raises(ValidationError, match="Type a password"):
        passwords.hash_password("")


# ---------------------------------------------------------------------------
# the policy
# ---------------------------------------------------------------------------


def test_zxcvbn_refusal_is_one_clear_message():
    with pytest.raises(ValidationError) as err:
        passwords.check_policy("aaaaaaaaaa")
    assert str(err.value) == ('This password is too easy to guess: Repeats like "aaa" are easy to guess. '
                              'Add another word or two. Uncommon words are better. '
                              'Avoid repeated words and characters.')
    assert err.value.field == "password"


@pytest.mark.parametrize("password,email,words", [
    ("k9#Zq", None, "too short (5 characters); use at least 10"),
    ("123456789", None, "too short (9 characters)"),
    (NFD[:10], None, "too short (9 characters)"),  # 10 as typed (NFD), 9 once prepared (NFC)
    ("ann.smith@example.com", "Ann.Smith@Example.com", "must not be the email"),
    ("ann.smith.", "ann.smith.@example.com", "must not be the email"),
    ("aaaaaaaaaa", None, 'This password is too easy to guess: Repeats like "aaa" are easy to guess.'),
    ("Summer2024!", None, "This password is too easy to guess: This is similar to a commonly used password."),
    ("Password123", None, "This password is too easy to guess: This is a very common password."),
    ("QWERTYUIOP", None, "This password is too easy to guess"),
    ("abcdefghij", None, "This password is too easy to guess"),
    ("sam12345678", "sam", "This password is too easy to guess"),  # the login + digits
    ("bobby.tables2024", "bobby.tables", "This password is too easy to guess"),
    ("bobby.tables2024", "Bobby.Tables@Example.com", "This password is too easy to guess"),
    ("x" * 201, None, "too long"),
    ("x" * 5000, None, "too long"),
])
def test_policy_names_the_rule_that_failed(password, email, words):
    with pytest.raises(ValidationError) as err:
        passwords.check_policy(password, email=email)
    assert words in str(err.value)
    assert err.value.field == "password"
    assert password not in str(err.value)  # never echo a typed password


def test_user_inputs_make_a_password_built_from_them_weak():
    # strong on its own, weak for the person it is made of
    passwords.check_policy("bobby.tables2024", email="ann@example.com")
    passwords.check_policy("Bob-Builder", email="ann@example.com")
    with pytest.raises(ValidationError, match="too easy to guess"):
        passwords.check_policy("Bob-Builder", email="ann@example.com", user_inputs=["Bob Builder"])


@pytest.mark.parametrize("password", ["Tr0ub4dor&3x", "correct horse battery staple", "Blue-Harbour-42",
                                      "ann.smith@example.org", NFC, NFD, "Gravel-Window-7 " * 12])
def test_policy_accepts_good_passwords(password):
    passwords.check_policy(password, email="ann.smith@example.com")


def test_a_long_password_is_judged_in_bounded_time():
    import secrets as _secrets
    import string
    long_random = "".join(_secrets.choice(string.ascii_letters + string.digits + "-_!") for _ in range(200))
    start = time.perf_counter()
    passwords.check_policy(long_random)
    assert time.perf_counter() - start < 5  # zxcvbn on all 200 characters takes ~15 s


def test_generated_passwords_meet_the_policy_and_differ():
    seen = set()
    for _ in range(200):
        pw = passwords.generate_password()
        assert len(pw) >= 16
        passwords.check_policy(pw, email="someone@example.com")
        assert any(c.islower() for c in pw) and any(c.isupper() for c in pw) and any(c.isdigit() for c in pw)
        assert not set(pw) & set("0O1lI")
        assert passwords.prepare(pw) == pw  # so their HA1 and hashes are as before preparation
        seen.add(pw)
    assert len(seen) == 200
    assert len(passwords.generate_password(24)) == 24
    with pytest.raises(ValueError):
        passwords.generate_password(8)


# ---------------------------------------------------------------------------
# SIP HA1
# ---------------------------------------------------------------------------


def test_sip_ha1_is_md5_of_user_realm_prepared_password():
    # RFC 2617 section 3.5 example values: ASCII is unchanged by preparation
    assert passwords.sip_ha1("Mufasa", "testrealm@host.com", "Circle Of Life") == "939e7578ed9e3c518a452acee763bce9"
    nfc = unicodedata.normalize("NFC", "pässword")
    expected = hashlib.md5(f"2100:cxdesk:{nfc}".encode()).hexdigest()
    assert passwords.sip_ha1("2100", "cxdesk", nfc) == expected
    assert passwords.sip_ha1("2100", "cxdesk", unicodedata.normalize("NFD", nfc)) == expected
