"""Audit Log window queries on a large log (1,000,000 entries with --full, 100,000 quick).

The log is a real hash chain (``cxdesk audit verify`` passes on it), bulk-inserted with
precomputed hashes into a temp SQLite file outside the repo. The figures come from a
fresh process (so its peak memory is the window's, not the generator's) and are compared
with baselines measured in the same run: a bare ``SELECT ... ORDER BY id DESC LIMIT 200``
for pages and a bare ``LIKE`` scan for searches, and the first page of a 100-entry log.
Targets: first rows < 300 ms, a search or filter < 500 ms, memory < 250 MB.
"""
from __future__ import annotations

import datetime as dt
import multiprocessing
import random
import resource
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import text

from cxdesk.db import open_database
from cxdesk.models import GENESIS_HASH
from cxdesk.services import audit_log
from cxdesk.services.audit_chain import FIELDS, entry_hash
from cxdesk.services.audit_log import AuditQuery

ACTORS = [f"op{n:02d}" for n in range(25)] + ["Portal", "cli:ops"]
IPS = [f"10.0.{n // 10}.{n % 10 + 1}" for n in range(50)]
START = dt.datetime(2023, 1, 1, tzinfo=dt.timezone.utc)
RARE_EMAIL = "needle.in.haystack@example.org"


KINDS = [  # (table, action), weighted by repetition
    ("customers", "UPDATE"), ("customers", "UPDATE"), ("contacts", "UPDATE"), ("contacts", "CREATE"),
    ("contacts", "DELETE"), ("sip_users", "CREATE"), ("sip_users", "UPDATE"),
    ("invoices", "GENERATE"), ("operators", "LOGIN"), ("options", "UPDATE"),
    ("number_blocks", "CREATE"),
]


