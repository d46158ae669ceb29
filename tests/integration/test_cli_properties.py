"""Issue 15.2: every CLI error is one sentence and exit 1, and no failed command creates or
changes anything.

Hypothesis drives every subcommand the argparse setup registers (walked from
``cxdesk.cli.build_parser``, so a new one is covered without touching this file) with argv
built from its real options and positionals, filled with hostile values: any text (control
characters, formula prefixes, very long strings), non-UTF-8 bytes as POSIX argv delivers
them (``os.fsdecode``: surrogate escapes), huge/negative/zero numbers, dates from year 1 to
9999 with +14:00/-12:00 offsets and garbage, and standard input bytes where the command
reads it. Each example runs on its own copy of a template database that has operators
(writes sign in as ``root`` with ``--password-stdin``, as test_cli_operator.py does), so the
real validations run. The property:

- exit code 0, 1 or 2, never a traceback on stderr;
- exit 1: stderr is one line, ``cxdesk: <one sentence>``, with no raw control, bidi or
  line-breaking character (before it only warnings, and import-cdr's malformed rows;
  ``audit verify``'s exit 1 is its report, a sentence a line);
- a failed command leaves every table's rows as they were (a full logical dump; a sign-in's
  own bookkeeping -- its LOGIN entry and the operator's sign-in counters -- is the only
  allowed difference) and creates no file or folder, not even the database a missing path
  names.

The CLI runs in-process (``cxdesk.cli.main``) with standard streams that encode like a
child's; ``test_in_process_matches_the_subprocess`` checks that a few of the same inputs,
non-UTF-8 argv bytes included, give the same answer from ``python -m cxdesk``.

Profiles: ``cli-ci`` (CI=true: derandomized, reproducible) and ``cli-dev``; both modest so
the file stays within a few minutes on two cores (CXDESK_CLI_EXAMPLES overrides the count).
"""
from __future__ import annotations

import argparse
import contextlib
import dataclasses
import hashlib
import io
import logging
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import traceback
import unicodedata
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cxdesk import cli
from cxdesk.cli.common import SQLITE_SIDE_FILES

IN_CI = os.environ.get("CI", "").lower() == "true"
EXAMPLES = int(os.environ.get("CXDESK_CLI_EXAMPLES", "25"))
_COMMON = dict(max_examples=EXAMPLES, deadline=None, database=None, print_blob=True,
               suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                      HealthCheck.data_too_large])
settings.register_profile("cli-ci", derandomize=True, **_COMMON)
settings.register_profile("cli-dev", **_COMMON)
PROFILE = settings.get_profile("cli-ci" if IN_CI else "cli-dev")

ROOT = ("root", "Violet-Harbour-42")
SAM = ("sam", "Amber-Canyon-77")
STRONG = "Copper-Lantern-93"


# ---------------------------------------------------------------------------
# running the CLI in-process, with streams that behave like a child's
# ---------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Outcome:
    code: int
    stdout: str
    stderr: str
    crash: str = ""  # a traceback that escaped main(): always a defect


@dataclasses.dataclass(frozen=True)
class Streams:
    """Encoding and error handlers of a child's stdin, stdout and stderr."""
    encoding: str
    stdin: str
    stdout: str
    stderr: str


def child_streams(env: dict) -> Streams:
    probe = "import sys; print(sys.stdin.encoding, sys.stdin.errors, sys.stdout.errors, sys.stderr.errors)"
    words = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env,
                           check=True).stdout.split()
    return Streams(*words)


def cli_env() -> dict:
    """The environment run_cli gives a child."""
    env = dict(os.environ)
    env.pop("CXDESK_LOG_LEVEL", None)
    env.pop("CXDESK_OPERATOR", None)
    return env


@contextlib.contextmanager
def _swapped_streams(streams: Streams, stdin: bytes):
    out, err = io.BytesIO(), io.BytesIO()
    saved = sys.stdin, sys.stdout, sys.stderr
    sys.stdin = io.TextIOWrapper(io.BytesIO(stdin), encoding=streams.encoding, errors=streams.stdin)
    sys.stdout = io.TextIOWrapper(out, encoding=streams.encoding, errors=streams.stdout, write_through=True)
    sys.stderr = io.TextIOWrapper(err, encoding=streams.encoding, errors=streams.stderr, write_through=True)
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    root.handlers = []  # main() adds its stderr handler to the swapped stream
    try:
        yield out, err
    finally:
        for stream in (sys.stdin, sys.stdout, sys.stderr):  # keep the buffers open for reading
            with contextlib.suppress(ValueError):
                stream.flush()
                stream.detach()
        sys.stdin, sys.stdout, sys.stderr = saved
        root.handlers, root.level = handlers, level


