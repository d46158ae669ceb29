"""Invoices against sums made here from the CDRs: lines, net, tax by EN 16931 (line nets
in the minor unit adding up to the period's rounded charge, VAT = round(net x rate));
never a period twice; auto-generate; gapless numbers; paid status; Excel."""
from __future__ import annotations

import datetime as dt
import json
import random
from collections import defaultdict
from decimal import ROUND_HALF_UP, Decimal

import openpyxl
import pytest
from sqlalchemy import func, select

from cxdesk.errors import ConflictError, NotFound, PermissionDenied, ValidationError
from cxdesk.models import AuditEntry, Cdr, Customer, Invoice, InvoiceCounter, InvoiceLine
from cxdesk.services import audit_chain, invoices, options, rollup
from cxdesk.services.summary import summary_rows
from cxdesk.services.uow import unit_of_work

UTC = dt.timezone.utc
NOW = dt.datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
JAN = dt.datetime(2026, 1, 1, tzinfo=UTC)
FEB = dt.datetime(2026, 2, 1, tzinfo=UTC)
DESTS = [("44", "United Kingdom - Fixed"), ("447", "United Kingdom - Mobile"), ("1", "USA & Canada"), ("", "")]


def day(d: int, month: int = 1) -> dt.datetime:
    return dt.datetime(2026, month, d, tzinfo=UTC)


