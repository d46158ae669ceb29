"""Structural diff of two JSON documents (the audit log's before/after data).

``diff`` lists the changes, ``apply`` replays them, ``text_report`` prints them for the
CLI and ``side_by_side`` aligns the two pretty-printed documents row by row for the UI.

Rules:

- A missing document (``None``) is treated as ``{}``.
- Object key order never matters. Object keys are strings.
- The type is part of a value's identity: ``True`` differs from ``1`` and ``1`` differs
  from ``1.0`` (the stored JSON text differs, so the audit shows it). Floats compare by
  ``repr``: ``nan`` equals ``nan``, ``0.0`` differs from ``-0.0``. A change of type is
  one ``replace``.
- Arrays whose items are all objects with a unique ``"id"`` (on both sides) are matched
  by id; a moved item becomes a remove plus an add of its old value, followed by the
  changes inside it. Other arrays are aligned with difflib, so inserting one item in the
  middle is one ``add``; items in a replaced run are compared pairwise.
- Change values refer to the input documents (not copied); ``apply`` copies.

The side-by-side text is ``json.dumps(indent=2, sort_keys=True, ensure_ascii=False)``
made for reading: a string holding line breaks is shown one line per line (its ``\\n``
escapes become real line breaks, the next line indented under the opening quote), and
characters that would be invisible or rearrange the text (controls, bidi overrides,
zero-width and separator characters) are shown as ``\\uXXXX`` escapes. The text stays a
JSON reading of the value: join a string's lines with ``\\n`` and it parses back.
Changed lines carry word-level spans; when the two values share too little (a
similarity below ``WORD_RATIO``), the whole differing part is one span.
"""
from __future__ import annotations

import copy
import json
import math
import re
from bisect import bisect_left
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from difflib import SequenceMatcher
from itertools import zip_longest
from json.encoder import encode_basestring  # the ensure_ascii=False string encoder
from typing import Any, Literal, NamedTuple

__all__ = [
    "Change", "Path", "Row", "SideBySide",
    "apply", "diff", "format_path", "side_by_side", "text_report", "to_json_ops", "visible",
]

Path = tuple[str | int, ...]
Op = Literal["add", "remove", "replace"]
Kind = Literal["same", "added", "removed", "changed", "fold"]
Spans = tuple[tuple[int, int], ...]

_TOKEN_LIMIT = 2000  # differing middles with more tokens get one span (difflib is slow)
WORD_RATIO = 0.5  # below this similarity a changed value is highlighted whole
# Cc, Cf, Zl, Zp and Cs (Unicode 14); a test checks it still covers this Python's tables
_INVISIBLE = re.compile(
    "[\x00-\x1f\x7f-\x9f\xad\u0600-\u0605\u061c\u06dd\u070f\u0890-\u0891\u08e2\u180e"
    "\u200b-\u200f\u2028-\u202e\u2060-\u2064\u2066-\u206f\ud800-\udfff\ufeff\ufff9-\ufffb"
    "\U000110bd\U000110cd\U00013430-\U00013438\U0001bca0-\U0001bca3\U0001d173-\U0001d17a"
    "\U000e0001\U000e0020-\U000e007f]")
# an escape (\uXXXX or \x), a word, a run of white space, or any other single character
_TOKEN = re.compile(r"\\u[0-9a-fA-F]{4}|\\.|\w+|\s+|.", re.DOTALL)


@dataclass(frozen=True, slots=True)
class Change:
    """One change; ``old`` is None for "add", ``new`` is None for "remove"."""

    op: Op
    path: Path
    old: Any = None
    new: Any = None


# ---------------------------------------------------------------- diff / apply


def diff(before: Any, after: Any) -> list[Change]:
    """Changes that turn ``before`` into ``after`` when applied in order.

    Per array: removals first, by descending before-index; then additions by ascending
    after-index; then the changes inside matched items, at their after-index. After the
    removals the kept items are in after-order (they are a common subsequence), so when
    the add at after-index j runs, exactly the j items before it are in place.
    """
    out: list[Change] = []
    _diff({} if before is None else before, {} if after is None else after, (), out)
    return out


