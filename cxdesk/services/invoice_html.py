"""The printed invoice's layout as HTML (the subset Qt's QTextDocument renders); no Qt here.

``cxdesk.pdf_writer`` renders it to PDF with Qt's own PDF writer. The figures are
those the invoice shows (``InvoiceRecord.shown_lines``, ``net_shown``, ``tax_shown``,
``total``): rounded to the currency's minor unit, every column adding up.  Every text
goes through ``export_safety.strip_forbidden`` (no control characters, lone surrogates
or U+FFFE/U+FFFF reach the document) and is then HTML-escaped.  A PDF is no spreadsheet,
so no formula quote is added.
"""
from __future__ import annotations

from html import escape as _html_escape

from cxdesk.services.export_safety import strip_forbidden
from cxdesk.services.invoices import Company, InvoiceRecord

_CSS = """
body { font-size: 9pt; color: #1a1a1a; }
h1 { font-size: 20pt; color: #1f3b5a; margin: 0; }
.muted { color: #555555; }
.company { font-size: 13pt; font-weight: bold; }
th { background-color: #1f3b5a; color: #ffffff; font-weight: bold; }
.total td { font-size: 11pt; font-weight: bold; }
"""


def escape(value: str) -> str:
    """HTML-escaped text without the characters XML forbids."""
    return _html_escape(strip_forbidden(value))


def _text(value: str) -> str:
    """Escaped, line breaks kept."""
    return "<br>".join(escape(line) for line in (value or "").splitlines())


def invoice_html(invoice: InvoiceRecord, issuer: Company) -> str:
    inv = invoice
    rate = f"{inv.tax_percent.normalize():f}"
    money = inv.amount

    def num(value) -> str:
        return f'<td align="right">{escape(value)}</td>'

    rows = []
    for i, shown in enumerate(inv.shown_lines()):
        ln = shown.line
        bg = ' bgcolor="#f2f5f8"' if i % 2 else ""
        rows.append(
            f"<tr{bg}><td>{escape(ln.description)}</td>"
            + num(f"{ln.calls:,}") + num(f"{ln.minutes:,.2f}")
            + num(f"{ln.unit_price:,.4f}" if ln.minutes else "")
            + num(money(shown.net, False)) + num(money(shown.tax, False)) + num(money(shown.total, False))
            + "</tr>"
        )
    if not rows:
        rows.append('<tr><td colspan="7" class="muted">No billed calls in this period.</td></tr>')
    issuer_name = escape(issuer.name) if issuer.name else '<span class="muted">(set Company Name in Settings &gt; Options)</span>'
    return f"""<html><head><style>{_CSS}</style></head><body>
<table width="100%" cellspacing="0" cellpadding="0"><tr>
<td width="55%" valign="top"><span class="company">{issuer_name}</span><br>
<span class="muted">{_text(issuer.address)}</span></td>
<td width="45%" valign="top" align="right"><h1>INVOICE</h1>
<table cellspacing="0" cellpadding="2">
<tr><td class="muted">Invoice number</td><td align="right"><b>{inv.number}</b></td></tr>
<tr><td class="muted">Invoice date</td><td align="right">{inv.invoice_date.isoformat()}</td></tr>
<tr><td class="muted">Due date</td><td align="right">{inv.due_date.isoformat()}</td></tr>
<tr><td class="muted">Currency</td><td align="right">{escape(inv.currency)}</td></tr>
</table></td></tr></table>
<p>&nbsp;</p>
<table width="100%" cellspacing="0" cellpadding="0"><tr>
<td width="55%" valign="top"><span class="muted">Bill to</span><br>
<b>{escape(inv.customer_name)}</b><br>Customer ID {inv.customer_id}</td>
<td width="45%" valign="top" align="right"><span class="muted">Service period (UTC)</span><br>
<b>{escape(inv.name)}</b><br>{inv.period_text}</td>
</tr></table>
<p>&nbsp;</p>
<table width="100%" cellspacing="0" cellpadding="3" border="0">
<thead><tr><th align="left" width="38%">Description</th><th align="right">Calls</th><th align="right">Minutes</th>
<th align="right">Unit price</th><th align="right">Net</th><th align="right">Tax {rate} %</th>
<th align="right">Total</th></tr></thead>
<tbody>{''.join(rows)}</tbody>
</table>
<p>&nbsp;</p>
<table width="100%" cellspacing="0" cellpadding="3"><tr><td width="55%"></td><td width="45%">
<table width="100%" cellspacing="0" cellpadding="3">
<tr><td>Net</td>{num(money(inv.net_shown))}</tr>
<tr><td>Tax {rate} %</td>{num(money(inv.tax_shown))}</tr>
<tr class="total"><td bgcolor="#e4eaf0"><b>Total due</b></td><td align="right" bgcolor="#e4eaf0"><b>{money(inv.total)}</b></td></tr>
</table></td></tr></table>
<p>&nbsp;</p>
<p class="muted">Please pay {money(inv.total)} by {inv.due_date.isoformat()}, quoting invoice number {inv.number}.<br>
Quantities: connected calls and billed minutes. Unit price: net per billed minute. All times UTC.
Line amounts are rounded to the currency's smallest unit so that each column adds up to the totals;
the total is the exact sum of the call charges plus tax, rounded once.</p>
</body></html>"""


