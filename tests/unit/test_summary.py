"""Summary rows from CDRs (imported from CSV, rolled up), checked against sums made here."""
from __future__ import annotations

import csv
import datetime as dt
import random
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

import pytest

from cxdesk.errors import Cancelled, PermissionDenied, ValidationError
from cxdesk.models import Cdr
from cxdesk.services import rollup
from cxdesk.services.cdr_import import COLUMNS, import_cdrs
from cxdesk.services.cdr_report import write_cdr_report
from cxdesk.services.uow import unit_of_work
from cxdesk.services.summary import (
    SummaryRow, bounds, export_summary, parse_period, summary_rows, summary_table, true_ratios,
)

UTC = dt.timezone.utc
MICRO = Decimal("0.000001")  # quotients are kept to 6 decimals rounded to odd: within 1e-6
FIELDS = ["callid", "dt", "customer_id", "duration", "customer_duration", "customer_charge", "provider_charge"]


def make_cdrs(rng: random.Random, customer_id: int, n: int, start: dt.datetime, hours: int, tag: str) -> list[dict]:
    out = []
    for i in range(n):
        connected = rng.random() < 0.55
        duration = rng.randrange(1, 1200) if connected else 0
        out.append({
            "callid": f"{tag}-{i}",
            "dt": start + dt.timedelta(seconds=rng.randrange(hours * 3600), microseconds=rng.randrange(10**6)),
            "customer_id": customer_id, "duration": duration, "customer_duration": -(-duration // 6) * 6,
            "customer_charge": Decimal(rng.randrange(10**6)).scaleb(-6) if connected else Decimal(0),
            "provider_charge": Decimal(rng.randrange(10**6)).scaleb(-6) if connected else Decimal(0),
        })
    return out


def load(db, actor, tmp_path: Path, rows: list[dict], name: str = "cdrs.csv") -> None:
    """Through the real path: a platform CSV, the import, the rollup."""
    path = tmp_path / name
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(FIELDS)
        for r in rows:
            w.writerow([r["dt"].isoformat() if f == "dt" else r[f] for f in FIELDS])
    import_cdrs(db, actor, path)
    rollup.run(db)


# -- the expectation, computed independently -------------------------------------------
def start_of(period: str, t: dt.datetime) -> dt.datetime:
    if period == "24h":
        return t.replace(minute=0, second=0, microsecond=0)
    day = dt.datetime(t.year, t.month, t.day, tzinfo=UTC)
    if period == "daily":
        return day
    if period == "weekly":
        return day - dt.timedelta(days=t.isoweekday() - 1)
    return dt.datetime(t.year, t.month, 1, tzinfo=UTC)


def expected(period: str, rows: list[dict]) -> dict[dt.datetime, dict]:
    out: dict = defaultdict(lambda: defaultdict(int))
    for r in rows:
        e = out[start_of(period, r["dt"])]
        e["attempts"] += 1
        e["connected"] += r["duration"] > 0
        e["duration"] += r["duration"]
        e["billed"] += r["customer_duration"]
        e["charge"] += r["customer_charge"]
        e["cost"] += r["provider_charge"]
    return dict(sorted(out.items()))


def close(value: Decimal | None, exact: Decimal | None) -> bool:
    return value is exact is None or abs(value - exact) < MICRO


def check(row, e: dict) -> None:
    assert (row.attempts, row.connected, row.duration_seconds, row.billed_seconds) == (
        e["attempts"], e["connected"], e["duration"], e["billed"])
    assert (row.customer_charge, row.vendor_cost, row.profit) == (e["charge"], e["cost"], e["charge"] - e["cost"])
    assert close(row.asr, Decimal(e["connected"]) * 100 / e["attempts"])
    assert close(row.acd_minutes, Decimal(e["duration"]) / e["connected"] / 60 if e["connected"] else None)
    assert close(row.duration_minutes, Decimal(e["duration"]) / 60)
    assert close(row.billed_minutes, Decimal(e["billed"]) / 60)
    assert close(row.profit_percent, (e["charge"] - e["cost"]) * 100 / e["charge"] if e["charge"] else None)


@pytest.fixture
def traffic(db, admin, make_customer, tmp_path):
    """Two customers over 2024-12-20 .. 2025-02-08 (a year boundary inside an ISO week)."""
    rng = random.Random(11)
    ours, other = make_customer(db, "Ours"), make_customer(db, "Other")
    start = dt.datetime(2024, 12, 20, tzinfo=UTC)
    rows = make_cdrs(rng, ours, 4_000, start, 50 * 24, "ours")
    load(db, admin, tmp_path, rows + make_cdrs(rng, other, 500, start, 50 * 24, "other"))
    return ours, rows


@pytest.mark.parametrize("period", ["daily", "weekly", "monthly"])
def test_periods_add_up_to_the_cdrs(db, traffic, period):
    customer, cdrs = traffic
    with db.read_session() as s:
        rows = summary_rows(s, customer, period)
    want = expected(period, cdrs)
    assert [r.period_start for r in rows] == list(want)
    for row in rows:
        check(row, want[row.period_start])
    assert sum(r.customer_charge for r in rows) == sum(c["customer_charge"] for c in cdrs)


def test_labels_and_period_bounds(db, traffic):
    customer, _ = traffic
    with db.read_session() as s:
        weekly = summary_rows(s, customer, "weekly")
        monthly = summary_rows(s, customer, "monthly")
        daily = summary_rows(s, customer, "daily", dt.date(2025, 1, 1), dt.date(2025, 1, 1))
        hourly = summary_rows(s, customer, "24h", date_to=dt.date(2025, 1, 1))
    week1 = next(r for r in weekly if r.period_start == dt.datetime(2024, 12, 30, tzinfo=UTC))
    assert (week1.label, week1.period_end) == ("Week 1 2025", dt.datetime(2025, 1, 6, tzinfo=UTC))
    assert weekly[0].label == "Week 51 2024"
    assert [r.label for r in monthly] == ["2024-12", "2025-01", "2025-02"]
    assert monthly[0].period_end == dt.datetime(2025, 1, 1, tzinfo=UTC)
    assert [(r.label, r.period_end) for r in daily] == [("2025-01-01", dt.datetime(2025, 1, 2, tzinfo=UTC))]
    assert hourly and all(r.label.startswith("2025-01-01 ") and r.label.endswith(":00") for r in hourly)
    assert hourly[0].period_end - hourly[0].period_start == dt.timedelta(hours=1)


def test_24h_is_the_last_24_hours(db, traffic):
    customer, cdrs = traffic
    now = dt.datetime(2025, 1, 10, 14, 25, tzinfo=UTC)
    with db.read_session() as s:
        rows = summary_rows(s, customer, "24h", now=now)
    window = [c for c in cdrs if dt.datetime(2025, 1, 9, 15, tzinfo=UTC) <= c["dt"] < dt.datetime(2025, 1, 10, 15, tzinfo=UTC)]
    want = expected("24h", window)
    assert 20 <= len(rows) <= 24 and [r.period_start for r in rows] == list(want)
    for row in rows:
        check(row, want[row.period_start])


def test_ranges_take_whole_periods(db, traffic):
    customer, cdrs = traffic
    with db.read_session() as s:
        weeks = summary_rows(s, customer, "weekly", dt.date(2025, 1, 1), dt.date(2025, 1, 8))
        months = summary_rows(s, customer, "monthly", date_from=dt.date(2025, 1, 31))
        days = summary_rows(s, customer, "daily", date_to=dt.date(2024, 12, 21))
        hours = summary_rows(s, customer, "24h", dt.date(2025, 1, 2), dt.date(2025, 1, 2))
    assert [r.label for r in weeks] == ["Week 1 2025", "Week 2 2025"]  # Mon 30 Dec .. Sun 12 Jan
    check(weeks[0], expected("weekly", cdrs)[dt.datetime(2024, 12, 30, tzinfo=UTC)])
    assert [r.label for r in months] == ["2025-01", "2025-02"]
    assert [r.label for r in days] == ["2024-12-20", "2024-12-21"]
    assert {r.label[:10] for r in hours} == {"2025-01-02"}


def test_late_cdrs_and_reimport(db, admin, make_customer, tmp_path):
    customer = make_customer(db)
    rng = random.Random(12)
    day = dt.datetime(2026, 1, 5, tzinfo=UTC)
    first = make_cdrs(rng, customer, 300, day, 24, "first")
    load(db, admin, tmp_path, first, "first.csv")
    late = make_cdrs(rng, customer, 40, day, 24, "late")  # same day, arriving after its rollup
    load(db, admin, tmp_path, late, "late.csv")
    load(db, admin, tmp_path, first, "again.csv")  # the first file again: nothing doubles
    with db.read_session() as s:
        (row,) = summary_rows(s, customer, "daily")
    check(row, expected("daily", first + late)[day])


def test_many_sub_cent_charges_stay_exact(db, admin, make_customer, tmp_path):
    customer = make_customer(db)
    rng = random.Random(13)
    rows = [{"callid": f"s{i}", "dt": dt.datetime(2026, 2, 1, tzinfo=UTC) + dt.timedelta(seconds=rng.randrange(28 * 86400)),
             "customer_id": customer, "duration": 3, "customer_duration": 6,
             "customer_charge": Decimal(rng.randrange(1, 10**4)).scaleb(-6),
             "provider_charge": Decimal(rng.randrange(1, 10**4)).scaleb(-6)} for i in range(20_000)]
    load(db, admin, tmp_path, rows)
    with db.read_session() as s:
        (month,) = summary_rows(s, customer, "monthly")
        days = summary_rows(s, customer, "daily")
    total = sum(r["customer_charge"] for r in rows)
    assert month.customer_charge == total == sum(d.customer_charge for d in days)
    assert month.vendor_cost == sum(r["provider_charge"] for r in rows)


def test_blank_ratios_when_the_divisor_is_zero(db, admin, make_customer, tmp_path):
    customer = make_customer(db)
    failed = [{"callid": f"f{i}", "dt": dt.datetime(2026, 1, 5, 9, tzinfo=UTC), "customer_id": customer,
               "duration": 0, "customer_duration": 0, "customer_charge": Decimal(0), "provider_charge": Decimal(0)}
              for i in range(3)]
    load(db, admin, tmp_path, failed)
    with db.read_session() as s:
        (row,) = summary_rows(s, customer, "daily")
    assert (row.asr, row.acd_minutes, row.profit_percent, row.profit) == (Decimal(0), None, None, Decimal(0))
    table = summary_table([row])
    assert [table.texts(c, 0, 1)[0] for c in range(table.column_count)] == [
        "2026-01-05", "3", "0", "0.00", "", "0.00", "0.00", "0.00", "0.00", "0.00", ""]


def _row(attempts, connected, duration, charge, cost):
    t = dt.datetime(2026, 1, 1, tzinfo=UTC)
    return SummaryRow("daily", "2026-01-01", t, t, attempts, connected, duration, duration, Decimal(charge), Decimal(cost))


def test_true_ratios_are_weighted():
    rows = [_row(1, 1, 600, "10", "9"), _row(99, 0, 0, "0", "0"), _row(100, 50, 3000, "1", "0")]
    ratios = true_ratios(rows)
    assert ratios.asr == Decimal("25.5")  # 51 of 200 calls; the mean of the rows' ASRs is 50.0
    assert abs(ratios.acd_minutes - Decimal(3600) / 51 / 60) <= MICRO
    assert abs(ratios.profit_percent - Decimal(200) / 11) <= MICRO  # 2 of 11
    assert true_ratios([]) == (None, None, None)


def test_summary_table_columns_groups_and_cells():
    hour = dt.datetime(2026, 1, 5, 10, tzinfo=UTC)
    row = _row(200, 90, 12345, "12.345678", "10.000001")
    table = summary_table([row], "EUR")
    assert [c.title for c in table.columns] == [
        "Date", "Attempts", "Connected", "ASR (%)", "ACD (min)", "Duration (min)", "Billed Duration (min)",
        "Customer Charge (EUR)", "Vendor Cost (EUR)", "Profit (EUR)", "Profit %"]
    assert [c.group for c in table.columns] == ["Period"] + ["Traffic"] * 4 + ["Duration"] * 2 + ["Money"] * 4
    assert [table.texts(c, 0, 1)[0] for c in range(table.column_count)] == [
        "2026-01-01", "200", "90", "45.00", "2.29", "205.75", "205.75", "12.35", "10.00", "2.35", "19.00"]
    assert table.value(0, table.index("customer_charge")) == Decimal("12.345678")
    # money at the currency's minor unit: JPY 0, KWD 3
    assert summary_table([row], "JPY").texts(7, 0, 1) == ["12"]
    assert summary_table([row], "KWD").texts(7, 0, 1) == ["12.346"]
    hourly = SummaryRow("24h", "2026-01-05 10:00", hour, hour, 1, 0, 0, 0, Decimal(0), Decimal(0))
    assert summary_table([hourly]).objects(0) == [hour.replace(tzinfo=None)]
    assert summary_table([hourly]).texts(0, 0, 1) == ["2026-01-05 10:00"]
    monday = dt.datetime(2026, 1, 5, tzinfo=UTC)
    weekly = SummaryRow("weekly", "Week 2 2026", monday, monday, 1, 0, 0, 0, Decimal(0), Decimal(0))
    table = summary_table([weekly])
    assert [c.title for c in table.columns[:2]] == ["Date", "Week"]  # a real date beside the label
    assert table.objects(0) == [dt.date(2026, 1, 5)] and table.objects(1) == ["Week 2 2026"]
    monthly = SummaryRow("monthly", "2026-01", monday.replace(day=1), monday, 1, 0, 0, 0, Decimal(0), Decimal(0))
    assert summary_table([monthly]).texts(0, 0, 1) == ["2026-01"]


def test_export_needs_the_export_right_and_a_known_suffix(staff, accountant, tmp_path):
    rows = [_row(10, 5, 300, "1.5", "1")]
    with pytest.raises(PermissionDenied):
        export_summary(staff, rows, tmp_path / "s.csv")
    with pytest.raises(ValidationError, match="must end in .xlsx or .csv"):
        export_summary(accountant, rows, tmp_path / "s.pdf")
    export_summary(accountant, rows, tmp_path / "s.csv", currency="KWD")
    lines = (tmp_path / "s.csv").read_text(encoding="utf-8-sig").splitlines()
    assert lines == ["Date,Attempts,Connected,ASR (%),ACD (min),Duration (min),Billed Duration (min),"
                     "Customer Charge (KWD),Vendor Cost (KWD),Profit (KWD),Profit %",
                     "2026-01-01,10,5,50.00,1.00,5.00,5.00,1.500,1.000,0.500,33.33"]
    assert not (tmp_path / "s.pdf").exists()


@pytest.mark.parametrize("args, message", [
    (("hourly", None, None), "'hourly' is not a summary period"),
    (("daily", dt.date(2026, 1, 6), dt.date(2026, 1, 5)), "The start date is after the end date"),
])
def test_bad_queries_are_refused(args, message):
    with pytest.raises(ValidationError, match=message):
        bounds(*args)


@pytest.mark.parametrize("period, value, start, end", [
    ("24h", "2026-01-05 10:30", "2026-01-05T10:00", "2026-01-05T11:00"),
    ("daily", "2026-01-05", "2026-01-05", "2026-01-06"),
    ("weekly", "2026-W02", "2026-01-05", "2026-01-12"),
    ("weekly", "2026-01-11", "2026-01-05", "2026-01-12"),
    ("monthly", "2026-02", "2026-02-01", "2026-03-01"),
    ("monthly", "2025-12-31", "2025-12-01", "2026-01-01"),
])
def test_parse_period(period, value, start, end):
    assert parse_period(period, value) == (dt.datetime.fromisoformat(start).replace(tzinfo=UTC),
                                           dt.datetime.fromisoformat(end).replace(tzinfo=UTC))


@pytest.mark.parametrize("period, value", [
    ("24h", "2026-01-05"), ("daily", "2026-13-01"), ("weekly", "2026-W60"), ("monthly", "2026-1"), ("daily", "yesterday"),
])
def test_parse_period_refuses_bad_input(period, value):
    with pytest.raises(ValidationError, match=f"'{value}' is not "):
        parse_period(period, value)


def test_cli_period_choices_are_the_service_periods():
    from cxdesk.cli.cdr_cmd import PERIODS as CLI_PERIODS
    from cxdesk.services.summary import PERIODS
    assert CLI_PERIODS == PERIODS


# -- the CDR report of a summary row ------------------------------------------------------
def read_report(path: Path) -> list[dict]:
    with open(path, encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    with open(path, encoding="utf-8-sig", newline="") as fh:
        assert next(csv.reader(fh)) == list(COLUMNS)
    return rows


def test_cdr_report_of_each_summary_row(db, admin, make_customer, tmp_path):
    rng = random.Random(14)
    customer, other = make_customer(db, "Ours"), make_customer(db, "Other")
    start = dt.datetime(2026, 1, 5, tzinfo=UTC)
    cdrs = make_cdrs(rng, customer, 600, start, 72, "ours")
    load(db, admin, tmp_path, cdrs + make_cdrs(rng, other, 100, start, 72, "other"))
    with db.read_session() as s:
        days = summary_rows(s, customer, "daily")
    assert len(days) == 3
    for day in days:
        path = tmp_path / f"{day.label}.csv"
        count = write_cdr_report(db, admin, customer, day.period_start, day.period_end, path)
        got = read_report(path)
        want = sorted((c for c in cdrs if day.period_start <= c["dt"] < day.period_end), key=lambda c: c["dt"])
        assert count == len(got) == day.attempts
        assert [g["callid"] for g in got] == [w["callid"] for w in want]
        for g, w in zip(got, want):
            assert g["dt"] == w["dt"].strftime("%Y-%m-%d %H:%M:%S")  # UTC, the platform's format
            assert g["customer_charge"] == f"{w['customer_charge']:.6f}"
            assert g["provider_charge"] == f"{w['provider_charge']:.6f}"
            assert (g["customer_id"], g["duration"]) == (str(customer), str(w["duration"]))
        assert sum(Decimal(g["customer_charge"]) for g in got) == day.customer_charge


def test_cdr_report_prints_every_stored_amount_exactly(db, admin, make_customer, tmp_path):
    customer = make_customer(db)
    text_columns = ("source_cli", "dest_number", "customer_card_dest_code", "customer_card_dest_name",
                    "customer_card_currency", "sip_reason", "release_reason")
    row = {c: "" for c in text_columns} | {
        "callid": "refund", "dt": dt.datetime(2026, 1, 5, 23, 59, 59, 999999, tzinfo=UTC), "customer_id": customer,
        "duration": 0, "customer_duration": 0, "customer_charge": Decimal("-1.5"), "customer_card_rate": Decimal(0),
        "provider_charge": Decimal("123456789012.123456"), "provider_id": None, "pdd_out": 0, "ring_duration": 0,
        "sip_code": 0}
    with unit_of_work(db, admin) as uow:
        uow.bulk_insert(Cdr, [row], "a refund CDR")
    path = tmp_path / "r.csv"
    write_cdr_report(db, admin, customer, *parse_period("daily", "2026-01-05"), path)
    (got,) = read_report(path)
    assert (got["dt"], got["customer_charge"], got["customer_card_rate"], got["provider_charge"], got["provider_id"]) == (
        "2026-01-05 23:59:59", "-1.500000", "0.000000", "123456789012.123456", "")


def test_cdr_report_progress_cancel_and_rights(db, admin, staff, make_customer, tmp_path):
    customer = make_customer(db)
    start = dt.datetime(2026, 1, 5, tzinfo=UTC)
    load(db, admin, tmp_path, make_cdrs(random.Random(15), customer, 25_000, start, 24, "many"))
    end = start + dt.timedelta(days=1)
    path = tmp_path / "report.csv"
    path.write_text("an older report\n")
    seen = []
    with pytest.raises(Cancelled):
        write_cdr_report(db, admin, customer, start, end, path,
                         progress=lambda done, total: seen.append((done, total)), cancel=lambda: len(seen) == 2)
    assert seen == [(10_000, 25_000), (20_000, 25_000)]
    assert path.read_text() == "an older report\n" and [p.name for p in tmp_path.iterdir() if ".part" in p.name] == []
    with pytest.raises(PermissionDenied):
        write_cdr_report(db, staff, customer, start, end, path)
    seen.clear()
    assert write_cdr_report(db, admin, customer, start, end, path, progress=lambda *a: seen.append(a)) == 25_000
    assert seen[-1] == (25_000, 25_000) and len(read_report(path)) == 25_000
