"""The printed e-invoice and Factur-X: a 2-page invoice repeats its number and "page X of
N" on every page (read back with pdftotext); seller, buyer, VAT breakdown, exemption
reason and payment details are printed; the Factur-X PDF holds the CII XML, declares
PDF/A-3B with matching info and XMP; export writes atomically and refuses what is invalid."""
from __future__ import annotations

import dataclasses as dc
import io
import re
import shutil
import subprocess
import zlib

import pytest

from cxdesk.errors import PermissionDenied, UserError, ValidationError
from cxdesk.services.actor import Actor
from cxdesk.services.einvoice import validate as v
from cxdesk.services.einvoice.cii import cii_xml
from cxdesk.services.einvoice.export import export, render
from cxdesk.services.einvoice.ubl import ubl_xml
from tests.einvoice_samples import BUYERS, SELLER, document, line, samples

ADMIN = Actor("tester", role="admin")
SAMPLES = samples()


def pdf_pages(path) -> list[str]:
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext (poppler-utils) is not installed; scripts/install-os-deps.sh installs it")
    text = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True).stdout
    return text.split("\f")[:-1]


def test_two_page_invoice_has_number_and_page_x_of_n_on_every_page(tmp_path):
    lines = [line(i, "100", "0.05", "S", "19", 2) for i in range(1, 46)]
    doc = document(lines, "EUR", BUYERS["S"], number="INV-2026-0042")
    path = tmp_path / "long.pdf"
    export(doc, "pdf", path, actor=ADMIN)
    pages = pdf_pages(path)
    assert len(pages) == 2
    for number, page in enumerate(pages, 1):
        assert f"Invoice INV-2026-0042, page {number} of 2" in page
        assert "Description" in page  # the lines' header row is repeated
    assert "Outbound calls zone 45" in pages[1] and "Amount due" in pages[1]


def test_the_pdf_shows_parties_vat_breakdown_reasons_and_payment(tmp_path):
    path = tmp_path / "mixed.pdf"
    export(SAMPLES["eur-mixed"], "pdf", path, actor=ADMIN)
    (page,) = pdf_pages(path)
    flat = " ".join(page.split()).replace(" %", "%")  # pdftotext may join "0 %"
    for expected in ("Nordwind Telecom GmbH", "VAT ID DE123456789", "Registration HRB 123456", "Acme Calls GmbH",
                     "VAT ID DE987654321", "10117 Berlin", "INV-2026-0006", "S Standard rate 21% 8.42 1.77",
                     "Z Zero rate 0% 5.00 0.00", "VATEX-EU-132 Exempt based on article 132",
                     "IBAN DE89370400440532013000", "BIC COBADEFFXXX", "Amount due 33.42 EUR", "Paid 1.00 EUR",
                     "Invoice INV-2026-0006, page 1 of 1"):
        assert expected in flat, expected


def test_a_credit_note_prints_as_one_and_names_the_invoice(tmp_path):
    path = tmp_path / "credit.pdf"
    export(SAMPLES["eur-credit"], "pdf", path, actor=ADMIN)
    flat = " ".join(pdf_pages(path)[0].split())
    assert "CREDIT NOTE" in flat and "Corrects invoice INV-2026-0001 of 2026-02-01" in flat
    assert "Credit note CN-2026-0001, page 1 of 1" in flat and "Amount to refund" in flat


@pytest.mark.parametrize("name", ["jpy-exempt", "kwd-reverse", "eur-credit"])
def test_facturx_embeds_the_cii_and_declares_pdfa3(tmp_path, name):
    from facturx import get_xml_from_pdf
    from pypdf import PdfReader

    doc = SAMPLES[name]
    path = tmp_path / f"{name}.pdf"
    export(doc, "facturx", path, actor=ADMIN)
    data = path.read_bytes()
    filename, xml = get_xml_from_pdf(data, check_xsd=True)
    assert filename == "factur-x.xml" and xml == cii_xml(doc)
    assert v.validate_file(path) == []
    reader = PdfReader(io.BytesIO(data))
    xmp = reader.xmp_metadata.stream.get_data().decode()
    assert "<pdfaid:part>3</pdfaid:part>" in xmp and "<pdfaid:conformance>B</pdfaid:conformance>" in xmp
    assert "<fx:ConformanceLevel>EN 16931</fx:ConformanceLevel>" in xmp
    assert re.search(r"<pdf:Producer>(.*?)</pdf:Producer>", xmp).group(1) == reader.metadata["/Producer"]
    assert "/Keywords" not in reader.metadata and "/Trapped" not in reader.metadata  # no XMP twin
    assert reader.trailer["/Root"]["/OutputIntents"][0].get_object()["/S"] == "/GTS_PDFA1"
    assert doc.number in " ".join(reader.pages[0].extract_text().split())


