"""The audit viewer's JSON diff: changes, apply round trip, report and side-by-side rows."""
from __future__ import annotations

import copy
import json
import random
import re
import sys
import unicodedata
from typing import Any

import pytest

from cxdesk.services.jsondiff import (
    Change, Row, apply, diff, format_path, side_by_side, text_report, to_json_ops, visible,
)


def canon(doc: Any) -> str:
    """Strict comparison: keeps 1, 1.0 and true apart (== does not), ignores key order."""
    return json.dumps(doc, sort_keys=True)


def pretty(doc: Any) -> list[str]:
    return json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False).split("\n")


def round_trip(before: Any, after: Any) -> list[Change]:
    """Assert the contract through JSON-serialised ops; return the changes."""
    snapshot = canon(before)
    changes = diff(before, after)
    ops = json.loads(json.dumps(to_json_ops(changes)))
    result = apply(before, ops)
    assert canon(result) == canon({} if after is None else after)
    assert canon(before) == snapshot, "diff/apply mutated the input"
    return changes


def ops_of(changes: list[Change]) -> list[tuple[str, str]]:
    return [(c.op, format_path(c.path)) for c in changes]


# ------------------------------------------------------------------ diff: hand-made


def test_equal_documents_give_no_changes() -> None:
    doc = {"a": 1, "b": {"c": [1, {"d": None}], "e": "x"}, "ids": [{"id": 1, "v": True}]}
    assert diff(doc, copy.deepcopy(doc)) == []
    reordered = {"ids": [{"v": True, "id": 1}], "b": {"e": "x", "c": [1, {"d": None}]}, "a": 1}
    assert diff(doc, reordered) == []


@pytest.mark.parametrize("before, after", [(None, None), (None, {}), ({}, None), ({}, {})])
def test_empty_sides_are_equal(before: Any, after: Any) -> None:
    assert diff(before, after) == []


def test_create_and_delete_treat_missing_document_as_empty_object() -> None:
    doc = {"name": "Acme", "tags": ["a"]}
    assert diff(None, doc) == [Change("add", ("name",), None, "Acme"),
                               Change("add", ("tags",), None, ["a"])]
    assert diff(doc, None) == [Change("remove", ("name",), "Acme", None),
                               Change("remove", ("tags",), ["a"], None)]
    assert apply(None, to_json_ops(diff(None, doc))) == doc
    assert apply(doc, to_json_ops(diff(doc, None))) == {}


def test_nested_dict_change_is_one_replace_at_full_path() -> None:
    before = {"a": {"b": {"c": 1, "d": 2}, "x": "same"}}
    after = {"a": {"x": "same", "b": {"d": 2, "c": 3, "e": []}}}
    changes = round_trip(before, after)
    assert changes == [Change("replace", ("a", "b", "c"), 1, 3),
                       Change("add", ("a", "b", "e"), None, [])]


@pytest.mark.parametrize("old, new", [
    (1, "1"), ({"a": 1}, [1]), ([1], {"a": 1}), (True, 1), (1, True), (0, False),
    (1, 1.0), (None, {}), ("x", None), ({}, []), (0.0, -0.0),
])
def test_type_change_is_a_single_replace(old: Any, new: Any) -> None:
    changes = round_trip({"v": old}, {"v": new})
    assert changes == [Change("replace", ("v",), old, new)]
    assert canon(changes[0].new) == canon(new)


def test_root_type_change_replaces_the_document() -> None:
    changes = round_trip({"a": 1}, [1, 2])
    assert changes == [Change("replace", (), {"a": 1}, [1, 2])]


def test_nan_equals_nan() -> None:
    assert diff({"x": float("nan")}, {"x": float("nan")}) == []


# ------------------------------------------------------------------ arrays with ids


def contacts(*items: tuple[int, str]) -> dict[str, Any]:
    return {"contacts": [{"id": i, "email": e} for i, e in items]}


def test_id_array_change_inside_item_is_matched_by_id() -> None:
    before = contacts((1, "a@x.com"), (2, "b@x.com"), (3, "c@x.com"))
    after = contacts((1, "a@x.com"), (2, "B@x.com"), (3, "c@x.com"))
    assert round_trip(before, after) == [
        Change("replace", ("contacts", 1, "email"), "b@x.com", "B@x.com")]


