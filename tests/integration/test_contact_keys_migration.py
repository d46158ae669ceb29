"""Migration 0004: contacts saved in the old forms (before phonenumbers and email-validator)
are rewritten as the service writes new ones, on SQLite and PostgreSQL: a database is made
at revision 0003, old-form rows are inserted raw, then it is upgraded."""
from __future__ import annotations

import datetime as dt
import json
import logging

from alembic import command
from sqlalchemy import create_engine, select, text

from cxdesk import db as dbmod
from cxdesk.db import open_database
from cxdesk.models import AuditEntry, Contact
from cxdesk.services import audit_chain, contacts

T0 = dt.datetime(2026, 1, 5, 9, 0, tzinfo=dt.timezone.utc)

#: id -> (email, email_key, phone, mobile) as the old program stored them
OLD = {
    1: ("Ann@Example.COM", "ann@example.com", "+4402071234567", "+447400123456"),  # +44 0...: trunk 0 kept
    2: ("bob@müller.de", "bob@müller.de", "", ""),  # key with the Unicode domain
    3: ("carol@localhost", "carol@localhost", "+9991234567", "+39612345678"),  # none of these can be read
    4: ("dave@müller.de", "dave@müller.de", "", ""),  # its new key is contact 5's already ...
    5: ("dave@müller.de", "dave@xn--mller-kva.de", "", ""),  # ... written by the new program
    6: ("eve@ｍüller.de", "eve@ｍüller.de", "", ""),  # full-width m: one mailbox with contact 7,
    7: ("eve@müller.de", "eve@müller.de", "+44 20 7123 4568", ""),  # both old: the first keeps the key
}


def at_revision_0003(url: str, *, rows=OLD) -> None:
    cfg = dbmod.alembic_config()
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "0003")
            conn.execute(text(
                "INSERT INTO customers (id, name, status, currency, credit, debit_limit, channels, flow_speed, "
                "tax_percent, invoice_schedule, invoice_due_days, portal_access, tags, version, created_at, "
                "updated_at, updated_by) VALUES (1, 'Acme', 'Active', 'EUR', 0, 0, 0, 0, 0, 'Monthly', 30, "
                ":t, '', 1, :ts, :ts, 'alice')"), {"t": True, "ts": T0})
            for cid, (email, key, phone, mobile) in rows.items():
                conn.execute(text(
                    "INSERT INTO contacts (id, customer_id, name, email, email_key, phone, mobile, contact_type, "
                    "auto_generate_password, public_notes, private_notes, mobile_verified, email_verified, "
                    "ip_whitelist, search_text, version, created_at, updated_at, updated_by) VALUES (:id, 1, :n, "
                    ":e, :k, :p, :m, 'General', :f, '', '', :f, :f, '', :s, 3, :ts, :ts, 'alice')"),
                    {"id": cid, "n": f"Person {cid}", "e": email, "k": key, "p": phone, "m": mobile, "f": False,
                     "s": f"person {cid}\n{email.lower()}\n{phone}\n{mobile}", "ts": T0})
    finally:
        engine.dispose()


def stored(db) -> dict[int, tuple]:
    with db.read_session() as s:
        return {c.id: (c.email, c.email_key, c.phone, c.mobile, c.version, c.updated_by, c.search_text)
                for c in s.scalars(select(Contact).order_by(Contact.id))}


def test_old_forms_are_normalised_once_and_recorded_in_the_chain(db_url, caplog):
    at_revision_0003(db_url)
    caplog.set_level(logging.INFO, logger="cxdesk.migrations.0004")
    db = open_database(db_url)  # migrates to the head
    try:
        rows = stored(db)
        new = {cid: row[:4] for cid, row in rows.items()}
        assert new == {
            1: ("Ann@example.com", "ann@example.com", "+442071234567", "+447400123456"),
            2: ("bob@müller.de", "bob@xn--mller-kva.de", "", ""),
            3: OLD[3],  # left as they were, and reported
            4: OLD[4],  # its new key is contact 5's: kept as it was, reported
            5: OLD[5],
            6: ("eve@müller.de", "eve@xn--mller-kva.de", "", ""),
            7: ("eve@müller.de", "eve@müller.de", "+442071234568", ""),  # key kept, phone normalised
        }
        # the same forms the service writes today
        for cid in (1, 2, 6):
            assert contacts.normalise_email(OLD[cid][0]) == new[cid][:2]
        assert contacts.normalise_phone(OLD[1][2], "phone", "GB") == new[1][2]
        changed = {1, 2, 6, 7}
        for cid, (email, _key, phone, mobile, version, by, search) in rows.items():
            assert (version, by) == ((4, "migration 0004") if cid in changed else (3, "alice"))
            assert search == f"person {cid}\n{email.lower()}\n{phone}\n{mobile}"

        warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
        for words in ("contact 3: phone '+9991234567' left as it is", "contact 3: mobile '+39612345678' left",
                      "contact 3: email 'carol@localhost' left as it is",
                      "contact 4: login 'dave@müller.de' is the same mailbox as contact 5's",
                      "contact 7: login 'eve@müller.de' is the same mailbox as contact 6's"):
            assert any(w.startswith(words) for w in warnings), (words, warnings)

        with db.read_session() as s:
            [entry] = s.scalars(select(AuditEntry)).all()
            assert (entry.actor, entry.action, entry.table_name, entry.primary_key) == (
                "migration 0004", "UPDATE", "contacts", "bulk")
            before, after = json.loads(entry.before), json.loads(entry.after)
            assert set(after) == {"1", "2", "6", "7"}
            assert after["2"]["email_key"] == "bob@xn--mller-kva.de" and after["2"]["version"] == 4
            assert before["1"] == {"phone": "+4402071234567", "email": "Ann@Example.COM", "version": 3}
            assert "email" not in after["7"] and after["7"]["phone"] == "+442071234568"
            # the program's duplicate check finds the rewritten login under its new key
            assert contacts.email_owner(s, "bob@xn--mller-kva.de") == (2, "Acme")
        assert audit_chain.verify_database(db).ok
    finally:
        db.close()


def test_rows_already_in_the_new_forms_are_not_touched_nor_audited(db_url):
    rows = {1: ("Ann@müller.de", "ann@xn--mller-kva.de", "+442071234567;ext=12", "+447400123456")}
    at_revision_0003(db_url, rows=rows)
    db = open_database(db_url)
    try:
        assert stored(db)[1][:6] == (*rows[1], 3, "alice")
        with db.read_session() as s:
            assert s.scalars(select(AuditEntry)).all() == []
    finally:
        db.close()
