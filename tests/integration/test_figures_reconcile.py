"""Figures that agree everywhere (issue 14), on demo data in EUR, JPY and KWD.

* the daily, weekly and monthly totals of the same dates are equal, exactly, and equal
  the CDRs' own sums;
* a period's invoice equals its Summary row (charge, and with tax the total) to the
  minor unit, and the Summary then marks that period with the invoice's number;
* every cell reads the same in the grid (``Table.texts`` with grouping), the clipboard
  (TSV and, pasted into LibreOffice, HTML), CSV and XLSX (values read back with
  python-calamine, and as LibreOffice Calc shows them, converted headless).

LibreOffice (``soffice``) is installed by scripts/install-os-deps.sh; without it the
LibreOffice checks skip locally and fail under CI=true (tests/conftest.py).
"""
from __future__ import annotations

import csv
import datetime as dt
import shutil
import subprocess
from decimal import Decimal
from pathlib import Path

import pytest
from python_calamine import CalamineWorkbook
from sqlalchemy import func, select, update

from cxdesk.models import Cdr, Customer
from cxdesk.services import invoices, rollup
from cxdesk.services.clipboard import copy_text
from cxdesk.services.demo import load_demo
from cxdesk.services.figures import format_decimal, minor_units, round_half_up
from cxdesk.services.uow import unit_of_work
from cxdesk.services.summary import export_summary, summary_table, summary_view, total_cells, total_texts

UTC = dt.timezone.utc
END = dt.datetime(2026, 3, 1, tzinfo=UTC)  # demo calls over the 60 days before
FIRST, LAST = dt.date(2026, 1, 3), dt.date(2026, 2, 27)  # cuts a week and both months
CURRENCIES = ("EUR", "JPY", "KWD")


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """Three demo customers switched to EUR, JPY and KWD (their CDRs stay as generated)."""
    from cxdesk.db import open_database
    from cxdesk.services.actor import Actor

    path = tmp_path_factory.mktemp("figures") / "cxdesk.db"
    db = open_database(f"sqlite:///{path}")
    admin = Actor(login="alice", role="admin", display_name="Alice Admin", ip="10.0.0.5")
    load_demo(db, admin, customers=3, days=60, end=END, calls_per_day=60, seed=14)
    rollup.run(db)
    with db.read_session() as s:
        ids = list(s.scalars(select(Customer.id).order_by(Customer.id)))
    with unit_of_work(db, admin, "test set-up: the demo knows USD, EUR and GBP") as uow:
        for cid, currency in zip(ids, CURRENCIES):
            uow.bulk_execute(update(Customer).where(Customer.id == cid).values(currency=currency),
                             f"currency {currency} for the figures test", table="customers")
    yield db, admin, dict(zip(CURRENCIES, ids))
    db.close()


def _view(db, cid, period, first=FIRST, last=LAST):
    with db.read_session() as s:
        return summary_view(s, cid, period, first, last, now=END)


@pytest.mark.parametrize("currency", CURRENCIES)
def test_daily_weekly_monthly_totals_agree_exactly(demo, currency):
    db, _admin, ids = demo
    cid = ids[currency]
    views = {p: _view(db, cid, p) for p in ("daily", "weekly", "monthly")}
    totals = {p: total_cells(rows, summary_table(rows, currency, p)) for p, rows in views.items()}
    # the weekly table has its Week column: compare the figures by column key
    keyed = {p: dict(zip([c.key for c in summary_table(rows, currency, p).columns], totals[p]))
             for p, rows in views.items()}
    figures = ("attempts", "connected", "duration", "billed_duration", "customer_charge", "vendor_cost", "profit")
    assert [keyed["daily"][k] for k in figures] == [keyed["weekly"][k] for k in figures] \
        == [keyed["monthly"][k] for k in figures]
    with db.read_session() as s:
        start = dt.datetime.combine(FIRST, dt.time(), UTC)
        end = dt.datetime.combine(LAST + dt.timedelta(days=1), dt.time(), UTC)
        charge = s.scalar(select(func.sum(Cdr.customer_charge)).where(
            Cdr.customer_id == cid, Cdr.dt >= start, Cdr.dt < end))
    assert keyed["daily"]["customer_charge"] == Decimal(charge)
    # first and last weeks and both months are cut by the dates: marked partial
    assert views["weekly"][0].partial and views["weekly"][-1].partial
    assert [r.partial for r in views["monthly"]] == [True, True]
    assert not any(r.partial for r in views["daily"])
    # the shown totals are the exact totals rounded once, in the currency's minor unit
    daily_table = summary_table(views["daily"], currency, "daily")
    shown = dict(zip([c.key for c in daily_table.columns], total_texts(views["daily"], daily_table)))
    assert shown["customer_charge"] == format_decimal(Decimal(charge), minor_units(currency))