def run_in_process(argv: list[str], stdin: bytes, cwd: Path, streams: Streams) -> Outcome:
    crash = ""
    old_cwd = os.getcwd()
    os.chdir(cwd)
    try:
        with _swapped_streams(streams, stdin) as (out, err):
            try:
                code = cli.main(argv)
            except SystemExit as exc:  # argparse: 2 for a usage error
                code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
            except BaseException:  # noqa: BLE001 - exactly what the property forbids
                code, crash = 1, traceback.format_exc()
    finally:
        os.chdir(old_cwd)
    decode = lambda b: b.getvalue().decode(streams.encoding, "surrogateescape")  # noqa: E731
    return Outcome(code, decode(out), decode(err), crash)


# ---------------------------------------------------------------------------
# the database: a template with operators, customers, calls, a block, invoices
# ---------------------------------------------------------------------------

def _must(outcome: Outcome) -> Outcome:
    assert outcome.code == 0 and not outcome.crash, outcome
    return outcome


def build_template(path: Path, streams: Streams) -> None:
    """Made with the CLI itself: root (admin), sam (staff), three demo customers with three
    days of calls, the hourly summary, a number block with a SIP user, a draft invoice and
    an issued one."""
    db = ["--db", str(path)]
    signed = db + ["--operator", ROOT[0], "--password-stdin"]
    pw = f"{ROOT[1]}\n".encode()
    steps = [
        (db + ["operator", "add", ROOT[0], "--role", "admin", "--password-stdin"], pw),
        (signed + ["operator", "add", SAM[0], "--role", "staff", "--password-stdin"], pw + f"{SAM[1]}\n".encode()),
        (signed + ["demo", "--customers", "3", "--days", "3", "--end", "2026-01-10", "--quiet"], pw),
        (signed + ["rollup"], pw),
        (signed + ["numbers", "assign", "1"], pw),
        (signed + ["sip", "add", "1", "1000", "--generate"], pw),
        (signed + ["invoice", "generate", "1", "--period", "daily", "--date", "2026-01-08"], pw),
        (signed + ["invoice", "generate", "2", "--period", "daily", "--date", "2026-01-08"], pw),
        (signed + ["invoice", "issue", "2"], pw),
    ]
    for argv, stdin in steps:
        _must(run_in_process(argv, stdin, path.parent, streams))
    with contextlib.closing(sqlite3.connect(path)) as conn:  # one self-contained file to copy
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.execute("PRAGMA journal_mode=DELETE")


#: columns a sign-in writes by design (the lockout and "last sign-in"), ignored on failure
SIGN_IN_COLUMNS = {"operators": {"failed_attempts", "locked_until", "last_login_at", "version", "updated_at",
                                 "updated_by"}}


#: tables that follow every audit entry, LOGIN ones too: the log's head and id counter (the
#: entries themselves are compared) and the audit search index (FTS5 tables derived from them)
SIGN_IN_TABLES = {"audit_head", "sqlite_sequence"}


def logical_dump(path: Path) -> dict[str, list]:
    """Every table's rows (sorted), without what a sign-in records by design: LOGIN entries,
    what follows them (see SIGN_IN_TABLES) and the operators' sign-in columns."""
    uri = f"file:{path}?mode=ro"
    with contextlib.closing(sqlite3.connect(uri, uri=True)) as conn:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table' ORDER BY name")]
        dump = {}
        for table in tables:
            if table in SIGN_IN_TABLES or table.startswith("audit_search"):
                continue
            cursor = conn.execute(f'SELECT * FROM "{table}"')
            names = [d[0] for d in cursor.description]
            skip = SIGN_IN_COLUMNS.get(table, set())
            rows = [tuple(v for n, v in zip(names, row) if n not in skip) for row in cursor
                    if not (table == "audit_entries" and row[names.index("action")] == "LOGIN")]
            dump[table] = sorted(rows, key=repr)
        dump["sqlite_master"] = sorted(conn.execute("SELECT type, name, sql FROM sqlite_master"), key=repr)
    return dump


