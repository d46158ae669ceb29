"""Invoice PDFs with Qt's own PDF writer (QPdfWriter + QTextDocument); runs offscreen.

The layout comes from ``cxdesk.services.invoice_html`` (HTML, no Qt).  Pages are drawn
one by one so that every page carries a footer with the document's number and "page X
of N".  The PDF is written as PDF/A-1b (Qt's ``PdfVersion_A1b``: all fonts embedded, an
sRGB output intent, XMP metadata, no transparency), which is the base the Factur-X
writer (``cxdesk.services.einvoice.facturx``) turns into PDF/A-3 by adding the XML.
The command line uses this module too: without a running Qt application it starts a
headless one.
"""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QMarginsF, QRectF, QSizeF, Qt
from PySide6.QtGui import (
    QFont,
    QGuiApplication,
    QPageLayout,
    QPagedPaintDevice,
    QPageSize,
    QPainter,
    QPdfWriter,
    QTextDocument,
)

from cxdesk.errors import ValidationError
from cxdesk.services.actor import Actor
from cxdesk.services.export import atomic_file
from cxdesk.services.export_safety import strip_forbidden
from cxdesk.services.invoice_html import document_html, invoice_html
from cxdesk.services.invoices import Company, InvoiceRecord

_app: QGuiApplication | None = None
FONT = "DejaVu Sans"
FOOTER_MM = 8


def _ensure_app() -> None:
    """Fonts need a QGuiApplication; the CLI gets an offscreen one (no display needed)."""
    global _app
    if QGuiApplication.instance() is None:
        _app = QGuiApplication(["cxdesk", "-platform", "offscreen"])


def _draw(writer: QPdfWriter, html: str, label: str) -> int:
    """Lay ``html`` out on the writer's pages with the footer "<label>, page X of N";
    returns the number of pages."""
    doc = QTextDocument()
    doc.documentLayout().setPaintDevice(writer)  # points -> the writer's pixels
    doc.setDefaultFont(QFont(FONT, 9))
    doc.setDocumentMargin(0)
    doc.setHtml(html)
    page = writer.pageLayout().paintRectPixels(writer.resolution())
    footer = writer.resolution() * FOOTER_MM / 25.4
    body = QSizeF(page.width(), page.height() - footer)
    doc.setPageSize(body)
    pages = doc.pageCount()
    painter = QPainter(writer)
    try:
        painter.setFont(QFont(FONT, 7))
        for index in range(pages):
            if index:
                writer.newPage()
            top = index * body.height()
            painter.save()
            painter.translate(0, -top)
            doc.drawContents(painter, QRectF(0, top, body.width(), body.height()))
            painter.restore()
            painter.drawText(QRectF(0, body.height(), body.width(), footer),
                             int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignBottom),
                             f"{label}, page {index + 1} of {pages}")
    finally:
        painter.end()
    return pages


def _writer(target: str | QIODevice, title: str) -> QPdfWriter:
    writer = QPdfWriter(target)
    writer.setPdfVersion(QPagedPaintDevice.PdfVersion.PdfVersion_A1b)
    writer.setTitle(title)
    writer.setCreator("cxdesk")
    writer.setPageSize(QPageSize(QPageSize.PageSizeId.A4))
    writer.setPageMargins(QMarginsF(16, 16, 16, 16), QPageLayout.Unit.Millimeter)
    return writer


def _check_name(path: str | Path) -> None:
    if Path(path).suffix.lower() != ".pdf":
        raise ValidationError(f"Cannot write '{Path(path).name}': the name must end in .pdf.", field="path")


def _label(doc) -> str:
    return f"{'Credit note' if doc.is_credit_note else 'Invoice'} {strip_forbidden(doc.number)}"


def document_pdf(doc) -> bytes:
    """The printed e-invoice (``einvoice.document.Document``) as PDF/A-1b bytes."""
    _ensure_app()
    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    writer = _writer(buffer, _label(doc))
    _draw(writer, document_html(doc), _label(doc))
    del writer  # finishes the PDF
    buffer.close()
    return bytes(data.data())


def write_invoice_pdf(actor: Actor, invoice: InvoiceRecord, issuer: Company, path: str | Path) -> None:
    """Write the invoice as an A4 PDF; the file appears only when complete."""
    actor.require("export")
    _check_name(path)
    _ensure_app()
    label = f"Invoice {invoice.number}"
    with atomic_file(path) as temp:
        writer = _writer(str(temp), label)
        _draw(writer, invoice_html(invoice, issuer), label)
        del writer  # closes the file
