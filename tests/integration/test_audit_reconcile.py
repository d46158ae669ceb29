"""State reconciliation (issue 13, point 4): `audit verify` finds data changed around the
program -- a column, a deleted row, an inserted row, a secret, a CDR, an invoice line, the
hourly summary -- and names table, key and column; on SQLite and PostgreSQL."""
from __future__ import annotations

import json

import pytest
from sqlalchemy import select, text

from cxdesk.models import AuditEntry, Cdr, Operator
from cxdesk.services import audit_reconcile, customers, demo, invoices, operators
from cxdesk.services.uow import SECRET_DIGESTS

from tests.unit.test_audit_chain import add_contact


def change(db, sql: str) -> None:
    """What someone with write access to the database does, around the program."""
    with db.engine.begin() as conn:
        conn.execute(text(sql))


def raise_credit(db, cid: int) -> None:
    """The issue's attack. On PostgreSQL credit + 1e12 overflows NUMERIC(18, 6) (the server
    refuses it), so there the intruder adds 1e11."""
    change(db, f"UPDATE customers SET credit = credit + {'1e11' if db.is_postgres else '1e12'} WHERE id = {cid}")


def findings(db) -> list[str]:
    return audit_reconcile.reconcile_database(db).findings


@pytest.fixture
def data(db, admin):
    """Demo customers, contacts and CDRs (rolled up), an invoice and an operator."""
    demo.load_demo(db, admin, customers=3, days=2, calls_per_day=20)
    with db.read_session() as s:
        cid = s.scalar(text("SELECT min(id) FROM customers"))
    customers.adjust_balance(db, admin, cid, "12.50", "Payment received")
    assert invoices.auto_generate(db, admin, cid)
    operators.create_operator(db, None, "boss", "Violet-Harbour-42", role="admin", display_name="Boss Admin")
    return cid


def test_untouched_data_reconciles(db, data):
    result = audit_reconcile.reconcile_database(db)
    assert result.ok, result.findings
    assert result.rows > 50


def test_a_balance_raised_without_an_entry_is_named(db, data):
    cid = data
    raise_credit(db, cid)
    found = findings(db)
    assert len(found) == 1
    assert found[0].startswith(f"customers/{cid}/credit: ")
    assert "without an audit entry" in found[0]


def test_a_row_deleted_and_a_row_inserted_around_the_program(db, data, admin):
    contact = add_contact(db, admin, data, "kim@acme.example")
    change(db, f"DELETE FROM contacts WHERE id = {contact}")
    change(db, "INSERT INTO options (key, value, version, created_at, updated_at, updated_by) "
               "VALUES ('portal-url-evil', 'x', 1, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, '')")
    found = findings(db)
    assert f"contacts/{contact} is gone, but its last audit entry" in found[0]
    assert found[1] == "options/portal-url-evil has no audit entry: it was added around the program."
    assert len(found) == 2


def test_a_secret_replaced_around_the_program_is_found_by_its_digest(db, data, admin):
    contact = add_contact(db, admin, data, "pat@acme.example", password_hash="scrypt$old")
    with db.read_session() as s:
        after = json.loads(s.scalars(select(AuditEntry.after).order_by(AuditEntry.id.desc())).first())
    assert after["password_hash"] == "********" and "scrypt$old" not in json.dumps(after)
    assert set(after[SECRET_DIGESTS]) == {"password_hash"}
    assert findings(db) == []
    change(db, f"UPDATE contacts SET password_hash = 'scrypt$known-to-the-intruder' WHERE id = {contact}")
    assert findings(db) == [f"contacts/{contact}/password_hash: the secret is not the one audit entry "
                            f"{_last_entry(db)} recorded; it was changed without an audit entry."]


def _last_entry(db) -> int:
    with db.read_session() as s:
        return s.scalar(select(AuditEntry.id).where(AuditEntry.table_name == "contacts")
                        .order_by(AuditEntry.id.desc()).limit(1))


def test_cdrs_changed_or_added_around_the_program(db, data):
    with db.read_session() as s:
        first, last = s.execute(select(Cdr.id).order_by(Cdr.id).limit(1)).scalar(), s.scalar(text("SELECT max(id) FROM cdrs"))
    change(db, f"UPDATE cdrs SET customer_charge = customer_charge + 1 WHERE id = {last}")
    found = findings(db)
    assert any("cdrs ids " in f and f"-{last} (written by audit entry" in f and "changed, added or deleted" in f
               for f in found), found
    # the hourly summary no longer sums its CDRs: named by customer, hour and column
    assert any(f.startswith("hourly_summaries/") and "/customer_charge: " in f for f in found), found
    change(db, f"UPDATE cdrs SET customer_charge = customer_charge - 1 WHERE id = {last}")
    assert findings(db) == []
    change(db, "INSERT INTO cdrs (id, callid, dt, customer_id, source_cli, dest_number, duration, customer_duration, "
               "customer_charge, customer_card_rate, customer_card_dest_code, customer_card_dest_name, "
               "customer_card_currency, provider_charge, pdd_out, ring_duration, sip_code, sip_reason, release_reason) "
               f"SELECT {last + 5}, 'forged', dt, customer_id, '', '', 0, 0, 0, 0, '', '', '', 0, 0, 0, 0, '', '' "
               f"FROM cdrs WHERE id = {first}")
    assert findings(db) == [f"cdrs/{last + 5} is not among the rows any import recorded: "
                            "it was added around the program."]


