"""Check a cxdesk audit proof without cxdesk and without the database.

    python auditproof.py proof.json [--key KEY]

This file is deliberately standalone (Python standard library plus ``cryptography``): a
supervisor hands it, with a proof file written by ``cxdesk audit proof ENTRY -o FILE``, to
an auditor, a customer or a court. It checks that

1. the entry in the file hashes to its stated hash (every column and the entry's id);
2. that hash is leaf number ``index`` of the Merkle tree (RFC 6962 / RFC 9162) whose root
   the checkpoint states, through the inclusion path in the file;
3. the checkpoint is signed (Ed25519, C2SP signed-note format) by the key in the file,
   whose fingerprint is printed so it can be compared with the one the carrier published
   (``--key`` checks it against a known public key instead).

A changed byte anywhere in the file makes one of these fail. cxdesk's own audit code
uses the functions below, so the rules written here are the rules the program follows.
"""
from __future__ import annotations

import argparse
import base64
import hashlib
import json
import sys
from collections.abc import Sequence

VERSION = "cxdesk-audit-v2"
#: the columns of an entry, in the order they are hashed (after the version, id and prev_hash)
FIELDS = ("actor", "ip", "created_at", "table_name", "primary_key", "action",
          "message", "before", "after", "comment", "customer_id")
NOTE_ORIGIN = "cxdesk audit log"
FORMAT = "cxdesk-audit-proof-1"
PROOF_KEYS = {"format", "entry", "index", "path", "checkpoint", "signer", "public_key", "public_key_fingerprint"}
ENTRY_KEYS = {"id", "prev_hash", "hash", *FIELDS}


# -- entries and the chain --------------------------------------------------------------