def test_a_changed_byte_in_the_embedded_xml_is_caught(tmp_path):
    path = tmp_path / "fx.pdf"
    export(SAMPLES["eur-standard"], "facturx", path, actor=ADMIN)
    data = path.read_bytes()
    # the XML's stream is compressed: flip one byte inside it
    xml = cii_xml(SAMPLES["eur-standard"])
    for match in re.finditer(rb"stream\r?\n", data):
        start = match.end()
        end = data.index(b"endstream", start)
        try:
            if zlib.decompress(data[start:end].rstrip(b"\r\n")) == xml:
                break
        except zlib.error:
            continue
    else:
        pytest.fail("the embedded XML stream was not found")
    middle = (start + end) // 2
    damaged = data[:middle] + bytes([data[middle] ^ 0x01]) + data[middle + 1:]
    bad = tmp_path / "damaged.pdf"
    bad.write_bytes(damaged)
    problems = v.validate_file(bad)
    assert problems and all(p.fatal for p in problems), problems


@pytest.mark.parametrize("fmt", ["pdf", "facturx", "cii", "ubl"])
def test_invalid_document_is_refused_and_nothing_is_written(tmp_path, fmt):
    doc = dc.replace(SAMPLES["eur-standard"], seller=dc.replace(SELLER, vat_id=""))
    path = tmp_path / ("old.pdf" if fmt in ("pdf", "facturx") else "old.xml")
    path.write_bytes(b"the older file")
    with pytest.raises(UserError, match="BR-S-02: the seller's VAT ID is missing: set it in Settings > Company"):
        export(doc, fmt, path, actor=ADMIN)
    assert path.read_bytes() == b"the older file"
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]  # no temp file left


def test_xml_exports_are_the_validated_bytes(tmp_path):
    doc = SAMPLES["gbp-zero"]
    export(doc, "cii", tmp_path / "a.xml", actor=ADMIN)
    export(doc, "ubl", tmp_path / "b.xml", actor=ADMIN)
    assert (tmp_path / "a.xml").read_bytes() == cii_xml(doc) == render(doc, "cii")
    assert (tmp_path / "b.xml").read_bytes() == ubl_xml(doc)
    assert v.validate_file(tmp_path / "a.xml") == [] and v.validate_file(tmp_path / "b.xml") == []


def test_export_checks_role_name_and_format(tmp_path):
    doc = SAMPLES["eur-standard"]
    with pytest.raises(PermissionDenied):
        export(doc, "ubl", tmp_path / "x.xml", actor=Actor("s", role="staff"))
    with pytest.raises(ValidationError, match="must end in .xml") as caught:
        export(doc, "ubl", tmp_path / "x.pdf", actor=ADMIN)
    assert caught.value.field == "path"
    with pytest.raises(ValidationError, match="Unknown e-invoice format 'edi'"):
        export(doc, "edi", tmp_path / "x.edi", actor=ADMIN)
    assert list(tmp_path.iterdir()) == []


def test_check_a_file_from_the_command_line(tmp_path):
    import sys

    good, bad = tmp_path / "good.xml", tmp_path / "bad.xml"
    good.write_bytes(ubl_xml(SAMPLES["eur-standard"]))
    bad.write_bytes(ubl_xml(SAMPLES["eur-standard"]).replace(b">35.69<", b">35.68<", 1))
    run = subprocess.run([sys.executable, "-m", "cxdesk.services.einvoice.validate", str(good), str(bad)],
                         capture_output=True, text=True)
    assert run.returncode == 1
    assert f"{good}: valid\n{bad}: INVALID\n  error BR-CO-15: " in run.stdout