def test_id_array_added_and_removed_items() -> None:
    before = contacts((1, "a"), (2, "b"), (3, "c"))
    after = contacts((1, "a"), (3, "c"), (4, "d"))
    changes = round_trip(before, after)
    assert ops_of(changes) == [("remove", "contacts[1]"), ("add", "contacts[2]")]
    assert changes[0].old == {"id": 2, "email": "b"}
    assert changes[1].new == {"id": 4, "email": "d"}


def test_id_array_move_is_remove_plus_add_and_round_trips() -> None:
    before = contacts(*[(i, f"{i}@x") for i in range(1, 6)])
    after = contacts(*[(i, f"{i}@x") for i in (2, 3, 4, 5, 1)])
    changes = round_trip(before, after)
    assert ops_of(changes) == [("remove", "contacts[0]"), ("add", "contacts[4]")]


def test_id_array_moved_item_is_still_compared_recursively() -> None:
    before = contacts((1, "a"), (2, "b"), (3, "c"))
    after = contacts((3, "c"), (1, "a"), (2, "CHANGED"))
    changes = round_trip(before, after)
    assert Change("replace", ("contacts", 2, "email"), "b", "CHANGED") in changes
    assert [c.op for c in changes].count("replace") == 1


def test_id_array_reversed_round_trips_with_few_moves() -> None:
    before = contacts(*[(i, str(i)) for i in range(8)])
    after = {"contacts": list(reversed(before["contacts"]))}
    changes = round_trip(before, after)
    assert len(changes) == 2 * 7  # one item stays, seven move


def test_duplicate_ids_fall_back_to_alignment() -> None:
    before = {"l": [{"id": 1, "v": "a"}, {"id": 1, "v": "b"}]}
    round_trip(before, {"l": [{"id": 1, "v": "b"}, {"id": 1, "v": "a"}, {"id": 2}]})
    assert ops_of(round_trip(before, {"l": [{"id": 1, "v": "b"}]})) == [("remove", "l[0]")]
    appended = {"l": [*before["l"], {"id": 1, "v": "c"}]}
    assert ops_of(round_trip(before, appended)) == [("add", "l[2]")]


# ------------------------------------------------------------------ arrays without ids


def test_insert_in_the_middle_is_one_add() -> None:
    before = {"tags": ["a", "b", "c", "d", "e"]}
    after = {"tags": ["a", "b", "new", "c", "d", "e"]}
    assert round_trip(before, after) == [Change("add", ("tags", 2), None, "new")]


def test_delete_from_the_middle_is_one_remove() -> None:
    before = {"tags": ["a", "b", "c", "d"]}
    after = {"tags": ["a", "c", "d"]}
    assert round_trip(before, after) == [Change("remove", ("tags", 1), "b", None)]


def test_change_in_a_list_is_one_replace() -> None:
    assert round_trip([1, 2, 3, 4], [1, 2, 30, 4]) == [Change("replace", (2,), 3, 30)]


def test_change_inside_an_object_without_id_is_nested() -> None:
    before = {"rates": [{"dest": "UK", "price": "0.01"}, {"dest": "FR", "price": "0.02"}]}
    after = {"rates": [{"dest": "UK", "price": "0.01"}, {"dest": "FR", "price": "0.03"}]}
    assert round_trip(before, after) == [
        Change("replace", ("rates", 1, "price"), "0.02", "0.03")]


def test_long_lists_of_repeated_values_stay_minimal() -> None:
    rng = random.Random(11)
    flags = [rng.random() < 0.5 for _ in range(2000)]
    flipped = list(flags)
    for i in rng.sample(range(2000), 20):
        flipped[i] = not flipped[i]
    changes = round_trip({"f": flags}, {"f": flipped})
    assert len(changes) == 20 and {c.op for c in changes} == {"replace"}
    for at in (3, 1000, 1997):
        inserted = flags[:at] + [None] + flags[at:]
        assert round_trip({"f": flags}, {"f": inserted}) == [Change("add", ("f", at), None, None)]


