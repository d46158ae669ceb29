"""contacts: existing phones and emails normalised as new ones are

Revision ID: 0004
Revises: 0003

Contacts saved before phones were read with phonenumbers and emails with email-validator
hold the old forms ("+4402071234567", "Ann@Example.COM" with the key "ann@müller.de").
This pass rewrites phone, mobile, email and email_key with the service's own
``normalise_phone`` / ``normalise_email`` (cxdesk.services.contacts), phones read in the
stored default-region option, so old and new rows follow one rule and one mailbox is one
login. They are called through ``_normalised`` only: any exception there (a value they
refuse, or a later change of their signature) leaves that value as it is and logs why, so
this upgrade can never fail on data.

Login keys stay unique: contacts are taken in id order and a contact whose new key is
already some other contact's login keeps its old key and email (logged, to be merged or
changed by hand). Each rewritten contact gets version + 1 and updated_by "migration 0004".

The rewrite is one audited bulk entry appended to the hash chain (action UPDATE, table
contacts, primary key "bulk"; before/after map each contact id to the columns that
changed), hashed with cxdesk.auditproof as the program hashes its own entries, so the chain
still verifies and each row's latest "after" is known. Downgrade keeps the new forms (the
older program reads them).
"""
from __future__ import annotations

import datetime as dt
import json
import logging

import sqlalchemy as sa
from alembic import op

from cxdesk import auditproof
from cxdesk.models.base import UTCDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

log = logging.getLogger("cxdesk.migrations.0004")

ACTOR = "migration 0004"
IP = "127.0.0.1"
#: the option's default when none is stored (as Settings > Options had it at this revision)
DEFAULT_REGION = "GB"
FIELDS = ("phone", "mobile", "email", "email_key")

contacts = sa.table(
    "contacts",
    sa.column("id", sa.Integer()), sa.column("name", sa.String()), sa.column("email", sa.String()),
    sa.column("email_key", sa.String()), sa.column("phone", sa.String()), sa.column("mobile", sa.String()),
    sa.column("search_text", sa.String()), sa.column("version", sa.Integer()),
    sa.column("updated_at", UTCDateTime(timezone=True)), sa.column("updated_by", sa.String()),
)
option_rows = sa.table("options", sa.column("key", sa.String()), sa.column("value", sa.String()))
entries = sa.table(
    "audit_entries",
    sa.column("id", sa.Integer()),
    *(sa.column(name, UTCDateTime(timezone=True) if name == "created_at"
                else sa.Integer() if name == "customer_id" else sa.Text())
      for name in auditproof.FIELDS),
    sa.column("prev_hash", sa.String()), sa.column("hash", sa.String()),
)
head = sa.table("audit_head", sa.column("id", sa.Integer()), sa.column("last_id", sa.Integer()),
                sa.column("last_hash", sa.String()), sa.column("count", sa.Integer()))


def _search_text(name: str, email: str, phone: str, mobile: str) -> str:
    """contacts.search_text as the model writes it at this revision (frozen here)."""
    return "\n".join(((name or "").lower(), (email or "").lower(), phone or "", mobile or ""))


def _normalised(fn, *args):
    """(result, None) or (None, why): never raises."""
    try:
        return fn(*args), None
    except Exception as exc:  # noqa: BLE001 -- whatever it is, the value stays as it was
        return None, str(exc) or type(exc).__name__


def _new_values(row, region: str) -> tuple[dict, list[str]]:
    """The normalised columns of one contact (only those that change), and what was left as it was."""
    from cxdesk.services.contacts import normalise_email, normalise_phone

    new, kept = {}, []
    for field in ("phone", "mobile"):
        old = row[field] or ""
        if not old:
            continue
        value, why = _normalised(normalise_phone, old, field, region)
        if why is not None:
            kept.append(f"contact {row['id']}: {field} '{old}' left as it is ({why})")
        elif value != old:
            new[field] = value
    pair, why = _normalised(normalise_email, row["email"])
    if why is not None:
        kept.append(f"contact {row['id']}: email '{row['email']}' left as it is ({why})")
    else:
        email, key = pair
        if email != row["email"]:
            new["email"] = email
        if key != row["email_key"]:
            new["email_key"] = key
    return new, kept


