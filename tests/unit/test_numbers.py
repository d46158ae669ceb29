"""Internal number blocks and SIP users: the service, on SQLite and PostgreSQL."""
from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from cxdesk.errors import ConflictError, NotFound, ValidationError
from cxdesk.models import AuditEntry, NumberBlock, SipUser
from cxdesk.services import customers, numbers, options, passwords
from cxdesk.services.actor import PORTAL
from cxdesk.services.uow import unit_of_work


def configure(db, admin, start="2000", size="1000"):
    options.set_value(db, admin, "number-range-start", start)
    options.set_value(db, admin, "block-size", size)


def snapshot(db):
    """Everything these operations may change: blocks, SIP users, audit log length."""
    with db.read_session() as s:
        return (
            s.execute(select(NumberBlock.customer_id, NumberBlock.start, NumberBlock.size)
                      .order_by(NumberBlock.start)).all(),
            s.execute(select(SipUser.username, SipUser.customer_id, SipUser.ha1, SipUser.caller_id,
                             SipUser.enabled, SipUser.version).order_by(SipUser.username)).all(),
            s.scalar(select(func.count()).select_from(AuditEntry)),
        )


def ranges(db, customer_id=None):
    return [b.label for b in numbers.list_blocks(db, customer_id)]


def audit(db, table):
    with db.read_session() as s:
        return s.scalars(select(AuditEntry).where(AuditEntry.table_name == table).order_by(AuditEntry.id)).all()


# ---------------------------------------------------------------------------
# blocks
# ---------------------------------------------------------------------------


def test_assign_needs_both_options_and_says_which_is_missing(db, admin, staff, make_customer):
    acme = make_customer(db)
    before = snapshot(db)
    with pytest.raises(ValidationError) as e:
        numbers.assign_block(db, staff, acme)
    assert "Internal Number Range Start and Internal Number Block Size are not set" in str(e.value)
    assert numbers.block_settings_problem(db) == str(e.value)
    options.set_value(db, admin, "number-range-start", "2000")
    before = snapshot(db)
    with pytest.raises(ValidationError) as e:
        numbers.assign_block(db, staff, acme)
    assert "Internal Number Block Size is not set" in str(e.value)
    assert "cxdesk options set block-size" in str(e.value)
    assert "Range Start" not in str(e.value)
    assert snapshot(db) == before
    options.set_value(db, admin, "block-size", "1000")
    assert numbers.block_settings_problem(db) is None


def test_assign_gives_the_next_free_block_and_a_customer_may_hold_several(db, admin, staff, make_customer):
    configure(db, admin)
    acme, beta = make_customer(db, "Acme"), make_customer(db, "Beta")
    first = numbers.assign_block(db, staff, acme)
    assert (first.start, first.end, first.label, first.customer_name) == (2000, 2999, "2000-2999", "Acme")
    assert numbers.assign_block(db, staff, beta).label == "3000-3999"
    assert numbers.assign_block(db, staff, acme).label == "4000-4999"
    assert ranges(db, acme) == ["2000-2999", "4000-4999"]
    assert ranges(db, beta) == ["3000-3999"]
    assert ranges(db) == ["2000-2999", "3000-3999", "4000-4999"]


def test_assign_and_release_are_audited_and_released_blocks_are_reused(db, admin, staff, make_customer):
    configure(db, admin)
    acme, beta, gamma = (make_customer(db, n) for n in ("Acme", "Beta", "Gamma"))
    numbers.assign_block(db, staff, acme, comment="new contract")
    numbers.assign_block(db, staff, beta)
    released = numbers.release_block(db, staff, acme, "2000")
    assert released.label == "2000-2999"
    assert ranges(db, acme) == []
    assert numbers.assign_block(db, staff, gamma).label == "2000-2999"

    entries = audit(db, "number_blocks")
    assert [e.action for e in entries] == ["CREATE", "CREATE", "DELETE", "CREATE"]
    assert entries[0].message == f"Assigned number block 2000-2999 to customer {acme} (Acme)"
    assert entries[0].comment == "new contract" and entries[0].actor == "sam"
    assert entries[0].customer_id == acme
    assert json.loads(entries[0].after)["start"] == 2000
    assert entries[2].message == f"Released number block 2000-2999 from customer {acme} (Acme)"
    assert json.loads(entries[2].before)["customer_id"] == acme


