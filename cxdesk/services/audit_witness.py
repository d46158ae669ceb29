"""Witnessed checkpoints: each workstation remembers, outside the database, the last head of
the audit chain it wrote or verified, and checks that the database still extends it.

Someone with write access to the database (the file, or the shared server) can delete the
last entries and set the head to match, rewrite an entry and re-hash everything after it,
or empty the log: the chain alone then still verifies. But every workstation that saw a
later head keeps it in its own state folder (``<state dir>/witness/<database>.json``:
the number of entries, the last entry's id and its hash), and then

- on start, on every verify and after its own writes, the entry it saw last must still be
  there with the same hash (its hash covers the whole chain before it), and every entry
  after it must follow it in the chain;
- otherwise the check says, in one sentence, what is missing or changed.

A witness only moves forward, and only to a head that extends the one it had.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

import platformdirs
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cxdesk import APP_NAME
from cxdesk.models import GENESIS_HASH, AuditEntry
from cxdesk.services import audit_chain

log = logging.getLogger(__name__)
BATCH = 5000


@dataclass(frozen=True)
class Head:
    size: int  # entries up to and including last_id
    last_id: int
    hash: str


@dataclass(frozen=True)
class WitnessCheck:
    ok: bool
    sentence: str
    head: Head | None = None  # the database's head, when the check got that far
    checked: int = 0  # entries verified after the witness


def witness_dir() -> Path:
    return Path(platformdirs.user_state_dir(APP_NAME, appauthor=False)) / "witness"


def witness_path(database: str) -> Path:
    """``database`` is what identifies it to people (a path or a URL without password)."""
    digest = hashlib.sha256(database.encode("utf-8")).hexdigest()[:24]
    return witness_dir() / f"{digest}.json"


def load(database: str) -> Head | None:
    path = witness_path(database)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return Head(int(data["size"]), int(data["last_id"]), str(data["hash"]))
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        log.warning("witness %s unreadable (%s): treated as none", path, exc)
        return None


def save(database: str, head: Head) -> None:
    """Record ``head`` (atomically; never a smaller head than the one recorded)."""
    seen = load(database)
    if seen is not None and head.size < seen.size:
        return
    path = witness_path(database)
    path.parent.mkdir(parents=True, exist_ok=True)
    # a temp file of its own: threads and processes of this workstation may save at once
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.stem, suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(json.dumps({"database": database, **asdict(head)}))
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def check(session: Session, seen: Head | None, *, links_only: bool = False) -> WitnessCheck:
    """Does the chain in ``session`` extend ``seen``? Verifies every entry after it (with
    ``links_only``, only that each names the one before it: see ``check_database``)."""
    start_hash, start_id, size = GENESIS_HASH, 0, 0
    if seen is not None and seen.size > 0:
        entry = session.get(AuditEntry, seen.last_id)
        if entry is None:
            total = session.scalar(select(func.count()).select_from(AuditEntry)) or 0
            return WitnessCheck(False, (
                f"The audit log was cut short: this workstation saw {seen.size} entries up to entry "
                f"{seen.last_id}, but entry {seen.last_id} is gone and {total} entries are left."))
        if entry.hash != seen.hash:
            return WitnessCheck(False, (
                f"The audit log was rewritten: entry {seen.last_id}, the last of the {seen.size} entries this "
                "workstation saw, no longer has the hash it had, so it or an entry before it was changed."))
        start_hash, start_id, size = seen.hash, seen.last_id, seen.size
    done = audit_chain.walk(session, start_hash, start_id, batch=BATCH, links_only=links_only)
    if done.bad_id is not None and done.moved:
        return WitnessCheck(False, (
            f"The audit log was changed after entry {done.last_id}: entry {done.bad_id} does not follow it "
            "(an entry was removed, inserted or rewritten)."))
    if done.bad_id is not None:
        return WitnessCheck(False, f"Audit entry {done.bad_id} was changed after it was written.")
    prev, last_id, checked = done.prev, done.last_id, done.count
    head = Head(size + checked, last_id, prev)
    if seen is not None and seen.size > 0:
        text = (f"The audit log extends what this workstation saw ({seen.size} entries); "
                f"{checked} newer entries {'follow it' if links_only else 'verified'}.")
    else:
        text = (f"This workstation had seen no audit entries yet; {checked} entries "
                f"{'follow each other' if links_only else 'verified'}.")
    return WitnessCheck(True, text, head, checked)


def check_database(db, *, record: bool = True, first_use: str = "trust", links_only: bool = True) -> WitnessCheck:
    """Check the database against this workstation's witness; on success, move it forward.

    A workstation that never saw this database (``first_use="trust"``) takes the log's head
    as it finds it, without walking the whole chain (that is ``audit verify``'s job), and
    checks from then on that the log keeps it; ``first_use="verify"`` walks the chain.

    The entry the witness names must have the witnessed hash: its hash covers every entry
    before it, so a cut, an emptied log, or a rewrite and re-hash of anything up to there is
    found. By default (start-up) the newer entries are only checked to follow one another
    (``links_only``: a removed or inserted entry is found); whether each one's content still
    matches its own hash is ``audit verify``'s full walk (``links_only=False``)."""
    seen = load(db.display)
    with db.read_session() as session:
        if db.is_postgres:
            session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
        if seen is None and first_use == "trust":
            result = _first_sight(session)
        else:
            result = check(session, seen, links_only=links_only)
    if result.ok and record and result.head is not None:
        save(db.display, result.head)
    return result


def _first_sight(session: Session) -> WitnessCheck:
    last = session.execute(select(AuditEntry.id, AuditEntry.hash).order_by(AuditEntry.id.desc()).limit(1)).first()
    if last is None:
        return WitnessCheck(True, "The audit log is empty; this workstation will check that it only grows.",
                            Head(0, 0, GENESIS_HASH))
    size = session.scalar(select(func.count()).select_from(AuditEntry)) or 0
    return WitnessCheck(True, (f"This workstation had not seen this audit log before; from now on it checks "
                               f"that the log keeps these {size} entries."), Head(size, last[0], last[1]))


def after_commit(database: str, ids: list[int], last_hash: str, head_count: int, prev_hash: str) -> None:
    """After this workstation appended ``ids``: move the witness to the new head when the
    entries were appended right after the head it had (else the next check decides)."""
    seen = load(database)
    if seen is None or seen.hash == prev_hash or seen.size == 0:
        save(database, Head(head_count, ids[-1], last_hash))
