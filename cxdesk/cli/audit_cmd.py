"""cxdesk audit verify / key / checkpoint / proof (diff and export: cxdesk.cli.audit_more)."""
from __future__ import annotations

import base64
import binascii
import importlib
import json
import sys
from pathlib import Path

from cxdesk.cli.common import open_db
from cxdesk.cli.signin import operator_actor
from cxdesk.errors import ValidationError
from cxdesk.services import audit_chain


def register(sub) -> None:
    p = sub.add_parser("audit", help="check or read the audit log")
    asub = p.add_subparsers(dest="audit_command", metavar="ACTION", required=True)
    v = asub.add_parser("verify", help="walk the hash chain, check it against this computer's witness "
                                       "(and a signed checkpoint) and reconcile the data with the log: "
                                       "exit 0, or 1 naming what is wrong")
    v.add_argument("--checkpoint", metavar="FILE", help="a checkpoint signed by `cxdesk audit checkpoint`")
    v.add_argument("--key", metavar="BASE64", help="the public key the checkpoint must be signed with "
                                                   "(default: this computer's signing key)")
    v.add_argument("--no-reconcile", action="store_true",
                   help="only the log: skip checking that every audited row holds what its latest entry says")
    v.set_defaults(func=verify_cmd)
    k = asub.add_parser("key", help="the supervisors' signing key (in the OS keyring): print its public half, "
                                    "making it when there is none")
    k.add_argument("--new", action="store_true", help="replace the key (old checkpoints stay checkable "
                                                      "with the old public key)")
    k.set_defaults(func=key_cmd)
    c = asub.add_parser("checkpoint", help="sign the log as it is now: keep the file outside the database")
    c.add_argument("-o", "--output", metavar="FILE", required=True)
    c.set_defaults(func=checkpoint_cmd)
    pr = asub.add_parser("proof", help="a self-contained proof of one entry, checked by cxdesk/auditproof.py")
    pr.add_argument("entry_id", metavar="ENTRY", type=_positive, help="the entry's id")
    pr.add_argument("-o", "--output", metavar="FILE", required=True)
    pr.set_defaults(func=proof_cmd)
    try:
        more = importlib.import_module("cxdesk.cli.audit_more")
    except ModuleNotFoundError as exc:
        if exc.name != "cxdesk.cli.audit_more":
            raise
    else:
        more.register(asub)


def _positive(text: str) -> int:
    import argparse

    if not (text.isascii() and text.isdigit() and 0 < int(text) < 2**63):
        raise argparse.ArgumentTypeError(f"'{text}' is not an audit entry id; give the number from the log's first column")
    return int(text)


def _public_key(text: str | None) -> bytes | None:
    if text is None:
        return None
    try:
        key = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        key = b""
    if len(key) != 32:
        raise ValidationError("--key must be the base64 public key that `cxdesk audit key` printed.")
    return key


def _write(path: str, text: str) -> None:
    from cxdesk.services.export import atomic_file

    try:
        with atomic_file(path) as tmp:
            Path(tmp).write_text(text, encoding="utf-8")
    except OSError as exc:
        raise ValidationError(f"Cannot write {path}: {exc.strerror or exc}; choose another folder.") from None


def verify_cmd(args) -> int:
    from cxdesk.services import audit_proofs, audit_reconcile, audit_witness

    key = _public_key(args.key)
    note = None
    if args.checkpoint:
        try:
            note = Path(args.checkpoint).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ValidationError(f"Cannot read the checkpoint {args.checkpoint}: {exc}.") from None
    with open_db(args) as db:
        result = audit_chain.verify_database(db)
        witnessed = audit_witness.check_database(db, record=result.ok, first_use="verify")
        lines = [result.sentence(), witnessed.sentence]
        ok = result.ok and witnessed.ok
        if ok and not args.no_reconcile:  # the data is compared with a log that holds
            reconciled = audit_reconcile.reconcile_database(db)
            if not reconciled.ok:  # success adds no line: exit 0 also says the data matches
                lines += reconciled.sentences()
            ok = ok and reconciled.ok
        if note is not None:
            try:
                lines.append(audit_proofs.verify_checkpoint(db, note, key))
            except ValidationError as exc:
                lines.append(str(exc))
                ok = False
    print("\n".join(lines), file=sys.stdout if ok else sys.stderr)
    return 0 if ok else 1


def key_cmd(args) -> int:
    from cxdesk import auditproof
    from cxdesk.services import audit_proofs

    with open_db(args) as db:  # the key is the supervisors': one signs in (on this database)
        actor = operator_actor(args, db)
    public = audit_proofs.public_key(actor, create=True, new=args.new)
    print(base64.b64encode(public).decode())
    print(f"fingerprint {auditproof.fingerprint(public)}", file=sys.stderr)
    return 0


def checkpoint_cmd(args) -> int:
    from cxdesk.services import audit_proofs

    with open_db(args) as db:
        cp = audit_proofs.checkpoint(db, operator_actor(args, db))
    _write(args.output, cp.note)
    print(f"Signed the audit log's {cp.size} entries: {args.output}")
    return 0


def proof_cmd(args) -> int:
    from cxdesk.services import audit_proofs

    with open_db(args) as db:
        proof = audit_proofs.proof(db, operator_actor(args, db), args.entry_id)
    _write(args.output, json.dumps(proof, ensure_ascii=False, indent=2) + "\n")
    print(f"Proof of entry {args.entry_id} written to {args.output}; check it with "
          f"`python auditproof.py {args.output}` (cxdesk/auditproof.py).")
    return 0