def test_release_is_refused_while_extensions_are_in_use(db, admin, staff, make_customer):
    configure(db, admin)
    acme = make_customer(db)
    numbers.assign_block(db, staff, acme)
    numbers.add_sip_user(db, staff, acme, "2100")
    before = snapshot(db)
    with pytest.raises(ConflictError) as e:
        numbers.release_block(db, staff, acme, 2000)
    assert "2000-2999 still has 1 extension(s) in use (2100)" in str(e.value)
    assert snapshot(db) == before


def test_release_of_a_block_the_customer_does_not_hold(db, admin, staff, make_customer):
    configure(db, admin)
    acme, beta = make_customer(db, "Acme"), make_customer(db, "Beta")
    numbers.assign_block(db, staff, acme)
    before = snapshot(db)
    with pytest.raises(NotFound, match=r"Beta has no number block starting at 2000 \(its blocks: none\)"):
        numbers.release_block(db, staff, beta, 2000)
    with pytest.raises(NotFound, match=r"no number block starting at 2100 \(its blocks: 2000-2999\)"):
        numbers.release_block(db, staff, acme, 2100)
    with pytest.raises(ValidationError, match="not a number"):
        numbers.release_block(db, staff, acme, "2000-2999")
    assert snapshot(db) == before


def test_changing_the_options_keeps_assigned_blocks_and_never_overlaps(db, admin, staff, make_customer):
    configure(db, admin)
    a, b, c, d, e = (make_customer(db, n) for n in "ABCDE")
    numbers.assign_block(db, staff, a)          # 2000-2999
    numbers.assign_block(db, staff, b)          # 3000-3999
    options.set_value(db, admin, "number-range-start", "2500")
    assert ranges(db) == ["2000-2999", "3000-3999"]       # nothing moved or orphaned
    assert numbers.assign_block(db, staff, c).label == "4500-5499"  # 2500-3499, 3500-4499 overlap
    options.set_value(db, admin, "block-size", "100")
    assert numbers.assign_block(db, staff, d).label == "4000-4099"  # the gap, on the new grid
    options.set_value(db, admin, "number-range-start", "1000")
    assert numbers.assign_block(db, staff, e).label == "1000-1099"
    blocks = sorted((x.start, x.end) for x in numbers.list_blocks(db))
    assert all(prev[1] < nxt[0] for prev, nxt in zip(blocks, blocks[1:]))
    assert [(x.start, x.size) for x in numbers.list_blocks(db, a)] == [(2000, 1000)]


def test_assign_skips_blocks_holding_another_customers_extension(db, admin, staff, make_customer):
    configure(db, admin)
    loner, acme = make_customer(db, "Loner"), make_customer(db, "Acme")
    numbers.add_sip_user(db, staff, loner, "2100")   # no block: any unused number
    assert numbers.assign_block(db, staff, acme).label == "3000-3999"
    mine = numbers.assign_block(db, staff, loner)    # its own extension may sit in its block
    assert (mine.label, mine.in_use) == ("2000-2999", 1)


def test_no_block_past_the_largest_extension(db, admin, staff, make_customer):
    configure(db, admin, start="999999000", size="1000")
    acme = make_customer(db)
    assert numbers.assign_block(db, staff, acme).label == "999999000-999999999"
    before = snapshot(db)
    with pytest.raises(ConflictError, match="would end past 999,999,999, the largest extension"):
        numbers.assign_block(db, staff, acme)
    assert snapshot(db) == before
    options.set_value(db, admin, "number-range-start", "999999999")
    with pytest.raises(ConflictError, match="No number block is free"):
        numbers.assign_block(db, staff, acme)
    assert snapshot(db)[:2] == before[:2]


