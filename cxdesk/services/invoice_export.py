"""Writing an invoice or credit note to a file in one of ``FORMATS``, for the command line
and the Invoices tab alike.

* ``xlsx``: the invoice as a workbook (``invoices.export_invoice_xlsx``), drafts too;
* ``pdf``, ``facturx``, ``ubl``, ``cii``: the EN 16931 document
  (``invoice_document``) through ``services/einvoice/export.py``, which validates it (XSD
  and Schematron) and refuses, naming the rule, before anything is written. A draft is
  not exported this way: it is not an invoice yet (issue it first).
"""
from __future__ import annotations

import os
from pathlib import Path

from cxdesk.db import Database
from cxdesk.errors import ConflictError, ValidationError
from cxdesk.services import invoice_document, invoice_lifecycle, invoices
from cxdesk.services.actor import Actor

FORMATS = ("pdf", "facturx", "ubl", "cii", "xlsx")
#: the format a file name's suffix implies (.xml is either syntax: --format says which)
BY_SUFFIX = {".pdf": "pdf", ".xlsx": "xlsx"}


def format_for(path: str | os.PathLike[str], fmt: str | None) -> str:
    """The format asked for, or the one the file name implies."""
    if fmt:
        wanted = fmt.strip().lower()
        if wanted not in FORMATS:
            raise ValidationError(f"'{fmt}' is not an export format; choose one of: {', '.join(FORMATS)}.",
                                  field="format")
        return wanted
    suffix = Path(path).suffix.lower()
    if suffix not in BY_SUFFIX:
        raise ValidationError(f"Say which format to write '{Path(path).name}' in with --format "
                              f"({', '.join(FORMATS)}).", field="format")
    return BY_SUFFIX[suffix]


def export(db: Database, actor: Actor, ref: str, fmt: str | None, path: str | os.PathLike[str]) -> str:
    """Write invoice ``ref`` (7) or credit note (CN-3) to ``path``; returns what was written."""
    fmt = format_for(path, fmt)
    is_credit = str(ref).strip().upper().startswith("CN-")
    with db.read_session() as s:
        if fmt == "xlsx":
            if is_credit:
                raise ValidationError("Credit notes are exported as pdf, facturx, ubl or cii, not as xlsx.",
                                      field="format")
            inv = invoices.find_invoice(s, ref)
            issuer = invoices.company(s)
        else:
            if not is_credit:
                inv = invoices.find_invoice(s, ref)
                if inv.is_draft:
                    raise ConflictError(f"Invoice {inv.number} is a draft; issue it before exporting it as "
                                        f"{fmt} (`cxdesk invoice issue {inv.number}`).")
                what = f"invoice {inv.number} ({inv.customer_name}, total {inv.amount(inv.total)})"
            else:
                cn = invoice_lifecycle.find_credit_note(s, ref)
                what = (f"credit note {cn.ref} for invoice {cn.invoice_number} ({cn.customer_name}, total "
                        f"{invoices.format_amount(cn.total, cn.currency)})")
            document = invoice_document.document_for(s, ref)
    if fmt == "xlsx":
        invoices.export_invoice_xlsx(actor, inv, issuer, path)
        return f"invoice {inv.number} ({inv.customer_name}, total {inv.amount(inv.total)})"
    from cxdesk.services.einvoice import export as einvoice_export

    einvoice_export.export(document, fmt, path, actor=actor)
    return what
