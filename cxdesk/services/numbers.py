"""Internal number blocks and SIP users (extensions).

Blocks. Settings > Options give a grid: block N covers
``[start + N*size, start + (N+1)*size - 1]``. Assigning picks the lowest grid slot that is
free: it overlaps no assigned block and holds no extension of another customer (released
blocks are reused). Each block row stores its own start and size, so changing the options
once blocks exist orphans nothing: assigned blocks keep their ranges, the new grid applies
to blocks assigned later, and its slots that would overlap an assigned block are skipped.

Extensions are numbers from 1 to 999,999,999 (at most 9 digits, no leading zero). That is
the upper bound of every range: it is the largest Internal Number Range Start the options
accept and it fits the 32-bit integer column of ``number_blocks.start`` on both backends.
A block that would end past it is not handed out.

A customer with blocks takes extensions from its blocks only; one without any takes any
number that is not in use and not inside another customer's block. Usernames are unique
across the whole system ("Duplicate User Detected").

Short dialling: the trailing digits of an extension inside a block (block 2000-2999:
2100 -> "100"); ``resolve_short`` turns them back into the full number.

Concurrency: every write here first takes one lock (a transaction-level advisory lock on
PostgreSQL; on SQLite the write transaction's BEGIN IMMEDIATE already serialises
writers), and the unique constraints on ``number_blocks.start`` and ``sip_users.username``
are the last line of defence, reported in the same words.
"""
from __future__ import annotations

from contextlib import nullcontext

import datetime as dt
import re
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from cxdesk.db import Database
from cxdesk.errors import ConflictError, NotFound, ValidationError
from cxdesk.models import Customer, NumberBlock, SipUser
from cxdesk.services import options, passwords
from cxdesk.services.actor import PORTAL, Actor
from cxdesk.services.uow import UnitOfWork, unit_of_work

MAX_EXTENSION = 999_999_999
MAX_DIGITS = len(str(MAX_EXTENSION))
#: pg_advisory_xact_lock key serialising block and extension changes ("cxnb")
LOCK_KEY = 0x63786E62
_CALLER_ID = re.compile(r"\+?[0-9]{1,15}")
#: the options a block needs, with example values for the messages
_REQUIRED = {"number-range-start": 1000, "block-size": 1000}


# ---------------------------------------------------------------------------
# values
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class BlockInfo:
    id: int
    customer_id: int
    customer_name: str
    start: int
    size: int
    in_use: int
    assigned_at: dt.datetime

    @property
    def end(self) -> int:
        return self.start + self.size - 1

    @property
    def label(self) -> str:
        return f"{self.start}-{self.end}"

    @property
    def free(self) -> int:
        return self.size - self.in_use

    def contains(self, number: int) -> bool:
        return self.start <= number <= self.end


@dataclass(frozen=True)
class SipUserInfo:
    id: int
    customer_id: int
    customer_name: str
    username: str
    #: the short extension when the number lies in one of the customer's blocks, else ""
    short: str
    caller_id: str
    enabled: bool
    version: int
    updated_by: str
    updated_at: dt.datetime


@dataclass(frozen=True)
class NewSipUser:
    username: str
    #: None: generate one (returned once in AddedSipUser.generated_password)
    password: str | None = None
    caller_id: str = ""
    enabled: bool = True


@dataclass(frozen=True)
class AddedSipUser:
    user: SipUserInfo
    generated_password: str | None


# ---------------------------------------------------------------------------
# parsing and small helpers
# ---------------------------------------------------------------------------


def parse_extension(value: object, what: str = "extension", field: str = "username", example: str = "2100") -> int:
    """A typed extension as a number, or a ValidationError that says what is wrong."""
    v = str(value).strip()
    if not v:
        raise ValidationError(f"Type the {what}: a number such as {example}.", field=field)
    if re.fullmatch(r"-\s*[0-9]+", v):
        raise ValidationError(f"{v} is negative; the {what} must be a positive number such as {example}.", field=field)
    if not re.fullmatch(r"[0-9]+", v):
        raise ValidationError(f"'{v}' is not a number; the {what} must be digits only, such as {example}.", field=field)
    if len(v.lstrip("0")) > MAX_DIGITS:
        raise ValidationError(f"{v} is too large; the {what} has at most {MAX_DIGITS} digits "
                              f"(up to {MAX_EXTENSION:,}).", field=field)
    if v.startswith("0"):
        raise ValidationError(f"{v} starts with 0; the {what} must be a number from 1 to {MAX_EXTENSION:,} "
                              "without leading zeros.", field=field)
    return int(v)