def _plan(rows, region: str) -> tuple[dict[int, dict], list[str]]:
    """contact id -> changed columns, keys kept unique: in id order, a new key some other
    contact holds at that point is not taken (that contact keeps its old email and key)."""
    in_use = {row["email_key"]: row["id"] for row in rows}
    changes, notes = {}, []
    for row in rows:
        new, kept = _new_values(row, region)
        notes.extend(kept)
        key = new.get("email_key")
        if key is not None:
            holder = in_use.get(key)
            if holder is not None:
                notes.append(f"contact {row['id']}: login {row['email_key']!r} is the same mailbox as contact "
                             f"{holder}'s {key!r}; it keeps its old email and key (merge the two or change one)")
                new.pop("email_key")
                new.pop("email", None)
            else:
                del in_use[row["email_key"]]
                in_use[key] = row["id"]
        if new:
            changes[row["id"]] = new
    return changes, notes


def _append_entry(bind, before: dict, after: dict, now: dt.datetime) -> None:
    """One entry at the end of the hash chain, as the program appends its own (under the head lock)."""
    last_id, prev, count = bind.execute(
        sa.select(head.c.last_id, head.c.last_hash, head.c.count).where(head.c.id == 1).with_for_update()).one()
    values = {
        "actor": ACTOR, "ip": IP, "created_at": now, "table_name": "contacts", "primary_key": "bulk",
        "action": "UPDATE",
        "message": f"Migration 0004 normalised the phones and emails of {len(after)} contacts "
                   "(phonenumbers E.164, email-validator; one mailbox, one login)",
        "before": json.dumps(before, ensure_ascii=False, sort_keys=True),
        "after": json.dumps(after, ensure_ascii=False, sort_keys=True),
        "comment": "", "customer_id": None,
    }
    hashed = dict(values, created_at=now.astimezone(dt.timezone.utc).isoformat(timespec="microseconds"))
    entry_id = last_id + 1
    digest = auditproof.entry_hash(entry_id, prev, hashed)
    bind.execute(sa.insert(entries).values(id=entry_id, prev_hash=prev, hash=digest, **values))
    bind.execute(sa.update(head).where(head.c.id == 1).values(last_id=entry_id, last_hash=digest, count=count + 1))


def upgrade() -> None:
    bind = op.get_bind()
    region = bind.execute(sa.select(option_rows.c.value).where(option_rows.c.key == "default-region")).scalar()
    region = (region or "").strip().upper() or DEFAULT_REGION
    rows = [dict(r._mapping) for r in bind.execute(
        sa.select(contacts.c.id, contacts.c.name, contacts.c.email, contacts.c.email_key, contacts.c.phone,
                  contacts.c.mobile, contacts.c.version).order_by(contacts.c.id))]
    changes, notes = _plan(rows, region)
    for note in notes:
        log.warning("%s", note)
    if not changes:
        return
    now = dt.datetime.now(dt.timezone.utc)
    before, after = {}, {}
    by_id = {row["id"]: row for row in rows}
    for cid, new in changes.items():  # id order: each new key is free when it is written
        row = by_id[cid]
        merged = {**row, **new}
        stamp = {"version": row["version"] + 1, "updated_at": now.isoformat(), "updated_by": ACTOR}
        before[str(cid)] = {f: row[f] for f in new} | {"version": row["version"]}
        after[str(cid)] = dict(new) | stamp
        bind.execute(sa.update(contacts).where(contacts.c.id == cid).values(
            **new, version=row["version"] + 1, updated_at=now, updated_by=ACTOR,
            search_text=_search_text(merged["name"], merged["email"], merged["phone"], merged["mobile"])))
    _append_entry(bind, before, after, now)
    log.info("normalised the phones and emails of %d contacts (%d notes above)", len(changes), len(notes))


def downgrade() -> None:
    """The new forms are kept: the older program reads E.164 numbers and these keys."""
