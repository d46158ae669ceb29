"""The audit log as proof (issue 13): attacks by someone with write access to the database,
caught by this workstation's witness, by a signed checkpoint, and single entries proven to a
third party with the standalone verifier -- on SQLite and PostgreSQL."""
from __future__ import annotations

import base64
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select, text

import cxdesk
from cxdesk import auditproof
from cxdesk.db import open_database
from cxdesk.errors import ValidationError
from cxdesk.models import AuditEntry, AuditHead
from cxdesk.services import audit_chain, audit_proofs, audit_witness, customers
from tests.unit.test_audit_chain import tamper

VERIFIER = Path(cxdesk.__file__).parent / "auditproof.py"


@pytest.fixture
def logged(db, admin, make_customer):
    """Six entries, written by this workstation (so its witness has seen them)."""
    cid = make_customer(db, "Acme")
    for i in range(5):
        customers.adjust_balance(db, admin, cid, f"{i + 1}.00", f"Payment {i + 1}")
    with db.read_session() as s:
        assert s.get(AuditHead, 1).count == 6
    return cid


def rehash_from(db, first_id: int) -> None:
    """What a careful intruder does after editing entry ``first_id``: recompute every hash
    from there on and move the head, so the chain alone verifies again."""
    with db.read_session() as s:
        rows = s.scalars(select(AuditEntry).order_by(AuditEntry.id)).all()
        prev = "0" * 64
        fixed = []
        for row in rows:
            values = {f: getattr(row, f) for f in audit_chain.FIELDS}
            if row.id >= first_id:
                fixed.append((row.id, prev, audit_chain.entry_hash(row.id, prev, values)))
                prev = fixed[-1][2]
            else:
                prev = row.hash
        count = len(rows)
        last_id = rows[-1].id if rows else 0
    for eid, p, h in fixed:
        tamper(db, "UPDATE audit_entries SET prev_hash = :p, hash = :h WHERE id = :i", p=p, h=h, i=eid)
    with db.engine.begin() as conn:
        conn.execute(text("UPDATE audit_head SET last_hash = :h, last_id = :l, count = :c WHERE id = 1"),
                     {"h": prev, "l": last_id, "c": count})


def chain_ok(db) -> bool:
    return audit_chain.verify_database(db).ok


def test_the_witness_follows_this_workstations_writes(db, logged):
    seen = audit_witness.load(db.display)
    with db.read_session() as s:
        head = s.get(AuditHead, 1)
        assert seen == audit_witness.Head(head.count, head.last_id, head.last_hash)
    result = audit_witness.check_database(db)
    assert result.ok and result.checked == 0


def test_entries_cut_from_the_end_with_the_head_set_to_match(db, logged):
    tamper(db, "DELETE FROM audit_entries WHERE id > 4")
    rehash_from(db, 10**9)  # nothing to re-hash: only the head is set to the new end
    assert chain_ok(db)  # the chain alone cannot tell
    result = audit_witness.check_database(db)
    assert not result.ok
    assert result.sentence == ("The audit log was cut short: this workstation saw 6 entries up to entry 6, "
                               "but entry 6 is gone and 4 entries are left.")
    assert audit_witness.load(db.display).size == 6  # a failed check never moves the witness back


def test_an_entry_edited_and_the_chain_rehashed_after_it(db, logged):
    tamper(db, "UPDATE audit_entries SET message = 'Adjusted balance by 1000.00: Payment 1' WHERE id = 2")
    assert not chain_ok(db)
    rehash_from(db, 2)
    assert chain_ok(db)  # the careful intruder's chain verifies again...
    result = audit_witness.check_database(db)  # ...but not against what this workstation saw
    assert not result.ok and "rewritten" in result.sentence and "entry 6" in result.sentence


def test_every_entry_deleted_and_the_head_reset(db, logged):
    tamper(db, "DELETE FROM audit_entries")
    with db.engine.begin() as conn:
        conn.execute(text("UPDATE audit_head SET last_hash = :h, last_id = 0, count = 0 WHERE id = 1"),
                     {"h": "0" * 64})
    assert audit_chain.verify_database(db).sentence() == "Audit log intact: 0 entries verified."
    result = audit_witness.check_database(db)
    assert not result.ok and "0 entries are left" in result.sentence


def test_a_renumbered_entry_breaks_the_chain(db, logged):
    tamper(db, "UPDATE audit_entries SET id = 60 WHERE id = 6")
    with db.engine.begin() as conn:
        conn.execute(text("UPDATE audit_head SET last_id = 60 WHERE id = 1"))
    result = audit_chain.verify_database(db)
    assert not result.ok and result.bad_id == 60 and "changed" in result.reason


