"""Reading the audit log (services.audit_log) on SQLite and PostgreSQL: the same query
drives pages, counts, funnels and exports, and every answer equals a plain-Python reading
of all entries."""
from __future__ import annotations

import csv
import datetime as dt
import json
from decimal import Decimal
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlalchemy import select, text

from cxdesk.errors import Cancelled, NotFound, PermissionDenied, ValidationError
from cxdesk.models import AuditEntry, Contact, Customer, Invoice, NumberBlock, SipUser
from cxdesk.models.audit import SORT_PREFIX
from cxdesk.services import audit_chain, audit_log, jsondiff, options
from cxdesk.services.audit_log import AuditQuery
from cxdesk.services.uow import unit_of_work

TEXT_COLUMNS = ("actor", "ip", "primary_key", "action", "table_name", "message", "comment")
INJECTIONS = ["=HYPERLINK(\"http://x\")", "+1+1", "-2+3", "@SUM(A1)", "\tindented", "\rreturn"]


@pytest.fixture
def log(db, admin, staff, supervisor, make_customer):
    """A small log: two customers with a contact, an extension, a block and an invoice,
    comments that look like formulas, an option change and a login."""
    acme = make_customer(db, "Acme Telecom")
    beta = make_customer(db, "Beta Voice")
    with unit_of_work(db, staff) as uow:
        uow.add(Contact(customer_id=acme, name="Bob", email="Bob@Acme.example", email_key="bob@acme.example"))
        uow.add(Contact(customer_id=beta, name="Carol", email="carol@beta.example", email_key="carol@beta.example"))
    with unit_of_work(db, staff) as uow:
        uow.add(NumberBlock(customer_id=acme, start=2000, size=1000))
        uow.add(SipUser(customer_id=acme, username="2100", ha1="0" * 32, caller_id="+442071234567"))
    with unit_of_work(db, admin) as uow:
        day = dt.datetime(2026, 10, 1, tzinfo=dt.timezone.utc)
        uow.add(Invoice(number=1, customer_id=acme, name="INV-1", period_kind="Monthly", period_start=day,
                        period_end=day + dt.timedelta(days=31), invoice_date=dt.date(2026, 11, 1),
                        due_date=dt.date(2026, 12, 1), currency="EUR", tax_percent=Decimal("20"),
                        net=Decimal("10"), tax=Decimal("2"), total=Decimal("12")))
    for n in range(3):
        with unit_of_work(db, staff, f"asked by phone ({n})") as uow:
            uow.session.get(Customer, acme if n % 2 else beta).channels = 10 + n
    for n, formula in enumerate(INJECTIONS):
        with unit_of_work(db, staff, formula) as uow:  # (the comment loses its leading tab or CR)
            uow.record("SEND", "invoices", "1", formula, customer_id=acme)
    options.set_value(db, admin, "company-name", "Carrier Ltd")
    with unit_of_work(db, supervisor) as uow:
        uow.record("LOGIN", "operators", "sup", "sup signed in 50% faster_than_ever")
    return {"acme": acme, "beta": beta}


def all_entries(db) -> list[AuditEntry]:
    with db.read_session() as s:
        return list(s.scalars(select(AuditEntry).order_by(AuditEntry.id)))


def expected(db, q: AuditQuery) -> list[int]:
    """The query's ids computed in Python from every entry: the specification."""
    def date_like(word: str) -> bool:
        return any(c.isdigit() for c in word) and ("-" in word or ":" in word) and \
            all(c.isdigit() or c in ".:- T" for c in word)

    def hay(e: AuditEntry, word: str) -> str:
        parts = [getattr(e, c) for c in TEXT_COLUMNS] + [str(e.customer_id or "")]
        if date_like(word):
            parts.append(e.created_at.strftime("%Y-%m-%d %H:%M:%S"))
        return "\n".join(parts).lower()

    lo = audit_log._lower(q.date_from)
    hi = audit_log._upper(q.date_to)
    rows = [e for e in all_entries(db)
            if (q.customer_id is None or e.customer_id == q.customer_id)
            and (lo is None or e.created_at >= lo) and (hi is None or e.created_at <= hi)
            and all(getattr(e, k) in v for k, v in q.values.items())
            and all(t.lower() in getattr(e, k).lower() for k, t in q.texts.items())
            and all(w.lower() in hay(e, w) for w in q.search.split())]

    def key(e: AuditEntry):
        if q.sort == "id":
            return (e.id,)
        value = getattr(e, q.sort)
        return (value[:SORT_PREFIX] if q.sort in ("message", "comment") else value, e.id)

    return [e.id for e in sorted(rows, key=key, reverse=q.descending)]


