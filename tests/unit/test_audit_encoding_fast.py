"""The chain walk's own encoding of an entry (audit verify and the start-up witness check)
must hash exactly the bytes of ``cxdesk/auditproof.py``'s ``entry_hash``, the reference a
third party runs: for any text (astral characters, control characters, quotes, backslashes),
None, huge integers and any time, and through the database driver as it returns the columns.
"""
from __future__ import annotations

import datetime as dt
import json

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import insert, update

from cxdesk import auditproof
from cxdesk.models import AuditEntry, AuditHead
from cxdesk.services import audit_chain

NASTY = 'Quote " backslash \\ newline \n tab \t \x00 \x01 \x1f \x7f é 😀 \u2028 \ufeff'
texts = st.one_of(st.text(), st.sampled_from([NASTY, "", '"', "\\", '\\"', "\x00"]))
values = st.one_of(st.none(), texts, st.integers(), st.integers(min_value=2**63, max_value=2**200))
times = st.datetimes(min_value=dt.datetime(1970, 1, 2), max_value=dt.datetime(9999, 12, 30),
                     timezones=st.sampled_from([dt.timezone.utc, dt.timezone(dt.timedelta(hours=5, minutes=30)),
                                                dt.timezone(dt.timedelta(hours=-11))]))


def reference(entry_id, prev_hash, fields: dict) -> str:
    return json.dumps([auditproof.VERSION, entry_id, prev_hash] + [fields.get(f) for f in auditproof.FIELDS],
                      ensure_ascii=False, separators=(",", ":"))


@settings(max_examples=400, deadline=None)
@given(st.integers(min_value=0, max_value=2**100), texts, st.lists(values, min_size=len(auditproof.FIELDS),
                                                                  max_size=len(auditproof.FIELDS)))
@example(2**64 + 1, NASTY, [NASTY, None, "2026-12-03T14:43:07.117553+00:00", 10**30, "", '{"a": "\\"x\\""}',
                            None, "\x00\n", -1, "😀" * 3, None])
def test_the_walks_encoder_writes_the_references_text(entry_id, prev_hash, vals):
    fields = dict(zip(auditproof.FIELDS, vals))
    parts = [auditproof.VERSION, entry_id, prev_hash, *vals]
    assert audit_chain._ENCODE(parts) == reference(entry_id, prev_hash, fields)


@settings(max_examples=300, deadline=None)
@given(times)
def test_the_walks_reading_of_a_stored_time_is_the_references_stamp(when):
    expected = audit_chain.stamp(when)
    utc = when.astimezone(dt.timezone.utc)
    assert audit_chain._raw_stamp(when) == expected  # PostgreSQL: an aware datetime
    assert audit_chain._raw_stamp(utc.replace(tzinfo=None)) == expected  # a naive UTC datetime
    assert audit_chain._raw_stamp(utc.replace(tzinfo=None).isoformat(" ", "microseconds")) == expected  # SQLite


# PostgreSQL text holds no NUL; the short columns have their lengths
db_text = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"))
short = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=10)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(actor=short, message=db_text, before=st.one_of(st.none(), db_text), after=st.one_of(st.none(), db_text),
       comment=db_text, customer_id=st.one_of(st.none(), st.integers(-2**31, 2**31 - 1)), when=times)
@example(actor='a"\\', message=NASTY.replace("\x00", ""), before=None, after='{"k": "v\\"\\n"}', comment="\n",
         customer_id=None, when=dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc))
def test_the_walk_accepts_entries_hashed_by_the_reference_through_the_driver(db, actor, message, before, after,
                                                                             comment, customer_id, when):
    """An entry written with the reference hash (as the app writes it) verifies in the walk,
    from the driver's values; and the next entry's walk notices a wrong predecessor."""
    with db.read_session() as s:
        head = s.get(AuditHead, 1)
        prev, last_id, count = head.last_hash, head.last_id, head.count
    values = dict(actor=actor, ip="::1", created_at=when, table_name="t", primary_key="1", action="UPDATE",
                  message=message, before=before, after=after, comment=comment, customer_id=customer_id)
    entry_id = last_id + 1
    expected = auditproof.entry_hash(entry_id, prev, audit_chain.hashed_values(values))
    with db.engine.begin() as conn:
        conn.execute(insert(AuditEntry), [dict(values, id=entry_id, prev_hash=prev, hash=expected)],
                     execution_options={"cxdesk_audited": True})
        conn.execute(update(AuditHead).where(AuditHead.id == 1).values(last_hash=expected, last_id=entry_id,
                                                                      count=count + 1),
                     execution_options={"cxdesk_audited": True})
    with db.read_session() as s:
        walked = audit_chain.walk(s, prev, last_id)
        wrong = audit_chain.walk(s, "f" * 64, last_id)
    assert (walked.bad_id, walked.count, walked.prev, walked.last_id) == (None, 1, expected, entry_id)
    assert (wrong.bad_id, wrong.moved, wrong.count) == (entry_id, True, 0)