def _entry(bits: int, n: int, days: dict[int, str]) -> dict:
    """Entry ``n`` from 64 random bits; JSON written from templates (json.dumps is slow)."""
    table, action = KINDS[bits % len(KINDS)]
    pk = 1 + (bits >> 4) % 200_000
    customer = None if table in ("operators", "options") else 1 + (bits >> 22) % 5000
    email = RARE_EMAIL if n == 1234 else f"user{pk}@example.com"
    second = 60 * n + (bits >> 35) % 60
    day = days.get(second // 86400) or days.setdefault(
        second // 86400, (START + dt.timedelta(days=second // 86400)).date().isoformat())
    rest = second % 86400
    when = f"{day}T{rest // 3600:02d}:{rest // 60 % 60:02d}:{rest % 60:02d}.000000+00:00"
    row = (f'"credit": "{(bits >> 41) % 10**6 / 100:.2f}", "email": "{email}", "id": {pk}, '
           f'"name": "Name {pk}", "phone": "+44 20 {(bits >> 20) % 10**7:07d}", ')
    before, after = "{" + row + '"version": 3}', "{" + row + '"version": 4}'
    if action == "CREATE":
        before = None
    elif action == "DELETE":
        after = None
    elif action in ("LOGIN", "GENERATE"):
        before, after = None, '{"rows": 1}'
    return {
        "actor": ACTORS[(bits >> 10) % len(ACTORS)],
        "ip": IPS[(bits >> 16) % len(IPS)],
        "created_at": when,  # the text entry_hash makes of the stored datetime
        "table_name": table,
        "primary_key": str(pk),
        "action": action,
        "message": f"{action.title()} {table[:-1]} {pk} ({email}): phone",
        "before": before,
        "after": after,
        "comment": "Customer asked by phone" if (bits >> 58) < 3 else "",
        "customer_id": customer,
    }


def generate(path: Path, entries: int, seed: int = 8) -> None:
    """A migrated cxdesk database holding a valid chain of ``entries`` audit entries."""
    open_database(f"sqlite:///{path}").close()
    con = sqlite3.connect(path)
    con.execute("PRAGMA synchronous = OFF")  # a throw-away file
    con.execute("PRAGMA cache_size = -262144")  # 256 MB for building the indexes
    indexes = con.execute(
        "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'audit_entries' AND sql IS NOT NULL"
    ).fetchall()
    search = con.execute("SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND name = 'audit_search_insert'").fetchall()
    for name, _ in indexes:  # building the indexes once at the end is much faster
        con.execute(f"DROP INDEX {name}")
    for name, _ in search:
        con.execute(f"DROP TRIGGER {name}")
    rng = random.Random(seed)
    prev = GENESIS_HASH
    cols = ", ".join((*FIELDS, "prev_hash", "hash"))
    sql = f"INSERT INTO audit_entries (id, {cols}) VALUES ({', '.join('?' * (len(FIELDS) + 3))})"
    batch = []
    days: dict[int, str] = {}
    for n in range(1, entries + 1):
        values = _entry(rng.getrandbits(64), n, days)
        digest = entry_hash(prev, values)
        values["created_at"] = values["created_at"][:26].replace("T", " ")  # SQLite's storage form
        batch.append((n, *(values[f] for f in FIELDS), prev, digest))
        prev = digest
        if len(batch) == 50_000:
            con.executemany(sql, batch)
            batch.clear()
    con.executemany(sql, batch)
    for _, create in indexes + search:
        con.execute(create)
    if search:  # what the trigger would have inserted
        con.execute(
            "INSERT INTO audit_search (rowid, actor, ip, created_at, primary_key, action, table_name, message, "
            "comment, customer_id) SELECT id, actor, ip, substr(created_at, 1, 19), primary_key, action, "
            "table_name, message, comment, customer_id FROM audit_entries"
        )
    con.execute("UPDATE audit_head SET last_id = ?, last_hash = ?, count = ? WHERE id = 1",
                (entries, prev, entries))
    con.commit()
    con.close()


def _ms(fn: Callable[[], object], repeat: int = 5) -> float:
    """Median wall time of ``fn`` in ms (the first call is included: no warm-up tricks)."""
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def _peak_rss_mb() -> float:
    """This process's peak resident memory (VmHWM; ru_maxrss would include the forked parent's)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / (1024 if sys.platform != "darwin" else 2**20)


def _measure(big: str, small: str) -> dict:
    """Runs in a fresh process: all timings plus this process's peak memory."""
    out: dict = {}
    bare_cols = "id, actor, ip, created_at, primary_key, action, table_name, message, comment, customer_id"
    with open_database(f"sqlite:///{small}", migrate=False) as db, db.read_session() as s:
        out["first page, 100-entry log"] = _ms(lambda: audit_log.page(s, AuditQuery()))
    with open_database(f"sqlite:///{big}", migrate=False) as db, db.read_session() as s:
        first_ms = _ms(lambda: audit_log.page(s, AuditQuery()), repeat=1)  # cold
        out["open: first page (cold)"] = first_ms
        out["bare SELECT first page"] = _ms(lambda: s.execute(text(
            f"SELECT {bare_cols} FROM audit_entries ORDER BY id DESC LIMIT 200")).all())
        out["first page"] = _ms(lambda: audit_log.page(s, AuditQuery()))
        deep = audit_log.page(s, AuditQuery(), offset=0, limit=1)[0]
        middle = deep._replace(id=deep.id // 2)
        out["page at the middle (keyset)"] = _ms(lambda: audit_log.page(s, AuditQuery(), after=middle))
        out["count (all)"] = _ms(lambda: audit_log.count(s, AuditQuery()))
        rare_bare = _ms(lambda: s.execute(text(
            f"SELECT {bare_cols} FROM audit_entries WHERE message LIKE :p ORDER BY id DESC LIMIT 200"),
            {"p": f"%{RARE_EMAIL}%"}).all())
        out["bare LIKE scan (rare word, message only)"] = rare_bare
        queries = {
            "search: common word": AuditQuery(search="contact"),
            "search: rare word (full scan)": AuditQuery(search=RARE_EMAIL),
            "search: an id": AuditQuery(search="4242"),
            "search: a date": AuditQuery(search="2023-06-01"),
            "filter: action = DELETE": AuditQuery(values={"action": ("DELETE",)}),
            "filter: two users": AuditQuery(values={"actor": ("op03", "op17")}),
            "filter: user text 'op1'": AuditQuery(texts={"actor": "op1"}),
            "filter: a month": AuditQuery(date_from=(START + dt.timedelta(days=30)).date(),
                                          date_to=(START + dt.timedelta(days=59)).date()),
            "filter: customer 4242": AuditQuery(customer_id=4242),
            "sort: by user": AuditQuery(sort="actor", descending=False),
            "sort: by message": AuditQuery(sort="message", descending=True),
            "sort: by table, filter action": AuditQuery(sort="table_name", values={"action": ("UPDATE",)}),
            "sort: by user, search common word": AuditQuery(sort="actor", search="contact"),
            "sort: by message (desc), search common word": AuditQuery(sort="message", descending=True,
                                                                      search="contact"),
        }
        for name, q in queries.items():
            out[name] = _ms(lambda q=q: audit_log.page(s, q))
        out["count: search rare word"] = _ms(lambda: audit_log.count(s, queries["search: rare word (full scan)"]), 3)
        for column in ("actor", "action", "message", "comment"):
            out[f"funnel values: {column}"] = _ms(lambda c=column: audit_log.distinct_values(s, c, AuditQuery()), 3)
        rows = []
        after = None
        scroll = time.perf_counter()
        for _ in range(50):  # the user scrolls through 10,000 rows
            chunk = audit_log.page(s, AuditQuery(), after=after)
            rows.extend(chunk)
            after = chunk[-1]
        out["scroll 10,000 rows (50 pages)"] = (time.perf_counter() - scroll) * 1000
    out["peak memory MB"] = _peak_rss_mb()
    return out


def main(full: bool) -> None:
    entries = 1_000_000 if full else 100_000
    work = Path(tempfile.mkdtemp(prefix="cxdesk-bench-audit-"))
    try:
        big, small = work / "big.db", work / "small.db"
        t = time.perf_counter()
        generate(big, entries)
        generate(small, 100)
        print(f"   generated {entries:,} chained entries in {time.perf_counter() - t:.1f} s "
              f"({big.stat().st_size / 2**20:.0f} MB)")
        with multiprocessing.get_context("spawn").Pool(1) as pool:
            out = pool.apply(_measure, (str(big), str(small)))
        page_base = out["bare SELECT first page"]
        scan_base = out["bare LIKE scan (rare word, message only)"]
        for name, value in out.items():
            if name == "peak memory MB":
                print(f"   {name:45s} {value:8.0f}   (target < 250)")
                continue
            base = scan_base if name.startswith(("search", "count: search")) else page_base
            target = (" (target < 300 ms)" if name.startswith(("open", "first page"))
                      else " (target < 500 ms)" if name.startswith(("search", "filter", "sort", "funnel")) else "")
            print(f"   {name:45s} {value:8.1f} ms  x{value / base:7.1f} of baseline{target}")
        print(f"   first page vs a 100-entry log: x{out['first page'] / out['first page, 100-entry log']:.1f}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