def entry_hash(entry_id: int, prev_hash: str, values: dict) -> str:
    """The hash of one entry: its id, the previous entry's hash and every column.
    ``created_at`` is an ISO 8601 UTC string with microseconds (as stored in proofs)."""
    parts = [VERSION, int(entry_id), prev_hash] + [values.get(name) for name in FIELDS]
    data = json.dumps(parts, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(data.encode("utf-8")).hexdigest()


# -- the Merkle tree (RFC 6962 section 2.1, RFC 9162 section 2.1) ------------------------

def leaf_hash(entry_hash_hex: str) -> bytes:
    return hashlib.sha256(b"\x00" + bytes.fromhex(entry_hash_hex)).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two smaller than n (n > 1)."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def merkle_root(leaves: Sequence[bytes]) -> bytes:
    """MTH(D[n]) over leaf hashes; the empty tree's root is SHA-256 of nothing."""
    if not leaves:
        return hashlib.sha256(b"").digest()
    level = list(leaves)
    while len(level) > 1:  # pairwise, carrying an odd last node up: the same tree as RFC 6962
        nxt = [node_hash(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            nxt.append(level[-1])
        level = nxt
    return level[0]


def inclusion_path(leaves: Sequence[bytes], index: int) -> list[bytes]:
    """PATH(m, D[n]): the audit path of leaf ``index`` in the tree of ``leaves``."""
    if not 0 <= index < len(leaves):
        raise ValueError("leaf index outside the tree")
    if len(leaves) == 1:
        return []
    k = _split(len(leaves))
    if index < k:
        return inclusion_path(leaves[:k], index) + [merkle_root(leaves[k:])]
    return inclusion_path(leaves[k:], index - k) + [merkle_root(leaves[:k])]


def root_from_path(leaf: bytes, index: int, size: int, path: Sequence[bytes]) -> bytes | None:
    """RFC 9162 section 2.1.3.2: the root that ``path`` leads to from ``leaf``, or None when
    the path does not fit a tree of ``size`` leaves."""
    if not 0 <= index < size:
        return None
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:
            return None
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return r if sn == 0 else None


# -- signed checkpoints (C2SP signed-note) ----------------------------------------------

def checkpoint_body(database_id: str, size: int, root: bytes) -> str:
    """The note's text: origin line, tree size, root hash (base64), each ending in a newline."""
    return f"{NOTE_ORIGIN} {database_id}\n{size}\n{base64.b64encode(root).decode()}\n"


def key_id(name: str, public_key: bytes) -> bytes:
    """The signed-note key id: the first 4 bytes of SHA-256(name || 0x0A || 0x01 || key)."""
    return hashlib.sha256(name.encode() + b"\n" + b"\x01" + public_key).digest()[:4]


def fingerprint(public_key: bytes) -> str:
    return hashlib.sha256(public_key).hexdigest()[:32]


def parse_note(note: str) -> tuple[str, list[tuple[str, bytes]]]:
    """(body, [(signer name, key id + signature)])."""
    body, sep, sigs = note.partition("\n\n")
    if not sep:
        raise ValueError("the checkpoint has no signature lines")
    out = []
    for line in sigs.splitlines():
        if not line.startswith("\u2014 "):
            raise ValueError("a checkpoint signature line does not start with an em dash")
        name, _, b64 = line[2:].rpartition(" ")
        out.append((name, base64.b64decode(b64, validate=True)))
    return body + "\n", out


def verify_note(note: str, public_key: bytes, name: str) -> str:
    """The note's body when ``name``'s Ed25519 signature over it verifies; else ValueError."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    body, sigs = parse_note(note)
    wanted = key_id(name, public_key)
    key = Ed25519PublicKey.from_public_bytes(public_key)
    for signer, blob in sigs:
        if signer == name and blob[:4] == wanted:
            try:
                key.verify(blob[4:], body.encode("utf-8"))
            except InvalidSignature:
                raise ValueError("the checkpoint's signature does not match its text") from None
            return body
    raise ValueError(f"the checkpoint is not signed by {name}")


def read_body(body: str) -> tuple[str, int, bytes]:
    """(database id, size, root) from a checkpoint's text."""
    lines = body.split("\n")
    if len(lines) < 3 or not lines[0].startswith(NOTE_ORIGIN + " "):
        raise ValueError("this is not a cxdesk audit checkpoint")
    return lines[0][len(NOTE_ORIGIN) + 1:], int(lines[1]), base64.b64decode(lines[2], validate=True)


# -- proofs ---------------------------------------------------------------------------

def check_proof(proof: dict, known_key: bytes | None = None) -> list[str]:
    """Every check of a proof file; returns what was proven, raises ValueError at the first
    failure with a sentence that says what does not hold."""
    if proof.get("format") != FORMAT:
        raise ValueError(f"this is not a {FORMAT} file")
    unknown = set(proof) - PROOF_KEYS or set(proof["entry"]) - ENTRY_KEYS
    if unknown:  # nothing in the file goes unchecked
        raise ValueError(f"the file has fields a proof does not have: {', '.join(sorted(unknown))}")
    entry = proof["entry"]
    values = {k: entry.get(k) for k in FIELDS}
    computed = entry_hash(entry["id"], entry["prev_hash"], values)
    if computed != entry["hash"]:
        raise ValueError(f"entry {entry['id']} does not hash to the hash stated for it: its content was changed")
    public_key = base64.b64decode(proof["public_key"], validate=True)
    if proof["public_key_fingerprint"] != fingerprint(public_key):
        raise ValueError("the key's fingerprint in the file is not the key's")
    if known_key is not None and public_key != known_key:
        raise ValueError("the proof is signed with another key than the one you gave")
    body = verify_note(proof["checkpoint"], public_key, proof["signer"])
    database_id, size, root = read_body(body)
    index = int(proof["index"])
    path = [base64.b64decode(p, validate=True) for p in proof["path"]]
    if root_from_path(leaf_hash(computed), index, size, path) != root:
        raise ValueError(f"entry {entry['id']} is not leaf {index} of the signed log of {size} entries")
    return [
        f"entry {entry['id']} hashes to {computed}",
        f"it is entry number {index + 1} of the {size} entries of audit log {database_id}",
        f"the checkpoint is signed by {proof['signer']} with key {fingerprint(public_key)}",
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Check a cxdesk audit proof file offline.")
    parser.add_argument("proof", help="the proof file (JSON) from `cxdesk audit proof`")
    parser.add_argument("--key", help="the signer's public key (base64) to require")
    args = parser.parse_args(argv)
    try:
        with open(args.proof, encoding="utf-8") as f:
            proof = json.load(f)
        known = base64.b64decode(args.key, validate=True) if args.key else None
        proven = check_proof(proof, known)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        print(f"NOT PROVEN: {exc}", file=sys.stderr)
        return 1
    for line in proven:
        print(f"ok: {line}")
    entry = proof["entry"]
    print(f"PROVEN: on {entry['created_at']} {entry['actor']} did {entry['action']} on "
          f"{entry['table_name']} {entry['primary_key']}: {entry['message']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
