"""The audited unit of work and the hash chain, on SQLite and PostgreSQL.

No commit without its entry, no entry without its commit; entries are append-only, and a
changed, removed or inserted entry breaks the chain where it happened. To tamper, the
tests go around the append-only trigger the way an attacker with file or superuser
access would.
"""
from __future__ import annotations

import json
import sqlite3
from decimal import Decimal

import pytest
from sqlalchemy import delete, func, select, text, update
from sqlalchemy.exc import DBAPIError

from cxdesk.errors import Cancelled, ConflictError, ValidationError
from cxdesk.models import AuditEntry, AuditHead, Contact, Customer
from cxdesk.services import audit_chain, options
from cxdesk.services.actor import cli_actor
from cxdesk.services.audit_chain import entry_hash
from cxdesk.services.uow import MASK, MASK_CHANGED, AuditBypassError, unit_of_work


def entries(db) -> list[AuditEntry]:
    with db.read_session() as s:
        return list(s.scalars(select(AuditEntry).order_by(AuditEntry.id)))


def head(db) -> tuple[int, str, int]:
    with db.read_session() as s:
        h = s.get(AuditHead, 1)
        return h.last_id, h.last_hash, h.count


def verify(db) -> audit_chain.VerifyResult:
    with db.read_session() as s:
        return audit_chain.verify(s)


def tamper(db, sql: str, **params) -> None:
    """Run ``sql`` on audit_entries past the append-only trigger, as an attacker could."""
    if db.is_sqlite:
        con = sqlite3.connect(db.path)
        try:
            con.execute("DROP TRIGGER IF EXISTS audit_entries_no_update")
            con.execute("DROP TRIGGER IF EXISTS audit_entries_no_delete")
            con.execute(sql, params)
            con.commit()
        finally:
            con.close()
    else:
        with db.engine.begin() as conn:  # the test server's superuser
            conn.exec_driver_sql("ALTER TABLE audit_entries DISABLE TRIGGER USER")
            conn.execute(text(sql), params)
            conn.exec_driver_sql("ALTER TABLE audit_entries ENABLE TRIGGER USER")


def add_contact(db, actor, customer_id: int, email: str, **fields) -> int:
    with unit_of_work(db, actor) as uow:
        c = uow.add(Contact(customer_id=customer_id, name=email.split("@")[0], email=email,
                            email_key=email.lower(), **fields))
        uow.flush()
        return c.id


@pytest.fixture
def history(db, admin, staff, make_customer):
    """Five entries: two customers created, a contact created, updated and deleted... and one more."""
    acme = make_customer(db, "Acme Telecom")
    add_contact(db, staff, acme, "bob@acme.example")
    with unit_of_work(db, staff, "asked by phone") as uow:
        uow.session.get(Customer, acme).credit = Decimal("12.50")
    make_customer(db, "Beta Voice")
    with unit_of_work(db, admin) as uow:
        uow.delete(uow.session.scalars(select(Contact)).one())
    return acme


def test_every_change_is_an_entry_at_the_end_of_the_chain(db, history, admin, staff):
    log = entries(db)
    assert [(e.action, e.table_name, e.actor) for e in log] == [
        ("CREATE", "customers", "alice"), ("CREATE", "contacts", "sam"), ("UPDATE", "customers", "sam"),
        ("CREATE", "customers", "alice"), ("DELETE", "contacts", "alice"),
    ]
    assert [e.customer_id for e in log] == [history, history, history, history + 1, history]
    assert log[2].comment == "asked by phone" and log[2].ip == staff.ip
    assert log[2].message == f"Updated customer {history} (Acme Telecom): credit"
    assert json.loads(log[2].before)["credit"] == "100" and json.loads(log[2].after)["credit"] == "12.5"
    assert log[1].before is None and json.loads(log[4].before)["email"] == "bob@acme.example" and log[4].after is None
    assert all(e.created_at.tzinfo is not None for e in log)
    prev = "0" * 64
    for e in log:
        assert e.prev_hash == prev
        prev = e.hash
    assert head(db) == (log[-1].id, log[-1].hash, 5)
    assert verify(db) == audit_chain.VerifyResult(True, 5)


