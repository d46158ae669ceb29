"""Customers: create, edit (currency fixed, optimistic locking), balance adjustments, the
list, and the Main tab header (channels in use and the 24-hour peak from CDRs)."""
from __future__ import annotations

import dataclasses
import datetime as dt
import json
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from cxdesk.errors import ConflictError, NotFound, PermissionDenied, ValidationError
from cxdesk.models import AuditEntry, Cdr, Customer
from cxdesk.services import customers
from cxdesk.services.actor import Actor
from cxdesk.services.customers import CustomerForm
from cxdesk.services.uow import unit_of_work

NOW = dt.datetime(2026, 3, 10, 12, 0, tzinfo=dt.timezone.utc)


def snapshot(db):
    with db.read_session() as s:
        rows = s.execute(select(Customer.id, Customer.name, Customer.status, Customer.currency, Customer.credit,
                                Customer.debit_limit, Customer.channels, Customer.flow_speed, Customer.tax_percent,
                                Customer.invoice_schedule, Customer.invoice_due_days, Customer.portal_access,
                                Customer.tags, Customer.version, Customer.address_lines, Customer.city,
                                Customer.post_code, Customer.country, Customer.vat_id, Customer.buyer_reference,
                                Customer.vat_category, Customer.vat_exemption_reason,
                                Customer.vat_exemption_code).order_by(Customer.id)).all()
        return rows, s.scalar(select(func.count()).select_from(AuditEntry))


def entries(db, table="customers"):
    with db.read_session() as s:
        return s.scalars(select(AuditEntry).where(AuditEntry.table_name == table).order_by(AuditEntry.id)).all()


def test_create_normalises_and_audits(db, staff):
    rec = customers.create_customer(db, staff, CustomerForm(
        name="  Acme   Telecom ", currency="eur", status="pending approval", debit_limit="1,250.50",
        channels="30", flow_speed=10, tax_percent="19.5", invoice_schedule="weekly", invoice_due_days="14",
        portal_access=False, tags="vip, wholesale,VIP,  eu "))
    assert (rec.name, rec.currency, rec.status, rec.debit_limit, rec.channels, rec.flow_speed) == \
        ("Acme Telecom", "EUR", "Pending Approval", Decimal("1250.50"), 30, 10)
    assert (rec.tax_percent, rec.invoice_schedule, rec.invoice_due_days, rec.portal_access, rec.tags) == \
        (Decimal("19.5"), "Weekly", 14, False, "vip,wholesale,eu")
    assert rec.balance == 0 and rec.version == 1 and rec.updated_by == "sam"
    [entry] = entries(db)
    assert (entry.actor, entry.action, entry.primary_key) == ("sam", "CREATE", str(rec.id))
    assert json.loads(entry.after)["debit_limit"] == "1250.5"


