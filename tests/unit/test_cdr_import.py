"""CDR CSV import: values, malformed rows with line numbers, all or nothing, idempotence."""
from __future__ import annotations

import csv
import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select

from cxdesk.errors import Cancelled, PermissionDenied, ValidationError
from cxdesk.models import AuditEntry, Cdr, Customer
from cxdesk.services.cdr_import import MAX_REPORTED, BadRowsError, import_cdrs

UTC = dt.timezone.utc
HEADER = ["callid", "dt", "customer_id", "source_cli", "dest_number", "duration", "customer_duration",
          "customer_charge", "customer_card_rate", "customer_card_dest_code", "customer_card_dest_name",
          "customer_card_currency", "provider_id", "provider_charge", "pdd_out", "ring_duration",
          "sip_code", "sip_reason", "release_reason"]


def cdr(callid: str, customer_id: int, /, **values: str) -> dict[str, str]:
    row = {"callid": callid, "dt": "2026-01-05 10:15:00", "customer_id": str(customer_id),
           "source_cli": "+442071234567", "dest_number": "4915112345678", "duration": "65",
           "customer_duration": "66", "customer_charge": "0.0462", "customer_card_rate": "0.042",
           "customer_card_dest_code": "4915", "customer_card_dest_name": "Germany - Mobile",
           "customer_card_currency": "EUR", "provider_id": "3", "provider_charge": "0.036410",
           "pdd_out": "1200", "ring_duration": "4", "sip_code": "200", "sip_reason": "OK",
           "release_reason": "normal clearing"}
    row.update(values)
    return row