def test_an_operator_deleted_around_the_program(db, data, admin):
    from cxdesk.services.uow import unit_of_work

    with unit_of_work(db, admin) as uow:
        op = uow.add(Operator(login="eve", display_name="Eve", role="staff", password_hash="x$y"))
        uow.flush()
        op_id = op.id
    assert findings(db) == []
    change(db, f"DELETE FROM operators WHERE id = {op_id}")
    assert findings(db) == [f"operators/{op_id} is gone, but its last audit entry ({_last_of(db, 'operators')}) "
                            "records it as there: it was deleted around the program."]


def _last_of(db, table: str) -> int:
    with db.read_session() as s:
        return s.scalar(select(AuditEntry.id).where(AuditEntry.table_name == table).order_by(AuditEntry.id.desc()).limit(1))


def test_audit_verify_names_the_change_and_exits_non_zero(db, data, run_cli):
    url = db.url.render_as_string(hide_password=False)
    ok = run_cli("audit", "verify", db_url=url)
    assert ok.returncode == 0, ok.stderr
    assert len(ok.stdout.splitlines()) == 2  # the chain and the witness; matching data adds no line
    raise_credit(db, data)
    bad = run_cli("audit", "verify", db_url=url)
    assert bad.returncode == 1
    assert f"customers/{data}/credit: " in bad.stderr
    assert run_cli("audit", "verify", "--no-reconcile", db_url=url).returncode == 0


def test_the_fast_chain_walk_hashes_what_the_standalone_verifier_hashes(db, admin, make_customer):
    """audit verify and the start-up check read the driver's values and encode them once per
    entry without json.dumps: the bytes must stay those of cxdesk/auditproof.py."""
    from cxdesk.services import audit_chain, audit_witness

    odd = 'Quote " backslash \\ newline \n tab \t nul-ish \x01 é 😀 \u2028'
    cid = make_customer(db, "Acme " + odd)
    customers.adjust_balance(db, admin, cid, "1.00", odd)
    with db.read_session() as s:
        entries = s.scalars(select(AuditEntry).order_by(AuditEntry.id)).all()
        for e in entries:
            assert audit_chain.entry_hash(e.id, e.prev_hash, {f: getattr(e, f) for f in audit_chain.FIELDS}) == e.hash
        walked = audit_chain.walk(s, "0" * 64)
        assert audit_witness.check(s, None).checked == len(entries)  # as a workstation that saw nothing
    assert (walked.bad_id, walked.count, walked.prev) == (None, len(entries), entries[-1].hash)
    assert audit_chain.verify_database(db).ok


def test_an_imported_csv_carries_the_digest_of_its_rows(db, admin, make_customer, tmp_path):
    """The CDR import writes with its own INSERTs and one entry: the entry still gets the
    digest of exactly the rows that import inserted (not the duplicates it skipped)."""
    import csv

    from cxdesk.services import cdr_import

    cid = make_customer(db, "Acme")
    path = tmp_path / "cdrs.csv"

    def write(callids):
        with path.open("w", newline="") as f:
            out = csv.writer(f)
            out.writerow(cdr_import.COLUMNS)
            for n in callids:
                out.writerow([f"2026-01-05 10:{n:02d}:00", f"call-{n}", cid, "4420", "4421", 60, 60, "0.012", "0.012",
                              "44", "UK", "EUR", "", "0.005", 100, 3, 200, "OK", "caller"])

    write([1, 2, 3])
    cdr_import.import_cdrs(db, admin, path)
    write([3, 4])  # call-3 is a duplicate: skipped
    cdr_import.import_cdrs(db, admin, path)
    with db.read_session() as s:
        digests = [json.loads(a)[audit_reconcile.DIGEST_KEY] for a in s.scalars(
            select(AuditEntry.after).where(AuditEntry.table_name == "cdrs").order_by(AuditEntry.id))]
        ids = s.scalars(select(Cdr.id).order_by(Cdr.id)).all()
    assert [(d["from_id"], d["to_id"], d["rows"]) for d in digests] == [(ids[0], ids[2], 3), (ids[3], ids[3], 1)]
    assert findings(db) == []
    change(db, f"UPDATE cdrs SET duration = duration + 1 WHERE id = {ids[1]}")
    assert [f for f in findings(db) if f.startswith("cdrs ")] == [
        f"cdrs ids {ids[0]}-{ids[2]} (written by audit entry {_entry_of(db, 'cdrs')}): these rows no longer match "
        "the digest the entry recorded (3 rows recorded, 3 now); a row in this range was changed, added or "
        "deleted around the program."]


def _entry_of(db, table: str) -> int:
    with db.read_session() as s:
        return s.scalar(select(AuditEntry.id).where(AuditEntry.table_name == table).order_by(AuditEntry.id).limit(1))


