"""Writing an e-invoice to a file: validate, then write atomically.

``export(document, fmt, path, actor=...)`` for ``fmt`` in ``FORMATS``: "cii" and "ubl"
(the XML), "facturx" (PDF/A-3 with the CII inside), "pdf" (the printed invoice alone).
Every format is refused, before anything is written, unless the document passes the XSD
and the EN 16931 Schematron in *both* syntaxes (``validate.check``): a PDF that is not a
valid invoice should not leave the program either.  The file appears only when complete
(``services.export.atomic_file``).  XSLX stays in ``services.invoices``.
"""
from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from cxdesk.errors import ValidationError
from cxdesk.services.actor import Actor
from cxdesk.services.einvoice.document import Document
from cxdesk.services.einvoice.validate import check
from cxdesk.services.export import atomic_file


def _cii(doc: Document) -> bytes:
    from cxdesk.services.einvoice.cii import cii_xml

    return cii_xml(doc)


def _ubl(doc: Document) -> bytes:
    from cxdesk.services.einvoice.ubl import ubl_xml

    return ubl_xml(doc)


def _facturx(doc: Document) -> bytes:
    from cxdesk.services.einvoice.facturx import facturx_pdf

    return facturx_pdf(doc)


def _pdf(doc: Document) -> bytes:
    from cxdesk.pdf_writer import document_pdf  # Qt: the one module below ui/ that uses it

    return document_pdf(doc)


#: format -> (file name suffix, writer)
FORMATS: dict[str, tuple[str, Callable[[Document], bytes]]] = {
    "cii": (".xml", _cii),
    "ubl": (".xml", _ubl),
    "facturx": (".pdf", _facturx),
    "pdf": (".pdf", _pdf),
}


def render(document: Document, fmt: str) -> bytes:
    """The file's bytes after ``check`` (raises a UserError naming the broken rule)."""
    if fmt not in FORMATS:
        raise ValidationError(f"Unknown e-invoice format '{fmt}'; choose one of {', '.join(FORMATS)}.", field="format")
    check(document)
    return FORMATS[fmt][1](document)


def export(document: Document, fmt: str, path: str | os.PathLike[str], *, actor: Actor) -> None:
    """Validate ``document`` and write it as ``fmt`` to ``path`` (see the module docstring)."""
    actor.require("export")
    suffix = FORMATS[fmt][0] if fmt in FORMATS else ""
    if suffix and Path(path).suffix.lower() != suffix:
        raise ValidationError(f"Cannot write '{Path(path).name}': a {fmt} file's name must end in {suffix}.", field="path")
    data = render(document, fmt)
    with atomic_file(path) as temp:
        temp.write_bytes(data)
