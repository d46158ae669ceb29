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
"""
from __future__ import annotations

import copy
import json
import math
from bisect import bisect_left
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from difflib import SequenceMatcher
from itertools import zip_longest
from json.encoder import encode_basestring  # the ensure_ascii=False string encoder
from os.path import commonprefix
from typing import Any, Literal, NamedTuple

__all__ = [
    "Change", "Path", "Row", "SideBySide",
    "apply", "diff", "format_path", "side_by_side", "text_report", "to_json_ops",
]

Path = tuple[str | int, ...]
Op = Literal["add", "remove", "replace"]
Kind = Literal["same", "added", "removed", "changed", "fold"]
Spans = tuple[tuple[int, int], ...]

_SPAN_LIMIT = 1000  # differing middles longer than this get one span (difflib is slow)


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
    line numbers in each pretty-printed document; spans are (start, end) str indices
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
    """Both documents as ``json.dumps(indent=2, sort_keys=True, ensure_ascii=False)``
    lines, aligned structurally. A missing document shows no lines."""
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


def _scalar(value: Any) -> str:
    """The value as json.dumps(ensure_ascii=False) writes it, without its overhead."""
    kind = type(value)
    if kind is str:
        return encode_basestring(value)
    if kind is int:
        return int.__repr__(value)
    if kind is bool or value is None:
        return _CONSTANTS[value]
    if kind is float and math.isfinite(value):
        return float.__repr__(value)
    return json.dumps(value)  # NaN, Infinity; a TypeError for non-JSON values


def _lines(value: Any, pad: str, prefix: str, comma: str) -> list[str]:
    if not isinstance(value, (dict, list)):
        return [pad + prefix + _scalar(value) + comma]
    lines = json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False).split("\n")
    out = [pad + prefix + lines[0]] + [pad + line for line in lines[1:]]
    out[-1] += comma
    return out


def _spans(x: str, y: str, offset: int) -> tuple[Spans, Spans]:
    """Differing character ranges: common head and tail trimmed, difflib on the middle
    unless it is long (then the whole middle is one span)."""
    head = len(commonprefix([x, y]))
    tail = len(commonprefix([x[head:][::-1], y[head:][::-1]]))
    mid_x, mid_y = x[head:len(x) - tail], y[head:len(y) - tail]
    start = offset + head
    if len(mid_x) + len(mid_y) > _SPAN_LIMIT:
        opcodes = [("replace", 0, len(mid_x), 0, len(mid_y))]
    else:
        opcodes = SequenceMatcher(None, mid_x, mid_y, autojunk=False).get_opcodes()
    left, right = [], []
    for tag, i1, i2, j1, j2 in opcodes:
        if tag != "equal":
            if i2 > i1:
                left.append((start + i1, start + i2))
            if j2 > j1:
                right.append((start + j1, start + j2))
    return tuple(left), tuple(right)


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
            x, y = _scalar(b), _scalar(a)
            spans = _spans(x, y, len(pad) + len(prefix))
            self.row(pad + prefix + x + cb, pad + prefix + y + ca, "changed", format_path(path),
                     *spans)
        else:
            where = format_path(path)
            for left, right in zip_longest(_lines(b, pad, prefix, cb), _lines(a, pad, prefix, ca)):
                kind: Kind = ("changed" if left is not None and right is not None
                              else "removed" if right is None else "added")
                self.row(left, right, kind, where)

    def dict_items(self, b: dict[str, Any], a: dict[str, Any], pad: str, path: Path) -> None:
        last_b = max(b) if b else None
        last_a = max(a) if a else None
        for k in sorted(b.keys() | a.keys()):
            prefix = encode_basestring(k) + ": "
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