def test_24_hours_shows_every_hour(demo):
    db, _admin, ids = demo
    with db.read_session() as s:
        rows = summary_view(s, ids["EUR"], "24h", None, LAST, now=END)
    assert len(rows) == 24
    assert [r.period_start.hour for r in rows] == list(range(24))


@pytest.mark.parametrize("currency", ["EUR", "JPY", "KWD"])
def test_invoice_equals_its_summary_row(demo, currency):
    """A period's invoice net is its Summary row's charge rounded once. EN 16931 allows at
    most 2 decimals on an invoice amount (BR-DEC), so a KWD invoice states fils to 0.01 KWD:
    its net is the charge rounded once to 2 decimals (the README says so)."""
    db, admin, ids = demo
    cid = ids[currency]
    january = dt.datetime(2026, 1, 1, tzinfo=UTC)
    with db.read_session() as s:
        existing = invoices.list_invoices(s, cid)
    if not existing:
        invoices.generate_for_periods(db, admin, cid, "monthly", [january], now=END)
    (row,) = [r for r in _view(db, cid, "monthly", dt.date(2026, 1, 1), dt.date(2026, 1, 31))]
    with db.read_session() as s:
        (listed,) = invoices.list_invoices(s, cid)
        record = invoices.get_invoice(s, listed.id)
        tax_percent = s.scalar(select(Customer.tax_percent).where(Customer.id == cid))
    assert row.invoices == (record.number,)  # the grid marks the period with the number
    places = minor_units(currency)
    invoice_places = min(places, 2)
    table = summary_table([row], currency, "monthly")
    shown_charge = table.texts(table.index("customer_charge"), 0, 1)[0]
    net = round_half_up(row.customer_charge, invoice_places)
    assert record.net_shown == net
    if places <= 2:  # the same figure the grid shows
        assert format_decimal(record.net_shown, places, grouping=False) == shown_charge
    else:
        assert abs(Decimal(shown_charge) - record.net_shown) <= Decimal("0.005")
    # EN 16931: tax = round(net x rate), total = net + tax (so both are sums of rounded parts)
    assert record.total == net + round_half_up(net * tax_percent / 100, invoice_places)


def test_figures_policy_has_the_invoices_minor_units():
    assert [minor_units(c) for c in CURRENCIES] == [invoices.minor_units(c) for c in CURRENCIES] == [2, 0, 3]
    assert minor_units("CLF") == invoices.minor_units("CLF") == 4  # one ISO list for both


# -- every cell, everywhere ------------------------------------------------------------
def _soffice() -> str:
    found = shutil.which("soffice") or shutil.which("libreoffice")
    if not found:
        pytest.skip("LibreOffice (soffice) is not installed; scripts/install-os-deps.sh installs it")
    return found


def _as_shown_csv(source: Path, out_dir: Path, infilter: str | None = None) -> list[list[str]]:
    """The cells as LibreOffice Calc shows them (CSV export with "as shown")."""
    profile = out_dir / "lo-profile"
    command = [_soffice(), f"-env:UserInstallation={profile.as_uri()}", "--headless"]
    if infilter:
        command.append(f"--infilter={infilter}")
    command += ["--convert-to", "csv:Text - txt - csv (StarCalc):44,34,76,1,,0,false,true,true",
                "--outdir", str(out_dir), str(source)]
    subprocess.run(command, check=True, capture_output=True, timeout=180)
    with open(out_dir / (source.stem + ".csv"), encoding="utf-8", newline="") as fh:
        return list(csv.reader(fh))


def _xlsx_shown(column, grid_text: str) -> str:
    """What a cell of the workbook shows, from the grid's text: money with its code,
    percentages with a % sign (the cell holds the fraction)."""
    if not grid_text:
        return ""
    if column.kind == "money":
        return f"{grid_text} {column.unit}"
    if column.kind == "percent":
        return grid_text + "%"
    return grid_text


@pytest.fixture(scope="module")
def tables(demo):
    db, _admin, ids = demo
    out = {}
    for currency in CURRENCIES:
        for period in ("daily", "weekly"):
            rows = _view(db, ids[currency], period)
            out[currency, period] = rows, summary_table(rows, currency, period)
    return out