def test_mixed_list_edits_round_trip() -> None:
    before = {"l": [0, 1, 2, 3, 4, 5, 6, 7]}
    after = {"l": ["x", 1, 2, 4, 5, "y", "z", 7, 8, 9]}
    round_trip(before, after)


# ------------------------------------------------------------------ unicode


def test_unicode_values_and_keys() -> None:
    before = {"name": "Zoë Ångström", "note": "ok 👍", "城市": "東京", "emoji 🎉": 1}
    after = {"name": "Zoé Ångström", "note": "ok 👎", "城市": "大阪", "emoji 🎉": 2}
    changes = round_trip(before, after)
    report = text_report(changes)
    assert 'name: "Zoë Ångström" -> "Zoé Ångström"' in report
    assert 'note: "ok 👍" -> "ok 👎"' in report
    assert '城市: "東京" -> "大阪"' in report
    assert '["emoji 🎉"]: 1 -> 2' in report


# ------------------------------------------------------------------ random pairs


def rand_scalar(rng: random.Random) -> Any:
    return rng.choice([
        lambda: rng.randint(-3, 3), lambda: rng.choice([0.5, 1.0, -2.25, 1e20]),
        lambda: rng.choice([True, False]), lambda: None,
        lambda: rng.choice(["", "a", "b", "é", "日本", "😀", "x y", "line\nbreak", "\u2028"]),
    ])()


KEYS = ["a", "b", "c", "id2", "we ird", "ключ", "1x", ""]


def rand_value(rng: random.Random, depth: int) -> Any:
    if depth >= 4 or rng.random() < 0.35:
        return rand_scalar(rng)
    kind = rng.randrange(3)
    if kind == 0:
        return {k: rand_value(rng, depth + 1) for k in rng.sample(KEYS, rng.randint(0, 4))}
    if kind == 1:
        return [rand_value(rng, depth + 1) for _ in range(rng.randint(0, 5))]
    return [{"id": i, **{k: rand_value(rng, depth + 1) for k in rng.sample(KEYS, 2)}}
            for i in rng.sample(range(10), rng.randint(0, 5))]


def mutate(rng: random.Random, value: Any, depth: int) -> Any:
    roll = rng.random()
    if roll < 0.1:
        return rand_value(rng, depth)  # replaced, often by another type
    if isinstance(value, dict):
        out = {k: (mutate(rng, v, depth + 1) if rng.random() < 0.5 else v)
               for k, v in value.items() if rng.random() > 0.15}
        for k in rng.sample(KEYS, rng.randint(0, 2)):
            out.setdefault(k, rand_value(rng, depth + 1))
        return out
    if isinstance(value, list):
        out = [mutate(rng, v, depth + 1) if rng.random() < 0.3 else v for v in value
               if rng.random() > 0.15]
        if all(isinstance(v, dict) and "id" in v for v in out) and rng.random() < 0.7:
            rng.shuffle(out)  # id items: moves, and new ids
            used = {v["id"] for v in out}
            for i in rng.sample([i for i in range(12) if i not in used], rng.randint(0, 2)):
                out.insert(rng.randint(0, len(out)), {"id": i, "a": rand_scalar(rng)})
        else:
            for _ in range(rng.randint(0, 2)):
                out.insert(rng.randint(0, len(out)), rand_value(rng, depth + 1))
        return out
    return rand_scalar(rng) if roll < 0.5 else value


def random_pairs(seed: int, count: int) -> list[tuple[Any, Any]]:
    rng = random.Random(seed)
    pairs = []
    for _ in range(count):
        before = {k: rand_value(rng, 1) for k in rng.sample(KEYS, rng.randint(0, 6))}
        after = mutate(rng, before, 1) if rng.random() < 0.9 else rand_value(rng, 0)
        pairs.append((before, after))
    return pairs


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_pairs_round_trip(seed: int) -> None:
    pairs = random_pairs(seed, 150)
    assert sum(bool(diff(b, a)) for b, a in pairs) > 100  # the generator really changes things
    for before, after in pairs:
        round_trip(before, after)
        assert diff(before, copy.deepcopy(before)) == []


