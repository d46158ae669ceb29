"""Owner and application roles of a test's own on the test PostgreSQL server (roles are
cluster-wide, so each test gets fresh names and drops them afterwards). Used by
tests/integration/test_pg_roles.py and tests/ui/test_welcome_pg_roles.py."""
from __future__ import annotations

import contextlib
import dataclasses
import uuid

OWNER_PW = "Owner-Pass-1234"
APP_PW = "App-Pass-5678x"


@dataclasses.dataclass
class Roles:
    server: object
    dbname: str
    owner: str
    app: str

    def url(self, role: str, password: str | None) -> str:
        return self.server.url(self.dbname, user=role, password=password)

    @property
    def app_url(self) -> str:
        return self.url(self.app, APP_PW)

    @property
    def owner_url(self) -> str:
        return self.url(self.owner, OWNER_PW)

    def connect(self, role: str, password: str):
        return self.server.connect(self.dbname, user=role, password=password)

    def admin(self):
        return self.server.connect(self.dbname)


@contextlib.contextmanager
def role_names(server, pg_url: str):
    """Two unused role names for the database of ``pg_url``; whatever they own there is
    dropped with them afterwards."""
    tag = uuid.uuid4().hex[:8]
    roles = Roles(server, pg_url.rsplit("/", 1)[1], f"o_{tag}", f"a_{tag}")
    try:
        yield roles
    finally:
        with roles.admin() as conn:
            conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                         "WHERE usename IN (%s, %s)", (roles.owner, roles.app))
            conn.execute(f'ALTER DATABASE "{roles.dbname}" OWNER TO CURRENT_USER')  # DROP OWNED keeps it
            for role in (roles.owner, roles.app):
                if conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone():
                    conn.execute(f'DROP OWNED BY "{role}" CASCADE')
                    conn.execute(f'DROP ROLE "{role}"')