MALFORMED = [
    (dict(name="   "), "name", "Type the customer's name"),
    (dict(name="x" * 201), "name", "too long"),
    (dict(currency="EURO"), "currency", "not an ISO 4217 currency code"),
    (dict(currency="€"), "currency", "not an ISO 4217 currency code"),
    (dict(currency="XYZ"), "currency", "'XYZ' is not an ISO 4217 currency code; use one such as EUR"),
    (dict(currency="XAU"), "currency", "'XAU' is not an ISO 4217 currency code"),  # gold: no minor unit
    (dict(country="Germany"), "country", "'Germany' is not a country code; type the two-letter ISO 3166 code"),
    (dict(country="ZZ"), "country", "not a country code"),
    (dict(vat_id="123456789"), "vat_id", "is not a VAT identifier; it starts with the country code"),
    (dict(vat_id="QQ123456789"), "vat_id", "is not a VAT identifier"),
    (dict(address_lines="1\n2\n3\n4"), "address_lines", "The address has 4 lines; an invoice holds at most 3"),
    (dict(buyer_reference="r" * 201), "buyer_reference", "The buyer reference is too long"),
    (dict(vat_category="X"), "vat_category", "'X' is not a VAT category; choose one of: S, Z, E, AE, K, O."),
    (dict(vat_category="S", tax_percent="0"), "tax_percent", "A standard-rated customer needs a tax rate above 0 %"),
    (dict(vat_category="AE", tax_percent="20"), "tax_percent", "Customers with VAT category AE (Reverse charge)"),
    (dict(vat_category="E", tax_percent="0"), "vat_exemption_reason", "Exempt invoices must say why"),
    (dict(vat_category="Z", vat_exemption_reason="because"), "vat_exemption_reason", "carry no exemption reason"),
    (dict(vat_category="E", vat_exemption_code="EXEMPT"), "vat_exemption_code", "'EXEMPT' is not a VATEX code"),
    (dict(status="Closed"), "status", "is not one of: Active, Inactive, Penalty, Pending Approval"),
    (dict(debit_limit="12,50"), "debit_limit", "is not an amount"),
    (dict(debit_limit="1e3"), "debit_limit", "is not an amount"),
    (dict(debit_limit="1000000000000"), "debit_limit", "too large"),
    (dict(debit_limit="0.0000001"), "debit_limit", "more than 6 decimal places"),
    (dict(channels="-1"), "channels", "between 0 and 100,000"),
    (dict(channels="ten"), "channels", "not a whole number"),
    (dict(flow_speed="2.5"), "flow_speed", "not a whole number"),
    (dict(tax_percent="101"), "tax_percent", "between 0 and 100 percent"),
    (dict(invoice_schedule="Yearly"), "invoice_schedule", "Daily, Weekly, Monthly"),
    (dict(invoice_due_days="400"), "invoice_due_days", "between 0 and 365"),
    (dict(portal_access="yes"), "portal_access", "on or off"),
    (dict(tags="x" * 41), "tags", "too long"),
]


@pytest.mark.parametrize("change,field,words", MALFORMED, ids=[f"{m[1]}-{i}" for i, m in enumerate(MALFORMED)])
def test_malformed_input_is_refused_and_changes_nothing(db, staff, make_customer, change, field, words):
    cid = make_customer(db, "Acme")
    before = snapshot(db)
    with pytest.raises(ValidationError) as e:
        customers.create_customer(db, staff, dataclasses.replace(CustomerForm(name="Beta", currency="EUR"), **change))
    assert e.value.field == field and words in str(e.value)
    with db.read_session() as s:
        rec = customers.get_customer(s, cid)
    with pytest.raises(ValidationError):
        customers.update_customer(db, staff, cid, rec.version, dataclasses.replace(rec.form(), **change))
    assert snapshot(db) == before


def test_buyer_and_vat_data_are_normalised_and_audited(db, staff):
    rec = customers.create_customer(db, staff, CustomerForm(
        name="Dupont SA", currency="eur", tax_percent="0", country=" fr", vat_id="fr 12.345-678901",
        address_lines=" 1 rue  de la Paix \n\n Bat. B ", city=" Paris ", post_code="75002", buyer_reference="PO-77",
        vat_category="ae"))
    assert (rec.country, rec.vat_id, rec.address_lines, rec.city, rec.post_code, rec.buyer_reference) == \
        ("FR", "FR12345678901", "1 rue de la Paix\nBat. B", "Paris", "75002", "PO-77")
    # reverse charge gets its reason and VATEX code when none is typed (BR-AE-10)
    assert (rec.vat_category, rec.vat_exemption_reason, rec.vat_exemption_code) == \
        ("AE", "Reverse charge", "VATEX-EU-AE")
    after = json.loads(entries(db)[-1].after)
    assert (after["vat_id"], after["vat_category"], after["country"]) == ("FR12345678901", "AE", "FR")
    # no category typed: standard rate above 0 %, else zero rated
    assert customers.create_customer(db, staff, CustomerForm(name="S Co", currency="GBP", tax_percent="20")
                                     ).vat_category == "S"
    assert customers.create_customer(db, staff, CustomerForm(name="Z Co", currency="JPY")).vat_category == "Z"
    exempt = customers.create_customer(db, staff, CustomerForm(
        name="E Co", currency="KWD", vat_category="E", vat_exemption_reason="Article 132 (1)(i) of Directive 2006/112/EC",
        vat_exemption_code="vatex-eu-132"))
    assert (exempt.vat_exemption_reason, exempt.vat_exemption_code) == \
        ("Article 132 (1)(i) of Directive 2006/112/EC", "VATEX-EU-132")


