"""`cxdesk audit verify | diff | export` as a process, on SQLite and PostgreSQL."""
from __future__ import annotations

import csv
import datetime as dt
import json
import sqlite3
from decimal import Decimal

import pytest
from openpyxl import load_workbook
from sqlalchemy import select, text

from cxdesk.models import AuditEntry, Contact, Customer
from cxdesk.services import jsondiff
from cxdesk.services.uow import unit_of_work


def url_of(db) -> str:
    return db.url.render_as_string(hide_password=False)


def tamper(db, sql: str) -> None:
    """Change the log past its append-only trigger, as an attacker could."""
    if db.is_sqlite:
        con = sqlite3.connect(db.path)
        con.execute("DROP TRIGGER IF EXISTS audit_entries_no_update")
        con.execute("DROP TRIGGER IF EXISTS audit_entries_no_delete")
        con.execute(sql)
        con.commit()
        con.close()
    else:
        with db.engine.begin() as conn:
            conn.exec_driver_sql("ALTER TABLE audit_entries DISABLE TRIGGER USER")
            conn.execute(text(sql))
            conn.exec_driver_sql("ALTER TABLE audit_entries ENABLE TRIGGER USER")


@pytest.fixture
def logged(db, admin, staff, make_customer):
    """Entries 1-5: two customers, a contact, an update with a comment, a deletion."""
    acme = make_customer(db, "Acme Telecom")
    make_customer(db, "Beta Voice")
    with unit_of_work(db, staff) as uow:
        uow.add(Contact(customer_id=acme, name="Bob", email="bob@acme.example", email_key="bob@acme.example",
                        password_hash="scrypt$never-shown"))
    with unit_of_work(db, staff, "=1+1 asked by phone") as uow:
        c = uow.session.get(Customer, acme)
        c.credit, c.tags = Decimal("12.50"), "gold"
    with unit_of_work(db, admin) as uow:
        uow.delete(uow.session.scalars(select(Contact)).one())
    return acme


def test_verify_exits_0_with_the_count(db, logged, run_cli):
    done = run_cli("audit", "verify", db_url=url_of(db))
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout.splitlines() == [
        "Audit log intact: 5 entries verified.",
        "The audit log extends what this workstation saw (5 entries); 0 newer entries follow it."]


def test_verify_exits_1_naming_the_first_bad_entry(db, logged, run_cli):
    tamper(db, "UPDATE audit_entries SET comment = '' WHERE id = 4")
    done = run_cli("audit", "verify", db_url=url_of(db))
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.startswith("Audit log broken at entry 4: its content was changed")
    tamper(db, "DELETE FROM audit_entries WHERE id = 2")
    done = run_cli("audit", "verify", db_url=url_of(db))
    assert done.returncode == 1 and "broken at entry 3" in done.stderr and "removed or inserted" in done.stderr


def test_diff_prints_one_line_per_changed_path(db, logged, run_cli):
    done = run_cli("audit", "diff", "4", db_url=url_of(db))
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert 'credit: "100" -> "12.5"' in lines and 'tags: "" -> "gold"' in lines
    assert "version: 1 -> 2" in lines and len(lines) == 5  # credit, tags, updated_at, updated_by, version
    created = run_cli("audit", "diff", "3", db_url=url_of(db)).stdout.splitlines()
    assert '+ email: "bob@acme.example"' in created and '+ password_hash: "********"' in created
    assert "never-shown" not in created


@pytest.mark.parametrize("entry", [1, 3, 4, 5])
def test_diff_json_applied_to_the_before_document_gives_the_after_document(db, logged, run_cli, entry):
    done = run_cli("audit", "diff", str(entry), "--json", db_url=url_of(db))
    assert done.returncode == 0, done.stderr
    ops = json.loads(done.stdout)
    assert ops and all(set(op) == {"op", "path", "old", "new"} and op["op"] in ("add", "remove", "replace")
                       for op in ops)
    with db.read_session() as s:
        e = s.get(AuditEntry, entry)
        before = json.loads(e.before) if e.before else None
        after = json.loads(e.after) if e.after else {}
    assert jsondiff.apply(before, ops) == after


