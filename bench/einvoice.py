"""E-invoices for 1,000 documents (quick: 100), each as a ratio against the bare
factur-x / lxml serialisation of the same data, measured in the same run:

* xml: ``cii_xml`` + ``ubl_xml`` (build and serialise) vs ``etree.tostring`` of the same
  trees built beforehand;
* validation: XSD + Schematron in both syntaxes (stylesheets compiled before timing);
* facturx: ``facturx_pdf`` (Qt PDF/A-1b + embed + info fix) vs bare ``facturx.
  generate_from_binary`` of one ready base PDF with the same XML;
* all: ``export.render`` of cii, ubl, facturx and pdf, each checked first (the program's
  path) vs the bare serialisation plus the bare factur-x embedding.

The documents are the test samples (EUR, GBP, JPY, KWD; S, Z, E, AE, K; credit notes)
with varied numbers and quantities.  Figures are printed; nothing is asserted.
"""
from __future__ import annotations

import dataclasses
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def _documents(count: int) -> list:
    from tests.einvoice_samples import samples

    base = list(samples().values())
    return [dataclasses.replace(base[i % len(base)], number=f"BENCH-{i:05d}") for i in range(count)]


def _timed(work) -> float:
    started = time.perf_counter()
    work()
    return time.perf_counter() - started


def main(full: bool) -> None:
    from facturx import generate_from_binary
    from lxml import etree

    from cxdesk.pdf_writer import document_pdf
    from cxdesk.services.einvoice import export, validate
    from cxdesk.services.einvoice.cii import cii_tree, cii_xml
    from cxdesk.services.einvoice.facturx import facturx_pdf
    from cxdesk.services.einvoice.ubl import ubl_tree, ubl_xml

    docs = _documents(1000 if full else 100)
    n = len(docs)
    validate.check(docs[0])  # compile the XSDs and stylesheets, start Qt: not timed
    base_pdf = document_pdf(docs[0])
    trees = [(cii_tree(d), ubl_tree(d)) for d in docs]
    cii_bytes = [etree.tostring(c, xml_declaration=True, encoding="UTF-8") for c, _u in trees]

    def bare_xml() -> None:
        for c, u in trees:
            etree.tostring(c, xml_declaration=True, encoding="UTF-8")
            etree.tostring(u, xml_declaration=True, encoding="UTF-8")

    def bare_facturx() -> None:
        for xml in cii_bytes:
            generate_from_binary(base_pdf, xml, flavor="factur-x", level="en16931", check_xsd=False)

    bare_x = _timed(bare_xml)
    bare_f = _timed(bare_facturx)
    figures = {
        "xml": (_timed(lambda: [(cii_xml(d), ubl_xml(d)) for d in docs]), bare_x),
        "validation": (_timed(lambda: [(validate.validate(d, "cii"), validate.validate(d, "ubl")) for d in docs]), bare_x),
        "facturx": (_timed(lambda: [facturx_pdf(d) for d in docs]), bare_f),
        "all": (_timed(lambda: [export.render(d, f) for d in docs for f in ("cii", "ubl", "facturx", "pdf")]),
                bare_x + bare_f),
    }
    for name, (ours, bare) in figures.items():
        print(f"   {name:<10} {n} documents: {ours:7.2f} s = {ours / bare:6.1f}x the bare "
              f"{bare:6.2f} s ({1000 * ours / n:6.1f} ms per document)", flush=True)
