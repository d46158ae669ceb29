"""Delay and Save: scheduled contact changes are kept, listed, cancelled, and applied once
when due, as the operator who scheduled them; changes that no longer fit are reported."""
from __future__ import annotations

import dataclasses
import datetime as dt
import json

import pytest
from sqlalchemy import func, select

from cxdesk.db import open_database
from cxdesk.errors import ConflictError, NotFound, ValidationError
from cxdesk.models import AuditEntry, Contact, Customer, Operator, ScheduledChange, utcnow
from cxdesk.services import contacts, mail, options, passwords, scheduler
from cxdesk.services.contacts import ContactForm, NeedsConfirmation
from cxdesk.services.uow import unit_of_work

HOUR = dt.timedelta(hours=1)


def form(**kw) -> ContactForm:
    base = dict(name="Ann Smith", email="ann@acme.example", phone="+44 20 7123 4567",
                auto_generate_password=False, password="")
    base.update(kw)
    return ContactForm(**base)


def snapshot(db):
    with db.read_session() as s:
        return (s.execute(select(Contact.id, Contact.name, Contact.email, Contact.version).order_by(Contact.id)).all(),
                s.execute(select(ScheduledChange.id, ScheduledChange.state, ScheduledChange.result)
                          .order_by(ScheduledChange.id)).all(),
                s.scalar(select(func.count()).select_from(AuditEntry)))


def contact(db, contact_id):
    with db.read_session() as s:
        return contacts.get_contact(s, contact_id)


def scheduled(db, **kw):
    with db.read_session() as s:
        return scheduler.list_scheduled(s, **kw)


def entries(db, table):
    with db.read_session() as s:
        return s.scalars(select(AuditEntry).where(AuditEntry.table_name == table).order_by(AuditEntry.id)).all()


@pytest.fixture
def ann(db, admin, make_customer):
    acme = make_customer(db, "Acme")
    return contacts.create_contact(db, admin, acme, form())


def test_an_edit_waits_until_due_then_is_applied_as_its_operator(db, staff, ann):
    due = utcnow() + HOUR
    row = scheduler.schedule_contact_change(db, staff, dataclasses.replace(ann.form(), name="Ann Jones", phone=""),
                                            due, contact_id=ann.id, expected_version=ann.version,
                                            comment="name change from March")
    assert (row.state, row.kind, row.target_id, row.operator_login) == ("pending", "contact.update", ann.id, "sam")
    assert row.summary == f"Edit contact {ann.id} (ann@acme.example): name, phone"
    assert scheduled(db) == [row]
    assert entries(db, "scheduled_changes")[-1].message.startswith(f"Scheduled for {due:%Y-%m-%d %H:%M} UTC: Edit")

    assert scheduler.apply_due(db, due - dt.timedelta(seconds=1)) == []
    assert contact(db, ann.id).name == "Ann Smith"

    [result] = scheduler.apply_due(db, due)
    assert (result.change_id, result.state, result.result) == (row.id, "applied", f"Updated contact {ann.id}: name, phone")
    now = contact(db, ann.id)
    assert (now.name, now.phone, now.updated_by, now.version) == ("Ann Jones", "", "sam", ann.version + 1)
    update = entries(db, "contacts")[-1]
    assert (update.actor, update.action, update.comment) == ("sam", "UPDATE", "name change from March")
    assert f"(scheduled change {row.id} of sam)" in update.message
    done = entries(db, "scheduled_changes")[-1]
    assert done.actor == "sam" and done.message.startswith(f"Applied scheduled change {row.id}")
    assert scheduled(db) == []
    [kept] = scheduled(db, states=None)
    assert (kept.state, kept.applied_at) == ("applied", due)
    assert scheduler.apply_due(db, due + HOUR) == []  # once only