def files_in(folder: Path) -> dict[str, str]:
    """Every file and folder under ``folder``, with a digest of each file (SQLite's own side
    files excluded: they come and go while a database is open)."""
    out = {}
    for p in sorted(folder.rglob("*")):
        if p.is_dir():
            out[f"{p.relative_to(folder)}/"] = ""
        elif not p.name.endswith(SQLITE_SIDE_FILES):
            out[str(p.relative_to(folder))] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


# ---------------------------------------------------------------------------
# hostile values
# ---------------------------------------------------------------------------

#: argv can hold any bytes but NUL; POSIX Python hands the non-UTF-8 ones over surrogate-escaped
_chars = st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00")
_raw = st.binary(min_size=1, max_size=24).filter(lambda b: b"\x00" not in b).map(os.fsdecode)
FORMULAS = ["=1+1", "=HYPERLINK(\"http://x\")", "+1", "-1", "@SUM(A1)", "\t=x", "=cmd|'/c calc'!A1", "0x1F"]
CONTROL = ["\n", "\r\n", "\x1b[31m", "\u202e", "\u200b", "\x7f", "a\nb", " ", "", "\t"]
LONG = ["x" * 5000, "9" * 400, "é" * 2000, "-" * 300]


def mostly(usual: st.SearchStrategy, other: st.SearchStrategy, tenths: int = 8) -> st.SearchStrategy:
    """``usual`` in about ``tenths`` of ten draws, else ``other`` (one_of weighs its
    branches unevenly, and a value refused early hides the checks behind it)."""
    return st.integers(0, 9).flatmap(lambda n: usual if n < tenths else other)


TEXT = mostly(st.one_of(st.text(_chars, max_size=30), st.sampled_from(FORMULAS + CONTROL + LONG),
                        st.builds(lambda a, b: a + b, st.sampled_from(FORMULAS + CONTROL),
                                  st.text(_chars, max_size=10))),
              _raw, tenths=9)
BIG = [0, -1, 1, 2, 3, 7, 2**31, 2**31 - 1, 2**53 + 1, 2**63, 2**64, 10**30, -10**30, -2**63]
INTS = st.one_of(st.sampled_from(BIG), st.integers(-10**6, 10**6)).map(str)
NUMBER_TEXT = ["1e9999", "-1e9999", "NaN", "nan", "Infinity", "-0", "0.001", "1,000.00", "1_000", "٣", "²",
               "0x10", "1e3", " 7 ", "-12.50", "250.00", "12.345", "9" * 60 + ".5"]
NUMBERS = st.one_of(INTS, st.sampled_from(NUMBER_TEXT))
DATE_TEXT = ["0001-01-01", "9999-12-31", "9999-12-31T23:59:59+14:00", "0001-01-01T00:00:00-12:00",
             "2026-01-08", "2026-01-08T10:00", "2026-01-08 10:00", "2026-01-08T10:00+14:00",
             "2026-01-08T10:00-12:00", "2026-W02", "2026-W53", "2026-W00", "2026-01", "2026-02-30",
             "2026-13-01", "99999-01-01", "0000-01-01", "2026-1-8", "20260108", "yesterday", "",
             "2026-01-08T25:00", "2026-01-08T10:00+24:00", "9999-W52", "0001-W01", "9999-12",
             "1900-01-01T00:00+14:00", "8999-12-31T23:00-12:00", "8999-12", "8999-W52", "1900-W01"]
DATES = st.one_of(st.sampled_from(DATE_TEXT), st.dates().map(lambda d: d.isoformat()),
                  st.datetimes(timezones=st.timezones() | st.none()).map(lambda d: d.isoformat()))
CUSTOMERS = st.one_of(st.sampled_from(["1", "2", "3", "4", "0", "-1", "99999999999999999999", " 1", "１"]),
                      TEXT)
INVOICES = st.sampled_from(["1", "2", "3", "CN-1", "cn-1", "0", "-1", "2.0", "99999999999999999999"])


