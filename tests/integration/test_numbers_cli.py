"""`cxdesk numbers ...` and `cxdesk sip ...` as a user runs them: a real process."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from cxdesk.models import AuditEntry, NumberBlock, Option, SipUser
from cxdesk.services import numbers, options, passwords


def url_of(db) -> str:
    return db.url.render_as_string(hide_password=False)


def state(db):
    with db.read_session() as s:
        return (
            s.execute(select(Option.key, Option.value).order_by(Option.key)).all(),
            s.execute(select(NumberBlock.customer_id, NumberBlock.start).order_by(NumberBlock.start)).all(),
            s.execute(select(SipUser.username, SipUser.ha1).order_by(SipUser.username)).all(),
            s.scalar(select(func.count()).select_from(AuditEntry)),
        )


def fails(result, message: str) -> None:
    assert result.returncode == 1, result
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("cxdesk: ") and result.stderr.count("\n") == 1, result.stderr
    assert message in result.stderr, result.stderr


@pytest.fixture
def cli(run_cli, db):
    return lambda *args, **kw: run_cli(*args, db_url=url_of(db), **kw)


def test_assign_explains_the_missing_options(sqlite_db, run_cli, admin, make_customer):
    make_customer(sqlite_db, "Acme Telecom")
    fails(run_cli("numbers", "assign", "Acme Telecom", db_url=url_of(sqlite_db)),
          "Internal Number Range Start and Internal Number Block Size are not set")
    options.set_value(sqlite_db, admin, "number-range-start", "2000")
    fails(run_cli("numbers", "assign", "Acme Telecom", db_url=url_of(sqlite_db)),
          "Internal Number Block Size is not set; set it in Settings > Options "
          "(or `cxdesk options set block-size 1000`) before assigning a number block.")


@pytest.mark.timeout(300)  # several processes; slow on a loaded machine
def test_blocks_from_the_command_line(db, cli, admin, make_customer):
    acme = make_customer(db, "Acme Telecom")
    beta = make_customer(db, "Beta")
    assert cli("options", "set", "number-range-start", "2000").stdout == "number-range-start = 2000\n"
    assert cli("options", "set", "block-size", "1000").returncode == 0
    r = cli("numbers", "assign", "Acme Telecom")
    assert r.stdout == f"assigned 2000-2999 to Acme Telecom (customer {acme})\n", r.stderr
    numbers.assign_block(db, admin, beta)
    assert cli("numbers", "assign", str(acme)).stdout.startswith("assigned 4000-4999 to Acme Telecom")

    lines = cli("numbers", "list", "Acme Telecom").stdout.splitlines()
    assert lines[0].split() == ["block", "size", "in", "use", "customer", "id", "customer", "assigned", "(UTC)"]
    assert [ln.split()[:4] for ln in lines[1:]] == [["2000-2999", "1000", "0", str(acme)],
                                                    ["4000-4999", "1000", "0", str(acme)]]
    assert cli("numbers", "release", "Acme Telecom", "4000").stdout == \
        f"released 4000-4999 from Acme Telecom (customer {acme})\n"
    assert cli("numbers", "resolve", "Acme Telecom", "100").stdout == "2100\n"
    with db.read_session() as s:
        actions = s.execute(select(AuditEntry.action, AuditEntry.actor)
                            .where(AuditEntry.table_name == "number_blocks").order_by(AuditEntry.id)).all()
    assert [a for a, _ in actions] == ["CREATE", "CREATE", "CREATE", "DELETE"]
    assert [actor.startswith("cli:") for _, actor in actions] == [True, False, True, True]


@pytest.mark.timeout(300)
def test_option_changes_through_the_cli_are_validated(sqlite_db, run_cli):
    db = sqlite_db
    cli = lambda *args: run_cli(*args, db_url=url_of(db))  # noqa: E731
    before = state(db)
    fails(cli("options", "set", "block-size", "150"), "A block size must be 10, 100, 1000")
    fails(cli("options", "set", "block-size", "abc"), "'abc' is not a whole number")
    fails(cli("options", "set", "number-range-start", "-5"), "'-5' is not a whole number")
    fails(cli("options", "set", "number-range-start", "0"), "greater than zero")
    fails(cli("options", "set", "number-range-start", "1000000000"), "at most 999,999,999")
    assert state(db) == before


def seed(db, admin, make_customer) -> int:
    """Options set, Acme Telecom holds 2000-2999 with extension 2100, Beta holds nothing."""
    options.set_value(db, admin, "number-range-start", "2000")
    options.set_value(db, admin, "block-size", "1000")
    acme = make_customer(db, "Acme Telecom")
    make_customer(db, "Beta")
    numbers.assign_block(db, admin, acme)
    numbers.add_sip_user(db, admin, acme, "2100", "Some-Secret-1")
    return acme


@pytest.mark.timeout(300)
def test_sip_users_from_the_command_line(db, cli, admin, make_customer):
    acme = seed(db, admin, make_customer)
    r = cli("sip", "add", "Acme Telecom", "2103", "--generate", "--caller-id", "+441234567890")
    assert r.returncode == 0, r.stderr
    m = re.fullmatch(r"added SIP user 2103 \(short 103\) to Acme Telecom\n  password \(shown once\): (\S+)\n", r.stdout)
    assert m, r.stdout
    r = cli("sip", "add", str(acme), "2101", "2102", "--password-stdin", input="First-Secret-1\nSecond-Secret-2\n")
    assert r.stdout == ("added SIP user 2101 (short 101) to Acme Telecom\n"
                        "added SIP user 2102 (short 102) to Acme Telecom\n"), r.stderr
    with db.read_session() as s:
        ha1 = dict(s.execute(select(SipUser.username, SipUser.ha1)).tuples().all())
    assert ha1["2103"] == passwords.sip_ha1("2103", "cxdesk", m.group(1))
    assert ha1["2102"] == passwords.sip_ha1("2102", "cxdesk", "Second-Secret-2")

    listed = cli("sip", "list", "Acme Telecom").stdout
    assert [ln.split()[:3] for ln in listed.splitlines()[1:]] == [
        ["2100", "100", "yes"], ["2101", "101", "yes"], ["2102", "102", "yes"], ["2103", "103", "+441234567890"]]
    assert m.group(1) not in listed


@pytest.mark.parametrize("args, stdin, message", [
    (["sip", "add", "Beta", "2100", "--generate"], None,
     "Duplicate User Detected: 2100 is already used by customer {acme} (Acme Telecom)"),
    (["sip", "add", "Acme Telecom", "3100", "--generate"], None, "3100 is outside Acme Telecom's number block(s)"),
    (["sip", "add", "Beta", "2500", "--generate"], None, "2500 belongs to number block 2000-2999 of customer {acme}"),
    (["sip", "add", "Acme Telecom", "2200", "2201", "2200", "--generate"], None, "2200 appears twice in this request"),
    (["sip", "add", "Acme Telecom", "twenty", "--generate"], None, "'twenty' is not a number"),
    (["sip", "add", "Acme Telecom", "-2200", "--generate"], None, "-2200 is negative"),
    (["sip", "add", "Acme Telecom", "1000000000", "--generate"], None, "at most 9 digits"),
    (["sip", "add", "Acme Telecom", "2300", "--password-stdin"], "short\n", "The password is too short"),
    (["sip", "add", "Acme Telecom", "2300", "2301", "--password-stdin"], "Only-One-Line-1\n", "No value given"),
    (["sip", "add", "Acme Telecom", "2300", "--generate", "--caller-id", "me"], None, "'me' is not a caller ID"),
    (["sip", "add", "Nobody", "2300", "--generate"], None, "There is no customer with the id or exact name 'Nobody'"),
    (["numbers", "assign", "Nobody"], None, "There is no customer with the id or exact name 'Nobody'"),
    (["numbers", "release", "Acme Telecom", "2000"], None, "still has 1 extension(s) in use (2100)"),
    (["numbers", "release", "Acme Telecom", "3000"], None, "has no number block starting at 3000"),
    (["numbers", "resolve", "Acme Telecom", "abc"], None, "'abc' is not a number"),
    (["numbers", "resolve", "Acme Telecom", "-100"], None, "-100 is negative"),
    (["numbers", "resolve", "Acme Telecom", "3100"], None, "3100 is neither a short extension"),
    (["numbers", "resolve", "Beta", "100"], None, "Beta has no number block"),
])
def test_bad_input_gets_one_line_and_changes_nothing(sqlite_db, run_cli, admin, make_customer, args, stdin, message):
    acme = seed(sqlite_db, admin, make_customer)
    before = state(sqlite_db)
    fails(run_cli(*args, db_url=url_of(sqlite_db), input=stdin), message.format(acme=acme))
    assert state(sqlite_db) == before
