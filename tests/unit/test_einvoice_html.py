"""The printed e-invoice's HTML (no Qt): no character XML forbids reaches it, markup in a
name is text, and a credit note is titled as one."""
from __future__ import annotations

import dataclasses as dc
import re

from cxdesk.services.invoice_html import document_html
from tests.einvoice_samples import samples


def test_document_html_strips_forbidden_characters_and_escapes_markup():
    doc = samples()["eur-standard"]
    evil = dc.replace(doc.buyer, name="<b>Evil\x00</b> & Co\ufffe", address_lines=("Line\x1b 1",))
    html = document_html(dc.replace(doc, buyer=evil, notes=("<script>x</script>\x07",)))
    assert "&lt;b&gt;Evil&lt;/b&gt; &amp; Co" in html and "Line 1" in html
    assert "&lt;script&gt;x&lt;/script&gt;" in html
    assert not re.search("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]", html)


def test_credit_note_html_names_the_corrected_invoice():
    html = document_html(samples()["eur-credit"])
    assert "CREDIT NOTE" in html and "INV-2026-0001 of 2026-02-01" in html and "Amount to refund" in html
    assert "Please pay" not in html