def test_float_money_is_a_programming_error(db, staff):
    with pytest.raises(TypeError):
        customers.create_customer(db, staff, CustomerForm(name="Acme", debit_limit=1.5))


def test_names_are_unique_regardless_of_case(db, staff, make_customer):
    make_customer(db, "Acme Telecom")
    beta = make_customer(db, "Beta")
    before = snapshot(db)
    with pytest.raises(ConflictError, match="already a customer named 'Acme Telecom'"):
        customers.create_customer(db, staff, CustomerForm(name="ACME telecom", currency="EUR"))
    with db.read_session() as s:
        rec = customers.get_customer(s, beta)
    with pytest.raises(ConflictError, match="choose another name"):
        customers.update_customer(db, staff, beta, rec.version, dataclasses.replace(rec.form(), name="acme TELECOM"))
    assert snapshot(db) == before


def test_update_saves_changes_and_the_currency_stays_fixed(db, staff, make_customer):
    cid = make_customer(db, "Acme")
    with db.read_session() as s:
        rec = customers.get_customer(s, cid)
    new = customers.update_customer(db, staff, cid, rec.version,
                                    dataclasses.replace(rec.form(), channels="50", status="Penalty"))
    assert (new.channels, new.status, new.version) == (50, "Penalty", rec.version + 1)
    assert entries(db)[-1].message == f"Updated customer {cid} (Acme): channels, status"
    before = snapshot(db)
    with pytest.raises(ValidationError, match=r"currency is fixed once the account exists \(EUR\)") as e:
        customers.update_customer(db, staff, cid, new.version, dataclasses.replace(new.form(), currency="USD"))
    assert e.value.field == "currency"
    assert snapshot(db) == before
    # the same currency in other case is no change
    customers.update_customer(db, staff, cid, new.version, dataclasses.replace(new.form(), currency="eur"))
    assert snapshot(db) == before


def test_second_workstation_saving_a_stale_form_is_told_who_changed_it(db, staff, admin, make_customer):
    cid = make_customer(db, "Acme")
    with db.read_session() as s:
        mine = customers.get_customer(s, cid)
        theirs = customers.get_customer(s, cid)
    saved = customers.update_customer(db, staff, cid, theirs.version, dataclasses.replace(theirs.form(), channels=5))
    before = snapshot(db)
    with pytest.raises(ConflictError) as e:
        customers.update_customer(db, admin, cid, mine.version, dataclasses.replace(mine.form(), channels=9))
    stamp = saved.updated_at.strftime("%Y-%m-%d %H:%M UTC")
    assert str(e.value) == (f"Customer Acme was changed by sam at {stamp} after you opened it; "
                            "reload it and apply your change again.")
    assert snapshot(db) == before


def test_update_of_a_deleted_customer(db, staff):
    with pytest.raises(NotFound, match="deleted meanwhile"):
        customers.update_customer(db, staff, 999, 1, CustomerForm(name="Ghost"))


def test_adjust_balance_is_exact_and_audited_with_the_reason(db, staff, make_customer):
    cid = make_customer(db, "Acme", credit=Decimal("100.00"))
    assert customers.adjust_balance(db, staff, cid, "25.10", "Payment received, bank ref 4471") == Decimal("125.10")
    assert customers.adjust_balance(db, staff, cid, Decimal("-0.20"), "Rounding") == Decimal("124.90")
    with db.read_session() as s:
        assert customers.get_customer(s, cid).balance == Decimal("124.90")
    first, second = entries(db)[-2:]
    assert first.message == ("Adjusted the balance of customer %d (Acme) by +25.10 EUR from 100.00 to 125.10: "
                             "Payment received, bank ref 4471" % cid)
    assert first.comment == "Payment received, bank ref 4471"
    assert (first.actor, json.loads(first.before)["credit"], json.loads(first.after)["credit"]) == \
        ("sam", "100", "125.1")
    assert "by -0.20 EUR from 125.10 to 124.90: Rounding" in second.message