def test_assign_for_a_missing_customer(db, admin, staff):
    configure(db, admin)
    before = snapshot(db)
    with pytest.raises(NotFound, match="There is no customer 999"):
        numbers.assign_block(db, staff, 999)
    assert snapshot(db) == before


def test_next_free_start_jumps_over_occupied_ranges():
    assert numbers.next_free_start(1000, 1000, []) == 1000
    assert numbers.next_free_start(1000, 1000, [(1000, 1999), (2000, 2999), (3500, 3500)]) == 4000
    assert numbers.next_free_start(1000, 10, [(1, 1_000_000)]) == 1_000_010
    assert numbers.next_free_start(999_999_990, 10, [(999_999_995, 999_999_995)]) is None


# ---------------------------------------------------------------------------
# SIP users
# ---------------------------------------------------------------------------


def test_sip_user_from_the_block_with_a_typed_password_kept_as_ha1(db, admin, staff, make_customer):
    configure(db, admin)
    options.set_value(db, admin, "sip-realm", "sip.example.net")
    acme = make_customer(db)
    numbers.assign_block(db, staff, acme)
    assert numbers.free_numbers(db, acme, limit=3) == ["2000", "2001", "2002"]
    added = numbers.add_sip_user(db, staff, acme, " 2001 ", "Tr0ub4dor&3x", caller_id="+44 20 7946 0000")
    assert added.generated_password is None
    u = added.user
    assert (u.username, u.short, u.caller_id, u.enabled, u.customer_name) == ("2001", "001", "+442079460000", True, "Acme Telecom")
    assert numbers.free_numbers(db, acme, limit=3) == ["2000", "2002", "2003"]
    with db.read_session() as s:
        ha1 = s.scalar(select(SipUser.ha1).where(SipUser.username == "2001"))
    assert ha1 == passwords.sip_ha1("2001", "sip.example.net", "Tr0ub4dor&3x")

    [entry] = audit(db, "sip_users")
    assert entry.action == "CREATE"
    assert entry.message == f"Created SIP user 2001 for customer {acme} (Acme Telecom) (typed password)"
    assert json.loads(entry.after)["ha1"] == "********"
    with db.read_session() as s:
        everything = " ".join(f"{e.message} {e.before} {e.after}" for e in s.scalars(select(AuditEntry)))
    assert "Tr0ub4dor&3x" not in everything and ha1 not in everything


def test_generated_password_is_returned_once_and_never_stored(db, admin, staff, make_customer):
    configure(db, admin)
    acme = make_customer(db)
    numbers.assign_block(db, staff, acme)
    added = numbers.add_sip_user(db, staff, acme, "2100")
    pw = added.generated_password
    assert pw and len(pw) >= 16
    with db.read_session() as s:
        ha1 = s.scalar(select(SipUser.ha1).where(SipUser.username == "2100"))
    assert ha1 == passwords.sip_ha1("2100", "cxdesk", pw)
    listed = numbers.list_sip_users(db, acme)
    assert [(x.username, x.short) for x in listed] == [("2100", "100")]
    assert pw not in repr(listed)
    assert "generated password" in audit(db, "sip_users")[0].message


def test_with_a_block_any_other_number_is_refused(db, admin, staff, make_customer):
    configure(db, admin)
    acme = make_customer(db)
    numbers.assign_block(db, staff, acme)
    before = snapshot(db)
    with pytest.raises(ValidationError, match=r"3100 is outside Acme Telecom's number block\(s\) \(2000-2999\)") as e:
        numbers.add_sip_user(db, staff, acme, "3100")
    assert e.value.field == "username"
    assert snapshot(db) == before