def _numeric(username: str) -> int | None:
    return int(username) if re.fullmatch(r"[1-9][0-9]{0,8}", username) else None


def short_width(size: int) -> int:
    """Digits of a short extension: 3 for blocks of 1000."""
    return len(str(size - 1))


def short_for(number: int | str, blocks: Iterable[BlockInfo]) -> str:
    """The short extension of a number inside one of ``blocks`` (block 2000-2999: 2100 -> "100"), else ""."""
    n = number if isinstance(number, int) else _numeric(str(number))
    if n is None:
        return ""
    for b in blocks:
        if b.contains(n):
            return str(n % b.size).zfill(short_width(b.size))
    return ""


def _lock(session: Session) -> None:
    """Serialise block and extension changes; held until the transaction ends."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": LOCK_KEY})
    else:  # starts the write transaction (BEGIN IMMEDIATE) before anything is read
        session.execute(text("SELECT 1"))


def _customer(session: Session, customer_id: int) -> Customer:
    c = session.get(Customer, customer_id)
    if c is None:
        raise NotFound(f"There is no customer {customer_id} (it may have been deleted); refresh the list.")
    return c


def _may_see_holder(actor: Actor) -> bool:
    """Operators see every customer; the customer portal must not learn other customers' names."""
    return actor.login != PORTAL.login


def _holder(actor: Actor, customer: Customer, acting_for: int) -> str:
    if customer.id == acting_for:
        return f"this customer ({customer.name})" if _may_see_holder(actor) else "this account"
    return f"customer {customer.id} ({customer.name})" if _may_see_holder(actor) else "another account"


def _flush(uow: UnitOfWork, message: str) -> None:
    """Flush; a unique-constraint clash (the last line of defence) becomes ``message``."""
    try:
        uow.flush()
    except IntegrityError as exc:
        raise ConflictError(message) from exc


# ---------------------------------------------------------------------------
# settings
# ---------------------------------------------------------------------------


def missing_settings(session: Session) -> str | None:
    """Why no block can be assigned yet (the options are not set), or None."""
    missing = [key for key in _REQUIRED if options.get_int(session, key) is None]
    if not missing:
        return None
    labels = " and ".join(options.DEFINITIONS[k].label for k in missing)
    commands = "; ".join(f"`cxdesk options set {k} {_REQUIRED[k]}`" for k in missing)
    verb = "are" if len(missing) > 1 else "is"
    return (f"{labels} {verb} not set; set {'them' if len(missing) > 1 else 'it'} in Settings > Options "
            f"(or {commands}) before assigning a number block.")


def reading(source: Database | Session):
    """A read session: the caller's own (a UI load reads everything in one transaction), or a
    new one of the database."""
    return nullcontext(source) if isinstance(source, Session) else source.read_session()


def block_settings_problem(db: Database | Session) -> str | None:
    """For the UI: the explanation shown instead of assigning, or None when blocks can be assigned."""
    with reading(db) as s:
        return missing_settings(s)


def guard_option(session: Session, key: str, old: str, new: str) -> None:
    """Called by options.set_value before Internal Number Range Start or Block Size changes.

    Assigned blocks keep their own start and size, and later assignments skip every slot
    that overlaps one, so a change never orphans or overlaps a block and is allowed. The
    lock makes it wait for an assignment in progress, which therefore never mixes the old
    and the new values.
    """
    _lock(session)


def guard_realm(session: Session, key: str, old: str, new: str) -> None:
    """Refuse a new SIP realm while SIP users exist: each stored HA1 digest was computed
    with the old realm, so every SIP password would silently stop working."""
    count = session.scalar(select(func.count()).select_from(SipUser)) or 0
    if count:
        raise ConflictError(
            f"The SIP realm cannot change while {count} SIP user(s) exist: their stored digests use "
            f"'{old or 'cxdesk'}' and would all stop working. Remove the SIP users first, or keep the realm."
        )


# ---------------------------------------------------------------------------
# blocks
# ---------------------------------------------------------------------------


def _numeric_usernames(session: Session, lo: int = 1, hi: int = MAX_EXTENSION) -> list[tuple[int, int]]:
    """(number, customer_id) of the SIP users whose username is a number in [lo, hi], sorted."""
    rows = session.execute(
        select(SipUser.username, SipUser.customer_id)
        .where(func.length(SipUser.username).between(len(str(lo)), len(str(hi))))
    ).all()
    out = []
    for username, customer_id in rows:
        n = _numeric(username)
        if n is not None and lo <= n <= hi:
            out.append((n, customer_id))
    out.sort()
    return out


