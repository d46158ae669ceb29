"""The one guard every export path puts text through: CSV, XLSX, clipboard, PDF (no Qt).

``safe_text`` makes a text cell safe to hand to a spreadsheet, in this order:

1. **Strip what XML 1.0 forbids** (``strip_forbidden``): the control characters other
   than tab, LF and CR (C0, DEL and C1: XML 1.0 forbids the C0 ones and discourages the
   others, and none belongs in a name or a comment), lone surrogates (how Python holds
   bytes that were not valid text, e.g. after ``surrogateescape``; a well-formed
   surrogate pair is first joined into its character) and the non-characters U+FFFE
   and U+FFFF.  Such characters make an XLSX file unreadable or an export crash, and a
   spreadsheet may skip them when it decides whether a cell is a formula.
2. **Neutralise a formula** (OWASP "CSV injection"): when the stripped text starts with
   a tab or a CR, or its first character after any leading whitespace (Unicode spaces,
   tab, LF, CR) and invisible format characters (zero-width space U+200B, joiners, BOM,
   bidi marks: category Cf) is one of ``= + - @`` or their full-width forms
   ``＝ ＋ － ＠``, a single quote is put in front.  Spreadsheets then show the text
   literally and never evaluate it.

Zero-width and other format characters are *skipped* when looking for the formula's
first character but *kept* in the text (they carry meaning in some scripts and in emoji
sequences): ``"\\u200b=1+1"`` becomes ``"'\\u200b=1+1"``.

Numbers: values that are numbers are exported as numeric cells (or, in CSV and TSV, as
the plain digits the program formats from a number) and never pass through this
function.  Text that merely *looks* numeric is still text and *is* neutralised: the
phone number ``"+441234567890"`` or a text ``"-5"`` becomes ``"'+441234567890"`` /
``"'-5"``, so a spreadsheet shows exactly what was stored instead of computing with it.

Non-``str`` values (numbers, dates, None, also ``bytes``) pass through unchanged.

Helpers: ``strip_forbidden`` alone where no spreadsheet reads the text (the invoice's
HTML for the PDF, sheet and document titles); ``safe_texts`` for a whole column (the CDR
report), the same result at C speed when no value needs a change.
"""
from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from typing import Any, TypeVar

T = TypeVar("T")

#: XML 1.0 forbidden or discouraged code points (tab, LF and CR are allowed)
_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")
_SURROGATE = re.compile("[\ud800-\udfff]")
#: the characters a spreadsheet reads as the start of a formula (ASCII and full-width)
FORMULA_START: frozenset[str] = frozenset("=+-@\uff1d\uff0b\uff0d\uff20")
#: first characters of a printable text that need a closer look
_CHECK_FIRST: frozenset[str] = FORMULA_START | {" "}
QUOTE = "'"


def strip_forbidden(text: str) -> str:
    """``text`` without the characters XML 1.0 forbids (see the module docstring)."""
    if text.isprintable():  # no control, surrogate or non-character: the common case
        return text
    if _SURROGATE.search(text):  # join well-formed pairs; the lone halves go below
        text = text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "surrogatepass")
    return _FORBIDDEN.sub("", text)


def _skipped(ch: str) -> bool:
    return ch.isspace() or unicodedata.category(ch) == "Cf"


def looks_like_formula(text: str) -> bool:
    """Whether a spreadsheet could take ``text`` (already stripped) for a formula."""
    if text[:1] in ("\t", "\r"):
        return True
    for ch in text:
        if ch in FORMULA_START:
            return True
        if not _skipped(ch):
            return False
    return False


def safe_text(value: T) -> T:
    """``value`` made safe for any export: XML-forbidden characters removed, then a
    leading single quote when it could be read as a formula; see the module docstring.
    Non-str values are returned unchanged."""
    if not isinstance(value, str):
        return value
    if value.isprintable():  # fast path: no control or format character, only ASCII spaces
        first = value[:1]
        if first not in _CHECK_FIRST:
            return value
        if first == " ":
            first = value.lstrip(" ")[:1]
        return QUOTE + value if first in FORMULA_START else value  # type: ignore[return-value]
    text = strip_forbidden(value)
    return QUOTE + text if looks_like_formula(text) else text  # type: ignore[return-value]


_RISKY_START = re.compile("\x1f *[=+\\-@\uff1d\uff0b\uff0d\uff20]")


def safe_texts(values: Iterable[Any]) -> list[Any]:
    """``[safe_text(v) for v in values]``, faster for a column of harmless strings: such a
    column is checked in bulk, at C speed, and only a column with a risky value is
    walked value by value.  A list that needs no change is returned itself."""
    if not isinstance(values, list):
        values = list(values)
    try:
        plain = "".join(values)
    except TypeError:  # not all str
        return [safe_text(v) for v in values]
    if plain.isprintable() and not _RISKY_START.search("\x1f" + "\x1f".join(values)):
        return values  # printable: no \x1f inside a value, so every match is a value's start
    return [safe_text(v) for v in values]