def test_committed_rows_each_have_their_entry(db, history):
    created = {(e.table_name, e.primary_key) for e in entries(db) if e.action == "CREATE"}
    with db.read_session() as s:
        assert {("customers", str(i)) for i in s.scalars(select(Customer.id))} <= created


def test_a_rolled_back_change_leaves_no_entry(db, history, admin):
    before = head(db)
    with pytest.raises(RuntimeError):
        with unit_of_work(db, admin) as uow:
            uow.add(Customer(name="Never Saved", currency="EUR"))
            uow.session.get(Customer, history).credit = Decimal("999")
            uow.flush()
            raise RuntimeError("the user pressed Cancel")
    with pytest.raises(ConflictError):  # the database refuses the commit: nothing stays either
        with unit_of_work(db, admin) as uow:
            uow.add(Customer(name="Third", currency="EUR"))
            uow.add(Customer(name="Acme Telecom", currency="EUR"))
    assert head(db) == before and len(entries(db)) == 5
    with db.read_session() as s:
        assert s.get(Customer, history).credit == Decimal("12.5")
        assert s.scalar(select(func.count()).select_from(Customer)) == 2
    assert verify(db).ok


@pytest.mark.parametrize("statement", [
    "UPDATE audit_entries SET message = 'nothing happened' WHERE id = 2",
    "DELETE FROM audit_entries WHERE id = 2",
])
def test_the_database_refuses_to_change_or_remove_an_entry(db, history, statement):
    with pytest.raises(DBAPIError, match="append-only"):
        with db.engine.begin() as conn:
            conn.execute(text(statement))
    assert verify(db) == audit_chain.VerifyResult(True, 5)
    assert entries(db)[1].message.startswith("Created contact")


def test_a_changed_entry_breaks_the_chain_there(db, history):
    tamper(db, "UPDATE audit_entries SET after = replace(after, '12.5', '1250') WHERE id = 3")
    result = verify(db)
    assert (result.ok, result.bad_id, result.count) == (False, 3, 2)
    assert "changed" in result.reason
    assert result.sentence() == f"Audit log broken at entry 3: {result.reason}."


def test_a_changed_entry_with_a_recomputed_hash_breaks_the_next_link(db, history):
    log = entries(db)
    values = {f: getattr(log[2], f) for f in audit_chain.FIELDS} | {"comment": "approved"}
    tamper(db, "UPDATE audit_entries SET comment = 'approved', hash = :h WHERE id = 3",
           h=entry_hash(log[2].id, log[2].prev_hash, values))
    result = verify(db)
    assert (result.ok, result.bad_id) == (False, 4) and "removed or inserted" in result.reason


def test_a_removed_entry_is_detected(db, history):
    tamper(db, "DELETE FROM audit_entries WHERE id = 3")
    result = verify(db)
    assert (result.ok, result.bad_id, result.count) == (False, 4, 2)


def test_entries_removed_from_the_end_are_detected(db, history):
    tamper(db, "DELETE FROM audit_entries WHERE id >= 4")
    result = verify(db)
    assert (result.ok, result.count) == (False, 3)
    assert "removed" in result.reason and result.bad_id == 4


def test_an_inserted_entry_is_detected(db, history):
    """A forged entry that continues the chain perfectly is still one more than the head counts."""
    last = entries(db)[-1]
    forged = {"actor": "alice", "ip": "10.0.0.5", "created_at": last.created_at, "table_name": "customers",
              "primary_key": "1", "action": "UPDATE", "message": "Updated customer 1: credit",
              "before": None, "after": None, "comment": "", "customer_id": 1}
    digest = entry_hash(last.id + 1, last.hash, forged)
    with db.engine.begin() as conn:  # inserting needs no trigger bypass
        conn.execute(AuditEntry.__table__.insert().values(**forged, id=last.id + 1, prev_hash=last.hash,
                                                          hash=digest),
                     execution_options={"cxdesk_audited": True})
    result = verify(db)
    assert (result.ok, result.count) == (False, 6)
    assert "head" in result.reason