def test_another_workstations_new_entries_are_verified_and_then_witnessed(db, logged, admin, tmp_path,
                                                                          monkeypatch):
    other = open_database(db.url.render_as_string(hide_password=False))
    try:
        with monkeypatch.context() as elsewhere:  # another workstation, with its own witness
            elsewhere.setenv("XDG_STATE_HOME", str(tmp_path / "elsewhere"))
            customers.adjust_balance(other, admin, logged, "7.00", "Paid at the other desk")
    finally:
        other.close()
    result = audit_witness.check_database(db)
    assert result.ok and result.checked == 1 and result.head.size == 7
    assert audit_witness.load(db.display).size == 7


def test_the_cli_says_what_is_missing(db, logged, run_cli):
    url = db.url.render_as_string(hide_password=False)
    tamper(db, "DELETE FROM audit_entries WHERE id > 5")
    rehash_from(db, 10**9)
    done = run_cli("audit", "verify", db_url=url)
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        "Audit log intact: 5 entries verified.",
        "The audit log was cut short: this workstation saw 6 entries up to entry 6, but entry 6 is gone "
        "and 5 entries are left."]


# -- signed checkpoints and proofs -------------------------------------------------------


@pytest.fixture
def signing(secret_service, supervisor):
    return audit_proofs.public_key(supervisor, create=True)


def test_a_signed_checkpoint_catches_removal_and_rewriting(db, logged, signing, supervisor, admin):
    cp = audit_proofs.checkpoint(db, supervisor)
    assert cp.size == 6 and cp.note.count("\n\u2014 cxdesk-supervisors ") == 1
    customers.adjust_balance(db, admin, logged, "1.00", "After the checkpoint")
    assert "6 entries of the signed checkpoint unchanged, and 1 entries after" in \
        audit_proofs.verify_checkpoint(db, cp.note, signing)
    tamper(db, "UPDATE audit_entries SET comment = 'approved' WHERE id = 3")
    rehash_from(db, 3)
    with pytest.raises(ValidationError, match="first 6 entries of the audit log are not the ones"):
        audit_proofs.verify_checkpoint(db, cp.note, signing)
    tamper(db, "DELETE FROM audit_entries WHERE id > 2")
    with pytest.raises(ValidationError, match="has 2 entries but the signed checkpoint has 6: 4 entries were removed"):
        audit_proofs.verify_checkpoint(db, cp.note, signing)


def test_a_checkpoint_with_a_changed_byte_or_another_key_is_refused(db, logged, signing, supervisor):
    cp = audit_proofs.checkpoint(db, supervisor)
    forged = cp.note.replace("\n6\n", "\n5\n")
    with pytest.raises(ValidationError, match="signature does not match"):
        audit_proofs.verify_checkpoint(db, forged, signing)
    with pytest.raises(ValidationError, match="cannot be trusted"):
        audit_proofs.verify_checkpoint(db, cp.note, bytes(32))


def run_verifier(proof_path: Path, tmp_path: Path, *extra: str) -> subprocess.CompletedProcess:
    """The verifier as a third party runs it: the one file, copied elsewhere, no cxdesk."""
    alone = tmp_path / "alone"
    alone.mkdir(exist_ok=True)
    shutil.copy(VERIFIER, alone / "auditproof.py")
    return subprocess.run([sys.executable, "-I", str(alone / "auditproof.py"), str(proof_path), *extra],
                          capture_output=True, text=True, cwd=alone, timeout=60)