def test_without_a_block_any_unused_number_outside_other_blocks(db, admin, staff, make_customer):
    configure(db, admin)
    acme, loner = make_customer(db, "Acme"), make_customer(db, "Loner")
    numbers.assign_block(db, staff, acme)
    assert numbers.free_numbers(db, loner) == []
    assert numbers.add_sip_user(db, staff, loner, "7").user.short == ""
    assert numbers.add_sip_user(db, staff, loner, "123456789").user.username == "123456789"
    before = snapshot(db)
    with pytest.raises(ValidationError, match=rf"2500 belongs to number block 2000-2999 of customer {acme} \(Acme\)"):
        numbers.add_sip_user(db, staff, loner, "2500")
    assert snapshot(db) == before


def test_duplicate_user_detected_names_the_holder_to_operators_only(db, admin, staff, make_customer):
    configure(db, admin)
    acme, beta = make_customer(db, "Acme"), make_customer(db, "Beta")
    numbers.add_sip_user(db, staff, acme, "555")
    before = snapshot(db)
    with pytest.raises(ConflictError) as e:
        numbers.add_sip_user(db, staff, beta, "555")
    assert str(e.value) == (f"Duplicate User Detected: 555 is already used by customer {acme} (Acme); "
                            "choose another extension.")
    with pytest.raises(ConflictError) as e:
        numbers.add_sip_user(db, staff, acme, "555")
    assert "already used by this customer (Acme)" in str(e.value)
    with pytest.raises(ConflictError) as e:
        numbers.add_sip_user(db, PORTAL, beta, "555")
    assert "Duplicate User Detected: 555 is already used by another account" in str(e.value)
    assert "Acme" not in str(e.value)
    assert snapshot(db) == before


def test_a_request_is_all_or_nothing(db, admin, staff, make_customer):
    configure(db, admin)
    acme, beta = make_customer(db, "Acme"), make_customer(db, "Beta")
    numbers.assign_block(db, staff, acme)
    numbers.assign_block(db, staff, beta)
    numbers.add_sip_user(db, staff, beta, "3100")
    before = snapshot(db)
    new = [numbers.NewSipUser("2100"), numbers.NewSipUser("2101"), numbers.NewSipUser("3100")]
    with pytest.raises(ConflictError, match="Duplicate User Detected: 3100"):
        numbers.add_sip_users(db, staff, acme, new)
    assert snapshot(db) == before
    added = numbers.add_sip_users(db, staff, acme, new[:2])
    assert [a.user.username for a in added] == ["2100", "2101"]
    assert all(a.generated_password for a in added)


@pytest.mark.parametrize("usernames, message", [
    (["abc"], "'abc' is not a number; the extension must be digits only"),
    (["21 00"], "'21 00' is not a number"),
    (["2100.5"], "'2100.5' is not a number"),
    (["+2100"], "'+2100' is not a number"),
    (["-2100"], "-2100 is negative; the extension must be a positive number"),
    (["0"], "0 starts with 0"),
    (["02100"], "02100 starts with 0"),
    ([""], "Type the extension"),
    (["1000000000"], "1000000000 is too large; the extension has at most 9 digits (up to 999,999,999)"),
    (["9" * 5000], "is too large"),
    (["2100", "2101", "2100"], "2100 appears twice in this request; list each extension once"),
    ([], "Name at least one extension"),
])
def test_bad_usernames_get_their_message_and_change_nothing(db, admin, staff, make_customer, usernames, message):
    configure(db, admin)
    acme = make_customer(db)
    numbers.assign_block(db, staff, acme)
    before = snapshot(db)
    with pytest.raises(ValidationError) as e:
        numbers.add_sip_users(db, staff, acme, [numbers.NewSipUser(u) for u in usernames])
    assert message in str(e.value)
    assert e.value.field == "username"
    assert snapshot(db) == before


