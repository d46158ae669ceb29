"""Small helpers the CII and UBL writers share (lxml, no Qt)."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

from lxml import etree

from cxdesk.services.export_safety import strip_forbidden


def number(value: Decimal) -> str:
    """A decimal as XML wants it: plain digits, never an exponent (``Decimal('1E+1')`` -> 10)."""
    text = format(value, "f")
    return "0" if text in ("-0", "-0.0", "-0.00") else text


def text(value: str) -> str:
    """Text without the characters XML 1.0 forbids."""
    return strip_forbidden(value).strip()


def sub(parent: etree._Element, tag: str, value: str | None = None, **attrib: str) -> etree._Element:
    """Append ``<tag attrib>value</tag>`` to ``parent`` (``tag`` in Clark notation); codes and
    attributes lose the characters XML forbids too (lxml would raise on them)."""
    element = etree.SubElement(parent, tag, {k: strip_forbidden(v) for k, v in attrib.items()})
    if value is not None:
        element.text = strip_forbidden(value)
    return element


def iso(day: dt.date) -> str:
    return day.isoformat()


def yyyymmdd(day: dt.date) -> str:
    return day.strftime("%Y%m%d")


def serialise(root: etree._Element) -> bytes:
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)