@pytest.mark.parametrize("amount,reason,field,words", [
    ("0", "x", "amount", "The amount is zero"),
    ("abc", "x", "amount", "is not an amount"),
    ("", "x", "amount", "is not an amount"),
    ("10", "   ", "reason", "Type the reason"),
    ("10", "r" * 501, "reason", "too long"),
    ("999999999999", "x", "amount", "out of range"),
])
def test_adjust_balance_refuses_bad_input(db, staff, make_customer, amount, reason, field, words):
    cid = make_customer(db, "Acme", credit=Decimal("100.00"))
    before = snapshot(db)
    with pytest.raises(ValidationError) as e:
        customers.adjust_balance(db, staff, cid, amount, reason)
    assert e.value.field == field and words in str(e.value)
    assert snapshot(db) == before


def test_roles(db, make_customer):
    cid = make_customer(db, "Acme")
    nobody = Actor(login="guest", role="viewer")
    with pytest.raises(PermissionDenied):
        customers.create_customer(db, nobody, CustomerForm(name="X"))
    with pytest.raises(PermissionDenied):
        customers.adjust_balance(db, nobody, cid, "1", "x")


def test_list_search_and_status_filter(db, make_customer):
    a = make_customer(db, "Acme Telecom", status="Active", credit=Decimal("5"))
    b = make_customer(db, "beta voice", status="Penalty")
    c = make_customer(db, "Gamma 100%_Net", status="Inactive")
    with db.read_session() as s:
        assert [r.name for r in customers.list_customers(s)] == ["Acme Telecom", "beta voice", "Gamma 100%_Net"]
        assert [r.id for r in customers.list_customers(s, "TELECOM")] == [a]
        assert [r.id for r in customers.list_customers(s, "%_")] == [c]  # wildcards are literal
        assert [r.id for r in customers.list_customers(s, "", "penalty")] == [b]
        assert [r.id for r in customers.list_customers(s, str(b))] == [b]
        row = customers.list_customers(s, "acme")[0]
        assert (row.status, row.currency, row.balance) == ("Active", "EUR", Decimal("5"))
        with pytest.raises(ValidationError):
            customers.list_customers(s, "", "Gone")


# ---------------------------------------------------------------------------
# the Main tab header
# ---------------------------------------------------------------------------


def at(minutes: float) -> dt.datetime:
    return NOW + dt.timedelta(minutes=minutes)


def test_channel_usage_sweep():
    calls = [(at(-10), 600), (at(-5), 900), (at(-5), 60), (at(-1), 0)]
    # -10..0, -5..10, -5..-4: three at -5; two at now (the first ends exactly now: not in use)
    assert customers.channel_usage(calls, NOW) == (1, 3, at(-5))
    # a call ending when another starts does not overlap it
    assert customers.channel_usage([(at(-20), 600), (at(-10), 600)], NOW)[1] == 1
    # calls before the window are cut at its start; calls after now are ignored
    old = [(at(-24 * 60 - 30), 3600), (at(-24 * 60 - 10), 3600), (at(1), 60)]
    assert customers.channel_usage(old, NOW) == (0, 2, at(-24 * 60))
    assert customers.channel_usage([], NOW) == (0, 0, None)


def add_cdrs(db, actor, customer_id, calls):
    with unit_of_work(db, actor) as uow:
        uow.bulk_insert(Cdr, [dict(callid=f"c{i}", dt=start, customer_id=customer_id, duration=seconds)
                              for i, (start, seconds) in enumerate(calls)], "test calls")


def test_header_figures(db, admin, make_customer):
    cid = make_customer(db, "Acme", credit=Decimal("-20.50"), debit_limit=Decimal("100"), channels=30,
                        status="Penalty", currency="GBP")
    other = make_customer(db, "Beta")
    calls = [(at(-60), 7200), (at(-30), 120), (at(-29), 120), (at(-28.5), 600), (at(-5), 600),
             (at(-25 * 60), 1800),  # ended before the window
             (at(-24 * 60 - 30), 3600),  # started before the window, ended inside it
             (at(-3), 0)]  # not connected
    add_cdrs(db, admin, cid, calls)
    with unit_of_work(db, admin) as uow:
        uow.bulk_insert(Cdr, [dict(callid=f"o{i}", dt=at(-2), customer_id=other, duration=600) for i in range(9)],
                        "other customer")
    with db.read_session() as s:
        h = customers.header_figures(s, cid, NOW)
        assert (h.status, h.balance, h.debit_limit, h.available, h.currency) == \
            ("Penalty", Decimal("-20.50"), Decimal("100"), Decimal("79.50"), "GBP")
        assert (h.channels_in_use, h.channels_limit, h.peak_24h, h.peak_at) == (2, 30, 4, at(-28.5))
        assert customers.header_figures(s, other, NOW).channels_in_use == 9
        with pytest.raises(NotFound):
            customers.header_figures(s, 999, NOW)


