"""The Factur-X PDF against the PDF/A-3B rules that can be checked offline without veraPDF
(a Java program that no package registry reachable here ships): each assertion names the
clause of ISO 19005-3 as veraPDF's PDFA-3B profile numbers it.  Not checked here: the
content streams (operators, colour spaces of every drawing, fonts' glyph widths), the
XMP property types, stream lengths; Qt writes the page content as PDF/A-1b (a subset)."""
from __future__ import annotations

import re
import shutil
import subprocess

import pytest
from pypdf import PdfReader
from pypdf.generic import DictionaryObject, StreamObject

from cxdesk.services.einvoice.export import render
from tests.einvoice_samples import samples


def _objects(reader: PdfReader) -> list:
    found = []
    for number in range(1, int(reader.trailer["/Size"])):
        try:
            found.append(reader.get_object(number))
        except Exception:  # noqa: BLE001 - a free entry of the cross-reference table
            continue
    return found


@pytest.fixture(scope="module", params=["eur-intra", "eur-credit"])
def facturx(request, tmp_path_factory):
    path = tmp_path_factory.mktemp("pdfa") / f"{request.param}.pdf"
    path.write_bytes(render(samples()[request.param], "facturx"))
    return path


def test_file_structure_6_1(facturx):
    data = facturx.read_bytes()
    assert re.match(rb"%PDF-1\.[0-7]\r?\n%", data)  # 6.1.2-1
    comment = data[data.index(b"\n") + 2:][:4]
    assert len(comment) == 4 and all(b > 127 for b in comment)  # 6.1.2-2
    assert re.fullmatch(rb"%%EOF\r?\n?", data[data.rindex(b"%%EOF"):])  # 6.1.3-3
    # 6.1.3-1, -2: the last trailer (here the incremental update's cross-reference stream) has an ID
    last = data[int(re.findall(rb"startxref\s+(\d+)", data)[-1]):]
    trailer = last if last.startswith(b"xref") else last[:last.index(b"stream")]  # a table or a stream's dict
    assert b"/ID" in trailer and b"/Encrypt" not in trailer
    reader = PdfReader(facturx)
    for obj in _objects(reader):
        if isinstance(obj, StreamObject):
            assert not {"/F", "/FFilter", "/FDecodeParms"} & set(obj)  # 6.1.7.1-3
            filters = obj.get("/Filter", [])
            assert not {"/LZWDecode", "/Crypt"} & set(filters if isinstance(filters, list) else [filters])  # 6.1.7.2


def test_fonts_6_2_11(facturx):
    reader = PdfReader(facturx)
    for obj in _objects(reader):
        if isinstance(obj, DictionaryObject) and obj.get("/Subtype") == "/CIDFontType2":
            assert "/CIDToGIDMap" in obj  # 6.2.11.3.2
    if shutil.which("pdffonts") is None:
        pytest.skip("pdffonts (poppler-utils) is not installed")
    rows = subprocess.run(["pdffonts", str(facturx)], capture_output=True, text=True, check=True).stdout.splitlines()[2:]
    assert rows and all(row.split()[-5] == "yes" for row in rows)  # 6.2.11.4.1: every font embedded


def test_output_intent_metadata_and_identification_6_2_6_6(facturx):
    reader = PdfReader(facturx)
    root = reader.trailer["/Root"]
    (intent,) = [i.get_object() for i in root["/OutputIntents"]]
    assert intent["/S"] == "/GTS_PDFA1" and intent["/DestOutputProfile"].get_object()["/N"] == 3
    metadata = root["/Metadata"].get_object()
    assert (metadata["/Type"], metadata["/Subtype"]) == ("/Metadata", "/XML")  # 6.6.2.1-1
    xmp = metadata.get_data()
    header = re.match(rb"<\?xpacket ([^?]*)\?>", xmp).group(1)
    assert b"bytes=" not in header and b"encoding=" not in header  # 6.6.2.1-2, -3
    text = xmp.decode("utf-8")  # 6.6.2.1-5
    assert "<pdfaid:part>3</pdfaid:part>" in text and "<pdfaid:conformance>B</pdfaid:conformance>" in text  # 6.6.4


def test_the_embedded_xml_is_an_associated_file_6_8(facturx):
    reader = PdfReader(facturx)
    root = reader.trailer["/Root"]
    names = root["/Names"]["/EmbeddedFiles"]["/Names"]
    specs = [names[i + 1].get_object() for i in range(0, len(names), 2)]
    assert [s["/UF"] for s in specs] == ["factur-x.xml"]
    associated = [ref.get_object() for ref in root["/AF"]]
    for spec in specs:
        assert spec["/F"] and spec["/UF"]  # 6.8-2
        assert spec["/AFRelationship"] == "/Data"  # 6.8-3 (Factur-X: Data for the EN 16931 profile)
        assert spec in associated  # 6.8-4
        embedded = spec["/EF"]["/F"].get_object()
        assert embedded["/Subtype"] == "/text/xml" and "/ModDate" in embedded["/Params"]  # 6.8-1