@pytest.mark.parametrize("password, caller_id, message, field", [
    ("short", "", "The password is too short", "password"),
    ("2100", "", "The password is too short", "password"),
    ("qwertyuiop", "", "too easy to guess", "password"),
    ("Violet-Harbour-42", "caller", "'caller' is not a caller ID", "caller_id"),
    ("Violet-Harbour-42", "+1234567890123456", "at most 15 digits", "caller_id"),
])
def test_bad_password_or_caller_id_changes_nothing(db, admin, staff, make_customer, password, caller_id, message, field):
    configure(db, admin)
    acme = make_customer(db)
    numbers.assign_block(db, staff, acme)
    before = snapshot(db)
    with pytest.raises(ValidationError) as e:
        numbers.add_sip_user(db, staff, acme, "2100", password, caller_id=caller_id)
    assert message in str(e.value) and e.value.field == field
    assert snapshot(db) == before


def test_the_unique_constraint_is_the_last_line_of_defence(db, admin, staff, make_customer):
    """If two writers ever got past the checks, the loser still gets the clear message."""
    configure(db, admin)
    acme = make_customer(db)
    numbers.assign_block(db, staff, acme)
    numbers.add_sip_user(db, staff, acme, "2100")
    before = snapshot(db)
    with pytest.raises(ConflictError, match="^Duplicate User Detected: raced$"):
        with unit_of_work(db, staff) as uow:
            uow.add(SipUser(customer_id=acme, username="2100", ha1="0" * 32))
            numbers._flush(uow, "Duplicate User Detected: raced")
    with pytest.raises(ConflictError, match="^block raced$"):
        with unit_of_work(db, staff) as uow:
            uow.add(NumberBlock(customer_id=acme, start=2000, size=10))
            numbers._flush(uow, "block raced")
    assert snapshot(db) == before


def test_enable_disable_and_delete(db, admin, staff, supervisor, make_customer):
    configure(db, admin)
    acme = make_customer(db)
    numbers.assign_block(db, staff, acme)
    u = numbers.add_sip_user(db, staff, acme, "2100").user
    off = numbers.set_sip_enabled(db, staff, u.id, False, version=u.version)
    assert (off.enabled, off.version, off.updated_by) == (False, u.version + 1, "sam")
    assert audit(db, "sip_users")[-1].message == f"Disabled SIP user 2100 of customer {acme} (Acme Telecom)"
    before = snapshot(db)
    with pytest.raises(ConflictError, match=r"SIP user 2100 was changed by sam at .* UTC; reload it"):
        numbers.set_sip_enabled(db, supervisor, u.id, True, version=u.version)
    with pytest.raises(ConflictError, match="changed by sam"):
        numbers.delete_sip_user(db, supervisor, u.id, version=u.version)
    assert snapshot(db) == before
    numbers.delete_sip_user(db, supervisor, u.id, version=off.version)
    assert numbers.list_sip_users(db, acme) == []
    assert audit(db, "sip_users")[-1].action == "DELETE"
    with pytest.raises(NotFound):
        numbers.delete_sip_user(db, supervisor, u.id)
    numbers.release_block(db, staff, acme, 2000)  # free again


def test_list_sip_users_in_numeric_order_with_short_extensions(db, admin, staff, make_customer):
    configure(db, admin, size="100")
    acme, loner = make_customer(db, "Acme"), make_customer(db, "Loner")
    numbers.assign_block(db, staff, acme)   # 2000-2099
    for n in ("2010", "2002", "2099"):
        numbers.add_sip_user(db, staff, acme, n)
    numbers.add_sip_user(db, staff, loner, "90")
    assert [(u.username, u.short, u.customer_name) for u in numbers.list_sip_users(db)] == [
        ("90", "", "Loner"), ("2002", "02", "Acme"), ("2010", "10", "Acme"), ("2099", "99", "Acme")]
    assert [b.in_use for b in numbers.list_blocks(db)] == [3]


# ---------------------------------------------------------------------------
# short dialling
# ---------------------------------------------------------------------------


