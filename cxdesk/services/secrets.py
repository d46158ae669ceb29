"""Secrets in the OS keyring (service name "cxdesk") and nowhere else.

Only real OS backends are accepted (Secret Service, macOS Keychain, Windows Credential
Locker, KWallet). When none works, callers get one sentence and must go on without
remembering: there is never a fallback to a file or the database.
"""
from __future__ import annotations

import json
import logging

import keyring
from keyring.errors import KeyringError, PasswordDeleteError

from cxdesk.errors import UserError, ValidationError

SERVICE = "cxdesk"
INDEX = "__names__"
log = logging.getLogger(__name__)

_TRUSTED_MODULES = (
    "keyring.backends.SecretService",
    "keyring.backends.macOS",
    "keyring.backends.Windows",
    "keyring.backends.kwallet",
    "keyring.backends.libsecret",
)


class KeyringUnavailable(UserError):
    pass


def _backend():
    try:
        kr = keyring.get_keyring()
        candidates = getattr(kr, "backends", [kr])  # ChainerBackend holds several
    except Exception:  # a backend's availability probe can fail (D-Bus gone meanwhile)
        log.info("keyring backend detection failed", exc_info=True)
        candidates = []
    for backend in candidates:
        if type(backend).__module__.startswith(_TRUSTED_MODULES):
            return backend
    raise KeyringUnavailable(
        "No system keyring is available (no Secret Service on D-Bus, or it is locked), so "
        "nothing can be remembered; you can go on and type the password each time."
    )


def backend_name() -> str:
    try:
        b = _backend()
    except KeyringUnavailable:
        return "none"
    return f"{type(b).__module__.rsplit('.', 1)[-1]} ({type(b).__name__})"


def _call(fn, *args):
    try:
        return fn(*args)
    except PasswordDeleteError:
        raise
    except (KeyringError, Exception) as exc:  # jeepney/secretstorage raise their own errors
        if isinstance(exc, UserError):
            raise
        log.info("keyring call failed: %s", type(exc).__name__)
        raise KeyringUnavailable(
            "The system keyring did not answer (it may be locked or D-Bus is not running); "
            "unlock it or go on without remembering."
        ) from None


def check() -> None:
    """Raise KeyringUnavailable unless a real keyring answers."""
    backend = _backend()
    _call(backend.get_password, SERVICE, INDEX)


def _validate_name(name: str) -> str:
    name = (name or "").strip()
    if not name or name == INDEX or any(c in name for c in "\r\n\t"):
        raise ValidationError(f"'{name}' cannot be used as a secret name; use a name that is not empty, "
                              f"not {INDEX} and without tabs or line breaks.")
    return name


def names() -> list[str]:
    raw = _call(_backend().get_password, SERVICE, INDEX)
    try:
        return sorted(set(json.loads(raw))) if raw else []
    except (ValueError, TypeError):
        return []


def _save_names(values: list[str]) -> None:
    _call(_backend().set_password, SERVICE, INDEX, json.dumps(sorted(set(values))))


def set_secret(name: str, value: str) -> None:
    name = _validate_name(name)
    if not value:
        raise ValidationError("An empty secret cannot be stored.")
    backend = _backend()
    _call(backend.set_password, SERVICE, name, value)
    current = names()
    if name not in current:
        _save_names(current + [name])


def get_secret(name: str) -> str | None:
    return _call(_backend().get_password, SERVICE, _validate_name(name))


def delete_secret(name: str) -> bool:
    name = _validate_name(name)
    backend = _backend()
    try:
        _call(backend.delete_password, SERVICE, name)
        found = True
    except PasswordDeleteError:
        found = False
    current = names()
    if name in current:
        _save_names([n for n in current if n != name])
    return found


def lookup_quietly(name: str) -> str | None:
    """A secret if a keyring has it; None when there is no keyring (the caller then asks)."""
    try:
        return get_secret(name)
    except UserError:
        return None