def write(path: Path, rows: list, header: list[str] = HEADER) -> Path:
    """Rows are dicts (written in header order) or lists of raw fields."""
    with open(path, "w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        for r in rows:
            w.writerow([r.get(h, "") for h in header] if isinstance(r, dict) else r)
    return path


def state(db) -> dict[str, int]:
    with db.read_session() as s:
        return {m.__tablename__: s.scalar(select(func.count()).select_from(m)) for m in (Cdr, Customer, AuditEntry)}


def cdrs(db) -> dict[str, Cdr]:
    with db.read_session() as s:
        return {c.callid: c for c in s.scalars(select(Cdr))}


def test_values_arrive_exactly_in_any_column_order(db, admin, make_customer, tmp_path):
    cid = make_customer(db)
    header = list(reversed(HEADER)) + ["Extra Column"]
    header[0] = "  Release_Reason "  # names are matched case-insensitively, trimmed
    rows = [
        cdr("a", cid, **{"  Release_Reason ": "normal clearing", "Extra Column": "ignored"}),
        cdr("b", cid, dt="2026-01-05T23:59:59.999999Z", duration="0", customer_duration="0",
            customer_charge="0", provider_charge="0", provider_id="", customer_card_currency="eur",
            sip_code="486", sip_reason="Busy Here", pdd_out="", ring_duration=""),
        cdr("c", cid, dt="2026-01-06T01:30:00+02:00", customer_charge="123456789012.123456",
            provider_charge="0.000001"),
    ]
    result = import_cdrs(db, admin, write(tmp_path / "in.csv", rows, header))
    assert (result.rows, result.imported, result.duplicates, result.bad_count) == (3, 3, 0, 0)

    got = cdrs(db)
    a, b, c = got["a"], got["b"], got["c"]
    assert a.dt == dt.datetime(2026, 1, 5, 10, 15, tzinfo=UTC)
    assert (a.customer_id, a.source_cli, a.dest_number, a.duration, a.customer_duration) == (
        cid, "+442071234567", "4915112345678", 65, 66)
    assert (a.customer_charge, a.customer_card_rate, a.provider_charge) == (
        Decimal("0.0462"), Decimal("0.042"), Decimal("0.03641"))
    assert (a.customer_card_dest_code, a.customer_card_dest_name, a.customer_card_currency) == (
        "4915", "Germany - Mobile", "EUR")
    assert (a.provider_id, a.pdd_out, a.ring_duration, a.sip_code, a.sip_reason, a.release_reason) == (
        3, 1200, 4, 200, "OK", "normal clearing")
    assert b.dt == dt.datetime(2026, 1, 5, 23, 59, 59, 999999, tzinfo=UTC)
    assert (b.provider_id, b.pdd_out, b.ring_duration, b.customer_card_currency) == (None, 0, 0, "EUR")
    assert c.dt == dt.datetime(2026, 1, 5, 23, 30, tzinfo=UTC)  # converted to UTC
    assert c.customer_charge == Decimal("123456789012.123456")
    assert c.provider_charge == Decimal("0.000001")


def test_importing_twice_adds_nothing(db, admin, make_customer, tmp_path):
    cid = make_customer(db)
    path = write(tmp_path / "in.csv", [cdr(f"call-{i}", cid) for i in range(7)] + [cdr("call-3", cid)])
    first = import_cdrs(db, admin, path)
    assert (first.imported, first.duplicates) == (7, 1)  # call-3 twice in the file: once
    before = state(db)
    again = import_cdrs(db, admin, path)
    assert (again.rows, again.imported, again.duplicates) == (8, 0, 8)
    assert state(db) == before  # no rows and no audit entry for an import that added nothing


def test_one_audit_entry_per_import(db, admin, make_customer, tmp_path):
    cid = make_customer(db)
    before = state(db)
    import_cdrs(db, admin, write(tmp_path / "in.csv", [cdr(f"c{i}", cid) for i in range(12_000)]),
                comment="January CDRs")
    assert state(db)["audit_entries"] == before["audit_entries"] + 1
    with db.read_session() as s:
        entry = s.scalars(select(AuditEntry).order_by(AuditEntry.id.desc())).first()
    assert (entry.table_name, entry.action, entry.actor, entry.comment) == ("cdrs", "POST", "alice", "January CDRs")
    assert "12,000" in entry.message and "in.csv" in entry.message


# (changes to a good row, expected start of the reason); every one is its own line
BAD = [
    ({"dt": "yesterday"}, "dt 'yesterday' is not a UTC date and time like 2026-01-05 10:00:00"),
    ({"dt": "2026-01-05"}, "dt '2026-01-05' is not a UTC date and time"),
    ({"dt": "2026-02-30 10:00:00"}, "dt '2026-02-30 10:00:00' is not a UTC date and time"),
    ({"dt": " "}, "dt is empty"),
    ({"callid": ""}, "callid is empty"),
    ({"callid": "x" * 121}, "callid is 121 characters long (at most 120)"),
    ({"customer_id": "abc"}, "customer_id 'abc' is not a whole number of 0 or more"),
    ({"customer_id": "0"}, "customer_id 0 is not a customer id"),
    ({"customer_id": "999"}, "customer_id 999 is not a customer in cxdesk"),
    ({"duration": "-5"}, "duration '-5' is not a whole number of 0 or more"),
    ({"duration": "12.5"}, "duration '12.5' is not a whole number"),
    ({"duration": "١٢"}, "duration '١٢' is not a whole number"),
    ({"customer_duration": ""}, "customer_duration is empty"),
    ({"customer_duration": "99999999999"}, "customer_duration '99999999999' is too large"),
    ({"customer_charge": "abc"}, "customer_charge 'abc' is not an amount like 0.0123"),
    ({"customer_charge": "1_000"}, "customer_charge '1_000' is not an amount"),
    ({"customer_charge": "-0.01"}, "customer_charge '-0.01' is negative"),
    ({"customer_charge": "0.0000001"}, "customer_charge '0.0000001' has more than 6 decimal places"),
    ({"provider_charge": "NaN"}, "provider_charge 'NaN' is not an amount"),
    ({"provider_charge": "Infinity"}, "provider_charge 'Infinity' is not an amount"),
    ({"provider_charge": "1000000000000000"}, "provider_charge '1000000000000000' is too large"),
    ({"customer_charge": "1e2"}, "customer_charge '1e2' is not an amount like 0.0123 (digits 0-9"),
    ({"customer_charge": "1E-6"}, "customer_charge '1E-6' is not an amount"),
    ({"customer_charge": "\uff11\uff12"}, "customer_charge '\uff11\uff12' is not an amount"),  # full-width 12
    ({"provider_charge": "\u0661\u0662.5"}, "provider_charge '\u0661\u0662.5' is not an amount"),  # Arabic-Indic
    ({"customer_charge": "+0.5"}, "customer_charge '+0.5' is not an amount"),
    ({"customer_charge": ".5"}, "customer_charge '.5' is not an amount"),
    ({"sip_code": "\uff12\uff10\uff10"}, "sip_code '\uff12\uff10\uff10' is not a whole number"),
    ({"dt": "\uff12\uff10\uff12\uff16-01-05 10:00:00"}, "dt '\uff12\uff10\uff12\uff16-01-05 10:00:00' is not a UTC date"),
    ({"dt": "1999-12-31 23:59:59"}, "dt '1999-12-31 23:59:59' is outside the accepted window 2000-01-01 to "),
    ({"dt": "9999-12-31 23:59:59"}, "dt '9999-12-31 23:59:59' is outside the accepted window"),
    ({"dt": "0001-01-01T00:00:00+14:00"}, "dt '0001-01-01T00:00:00+14:00' is outside the accepted window"),
    ({"dt": "9999-12-31T23:59:59-14:00"}, "dt '9999-12-31T23:59:59-14:00' is outside the accepted window"),
    ({"customer_card_currency": "GBP"}, "customer_card_currency GBP is not the currency of customer"),
    ({"dest_number": "1" * 41}, "dest_number is 41 characters long (at most 40)"),
    ({"customer_card_currency": "EURO"}, "customer_card_currency 'EURO' is not a three-letter currency code"),
    ({"sip_code": "OK"}, "sip_code 'OK' is not a whole number"),
    ({"provider_id": "p3"}, "provider_id 'p3' is not a whole number"),
    ({"sip_reason": "Busy\x00Here"}, "sip_reason contains a NUL character"),
]


def bad_file(path: Path, cid: int) -> tuple[Path, list[tuple[int, str]], int]:
    """Good rows (one spanning two lines) around every kind of bad row; returns the
    expected (line, reason) list and the number of good rows."""
    rows: list = [cdr("good-1", cid), cdr("good-2", cid, sip_reason="two\nlines")]
    expected = []
    line = 5  # header 1, good-1 2, good-2 3-4
    for n, (change, reason) in enumerate(BAD):
        rows.append(cdr(f"bad-{n}", cid, **change))
        expected.append((line, reason))
        line += 1
    short = ["short", "2026-01-05 10:00:00", str(cid)]
    rows.append(short)
    expected.append((line, "has 3 fields; the header has 19"))
    long = [cdr("long", cid)[h] for h in HEADER] + ["surplus"]
    rows.append(long)
    expected.append((line + 1, "has 20 fields; the header has 19"))
    rows.append(cdr("oversized", cid, sip_reason="x" * 200_000))
    expected.append((line + 2, "is not valid CSV (field larger than field limit"))
    rows.append(cdr("good-3", cid))
    return write(path, rows), expected, 3


def test_every_malformed_row_is_reported_and_nothing_is_imported(db, admin, make_customer, tmp_path):
    cid = make_customer(db)
    path, expected, _ = bad_file(tmp_path / "bad.csv", cid)
    before = state(db)
    with pytest.raises(BadRowsError) as info:
        import_cdrs(db, admin, path, create_customers=False)
    err = info.value
    assert err.bad_count == len(expected) >= 10
    assert [r.line for r in err.bad_rows] == [line for line, _ in expected]
    for row, (line, reason) in zip(err.bad_rows, expected):
        assert row.reason.startswith(reason), (line, row.reason)
    assert f"bad.csv has {len(expected)} malformed rows and nothing was imported" in str(err)
    assert state(db) == before


def test_skip_bad_imports_the_good_rows(db, admin, make_customer, tmp_path):
    cid = make_customer(db)
    path, expected, good = bad_file(tmp_path / "bad.csv", cid)
    result = import_cdrs(db, admin, path, skip_bad=True)
    assert (result.imported, result.bad_count, result.duplicates) == (good, len(expected), 0)
    assert [r.line for r in result.bad_rows] == [line for line, _ in expected]
    got = cdrs(db)
    assert sorted(got) == ["good-1", "good-2", "good-3"]
    assert got["good-2"].sip_reason == "two\nlines"


def test_bad_rows_are_counted_beyond_those_reported(sqlite_db, admin, make_customer, tmp_path):
    cid = make_customer(sqlite_db)
    rows = [cdr(f"c{i}", cid, duration="x") for i in range(MAX_REPORTED + 5)]
    with pytest.raises(BadRowsError) as info:
        import_cdrs(sqlite_db, admin, write(tmp_path / "in.csv", rows))
    assert info.value.bad_count == MAX_REPORTED + 5
    assert len(info.value.bad_rows) == MAX_REPORTED


@pytest.mark.parametrize("content, message", [
    ("", "in.csv is empty"),
    ("callid,dt,customer_id,duration,customer_charge\n", "lacks the columns customer_duration, provider_charge"),
    (",".join(HEADER + ["dt"]) + "\n", "the column dt appears twice"),
])
def test_unusable_header_is_refused(sqlite_db, admin, tmp_path, content, message):
    path = tmp_path / "in.csv"
    path.write_text(content, encoding="utf-8")
    before = state(sqlite_db)
    with pytest.raises(ValidationError, match=message):
        import_cdrs(sqlite_db, admin, path)
    assert state(sqlite_db) == before


def test_text_that_is_not_utf8_is_a_bad_row(sqlite_db, admin, make_customer, tmp_path):
    cid = make_customer(sqlite_db)
    path = write(tmp_path / "in.csv", [cdr("a", cid), cdr("b", cid, customer_card_dest_name="ZURICH")])
    path.write_bytes(path.read_bytes().replace(b"ZURICH", "Zürich".encode("latin-1")))
    before = state(sqlite_db)
    with pytest.raises(BadRowsError) as info:
        import_cdrs(sqlite_db, admin, path)
    assert [str(r) for r in info.value.bad_rows] == [
        "line 3: customer_card_dest_name is not UTF-8 text (save the file as UTF-8)"]
    assert state(sqlite_db) == before


def test_missing_file_is_a_clear_error(sqlite_db, admin, tmp_path):
    with pytest.raises(ValidationError, match="There is no file .*nope.csv; check the name"):
        import_cdrs(sqlite_db, admin, tmp_path / "nope.csv")


def test_placeholder_customers_on_request(db, admin, make_customer, tmp_path):
    make_customer(db)
    path = write(tmp_path / "in.csv", [cdr("a", 500, customer_card_currency="GBP"), cdr("b", 500, customer_card_currency="gbp"), cdr("c", 777, customer_card_currency="")])
    with pytest.raises(BadRowsError):
        import_cdrs(db, admin, path)
    result = import_cdrs(db, admin, path, create_customers=True)
    assert (result.imported, result.customers_created) == (3, [500, 777])
    with db.read_session() as s:
        created = {c.id: c for c in s.scalars(select(Customer).where(Customer.id >= 500))}
        audit = s.scalars(select(AuditEntry).where(AuditEntry.table_name == "customers",
                                                   AuditEntry.primary_key == "500")).one()
    assert (created[500].name, created[500].currency, created[500].status) == ("Customer 500", "GBP", "Pending Approval")
    assert created[777].currency == "USD"
    assert "placeholder" in audit.message
    assert make_customer(db, "Next Customer") > 777  # the id sequence moved past them


def test_placeholder_name_taken_is_a_bad_row(db, admin, make_customer, tmp_path):
    make_customer(db, "Customer 42")
    path = write(tmp_path / "in.csv", [cdr("a", 42)])
    with pytest.raises(BadRowsError) as info:
        import_cdrs(db, admin, path, create_customers=True)
    assert "placeholder name 'Customer 42' is taken" in info.value.bad_rows[0].reason


def test_cancel_leaves_nothing(db, admin, make_customer, tmp_path):
    cid = make_customer(db)
    path = write(tmp_path / "in.csv", [cdr(f"c{i}", cid) for i in range(12_000)])
    before = state(db)
    seen = []
    with pytest.raises(Cancelled):
        import_cdrs(db, admin, path, progress=lambda done, total: seen.append((done, total)),
                    cancel=lambda: len(seen) >= 1)
    assert state(db) == before
    assert seen[0][0] > 0 and seen[0][1] == path.stat().st_size


def test_staff_may_not_import(sqlite_db, staff, tmp_path):
    with pytest.raises(PermissionDenied):
        import_cdrs(sqlite_db, staff, write(tmp_path / "in.csv", []))


def test_an_open_import_makes_the_imported_rows_wait_for_it(sqlite_db, admin, make_customer, tmp_path):
    """Rows are visible to others only once the whole file is in (one transaction)."""
    cid = make_customer(sqlite_db)
    path = write(tmp_path / "in.csv", [cdr(f"c{i}", cid) for i in range(12_000)])
    counts = []

    def progress(done, total):
        with sqlite_db.read_session() as s:
            counts.append(s.scalar(select(func.count()).select_from(Cdr)))

    import_cdrs(sqlite_db, admin, path, progress=progress)
    assert counts and set(counts) == {0}
    assert state(sqlite_db)["cdrs"] == 12_000


def test_a_callid_seen_before_with_other_values_is_a_conflict_showing_both(db, admin, make_customer, tmp_path):
    cid = make_customer(db)
    import_cdrs(db, admin, write(tmp_path / "first.csv", [cdr("a", cid), cdr("b", cid)]))
    before = state(db)
    rows = [cdr("a", cid, customer_charge="0.0500"),  # line 2: imported with 0.0462
            cdr("b", cid, customer_charge="0.046200"),  # line 3: the same amount, written otherwise
            cdr("c", cid), cdr("c", cid, dt="2026-01-05 10:16:00", duration="70"),  # lines 4 and 5
            cdr("d", cid)]
    with pytest.raises(BadRowsError) as info:
        import_cdrs(db, admin, write(tmp_path / "second.csv", rows))
    assert [str(r) for r in info.value.bad_rows] == [
        "line 2: callid 'a' was imported before with other values: customer_charge 0.0462 there, 0.05 here",
        "line 5: callid 'c' is on line 4 with other values: dt 2026-01-05 10:15:00 there, "
        "2026-01-05 10:16:00 here; duration 65 there, 70 here",
    ]
    assert state(db) == before

    result = import_cdrs(db, admin, tmp_path / "second.csv", skip_bad=True)
    assert (result.imported, result.duplicates, result.bad_count) == (2, 1, 2)  # c and d new, b the same
    assert cdrs(db)["a"].customer_charge == Decimal("0.0462")  # the first import's value stays


class Interrupted(Exception):
    pass


def test_an_interrupted_import_resumes_exactly(db, admin, make_customer, tmp_path):
    from cxdesk.services.cdr_import import CHUNK

    cid = make_customer(db)
    rows = [cdr(f"c{i}", cid, duration="x" if i in (3, CHUNK + 7) else "65") for i in range(2 * CHUNK + 100)]
    path = write(tmp_path / "in.csv", rows)
    before = state(db)
    slices = []

    def stop_after_first(done, total):
        slices.append(done)
        raise Interrupted

    with pytest.raises(Interrupted):
        import_cdrs(db, admin, path, skip_bad=True, progress=stop_after_first)
    assert state(db) == before  # nothing visible, nothing audited

    result = import_cdrs(db, admin, path, skip_bad=True)
    assert result.resumed_at == CHUNK + 2  # the line after the first slice's last one
    assert (result.rows, result.imported, result.duplicates, result.bad_count) == (2 * CHUNK + 100, 2 * CHUNK + 98, 0, 2)
    assert [r.line for r in result.bad_rows] == [5, CHUNK + 9]  # the one before the interruption too
    assert state(db)["cdrs"] == 2 * CHUNK + 98
    assert state(db)["audit_entries"] == before["audit_entries"] + 1

    again = import_cdrs(db, admin, path, skip_bad=True)  # published: starts afresh, adds nothing
    assert (again.resumed_at, again.imported) == (0, 0)


def test_an_import_creates_drops_and_alters_nothing(db, admin, make_customer, tmp_path):
    """The staging tables come from the migration: on PostgreSQL the application role may
    not create anything, so no statement of an import (started, cancelled, interrupted,
    resumed, published, cleared) may be DDL."""
    from sqlalchemy import event

    from cxdesk.services.cdr_import import CHUNK

    cid = make_customer(db)
    path = write(tmp_path / "in.csv", [cdr(f"c{i}", cid) for i in range(CHUNK + 10)])
    statements = []
    event.listen(db.engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    with pytest.raises(Cancelled):
        import_cdrs(db, admin, path, cancel=lambda: True)
    def interrupt(done, total):
        raise Interrupted

    with pytest.raises(Interrupted):
        import_cdrs(db, admin, path, progress=interrupt)
    assert import_cdrs(db, admin, path).imported == CHUNK + 10
    assert any("cdr_import_rows" in s for s in statements)
    assert [s for s in statements if s.lstrip().split(None, 1)[0].upper() in ("CREATE", "DROP", "ALTER")] == []


def test_runs_share_the_staging_table_but_see_only_their_own_rows(db, admin):
    """Two runs staging the same callid: each finds only its own row, and clearing one
    leaves the other's rows."""
    from cxdesk.models import cdr_import_rows
    from cxdesk.services import cdr_staging as staging
    from cxdesk.services.cdr_import import COLUMNS, Window, _RowParser

    parse = _RowParser(list(HEADER), "in.csv", db.is_sqlite, Window.default())
    callid_at = COLUMNS.index("callid")

    def row(duration: str) -> tuple:
        values = cdr("same", 1, duration=duration)
        return parse([values[h] for h in HEADER], 2, 2)

    with db.engine.begin() as conn:
        first, _ = staging.find_or_start(conn, "a" * 64, "a.csv")
        second, _ = staging.find_or_start(conn, "b" * 64, "b.csv")
        assert staging.stage_new(conn, first, COLUMNS, callid_at, [(2, row("65"))]) == 1
        assert staging.stage_new(conn, second, COLUMNS, callid_at, [(9, row("70"))]) == 1
        assert staging.stage_new(conn, second, COLUMNS, callid_at, [(10, row("71"))]) == 0  # staged already
        assert staging.lookup(conn, ["duration"], ["same"], first) == {"same": (65, 2)}
        assert staging.lookup(conn, ["duration"], ["same"], second) == {"same": (70, 9)}
        staging.drop(conn, first.id)
        left = conn.execute(select(cdr_import_rows.c.run_id, cdr_import_rows.c.duration)).all()
        assert [tuple(r) for r in left] == [(second.id, 70)]
        assert staging.lookup(conn, ["duration"], ["same"], first) == {}