@pytest.mark.parametrize("seed", [4, 5])
def test_random_pairs_side_by_side_shows_both_documents(seed: int) -> None:
    for before, after in random_pairs(seed, 100):
        view = side_by_side(before, after)
        for side, doc in (("left", before), ("right", after)):
            lines = [getattr(r, side) for r in view.rows if getattr(r, side) is not None]
            assert (parse_display(lines) if lines else None) == canon(doc), side
            assert not any(UNSAFE.search(line) for line in lines)
        assert_rows_consistent(view.rows)
        for change in diff(before, after):
            assert format_path(change.path) in view.path_rows
        folded = side_by_side(before, after, only_changes=True, context=1)
        assert [r for r in folded.rows if r.kind not in ("same", "fold")] == \
            [r for r in view.rows if r.kind != "same"]
        assert set(folded.path_rows) == set(view.path_rows)
        for path, n in folded.path_rows.items():
            assert folded.rows[n].path is not None and path.startswith(folded.rows[n].path)


UNSAFE = re.compile("[\x00-\x1f\x7f\u2028\u2029\u202e]")


def parse_display(lines: list[str]) -> str:
    """The display lines read back as JSON (``canon`` of it): a line ending inside a string
    goes on in the next line, after the indent under that string's opening quote."""
    text, indent, in_string = [], None, False
    for line in lines:
        if indent is None:
            text.append("\n" + line)
            start = 0
        else:
            assert line[:indent] == " " * indent, line
            text.append("\\n" + line[indent:])
            start = indent
        escaped = False
        for column in range(start, len(line)):
            if escaped:
                escaped = False
            elif in_string and line[column] == "\\":
                escaped = True
            elif line[column] == '"':
                in_string = not in_string
                opened = column + 1
        indent = opened if in_string else None
    assert not in_string
    return canon(json.loads("".join(text)))


def assert_rows_consistent(rows: list[Row]) -> None:
    for row in rows:
        if row.kind == "added":
            assert row.left is None and row.right is not None and row.path is not None
        elif row.kind == "removed":
            assert row.right is None and row.left is not None and row.path is not None
        elif row.kind == "changed":
            assert row.path is not None and (row.left, row.right) != (None, None)
        else:
            assert row.left is not None and row.right is not None and row.path is None
    lefts = [r.left_no for r in rows if r.left_no is not None]
    rights = [r.right_no for r in rows if r.right_no is not None]
    assert lefts == list(range(1, len(lefts) + 1))
    assert rights == list(range(1, len(rights) + 1))


# ------------------------------------------------------------------ apply


def test_apply_applies_ops_in_order_and_copies() -> None:
    doc = {"l": [1, 2, 3], "d": {"k": [0]}}
    ops = [{"op": "remove", "path": ["l", 0], "old": 1, "new": None},
           {"op": "add", "path": ["l", 0], "old": None, "new": "x"},
           {"op": "replace", "path": ["d", "k"], "old": [0], "new": [9]}]
    result = apply(doc, ops)
    assert result == {"l": ["x", 2, 3], "d": {"k": [9]}}
    assert doc == {"l": [1, 2, 3], "d": {"k": [0]}}
    result["d"]["k"].append(1)
    assert ops[2]["new"] == [9]