def keyset_ids(db, q: AuditQuery, limit: int = 3) -> list[int]:
    ids, after = [], None
    with db.read_session() as s:
        while True:
            rows = audit_log.page(s, q, limit=limit, after=after)
            ids += [r.id for r in rows]
            if len(rows) < limit:
                return ids
            after = rows[-1]


QUERIES = [
    AuditQuery(),
    AuditQuery(descending=False),
    AuditQuery(search="acme"),
    AuditQuery(search="ACME telecom"),
    AuditQuery(search="bob@acme"),
    AuditQuery(search="2100"),  # an extension: its entries (and its block's and the customer's)
    AuditQuery(search="sup"),
    AuditQuery(search="50%"),  # LIKE wildcards are plain characters
    AuditQuery(search="_than"),
    AuditQuery(search='"quoted'),
    AuditQuery(search="=HYPER"),
    AuditQuery(search="no such thing"),
    AuditQuery(values={"action": ("UPDATE",)}),
    AuditQuery(values={"action": ("UPDATE", "LOGIN")}, sort="table_name"),
    AuditQuery(values={"action": ()}),
    AuditQuery(values={"actor": ("sam",), "table_name": ("customers", "contacts")}, sort="actor"),
    AuditQuery(texts={"message": "contact"}),
    AuditQuery(texts={"message": "co", "actor": "a"}),
    AuditQuery(texts={"comment": "+1"}, search="customer"),
] + [AuditQuery(sort=c, descending=d) for c in audit_log.SORTABLE for d in (True, False)]


@pytest.mark.parametrize("q", QUERIES, ids=repr)
def test_pages_counts_and_keyset_paging_follow_the_query(db, log, q):
    want = expected(db, q)
    with db.read_session() as s:
        assert [r.id for r in audit_log.page(s, q, limit=1000)] == want
        assert audit_log.count(s, q) == len(want)
        assert [r.id for r in audit_log.page(s, q, offset=2, limit=4)] == want[2:6]
    assert keyset_ids(db, q) == want


def test_rows_carry_what_the_window_shows(db, log, staff):
    with db.read_session() as s:
        top = audit_log.page(s, AuditQuery(), limit=2)
    assert top[0]._replace(created_at=None) == audit_log.AuditRow(
        top[0].id, "sup", "10.0.0.8", None, "sup", "LOGIN", "operators",
        "sup signed in 50% faster_than_ever", "", None, False)
    assert top[0].created_at.tzinfo is not None
    assert top[1].has_data and top[1].table_name == "options"


def test_search_for_an_id_finds_the_entries_that_concern_it(db, log):
    acme = log["acme"]
    with db.read_session() as s:
        contact = s.scalars(select(Contact).where(Contact.name == "Bob")).one()
        found = audit_log.page(s, AuditQuery(search=str(acme)), limit=1000)
        by_contact = audit_log.page(s, AuditQuery(search=str(contact.id)), limit=1000)
    assert {(r.table_name, r.customer_id) for r in found} >= {
        ("customers", acme), ("contacts", acme), ("number_blocks", acme), ("sip_users", acme), ("invoices", acme)}
    assert ("contacts", str(contact.id)) in {(r.table_name, r.primary_key) for r in by_contact}


def test_search_by_date_and_time(db, log):
    entries = all_entries(db)
    day = entries[0].created_at.strftime("%Y-%m-%d")
    minute = entries[-1].created_at.strftime("%Y-%m-%d %H:%M").split()
    for q in (AuditQuery(search=day), AuditQuery(search=" ".join(minute)), AuditQuery(search="1999-01-01")):
        with db.read_session() as s:
            assert [r.id for r in audit_log.page(s, q, limit=1000)] == expected(db, q)
    with db.read_session() as s:
        assert len(audit_log.page(s, AuditQuery(search=day))) == len(entries)