def _grid(table, grouping: bool) -> list[list[str]]:
    columns = [table.texts(c, 0, table.row_count, grouping=grouping) for c in range(table.column_count)]
    return [list(r) for r in zip(*columns)]


@pytest.mark.parametrize("currency", CURRENCIES)
@pytest.mark.parametrize("period", ["daily", "weekly"])
def test_clipboard_csv_and_xlsx_values_read_as_the_grid(tables, tmp_path, currency, period, accountant):
    rows, table = tables[currency, period]
    plain = _grid(table, grouping=False)
    # clipboard TSV
    tsv, _html = copy_text(table, [(0, 0, table.row_count - 1, table.column_count - 1)], "headers")
    lines = [line.split("\t") for line in tsv.split("\r\n")[:-1]]
    assert lines[0] == [c.title for c in table.columns]
    assert lines[1:] == plain
    # CSV
    export_summary(accountant, rows, tmp_path / "s.csv", currency=currency, period=period)
    with open(tmp_path / "s.csv", encoding="utf-8-sig", newline="") as fh:
        assert list(csv.reader(fh)) == [[c.title for c in table.columns], *plain]
    # XLSX read back by a reader that does not calculate (python-calamine)
    export_summary(accountant, rows, tmp_path / "s.xlsx", currency=currency, period=period, title="T")
    sheet = CalamineWorkbook.from_path(str(tmp_path / "s.xlsx")).get_sheet_by_index(0).to_python()
    header = 2  # title, group headers, headers
    assert sheet[header] == [c.title for c in table.columns]
    for r, grid_row in enumerate(plain):
        for c, column in enumerate(table.columns):
            value = sheet[header + 1 + r][c]
            if column.numeric and value != "":
                shift = 2 if column.kind == "percent" else 0
                text = format_decimal(Decimal(repr(value)).scaleb(shift), column.decimals, grouping=False)
                assert text == grid_row[c], (r, column.key)
    totals = sheet[header + 1 + len(plain)]
    want = total_cells(rows, table)
    assert totals[0] == "Total"
    for c, column in enumerate(table.columns):
        if column.additive:  # a stored value every reader sees, rounded like the grid
            assert format_decimal(Decimal(repr(totals[c])), column.decimals) == \
                format_decimal(want[c], column.decimals), column.key


@pytest.mark.parametrize("currency", CURRENCIES)
def test_libreoffice_shows_the_grid_figures(tables, tmp_path, currency, accountant):
    """The XLSX opened in LibreOffice Calc shows the grid's text in every cell."""
    rows, table = tables[currency, "weekly"]
    grid = _grid(table, grouping=True)
    export_summary(accountant, rows, tmp_path / "w.xlsx", currency=currency, period="weekly")
    shown = _as_shown_csv(tmp_path / "w.xlsx", tmp_path)
    assert shown[1] == [c.title for c in table.columns]
    for r, grid_row in enumerate(grid):
        assert shown[2 + r] == [_xlsx_shown(col, text) for col, text in zip(table.columns, grid_row)], r
    expected_totals = [t if i == 0 or not col.additive else _xlsx_shown(col, t)
                       for i, (col, t) in enumerate(zip(table.columns, total_texts(rows, table)))]
    assert shown[2 + len(grid)] == expected_totals


@pytest.mark.parametrize("currency", [
    "EUR", "JPY",
    pytest.param("KWD", marks=pytest.mark.xfail(strict=True, reason=(
        "LibreOffice's HTML import keeps a cell's sdnum format only when it is one of its built-in "
        "formats (0.00, #,##0.00 ...; not 0.000 nor 0.0), so 10.560 shows as 10.56; the value is right. "
        "Strict: this test starts passing, and fails, the day LibreOffice keeps it"))),
])
def test_pasted_html_shows_the_grid_figures_in_libreoffice(tables, tmp_path, currency):
    rows, table = tables[currency, "weekly"]
    grid = _grid(table, grouping=True)
    _tsv, html = copy_text(table, [(0, 0, table.row_count - 1, table.column_count - 1)], "headers")
    page = tmp_path / "clip.html"
    page.write_text(f'<html><head><meta charset="utf-8"></head><body>{html}</body></html>', encoding="utf-8")
    pasted = _as_shown_csv(page, tmp_path, infilter="HTML (StarCalc)")
    assert pasted[0] == [c.title for c in table.columns]
    assert pasted[1:] == grid