def _diff(b: Any, a: Any, path: Path, out: list[Change]) -> None:
    if isinstance(b, dict) and isinstance(a, dict):
        for k in sorted(b.keys() | a.keys()):
            if k not in a:
                out.append(Change("remove", (*path, k), old=b[k]))
            elif k not in b:
                out.append(Change("add", (*path, k), new=a[k]))
            else:
                _diff(b[k], a[k], (*path, k), out)
    elif isinstance(b, list) and isinstance(a, list):
        pairs, moved = _align(b, a)
        kept_b = {i for i, _ in pairs}
        kept_a = {j for _, j in pairs}
        for i in range(len(b) - 1, -1, -1):
            if i not in kept_b:
                out.append(Change("remove", (*path, i), old=b[i]))
        for j in range(len(a)):
            if j not in kept_a:
                out.append(Change("add", (*path, j), new=b[moved[j]] if j in moved else a[j]))
        for i, j in sorted(pairs + [(i, j) for j, i in moved.items()], key=lambda p: p[1]):
            _diff(b[i], a[j], (*path, j), out)
    elif not _same_scalar(b, a):
        out.append(Change("replace", path, old=b, new=a))


def _same_scalar(b: Any, a: Any) -> bool:
    if type(b) is not type(a) or isinstance(b, (dict, list)):
        return False
    return repr(b) == repr(a) if type(b) is float else b == a


def _canon(value: Any) -> str:
    """Strict identity key: distinguishes 1, 1.0 and true; ignores key order."""
    return json.dumps(value, sort_keys=True)


def _align(b: list[Any], a: list[Any]) -> tuple[list[tuple[int, int]], dict[int, int]]:
    """Matched (before, after) index pairs, increasing on both sides, and moved id-items
    as {after-index: before-index}."""
    ids_b, ids_a = _ids(b), _ids(a)
    if ids_b is not None and ids_a is not None:
        pos_a = {k: j for j, k in enumerate(ids_a)}
        common = [(i, pos_a[k]) for i, k in enumerate(ids_b) if k in pos_a]
        by_id = _longest_increasing(common)
        kept = {i for i, _ in by_id}
        return by_id, {j: i for i, j in common if i not in kept}
    keys_b, keys_a = [_canon(x) for x in b], [_canon(x) for x in a]
    head = 0  # common head and tail are matched exactly; difflib aligns the middle
    while head < min(len(b), len(a)) and keys_b[head] == keys_a[head]:
        head += 1
    tail = 0
    while tail < min(len(b), len(a)) - head and keys_b[-1 - tail] == keys_a[-1 - tail]:
        tail += 1
    pairs = [(i, i) for i in range(head)]
    # autojunk (the default) keeps long lists of repeated items from going quadratic
    matcher = SequenceMatcher(None, keys_b[head:len(b) - tail], keys_a[head:len(a) - tail])
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag in ("equal", "replace"):  # a replaced run is compared item by item
            pairs.extend(zip(range(head + i1, head + i2), range(head + j1, head + j2)))
    pairs += [(len(b) - tail + t, len(a) - tail + t) for t in range(tail)]
    return pairs, {}


def _ids(items: list[Any]) -> list[str] | None:
    keys = []
    for item in items:
        if not isinstance(item, dict) or "id" not in item:
            return None
        keys.append(_canon(item["id"]))
    return keys if len(set(keys)) == len(keys) else None


