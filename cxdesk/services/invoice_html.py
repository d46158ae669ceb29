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