def test_verify_reports_progress_and_can_be_cancelled(db, history):
    seen = []
    with db.read_session() as s:
        assert audit_chain.verify(s, progress=lambda done, total: seen.append((done, total)), batch=2).ok
        with pytest.raises(Cancelled):
            audit_chain.verify(s, cancel=lambda: True, batch=2)
    assert seen == [(2, 5), (4, 5), (5, 5)]


def test_bulk_orm_writes_outside_bulk_execute_are_refused(db, history, admin):
    before = head(db)
    for statement in (update(Customer).values(credit=Decimal("0")), delete(Contact)):
        with pytest.raises(AuditBypassError):
            with unit_of_work(db, admin) as uow:
                uow.session.execute(statement)
    with db.read_session() as s:
        with pytest.raises(AuditBypassError):
            s.execute(update(Customer).values(credit=Decimal("0")))
        s.rollback()
        s.add(Customer(name="Sneaky", currency="EUR"))
        with pytest.raises(AuditBypassError):
            s.flush()
    assert head(db) == before
    with db.read_session() as s:
        assert s.get(Customer, history).credit == Decimal("12.5")
    with unit_of_work(db, admin) as uow:  # the audited way: one entry for the statement
        uow.bulk_execute(update(Customer).values(channels=5), "Set every customer to 5 channels",
                         table="customers")
    last = entries(db)[-1]
    assert (last.action, last.primary_key, json.loads(last.after)) == ("UPDATE", "bulk", {"rows": 2})
    assert verify(db).ok


def test_secrets_never_reach_the_log(db, history, staff):
    contact = add_contact(db, staff, history, "eve@acme.example", password_hash="scrypt$secret-one")
    with unit_of_work(db, staff) as uow:
        uow.session.get(Contact, contact).password_hash = "scrypt$secret-two"
    create, change = entries(db)[-2:]
    assert json.loads(create.after)["password_hash"] == MASK
    assert json.loads(change.before)["password_hash"] == MASK
    assert json.loads(change.after)["password_hash"] == MASK_CHANGED
    assert not any("secret-" in (e.before or "") + (e.after or "") for e in entries(db))


def test_audit_comment_option_requires_a_reason_from_people(db, history, admin, staff):
    options.set_value(db, admin, "audit-comment", "on", comment="audit review")
    before = head(db)
    for comment in ("", "   "):
        with pytest.raises(ValidationError, match="reason is required") as err:
            with unit_of_work(db, staff, comment) as uow:
                uow.session.get(Customer, history).credit = Decimal("1")
        assert err.value.field == "comment"
    assert head(db) == before
    with db.read_session() as s:
        assert s.get(Customer, history).credit == Decimal("12.5")
    with unit_of_work(db, staff, "  Customer paid by bank transfer  ") as uow:
        uow.session.get(Customer, history).credit = Decimal("1")
    assert entries(db)[-1].comment == "Customer paid by bank transfer"
    with unit_of_work(db, cli_actor()) as uow:  # system actors (CLI, scheduler) are not asked
        uow.session.get(Customer, history).credit = Decimal("2")
    with unit_of_work(db, staff) as uow:  # nor is a login
        uow.record("LOGIN", "operators", "sam", "sam signed in")
    assert [e.comment for e in entries(db)[-2:]] == ["", ""]
    assert verify(db).ok


def test_turning_audit_comment_off_needs_a_reason_too(db, admin):
    options.set_value(db, admin, "audit-comment", "on", comment="audit review")
    before = head(db)
    with pytest.raises(ValidationError, match="reason is required"):
        options.set_value(db, admin, "audit-comment", "off")
    assert head(db) == before
    with db.read_session() as s:
        assert options.get(s, "audit-comment") == "on"
    options.set_value(db, admin, "audit-comment", "off", comment="review finished")
    assert entries(db)[-1].comment == "review finished"
