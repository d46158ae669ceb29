"""Settings > Company and the customer dialog's billing fields, driven as a user would: a
malformed value is named in one sentence, the form keeps what was typed and nothing is
saved; valid values are stored normalised and audited (issue 16, point 1)."""
from __future__ import annotations

from decimal import Decimal

from sqlalchemy import func, select

from cxdesk.models import AuditEntry, Customer, Option
from cxdesk.ui.customers.customer_dialog import CustomerDialog
from cxdesk.ui.settings.settings_dialog import SettingsDialog


def stored(db) -> tuple:
    with db.read_session() as s:
        return (dict(s.execute(select(Option.key, Option.value)).all()),
                [tuple(r) for r in s.execute(select(*Customer.__table__.c).order_by(Customer.id))],
                s.scalar(select(func.count()).select_from(AuditEntry)))


def test_settings_company_page_validates_and_saves_in_one_go(make_ctx, sqlite_db, admin, qtbot):
    dialog = SettingsDialog(make_ctx(sqlite_db, admin))
    qtbot.addWidget(dialog)
    dialog.open()
    page = dialog.company_page
    assert dialog.tabs.tabText(dialog.tabs.indexOf(page)) == "Company"
    assert "company-iban" not in dialog.options_page.fields  # on its own page, not under Options
    qtbot.waitUntil(lambda: page.loaded is not None)
    page.fields["company-name"].setText("Example Carrier GmbH")
    page.fields["company-address"].setPlainText("Friedrichstrasse 1\nHaus B")
    page.fields["company-country"].setText("de")
    page.fields["company-vat-id"].setText("DE 123 456 789")
    page.fields["company-iban"].setText("DE89 3704 0044 0532 0130 01")  # one digit wrong
    before = stored(sqlite_db)
    page.save_button.click()
    assert page.message.text() == ("IBAN: 'DE89 3704 0044 0532 0130 01' is not a valid IBAN (its check digits do not "
                                   "match); copy it again from the bank statement. Nothing was saved.")
    assert stored(sqlite_db) == before  # not even the valid fields
    assert page.fields["company-name"].text() == "Example Carrier GmbH"  # the form keeps what was typed

    page.fields["company-iban"].setText("DE89 3704 0044 0532 0130 00")
    page.save_button.click()
    assert page.message.text() == "Saved."
    options, _customers, entries = stored(sqlite_db)
    assert {k: options[k] for k in ("company-name", "company-address", "company-country", "company-vat-id",
                                    "company-iban")} == {
        "company-name": "Example Carrier GmbH", "company-address": "Friedrichstrasse 1\nHaus B",
        "company-country": "DE", "company-vat-id": "DE123456789", "company-iban": "DE89370400440532013000"}
    assert page.fields["company-iban"].text() == "DE89370400440532013000"  # shown as stored
    assert entries == before[2] + 5  # one entry per option, one transaction


def test_the_customer_dialog_keeps_the_buyer_and_vat_data(make_ctx, sqlite_db, admin, answers, qtbot):
    ctx = make_ctx(sqlite_db, admin)
    dialog = CustomerDialog(ctx, None)
    qtbot.addWidget(dialog)
    dialog.open()
    dialog.name.setText("Dupont SA")
    dialog.currency.setCurrentText("XYZ")
    before = stored(sqlite_db)
    dialog.save()
    assert dialog.isVisible() and dialog.error.text().startswith("'XYZ' is not an ISO 4217 currency code")
    assert dialog.currency.hasFocus() or dialog.focusWidget() is dialog.currency
    dialog.currency.setCurrentText("EUR")
    dialog.country.setText("France")
    dialog.save()
    assert dialog.error.text().startswith("'France' is not a country code")
    dialog.country.setText("fr")
    dialog.vat_id.setText("FR 12 345678901")
    dialog.vat_category.setCurrentIndex(dialog.vat_category.findData("E"))
    dialog.save()
    assert dialog.error.text().startswith("Exempt invoices must say why (EN 16931 BR-E-10)")
    assert stored(sqlite_db) == before  # three refusals, nothing saved
    dialog.vat_category.setCurrentIndex(dialog.vat_category.findData("AE"))
    dialog.address.setPlainText("1 rue de la Paix")
    dialog.city.setText("Paris")
    dialog.post_code.setText("75002")
    dialog.buyer_reference.setText("PO-77")
    dialog.save()
    assert not dialog.isVisible(), dialog.error.text()
    with sqlite_db.read_session() as s:
        c = s.scalars(select(Customer).where(Customer.name == "Dupont SA")).one()
        assert (c.currency, c.country, c.vat_id, c.vat_category, c.vat_exemption_reason, c.tax_percent,
                c.address_lines, c.city, c.post_code, c.buyer_reference) == (
            "EUR", "FR", "FR12345678901", "AE", "Reverse charge", Decimal(0), "1 rue de la Paix", "Paris", "75002",
            "PO-77")

    edit = CustomerDialog(ctx, c.id)
    qtbot.addWidget(edit)
    edit.open()
    qtbot.waitUntil(lambda: edit.version is not None)
    assert (edit.vat_category.currentData(), edit.vat_id.text(), edit.exemption_reason.text(),
            edit.address.toPlainText()) == ("AE", "FR12345678901", "Reverse charge", "1 rue de la Paix")
