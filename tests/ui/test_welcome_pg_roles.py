"""The welcome dialog tells how a PostgreSQL server gets its owner and application roles,
and a workstation on the application role meets a schema that is behind in one sentence."""
from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from cxdesk.services import pg_roles
from cxdesk.ui.welcome import WelcomeDialog
from pgroles_support import APP_PW, OWNER_PW, role_names


def test_the_server_form_says_how_to_set_up_the_roles(qtbot):
    dialog = WelcomeDialog()
    qtbot.addWidget(dialog)
    dialog.open()
    dialog.server.setChecked(True)
    dialog.host.setText("db.example.lan")
    dialog.port.setValue(5433)
    dialog.database.setText("backoffice")
    note = dialog.roles_note.text()
    assert "cxdesk --db postgresql+psycopg://postgres@db.example.lan:5433/backoffice db roles" in note
    assert pg_roles.OWNER_DEFAULT in note and pg_roles.APP_DEFAULT in note
    assert dialog.user.placeholderText() == pg_roles.APP_DEFAULT
    assert dialog.roles_note.isVisibleTo(dialog) and dialog.roles_note.accessibleName()
    dialog.host.setText("other<host>")  # typed text is shown, never taken for markup
    assert "other&lt;host&gt;" in dialog.roles_note.text()


@pytest.fixture
def roles(postgres_server, pg_url):
    with role_names(postgres_server, pg_url) as names:
        pg_roles.set_up_database(pg_url, names.owner, names.app, OWNER_PW, APP_PW)
        yield names


def _fill(dialog, server, roles) -> None:
    dialog.server.setChecked(True)
    dialog.host.setText(server.host)
    dialog.port.setValue(server.port)
    dialog.database.setText(roles.dbname)
    dialog.user.setText(roles.app)
    dialog.password.setText(APP_PW)


def _test_outcome(qtbot, dialog) -> bool:
    with qtbot.waitSignal(dialog.tested, timeout=15_000) as outcome:
        qtbot.mouseClick(dialog.test_button, Qt.MouseButton.LeftButton)
    return outcome.args[0]


def test_the_app_role_connects_and_a_schema_behind_names_the_owner(qtbot, postgres_server, roles):
    dialog = WelcomeDialog()
    qtbot.addWidget(dialog)
    dialog.open()
    _fill(dialog, postgres_server, roles)
    assert _test_outcome(qtbot, dialog), dialog.message.text()
    with roles.admin() as conn:  # as if this cxdesk were newer than the schema
        conn.execute("UPDATE alembic_version SET version_num = '0001'")
    assert not _test_outcome(qtbot, dialog)
    text = dialog.message.text()
    assert "schema 0001" in text and f"db upgrade` as its owner {roles.owner}" in text
    assert APP_PW not in text and OWNER_PW not in text
