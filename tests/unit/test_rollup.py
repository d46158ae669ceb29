"""Hourly rollup: exact per-hour totals, incremental with late CDRs, audited, concurrency-safe."""
from __future__ import annotations

import datetime as dt
import random
import threading
from collections import defaultdict
from decimal import Decimal

import pytest
from sqlalchemy import create_engine, func, select

from cxdesk.db import open_database
from cxdesk.models import AuditEntry, HourlySummary, RollupState
from cxdesk.models.calls import Cdr
from cxdesk.services import rollup
from cxdesk.services.uow import UnitOfWork, unit_of_work

UTC = dt.timezone.utc
T0 = dt.datetime(2026, 1, 5, 0, 0, tzinfo=UTC)


def random_cdrs(rng: random.Random, customers: list[int], n: int, start: dt.datetime = T0,
                hours: int = 72, tag: str = "c") -> list[dict]:
    rows = []
    for i in range(n):
        at = start + dt.timedelta(seconds=rng.randrange(hours * 3600), microseconds=rng.randrange(10**6))
        connected = rng.random() < 0.6
        duration = rng.randrange(1, 900) if connected else 0
        rows.append({
            "callid": f"{tag}{i}", "dt": at, "customer_id": rng.choice(customers),
            "duration": duration, "customer_duration": -(-duration // 6) * 6,
            "customer_charge": Decimal(rng.randrange(10**5)).scaleb(-6) if connected else Decimal(0),
            "provider_charge": Decimal(rng.randrange(10**5)).scaleb(-6) if connected else Decimal(0),
        })
    return rows


def with_defaults(row: dict) -> dict:
    return {"source_cli": "", "dest_number": "", "customer_card_dest_code": "", "customer_card_dest_name": "",
            "customer_card_currency": "", "sip_reason": "", "release_reason": "", "customer_card_rate": Decimal(0),
            "provider_id": None, "pdd_out": 0, "ring_duration": 0, "sip_code": 0} | row


def insert(db, actor, rows: list[dict]) -> None:
    with unit_of_work(db, actor) as uow:
        rollup.hold_off(uow.session)
        uow.bulk_insert(Cdr, [with_defaults(r) for r in rows], "test CDRs")


def expected_hours(rows: list[dict]) -> dict[tuple[int, dt.datetime], tuple]:
    """The hourly summary computed here, independently of the SQL."""
    out: dict = defaultdict(lambda: [0, 0, 0, 0, Decimal(0), Decimal(0)])
    for r in rows:
        acc = out[(r["customer_id"], r["dt"].replace(minute=0, second=0, microsecond=0))]
        acc[0] += 1
        acc[1] += r["duration"] > 0
        acc[2] += r["duration"]
        acc[3] += r["customer_duration"]
        acc[4] += r["customer_charge"]
        acc[5] += r["provider_charge"]
    return {k: tuple(v) for k, v in out.items()}


def stored_hours(db) -> dict[tuple[int, dt.datetime], tuple]:
    with db.read_session() as s:
        return {(h.customer_id, h.hour): (h.attempts, h.connected, h.duration, h.billed_duration,
                                          h.customer_charge, h.vendor_cost)
                for h in s.scalars(select(HourlySummary))}


def audit_count(db) -> int:
    with db.read_session() as s:
        return s.scalar(select(func.count()).select_from(AuditEntry))


@pytest.fixture
def customers(db, make_customer) -> list[int]:
    return [make_customer(db, f"Customer {n}") for n in "ABC"]


def test_rollup_equals_the_cdrs_hour_by_hour(db, admin, customers):
    rows = random_cdrs(random.Random(1), customers, 3_000)
    rows += [  # the edges of an hour
        {**rows[0], "callid": "edge-1", "dt": dt.datetime(2026, 1, 5, 10, 59, 59, 999999, tzinfo=UTC)},
        {**rows[0], "callid": "edge-2", "dt": dt.datetime(2026, 1, 5, 11, 0, tzinfo=UTC)},
    ]
    insert(db, admin, rows)
    before = audit_count(db)
    result = rollup.run(db)
    expected = expected_hours(rows)
    assert stored_hours(db) == expected
    assert (result.cdrs, result.hours, result.last_cdr_id) == (len(rows), len(expected), len(rows))
    assert audit_count(db) == before + 1
    with db.read_session() as s:
        entry = s.scalars(select(AuditEntry).order_by(AuditEntry.id.desc())).first()
        state = s.get(RollupState, 1)
    assert (entry.actor, entry.table_name, entry.action) == ("system:rollup", "hourly_summaries", "UPDATE")
    assert f"Rolled up {len(rows):,} CDRs" in entry.message
    assert state.last_cdr_id == len(rows) and state.updated_at is not None


def test_nothing_new_means_no_change_and_no_audit_entry(db, admin, customers):
    insert(db, admin, random_cdrs(random.Random(2), customers, 50))
    rollup.run(db)
    before, hours = audit_count(db), stored_hours(db)
    result = rollup.run(db)
    assert (result.cdrs, result.hours, result.last_cdr_id) == (0, 0, 50)
    assert audit_count(db) == before and stored_hours(db) == hours


def test_incremental_run_adds_only_new_cdrs_and_late_ones_to_their_old_hour(db, admin, customers):
    rng = random.Random(3)
    first = random_cdrs(rng, customers, 500)
    insert(db, admin, first)
    rollup.run(db)
    late = random_cdrs(rng, customers, 200, start=T0, hours=2, tag="late")  # hours already rolled up
    new = random_cdrs(rng, customers, 100, start=T0 + dt.timedelta(days=10), hours=5, tag="new")
    insert(db, admin, late + new)
    result = rollup.run(db)
    assert result.cdrs == 300
    assert stored_hours(db) == expected_hours(first + late + new)


def test_many_sub_cent_charges_add_up_exactly(db, admin, customers):
    rng = random.Random(4)
    rows = [{"callid": f"s{i}", "dt": T0 + dt.timedelta(seconds=i % 3600), "customer_id": customers[0],
             "duration": 7, "customer_duration": 60,
             "customer_charge": Decimal(rng.randrange(1, 10**4)).scaleb(-6),  # 0.000001 .. 0.009999
             "provider_charge": Decimal(rng.randrange(1, 10**4)).scaleb(-6)} for i in range(20_000)]
    insert(db, admin, rows)
    rollup.run(db)
    (hour,) = stored_hours(db).values()
    assert hour[4] == sum(r["customer_charge"] for r in rows)
    assert hour[5] == sum(r["provider_charge"] for r in rows)
    assert hour[4] != Decimal(str(sum(float(r["customer_charge"]) for r in rows)))  # floats would drift


def test_stored_hour_round_trips_through_the_column_type(db, admin, customers):
    insert(db, admin, [{"callid": "x", "dt": dt.datetime(2026, 3, 1, 23, 59, 1, tzinfo=UTC), "customer_id": customers[0],
                        "duration": 0, "customer_duration": 0, "customer_charge": Decimal(0), "provider_charge": Decimal(0)}])
    rollup.run(db)
    hour = dt.datetime(2026, 3, 1, 23, tzinfo=UTC)
    with db.read_session() as s:
        row = s.scalars(select(HourlySummary).where(HourlySummary.hour == hour)).one()
        assert s.scalar(select(func.count()).where(HourlySummary.hour >= hour, HourlySummary.hour < hour + dt.timedelta(hours=1))) == 1
    assert row.hour == hour and row.hour.utcoffset() == dt.timedelta(0)


@pytest.mark.postgres
def test_hours_are_utc_whatever_the_server_time_zone(pg_url, admin, make_customer):
    engine = create_engine(pg_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        name = conn.exec_driver_sql("SELECT current_database()").scalar()
        conn.exec_driver_sql(f"ALTER DATABASE \"{name}\" SET timezone TO 'Asia/Kolkata'")  # UTC+05:30
    engine.dispose()
    db = open_database(pg_url)
    try:
        cid = make_customer(db)
        rows = [{"callid": "k", "dt": dt.datetime(2026, 1, 5, 10, 15, tzinfo=UTC), "customer_id": cid, "duration": 5,
                 "customer_duration": 60, "customer_charge": Decimal("0.01"), "provider_charge": Decimal("0.005")}]
        insert(db, admin, rows)
        rollup.run(db)
        assert list(stored_hours(db)) == [(cid, dt.datetime(2026, 1, 5, 10, tzinfo=UTC))]
    finally:
        db.close()


def test_two_rollups_at_once_count_each_cdr_once(db, admin, customers):
    rows = random_cdrs(random.Random(5), customers, 5_000)
    insert(db, admin, rows)
    barrier = threading.Barrier(2)
    results, errors = [], []

    def work():
        barrier.wait()
        try:
            results.append(rollup.run(db))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    assert sorted(r.cdrs for r in results) == [0, len(rows)]
    assert stored_hours(db) == expected_hours(rows)


@pytest.mark.postgres
def test_rollup_waits_for_an_open_cdr_writer(pg_url, admin, make_customer):
    """On PostgreSQL a writer still open may hold lower ids than one that committed;
    the rollup must wait for it, or its CDRs would fall below the watermark unseen."""
    db = open_database(pg_url)
    try:
        cid = make_customer(db)
        early = random_cdrs(random.Random(6), [cid], 10, tag="early")
        later = random_cdrs(random.Random(7), [cid], 10, tag="later")
        slow = UnitOfWork(db, admin)
        try:
            rollup.hold_off(slow.session)
            slow.bulk_insert(Cdr, [with_defaults(r) for r in early], "slow writer")  # takes ids 1-10
            insert(db, admin, later)  # ids 11-20, committed first
            results = []
            runner = threading.Thread(target=lambda: results.append(rollup.run(db)))
            runner.start()
            runner.join(1.0)
            assert runner.is_alive(), "the rollup did not wait for the open writer"
            slow.commit()
        finally:
            slow.close()
        runner.join(30)
        assert results[0].cdrs == 20
        assert stored_hours(db) == expected_hours(early + later)
    finally:
        db.close()