def values(path: tuple[str, ...], action: argparse.Action) -> st.SearchStrategy[str]:
    """The hostile values for one option or positional, from its name and type."""
    dest = action.dest
    if action.choices:
        return mostly(st.sampled_from(list(action.choices)), TEXT)
    specific = {
        "customer": CUSTOMERS, "search": CUSTOMERS, "number": INVOICES, "amount": NUMBERS,
        "login": st.sampled_from(["root", "sam", "ROOT", "nobody", "", "new.user", "a" * 90]),
        "usernames": st.one_of(st.sampled_from(["1000", "1001", "1999", "2000", "0", "-5", "99999999999"]), INTS),
        "entry_id": mostly(st.sampled_from(["1", "2", "3", "40"]), st.one_of(INTS, st.sampled_from(["²", "٣"]))),
        "currency": st.sampled_from(["EUR", "USD", "eur", "XXX", "€", "EURO", ""]),
        "status": st.sampled_from(["Active", "Inactive", "Penalty", "Pending Approval", "Paid", "Unpaid",
                                   "Pending", "paid"]),
        "invoice_schedule": st.sampled_from(["Daily", "Weekly", "Monthly", "Yearly"]),
        "country": st.sampled_from(["DE", "de", "XX", "GB", ""]),
        "vat_category": st.sampled_from(["S", "Z", "E", "AE", "K", "G", "O", "L", "M", "B", "s"]),
        "vat_id": st.sampled_from(["DE123456789", "DE", "XX1", "GB999999973"]),
        "key": st.sampled_from(["A" * 43 + "=", "AAAA", "", "!!", "A" * 44]),
        "to": st.sampled_from(["a@example.com", "not-an-address", "a@b", "<a@b.c>"]),
        "url": st.sampled_from(["postgresql+psycopg://u@127.0.0.1:1/db", "sqlite:///x.db", "mysql://x/y",
                                "postgresql://"]),
        "name": (st.sampled_from(["number-range-start", "block-size", "audit-comment", "portal-url",
                                  "sip-realm", "company-country", "company-iban", "nope"])
                 if path == ("options", "set") else TEXT),
        "value": st.one_of(NUMBERS, st.sampled_from(["on", "off", "https://x.example", "1000", "10"])),
        "timeout": st.sampled_from(["nan", "inf", "-1", "0", "1e308", "0.01", "x"]),
        "start": NUMBERS, "short": NUMBERS, "debit_limit": NUMBERS, "channels": NUMBERS,
        "flow_speed": NUMBERS, "tax": NUMBERS, "invoice_due_days": NUMBERS,
    }.get(dest)
    if dest in {"date", "date_from", "date_to", "until", "end", "earliest", "latest", "invoice_date"}:
        specific = DATES
    elif action.type is int:  # demo's sizes: small or refused, never an hour of demo data
        return mostly(st.one_of(st.sampled_from(["1", "2", "3"]), st.sampled_from(BIG).map(str)),
                      TEXT.filter(lambda t: not _is_int(t)))
    if specific is None:
        return TEXT
    return mostly(specific, TEXT)


def _is_int(text: str) -> bool:
    try:
        int(text)
    except ValueError:
        return False
    return True


#: a path value: an output (written) or an input (read) file inside the example's folder
OUTPUTS = ["out.csv", "out.xlsx", "out.pdf", "out.xml", "out.json", "out.txt", "no/such/dir/out.csv", ".",
           "", "x" * 300 + ".csv", "/proc/cxdesk-nope.csv", os.fsdecode(b"\xff\xfe.csv"), "=1+1.csv"]
INPUTS = ["in.dat", "missing.csv", ".", "", "x" * 300]
PATH_DESTS = cli.PATH_ARGUMENTS - {"db"}

CDR_HEADER = ("dt,callid,customer_id,source_cli,dest_number,duration,customer_duration,customer_charge,"
              "customer_card_rate,customer_card_dest_code,customer_card_dest_name,customer_card_currency,"
              "provider_id,provider_charge,pdd_out,ring_duration,sip_code,sip_reason,release_reason")
GOOD_CDR = ["2026-01-08 10:00:00", "fz-1", "1", "+442071234567", "4915100000001", "60", "60", "0.042",
            "0.042", "4915", "Germany - Mobile", "EUR", "3", "0.0331", "1500", "3", "200", "OK", "normal"]