def test_customer_view_holds_the_customer_and_its_rows(db, log):
    tables = {}
    for name in ("acme", "beta"):
        q = AuditQuery(customer_id=log[name])
        with db.read_session() as s:
            rows = audit_log.page(s, q, limit=1000)
        assert [r.id for r in rows] == expected(db, q) and rows
        assert all(r.customer_id == log[name] for r in rows)
        tables[name] = {r.table_name for r in rows}
    assert tables == {"acme": {"customers", "contacts", "number_blocks", "sip_users", "invoices"},
                      "beta": {"customers", "contacts"}}


def test_date_range(db, log):
    entries = all_entries(db)
    today = entries[0].created_at.date()
    middle = entries[len(entries) // 2].created_at
    for lo, hi in ((today, today), (today + dt.timedelta(days=1), None), (None, today - dt.timedelta(days=1)),
                   (middle, None), (None, middle)):
        q = AuditQuery(date_from=lo, date_to=hi)
        with db.read_session() as s:
            assert [r.id for r in audit_log.page(s, q, limit=1000)] == expected(db, q)
    assert len(expected(db, AuditQuery(date_from=today, date_to=today))) == len(entries)


def test_bad_queries_are_refused():
    with pytest.raises(ValidationError, match="start date is after the end date"):
        AuditQuery(date_from=dt.date(2026, 2, 1), date_to=dt.date(2026, 1, 31))
    with pytest.raises(ValueError):
        AuditQuery(sort="before")
    with pytest.raises(ValueError):
        AuditQuery(values={"before": ("x",)})
    with pytest.raises(ValueError):
        AuditQuery(date_from=dt.datetime(2026, 1, 1))  # naive
    assert AuditQuery(date_from=dt.date(2026, 1, 1), date_to=dt.date(2026, 1, 1))


def test_funnel_values(db, log):
    with db.read_session() as s:
        assert audit_log.distinct_values(s, "action", AuditQuery()) == ["CREATE", "LOGIN", "SEND", "UPDATE"]
        # a column's own filter does not narrow its funnel, the others do
        sams_creations = AuditQuery(values={"action": ("CREATE",), "actor": ("sam",)})
        assert audit_log.distinct_values(s, "action", sams_creations) == ["CREATE", "SEND", "UPDATE"]
        assert audit_log.distinct_values(s, "actor", sams_creations) == ["alice", "sam"]
        assert audit_log.distinct_values(s, "table_name", AuditQuery(customer_id=log["beta"])) == ["contacts", "customers"]
        assert audit_log.distinct_values(s, "actor", AuditQuery(), text="AL") == ["alice"]
        assert audit_log.distinct_values(s, "actor", AuditQuery(search="Carol")) == ["sam"]
        comments = sorted({""} | {c.strip() for c in INJECTIONS} | {f"asked by phone ({n})" for n in range(3)})
        assert audit_log.distinct_values(s, "comment", AuditQuery()) == comments
        assert audit_log.distinct_values(s, "comment", AuditQuery(), limit=2) == comments[:2]
        with pytest.raises(ValueError):
            audit_log.distinct_values(s, "created_at", AuditQuery())


def test_funnel_and_sort_of_texts_longer_than_the_sort_key(db, log, staff):
    """Texts sharing their first SORT_PREFIX characters are all listed, and sort by id."""
    base = "x" * SORT_PREFIX
    for tail in ("b", "a", ""):
        with unit_of_work(db, staff, base + tail) as uow:
            uow.record("SEND", "invoices", "1", "Sent invoice 1")
    with db.read_session() as s:
        assert audit_log.distinct_values(s, "comment", AuditQuery())[-3:] == [base, base + "a", base + "b"]
        q = AuditQuery(sort="comment")
        assert [r.id for r in audit_log.page(s, q, limit=1000)] == expected(db, q)
    assert keyset_ids(db, q, limit=1) == expected(db, q)


def test_entry_and_its_changes(db, log):
    with db.read_session() as s:
        with pytest.raises(NotFound, match="There is no audit entry 999"):
            audit_log.entry(s, 999)
        for e in all_entries(db):
            found = audit_log.entry(s, e.id)
            before, after = audit_log.documents(found)
            ops = json.loads(json.dumps(jsondiff.to_json_ops(audit_log.changes(found))))
            assert jsondiff.apply(before, ops) == ({} if after is None else after)
        update = next(e for e in all_entries(db) if e.action == "UPDATE" and e.table_name == "customers")
        paths = {c.path for c in audit_log.changes(audit_log.entry(s, update.id))}
        assert ("channels",) in paths and ("credit",) not in paths


def test_verify_and_record(db, log, staff, supervisor):
    before = len(all_entries(db))
    with pytest.raises(PermissionDenied, match="supervisor"):
        audit_log.verify_and_record(db, staff)
    assert len(all_entries(db)) == before
    seen = []
    result = audit_log.verify_and_record(db, supervisor, progress=lambda d, t: seen.append((d, t)))
    assert result == audit_chain.VerifyResult(True, before) and seen[-1] == (before, before)
    record = all_entries(db)[-1]
    assert (record.actor, record.action, record.table_name) == ("sup", "POST", "audit_entries")
    assert record.message == f"Verified the audit log: {before} entries intact"
    assert json.loads(record.after) == {"intact": True, "verified_entries": before, "first_bad_entry": None}
    with pytest.raises(Cancelled):
        audit_log.verify_and_record(db, supervisor, cancel=lambda: True)
    assert len(all_entries(db)) == before + 1
    with db.read_session() as s:
        assert audit_chain.verify(s).ok


def test_verify_and_record_reports_a_broken_chain(db, log, supervisor):
    if db.is_sqlite:
        import sqlite3
        con = sqlite3.connect(db.path)
        con.execute("DROP TRIGGER audit_entries_no_update")
        con.execute("UPDATE audit_entries SET actor = 'mallory' WHERE id = 4")
        con.commit()
        con.close()
    else:
        with db.engine.begin() as conn:
            conn.exec_driver_sql("ALTER TABLE audit_entries DISABLE TRIGGER USER")
            conn.execute(text("UPDATE audit_entries SET actor = 'mallory' WHERE id = 4"))
    result = audit_log.verify_and_record(db, supervisor)
    assert (result.ok, result.bad_id, result.count) == (False, 4, 3)
    record = all_entries(db)[-1]
    assert record.primary_key == "4"
    assert record.message == "Verified the audit log: broken at entry 4 (its content was changed after it was written)"
    assert json.loads(record.after)["first_bad_entry"] == 4


def test_verification_needs_a_reason_when_audit_comment_is_on(db, log, admin, supervisor):
    options.set_value(db, admin, "audit-comment", "on", comment="policy")
    before = len(all_entries(db))
    with pytest.raises(ValidationError, match="reason is required"):
        audit_log.verify_and_record(db, supervisor)
    assert len(all_entries(db)) == before
    audit_log.verify_and_record(db, supervisor, comment="monthly review")
    assert all_entries(db)[-1].comment == "monthly review"


# -- export ----------------------------------------------------------------------------------


def read_export(path: Path) -> list[list]:
    if path.suffix == ".csv":
        with open(path, encoding="utf-8-sig", newline="") as fh:
            return list(csv.reader(fh))
    ws = load_workbook(path, read_only=False).active
    return [[c.value for c in row] for row in ws.iter_rows()]


@pytest.mark.parametrize("suffix", [".xlsx", ".csv"])
def test_export_writes_one_row_per_entry(db, log, tmp_path, suffix):
    q = AuditQuery(customer_id=log["acme"], descending=False)
    path = tmp_path / f"audit{suffix}"
    writer = audit_log.export_xlsx if suffix == ".xlsx" else audit_log.export_csv
    progress = []
    with db.read_session() as s:
        count = writer(s, q, path, progress=lambda d, t: progress.append((d, t)))
    rows = read_export(path)
    assert rows[0] == audit_log.EXPORT_HEADERS and rows[0][0] == "Entry ID"
    want = expected(db, q)
    assert count == len(want) == len(rows) - 1 and progress[-1] == (count, count)
    entries = {e.id: e for e in all_entries(db)}
    for row in rows[1:]:
        cells = dict(zip(audit_log.EXPORT_HEADERS, row))
        e = entries[int(cells["Entry ID"])]
        assert cells["User"] == e.actor and cells["Action"] == e.action and cells["Table"] == e.table_name
        assert str(cells["Customer ID"]) == str(e.customer_id)
        stamp = cells["Date / Time (UTC)"]
        expected_stamp = e.created_at.astimezone(dt.timezone.utc).replace(tzinfo=None, microsecond=0)
        if suffix == ".csv":
            assert stamp == expected_stamp.strftime("%Y-%m-%d %H:%M:%S")
        else:
            assert stamp.replace(microsecond=0) == expected_stamp
        before = json.loads(cells["Before"]) if cells["Before"] else None
        after = json.loads(cells["After"]) if cells["After"] else None
        assert (before, after) == (json.loads(e.before) if e.before else None, json.loads(e.after) if e.after else None)
        paths = (cells["Changed Paths"] or "").split("\n")
        assert paths == [jsondiff.format_path(c.path) for c in jsondiff.diff(before, after)] or paths == [""]
    assert [int(r[0]) for r in rows[1:]] == want
    messages = [r[7] for r in rows[1:] if r[6] == "invoices" and r[5] == "SEND"]
    if suffix == ".xlsx":  # XML keeps no bare CR
        messages = [m.replace("\n", "\r") for m in messages]
    assert messages == ["'" + f for f in INJECTIONS]  # formula starts defused
    assert [r[8] for r in rows[1:] if r[5] == "SEND"][:4] == ["'" + f for f in INJECTIONS[:4]]


@pytest.mark.parametrize("suffix", [".xlsx", ".csv"])
def test_a_cancelled_or_failed_export_leaves_no_file(db, log, tmp_path, suffix):
    writer = audit_log.export_xlsx if suffix == ".xlsx" else audit_log.export_csv
    tmp_path = tmp_path / "exports"
    tmp_path.mkdir()
    path = tmp_path / f"audit{suffix}"
    path.write_text("an older export")
    with db.read_session() as s:
        with pytest.raises(Cancelled):
            writer(s, AuditQuery(), path, cancel=lambda: True)
        with pytest.raises(ValidationError, match="does not exist"):
            writer(s, AuditQuery(), tmp_path / "missing" / f"audit{suffix}")
    assert path.read_text() == "an older export"
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]