def test_diff_of_an_entry_without_data_and_bad_ids(db, logged, run_cli, staff):
    with unit_of_work(db, staff) as uow:
        uow.record("LOGIN", "operators", "sam", "sam signed in")
    done = run_cli("audit", "diff", "6", db_url=url_of(db))
    assert (done.returncode, done.stdout) == (0, "") and "records no data change" in done.stderr
    assert json.loads(run_cli("audit", "diff", "6", "--json", db_url=url_of(db)).stdout) == []
    done = run_cli("audit", "diff", "99", db_url=url_of(db))
    assert done.returncode == 1 and done.stderr == "cxdesk: There is no audit entry 99; check the number in the Audit Log.\n"
    for bad in ("abc", "0", "-3"):
        done = run_cli("audit", "diff", "--", bad, db_url=url_of(db))
        assert done.returncode == 2 and "is not an audit entry id" in done.stderr


def test_export_xlsx_and_csv(db, logged, run_cli, tmp_path):
    url = url_of(db)
    done = run_cli("audit", "export", "-o", str(tmp_path / "all.xlsx"), db_url=url)
    assert (done.returncode, done.stdout.strip()) == (0, f"Exported 5 audit entries to {tmp_path / 'all.xlsx'}.")
    sheet = [[c.value for c in r] for r in load_workbook(tmp_path / "all.xlsx").active.iter_rows()]
    assert sheet[0][:2] == ["Entry ID", "User"] and [r[0] for r in sheet[1:]] == [1, 2, 3, 4, 5]
    header = sheet[0]
    update = dict(zip(header, sheet[4]))
    assert update["Comment"] == "'=1+1 asked by phone"
    assert update["Changed Paths"].split("\n") == ["credit", "tags", "updated_at", "updated_by", "version"]
    assert json.loads(update["Before"])["credit"] == "100" and json.loads(update["After"])["credit"] == "12.5"

    done = run_cli("audit", "export", "--customer", "Acme Telecom", "-o", str(tmp_path / "acme.csv"), db_url=url)
    assert done.returncode == 0, done.stderr
    with open(tmp_path / "acme.csv", encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.reader(fh))
    assert [r[0] for r in rows[1:]] == ["1", "3", "4", "5"] and {r[9] for r in rows[1:]} == {str(logged)}
    by_id = run_cli("audit", "export", "--customer", str(logged), "-o", str(tmp_path / "acme2.csv"), db_url=url)
    assert by_id.returncode == 0 and (tmp_path / "acme2.csv").read_bytes() == (tmp_path / "acme.csv").read_bytes()

    today = dt.datetime.now(dt.timezone.utc).date()
    for args, count in (([f"--from={today}", f"--to={today}"], 5), ([f"--from={today + dt.timedelta(days=1)}"], 0),
                        ([f"--to={today - dt.timedelta(days=1)}"], 0)):
        done = run_cli("audit", "export", *args, "-o", str(tmp_path / "range.csv"), db_url=url)
        assert done.returncode == 0 and f"Exported {count} audit entries" in done.stdout


@pytest.mark.parametrize("args, message", [
    (["-o", "log.txt"], "must end in .xlsx or .csv"),
    (["--from", "2026-13-01", "-o", "log.csv"], "--from '2026-13-01' is not a date"),
    (["--from", "2026-02-01", "--to", "2026-01-01", "-o", "log.csv"], "start date is after the end date"),
    (["--customer", "Nobody Ltd", "-o", "log.csv"], "There is no customer named 'Nobody Ltd'"),
    (["-o", "missing/log.xlsx"], "does not exist"),
])
def test_export_refuses_bad_input_and_writes_nothing(db, logged, run_cli, tmp_path, args, message):
    done = run_cli("audit", "export", *args, db_url=url_of(db))
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.startswith("cxdesk: ") and message in done.stderr and done.stderr.count("\n") == 1
    assert not any(p.name.startswith("log") for p in tmp_path.rglob("*"))


def test_commands_on_a_missing_database_file(run_cli, tmp_path):
    for args in (["audit", "verify"], ["audit", "diff", "1"], ["audit", "export", "-o", "x.csv"]):
        done = run_cli(*args, db_url=str(tmp_path / "nothing.db"))
        assert done.returncode == 1 and "There is no database file" in done.stderr
    assert not (tmp_path / "nothing.db").exists()
