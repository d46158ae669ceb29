"""JSON diff: ``diff`` + ``side_by_side`` of two 10,000-key documents, ~5% of values changed.

Baseline, measured in the same run: pretty-printing both documents the way the viewer
shows them (``json.dumps(indent=2, sort_keys=True, ensure_ascii=False)``), the least any
side-by-side view has to do.
"""
from __future__ import annotations

import json
import random
import statistics
import time
from collections.abc import Callable
from typing import Any

from cxdesk.services.jsondiff import diff, side_by_side

KEYS = 10_000
CHANGED = 0.05


def _value(rng: random.Random, n: int) -> Any:
    kind = n % 5
    if kind == 0:
        return f"value {rng.randrange(10**6)} é ✓"
    if kind == 1:
        return rng.randrange(10**6)
    if kind == 2:
        return round(rng.uniform(0, 1000), 4)
    if kind == 3:
        return rng.random() < 0.5
    return None


def _flat(rng: random.Random) -> dict[str, Any]:
    return {f"key{n:05d}": _value(rng, n) for n in range(KEYS)}


def _nested(rng: random.Random) -> dict[str, Any]:
    """10 sections x 10 groups x 100 leaves; a few groups hold arrays of id-objects."""
    doc: dict[str, Any] = {}
    n = 0
    for s in range(10):
        section: dict[str, Any] = {}
        for g in range(10):
            leaves = {f"field{k:03d}": _value(rng, n + k) for k in range(100)}
            n += 100
            if g == 9:
                items = list(leaves.items())
                leaves = {"items": [{"id": i, "name": k, "value": v}
                                    for i, (k, v) in enumerate(items[:50])],
                          **dict(items[50:])}
            section[f"group{g}"] = leaves
        doc[f"section{s}"] = section
    return doc


def _leaf_paths(doc: Any, path: tuple = ()) -> list[tuple]:
    if isinstance(doc, dict):
        return [p for k, v in doc.items() for p in _leaf_paths(v, (*path, k))]
    if isinstance(doc, list):
        return [p for i, v in enumerate(doc) for p in _leaf_paths(v, (*path, i))]
    return [path]


def _mutate(doc: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    after = json.loads(json.dumps(doc))
    paths = _leaf_paths(after)
    for path in rng.sample(paths, int(len(paths) * CHANGED)):
        if path[-1] == "id":
            continue
        parent = after
        for step in path[:-1]:
            parent = parent[step]
        roll = rng.random()
        if roll < 0.1 and isinstance(parent, dict):
            del parent[path[-1]]  # removed key
        elif roll < 0.2 and isinstance(parent, dict):
            parent[f"{path[-1]}_new"] = "added"  # added key
        else:
            parent[path[-1]] = f"changed {rng.randrange(10**6)}"
    return after


def _median_s(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main(full: bool) -> None:
    repeat = 21 if full else 7
    rng = random.Random(20240101)
    for label, make in (("flat", _flat), ("nested", _nested)):
        before = make(rng)
        after = _mutate(before, rng)

        def baseline() -> None:
            for doc in (before, after):
                json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False)

        def work() -> None:
            diff(before, after)
            side_by_side(before, after)

        base = _median_s(baseline, repeat)
        spent = _median_s(work, repeat)
        folded = _median_s(lambda: side_by_side(before, after, only_changes=True), repeat)
        changes = len(diff(before, after))
        rows = len(side_by_side(before, after).rows)
        print(f"   diff+side_by_side {KEYS:,} keys {label}: {spent * 1000:.0f} ms "
              f"({spent / base:.1f}x json.dumps of both docs, {base * 1000:.0f} ms); "
              f"{changes} changes, {rows:,} rows; only_changes: {folded * 1000:.0f} ms "
              f"(median of {repeat})", flush=True)