def test_a_new_contact_with_a_generated_password_is_emailed_when_applied(db, admin, staff, make_customer,
                                                                         smtp_server):
    server = smtp_server("ok")
    for key, value in (("smtp-host", server.host), ("smtp-port", str(server.port)), ("smtp-security", "none"),
                       ("smtp-sender", "noc@carrier.example"), ("portal-url", "https://portal.carrier.example")):
        options.set_value(db, admin, key, value)
    mail.set_plaintext_passwords(db, admin, True)  # the test server speaks plain SMTP
    acme = make_customer(db, "Acme")
    due = utcnow() + HOUR
    row = scheduler.schedule_contact_change(db, staff, form(auto_generate_password=True), due, customer_id=acme)
    assert row.summary == "New contact Ann Smith <ann@acme.example> of Acme"
    with db.read_session() as s:
        payload = json.loads(s.get(ScheduledChange, row.id).payload)
    assert "password" not in json.dumps(payload["values"]).replace("auto_generate_password", "")
    assert server.messages == []
    [result] = scheduler.apply_due(db, due)
    assert result.state == "applied" and result.result.startswith("Created contact ")
    [message] = server.wait_for_messages(1)
    password = message.get_content().split("Password: ")[1].split()[0]
    with db.read_session() as s:
        c = s.execute(select(Contact).where(Contact.email_key == "ann@acme.example")).scalar_one()
        assert passwords.verify_password(password, c.password_hash)
        assert c.updated_by == "sam"
    assert [e.action for e in entries(db, "contacts")] == ["CREATE", "SEND"]


def test_the_email_cannot_be_sent_when_applied(db, admin, staff, make_customer, smtp_server):
    server = smtp_server("refuse")
    for key, value in (("smtp-host", server.host), ("smtp-port", str(server.port)), ("smtp-security", "none"),
                       ("smtp-sender", "noc@carrier.example"), ("portal-url", "https://portal.carrier.example")):
        options.set_value(db, admin, key, value)
    mail.set_plaintext_passwords(db, admin, True)  # the test server speaks plain SMTP
    row = scheduler.schedule_contact_change(db, staff, form(auto_generate_password=True), utcnow() + HOUR,
                                            customer_id=make_customer(db, "Acme"))
    [result] = scheduler.apply_due(db, utcnow() + 2 * HOUR)
    assert result.state == "failed" and "refused the recipient ann@acme.example" in result.result
    with db.read_session() as s:
        assert s.scalar(select(func.count()).select_from(Contact)) == 0
        assert s.get(ScheduledChange, row.id).state == "failed"


@pytest.mark.parametrize("due,words", [
    (lambda now: now - HOUR, "is not in the future"),
    (lambda now: now.replace(tzinfo=None) + HOUR, "with its time zone"),
    (lambda now: now + dt.timedelta(days=400), "at most a year"),
])
def test_due_times_that_are_refused(db, staff, ann, due, words):
    before = snapshot(db)
    with pytest.raises(ValidationError, match=words) as e:
        scheduler.schedule_contact_change(db, staff, dataclasses.replace(ann.form(), name="X"), due(utcnow()),
                                          contact_id=ann.id, expected_version=ann.version)
    assert e.value.field == "due_at"
    assert snapshot(db) == before


def test_what_cannot_be_scheduled(db, staff, ann):
    before = snapshot(db)
    later = utcnow() + HOUR
    with pytest.raises(ValidationError, match="A typed password cannot be delayed") as e:
        scheduler.schedule_contact_change(db, staff, form(email="bob@acme.example", password="Typed-Secret-123"),
                                          later, customer_id=ann.customer_id)
    assert e.value.field == "password"
    with pytest.raises(ValidationError, match="not an email address"):
        scheduler.schedule_contact_change(db, staff, form(email="bob"), later, customer_id=ann.customer_id)
    with pytest.raises(ConflictError, match="already the login of contact"):
        scheduler.schedule_contact_change(db, staff, form(email="ANN@acme.example"), later,
                                          customer_id=ann.customer_id)
    with pytest.raises(ValidationError, match="Nothing was changed"):
        scheduler.schedule_contact_change(db, staff, ann.form(), later, contact_id=ann.id, expected_version=ann.version)
    with pytest.raises(ValidationError, match="No mail server is set"):
        scheduler.schedule_contact_change(db, staff, form(email="bob@acme.example", auto_generate_password=True),
                                          later, customer_id=ann.customer_id)
    with pytest.raises(NotFound):
        scheduler.schedule_contact_change(db, staff, form(email="bob@acme.example"), later, customer_id=999)
    with pytest.raises(NeedsConfirmation):
        scheduler.schedule_contact_change(db, staff, dataclasses.replace(ann.form(), private_notes="pwd=x1"), later,
                                          contact_id=ann.id, expected_version=ann.version)
    assert snapshot(db) == before
    scheduler.schedule_contact_change(db, staff, dataclasses.replace(ann.form(), private_notes="pwd=x1"), later,
                                      contact_id=ann.id, expected_version=ann.version, confirm_warnings=True)