@st.composite
def cdr_file(draw) -> bytes:
    """A CDR CSV with a good row whose cells (some of them) are replaced by hostile values."""
    rows = []
    for _ in range(draw(st.integers(1, 3))):
        row = list(GOOD_CDR)
        for i in draw(st.lists(st.integers(0, len(row) - 1), max_size=3)):
            row[i] = draw(st.one_of(TEXT, NUMBERS, DATES)).replace("\n", " ").replace(",", ";")
        rows.append(",".join(row))
    text = "\n".join([CDR_HEADER, *rows]) + "\n"
    return text.encode("utf-8", "surrogateescape")


FILE_BODIES = st.one_of(cdr_file(), st.binary(max_size=200), TEXT.map(lambda t: t.encode("utf-8", "surrogateescape")))
STDIN_LINES = mostly(st.just(STRONG.encode()),
                     st.one_of(st.just(b""), st.binary(max_size=40).map(lambda b: b.replace(b"\n", b"")),
                               TEXT.map(lambda t: t.replace("\n", "").encode("utf-8", "surrogateescape"))),
                     tenths=5)


@dataclasses.dataclass
class Case:
    argv: list[str]
    stdin: bytes = b""
    database: str = "template"  # template | missing | missing-folder | garbage | folder
    files: dict[str, bytes] = dataclasses.field(default_factory=dict)


def _option(draw, path, action, files: dict[str, bytes]) -> list[str]:
    flag = action.option_strings[-1]
    if action.nargs == 0:
        return [flag]
    value = draw(_value(path, action, files))
    return [f"{flag}={value}"] if draw(st.booleans()) else [flag, value]


def _value(path, action, files: dict[str, bytes]) -> st.SearchStrategy[str]:
    if action.dest == "output":
        return st.one_of(st.sampled_from(OUTPUTS), TEXT.map(lambda t: "o-" + t.replace("/", "_")[:100]))
    if action.dest in PATH_DESTS:
        files.setdefault("in.dat", b"")
        return st.sampled_from(INPUTS)
    return values(path, action)


@st.composite
def cases(draw, path: tuple[str, ...], parser: argparse.ArgumentParser) -> Case:
    case = Case([], database=draw(st.sampled_from(["template"] * 12 + ["missing", "missing-folder", "garbage",
                                                                        "folder"])))
    signing = draw(st.sampled_from(["root"] * 6 + ["sam", "none", "wrong", "hostile"]))
    lines: list[bytes] = []
    if signing != "none":
        login, password = SAM if signing == "sam" else ROOT
        case.argv += ["--operator", login, "--password-stdin"]
        lines.append({"wrong": b"Not-The-Password-1",
                      "hostile": draw(STDIN_LINES)}.get(signing, password.encode()))
    if draw(st.integers(0, 4)) == 0:
        case.argv.append(f"--comment={draw(TEXT)}")
    case.argv += list(path)
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction) or not action.option_strings:
            continue
        if draw(st.integers(0, 9)) < (9 if action.required else 4):
            case.argv += _option(draw, path, action, case.files)
    positionals = []
    for action in parser._actions:
        if action.option_strings:
            continue
        low, high = {None: (1, 1), "?": (0, 1), "+": (1, 3)}[action.nargs]
        for _ in range(draw(st.integers(low, high))):
            positionals.append(draw(_value(path, action, case.files)))
    if draw(st.integers(0, 9)) == 0:
        positionals.append(draw(TEXT))  # one too many
    if positionals:
        case.argv += (["--"] if draw(st.booleans()) else []) + positionals
    if "in.dat" in case.files:
        case.files["in.dat"] = draw(FILE_BODIES)
    lines += draw(st.lists(STDIN_LINES, min_size=1, max_size=3))
    case.stdin = b"".join(line + b"\n" for line in lines)
    return case


# ---------------------------------------------------------------------------
# the property
# ---------------------------------------------------------------------------

def leaves(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()):
    """(command path, its parser) of every runnable subcommand, nested ones included."""
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subs:
        yield path, parser
        return
    for name, child in subs[0].choices.items():
        yield from leaves(child, path + (name,))


PARSERS = dict(leaves(cli.build_parser([])))
#: exit 1 of these is a report of several lines (`audit verify` names every difference)
REPORTS = {("audit", "verify")}
#: lines these print on stderr before their error: the malformed rows of a CDR file
ROW_LINES = {("import-cdr",)}


