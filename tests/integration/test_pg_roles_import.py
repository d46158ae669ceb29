"""The CDR import works as the least-privilege application role on PostgreSQL: the role may
not CREATE anything in the schema, so the staging tables come from the migration and the
import only reads and writes rows (stage, resume after an interruption, publish, clear)."""
from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import func, select

from cxdesk.db import open_database
from cxdesk.models import Cdr, cdr_import_rows, cdr_import_runs
from cxdesk.services import pg_roles
from cxdesk.services.cdr_import import CHUNK, import_cdrs
from pgroles_support import APP_PW, OWNER_PW, role_names

from tests.integration.test_cdr_import_staging import big_file

pytestmark = pytest.mark.postgres

N = 2 * CHUNK + 123  # three slices


@pytest.fixture
def roles(postgres_server, pg_url):
    with role_names(postgres_server, pg_url) as names:
        pg_roles.set_up_database(pg_url, names.owner, names.app, OWNER_PW, APP_PW)
        yield names


@pytest.fixture
def app_db(roles):
    db = open_database(roles.app_url)
    yield db
    db.close()


def _counts(db) -> tuple[int, Decimal, int, int]:
    """(CDRs, their charges, staged rows, runs) as the application role sees them."""
    with db.read_session() as s:
        n, total = s.execute(select(func.count(), func.sum(Cdr.customer_charge))).one()
        staged = s.scalar(select(func.count()).select_from(cdr_import_rows))
        runs = s.scalar(select(func.count()).select_from(cdr_import_runs))
    return n, total or Decimal(0), staged, runs


class Interrupted(Exception):
    pass


def test_the_app_role_imports_cdrs_and_resumes_an_interrupted_import(roles, app_db, admin, make_customer, tmp_path):
    with roles.admin() as conn:
        assert conn.execute("SELECT has_schema_privilege(%s, current_schema(), 'CREATE')",
                            (roles.app,)).fetchone() == (False,)
    cid = make_customer(app_db)
    path, total = big_file(tmp_path / "cdrs.csv", cid, N)

    def stop_after_first_slice(done, size):
        raise Interrupted  # as a killed workstation: what is staged stays for the next import

    with pytest.raises(Interrupted):
        import_cdrs(app_db, admin, path, progress=stop_after_first_slice)
    assert _counts(app_db) == (0, Decimal(0), CHUNK, 1)  # staged, invisible

    result = import_cdrs(app_db, admin, path)
    assert result.resumed_at > CHUNK and result.imported == N and result.duplicates == 0
    assert _counts(app_db) == (N, total, 0, 0)  # published, the run and its rows deleted

    again = import_cdrs(app_db, admin, path)
    assert (again.imported, again.duplicates, again.resumed_at) == (0, N, 0)
    assert _counts(app_db) == (N, total, 0, 0)


def test_the_app_role_holds_row_privileges_on_the_staging_tables_and_no_more(roles):
    with roles.admin() as conn:
        granted = {(t, p) for t in ("cdr_import_runs", "cdr_import_rows")
                   for p in ("SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE")
                   if conn.execute("SELECT has_table_privilege(%s, %s, %s)", (roles.app, t, p)).fetchone()[0]}
        sequence = conn.execute("SELECT has_sequence_privilege(%s, pg_get_serial_sequence('cdr_import_runs', 'id'), "
                                "'USAGE')", (roles.app,)).fetchone()[0]
    assert granted == {(t, p) for t in ("cdr_import_runs", "cdr_import_rows")
                       for p in ("SELECT", "INSERT", "UPDATE", "DELETE")}
    assert sequence