def _merged(intervals: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for a, b in sorted(intervals):
        if out and a <= out[-1][1] + 1:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


def next_free_start(start: int, size: int, occupied: list[tuple[int, int]]) -> int | None:
    """First number of the lowest grid slot overlapping none of ``occupied`` ((first, last)
    pairs), or None when the next free slot would end past MAX_EXTENSION."""
    taken = _merged(occupied)
    ends = [b for _, b in taken]
    n = 0
    while True:
        lo = start + n * size
        hi = lo + size - 1
        if hi > MAX_EXTENSION:
            return None
        i = bisect_left(ends, lo)
        if i == len(taken) or taken[i][0] > hi:
            return lo
        n = -(-(taken[i][1] + 1 - start) // size)  # first slot starting after that interval


def _block_infos(session: Session, blocks: Sequence[tuple[NumberBlock, str]]) -> list[BlockInfo]:
    used = [n for n, _ in _numeric_usernames(session)] if blocks else []
    return [
        BlockInfo(b.id, b.customer_id, name, b.start, b.size,
                  bisect_right(used, b.end) - bisect_left(used, b.start), b.assigned_at)
        for b, name in blocks
    ]


def _customer_blocks(session: Session, customer_id: int) -> list[NumberBlock]:
    return list(session.scalars(
        select(NumberBlock).where(NumberBlock.customer_id == customer_id).order_by(NumberBlock.start)))


def assign_block(db: Database, actor: Actor, customer_id: int, comment: str = "") -> BlockInfo:
    """Give the customer the lowest free block; returns it."""
    actor.require("edit_numbers")
    with unit_of_work(db, actor, comment) as uow:
        s = uow.session
        _lock(s)
        customer = _customer(s, customer_id)
        start, size = (options.get_int(s, key) for key in _REQUIRED)
        if start is None or size is None:
            raise ValidationError(missing_settings(s))
        users = _numeric_usernames(s)
        occupied = [(b.start, b.start + b.size - 1) for b in s.scalars(select(NumberBlock))]
        occupied += [(n, n) for n, owner in users if owner != customer_id]
        first = next_free_start(start, size, occupied)
        if first is None:
            raise ConflictError(
                f"No number block is free: the next one would end past {MAX_EXTENSION:,}, the largest "
                f"extension ({MAX_DIGITS} digits). Release unused blocks, or change Internal Number "
                "Range Start or Block Size in Settings > Options.")
        block = NumberBlock(customer_id=customer.id, start=first, size=size)
        label = f"{first}-{first + size - 1}"
        uow.add(block, message=f"Assigned number block {label} to {customer.audit_label()}")
        _flush(uow, f"Number block {label} was taken by another workstation at the same moment; "
                    "press + again to get the next free one.")
        in_use = sum(first <= n < first + size for n, _ in users)  # the customer's own, if any
        info = BlockInfo(block.id, customer.id, customer.name, first, size, in_use, block.assigned_at)
    return info


def release_block(db: Database, actor: Actor, customer_id: int, start: int | str, comment: str = "") -> BlockInfo:
    """Take back the customer's block that starts at ``start``; refused while extensions in it are in use."""
    actor.require("edit_numbers")
    first = parse_extension(start, "block start", field="block")
    with unit_of_work(db, actor, comment) as uow:
        s = uow.session
        _lock(s)
        customer = _customer(s, customer_id)
        blocks = _customer_blocks(s, customer_id)
        block = next((b for b in blocks if b.start == first), None)
        if block is None:
            held = ", ".join(f"{b.start}-{b.end}" for b in blocks) or "none"
            raise NotFound(f"{customer.name} has no number block starting at {first} (its blocks: {held}); "
                           "refresh the list.", field="block")
        used = _numeric_usernames(s, block.start, block.end)
        if used:
            shown = ", ".join(str(n) for n, _ in used[:5]) + (", ..." if len(used) > 5 else "")
            raise ConflictError(
                f"Number block {block.start}-{block.end} still has {len(used)} extension(s) in use ({shown}); "
                "delete those SIP users on the Auth tab before releasing the block.")
        info = BlockInfo(block.id, customer.id, customer.name, block.start, block.size, 0, block.assigned_at)
        uow.delete(block, message=f"Released number block {info.label} from {customer.audit_label()}")
    return info


def list_blocks(db: Database | Session, customer_id: int | None = None) -> list[BlockInfo]:
    """Assigned blocks (of one customer, or all), lowest first, with how many numbers are in use."""
    with reading(db) as s:
        q = select(NumberBlock, Customer.name).join(Customer, Customer.id == NumberBlock.customer_id)
        if customer_id is not None:
            q = q.where(NumberBlock.customer_id == customer_id)
        return _block_infos(s, s.execute(q.order_by(NumberBlock.start)).tuples().all())


def free_numbers(db: Database | Session, customer_id: int, limit: int = 200) -> list[str]:
    """Up to ``limit`` unused numbers from the customer's blocks, lowest first ([] without a block)."""
    with reading(db) as s:
        out: list[str] = []
        for b in _customer_blocks(s, customer_id):
            used = {n for n, _ in _numeric_usernames(s, b.start, b.end)}
            n = b.start
            while n <= b.end and len(out) < limit:
                if n not in used:
                    out.append(str(n))
                n += 1
            if len(out) >= limit:
                break
        return out


def resolve_short(db: Database, customer_id: int, short: str) -> str:
    """The full number a short extension dials for the customer (block 2000-2999: "100" -> "2100")."""
    v = str(short).strip()
    if not re.fullmatch(r"[0-9]+", v):
        parse_extension(v, "short extension", field="short", example="100")  # raises the precise message
    with db.read_session() as s:
        customer = _customer(s, customer_id)
        blocks = _customer_blocks(s, customer_id)
    if not blocks:
        raise ValidationError(f"{customer.name} has no number block, so it has no short extensions; "
                              "dial the full number.", field="short")
    width = max(short_width(b.size) for b in blocks)
    if len(v) > width:
        n = parse_extension(v, "short extension", field="short", example="100")
        if any(b.start <= n <= b.end for b in blocks):
            return str(n)  # already a full number of the customer
        ranges = ", ".join(f"{b.start}-{b.end}" for b in blocks)
        raise ValidationError(f"{v} is neither a short extension (at most {width} digits) nor a number in "
                              f"{customer.name}'s blocks ({ranges}).", field="short")
    n = int(v)
    found = [b.start + (n - b.start) % b.size for b in blocks if n < b.size]
    if not found:
        raise ValidationError(f"{v} is out of range: {customer.name}'s short extensions have "
                              f"{width} digits at most.", field="short")
    if len(found) > 1:
        raise ValidationError(f"{v} is ambiguous: {customer.name} has several blocks ({', '.join(map(str, found))}); "
                              "dial the full number.", field="short")
    return str(found[0])


# ---------------------------------------------------------------------------
# SIP users
# ---------------------------------------------------------------------------


def _check_caller_id(caller_id: str) -> str:
    v = (caller_id or "").strip().replace(" ", "")
    if v and not _CALLER_ID.fullmatch(v):
        raise ValidationError(f"'{caller_id.strip()}' is not a caller ID: use digits with an optional "
                              "leading +, at most 15 digits, e.g. +441234567890.", field="caller_id")
    return v


def _sip_info(u: SipUser, name: str, blocks: Sequence[BlockInfo]) -> SipUserInfo:
    return SipUserInfo(u.id, u.customer_id, name, u.username, short_for(u.username, blocks),
                       u.caller_id, u.enabled, u.version, u.updated_by, u.updated_at)


def add_sip_users(db: Database, actor: Actor, customer_id: int, new: Sequence[NewSipUser],
                  comment: str = "") -> list[AddedSipUser]:
    """Create SIP users for the customer, all or none. Generated passwords are returned once."""
    actor.require("edit_numbers")
    if not new:
        raise ValidationError("Name at least one extension to add.", field="username")
    numbers: list[int] = []
    for spec in new:
        n = parse_extension(spec.username)
        if n in numbers:
            raise ValidationError(f"{n} appears twice in this request; list each extension once.", field="username")
        numbers.append(n)
        if spec.password is not None:
            passwords.check_policy(spec.password, str(n))
        _check_caller_id(spec.caller_id)

    added: list[tuple[SipUser, str | None]] = []
    with unit_of_work(db, actor, comment) as uow:
        s = uow.session
        _lock(s)
        customer = _customer(s, customer_id)
        realm = options.get(s, "sip-realm")
        own = _customer_blocks(s, customer_id)
        for spec, n in zip(new, numbers):
            username = str(n)
            holder = s.scalars(select(SipUser).where(SipUser.username == username)).first()
            if holder is not None:
                who = _holder(actor, _customer(s, holder.customer_id), customer_id)
                raise ConflictError(f"Duplicate User Detected: {username} is already used by {who}; "
                                    "choose another extension.", field="username")
            if own and not any(b.start <= n <= b.end for b in own):
                ranges = ", ".join(f"{b.start}-{b.end}" for b in own)
                raise ValidationError(f"{username} is outside {customer.name}'s number block(s) ({ranges}); "
                                      "choose one of the block's free numbers.", field="username")
            if not own:
                b = s.scalars(select(NumberBlock).where(
                    NumberBlock.start <= n, NumberBlock.start + NumberBlock.size > n)).first()
                if b is not None:
                    who = _holder(actor, _customer(s, b.customer_id), customer_id)
                    raise ValidationError(f"{username} belongs to number block {b.start}-{b.end} of {who}; "
                                          "choose a number outside other customers' blocks.", field="username")
            password = spec.password
            generated = None
            if password is None:
                password = generated = passwords.generate_password()
            user = SipUser(customer_id=customer.id, username=username,
                           ha1=passwords.sip_ha1(username, realm, password),
                           caller_id=_check_caller_id(spec.caller_id), enabled=spec.enabled)
            how = "generated" if generated else "typed"
            uow.add(user, message=f"Created SIP user {username} for {customer.audit_label()} ({how} password)")
            _flush(uow, f"Duplicate User Detected: {username} was taken at the same moment by another "
                        "workstation; choose another extension.")
            added.append((user, generated))
        blocks = _block_infos(s, [(b, customer.name) for b in own])
        result = [AddedSipUser(_sip_info(u, customer.name, blocks), g) for u, g in added]
    return result


def add_sip_user(db: Database, actor: Actor, customer_id: int, username: str, password: str | None = None,
                 *, caller_id: str = "", enabled: bool = True, comment: str = "") -> AddedSipUser:
    """One SIP user; ``password=None`` generates one (shown once: ``.generated_password``)."""
    return add_sip_users(db, actor, customer_id, [NewSipUser(username, password, caller_id, enabled)], comment)[0]


def _load_sip_user(session: Session, sip_user_id: int, version: int | None) -> SipUser:
    u = session.get(SipUser, sip_user_id)
    if u is None:
        raise NotFound("That SIP user no longer exists (someone deleted it); refresh the list.")
    if version is not None and u.version != version:
        when = u.updated_at.astimezone(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        raise ConflictError(f"SIP user {u.username} was changed by {u.updated_by or 'someone'} at {when}; "
                            "reload it and apply your change again.")
    return u


def set_sip_enabled(db: Database, actor: Actor, sip_user_id: int, enabled: bool, version: int | None = None,
                    comment: str = "") -> SipUserInfo:
    actor.require("edit_numbers")
    with unit_of_work(db, actor, comment) as uow:
        s = uow.session
        u = _load_sip_user(s, sip_user_id, version)
        customer = _customer(s, u.customer_id)
        if u.enabled != enabled:
            u.enabled = enabled
            uow.note(u, message=f"{'Enabled' if enabled else 'Disabled'} SIP user {u.username} "
                                f"of {customer.audit_label()}")
            uow.flush()
        blocks = _block_infos(s, [(b, customer.name) for b in _customer_blocks(s, customer.id)])
        info = _sip_info(u, customer.name, blocks)
    return info


def delete_sip_user(db: Database, actor: Actor, sip_user_id: int, version: int | None = None,
                    comment: str = "") -> None:
    actor.require("edit_numbers")
    with unit_of_work(db, actor, comment) as uow:
        s = uow.session
        u = _load_sip_user(s, sip_user_id, version)
        customer = _customer(s, u.customer_id)
        uow.delete(u, message=f"Deleted SIP user {u.username} of {customer.audit_label()}")


def list_sip_users(db: Database | Session, customer_id: int | None = None) -> list[SipUserInfo]:
    """SIP users (of one customer, or all), in numeric order, with their short extensions."""
    with reading(db) as s:
        q = select(SipUser, Customer.name).join(Customer, Customer.id == SipUser.customer_id)
        bq = select(NumberBlock, Customer.name).join(Customer, Customer.id == NumberBlock.customer_id)
        if customer_id is not None:
            q = q.where(SipUser.customer_id == customer_id)
            bq = bq.where(NumberBlock.customer_id == customer_id)
        blocks = _block_infos(s, s.execute(bq).tuples().all())
        by_customer: dict[int, list[BlockInfo]] = {}
        for b in blocks:
            by_customer.setdefault(b.customer_id, []).append(b)
        rows = [_sip_info(u, name, by_customer.get(u.customer_id, [])) for u, name in s.execute(q).tuples()]
    rows.sort(key=lambda r: (len(r.username), r.username))
    return rows