@dataclasses.dataclass
class Run:
    case: Case
    outcome: Outcome
    folder: Path
    before: dict[str, str]

    @property
    def database(self) -> Path:
        return database_path(self.folder, self.case)


def database_path(folder: Path, case: Case) -> Path:
    """Where --db points: in the example's folder, or in folders that do not exist yet."""
    return folder / ("no/such/folder/cxdesk.db" if case.database == "missing-folder" else "cxdesk.db")


def prepare(case: Case, template: Path, parent: Path) -> Path:
    folder = Path(tempfile.mkdtemp(dir=parent))
    db = folder / "cxdesk.db"
    if case.database == "template":
        shutil.copyfile(template, db)
    elif case.database == "garbage":
        db.write_bytes(b"this is not a database\n" * 64)
    elif case.database == "folder":
        db.mkdir()
    for name, body in case.files.items():
        (folder / name).write_bytes(body)
    return folder


def run_case(case: Case, template: Path, parent: Path, streams: Streams) -> Run:
    folder = prepare(case, template, parent)
    before = files_in(folder)
    saved = os.environ.get("XDG_STATE_HOME")
    os.environ["XDG_STATE_HOME"] = str(folder) + "-state"  # no witness from an earlier example
    try:
        outcome = run_in_process(["--db", str(database_path(folder, case)), *case.argv], case.stdin, folder, streams)
    finally:
        os.environ["XDG_STATE_HOME"] = saved or ""
    return Run(case, outcome, folder, before)


#: what must never reach a terminal raw: control (line breaks, ESC), format (bidi, zero-width)
#: and line/paragraph separator characters, and undecodable bytes (lone surrogates)
HIDDEN = {"Cc", "Cf", "Zl", "Zp", "Cs"}


def visible(line: str) -> bool:
    return not any(unicodedata.category(c) in HIDDEN for c in line)


def is_sentence(line: str) -> bool:
    """One visible sentence: text after "cxdesk: ", ending in a full stop."""
    return len(line) > len("cxdesk: ") + 1 and line.endswith((".", "?")) and visible(line)


def check(run: Run, path: tuple[str, ...], template_dump: dict) -> None:
    out = run.outcome
    assert not out.crash, f"{run.case}\n{out.crash}"
    assert out.code in (0, 1, 2), (run.case, out)
    assert "Traceback" not in out.stderr, (run.case, out.stderr)
    if out.code == 1:
        lines = out.stderr.splitlines()
        assert lines, (run.case, out)
        assert all(visible(line) for line in lines), (run.case, out.stderr)
        if path in REPORTS and not lines[-1].startswith("cxdesk: "):
            assert all(line.strip() for line in lines), (run.case, out.stderr)
        else:
            errors = [line for line in lines if line.startswith("cxdesk: ") and not line.startswith("cxdesk: warning:")]
            others = [line for line in lines if not line.startswith("cxdesk: ")]
            assert len(errors) == 1 and lines[-1] == errors[0], (run.case, out.stderr)
            assert is_sentence(errors[0]), (run.case, out.stderr)
            assert not others or path in ROW_LINES, (run.case, out.stderr)
    if out.code == 0:
        return
    before, after = run.before, files_in(run.folder)
    if run.case.database == "template":  # the database itself is compared row by row
        assert after.pop("cxdesk.db", None) and before.pop("cxdesk.db"), (run.case, out)
        assert logical_dump(run.database) == template_dump, (run.case, out)
    assert after == before, (run.case, out, "a failed command created or changed a file")


@pytest.fixture(scope="module")
def streams() -> Streams:
    return child_streams(cli_env())


@pytest.fixture(scope="module")
def template(tmp_path_factory, streams) -> Path:
    path = tmp_path_factory.mktemp("template") / "cxdesk.db"
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("CXDESK_OPERATOR", raising=False)
        mp.setenv("XDG_STATE_HOME", str(path.parent / "state"))
        build_template(path, streams)
    return path


@pytest.fixture(scope="module")
def template_dump(template) -> dict:
    return logical_dump(template)