# -- EN 16931 document (invoice or credit note) -----------------------------------------
VAT_CATEGORY_NAMES = {
    "S": "Standard rate",
    "Z": "Zero rate",
    "E": "Exempt from VAT",
    "AE": "Reverse charge",
    "K": "Intra-community supply",
    "G": "Export outside the EU",
    "O": "Not subject to VAT",
}


def _amount(value) -> str:
    return f"{value:,}"


def _party_html(party, label: str) -> str:
    """Name, address, country and ids of a seller or buyer (``document.Party``)."""
    place = " ".join(p for p in (party.post_code, party.city) if p)
    rows = [f'<span class="muted">{escape(label)}</span>', f"<b>{escape(party.name)}</b>"]
    rows += [escape(line) for line in party.address_lines if line]
    rows += [escape(t) for t in (place, party.country_code) if t]
    if party.vat_id:
        rows.append(f"VAT ID {escape(party.vat_id)}")
    if party.registration_id:
        rows.append(f"Registration {escape(party.registration_id)}")
    if party.contact_email:
        rows.append(escape(party.contact_email))
    return "<br>".join(rows)


def _meta_rows(doc) -> str:
    rows = [("Number", f"<b>{escape(doc.number)}</b>"), ("Issue date", doc.issue_date.isoformat())]
    if doc.due_date is not None:
        rows.append(("Due date", doc.due_date.isoformat()))
    rows.append(("Currency", escape(doc.currency)))
    if doc.buyer_reference:
        rows.append(("Your reference", escape(doc.buyer_reference)))
    if doc.preceding_number:
        when = f" of {doc.preceding_date.isoformat()}" if doc.preceding_date else ""
        rows.append(("Corrects invoice", f"{escape(doc.preceding_number)}{when}"))
    if doc.period_start and doc.period_end:
        rows.append(("Service period", f"{doc.period_start.isoformat()} to {doc.period_end.isoformat()}"))
    return "".join(f'<tr><td class="muted">{k}</td><td align="right">{v}</td></tr>' for k, v in rows)


def _rate(category: str, rate) -> str:
    return "" if category == "O" else f"{rate.normalize():f} %"


def _lines_html(doc) -> str:
    num = '<td align="right">{}</td>'.format
    rows = []
    for i, ln in enumerate(doc.lines):
        bg = ' bgcolor="#f2f5f8"' if i % 2 else ""
        rows.append(
            f"<tr{bg}><td>{escape(ln.id)}</td><td>{escape(ln.description)}</td>"
            + num(f"{ln.quantity:,}") + f"<td>{escape(ln.unit_code)}</td>" + num(f"{ln.unit_price:,}")
            + num(f"{escape(ln.vat_category)} {_rate(ln.vat_category, ln.vat_rate)}") + num(_amount(ln.net)) + "</tr>"
        )
    return f"""<table width="100%" cellspacing="0" cellpadding="3">
<thead><tr><th align="left">#</th><th align="left" width="40%">Description</th><th align="right">Quantity</th>
<th align="left">Unit</th><th align="right">Unit price</th><th align="right">VAT</th><th align="right">Net</th></tr></thead>
<tbody>{''.join(rows)}</tbody></table>"""