def _migration(name: str):
    import importlib.util
    from pathlib import Path

    import cxdesk.migrations

    path = Path(cxdesk.migrations.__file__).parent / "versions" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"migration_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_data_migrations_bulk_entry_counts_as_the_rows_latest_state(db, admin, make_customer):
    """Migration 0004 rewrites many contacts and records one entry keyed "bulk" whose after maps
    each contact to the columns it changed: reconciliation applies it to each row's state, so
    the rewritten rows match, and a change made around the program after it is still found."""
    import datetime as dt

    from tests.unit.test_audit_chain import add_contact

    acme = make_customer(db, "Acme")
    ann = add_contact(db, admin, acme, "ann@acme.example", phone="+4402071234567")
    bob = add_contact(db, admin, acme, "bob@acme.example", phone="+4402071234568")
    now = dt.datetime.now(dt.timezone.utc)
    with db.engine.begin() as conn:
        version = conn.execute(text(f"SELECT version FROM contacts WHERE id = {ann}")).scalar()
        conn.execute(text("UPDATE contacts SET phone = '+442071234567', version = :v, updated_at = :t, "
                          "updated_by = 'migration 0004' WHERE id = :i"), {"v": version + 1, "t": now, "i": ann})
        _migration("0004_contact_keys")._append_entry(
            conn, {str(ann): {"phone": "+4402071234567", "version": version}},
            {str(ann): {"phone": "+442071234567", "version": version + 1, "updated_at": now.isoformat(),
                        "updated_by": "migration 0004"}}, now)
    assert findings(db) == []
    change(db, f"UPDATE contacts SET phone = '+15550000000' WHERE id = {ann}")
    change(db, f"UPDATE contacts SET mobile = '+15550000001' WHERE id = {bob}")
    found = findings(db)
    assert [f.split(":")[0] for f in found] == [f"contacts/{ann}/phone", f"contacts/{bob}/mobile"]
    assert '"+442071234567" -> "+15550000000"' in found[0]


def test_the_invoice_lifecycle_reconciles(db, data, admin):
    """Issuing, a payment, a credit note and the period generated again are all audited
    changes: reconciliation finds nothing; a credit note's amount changed around the program
    is named."""
    from cxdesk.services import invoice_lifecycle

    import datetime as dt

    cid = data
    yesterday = dt.datetime.now(dt.timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0) \
        - dt.timedelta(days=1)
    (first,) = invoices.generate_for_periods(db, admin, cid, "daily", [yesterday])
    invoice_lifecycle.issue_invoice(db, admin, first.id)
    invoice_lifecycle.record_payment(db, admin, first.id, "0.01")
    invoice_lifecycle.credit_invoice(db, admin, first.id, "wrong rate")
    (again,) = invoices.generate_for_periods(db, admin, cid, "daily", [yesterday])
    assert again.number == first.number + 1
    assert findings(db) == []
    with db.read_session() as s:
        (note,) = invoice_lifecycle.list_credit_notes(s, cid)
    change(db, f"UPDATE credit_notes SET net = net + 1 WHERE id = {note.id}")
    assert [f.split(":")[0] for f in findings(db)] == [f"credit_notes/{note.id}/net"]


def test_a_forged_entry_appended_with_a_correct_hash_is_found_when_the_data_disagrees(db, data):
    """The issue's attack: someone who can write to the database appends an entry, chained and
    hashed as the program does it, saying a customer's credit was raised. The chain verifies,
    but the data does not say so: reconciliation names the customer's credit."""
    import datetime as dt

    from cxdesk import auditproof
    from cxdesk.services import audit_chain

    cid = data
    m = _migration("0004_contact_keys")
    with db.read_session() as s:
        latest = s.scalars(select(AuditEntry).where(AuditEntry.table_name == "customers",
                                                    AuditEntry.primary_key == str(cid))
                           .order_by(AuditEntry.id.desc())).first()
    forged_after = dict(json.loads(latest.after), credit="1000000")
    now = dt.datetime.now(dt.timezone.utc)
    values = {"actor": "alice", "ip": "10.0.0.5", "created_at": now, "table_name": "customers",
              "primary_key": str(cid), "action": "UPDATE", "message": f"Updated customer {cid}: credit",
              "before": latest.after, "after": json.dumps(forged_after, sort_keys=True), "comment": "",
              "customer_id": cid}
    with db.engine.begin() as conn:
        last_id, prev, count = conn.execute(select(m.head.c.last_id, m.head.c.last_hash, m.head.c.count)).one()
        hashed = dict(values, created_at=now.isoformat(timespec="microseconds"))
        digest = auditproof.entry_hash(last_id + 1, prev, hashed)
        conn.execute(m.entries.insert().values(id=last_id + 1, prev_hash=prev, hash=digest, **values))
        conn.execute(m.head.update().values(last_id=last_id + 1, last_hash=digest, count=count + 1))
    with db.read_session() as s:
        assert audit_chain.verify(s).ok  # the forgery is chained correctly
    found = findings(db)
    assert [f.split(":")[0] for f in found] == [f"customers/{cid}/credit"]
    assert '"1000000" ->' in found[0]
