"""Signed checkpoints of the audit log, and proofs of a single entry for a dispute.

A checkpoint states "the audit log <id> had N entries and their Merkle tree root was R",
signed with the supervisors' Ed25519 key (kept in the OS keyring), in the C2SP signed-note
format. Kept outside the database (mailed to the accountant, printed, filed), it lets
anyone check later that the database still holds exactly those first N entries.

A proof file holds one entry with every column, its leaf index, the inclusion path to the
root of a checkpoint signed at that moment, the checkpoint and the public key:
``cxdesk/auditproof.py`` checks it with no database and no cxdesk. The rules of hashing,
the tree and the note all live in that one file.
"""
from __future__ import annotations

import base64
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from cxdesk import auditproof
from cxdesk.errors import NotFound, UserError, ValidationError
from cxdesk.models import AuditEntry
from cxdesk.services import audit_chain, secrets
from cxdesk.services.actor import Actor

SECRET_NAME = "audit-signing-key"
SIGNER = "cxdesk-supervisors"
BATCH = 20_000


def _private_key(create: bool = False):
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    stored = secrets.get_secret(SECRET_NAME)
    if stored:
        try:
            return Ed25519PrivateKey.from_private_bytes(base64.b64decode(stored, validate=True))
        except ValueError:
            raise UserError("The audit signing key in the keyring is damaged; make a new one with "
                            "`cxdesk audit key --new` (checkpoints signed before stay checkable with the old public key).")
    if not create:
        raise UserError("There is no audit signing key in this computer's keyring yet; a supervisor makes one "
                        "with `cxdesk audit key`.")
    key = Ed25519PrivateKey.generate()
    raw = key.private_bytes_raw()
    secrets.set_secret(SECRET_NAME, base64.b64encode(raw).decode())
    return key


def public_key(actor: Actor, *, create: bool = False, new: bool = False) -> bytes:
    """The signing key's public half (made, and stored in the keyring, when asked)."""
    actor.require("verify_audit")
    if new:
        secrets.delete_secret(SECRET_NAME)
    return _private_key(create=create or new).public_key().public_bytes_raw()


def _sign(body: str) -> str:
    key = _private_key()
    pub = key.public_key().public_bytes_raw()
    signature = auditproof.key_id(SIGNER, pub) + key.sign(body.encode("utf-8"))
    return f"{body}\n\u2014 {SIGNER} {base64.b64encode(signature).decode()}\n"


def _entry_hashes(session: Session) -> list[tuple[int, str]]:
    out: list[tuple[int, str]] = []
    last = 0
    while True:
        rows = session.execute(select(AuditEntry.id, AuditEntry.hash).where(AuditEntry.id > last)
                               .order_by(AuditEntry.id).limit(BATCH)).all()
        if not rows:
            return out
        out.extend((r[0], r[1]) for r in rows)
        last = rows[-1][0]


def database_id(hashes: list[tuple[int, str]]) -> str:
    """Names the log: the first entry's hash (a new database's log starts with its own)."""
    return hashes[0][1][:32] if hashes else "empty"


@dataclass(frozen=True)
class Checkpoint:
    note: str
    size: int
    database_id: str


def checkpoint(db, actor: Actor) -> Checkpoint:
    """Sign the log as it is now (supervisors)."""
    actor.require("verify_audit")
    with db.read_session() as s:
        hashes = _entry_hashes(s)
    leaves = [auditproof.leaf_hash(h) for _, h in hashes]
    body = auditproof.checkpoint_body(database_id(hashes), len(leaves), auditproof.merkle_root(leaves))
    return Checkpoint(_sign(body), len(leaves), database_id(hashes))


def verify_checkpoint(db, note: str, public: bytes | None = None) -> str:
    """One sentence when the database still holds exactly the entries the checkpoint signed;
    raises ValidationError naming what differs."""
    try:
        if public is None:
            public = _private_key().public_key().public_bytes_raw()
        body = auditproof.verify_note(note, public, SIGNER)
        signed_id, size, root = auditproof.read_body(body)
    except (ValueError, TypeError) as exc:
        raise ValidationError(f"The checkpoint cannot be trusted: {exc}.") from None
    with db.read_session() as s:
        hashes = _entry_hashes(s)
    if size and database_id(hashes) != signed_id:
        raise ValidationError("The checkpoint is of another audit log (or this log's first entry was changed).")
    if len(hashes) < size:
        raise ValidationError(f"The audit log has {len(hashes)} entries but the signed checkpoint has {size}: "
                              f"{size - len(hashes)} entries were removed.")
    leaves = [auditproof.leaf_hash(h) for _, h in hashes[:size]]
    if auditproof.merkle_root(leaves) != root:
        raise ValidationError(f"The first {size} entries of the audit log are not the ones the checkpoint signed: "
                              "an entry was changed, removed or inserted.")
    return (f"The audit log holds the {size} entries of the signed checkpoint unchanged, "
            f"and {len(hashes) - size} entries after them.")


def proof(db, actor: Actor, entry_id: int) -> dict:
    """A self-contained proof of one entry, against a checkpoint signed now."""
    actor.require("verify_audit")
    with db.read_session() as s:
        entry = s.get(AuditEntry, entry_id)
        if entry is None:
            raise NotFound(f"There is no audit entry {entry_id}.")
        hashes = _entry_hashes(s)
        values = audit_chain.hashed_values({f: getattr(entry, f) for f in audit_chain.FIELDS})
    index = next(i for i, (eid, _) in enumerate(hashes) if eid == entry_id)
    leaves = [auditproof.leaf_hash(h) for _, h in hashes]
    root = auditproof.merkle_root(leaves)
    body = auditproof.checkpoint_body(database_id(hashes), len(leaves), root)
    note = _sign(body)
    public = _private_key().public_key().public_bytes_raw()
    return {
        "format": auditproof.FORMAT,
        "entry": {"id": entry.id, "prev_hash": entry.prev_hash, "hash": entry.hash, **values},
        "index": index,
        "path": [base64.b64encode(p).decode() for p in auditproof.inclusion_path(leaves, index)],
        "checkpoint": note,
        "signer": SIGNER,
        "public_key": base64.b64encode(public).decode(),
        "public_key_fingerprint": auditproof.fingerprint(public),
    }
