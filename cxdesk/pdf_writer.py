"""Invoice PDF with Qt's own PDF writer (QPdfWriter + QTextDocument); runs offscreen.

The layout comes from ``cxdesk.services.invoice_html`` (HTML, no Qt). The command line
uses this module too: without a running Qt application it starts a headless one.
"""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QMarginsF
from PySide6.QtGui import QFont, QGuiApplication, QPageLayout, QPageSize, QPdfWriter, QTextDocument

from cxdesk.errors import ValidationError
from cxdesk.services.actor import Actor
from cxdesk.services.export import atomic_file
from cxdesk.services.invoice_html import invoice_html
from cxdesk.services.invoices import Company, InvoiceRecord

_app: QGuiApplication | None = None


def _ensure_app() -> None:
    """Fonts need a QGuiApplication; the CLI gets an offscreen one (no display needed)."""
    global _app
    if QGuiApplication.instance() is None:
        _app = QGuiApplication(["cxdesk", "-platform", "offscreen"])


def write_invoice_pdf(actor: Actor, invoice: InvoiceRecord, issuer: Company, path: str | Path) -> None:
    """Write the invoice as an A4 PDF; the file appears only when complete."""
    actor.require("export")
    if Path(path).suffix.lower() != ".pdf":
        raise ValidationError(f"Cannot write '{Path(path).name}': the name must end in .pdf.", field="path")
    _ensure_app()
    doc = QTextDocument()
    doc.setDefaultFont(QFont("DejaVu Sans", 9))
    doc.setHtml(invoice_html(invoice, issuer))
    with atomic_file(path) as temp:
        writer = QPdfWriter(str(temp))
        writer.setTitle(f"Invoice {invoice.number}")
        writer.setCreator("cxdesk")
        writer.setPageSize(QPageSize(QPageSize.PageSizeId.A4))
        writer.setPageMargins(QMarginsF(16, 16, 16, 16), QPageLayout.Unit.Millimeter)
        doc.print_(writer)
        del writer  # closes the file