def test_a_proof_of_one_entry_checks_offline_and_any_changed_byte_fails(db, logged, signing, supervisor,
                                                                        tmp_path, run_cli):
    url = db.url.render_as_string(hide_password=False)
    path = tmp_path / "proof.json"
    done = run_cli("audit", "proof", "4", "-o", str(path), db_url=url)
    assert done.returncode == 0, done.stderr
    proof = json.loads(path.read_text())
    assert proof["entry"]["id"] == 4 and proof["index"] == 3 and len(proof["path"]) == 3
    checked = run_verifier(path, tmp_path, "--key", base64.b64encode(signing).decode())
    assert checked.returncode == 0, checked.stderr
    assert "PROVEN:" in checked.stdout and "Payment 3" in checked.stdout

    def forged(change) -> dict:
        copy = json.loads(path.read_text())
        change(copy)
        return copy

    attacks = {
        "message": lambda p: p["entry"].__setitem__("message", p["entry"]["message"].replace("3", "300")),
        "actor": lambda p: p["entry"].__setitem__("actor", "ceo"),
        "id": lambda p: p["entry"].__setitem__("id", 5),
        "index": lambda p: p.__setitem__("index", 2),
        "path": lambda p: p["path"].__setitem__(0, base64.b64encode(bytes(32)).decode()),
        "size": lambda p: p.__setitem__("checkpoint", p["checkpoint"].replace("\n6\n", "\n7\n")),
        "signature": lambda p: p.__setitem__("checkpoint", p["checkpoint"][:-6] + "AAAA=\n"),
        "key": lambda p: p.__setitem__("public_key", base64.b64encode(bytes(32)).decode()),
    }
    for name, change in attacks.items():
        bad = tmp_path / f"bad-{name}.json"
        bad.write_text(json.dumps(forged(change)))
        result = run_verifier(bad, tmp_path)
        assert result.returncode == 1 and result.stderr.startswith("NOT PROVEN: "), (name, result.stdout)
    # a changed byte anywhere in the file, not only where we guessed
    raw = path.read_bytes()
    for offset in range(0, len(raw), max(1, len(raw) // 40)):
        flipped = bytearray(raw)
        flipped[offset] ^= 0x01
        bad = tmp_path / "flipped.json"
        bad.write_bytes(bytes(flipped))
        result = run_verifier(bad, tmp_path, "--key", base64.b64encode(signing).decode())
        if result.returncode == 0:  # only JSON whitespace may change without meaning
            assert json.loads(bytes(flipped)) == json.loads(raw), offset


def test_the_merkle_tree_is_rfc_6962s():
    """Against the recursive definition of RFC 6962 section 2.1, for every size and leaf."""
    import hashlib

    def mth(leaves):
        if len(leaves) == 1:
            return leaves[0]
        k = 1
        while k * 2 < len(leaves):
            k *= 2
        return auditproof.node_hash(mth(leaves[:k]), mth(leaves[k:]))

    for n in range(1, 34):
        leaves = [auditproof.leaf_hash(hashlib.sha256(bytes([i])).hexdigest()) for i in range(n)]
        root = auditproof.merkle_root(leaves)
        assert root == mth(leaves)
        for i in range(n):
            path = auditproof.inclusion_path(leaves, i)
            assert auditproof.root_from_path(leaves[i], i, n, path) == root
            if path:  # a path that was changed leads elsewhere
                assert auditproof.root_from_path(leaves[i], i, n, [bytes(32)] + path[1:]) != root
            if n > 1:  # and another leaf does not lead there by the same path
                assert auditproof.root_from_path(leaves[(i + 1) % n], i, n, path) != root


def test_the_v2_migration_rehashes_an_old_chain_so_it_verifies(tmp_path):
    from alembic import command

    from cxdesk import db as dbmod

    path = tmp_path / "old.db"
    url = f"sqlite:///{path}"
    cfg = dbmod.alembic_config()
    cfg.set_main_option("sqlalchemy.url", url)
    engine = dbmod.create_engine(url)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0001")
        for i in range(1, 4):  # entries as the first version wrote them (hashes without the id)
            conn.execute(text(
                "INSERT INTO audit_entries (id, actor, ip, created_at, table_name, primary_key, action, message, "
                "comment, prev_hash, hash) VALUES (:i, 'alice', '10.0.0.5', :t, 'customers', '1', 'UPDATE', "
                ":m, '', 'old', 'old')"), {"i": i, "t": f"2026-11-0{i} 10:00:00.000000", "m": f"change {i}"})
        conn.execute(text("UPDATE audit_head SET last_id = 3, count = 3, last_hash = 'old' WHERE id = 1"))
    engine.dispose()
    db = open_database(url)  # migrates to the head
    try:
        result = audit_chain.verify_database(db)
        assert result.ok and result.count == 3
        with db.read_session() as s:
            rows = s.scalars(select(AuditEntry).order_by(AuditEntry.id)).all()
            assert rows[0].prev_hash == "0" * 64 and rows[1].prev_hash == rows[0].hash
            assert s.get(AuditHead, 1).last_hash == rows[-1].hash
    finally:
        db.close()


def test_verify_integrity_in_the_program_also_checks_the_witness(db, logged, supervisor):
    from cxdesk.services import audit_log

    assert audit_log.verify_and_record(db, supervisor).ok
    tamper(db, "DELETE FROM audit_entries WHERE id > 5")
    rehash_from(db, 10**9)
    result = audit_log.verify_and_record(db, supervisor)
    assert not result.ok and result.sentence().startswith("The audit log was cut short")
    with db.read_session() as s:
        last = s.scalars(select(AuditEntry).order_by(AuditEntry.id.desc())).first()
    assert last.message.startswith("Verified the audit log: The audit log was cut short")