def cdr(callid: str, at: dt.datetime, customer_id: int, seconds: int = 60, charge: str | Decimal = "0.01",
        dest: tuple[str, str] = DESTS[0]) -> dict:
    return {
        "callid": callid, "dt": at, "customer_id": customer_id, "source_cli": "", "dest_number": "",
        "duration": seconds, "customer_duration": -(-seconds // 6) * 6, "customer_charge": Decimal(charge),
        "customer_card_rate": Decimal(0), "customer_card_dest_code": dest[0], "customer_card_dest_name": dest[1],
        "customer_card_currency": "", "provider_id": None, "provider_charge": Decimal(0), "pdd_out": 0,
        "ring_duration": 0, "sip_code": 200 if seconds else 486, "sip_reason": "", "release_reason": "",
    }


def random_cdrs(rng: random.Random, customer_id: int, n: int, start: dt.datetime, end: dt.datetime,
                tag: str) -> list[dict]:
    span = int((end - start).total_seconds())
    rows = []
    for i in range(n):
        connected = rng.random() < 0.7
        rows.append(cdr(f"{tag}{i}", start + dt.timedelta(seconds=rng.randrange(span), microseconds=rng.randrange(10**6)),
                        customer_id, rng.randrange(1, 1800) if connected else 0,
                        Decimal(rng.randrange(10**6)).scaleb(-6) if connected else Decimal(0), rng.choice(DESTS)))
    return rows


def insert(db, actor, rows: list[dict], roll: bool = True) -> None:
    with unit_of_work(db, actor) as uow:
        rollup.hold_off(uow.session)
        uow.bulk_insert(Cdr, rows, "test CDRs")
    if roll:
        rollup.run(db)


def state(db) -> tuple:
    """Everything generating could change."""
    with db.read_session() as s:
        return (s.scalar(select(func.count()).select_from(Invoice)),
                s.scalar(select(func.count()).select_from(InvoiceLine)),
                s.scalar(select(InvoiceCounter.last_number).where(InvoiceCounter.id == invoices.COUNTER_ID)),
                s.scalar(select(func.count()).select_from(AuditEntry)))


def expected(rows: list[dict], customer_id: int, start: dt.datetime, end: dt.datetime, key) -> dict:
    """{key: [calls, billed seconds, net]} computed here from the CDRs."""
    out: dict = defaultdict(lambda: [0, 0, Decimal(0)])
    for r in rows:
        if r["customer_id"] == customer_id and start <= r["dt"] < end:
            acc = out[key(r)]
            acc[0] += r["duration"] > 0
            acc[1] += r["customer_duration"]
            acc[2] += r["customer_charge"]
    return dict(out)


def one_sentence(message: str) -> bool:
    return "\n" not in message and message.endswith(".") and ". " not in message


def check_shown(inv: invoices.InvoiceRecord) -> None:
    """The stated figures follow EN 16931 and the printed ones are the stored ones."""
    step = invoices.invoice_quantum(inv.currency)
    shown = inv.shown_lines()
    assert sum(ln.net for ln in inv.lines) == inv.net  # BR-CO-10
    assert inv.tax == (inv.net * inv.tax_percent / 100).quantize(step, ROUND_HALF_UP)  # BR-CO-17
    assert inv.total == inv.net + inv.tax  # BR-CO-15
    assert inv.net % step == 0 and inv.tax % step == 0
    assert sum(s.tax for s in shown) == inv.tax_shown == inv.tax
    assert [(s.net, s.tax) for s in shown] == [(s.line.net, s.line.tax) for s in shown]
    for ln in inv.lines:
        assert ln.quantity * ln.unit_price == ln.net and ln.net % step == 0  # BR-LIN: exactly
        assert abs(ln.tax - ln.net * inv.tax_percent / 100) < step


def check_lines(inv: invoices.InvoiceRecord, exact: dict, key) -> None:
    """Each line net is its exact charge (computed here) within one step, and together they
    make the rounded exact charge of the period: the Summary's Customer Charge."""
    step = invoices.invoice_quantum(inv.currency)
    for ln in inv.lines:
        assert abs(ln.net - exact[key(ln)]) < step
    assert inv.net == sum(exact.values(), Decimal(0)).quantize(step, ROUND_HALF_UP)


@pytest.fixture
def acme(db, make_customer) -> int:
    return make_customer(db, "Acme Telecom", tax_percent=Decimal("17.5"), invoice_due_days=14)


# -- figures ---------------------------------------------------------------------------
def test_monthly_invoice_by_day_matches_the_cdrs(db, acme, make_customer, admin, accountant):
    other = make_customer(db, "Other Ltd")
    rng = random.Random(7)
    rows = (random_cdrs(rng, acme, 1500, day(28, 12).replace(year=2025), day(3, 2), "a")
            + random_cdrs(rng, other, 300, JAN, FEB, "o")
            + [cdr("edge-in", FEB - dt.timedelta(microseconds=1), acme, 61, "0.333333"),
               cdr("edge-out", FEB, acme, 61, "5")])
    insert(db, admin, rows)

    (inv,) = invoices.generate_for_periods(db, accountant, acme, "monthly", [JAN],
                                           invoice_date=dt.date(2026, 2, 2), now=NOW)

    days = expected(rows, acme, JAN, FEB, key=lambda r: r["dt"].date())
    net = sum(v[2] for v in days.values())
    assert (inv.number, inv.name, inv.period_kind, inv.customer_name) == (1, "January 2026", "monthly", "Acme Telecom")
    assert (inv.period_start, inv.period_end, inv.currency) == (JAN, FEB, "EUR")
    assert (inv.invoice_date, inv.due_date, inv.paid_status) == (dt.date(2026, 2, 2), dt.date(2026, 2, 16), "Unpaid")
    assert inv.tax_percent == Decimal("17.5")
    assert inv.net == net.quantize(Decimal("0.01"), ROUND_HALF_UP)
    assert inv.tax == (inv.net * Decimal("0.175")).quantize(Decimal("0.01"), ROUND_HALF_UP)
    assert inv.total == inv.net + inv.tax
    assert [ln.period_start.date() for ln in inv.lines] == sorted(days)
    for ln in inv.lines:
        calls, seconds, line_net = days[ln.period_start.date()]
        assert (ln.calls, ln.period_end - ln.period_start) == (calls, dt.timedelta(days=1))
        assert ln.minutes == (Decimal(seconds) / 60).quantize(Decimal("0.000001"), ROUND_HALF_UP)
        assert (ln.quantity, ln.unit_price) == (1, ln.net)
        assert ln.description == f"Calls on {ln.period_start.date().isoformat()}"
    check_lines(inv, {d: v[2] for d, v in days.items()}, key=lambda ln: ln.period_start.date())
    check_shown(inv)
    with db.read_session() as s:  # the invoice net is the Summary row's Customer Charge, rounded
        (row,) = summary_rows(s, acme, "monthly", JAN.date(), JAN.date())
    assert inv.net == row.customer_charge.quantize(Decimal("0.01"), ROUND_HALF_UP)
    with db.read_session() as s:
        assert invoices.get_invoice(s, inv.id) == inv  # stored as returned


def test_destination_lines_group_the_cdrs_by_destination(db, acme, admin, accountant):
    options.set_value(db, admin, "invoice-line-grouping", "destination")
    rows = random_cdrs(random.Random(3), acme, 800, day(20, 12).replace(year=2025), day(10, 2), "d")
    insert(db, admin, rows)

    (inv,) = invoices.generate_for_periods(db, accountant, acme, "monthly", [JAN], now=NOW)

    dests = expected(rows, acme, JAN, FEB, key=lambda r: (r["customer_card_dest_code"], r["customer_card_dest_name"]))
    names = {"44": "United Kingdom - Fixed (44)", "447": "United Kingdom - Mobile (447)", "1": "USA & Canada (1)",
             "": "Unknown destination"}
    got = {ln.description: (ln.calls, ln.minutes, ln.period_start, ln.period_end) for ln in inv.lines}
    assert got == {names[code]: (calls, (Decimal(seconds) / 60).quantize(Decimal("0.000001"), ROUND_HALF_UP), JAN, FEB)
                   for (code, _), (calls, seconds, net) in dests.items()}
    assert [ln.description for ln in inv.lines] == [  # by name
        "Unknown destination", "United Kingdom - Fixed (44)", "United Kingdom - Mobile (447)", "USA & Canada (1)"]
    check_lines(inv, {names[code]: v[2] for (code, _), v in dests.items()}, key=lambda ln: ln.description)
    assert [ln.position for ln in inv.lines] == list(range(1, len(dests) + 1))
    check_shown(inv)


@pytest.mark.parametrize("currency, charges, rate, net, tax, total", [
    ("EUR", ["2.125"], "0", "2.13", "0", "2.13"),              # half-up, not half-even
    ("EUR", ["0.333333"] * 3, "0", "1.00", "0", "1.00"),       # the net rounded once: lines 0.34 + 0.33 + 0.33
    ("EUR", ["10.004999"], "10", "10.00", "1.00", "11.00"),    # VAT of the stated net (BR-CO-17), not 11.01
    ("GBP", ["8.4151"], "21", "8.42", "1.77", "10.19"),        # the issue's case: 1.77, not total - net = 1.76
    ("USD", ["0.004", "0.004"], "20", "0.01", "0.00", "0.01"),  # 0.002 -> 0.00; lines 0.01 + 0.00
    ("JPY", ["100.4", "0.1"], "0", "101", "0", "101"),         # JPY has no minor unit
    ("JPY", ["1000"], "8.25", "1000", "83", "1083"),           # 82.5 -> 83
    ("KWD", ["1.2344", "0.0001"], "0", "1.23", "0", "1.23"),   # EN 16931 states at most 2 decimals (BR-DEC-*)
])
def test_net_and_vat_are_rounded_by_en16931(db, make_customer, admin, accountant,
                                            currency, charges, rate, net, tax, total):
    cid = make_customer(db, "Rounding Co", currency=currency, tax_percent=Decimal(rate))
    insert(db, admin, [cdr(f"r{i}", day(5 + i), cid, 60, c) for i, c in enumerate(charges)])  # a line each

    (inv,) = invoices.generate_for_periods(db, accountant, cid, "monthly", [JAN], now=NOW)

    assert (inv.net, inv.tax, inv.total) == (Decimal(net), Decimal(tax), Decimal(total))
    check_shown(inv)
    places = invoices.minor_units(currency)
    assert invoices.format_amount(inv.total, currency) == f"{Decimal(total):,.{places}f} {currency}"


def test_weekly_and_daily_periods_are_half_open_utc(db, acme, admin, accountant):
    w02 = day(5)  # Monday of ISO week 2, 2026
    insert(db, admin, [cdr("before", w02 - dt.timedelta(microseconds=1), acme, 60, "1"),
                       cdr("first", w02, acme, 60, "2"),
                       cdr("last", day(12) - dt.timedelta(microseconds=1), acme, 60, "4"),
                       cdr("after", day(12), acme, 60, "8")])
    weekly, = invoices.generate_for_periods(db, accountant, acme, "weekly", [w02], now=NOW)
    assert (weekly.name, weekly.period_text, weekly.net) == ("Week 2 2026", "2026-01-05 to 2026-01-11", Decimal(6))
    assert [ln.period_start for ln in weekly.lines] == [day(5), day(11)]
    daily, = invoices.generate_for_periods(db, accountant, acme, "daily", [day(12)], now=NOW)
    assert (daily.name, daily.period_text, daily.net, daily.number) == ("2026-01-12", "2026-01-12", Decimal(8), 2)


def test_cdrs_not_yet_rolled_up_are_invoiced(db, acme, admin, accountant):
    insert(db, admin, [cdr("a", day(5, 2), acme, 60, "1.5")])
    insert(db, admin, [cdr("b", day(6, 2), acme, 60, "2.5")], roll=False)  # the hourly rollup has not run yet
    (inv,) = invoices.generate_for_periods(db, accountant, acme, "monthly", [FEB], now=NOW)
    assert inv.net == Decimal(4) and len(inv.lines) == 2


# -- never twice ---------------------------------------------------------------------------
def test_a_period_is_never_invoiced_twice(db, acme, admin, accountant):
    insert(db, admin, [cdr(f"c{d}", day(d), acme, 60, "1") for d in range(1, 32)]
           + [cdr(f"f{d}", day(d, 2), acme, 60, "1") for d in range(1, 29)])
    (jan5,) = invoices.generate_for_periods(db, accountant, acme, "daily", [day(5)], now=NOW)
    before = state(db)

    cases = [
        ("monthly", [JAN], "January 2026 is already invoiced in part: invoice 1 (2026-01-05) covers part of it;"),
        ("weekly", [day(5)], "Week 2 2026 is already invoiced in part: invoice 1 (2026-01-05)"),
        ("daily", [day(5)], "2026-01-05 is already invoiced: invoice 1 (2026-01-05) covers it; open that invoice"),
        ("daily", [day(4), day(5), day(6)],
         "2026-01-05 is already invoiced: invoice 1 (2026-01-05) covers it; untick it and generate the others."),
    ]
    for kind, starts, message in cases:
        with pytest.raises(ConflictError) as err:
            invoices.generate_for_periods(db, accountant, acme, kind, starts, now=NOW)
        assert str(err.value).startswith(message)
        assert one_sentence(str(err.value))
        assert state(db) == before  # all or nothing: Jan 4 and 6 were not created either

    (feb,) = invoices.generate_for_periods(db, accountant, acme, "monthly", [FEB], now=NOW)
    assert feb.number == jan5.number + 1
    with pytest.raises(ConflictError, match=r"^2026-02-03 is already invoiced: invoice 2 \(February 2026\)"):
        invoices.generate_for_periods(db, accountant, acme, "daily", [day(3, 2)], now=NOW)
    with pytest.raises(ConflictError, match=r"^Week 5 2026 is already invoiced in part: invoice 2"):
        invoices.generate_for_periods(db, accountant, acme, "weekly", [day(26)], now=NOW)  # Jan 26 - Feb 1


def test_hour_rows_of_the_24_hour_view_cannot_be_invoiced(db, acme, admin, accountant):
    insert(db, admin, [cdr("h", day(5) + dt.timedelta(hours=10), acme)])
    before = state(db)
    with pytest.raises(ValidationError, match="^Hour rows of the 24-hour view cannot be invoiced; switch the Summary"):
        invoices.generate_for_periods(db, accountant, acme, "24h", [day(5) + dt.timedelta(hours=10)], now=NOW)
    assert state(db) == before


@pytest.mark.parametrize("who, kind, starts, now, error, message", [
    ("accountant", "yearly", [JAN], NOW, ValidationError, "'yearly' is not a summary period"),
    ("accountant", "monthly", [day(5)], NOW, ValidationError, "2026-01-05 00:00 UTC is not the start of a monthly period"),
    ("accountant", "monthly", [], NOW, ValidationError, "Tick the periods to invoice in the Action column first."),
    ("accountant", "monthly", [JAN], day(31, 1), ValidationError,
     "January 2026 has not ended yet (it ends 2026-02-01 00:00 UTC); invoice it after that."),
    ("accountant", "monthly", [day(1, 3)], dt.datetime(2026, 4, 2, tzinfo=UTC), ValidationError,
     "March 2026 has no calls of Acme Telecom to invoice."),
    ("accountant", "monthly", [JAN, day(1, 3)], dt.datetime(2026, 4, 2, tzinfo=UTC), ValidationError,
     "March 2026 has no calls"),
    ("staff", "monthly", [JAN], NOW, PermissionDenied, "Your role (staff) may not generate invoices"),
    ("supervisor", "monthly", [JAN], NOW, None, None),  # higher roles may
])
def test_bad_requests_are_refused_and_change_nothing(db, acme, admin, request, who, kind, starts, now, error, message):
    insert(db, admin, [cdr("j", day(9), acme, 60, "1")])
    before = state(db)
    actor = request.getfixturevalue(who)
    if error is None:
        assert invoices.generate_for_periods(db, actor, acme, kind, starts, now=now)[0].number == 1
        return
    with pytest.raises(error) as err:
        invoices.generate_for_periods(db, actor, acme, kind, starts, now=now)
    assert str(err.value).startswith(message) and one_sentence(str(err.value))
    assert state(db) == before


def test_unknown_customer_and_naive_times_are_refused(db, acme, accountant):
    with pytest.raises(NotFound, match="Customer 999 does not exist"):
        invoices.generate_for_periods(db, accountant, 999, "monthly", [JAN], now=NOW)
    with pytest.raises(ValueError, match="timezone-aware"):
        invoices.generate_for_periods(db, accountant, acme, "monthly", [dt.datetime(2026, 1, 1)], now=NOW)


def test_numbers_run_without_gaps_across_customers_and_refusals(db, acme, make_customer, admin, accountant):
    beta = make_customer(db, "Beta Networks", currency="USD")
    insert(db, admin, [cdr(f"{c}-{m}-{d}", day(d, m), c, 60, "1") for c in (acme, beta) for m in (1, 2) for d in (3, 4)])
    made = invoices.generate_for_periods(db, accountant, acme, "daily", [day(4), day(3)], now=NOW)
    assert [(i.number, i.period_start) for i in made] == [(1, day(3)), (2, day(4))]
    with pytest.raises(ConflictError):
        invoices.generate_for_periods(db, accountant, acme, "monthly", [JAN], now=NOW)
    assert invoices.generate_for_periods(db, accountant, beta, "monthly", [JAN], now=NOW)[0].number == 3
    assert invoices.generate_for_periods(db, accountant, acme, "monthly", [FEB], now=NOW)[0].number == 4
    with db.read_session() as s:
        assert list(s.scalars(select(Invoice.number).order_by(Invoice.number))) == [1, 2, 3, 4]
        assert s.scalar(select(InvoiceCounter.last_number).where(InvoiceCounter.id == invoices.COUNTER_ID)) == 4
        assert [r.number for r in invoices.list_invoices(s, beta)] == [3]
        assert [(r.number, r.customer_name) for r in invoices.list_invoices(s)][2] == (3, "Beta Networks")
        assert invoices.find_invoice(s, "3").currency == "USD"
        with pytest.raises(NotFound, match="There is no invoice number 9;"):
            invoices.find_invoice(s, 9)
        with pytest.raises(ValidationError, match="'x1' is not an invoice number"):
            invoices.find_invoice(s, "x1")


def test_generating_is_audited_with_the_invoice_and_its_lines(db, acme, admin, accountant):
    insert(db, admin, [cdr("a", day(5), acme, 90, "1.25", DESTS[1]), cdr("b", day(6), acme, 30, "0.5")])
    (inv,) = invoices.generate_for_periods(db, accountant, acme, "monthly", [JAN], now=NOW, comment="month end")
    with db.read_session() as s:
        entries = s.scalars(select(AuditEntry).where(AuditEntry.actor == accountant.login)
                            .order_by(AuditEntry.id)).all()
        assert audit_chain.verify(s).ok
    assert [(e.action, e.table_name, e.primary_key) for e in entries] == [
        ("GENERATE", "invoices", str(inv.id)), ("GENERATE", "invoice_lines", str(inv.id))]
    head, lines = entries
    assert head.message == ("Generated invoice 1 for customer 1 (Acme Telecom): January 2026, 2 lines by day, "
                            "total 2.06 EUR")
    assert (head.comment, head.customer_id, head.ip, head.before) == ("month end", acme, accountant.ip, None)
    after = json.loads(head.after)
    assert (after["number"], after["net"], after["total"], after["tax_percent"]) == (1, "1.75", "2.06", "17.5")
    doc = json.loads(lines.after)
    assert doc["invoice"] == 1
    assert [(ln["description"], ln["calls"], ln["net"]) for ln in doc["lines"]] == [
        ("Calls on 2026-01-05", 1, "1.25"), ("Calls on 2026-01-06", 1, "0.5")]


# -- auto generate ------------------------------------------------------------------------
@pytest.fixture
def scheduled(db, make_customer, admin) -> dict[str, int]:
    ids = {
        "monthly": make_customer(db, "Monthly Co", invoice_schedule="Monthly"),
        "weekly": make_customer(db, "Weekly Co", invoice_schedule="Weekly"),
        "daily": make_customer(db, "Daily Co", invoice_schedule="Daily"),
        "quiet": make_customer(db, "Quiet Co", invoice_schedule="Daily"),
    }
    rows = []
    for name in ("monthly", "weekly", "daily"):
        cid = ids[name]
        rows += [cdr(f"{name}-dec", dt.datetime(2025, 12, 31, 23, 0, tzinfo=UTC), cid, 60, "1"),
                 cdr(f"{name}-jan", day(14), cid, 60, "2"),
                 cdr(f"{name}-feb", day(27, 2), cid, 0, "0"),  # a failed attempt is traffic too
                 cdr(f"{name}-mar", day(9, 3), cid, 60, "4")]
    insert(db, admin, rows)
    return ids


def periods(records) -> list[tuple[str, str]]:
    return [(r.customer_name, r.name) for r in records]


def test_auto_generate_creates_the_missing_invoices_of_ended_periods_once(db, scheduled, accountant):
    now = dt.datetime(2026, 3, 9, 18, 0, tzinfo=UTC)  # March and March 9 have not ended
    first = invoices.auto_generate(db, accountant, now=now)
    assert periods(first.created) == [
        ("Monthly Co", "December 2025"), ("Monthly Co", "January 2026"), ("Monthly Co", "February 2026"),
        ("Weekly Co", "Week 1 2026"), ("Weekly Co", "Week 3 2026"), ("Weekly Co", "Week 9 2026"),
        ("Daily Co", "2025-12-31"), ("Daily Co", "2026-01-14"), ("Daily Co", "2026-02-27"),
    ]
    assert [r.number for r in first.created] == list(range(1, 10))
    assert {r.invoice_date for r in first.created} == {dt.date(2026, 3, 9)}
    assert first.sentence() == "created 9 invoices (1, 2, 3, 4, 5, 6, 7, 8, 9)"
    feb = first.created[2]
    assert (feb.net, feb.total, feb.lines[0].calls) == (Decimal(0), Decimal(0), 0)

    before = state(db)
    second = invoices.auto_generate(db, accountant, now=now)
    assert (second.created, second.skipped, second.sentence()) == ([], [], "no invoice was missing")
    assert state(db) == before

    later = invoices.auto_generate(db, accountant, scheduled["daily"], now=dt.datetime(2026, 4, 2, tzinfo=UTC))
    assert periods(later.created) == [("Daily Co", "2026-03-09")]
    assert later.created[0].number == 10


def test_auto_generate_until_a_day_and_for_one_customer(db, scheduled, accountant):
    result = invoices.auto_generate(db, accountant, scheduled["monthly"], until=dt.date(2026, 1, 31), now=NOW)
    assert periods(result.created) == [("Monthly Co", "December 2025"), ("Monthly Co", "January 2026")]
    result = invoices.auto_generate(db, accountant, scheduled["weekly"], until=dt.date(2026, 1, 10), now=NOW)
    assert periods(result.created) == [("Weekly Co", "Week 1 2026")]  # week 2 ends on Jan 12 00:00


def test_auto_generate_leaves_partly_invoiced_periods_alone(db, scheduled, accountant):
    monthly, daily = scheduled["monthly"], scheduled["daily"]
    (jan14,) = invoices.generate_for_periods(db, accountant, monthly, "daily", [day(14)], now=NOW)
    invoices.generate_for_periods(db, accountant, daily, "monthly", [JAN], now=NOW)
    result = invoices.auto_generate(db, accountant, now=dt.datetime(2026, 2, 5, tzinfo=UTC))
    assert ("Monthly Co", "January 2026") not in periods(result.created)
    assert ("Daily Co", "2026-01-14") not in periods(result.created)  # inside the monthly invoice: covered
    assert result.skipped == [
        f"Monthly Co: January 2026 is already invoiced in part: invoice {jan14.number} (2026-01-14) covers part "
        "of it; invoice the rest with shorter periods."]
    assert result.sentence().endswith("; 1 period(s) skipped")


def test_auto_generate_needs_the_accountant_role(db, scheduled, staff):
    before = state(db)
    with pytest.raises(PermissionDenied):
        invoices.auto_generate(db, staff, now=NOW)
    assert state(db) == before


# -- paid status ----------------------------------------------------------------------------
def seller_and_buyer(db, admin, customer_id: int) -> None:
    """What issuing needs: the seller's name, country and VAT ID, the buyer's country."""
    for key, value in (("company-name", "Example Carrier GmbH"), ("company-country", "DE"),
                       ("company-vat-id", "DE123456789")):
        options.set_value(db, admin, key, value)
    with unit_of_work(db, admin) as uow:
        uow.session.get(Customer, customer_id).country = "FR"


@pytest.fixture
def invoice(db, acme, admin, accountant) -> invoices.InvoiceRecord:
    """An issued invoice (payments are recorded on issued invoices only)."""
    from cxdesk.services import invoice_lifecycle

    insert(db, admin, [cdr("p", day(5), acme, 60, "3")])
    seller_and_buyer(db, admin, acme)
    draft = invoices.generate_for_periods(db, accountant, acme, "monthly", [JAN], now=NOW)[0]
    return invoice_lifecycle.issue_invoice(db, accountant, draft.id, draft.version)


def test_accountants_change_the_paid_status_audited(db, invoice, accountant):
    updated = invoices.set_paid_status(db, accountant, invoice.id, "paid", invoice.version, "bank 2026-02-03")
    assert (updated.paid_status, updated.version, updated.updated_by) == ("Paid", invoice.version + 1, "acc")
    with db.read_session() as s:
        entry = s.scalars(select(AuditEntry).order_by(AuditEntry.id.desc()).limit(1)).one()
        assert invoices.get_invoice(s, invoice.id).paid_status == "Paid"
    assert (entry.action, entry.table_name, entry.primary_key, entry.comment) == (
        "UPDATE", "invoices", str(invoice.id), "bank 2026-02-03")
    assert entry.message == "Changed the paid status of invoice 1 from Unpaid to Paid"
    assert (json.loads(entry.before)["paid_status"], json.loads(entry.after)["paid_status"]) == ("Unpaid", "Paid")

    count = state(db)
    assert invoices.set_paid_status(db, accountant, invoice.id, "Paid", updated.version).paid_status == "Paid"
    assert state(db) == count  # no change, no entry


@pytest.mark.parametrize("who, status, version, error, message", [
    ("accountant", "Settled", None, ValidationError,
     "'Settled' is not a paid status; choose one of: Unpaid, Pending, Part Paid, Paid."),
    ("accountant", "", None, ValidationError, "'' is not a paid status"),
    ("staff", "Paid", None, PermissionDenied, "Your role (staff) may not edit invoices"),
    ("accountant", "Pending", 0, ConflictError, "Invoice 1 was changed by acc at "),
])
def test_bad_paid_status_changes_change_nothing(db, invoice, request, who, status, version, error, message):
    before = state(db)
    with pytest.raises(error) as err:
        invoices.set_paid_status(db, request.getfixturevalue(who), invoice.id,
                                 status, invoice.version if version is None else version)
    assert str(err.value).startswith(message) and one_sentence(str(err.value))
    assert state(db) == before
    with db.read_session() as s:
        assert invoices.get_invoice(s, invoice.id).paid_status == "Unpaid"
    with pytest.raises(NotFound):
        invoices.set_paid_status(db, request.getfixturevalue("accountant"), 999, "Paid", 1)


# -- Excel ----------------------------------------------------------------------------------
def test_excel_export_reopens_with_the_invoice_figures(db, acme, admin, accountant, tmp_path):
    options.set_value(db, admin, "company-name", "=Example Carrier Ltd")
    options.set_value(db, admin, "company-address", "1 Exchange Street\nLondon")
    insert(db, admin, [cdr(f"x{i}", day(5) + dt.timedelta(hours=i), acme, 61, "0.333333") for i in range(3)]
           + [cdr("y", day(6), acme, 120, "1.005")])
    (inv,) = invoices.generate_for_periods(db, accountant, acme, "monthly", [JAN], now=NOW)
    with db.read_session() as s:
        issuer = invoices.company(s)
    path = tmp_path / "invoice.xlsx"
    invoices.export_invoice_xlsx(accountant, inv, issuer, path)

    ws = openpyxl.load_workbook(path).active
    cells = {row[0]: row[1:] for row in ws.iter_rows(values_only=True) if row[0] is not None}
    assert ws["A1"].value == "'=Example Carrier Ltd"  # defused, never a formula
    assert ws["A3"].value == "London"
    assert cells["Invoice"][0] == 1
    assert cells["Customer"][0] == "Acme Telecom"
    assert cells["Due date"][0].date() == inv.due_date
    lines = {k: v for k, v in cells.items() if str(k).startswith("Calls on")}
    assert [(v[2], v[5], v[6], v[7]) for v in lines.values()] == [
        (3, 1.00, 0.18, 1.18), (1, 1.00, 0.17, 1.17)]  # nets 0.999999 and 1.005 rounded so that they add up
    totals = {row[7]: row[8] for row in ws.iter_rows(values_only=True) if row[7] in ("Net", "Tax (17.5 %)", "Total EUR")}
    assert totals == {"Net": float(inv.net_shown), "Tax (17.5 %)": float(inv.tax_shown), "Total EUR": float(inv.total)}
    # VAT = round(2.00 x 17.5 %) = 0.35 (BR-CO-17), no longer round(2.004999 x 1.175) - 2.00 = 0.36
    assert (inv.net_shown, inv.tax_shown, inv.total) == (Decimal("2.00"), Decimal("0.35"), Decimal("2.35"))
    assert ws.cell(ws.max_row, 9).number_format == '#,##0.00 "EUR"'


def test_excel_export_needs_the_export_role_and_an_xlsx_name(db, invoice, staff, accountant, tmp_path):
    issuer = invoices.Company("", "")
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(PermissionDenied):
        invoices.export_invoice_xlsx(staff, invoice, issuer, out / "a.xlsx")
    with pytest.raises(ValidationError, match="'a.csv': the name must end in .xlsx"):
        invoices.export_invoice_xlsx(accountant, invoice, issuer, out / "a.csv")
    assert list(out.iterdir()) == []


def test_the_printed_layout_escapes_what_users_typed(db, make_customer, admin, accountant):
    from cxdesk.services.invoice_html import invoice_html

    cid = make_customer(db, "<b>Evil</b> & Co")
    options.set_value(db, admin, "invoice-line-grouping", "destination")
    insert(db, admin, [cdr("e", day(5), cid, 60, "1", ("99", "<i>Nowhere</i>"))])
    (inv,) = invoices.generate_for_periods(db, accountant, cid, "daily", [day(5)], now=NOW)
    html = invoice_html(inv, invoices.Company("A & B", "1 <Street>\nTown"))
    assert "&lt;b&gt;Evil&lt;/b&gt; &amp; Co" in html and "<b>Evil</b>" not in html
    assert "A &amp; B" in html and "1 &lt;Street&gt;<br>Town" in html
    assert "<td>&lt;i&gt;Nowhere&lt;/i&gt; (99)</td>" in html
    assert "Total due</b></td><td align=\"right\" bgcolor=\"#e4eaf0\"><b>1.00 EUR</b>" in html


# -- rounding helpers ------------------------------------------------------------------------
def test_allocate_rounds_so_that_the_parts_add_up():
    rng = random.Random(11)
    step = Decimal("0.01")
    for _ in range(500):
        amounts = [Decimal(rng.randrange(-10**7, 10**8)).scaleb(-6) for _ in range(rng.randrange(1, 40))]
        target = sum(amounts).quantize(step, ROUND_HALF_UP)
        parts = invoices.allocate(amounts, target, step)
        assert sum(parts) == target
        assert all(abs(p - a) < step and p % step == 0 for p, a in zip(parts, amounts))
    assert invoices.allocate([Decimal("0.005"), Decimal("0.005")], Decimal("0.01"), step) == [Decimal("0.01"), Decimal("0.00")]
    assert invoices.allocate([], Decimal(0), step) == []


def test_minor_units():
    assert [invoices.minor_units(c) for c in ("EUR", "usd", "JPY", "KWD", "XYZ")] == [2, 2, 0, 3, 2]
    assert invoices.round_money(Decimal("-2.125"), "EUR") == Decimal("-2.13")
    assert invoices.format_amount(Decimal("1234567.5"), "JPY") == "1,234,568 JPY"


def test_customer_fields_are_read_at_generation(db, acme, admin, accountant):
    insert(db, admin, [cdr("t", day(5), acme, 60, "10")])
    with unit_of_work(db, admin) as uow:
        uow.session.get(Customer, acme).tax_percent = Decimal("0")
    (inv,) = invoices.generate_for_periods(db, accountant, acme, "daily", [day(5)], now=NOW,
                                           invoice_date=dt.date(2026, 3, 1))
    assert (inv.tax, inv.total, inv.due_date) == (Decimal(0), Decimal("10.00"), dt.date(2026, 3, 15))