def _longest_increasing(pairs: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Longest subsequence of ``pairs`` (sorted by first) increasing in the second."""
    tails: list[int] = []  # index into pairs of the best tail for each length
    tail_js: list[int] = []
    prev = [-1] * len(pairs)
    for n, (_, j) in enumerate(pairs):
        k = bisect_left(tail_js, j)
        if k:
            prev[n] = tails[k - 1]
        if k == len(tails):
            tails.append(n)
            tail_js.append(j)
        else:
            tails[k], tail_js[k] = n, j
    out = []
    n = tails[-1] if tails else -1
    while n >= 0:
        out.append(pairs[n])
        n = prev[n]
    return out[::-1]


def to_json_ops(changes: Iterable[Change]) -> list[dict[str, Any]]:
    """The changes as JSON-ready dicts ``{"op", "path", "old", "new"}``."""
    return [{"op": c.op, "path": list(c.path), "old": c.old, "new": c.new} for c in changes]


def apply(doc: Any, ops: Iterable[Mapping[str, Any] | Change]) -> Any:
    """Apply ops (``to_json_ops`` dicts or ``Change``) in order to a copy of ``doc``."""
    out = copy.deepcopy({} if doc is None else doc)
    for op in ops:
        kind, path, new = (op.op, op.path, op.new) if isinstance(op, Change) else (
            op["op"], tuple(op["path"]), op.get("new"))
        if not path:
            if kind != "replace":
                raise ValueError(f"cannot {kind} the whole document")
            out = copy.deepcopy(new)
            continue
        parent = out
        try:
            for step in path[:-1]:
                parent = parent[step]
        except (KeyError, IndexError, TypeError) as exc:
            raise ValueError(f"no {format_path(path[:-1])} to {kind} into") from exc
        last = path[-1]
        if isinstance(parent, list):
            if type(last) is not int or not 0 <= last < len(parent) + (kind == "add"):
                raise ValueError(f"bad index in {kind} {format_path(path)}")
        elif not isinstance(parent, dict) or (last in parent) == (kind == "add"):
            raise ValueError(f"cannot {kind} {format_path(path)}")
        if kind == "add" and isinstance(parent, list):
            parent.insert(last, copy.deepcopy(new))
        elif kind in ("add", "replace"):
            parent[last] = copy.deepcopy(new)
        elif kind == "remove":
            del parent[last]
        else:
            raise ValueError(f"unknown op {kind!r}")
    return out


# ---------------------------------------------------------------- text


def format_path(path: Path) -> str:
    """``("contacts", 2, "email")`` -> ``contacts[2].email``; odd keys as ``["we ird"]``."""
    parts = []
    for step in path:
        if isinstance(step, int):
            parts.append(f"[{step}]")
        elif step.isidentifier():
            parts.append(f".{step}" if parts else step)
        else:
            parts.append(f"[{encode_basestring(step)}]")
    return "".join(parts)


def _value(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def text_report(changes: Iterable[Change]) -> str:
    """One line per change: ``path: old -> new``, ``+ path: new``, ``- path: old``."""
    lines = []
    for c in changes:
        where = format_path(c.path) or "(document)"
        if c.op == "add":
            lines.append(f"+ {where}: {_value(c.new)}")
        elif c.op == "remove":
            lines.append(f"- {where}: {_value(c.old)}")
        else:
            lines.append(f"{where}: {_value(c.old)} -> {_value(c.new)}")
    return "\n".join(lines)


# ---------------------------------------------------------------- side by side


class Row(NamedTuple):
    """One aligned row. ``left``/``right`` is None for a filler; ``*_no`` are 1-based
    line numbers in each side's display lines; spans are (start, end) str indices
    into the line text (code points, not UTF-16 units)."""

    left: str | None
    right: str | None
    kind: Kind
    path: str | None = None
    left_spans: Spans = ()
    right_spans: Spans = ()
    left_no: int | None = None
    right_no: int | None = None


@dataclass(slots=True)
class SideBySide:
    """Aligned rows. ``path_rows`` maps every path of ``diff()`` (as ``format_path``
    text) to its first row; changes inside a moved id-item map to the item's added
    block, and an empty container gaining or losing items has rows under its own path."""

    rows: list[Row]
    path_rows: dict[str, int]


def side_by_side(before: Any, after: Any, only_changes: bool = False,
                 context: int = 3) -> SideBySide:
    """Both documents as display lines (``json.dumps(indent=2, sort_keys=True,
    ensure_ascii=False)``, multi-line strings as lines, invisible characters escaped; see
    the module's docstring), aligned structurally. A missing document shows no lines."""
    builder = _Builder()
    builder.walk({} if before is None else before, {} if after is None else after,
                 "", "", "", "", ())
    rows = builder.rows
    if before is None:  # the missing side's "{}" is row 0
        rows[0] = rows[0]._replace(left=None, left_no=None, kind="added", path="")
    if after is None:
        rows[0] = rows[0]._replace(right=None, right_no=None, kind="removed", path="")
    if rows[0].left is None and rows[0].right is None:
        del rows[0]
    index = list(range(len(rows)))
    if only_changes:
        rows, index = _fold(rows, context)
    path_rows: dict[str, int] = {}
    for n, row in enumerate(rows):
        if row.path is not None and row.path not in path_rows:
            path_rows[row.path] = n
    for path, n in builder.aliases:
        path_rows.setdefault(path, index[n])
    return SideBySide(rows, path_rows)


_CONSTANTS = {None: "null", True: "true", False: "false"}  # 1/0 never reach the lookup
_SCALARS = frozenset({str, int, float, bool, type(None)})


def visible(text: str) -> str:
    """``text`` with every control, format (bidi, zero-width), separator and surrogate
    character written as a JSON escape, so nothing in it is invisible or reorders it."""
    return text if text.isprintable() else _INVISIBLE.sub(_escape, text)  # the fast test first


def _escape(match: re.Match[str]) -> str:
    return json.dumps(match.group())[1:-1]  # \uXXXX, a surrogate pair for astral ones


def _literal(text: str) -> str:
    """A string as json.dumps(ensure_ascii=False) writes it, made visible."""
    return visible(encode_basestring(text))


def _scalar(value: Any) -> str:
    """The value as json.dumps(ensure_ascii=False) writes it, without its overhead."""
    kind = type(value)
    if kind is str:
        return _literal(value)
    if kind is int:
        return int.__repr__(value)
    if kind is bool or value is None:
        return _CONSTANTS[value]
    if kind is float and math.isfinite(value):
        return float.__repr__(value)
    return json.dumps(value)  # NaN, Infinity; a TypeError for non-JSON values


def _multiline(value: Any) -> bool:
    return type(value) is str and "\n" in value


def _string_lines(text: str, pad: str, prefix: str, comma: str) -> list[str]:
    """A string with line breaks, one display line per line of it."""
    parts = [_literal(part)[1:-1] for part in text.split("\n")]
    indent = " " * (len(pad) + len(prefix) + 1)  # under the first character after the quote
    return ([f'{pad}{prefix}"{parts[0]}'] + [indent + part for part in parts[1:-1]]
            + [f'{indent}{parts[-1]}"{comma}'])


def _lines(value: Any, pad: str, prefix: str, comma: str) -> list[str]:
    """The value's display lines (json.dumps with indent=2, sort_keys and line breaks)."""
    if _multiline(value):
        return _string_lines(value, pad, prefix, comma)
    if not isinstance(value, (dict, list)):
        return [pad + prefix + _scalar(value) + comma]
    opener, closer = "{}" if isinstance(value, dict) else "[]"
    if not value:
        return [pad + prefix + opener + closer + comma]
    items = ([(_key(k), value[k]) for k in sorted(value)] if isinstance(value, dict)
             else [("", item) for item in value])
    out = [pad + prefix + opener]
    for n, (key, item) in enumerate(items):
        out += _lines(item, pad + "  ", key, "," if n < len(items) - 1 else "")
    out.append(pad + closer + comma)
    return out


def _key(key: str) -> str:
    return _literal(key) + ": "


def _spans(x: str, y: str) -> tuple[Spans, Spans]:
    """The differing words of two lines: common head and tail trimmed, difflib on the
    tokens of the middle. When the middles share less than WORD_RATIO of their characters
    (or are long), the whole middle is one span: "Technical" -> "Billing" is one change,
    not a few letters."""
    tx, ty = _TOKEN.findall(x), _TOKEN.findall(y)
    head = 0
    while head < min(len(tx), len(ty)) and tx[head] == ty[head]:
        head += 1
    tail = 0
    while tail < min(len(tx), len(ty)) - head and tx[-1 - tail] == ty[-1 - tail]:
        tail += 1
    mid_x, mid_y = tx[head:len(tx) - tail], ty[head:len(ty) - tail]
    start_x, start_y = sum(map(len, tx[:head])), sum(map(len, ty[:head]))
    opcodes = [("replace", 0, len(mid_x), 0, len(mid_y))]
    if mid_x and mid_y and len(mid_x) + len(mid_y) <= _TOKEN_LIMIT:
        matcher = SequenceMatcher(None, mid_x, mid_y, autojunk=False)
        shared = sum(len(t) for i, _, size in matcher.get_matching_blocks()
                     for t in mid_x[i:i + size])
        size_x, size_y = sum(map(len, mid_x)), sum(map(len, mid_y))
        if 2 * shared >= WORD_RATIO * (size_x + size_y):
            opcodes = matcher.get_opcodes()
    return (_char_spans(mid_x, start_x, [(i1, i2) for tag, i1, i2, _, _ in opcodes if tag != "equal"]),
            _char_spans(mid_y, start_y, [(j1, j2) for tag, _, _, j1, j2 in opcodes if tag != "equal"]))


def _char_spans(tokens: list[str], start: int, runs: list[tuple[int, int]]) -> Spans:
    """Token index runs as character (start, end) ranges; empty runs are left out."""
    ends = [start]
    for token in tokens:
        ends.append(ends[-1] + len(token))
    return tuple((ends[i1], ends[i2]) for i1, i2 in runs if i2 > i1)


class _Builder:
    """Walks both trees together, appending aligned rows."""

    def __init__(self) -> None:
        self.rows: list[Row] = []
        self.aliases: list[tuple[str, int]] = []  # nested paths of moved items -> row
        self.left_no = 0
        self.right_no = 0

    def row(self, left: str | None, right: str | None, kind: Kind, path: str | None = None,
            left_spans: Spans = (), right_spans: Spans = ()) -> None:
        ln = rn = None
        if left is not None:
            self.left_no = ln = self.left_no + 1
        if right is not None:
            self.right_no = rn = self.right_no + 1
        self.rows.append(Row(left, right, kind, path, left_spans, right_spans, ln, rn))

    def block(self, value: Any, pad: str, prefix: str, comma: str, left: bool,
              path: Path) -> None:
        where = format_path(path)
        for line in _lines(value, pad, prefix, comma):
            if left:
                self.row(line, None, "removed", where)
            else:
                self.row(None, line, "added", where)

    def walk(self, b: Any, a: Any, pad: str, prefix: str, cb: str, ca: str,
             path: Path) -> None:
        if type(b) in _SCALARS and _same_scalar(b, a):
            if _multiline(b):
                for left, right in zip(_lines(b, pad, prefix, cb), _lines(a, pad, prefix, ca)):
                    self.row(left, right, "same")
                return
            text = pad + prefix + _scalar(b)
            self.row(text + cb, text + ca, "same")
            return
        is_dict = isinstance(b, dict) and isinstance(a, dict)
        if is_dict or (isinstance(b, list) and isinstance(a, list)):
            opener, closer = "{}" if is_dict else "[]"
            head = pad + prefix + opener
            if not b and not a:
                self.row(head + closer + cb, head + closer + ca, "same")
                return
            where = None if b and a else format_path(path)
            if b and a:
                self.row(head, head, "same")
            else:  # one side empty: "[]" against "[" ... "]"
                self.row(head if b else head + closer + cb, head if a else head + closer + ca,
                         "changed", where)
            (self.dict_items if is_dict else self.list_items)(b, a, pad + "  ", path)
            if b and a:
                self.row(pad + closer + cb, pad + closer + ca, "same")
            elif b:
                self.row(pad + closer + cb, None, "removed", where)
            else:
                self.row(None, pad + closer + ca, "added", where)
        elif type(b) is str and type(a) is str:
            self.text(b, a, pad, prefix, cb, ca, format_path(path))
        else:
            where = format_path(path)
            for left, right in zip_longest(_lines(b, pad, prefix, cb), _lines(a, pad, prefix, ca)):
                kind: Kind = ("changed" if left is not None and right is not None
                              else "removed" if right is None else "added")
                self.row(left, right, kind, where)

    def text(self, b: str, a: str, pad: str, prefix: str, cb: str, ca: str, where: str) -> None:
        """A changed string: one row, or its lines aligned by difflib when either has
        line breaks (equal lines are "same" rows, paired lines get word spans)."""
        left, right = _lines(b, pad, prefix, ""), _lines(a, pad, prefix, "")
        opcodes = [("replace", 0, 1, 0, 1)] if len(left) == len(right) == 1 else \
            SequenceMatcher(None, b.split("\n"), a.split("\n")).get_opcodes()
        for tag, i1, i2, j1, j2 in opcodes:
            pairs = zip(range(i1, i2), range(j1, j2)) if tag == "equal" else \
                zip_longest(range(i1, i2), range(j1, j2))
            for i, j in pairs:
                x = None if i is None else left[i] + (cb if i == len(left) - 1 else "")
                y = None if j is None else right[j] + (ca if j == len(right) - 1 else "")
                if x is None or y is None:
                    self.row(x, y, "removed" if y is None else "added", where)
                elif left[i] == right[j]:
                    self.row(x, y, "same")
                else:
                    self.row(x, y, "changed", where, *_spans(left[i], right[j]))

    def dict_items(self, b: dict[str, Any], a: dict[str, Any], pad: str, path: Path) -> None:
        last_b = max(b) if b else None
        last_a = max(a) if a else None
        for k in sorted(b.keys() | a.keys()):
            prefix = _key(k)
            cb = "" if k == last_b else ","
            ca = "" if k == last_a else ","
            if k in b and k in a:
                self.walk(b[k], a[k], pad, prefix, cb, ca, (*path, k))
            elif k in b:
                self.block(b[k], pad, prefix, cb, True, (*path, k))
            else:
                self.block(a[k], pad, prefix, ca, False, (*path, k))

    def list_items(self, b: list[Any], a: list[Any], pad: str, path: Path) -> None:
        pairs, moved = _align(b, a)
        nb, na = len(b), len(a)
        next_b = next_a = 0
        for pb, pa in [*pairs, (nb, na)]:  # before-only items, after-only items, the pair
            for i in range(next_b, pb):
                self.block(b[i], pad, "", "," if i < nb - 1 else "", True, (*path, i))
            for j in range(next_a, pa):
                if j in moved:  # changes inside a moved item link to its added block
                    nested: list[Change] = []
                    _diff(b[moved[j]], a[j], (*path, j), nested)
                    self.aliases += [(format_path(c.path), len(self.rows)) for c in nested]
                self.block(a[j], pad, "", "," if j < na - 1 else "", False, (*path, j))
            if pb < nb:
                self.walk(b[pb], a[pa], pad, "", "," if pb < nb - 1 else "",
                          "," if pa < na - 1 else "", (*path, pa))
            next_b, next_a = pb + 1, pa + 1


def _fold(rows: list[Row], context: int) -> tuple[list[Row], list[int]]:
    """Fold runs of more than 2*context "same" rows into one "fold" row; returns the
    rows and each old row's new index."""
    out: list[Row] = []
    index = [0] * len(rows)
    n = 0
    while n < len(rows):
        end = n
        while end < len(rows) and rows[end].kind == "same":
            end += 1
        if end == n:
            index[n] = len(out)
            out.append(rows[n])
            n += 1
            continue
        head = context if n > 0 else 0  # keep context next to changes only
        tail = context if end < len(rows) else 0
        if end - n <= 2 * context:
            head, tail = end - n, 0
        for k in range(n, end):
            if n + head <= k < end - tail:
                if k == n + head:
                    count = end - tail - k
                    text = f"{count} unchanged line{'s' if count != 1 else ''}"
                    out.append(Row(text, text, "fold"))
                index[k] = len(out) - 1
            else:
                index[k] = len(out)
                out.append(rows[k])
        n = end
    return out, index