@pytest.fixture
def examples(tmp_path, monkeypatch):
    monkeypatch.delenv("CXDESK_OPERATOR", raising=False)
    monkeypatch.delenv("CXDESK_LOG_LEVEL", raising=False)
    return tmp_path


@pytest.mark.parametrize("path", list(PARSERS), ids="-".join)
def test_hostile_argv_gets_one_sentence_and_a_failure_changes_nothing(path, template, template_dump, streams,
                                                                      examples):
    @PROFILE
    @given(case=cases(path, PARSERS[path]))
    def prop(case: Case) -> None:
        run = run_case(case, template, examples, streams)
        try:
            check(run, path, template_dump)
        finally:
            shutil.rmtree(run.folder, ignore_errors=True)

    prop()


# ---------------------------------------------------------------------------
# the same inputs as a real process, and the defects the property found
# ---------------------------------------------------------------------------

NOT_UTF8 = os.fsdecode(b"\xff\xfeAcme")  # what POSIX argv gives Python for these bytes
SIGNED = ("--operator", ROOT[0], "--password-stdin")
PW = f"{ROOT[1]}\n".encode()
#: (case, the one stderr line, or None for a success); each failed before its fix
FOUND = [
    # the database driver could not encode the surrogates (UnicodeEncodeError)
    (Case(["customer", "show", NOT_UTF8]),
     "cxdesk: CUSTOMER is not UTF-8 text; type it again in UTF-8; nothing was changed."),
    (Case([*SIGNED, "customer", "add", "Acme", "--currency", "EUR", "--city", NOT_UTF8], PW),
     "cxdesk: --city is not UTF-8 text; type it again in UTF-8; nothing was changed."),
    # a line break and an escape sequence from argv split the sentence / reached the terminal
    (Case(["customer", "show", "a\nb\x1b[31m\u202e"]),
     "cxdesk: There is no customer with the id or exact name 'a\\nb\\u001b[31m\\u202e'; check the spelling."),
    # an id too large for SQLite (OverflowError), and digits int() refuses (ValueError)
    (Case(["customer", "show", "99999999999999999999"]),
     "cxdesk: There is no customer with the id or exact name '99999999999999999999'; check the spelling."),
    (Case(["invoice", "list", "²"]),
     "cxdesk: There is no customer with the id or exact name '²'; check the spelling."),
    (Case(["audit", "export", "--customer", "99999999999999999999", "-o", "log.csv"]),
     "cxdesk: There is no customer named '99999999999999999999'; give its id or its exact name."),
    (Case(["--operator", NOT_UTF8, "rollup"]),
     "cxdesk: --operator is not UTF-8 text; type it again in UTF-8; nothing was changed."),
    # dates at the calendar's ends: a period's end or a time zone overflowed (OverflowError)
    (Case([*SIGNED, "invoice", "generate", "1", "--period", "monthly", "--date", "9999-12"], PW),
     "cxdesk: '9999-12' is not between 1900-01-01 and 8999-12-31; type a date like 2026-01-05."),
    (Case(["summary", "1", "--to", "9999-12-31"]),
     "cxdesk: '9999-12-31' is not between 1900-01-01 and 8999-12-31; type a date like 2026-01-05."),
    (Case(["audit", "export", "--from", "0001-01-01T00:00+14:00", "-o", "log.csv"]),
     "cxdesk: --from '0001-01-01T00:00+14:00' is not between 1900 and 8999; use YYYY-MM-DD (UTC), e.g. 2026-11-22."),
    # a failed command on a missing path created the database there
    (Case(["demo", "--days", "0"], database="missing"), "cxdesk: --days must be between 1 and 3,650."),
    (Case(["operator", "add", "admin", "--role", "admin", "--password-stdin"], b"short\n", database="missing"),
     None),
    # an invoice number too large for SQLite (OverflowError), a demo ending in year 1 (date overflow)
    (Case([*SIGNED, "invoice", "date", "99999999999999999999", "2026-01-09"], PW),
     "cxdesk: '99999999999999999999' is not an invoice number; use the Invoice ID `cxdesk invoice list` shows."),
    (Case(["demo", "--end", "0001-01-01"], database="missing"),
     "cxdesk: --end '0001-01-01' is not between 2000-01-01 and 9000-01-01; give a date like 2026-01-31."),
    (Case(["import-cdr", "missing.csv"], database="missing-folder"),
     "cxdesk: There is no file missing.csv; check the name and try again."),
    # a file name too long for the file system (OSError from cdr_import)
    (Case(["import-cdr", "x" * 300], database="missing"),
     f"cxdesk: Cannot read {'x' * 300}: File name too long; check the file name."),
    # and what worked before still does
    (Case(["customer", "list", "--search", "1"]), None),
    (Case([*SIGNED, "customer", "adjust", "1", "1e9999", "--reason", "x"], PW), None),
]


