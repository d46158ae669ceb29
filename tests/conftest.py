"""Root conftest: Qt setup, real services (PostgreSQL, Secret Service, SMTP), CI rules.

App-specific fixtures belong in the conftest of each test folder, not here.

Fixtures (see tests/servers.py for the classes behind them):

- ``postgres_server`` (session): a started :class:`servers.PostgresServer`.
- ``pg_url`` (function): SQLAlchemy URL of a fresh, empty database on it (dropped after).
- ``sqlite_url`` (function): ``sqlite:///<tmp_path>/cxdesk.db``.
- ``db_url`` (function, parametrized ``sqlite``/``postgresql``): one test, both backends.
- ``secret_service`` (session): a :class:`servers.SecretServiceSession` with an unlocked
  login collection; its env is in os.environ during every test that uses it.
- ``secret_service_factory`` (function): ``factory(locked=False)`` -> a new session whose
  env is applied for the rest of the test.
- ``no_keyring`` (function): os.environ points at a D-Bus bus that does not exist.
- ``smtp_server`` (function): ``factory(mode="ok", **kw)`` -> a started
  :class:`servers.SmtpServer`, stopped after the test.
- ``down_address`` (function): ``(host, port)`` where connections are refused.

Every test that does not use ``secret_service``/``secret_service_factory`` runs with the
``no_keyring`` environment, so no test ever touches the real user's keyring and results
do not depend on which test ran before.
"""

import os

# Before anything can import Qt.
os.environ["QT_QPA_PLATFORM"] = "offscreen"
os.environ.setdefault("QT_QUICK_BACKEND", "software")
from cxdesk.ui.app import qt_environment  # noqa: E402

qt_environment()  # the tests paint as the program does

import gc  # noqa: E402
import sys  # noqa: E402
import uuid  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

_TESTS_DIR = str(Path(__file__).resolve().parent)
if _TESTS_DIR not in sys.path:
    sys.path.insert(0, _TESTS_DIR)

import servers  # noqa: E402

IN_CI = os.environ.get("CI", "").lower() == "true"

_MARKERS = {
    "postgres": "needs the PostgreSQL server the test setup starts",
    "keyring": "needs the Secret Service keyring the test setup starts",
    "slow": "long-running (process-level) tests",
}

# A D-Bus address with nothing behind it, for all tests that do not ask for a keyring.
_NO_KEYRING_DIR = servers.temp_dir("cxdesk-nokeyring-")
NO_KEYRING_ENV = servers.no_keyring_env(_NO_KEYRING_DIR)


# ---------------------------------------------------------------------------
# hooks
# ---------------------------------------------------------------------------


def pytest_configure(config):
    registered = {line.split(":", 1)[0].split("(", 1)[0].strip()
                  for line in config.getini("markers")}
    for name, text in _MARKERS.items():
        if name not in registered:
            config.addinivalue_line("markers", f"{name}: {text}")


def pytest_collection_modifyitems(config, items):
    try:
        ini_level = config.getini("qt_log_level_fail")
    except ValueError:  # pytest-qt not installed
        ini_level = None
    for item in items:
        names = getattr(item, "fixturenames", ())
        if "postgres_server" in names and not item.get_closest_marker("postgres"):
            item.add_marker(pytest.mark.postgres)
        if ({"secret_service", "secret_service_factory"} & set(names)
                and not item.get_closest_marker("keyring")):
            item.add_marker(pytest.mark.keyring)
        # Qt warnings fail tests (DESIGN.md). Honours an explicit ini setting or marker.
        if ini_level == "NO" and not item.get_closest_marker("qt_log_level_fail"):
            item.add_marker(pytest.mark.qt_log_level_fail("WARNING"))


def _skip_reason(report) -> str:
    lr = report.longrepr
    reason = str(lr[2]) if isinstance(lr, tuple) and len(lr) == 3 else str(lr)
    return reason.removeprefix("Skipped: ")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if IN_CI and report.skipped and not hasattr(report, "wasxfail"):
        report.outcome = "failed"
        report.longrepr = (f"CI=true forbids skipping ({report.when}): "
                           f"{_skip_reason(report)}")
    return report


@pytest.hookimpl(wrapper=True)
def pytest_make_collect_report(collector):
    report = yield
    if IN_CI and report.skipped:
        report.outcome = "failed"
        report.longrepr = f"CI=true forbids skipping (collection): {_skip_reason(report)}"
    return report


def pytest_sessionfinish(session, exitstatus):
    # Qt's offscreen platform crashes at exit while the clipboard owns QMimeData.
    gui = sys.modules.get("PySide6.QtGui")
    if gui is not None:
        app = gui.QGuiApplication.instance()
        if app is not None:
            app.clipboard().clear()
            app.processEvents()


def pytest_report_header(config):
    return [f"CI mode (skips fail): {IN_CI}"]


# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------


