"""Secrets in a real Secret Service (gnome-keyring on a private D-Bus), through the CLI."""
import os
import uuid
from pathlib import Path

import pytest

import servers
from servers import files_containing
from cxdesk.services import secrets
from cxdesk.services.secrets import KeyringUnavailable


def unique(prefix="t"):
    return f"{prefix}-{uuid.uuid4().hex[:10]}"




def test_set_list_delete_through_the_cli(secret_service, run_cli):
    name, value = unique("api"), unique("Value")
    done = run_cli("secret", "set", name, "--stdin", input=value + "\n")
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"stored {name} in the SecretService (Keyring) keyring\n"
    assert secrets.get_secret(name) == value  # the same keyring, read from this process
    listed = run_cli("secret", "list")
    assert listed.returncode == 0 and name in listed.stdout.splitlines()
    assert value not in listed.stdout
    done = run_cli("secret", "delete", name)
    assert (done.returncode, done.stdout) == (0, f"deleted {name}\n")
    assert secrets.get_secret(name) is None
    assert name not in run_cli("secret", "list").stdout.splitlines()
    again = run_cli("secret", "delete", name)
    assert (again.returncode, again.stderr) == (1, f"cxdesk: There is no secret named {name}.\n")


def test_set_replaces_and_list_has_each_name_once(secret_service):
    name = unique()
    try:
        secrets.set_secret(name, "first-value")
        secrets.set_secret(name, "second-value")
        assert secrets.get_secret(name) == "second-value"
        assert secrets.names().count(name) == 1
        assert "first-value" not in secrets.names() and "__names__" not in secrets.names()
    finally:
        secrets.delete_secret(name)


@pytest.mark.parametrize("args,stdin,words", [
    (("secret", "set", "__names__", "--stdin"), "x\n", "cannot be used as a secret name"),
    (("secret", "set", "blank", "--stdin"), "\n", "No value given; nothing was changed."),
    (("secret", "set", "db", "--stdin"), "x\n", "'db' needs a PostgreSQL URL"),
    (("--db", "some.sqlite", "secret", "set", "db", "--stdin"), "x\n", "'db' needs a PostgreSQL URL"),
])
def test_bad_secret_input(secret_service, run_cli, args, stdin, words):
    before = secrets.names()
    done = run_cli(*args, input=stdin)
    assert done.returncode == 1 and words in done.stderr and done.stderr.count("\n") == 1
    assert secrets.names() == before


def test_db_secret_is_the_server_password(secret_service, postgres_server, run_cli):
    dbname = "t_" + uuid.uuid4().hex[:12]
    postgres_server.create_database(dbname, owner=postgres_server.TEST_USER)
    url = postgres_server.url(dbname, user=postgres_server.TEST_USER)  # no password in it
    name = f"db:{postgres_server.TEST_USER}@{postgres_server.host}:{postgres_server.port}/{dbname}"
    try:
        refused = run_cli("options", "show", db_url=url)
        assert refused.returncode == 1 and "cxdesk: The server refused the password" in refused.stderr
        done = run_cli("secret", "set", "db", "--stdin", db_url=url, input=postgres_server.TEST_PASSWORD + "\n")
        assert done.returncode == 0 and name in done.stdout
        assert name in run_cli("secret", "list").stdout.splitlines()
        shown = run_cli("options", "show", db_url=url)
        assert shown.returncode == 0, shown.stderr
        assert "smtp-port" in shown.stdout
    finally:
        secrets.delete_secret(name)
        postgres_server.drop_database(dbname)


def test_locked_keyring_says_so_in_one_sentence(secret_service_factory, run_cli):
    session = secret_service_factory(locked=True)
    assert session.is_locked()
    done = run_cli("secret", "set", "smtp", "--stdin", input="Locked-Out-Value-1\n")
    assert done.returncode == 1
    assert done.stderr == ("cxdesk: The system keyring did not answer (it may be locked or D-Bus is not running); "
                           "unlock it or go on without remembering.\n")
    with pytest.raises(KeyringUnavailable):
        secrets.get_secret("smtp")
    assert secrets.lookup_quietly("smtp") is None
    assert files_containing([session.base_dir], "Locked-Out-Value-1") == []