def run_subprocess(case: Case, template: Path, parent: Path, env: dict) -> Run:
    """``python -m cxdesk`` with argv as bytes (os.fsencode: the non-UTF-8 ones as they are)."""
    folder = prepare(case, template, parent)
    before = files_in(folder)
    argv = [sys.executable, "-m", "cxdesk", "--db", str(database_path(folder, case)), *case.argv]
    done = subprocess.run([os.fsencode(a) for a in argv], input=case.stdin, capture_output=True, cwd=folder,
                          env={**env, "XDG_STATE_HOME": str(folder) + "-state"}, timeout=120)
    text = lambda b: b.decode("utf-8", "surrogateescape")  # noqa: E731
    return Run(case, Outcome(done.returncode, text(done.stdout), text(done.stderr)), folder, before)


def command_path(argv: list[str]) -> tuple[str, ...]:
    """The subcommand in ``argv`` (the first words that name one)."""
    return next(tuple(argv[i:i + n]) for i in range(len(argv)) for n in (2, 1) if tuple(argv[i:i + n]) in PARSERS)


@pytest.mark.parametrize("case, expected", FOUND, ids=lambda v: " ".join(v.argv)[:40] if isinstance(v, Case) else "")
def test_in_process_matches_the_subprocess(case, expected, template, template_dump, streams, examples):
    inside = run_case(case, template, examples, streams)
    outside = run_subprocess(case, template, examples, cli_env())
    for run in (inside, outside):
        check(run, command_path(case.argv), template_dump)
    same = [(r.outcome.code, r.outcome.stdout.replace(str(r.folder), "<folder>"),
             r.outcome.stderr.replace(str(r.folder), "<folder>")) for r in (inside, outside)]
    assert same[0] == same[1]
    if expected is not None:
        assert outside.outcome.stderr == expected + "\n" and outside.outcome.code == 1


@pytest.mark.parametrize("where", ["missing", "missing-folder"])
def test_a_command_that_creates_the_database_keeps_it_when_it_succeeds(where, template, streams, examples):
    """The other side of discarding a failed command's new database: a saved change stays."""
    case = Case(["operator", "add", "admin", "--role", "admin", "--password-stdin"], f"{STRONG}\n".encode(),
                database=where)
    run = run_case(case, template, examples, streams)
    assert run.outcome.code == 0, run.outcome
    assert run.database.is_file() and "admin" in str(logical_dump(run.database)["operators"])


def test_the_check_catches_each_defect_it_is_for(template, template_dump, streams, examples):
    """The property's own test: a failed run that changed a row or left a file, an error of
    two lines or with an escape character, and a traceback are each caught."""
    path = ("customer", "show")
    failed = run_case(Case(["customer", "show", "nobody"]), template, examples, streams)
    check(failed, path, template_dump)  # as it is: fine
    def change_a_row(run: Run) -> None:
        with contextlib.closing(sqlite3.connect(run.database)) as conn, conn:
            conn.execute("UPDATE customers SET name = 'x' WHERE id = 1")

    for defect in (change_a_row, lambda run: (run.folder / "left.csv").write_text("x"),
                   lambda run: (run.folder / "made").mkdir()):
        run = run_case(Case(["customer", "show", "nobody"]), template, examples, streams)
        defect(run)
        with pytest.raises(AssertionError):
            check(run, path, template_dump)
    for outcome in (Outcome(1, "", "cxdesk: one.\ncxdesk: two.\n"), Outcome(1, "", "cxdesk: a \x1b[31m b.\n"),
                    Outcome(1, "", "Traceback (most recent call last):\n"), Outcome(1, "", "", crash="boom"),
                    Outcome(3, "", "")):
        with pytest.raises(AssertionError):
            check(dataclasses.replace(failed, outcome=outcome), path, template_dump)