def _unavailable(reason: str):
    """Skip locally; in CI the skip is turned into a failure by the hook above."""
    pytest.skip(reason)


_current_keyring_env: dict | None = None


@pytest.fixture(autouse=True)
def _collect_on_the_main_thread():
    """As the program does (kit/collector.py): no garbage collection on worker threads, where
    it could delete a Qt widget off the GUI thread and crash the process."""
    gc.collect()
    gc.disable()
    yield
    gc.enable()
    gc.collect()


@pytest.fixture(autouse=True)
def _keyring_env_guard(request):
    """Each test sees either the test Secret Service or no D-Bus at all."""
    global _current_keyring_env
    names = request.fixturenames
    if "secret_service" in names:
        env = request.getfixturevalue("secret_service").env
    else:
        env = NO_KEYRING_ENV
    with servers.applied_env(env):
        if _current_keyring_env is not env:
            _current_keyring_env = env
            servers.reset_python_keyring()
        yield


def _switch_keyring_env(monkeypatch, env: dict) -> None:
    global _current_keyring_env
    for k in servers.KEYRING_UNSET_VARS:
        monkeypatch.delenv(k, raising=False)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    _current_keyring_env = env
    servers.reset_python_keyring()


# ---------------------------------------------------------------------------
# PostgreSQL
# ---------------------------------------------------------------------------


@pytest.fixture(scope="session")
def postgres_server():
    """A PostgreSQL server on 127.0.0.1 for the whole session (one per xdist worker)."""
    reason = servers.PostgresServer.unavailable_reason()
    if reason:
        _unavailable(reason)
    server = servers.PostgresServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def pg_url(postgres_server):
    """SQLAlchemy URL (postgresql+psycopg, superuser "postgres") of a new empty database."""
    name = "t_" + uuid.uuid4().hex[:16]
    postgres_server.create_database(name)
    try:
        yield postgres_server.url(name)
    finally:
        postgres_server.drop_database(name)


@pytest.fixture
def sqlite_url(tmp_path):
    return f"sqlite:///{tmp_path / 'cxdesk.db'}"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request, tmp_path):
    """Runs the test once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        return request.getfixturevalue("sqlite_url")
    return request.getfixturevalue("pg_url")


# ---------------------------------------------------------------------------
# Secret Service keyring
# ---------------------------------------------------------------------------


@pytest.fixture(scope="session")
def secret_service():
    """gnome-keyring with an unlocked "login" collection on a private D-Bus bus.

    During each test that uses this fixture its ``.env`` is applied to os.environ;
    pass ``secret_service.subprocess_env()`` (or simply os.environ) to subprocesses.
    """
    reason = servers.SecretServiceSession.unavailable_reason()
    if reason:
        _unavailable(reason)
    session = servers.SecretServiceSession()
    session.start()
    try:
        with session.applied():  # also covers session-scoped users' setup
            yield session
    finally:
        session.stop()


@pytest.fixture
def secret_service_factory(monkeypatch):
    """``factory(locked=False, password=...)`` -> a fresh SecretServiceSession whose env
    is applied for the rest of the test. ``locked=True`` gives a locked collection
    (no prompter exists, so unlocking fails like a dismissed prompt)."""
    reason = servers.SecretServiceSession.unavailable_reason()
    if reason:
        _unavailable(reason)
    started = []

    def factory(locked: bool = False, password: str = servers.SecretServiceSession.PASSWORD):
        session = servers.SecretServiceSession(password=password, locked=locked).start()
        started.append(session)
        _switch_keyring_env(monkeypatch, session.env)
        return session

    yield factory
    for session in started:
        session.stop()


@pytest.fixture
def no_keyring(monkeypatch):
    """os.environ with no reachable Secret Service; returns that env (for subprocesses
    use ``servers.merged_env(no_keyring)``)."""
    _switch_keyring_env(monkeypatch, NO_KEYRING_ENV)
    return NO_KEYRING_ENV


# ---------------------------------------------------------------------------
# SMTP and addresses
# ---------------------------------------------------------------------------


@pytest.fixture
def smtp_server():
    """``factory(mode="ok", **kwargs)`` -> started servers.SmtpServer (stopped after)."""
    started = []

    def factory(mode: str = "ok", **kwargs):
        server = servers.SmtpServer(mode, **kwargs).start()
        started.append(server)
        return server

    yield factory
    for server in started:
        server.stop()


@pytest.fixture
def down_address():
    """``(host, port)`` on loopback where a connection is refused at once."""
    return servers.down_address()


@pytest.fixture(scope="session", autouse=True)
def one_qapplication(qapp):
    """One QApplication for the whole pytest process, made before any test runs: cxdesk.pdf_writer
    makes a bare QGuiApplication when there is none (right for the command line), and every widget
    test that ran after it in the same pytest worker would abort ("Fatal Python error: Aborted")."""
    return qapp
