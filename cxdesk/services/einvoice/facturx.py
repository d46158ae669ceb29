"""Factur-X 1.0 / ZUGFeRD 2 PDF, profile EN 16931: the printed invoice (PDF/A-1b from
``cxdesk.pdf_writer``) with the CII XML embedded as ``factur-x.xml`` by the ``factur-x``
package, which also writes the PDF/A-3 XMP metadata (pdfaid:part 3, conformance B, the
Factur-X extension schema) and the associated-file relationship ("Data").

Conformance: the result *declares* PDF/A-3B; its content is what Qt writes for PDF/A-1b
(every font embedded, sRGB output intent, no transparency), which PDF/A-3B allows.
``factur-x`` leaves document-info entries without their XMP twin (Qt's /Producer,
/Keywords, /Trapped), which PDF/A forbids; an incremental update (the bytes before it
stay as they are) makes the info dictionary match the XMP.  No full PDF/A validator runs
here (veraPDF is a Java program that neither Debian nor PyPI ships; the PyPI wrappers
download it at run time); tests/integration/test_einvoice_pdfa.py checks the PDF/A-3B
rules that can be checked offline (file structure, fonts embedded, output intent, XMP
identification, the associated file).  The XML inside is checked (XSD and Schematron)
before the PDF is made.
"""
from __future__ import annotations

import io

from cxdesk.services.einvoice.cii import cii_xml
from cxdesk.services.einvoice.document import Document
from cxdesk.services.export_safety import strip_forbidden

LEVEL = "en16931"


def _metadata(doc: Document) -> dict[str, str]:
    kind = "Credit note" if doc.is_credit_note else "Invoice"
    seller, number = strip_forbidden(doc.seller.name), strip_forbidden(doc.number)
    return {
        "author": seller,
        "title": f"{seller}: {kind} {number}",
        "subject": f"Factur-X {kind.lower()} {number} dated {doc.issue_date.isoformat()} issued by {seller}",
    }


def embed(pdf: bytes, xml: bytes, doc: Document) -> bytes:
    """``pdf`` with ``xml`` (CII, already validated) embedded as a Factur-X PDF/A-3."""
    from facturx import generate_from_binary  # imports pypdf: only when needed

    result = generate_from_binary(pdf, xml, flavor="factur-x", level=LEVEL, check_xsd=False,
                                  pdf_metadata=_metadata(doc), lang="en-GB")
    return _info_as_xmp(result)


def _info_as_xmp(pdf: bytes) -> bytes:
    """Make the document info match the XMP that ``factur-x`` wrote (PDF/A 6.6.2.3)."""
    from pypdf import PdfWriter
    from pypdf.generic import NameObject, TextStringObject

    writer = PdfWriter(io.BytesIO(pdf), incremental=True)
    info = writer._info.get_object()  # no public way to delete an entry
    info[NameObject("/Producer")] = TextStringObject("pypdf")  # = the XMP's pdf:Producer
    for key in ("/Keywords", "/Trapped"):  # no XMP twin
        info.pop(key, None)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def facturx_pdf(doc: Document) -> bytes:
    """The Factur-X PDF of ``doc`` (not validated: see ``export``)."""
    from cxdesk.pdf_writer import document_pdf

    return embed(document_pdf(doc), cii_xml(doc), doc)
