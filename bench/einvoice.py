"""E-invoices for 1,000 documents (quick: 100) as the program makes them, as a ratio
against the bare factur-x / lxml serialisation of the same data, measured in the same run.

* all (the issue's figure): ``export.render`` of "cii", "ubl" and "facturx" per document,
  i.e. validation (exact sums, XSD and Schematron in both syntaxes, once per document),
  building and serialising both XMLs, rendering the printed invoice with Qt and embedding
  the CII in it; vs the bare work on the same data: ``etree.tostring`` of the same CII
  and UBL trees built beforehand plus ``facturx.generate_from_binary`` of each document's
  CII into its printed PDF rendered beforehand.  The bare side neither builds, renders
  nor validates, so the ratio is the whole price of doing it properly.
* the parts of "all", each on its own: xml (``cii_xml`` + ``ubl_xml`` vs the bare
  ``tostring``, same serialisation options), embed (``facturx.embed`` incl. the info fix
  vs the bare ``generate_from_binary``, same PDFs and XML), and, without a bare
  counterpart, PDF rendering and validation (shown against the bare total for scale).

Every XSD and stylesheet is compiled and Qt started before timing.  The documents are
the test samples (EUR, GBP, JPY, KWD; S, Z, E, AE, K; credit notes), numbered apart; their
figures repeat every ``len(samples())`` documents (nothing is cached by content).
Figures are printed; nothing is asserted.
"""
from __future__ import annotations

import dataclasses
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

FORMATS = ("cii", "ubl", "facturx")


def _documents(count: int) -> list:
    from tests.einvoice_samples import samples

    base = list(samples().values())
    return [dataclasses.replace(base[i % len(base)], number=f"BENCH-{i:05d}") for i in range(count)]


def _timed(work) -> float:
    started = time.perf_counter()
    work()
    return time.perf_counter() - started


def _line(name: str, n: int, ours: float, bare: float, against: str) -> None:
    print(f"   {name:<10} {n} documents: {ours:7.2f} s = {ours / bare:6.1f}x {against} {bare:6.2f} s "
          f"({1000 * ours / n:6.1f} ms per document)", flush=True)


def main(full: bool) -> None:
    from facturx import generate_from_binary
    from lxml import etree

    from cxdesk.pdf_writer import document_pdf
    from cxdesk.services.einvoice import export, validate
    from cxdesk.services.einvoice.cii import cii_tree, cii_xml
    from cxdesk.services.einvoice.facturx import LEVEL, embed
    from cxdesk.services.einvoice.ubl import ubl_tree, ubl_xml

    from tests.einvoice_samples import samples

    docs = _documents(1000 if full else 100)
    n = len(docs)
    for doc in samples().values():  # each kind once (not among ``docs``): XSDs, stylesheets, Qt ready
        validate.check(doc)
        document_pdf(doc)
    trees = [(cii_tree(d), ubl_tree(d)) for d in docs]
    options = dict(xml_declaration=True, encoding="UTF-8", pretty_print=True)  # as _xml.serialise
    cii_bytes = [etree.tostring(c, **options) for c, _u in trees]
    pdfs = [document_pdf(d) for d in docs]

    def bare_xml() -> None:
        for c, u in trees:
            etree.tostring(c, **options)
            etree.tostring(u, **options)

    def bare_embed() -> None:
        for pdf, xml in zip(pdfs, cii_bytes):
            generate_from_binary(pdf, xml, flavor="factur-x", level=LEVEL, check_xsd=False)

    bare_x, bare_e = _timed(bare_xml), _timed(bare_embed)
    bare = bare_x + bare_e
    _line("all", n, _timed(lambda: [export.render(d, f) for d in docs for f in FORMATS]), bare, "the bare")
    _line("xml", n, _timed(lambda: [(cii_xml(d), ubl_xml(d)) for d in docs]), bare_x, "the bare tostring")
    _line("embed", n, _timed(lambda: [embed(p, x, d) for p, x, d in zip(pdfs, cii_bytes, docs)]), bare_e,
          "the bare factur-x")
    _line("pdf", n, _timed(lambda: [document_pdf(d) for d in docs]), bare, "(no bare; for scale) the bare total")
    _line("validation", n, _timed(lambda: [(validate.validate(d, "cii"), validate.validate(d, "ubl")) for d in docs]),
          bare, "(no bare; for scale) the bare total")