def test_no_dbus_says_so_and_writes_nothing_anywhere(no_keyring, run_cli, tmp_path):
    value = unique("Never-Written")
    message = ("cxdesk: No system keyring is available (no Secret Service on D-Bus, or it is locked), so nothing "
               "can be remembered; you can go on and type the password each time.\n")
    for args, stdin in [(("secret", "set", "smtp", "--stdin"), value + "\n"),
                        (("secret", "list"), None), (("secret", "delete", "smtp"), None)]:
        done = run_cli(*args, input=stdin)
        assert (done.returncode, done.stdout, done.stderr) == (1, "", message)
    with pytest.raises(KeyringUnavailable):
        secrets.set_secret("smtp", value)
    assert secrets.backend_name() == "none"
    assert secrets.lookup_quietly("smtp") is None
    roots = {tmp_path, Path(no_keyring["HOME"])} | {Path(os.environ[v]) for v in
                                                      ("XDG_DATA_HOME", "XDG_CONFIG_HOME", "XDG_STATE_HOME",
                                                       "XDG_CACHE_HOME") if os.environ.get(v)}
    assert files_containing([r for r in roots if r.exists()], value) == []
    # and the check itself can fail: the same search finds the value once written down
    (tmp_path / "canary.txt").write_text(f"x{value}x")
    assert files_containing([tmp_path], value) == [tmp_path / "canary.txt"]


def test_python_keyring_plaintext_backends_are_never_used(no_keyring, monkeypatch, tmp_path):
    """Even if someone configures a file-based keyring, cxdesk refuses to use it."""
    import keyring
    from keyring.backends import fail

    class FileKeyring(fail.Keyring):  # stands in for keyrings.alt's plaintext file backend
        priority = 1

        def set_password(self, service, username, password):
            (tmp_path / "plain.txt").write_text(password)

    monkeypatch.setattr(keyring, "get_keyring", lambda: FileKeyring())
    try:
        with pytest.raises(KeyringUnavailable):
            secrets.set_secret("smtp", "Plaintext-Never-1")
        assert not (tmp_path / "plain.txt").exists()
    finally:  # keyring registers every backend class for good: later tests must not see this one
        from keyring.backend import KeyringBackend

        KeyringBackend._classes.discard(FileKeyring)


def test_subprocess_env_points_at_the_test_keyring(secret_service):
    env = secret_service.subprocess_env()
    assert env["DBUS_SESSION_BUS_ADDRESS"] == secret_service.env["DBUS_SESSION_BUS_ADDRESS"]
    assert "PYTHON_KEYRING_BACKEND" not in env
    assert servers.KEYRING_UNSET_VARS  # nothing of a desktop session leaks into the tests


def test_operator_management_from_the_cli(sqlite_db, run_cli):
    url = sqlite_db.url.render_as_string(hide_password=False)
    root = ("root", "Violet-Harbour-42")  # the first operator (an admin) manages the others
    assert run_cli("operator", "add", "root", "--role", "admin", "--password-stdin", db_url=url,
                   input=root[1] + "\n").returncode == 0
    assert run_cli("operator", "add", "kim", "--role", "staff", "--password-stdin", db_url=url,
                   input="First-Str0ng-pw\n", operator=root).returncode == 0
    done = run_cli("operator", "role", "kim", "supervisor", db_url=url, operator=root)
    assert done.returncode == 0 and "kim is now supervisor" in done.stdout
    assert run_cli("operator", "password", "kim", "--password-stdin", db_url=url,
                   input="short\n", operator=root).returncode == 1
    assert run_cli("operator", "password", "kim", "--password-stdin", db_url=url,
                   input="Second-Str0ng-pw\n", operator=root).returncode == 0
    assert run_cli("operator", "deactivate", "kim", db_url=url, operator=root).returncode == 0
    listing = run_cli("operator", "list", db_url=url).stdout
    assert listing.splitlines()[1].split() == ["kim", "supervisor", "no"]  # sorted by login
    from cxdesk.services import operators
    from cxdesk.errors import UserError
    import pytest as _pytest
    with _pytest.raises(UserError):
        operators.sign_in(sqlite_db, "kim", "Second-Str0ng-pw")
    assert run_cli("operator", "activate", "kim", db_url=url, operator=root).returncode == 0
    assert operators.sign_in(sqlite_db, "kim", "Second-Str0ng-pw").role == "supervisor"