def test_cli_add_list_adjust_show(sqlite_db, run_cli):
    url = sqlite_db.url.render_as_string(hide_password=False)
    added = run_cli("customer", "add", "Acme Telecom", "--currency", "eur", "--debit-limit", "1,000",
                    "--channels", "30", db_url=url)
    assert added.returncode == 0, added.stderr
    assert added.stdout.strip() == "added customer 1 (Acme Telecom, EUR)"
    for code in ("XX", "XYZ"):
        bad = run_cli("customer", "add", "Beta", "--currency", code, db_url=url)
        assert (bad.returncode, bad.stderr.strip()) == \
            (1, f"cxdesk: '{code}' is not an ISO 4217 currency code; use one such as EUR, USD, GBP or JPY.")
    adjusted = run_cli("--comment", "bank transfer", "customer", "adjust", "Acme Telecom", "25.50",
                       "--reason", "payment", db_url=url)
    assert adjusted.stdout.strip() == "balance of Acme Telecom is now 25.50 EUR", adjusted.stderr
    listed = run_cli("customer", "list", "--search", "acme", db_url=url)
    assert listed.stdout.splitlines()[1].split() == ["1", "Acme", "Telecom", "Active", "EUR", "25.50"]
    shown = run_cli("customer", "show", "1", db_url=url).stdout
    assert "available    1,025.50 EUR" in shown and "channels     0 in use of 30" in shown
    [entry] = [e for e in entries(sqlite_db) if e.action == "UPDATE"]
    assert (entry.actor.startswith("cli:"), entry.comment) == (True, "bank transfer")
    dupont = run_cli("customer", "add", "Dupont SA", "--currency", "EUR", "--tax", "0", "--country", "fr",
                     "--vat-id", "FR 12345678901", "--vat-category", "ae", "--address", "1 rue de la Paix|Bat. B",
                     db_url=url)
    assert dupont.stdout.strip() == "added customer 2 (Dupont SA, EUR)", dupont.stderr
    with sqlite_db.read_session() as s:
        rec = customers.get_customer(s, 2)
    assert (rec.country, rec.vat_id, rec.vat_category, rec.vat_exemption_reason, rec.address_lines) == (
        "FR", "FR12345678901", "AE", "Reverse charge", "1 rue de la Paix\nBat. B")


def test_the_cli_shows_money_at_the_currencys_minor_unit(sqlite_db, run_cli):
    url = sqlite_db.url.render_as_string(hide_password=False)
    for name, code in (("Nippon Telecom", "JPY"), ("Gulf Telecom", "KWD")):
        assert run_cli("customer", "add", name, "--currency", code, db_url=url).returncode == 0
    yen = run_cli("customer", "adjust", "Nippon Telecom", "1250", "--reason", "payment", db_url=url)
    assert yen.stdout.strip() == "balance of Nippon Telecom is now 1,250 JPY", yen.stderr
    fils = run_cli("customer", "adjust", "Gulf Telecom", "3.5", "--reason", "payment", db_url=url)
    assert fils.stdout.strip() == "balance of Gulf Telecom is now 3.500 KWD", fils.stderr
    lines = run_cli("customer", "list", db_url=url).stdout.splitlines()[1:]
    listed = {line.split()[-2]: line.split()[-1] for line in lines}
    assert listed == {"JPY": "1,250", "KWD": "3.500"}
    assert "balance      1,250 JPY" in run_cli("customer", "show", "Nippon Telecom", db_url=url).stdout