def test_resolve_short_extensions(db, admin, staff, make_customer):
    configure(db, admin)
    acme = make_customer(db)
    numbers.assign_block(db, staff, acme)     # 2000-2999
    assert numbers.resolve_short(db, acme, "100") == "2100"
    assert numbers.resolve_short(db, acme, "5") == "2005"
    assert numbers.resolve_short(db, acme, "005") == "2005"
    assert numbers.resolve_short(db, acme, "2100") == "2100"    # already full
    numbers.assign_block(db, staff, make_customer(db, "Beta"))  # 3000-3999
    numbers.assign_block(db, staff, acme)     # 4000-4999
    with pytest.raises(ValidationError, match=r"100 is ambiguous: Acme Telecom has several blocks \(2100, 4100\)"):
        numbers.resolve_short(db, acme, "100")
    assert numbers.resolve_short(db, acme, "4100") == "4100"


@pytest.mark.parametrize("short, message", [
    ("abc", "'abc' is not a number; the short extension must be digits only, such as 100"),
    ("-1", "-1 is negative"),
    ("", "Type the short extension"),
    ("3100", "3100 is neither a short extension (at most 3 digits) nor a number in Acme Telecom's blocks (2000-2999)"),
    ("99999999999", "is too large"),
])
def test_resolve_short_bad_input(db, admin, staff, make_customer, short, message):
    configure(db, admin)
    acme = make_customer(db)
    numbers.assign_block(db, staff, acme)
    with pytest.raises(ValidationError) as e:
        numbers.resolve_short(db, acme, short)
    assert message in str(e.value)


def test_resolve_short_without_a_block(db, admin, make_customer):
    acme = make_customer(db)
    with pytest.raises(ValidationError, match="has no number block, so it has no short extensions"):
        numbers.resolve_short(db, acme, "100")


def test_short_extension_is_the_trailing_digits_even_off_the_thousands():
    block = numbers.BlockInfo(1, 1, "Acme", 1500, 1000, 0, None)
    assert numbers.short_for("2100", [block]) == "100"
    assert numbers.short_for(1600, [block]) == "600"
    assert numbers.short_for("1499", [block]) == ""
    assert numbers.short_for("abc", [block]) == ""


def test_resolve_short_off_the_thousands(db, admin, staff, make_customer):
    configure(db, admin, start="1500")
    acme = make_customer(db)
    numbers.assign_block(db, staff, acme)     # 1500-2499
    assert numbers.resolve_short(db, acme, "100") == "2100"
    assert numbers.resolve_short(db, acme, "600") == "1600"


def test_find_customer_by_id_or_exact_name(db, make_customer):
    acme = make_customer(db, "Acme Telecom")
    digits = make_customer(db, "4242")
    assert customers.find_customer(db, str(acme)) == (acme, "Acme Telecom")
    assert customers.find_customer(db, " Acme Telecom ") == (acme, "Acme Telecom")
    assert customers.find_customer(db, "4242") == (digits, "4242")
    with pytest.raises(NotFound, match="no customer with the id or exact name 'acme telecom'"):
        customers.find_customer(db, "acme telecom")


def test_sip_realm_cannot_change_while_sip_users_exist(db, admin, make_customer):
    from cxdesk.errors import ConflictError
    from cxdesk.models import SipUser
    from cxdesk.services import options
    from cxdesk.services.numbers import add_sip_user

    cid = make_customer(db, "Realm Test")
    options.set_value(db, admin, "sip-realm", "sip.example.com")  # no SIP users yet: allowed
    add_sip_user(db, admin, cid, "4100", "Str0ng-Enough-pw")
    with db.read_session() as s:
        ha1 = s.scalars(select(SipUser.ha1)).one()
    with pytest.raises(ConflictError, match="1 SIP user"):
        options.set_value(db, admin, "sip-realm", "other.example.com")
    with db.read_session() as s:
        assert options.get(s, "sip-realm") == "sip.example.com"
        assert s.scalars(select(SipUser.ha1)).one() == ha1