def test_scheduling_a_stale_form_is_refused_naming_who_changed_it(db, staff, admin, ann):
    saved = contacts.update_contact(db, admin, ann.id, ann.version, dataclasses.replace(ann.form(), name="A. Smith"))
    before = snapshot(db)
    with pytest.raises(ConflictError, match=f"was changed by alice at {saved.updated_at:%Y-%m-%d %H:%M} UTC"):
        scheduler.schedule_contact_change(db, staff, dataclasses.replace(ann.form(), phone=""), utcnow() + HOUR,
                                          contact_id=ann.id, expected_version=ann.version)
    assert snapshot(db) == before


def test_changes_that_no_longer_fit_are_reported_not_forced(db, staff, admin, ann, make_customer):
    later = utcnow() + HOUR
    edit = scheduler.schedule_contact_change(db, staff, dataclasses.replace(ann.form(), name="Ann Jones"), later,
                                             contact_id=ann.id, expected_version=ann.version)
    new_bob = scheduler.schedule_contact_change(db, staff, form(name="Bob", email="bob@acme.example"), later,
                                                customer_id=ann.customer_id)
    beta = make_customer(db, "Beta")
    new_cy = scheduler.schedule_contact_change(db, staff, form(name="Cy", email="cy@beta.example"), later,
                                               customer_id=beta)
    # meanwhile: ann is edited, bob's email is taken, Beta is deleted
    changed = contacts.update_contact(db, admin, ann.id, ann.version, dataclasses.replace(ann.form(), phone=""))
    contacts.create_contact(db, admin, ann.customer_id, form(name="Other Bob", email="BOB@acme.example"))
    with unit_of_work(db, admin) as uow:
        uow.delete(uow.session.get(Customer, beta))
    results = {r.change_id: r for r in scheduler.apply_due(db, later)}
    assert {r.state for r in results.values()} == {"failed"}
    assert results[edit.id].result == (f"the contact was changed by alice at {changed.updated_at:%Y-%m-%d %H:%M} UTC "
                                       "after the change was scheduled")
    assert results[new_bob.id].result.startswith("bob@acme.example is now the login of contact ")
    assert results[new_cy.id].result == "the customer was deleted after the change was scheduled"
    assert contact(db, ann.id).name == "Ann Smith"
    assert [r.state for r in scheduled(db, states=None)] == ["failed"] * 3
    assert entries(db, "scheduled_changes")[-1].message.startswith("Could not apply scheduled change")


def test_a_deleted_contact(db, staff, admin, ann):
    later = utcnow() + HOUR
    scheduler.schedule_contact_change(db, staff, dataclasses.replace(ann.form(), name="Ann Jones"), later,
                                      contact_id=ann.id, expected_version=ann.version)
    contacts.delete_contact(db, admin, ann.id)
    [r] = scheduler.apply_due(db, later)
    assert (r.state, r.result) == ("failed", "the contact was deleted after the change was scheduled")