def _breakdown_html(doc) -> str:
    rows = []
    for vat in doc.breakdown:
        reason = " ".join(escape(t) for t in (vat.exemption_reason_code, vat.exemption_reason) if t)
        rows.append(
            f"<tr><td>{escape(vat.category)} {VAT_CATEGORY_NAMES.get(vat.category, '')}</td>"
            f'<td align="right">{_rate(vat.category, vat.rate)}</td><td align="right">{_amount(vat.taxable_amount)}</td>'
            f'<td align="right">{_amount(vat.tax_amount)}</td><td>{reason}</td></tr>'
        )
    return f"""<table width="100%" cellspacing="0" cellpadding="3">
<thead><tr><th align="left">VAT category</th><th align="right">Rate</th><th align="right">Taxable amount</th>
<th align="right">VAT</th><th align="left">Exemption reason</th></tr></thead><tbody>{''.join(rows)}</tbody></table>"""


def _totals_html(doc) -> str:
    t, cur = doc.totals, escape(doc.currency)
    rows = [("Total net", t.line_total), ("VAT", t.tax), ("Total with VAT", t.tax_inclusive)]
    if t.prepaid:
        rows.append(("Paid", t.prepaid))
    body = "".join(f'<tr><td>{k}</td><td align="right">{_amount(v)} {cur}</td></tr>' for k, v in rows)
    due = "Amount to refund" if doc.is_credit_note else "Amount due"
    body += (f'<tr class="total"><td bgcolor="#e4eaf0"><b>{due}</b></td>'
             f'<td align="right" bgcolor="#e4eaf0"><b>{_amount(t.payable)} {cur}</b></td></tr>')
    return (f'<table width="100%" cellspacing="0" cellpadding="0"><tr><td width="55%"></td><td width="45%">'
            f'<table width="100%" cellspacing="0" cellpadding="3">{body}</table></td></tr></table>')


def _payment_html(doc) -> str:
    parts = []
    pay = doc.payment
    if pay is not None and not doc.is_credit_note:
        by = f" by {doc.due_date.isoformat()}" if doc.due_date else ""
        parts.append(f"Please pay {_amount(doc.totals.payable)} {escape(doc.currency)}{by} by bank transfer to "
                     f"IBAN <b>{escape(pay.iban)}</b>" + (f", BIC <b>{escape(pay.bic)}</b>" if pay.bic else "")
                     + (f" ({escape(pay.account_name)})" if pay.account_name else "")
                     + f", quoting <b>{escape(pay.payment_reference or doc.number)}</b>.")
    if doc.payment_terms:
        parts.append(f"Payment terms: {escape(doc.payment_terms)}")
    parts += [_text(note) for note in doc.notes]
    return "<br>".join(parts)


def document_html(doc) -> str:
    """The printed EN 16931 invoice or credit note (``einvoice.document.Document``): seller
    and buyer, lines, the VAT breakdown per category with exemption reasons, totals and
    payment details.  The invoice number and page numbers go in each page's footer
    (``cxdesk.pdf_writer``)."""
    title = "CREDIT NOTE" if doc.is_credit_note else "INVOICE"
    return f"""<html><head><style>{_CSS}</style></head><body>
<table width="100%" cellspacing="0" cellpadding="0"><tr>
<td width="55%" valign="top">{_party_html(doc.seller, "From")}</td>
<td width="45%" valign="top" align="right"><h1>{title}</h1>
<table cellspacing="0" cellpadding="2">{_meta_rows(doc)}</table></td></tr></table>
<p>&nbsp;</p>
<p>{_party_html(doc.buyer, "Bill to")}</p>
<p>&nbsp;</p>
{_lines_html(doc)}
<p>&nbsp;</p>
{_breakdown_html(doc)}
<p>&nbsp;</p>
{_totals_html(doc)}
<p>&nbsp;</p>
<p>{_payment_html(doc)}</p>
</body></html>"""