def test_xlsx_export_refuses_more_rows_than_a_sheet_holds(db, log, tmp_path, monkeypatch):
    monkeypatch.setattr(audit_log, "EXCEL_MAX_ROWS", 4)
    path = tmp_path / "audit.xlsx"
    with db.read_session() as s:
        with pytest.raises(ValidationError, match="more than an Excel sheet holds"):
            audit_log.export_xlsx(s, AuditQuery(), path)
        assert not path.exists()
        assert audit_log.export_xlsx(s, AuditQuery(customer_id=log["beta"]), path) == 4
    assert len(read_export(path)) == 5


def test_xlsx_cells_are_cut_to_what_excel_holds(db, log, staff, tmp_path):
    with unit_of_work(db, staff, "=" + "y" * 40_000) as uow:
        uow.record("SEND", "invoices", "1", "Sent invoice 1")
    with db.read_session() as s:
        audit_log.export_xlsx(s, AuditQuery(values={"action": ("SEND",)}), tmp_path / "a.xlsx")
    comment = read_export(tmp_path / "a.xlsx")[1][8]
    assert len(comment) == audit_log.EXCEL_MAX_CELL and comment.startswith("'=yyy") and comment.endswith("holds)")


@pytest.mark.parametrize("sort, descending", [("actor", False), ("message", True), ("table_name", False)])
@pytest.mark.parametrize("word", ["customer", "acme", "no-such-word-anywhere", "contact 1"])
def test_sorted_search_walk_gives_exactly_the_full_plans_pages(db, admin, make_customer, monkeypatch,
                                                              sort, descending, word):
    """A search sorted by a column first reads a window of the column's index; whatever
    the window size, every page must equal the plan that sorts all matches."""
    for i in range(12):
        make_customer(db, f"Acme {i}" if i % 3 else f"Other {i}")
    with unit_of_work(db, admin) as uow:
        for i in range(30):
            uow.record("POST", "contacts", str(i), f"contact {i} checked for customer {i % 4}")
    q = AuditQuery(sort=sort, descending=descending, search=word)

    def pages(walk: int) -> list[list[int]]:
        monkeypatch.setattr(audit_log, "SORTED_WALK", walk)
        out, after = [], None
        with db.read_session() as s:
            while True:
                rows = audit_log.page(s, q, limit=5, after=after)
                if not rows:
                    return out
                out.append([r.id for r in rows])
                after = rows[-1]

    reference = pages(0)  # a window of 0 rows always falls back to the full plan
    assert pages(8) == reference and pages(40) == reference and pages(10_000) == reference
    assert sum(map(len, reference)) == len({i for p in reference for i in p})