def test_an_operator_who_left_cannot_apply_their_change(db, staff, admin, ann):
    with unit_of_work(db, admin) as uow:
        uow.add(Operator(login="sam", role="staff", password_hash="x", active=False))
    later = utcnow() + HOUR
    scheduler.schedule_contact_change(db, staff, dataclasses.replace(ann.form(), name="Ann Jones"), later,
                                      contact_id=ann.id, expected_version=ann.version)
    [r] = scheduler.apply_due(db, later)
    assert (r.state, r.result) == ("failed", "the operator sam who scheduled it is no longer active")
    assert contact(db, ann.id).name == "Ann Smith"


def test_cancel(db, staff, admin, ann):
    later = utcnow() + HOUR
    row = scheduler.schedule_contact_change(db, staff, dataclasses.replace(ann.form(), name="Ann Jones"), later,
                                            contact_id=ann.id, expected_version=ann.version)
    scheduler.cancel_scheduled(db, admin, row.id, comment="customer changed their mind")
    entry = entries(db, "scheduled_changes")[-1]
    assert (entry.actor, entry.comment) == ("alice", "customer changed their mind")
    assert entry.message == f"Cancelled scheduled change {row.id}: {row.summary}"
    assert scheduler.apply_due(db, later) == []
    assert contact(db, ann.id).name == "Ann Smith"
    before = snapshot(db)
    with pytest.raises(ConflictError, match=f"Scheduled change {row.id} was already cancelled"):
        scheduler.cancel_scheduled(db, admin, row.id)
    with pytest.raises(NotFound):
        scheduler.cancel_scheduled(db, admin, 999)
    assert snapshot(db) == before
    other = scheduler.schedule_contact_change(db, staff, dataclasses.replace(ann.form(), name="Ann Jones"), later,
                                              contact_id=ann.id, expected_version=ann.version)
    scheduler.apply_due(db, later)
    with pytest.raises(ConflictError, match=f"was already applied at {later:%Y-%m-%d %H:%M} UTC"):
        scheduler.cancel_scheduled(db, admin, other.id)


def test_list_filters_and_order(db, staff, ann, make_customer):
    beta = make_customer(db, "Beta")
    now = utcnow()
    late = scheduler.schedule_contact_change(db, staff, form(email="b@acme.example"), now + 2 * HOUR,
                                             customer_id=ann.customer_id)
    early = scheduler.schedule_contact_change(db, staff, form(email="c@beta.example"), now + HOUR, customer_id=beta)
    assert [r.id for r in scheduled(db)] == [early.id, late.id]
    assert [r.id for r in scheduled(db, customer_id=beta)] == [early.id]
    scheduler.apply_due(db, now + HOUR)
    assert [r.id for r in scheduled(db)] == [late.id]
    assert [r.id for r in scheduled(db, states=("applied",))] == [early.id]


def test_pending_changes_survive_a_restart(sqlite_db, staff, admin, make_customer):
    url = sqlite_db.url.render_as_string(hide_password=False)
    ann = contacts.create_contact(sqlite_db, admin, make_customer(sqlite_db), form())
    later = utcnow() + HOUR
    scheduler.schedule_contact_change(sqlite_db, staff, dataclasses.replace(ann.form(), name="Ann Jones"), later,
                                      contact_id=ann.id, expected_version=ann.version)
    sqlite_db.close()
    with open_database(url) as again:
        assert len(scheduled(again)) == 1
        assert [r.state for r in scheduler.apply_due(again, later)] == ["applied"]
        assert contact(again, ann.id).name == "Ann Jones"


def test_audit_comment_is_required_to_schedule_and_kept_for_applying(db, staff, admin, ann):
    options.set_value(db, admin, "audit-comment", "on", comment="reasons please")
    later = utcnow() + HOUR
    edit = dataclasses.replace(ann.form(), name="Ann Jones")
    with pytest.raises(ValidationError, match="A reason is required"):
        scheduler.schedule_contact_change(db, staff, edit, later, contact_id=ann.id, expected_version=ann.version)
    scheduler.schedule_contact_change(db, staff, edit, later, contact_id=ann.id, expected_version=ann.version,
                                      comment="ticket 7")
    assert [r.state for r in scheduler.apply_due(db, later)] == ["applied"]
    assert entries(db, "contacts")[-1].comment == "ticket 7"