@pytest.mark.parametrize("op", [
    {"op": "add", "path": ["a"], "new": 1},  # exists already
    {"op": "remove", "path": ["zzz"]},
    {"op": "replace", "path": ["zzz"], "new": 1},
    {"op": "add", "path": ["l", 5], "new": 1},  # past the end
    {"op": "remove", "path": ["l", 2]},
    {"op": "remove", "path": []},
    {"op": "replace", "path": ["nope", "x"], "new": 1},  # no such parent
    {"op": "replace", "path": ["l", "x", "y"], "new": 1},
])
def test_apply_refuses_ops_that_do_not_fit(op: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        apply({"a": 0, "l": [1, 2]}, [op])


# ------------------------------------------------------------------ text


@pytest.mark.parametrize("path, text", [
    ((), ""),
    (("contacts", 2, "email"), "contacts[2].email"),
    (("we ird",), '["we ird"]'),
    (("a", "b-c", 0), 'a["b-c"][0]'),
    (("2fa",), '["2fa"]'),
    (("q\"uote",), '["q\\"uote"]'),
    ((0, 1), "[0][1]"),
    (("café", "_x1"), "café._x1"),
])
def test_format_path(path: tuple, text: str) -> None:
    assert format_path(path) == text


def test_text_report_one_line_per_change() -> None:
    before = {"contacts": [{"id": 1, "email": "a@x.com"}], "phone": "+442071234567",
              "tags": ["a", "b", "c"], "n": 1}
    after = {"contacts": [{"id": 1, "email": "b@x.com"}], "tags": ["a", "b", "c", "vip"],
             "n": "1", "secret": "******** (changed)"}
    assert text_report(diff(before, after)).split("\n") == [
        'contacts[0].email: "a@x.com" -> "b@x.com"',
        'n: 1 -> "1"',
        '- phone: "+442071234567"',
        '+ secret: "******** (changed)"',
        '+ tags[3]: "vip"',
    ]
    assert text_report([]) == ""
    assert text_report(diff({"a": 1}, [1])) == '(document): {"a": 1} -> [1]'
    assert text_report(diff({}, {"x": "a\nb"})) == '+ x: "a\\nb"'


# ------------------------------------------------------------------ side by side


def rows_for(view: Any, path: str) -> list[Row]:
    return [r for r in view.rows if r.path == path]


def test_side_by_side_equal_documents() -> None:
    doc = {"b": [1, {"c": None}], "a": "x"}
    view = side_by_side(doc, doc)
    assert [r.kind for r in view.rows] == ["same"] * len(pretty(doc))
    assert [r.left for r in view.rows] == pretty(doc) == [r.right for r in view.rows]
    assert view.path_rows == {}


def test_added_key_only_right_removed_key_only_left() -> None:
    view = side_by_side({"a": 1, "gone": "x"}, {"a": 1, "new": True})
    assert [(r.left, r.right, r.kind, r.path) for r in view.rows] == [
        ("{", "{", "same", None),
        ('  "a": 1,', '  "a": 1,', "same", None),
        ('  "gone": "x"', None, "removed", "gone"),
        (None, '  "new": true', "added", "new"),
        ("}", "}", "same", None),
    ]
    assert view.path_rows == {"gone": 2, "new": 3}


def test_nested_object_added_covers_all_its_lines() -> None:
    block = {"x": [1, {"y": "z"}], "e": {}}
    view = side_by_side({"a": 1}, {"a": 1, "b": block})
    rows = rows_for(view, "b")
    assert all(r.kind == "added" and r.left is None for r in rows)
    assert [r.right for r in rows] == pretty({"a": 1, "b": block})[2:-1]
    assert len(rows) == len(pretty(block))
    removed = side_by_side({"a": 1, "b": block}, {"a": 1})
    assert [r.left for r in rows_for(removed, "b")] == [r.right for r in rows]


def spans_of(row: Row) -> tuple[list[str], list[str]]:
    return ([row.left[s:e] for s, e in row.left_spans], [row.right[s:e] for s, e in row.right_spans])


def test_changed_string_spans_mark_the_differing_words() -> None:
    view = side_by_side(contacts((1, "a@x.com")), contacts((1, "b@x.com")))
    row = view.rows[view.path_rows["contacts[0].email"]]
    assert row.kind == "changed"
    assert (row.left, row.right) == ('      "email": "a@x.com",', '      "email": "b@x.com",')
    assert spans_of(row) == (["a"], ["b"])
    row = side_by_side({"s": "call 0044 back at 5pm"}, {"s": "call 0033 back at 6pm"}).rows[1]
    assert spans_of(row) == (["0044", "5pm"], ["0033", "6pm"])


def test_short_values_that_share_little_are_one_whole_change() -> None:
    view = side_by_side({"dept": "Technical", "name": "Acme Telecom Ltd", "n": "call back at 5pm"},
                        {"dept": "Billing", "name": "Beta Voice Ltd", "n": "sent invoice 42 by post"})
    assert spans_of(view.rows[view.path_rows["dept"]]) == (["Technical"], ["Billing"])
    assert spans_of(view.rows[view.path_rows["name"]]) == (["Acme Telecom"], ["Beta Voice"])
    assert spans_of(view.rows[view.path_rows["n"]]) == (["call back at 5pm"], ["sent invoice 42 by post"])
    # enough in common (the month and the year): only the changed word
    row = side_by_side({"d": "due 1 March 2024"}, {"d": "due 15 March 2024"}).rows[1]
    assert spans_of(row) == (["1"], ["15"])


def test_spans_with_emoji_and_masked_secrets() -> None:
    view = side_by_side({"s": "********", "t": "hi 😀 there"},
                        {"s": "******** (changed)", "t": "hi 😃 there"})
    s_row = view.rows[view.path_rows["s"]]
    assert spans_of(s_row) == ([], [" (changed)"])
    assert spans_of(view.rows[view.path_rows["t"]]) == (["😀"], ["😃"])


def test_spans_in_escaped_and_long_strings() -> None:
    view = side_by_side({"q": 'say "hi"\t'}, {"q": 'say "ho"\t'})
    row = view.rows[1]
    assert row.left == '  "q": "say \\"hi\\"\\t"'
    assert spans_of(row) == (["hi"], ["ho"])
    words = [f"w{n}" for n in range(1500)]
    long_before, long_after = " ".join(words + ["X"] + words), " ".join(words + ["YZ"] + words)
    row = side_by_side({"s": long_before}, {"s": long_after}).rows[1]
    assert spans_of(row) == (["X"], ["YZ"])
    # long strings differing all over: one span around the middle
    row = side_by_side({"s": "<" + " ".join(words) + ">"}, {"s": "<" + " ".join(words[::-1]) + ">"}).rows[1]
    (ls, le), = row.left_spans
    (rs, re_), = row.right_spans
    assert row.left[:ls].endswith('"<') and row.left[le:] == '>"'
    assert row.right[:rs].endswith('"<') and row.right[re_:] == '>"'


NOTE_BEFORE = "Customer called.\nAsked for refund.\nOK"
NOTE_AFTER = "Customer called.\nAsked for a refund of 12.50.\nApproved by Ann.\nOK"


def test_multi_line_strings_are_aligned_line_by_line() -> None:
    view = side_by_side({"a": 1, "note": NOTE_BEFORE}, {"a": 1, "note": NOTE_AFTER})
    assert [(r.left_no, r.left, r.right_no, r.right, r.kind) for r in view.rows] == [
        (1, "{", 1, "{", "same"),
        (2, '  "a": 1,', 2, '  "a": 1,', "same"),
        (3, '  "note": "Customer called.', 3, '  "note": "Customer called.', "same"),
        (4, "           Asked for refund.", 4, "           Asked for a refund of 12.50.", "changed"),
        (None, None, 5, "           Approved by Ann.", "added"),
        (5, '           OK"', 6, '           OK"', "same"),
        (6, "}", 7, "}", "same"),
    ]
    assert view.path_rows == {"note": 3}
    assert spans_of(view.rows[3]) == ([], ["a ", " of 12.50"])
    assert_rows_consistent(view.rows)
    folded = side_by_side({"note": "\n".join(map(str, range(20)))},
                          {"note": "\n".join(map(str, range(19))) + "\nlast"}, only_changes=True, context=1)
    assert [r.kind for r in folded.rows] == ["fold", "same", "changed", "same"]
    assert (folded.rows[2].left, folded.rows[2].right) == ('           19"', '           last"')


def test_a_line_break_added_to_a_one_line_string() -> None:
    view = side_by_side({"s": "abc"}, {"s": "abc\n"})
    assert [(r.left, r.right, r.kind) for r in view.rows[1:-1]] == [
        ('  "s": "abc"', '  "s": "abc', "changed"),
        (None, '        "', "added"),
    ]
    assert spans_of(view.rows[1]) == (['"'], [])


def test_multi_line_strings_inside_unchanged_and_added_values() -> None:
    doc = {"l": ["x\ny", {"k": "1\n2"}]}
    view = side_by_side(doc, {**doc, "new": {"m": "p\r\nq"}})
    assert [r.left for r in view.rows if r.left is not None] == [
        "{", '  "l": [', '    "x', '     y",', "    {", '      "k": "1', '            2"', "    }", "  ]", "}"]
    assert [r.right for r in view.rows if r.kind == "added"] == [
        '  "new": {', '    "m": "p\\r', '          q"', "  }"]


@pytest.mark.parametrize("hostile, shown", [
    ("<b>bold</b> <script>x()</script>", "<b>bold</b> <script>x()</script>"),
    ("abc\u202edef", "abc\\u202edef"),  # right-to-left override
    ("a\u2066b\u2069\u200bc\ufeff", "a\\u2066b\\u2069\\u200bc\\ufeff"),  # isolates, zero width
    ("bell\x07 esc\x1b[31m del\x7f c1\x85", "bell\\u0007 esc\\u001b[31m del\\u007f c1\\u0085"),
    ("para\u2029sep\u2028line", "para\\u2029sep\\u2028line"),
    ("tag\U000e0041", "tag\\udb40\\udc41"),
])
def test_hostile_text_is_shown_with_visible_escapes(hostile: str, shown: str) -> None:
    view = side_by_side({hostile: hostile}, {hostile: hostile + "!"})
    row = view.rows[1]
    assert row.left == f'  "{shown}": "{shown}"'
    assert row.right == f'  "{shown}": "{shown}!"'
    assert json.loads("{" + row.left + "}") == {hostile: hostile}
    assert visible(hostile) == shown


def test_the_invisible_characters_cover_this_pythons_unicode_tables() -> None:
    hidden = {"Cc", "Cf", "Zl", "Zp", "Cs"}
    missing = [hex(c) for c in range(sys.maxunicode + 1)
               if unicodedata.category(chr(c)) in hidden and visible(chr(c)) == chr(c)]
    assert missing == []
    assert visible("plain é 日本 😀 \u00a0") == "plain é 日本 😀 \u00a0"


def test_changed_non_strings_and_type_changes() -> None:
    view = side_by_side({"n": 1, "t": {"k": 1}}, {"n": 2, "t": ["a", "b"]})
    n_row = view.rows[view.path_rows["n"]]
    assert (n_row.left, n_row.right, n_row.kind) == ('  "n": 1,', '  "n": 2,', "changed")
    t_rows = rows_for(view, "t")
    assert [r.left for r in t_rows if r.left] == ['  "t": {', '    "k": 1', "  }"]
    assert [r.right for r in t_rows if r.right] == ['  "t": [', '    "a",', '    "b"', "  ]"]
    assert [r.kind for r in t_rows] == ["changed", "changed", "changed", "added"]


def test_empty_container_gaining_items() -> None:
    view = side_by_side({"l": []}, {"l": [1, 2]})
    assert [(r.left, r.right, r.kind) for r in view.rows] == [
        ("{", "{", "same"),
        ('  "l": []', '  "l": [', "changed"),
        (None, "    1,", "added"),
        (None, "    2", "added"),
        (None, "  ]", "added"),
        ("}", "}", "same"),
    ]
    assert view.path_rows["l[0]"] == 2 and view.path_rows["l[1]"] == 3


def test_missing_document_shows_no_lines() -> None:
    doc = {"a": {"b": 1}}
    created = side_by_side(None, doc)
    assert all(r.left is None and r.kind == "added" for r in created.rows)
    assert [r.right for r in created.rows] == pretty(doc)
    deleted = side_by_side(doc, None)
    assert all(r.right is None and r.kind == "removed" for r in deleted.rows)
    assert side_by_side(None, None).rows == []
    only_right = side_by_side(None, {}).rows
    assert [(r.left, r.right, r.kind) for r in only_right] == [(None, "{}", "added")]


def test_id_array_rows_follow_the_ids() -> None:
    before = contacts((1, "a"), (2, "b"), (3, "c"))
    after = contacts((3, "c"), (1, "a"), (2, "B"))  # 3 moved to the front, 2 changed
    view = side_by_side(before, after)
    assert_rows_consistent(view.rows)
    assert [r.left for r in view.rows if r.left is not None] == pretty(before)
    assert [r.right for r in view.rows if r.right is not None] == pretty(after)
    moved_in = rows_for(view, "contacts[0]")
    assert moved_in and all(r.kind == "added" for r in moved_in)
    assert all(r.kind == "removed" for r in rows_for(view, "contacts[2]"))
    changed = view.rows[view.path_rows["contacts[2].email"]]
    assert (changed.left, changed.right) == ('      "email": "b",', '      "email": "B",')


def test_path_rows_link_to_moved_item_changes() -> None:
    before = contacts((1, "a"), (2, "b"))
    after = contacts((2, "B"), (1, "a"))
    changes = diff(before, after)
    view = side_by_side(before, after)
    for change in changes:
        row = view.rows[view.path_rows[format_path(change.path)]]
        assert row.kind != "same"
        assert format_path(change.path).startswith(row.path)


def test_path_rows_point_at_first_row_of_each_change() -> None:
    before = {"a": 1, "b": {"c": "x", "d": [1, 2]}, "z": None}
    after = {"a": 1, "b": {"c": "y", "d": [1, 2, {"e": 1}]}, "y": 0}
    view = side_by_side(before, after)
    for path, n in view.path_rows.items():
        assert view.rows[n].path == path
        assert all(r.path != path for r in view.rows[:n])
    assert view.rows[view.path_rows["b.c"]].right == '    "c": "y",'
    assert view.rows[view.path_rows["b.d[2]"]].right == "      {"
    assert view.rows[view.path_rows["y"]].right == '  "y": 0'
    assert view.rows[view.path_rows["z"]].left == '  "z": null'


def flat(n: int) -> dict[str, int]:
    return {f"k{i:02d}": i for i in range(n)}


def test_fold_keeps_context_around_a_change() -> None:
    before, after = flat(20), {**flat(20), "k10": -1}
    view = side_by_side(before, after, only_changes=True, context=3)
    assert [r.kind for r in view.rows] == ["fold"] + ["same"] * 3 + ["changed"] + \
        ["same"] * 3 + ["fold"]
    assert (view.rows[0].left, view.rows[0].right) == ("8 unchanged lines", "8 unchanged lines")
    assert view.rows[-1].left == "7 unchanged lines"  # k14..k19 and "}"
    assert view.rows[4].left == '  "k10": 10,' and view.rows[4].right == '  "k10": -1,'
    assert view.path_rows == {"k10": 4}
    assert [r.left for r in view.rows[1:4]] == ['  "k07": 7,', '  "k08": 8,', '  "k09": 9,']


def test_fold_between_two_changes_and_short_runs_stay() -> None:
    before, after = flat(20), {**flat(20), "k02": -1, "k17": -1}
    view = side_by_side(before, after, only_changes=True, context=3)
    kinds = [r.kind for r in view.rows]
    assert kinds == ["same"] * 3 + ["changed"] + ["same"] * 3 + ["fold"] + ["same"] * 3 + \
        ["changed"] + ["same"] * 3
    assert view.rows[7].left == "8 unchanged lines"
    assert view.path_rows == {"k02": 3, "k17": 11}
    # runs of exactly 2*context rows are not folded, at the start or in between
    view = side_by_side(before, {**flat(20), "k05": -1, "k12": -1}, only_changes=True, context=3)
    assert [r.kind for r in view.rows[:14]] == ["same"] * 6 + ["changed"] + ["same"] * 6 + \
        ["changed"]


def test_fold_without_changes_and_zero_context() -> None:
    view = side_by_side(flat(5), flat(5), only_changes=True)
    assert [(r.left, r.kind) for r in view.rows] == [("7 unchanged lines", "fold")]
    view = side_by_side(flat(10), {**flat(10), "k05": "x"}, only_changes=True, context=0)
    assert [r.kind for r in view.rows] == ["fold", "changed", "fold"]
    assert view.path_rows == {"k05": 1}
