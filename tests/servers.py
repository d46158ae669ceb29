"""Real services for the tests: PostgreSQL, a Secret Service keyring, an SMTP server.

Plain classes and functions, no pytest import, so they also serve scripts, benchmarks
and subprocesses. The pytest fixtures built on them live in ``tests/conftest.py``.

- :class:`PostgresServer`: a throw-away cluster (initdb in a temp dir) on 127.0.0.1.
  When running as root the server runs as the unprivileged OS user ``cxdesk-pg``.
- :class:`SecretServiceSession`: a private D-Bus session bus plus gnome-keyring-daemon
  with an unlocked (or locked) "login" collection; ``.env`` holds the variables that
  point a process at it.  :func:`no_keyring_env` gives an env with no D-Bus at all.
- :class:`SmtpServer`: aiosmtpd on 127.0.0.1 in the modes ok/auth/refuse/starttls/ssl,
  plus "hang" (accepts and never answers).
- :func:`free_port`, :func:`down_address`.

Every process started here is also registered with a small watchdog process (the
"reaper") that kills it and removes its temp dir if the Python process that started it
dies without stopping it (SIGKILL, os._exit, a crash), so no daemons outlive a test run.
"""

from __future__ import annotations

import atexit
import contextlib
import email
import email.message
import email.policy
import glob
import os
import pwd
import re
import select
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from pathlib import Path

__all__ = [
    "PostgresServer",
    "SecretServiceSession",
    "SmtpServer",
    "TlsMaterial",
    "ServiceUnavailable",
    "free_port",
    "temp_dir",
    "down_address",
    "no_keyring_env",
    "merged_env",
    "reset_python_keyring",
    "applied_env",
    "KEYRING_ENV_VARS",
    "KEYRING_UNSET_VARS",
]

LOOPBACK = "127.0.0.1"


class ServiceUnavailable(RuntimeError):
    """The binaries a service needs are not installed on this machine."""


# ---------------------------------------------------------------------------
# ports
# ---------------------------------------------------------------------------


def free_port(host: str = LOOPBACK) -> int:
    """A TCP port on ``host`` that nothing listens on right now (racy by nature)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


_reserved_down: list[socket.socket] = []


def down_address(host: str = LOOPBACK) -> tuple[str, int]:
    """``(host, port)`` where a connection is refused at once.

    The port stays bound (but not listening) by this process for its lifetime, so no
    other server can take it: connecting gets ECONNREFUSED, not a timeout.
    """
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind((host, 0))
    _reserved_down.append(s)
    return host, s.getsockname()[1]


# ---------------------------------------------------------------------------
# reaper: cleans up after a parent that died without stopping its services
# ---------------------------------------------------------------------------

_REAPER_CODE = r"""
import os, shutil, signal, sys, time
pids, paths = {}, {}
for line in sys.stdin:
    parts = line.rstrip("\n").split(" ", 2)
    if parts[0] == "pid":
        pid, sig = parts[2].split()
        pids[parts[1]] = (int(pid), int(sig))
    elif parts[0] == "path":
        paths[parts[1]] = parts[2]
    elif parts[0] == "del":
        pids.pop(parts[1], None)
        paths.pop(parts[1], None)
        for k in [k for k in pids if k.startswith(parts[1] + "/")]:
            del pids[k]
        for k in [k for k in paths if k.startswith(parts[1] + "/")]:
            del paths[k]
# EOF: the parent is gone (or exited). Whatever is still registered is an orphan.
for pid, sig in pids.values():
    try:
        os.kill(pid, sig)
    except OSError:
        pass
deadline = time.monotonic() + 10
for pid, _ in pids.values():
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except OSError:
            break
        time.sleep(0.05)
    else:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
for path in paths.values():
    shutil.rmtree(path, ignore_errors=True)
"""


class _Reaper:
    _lock = threading.Lock()
    _proc: subprocess.Popen | None = None
    _owner_pid: int | None = None
    _counter = 0

    @classmethod
    def _send(cls, line: str) -> None:
        with cls._lock:
            if cls._proc is None or cls._owner_pid != os.getpid() or cls._proc.poll() is not None:
                cls._proc = subprocess.Popen(
                    [sys.executable, "-c", _REAPER_CODE],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    start_new_session=True,  # Ctrl-C in the terminal must not kill it
                    text=True,
                )
                cls._owner_pid = os.getpid()
            try:
                cls._proc.stdin.write(line + "\n")
                cls._proc.stdin.flush()
            except (BrokenPipeError, OSError):
                pass

    @classmethod
    def new_key(cls, prefix: str) -> str:
        with cls._lock:
            cls._counter += 1
            return f"{prefix}{cls._counter}"

    @classmethod
    def watch_pid(cls, key: str, pid: int, sig: int = signal.SIGTERM) -> None:
        cls._send(f"pid {key} {pid} {int(sig)}")

    @classmethod
    def watch_path(cls, key: str, path: str) -> None:
        cls._send(f"path {key} {path}")

    @classmethod
    def forget(cls, key: str) -> None:
        if cls._proc is not None and cls._owner_pid == os.getpid():
            cls._send(f"del {key}")


_atexit_dirs: list[str] = []


def _remove_atexit_dirs() -> None:
    for d in _atexit_dirs:
        shutil.rmtree(d, ignore_errors=True)


atexit.register(_remove_atexit_dirs)


def temp_dir(prefix: str) -> Path:
    """A new temp dir removed when this process exits, however it exits."""
    d = tempfile.mkdtemp(prefix=prefix)
    _atexit_dirs.append(d)
    _Reaper.watch_path(_Reaper.new_key("tmp"), d)
    return Path(d)


def _terminate(proc: subprocess.Popen | None, timeout: float = 5.0) -> None:
    if proc is None or proc.poll() is not None:
        if proc is not None:
            proc.wait()
        return
    proc.terminate()
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout)


def _readline_with_timeout(stream, timeout: float) -> str:
    """Read one line from a pipe, giving up after ``timeout`` seconds."""
    fd = stream.fileno()
    deadline = time.monotonic() + timeout
    buf = b""
    while not buf.endswith(b"\n"):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError(f"no line within {timeout}s (got {buf!r})")
        ready, _, _ = select.select([fd], [], [], remaining)
        if not ready:
            continue
        chunk = os.read(fd, 1)
        if not chunk:
            break
        buf += chunk
    return buf.decode()


# ---------------------------------------------------------------------------
# PostgreSQL
# ---------------------------------------------------------------------------


def _dir_traversable_by_others(path: Path) -> bool:
    path = path.resolve()
    for p in [path, *path.parents]:
        try:
            if not os.stat(p).st_mode & 0o001:
                return False
        except OSError:
            return False
    return True


class PostgresServer:
    """A throw-away PostgreSQL cluster on 127.0.0.1, for tests.

    ``postgres`` is a trusted superuser (no password over TCP or the unix socket);
    ``cxdesk_test`` (password ``pw-Test-1234``, CREATEDB) must authenticate with
    SCRAM, so wrong-password handling can be tested. Any other role also needs a
    password over TCP.
    """

    SUPERUSER = "postgres"
    TEST_USER = "cxdesk_test"
    TEST_PASSWORD = "pw-Test-1234"
    OS_USER = "cxdesk-pg"  # runs the server when we are root (postgres refuses root)
    DRIVER = "postgresql+psycopg"

    def __init__(self, bindir: str | None = None, base_dir: str | None = None):
        self.bindir = bindir or self.find_bindir()
        self._base_parent = base_dir
        self.host = LOOPBACK
        self.port: int | None = None
        self.base_dir: Path | None = None
        self._key = _Reaper.new_key("pg")
        self._uid: int | None = None
        self._gid: int | None = None

    # -- discovery ---------------------------------------------------------

    @staticmethod
    def find_bindir() -> str | None:
        """Directory holding initdb/pg_ctl/postgres, or None.

        ``CXDESK_PG_BINDIR`` wins; then Debian's /usr/lib/postgresql/<newest>/bin;
        then whatever ``initdb`` is on PATH.
        """
        env = os.environ.get("CXDESK_PG_BINDIR")
        if env:
            return env if os.access(os.path.join(env, "initdb"), os.X_OK) else None

        def version(p: str) -> tuple:
            m = re.search(r"/postgresql/([\d.]+)/bin/", p)
            return tuple(int(x) for x in m.group(1).split(".")) if m else (0,)

        candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=version)
        for initdb in reversed(candidates):
            if os.access(initdb, os.X_OK):
                return os.path.dirname(initdb)
        on_path = shutil.which("initdb")
        return os.path.dirname(on_path) if on_path else None

    @classmethod
    def unavailable_reason(cls) -> str | None:
        """None when a server can be started here, else why not."""
        bindir = cls.find_bindir()
        if not bindir:
            return ("PostgreSQL server binaries not found (no /usr/lib/postgresql/*/bin/initdb, "
                    "no initdb on PATH); run scripts/install-os-deps.sh")
        for tool in ("pg_ctl", "postgres"):
            if not os.access(os.path.join(bindir, tool), os.X_OK):
                return f"{tool} missing in {bindir}"
        if os.geteuid() == 0:
            try:
                pwd.getpwnam(cls.OS_USER)
            except KeyError:
                if not shutil.which("useradd"):
                    return f"running as root, OS user {cls.OS_USER!r} missing and no useradd"
        try:
            import psycopg  # noqa: F401
        except ImportError:
            return "psycopg is not installed"
        return None

    @classmethod
    def is_available(cls) -> bool:
        return cls.unavailable_reason() is None

    # -- process plumbing ----------------------------------------------------

    def _ensure_os_user(self) -> None:
        if os.geteuid() != 0:
            self._uid, self._gid = os.getuid(), os.getgid()
            return
        for attempt in range(20):
            try:
                pw = pwd.getpwnam(self.OS_USER)
                self._uid, self._gid = pw.pw_uid, pw.pw_gid
                return
            except KeyError:
                pass
            # Another xdist worker may be creating it at the same time: tolerate
            # "already exists" (9) and "passwd file locked" (10) and look again.
            subprocess.run(
                ["useradd", "--system", "--user-group", "--no-create-home",
                 "--home-dir", "/nonexistent", "--shell", "/usr/sbin/nologin",
                 "--comment", "cxdesk test PostgreSQL", self.OS_USER],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False,
            )
            if attempt:
                time.sleep(0.1)
        raise RuntimeError(f"could not create OS user {self.OS_USER!r}")

    def _run(self, tool: str, *args: str, timeout: float = 60, check: bool = True):
        cmd = [os.path.join(self.bindir, tool), *args]
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "LC_ALL": "C",
            "LANG": "C",
            "HOME": str(self.base_dir),
            "TZ": "UTC",
        }
        kwargs = {}
        if os.geteuid() == 0:
            kwargs = dict(user=self._uid, group=self._gid, extra_groups=[])
        proc = subprocess.run(
            cmd, cwd=self.base_dir, env=env, stdin=subprocess.DEVNULL,
            capture_output=True, text=True, timeout=timeout, **kwargs,
        )
        if check and proc.returncode != 0:
            raise RuntimeError(
                f"{tool} failed ({proc.returncode}): {proc.stdout}{proc.stderr}\n"
                f"--- server log ---\n{self.log_tail()}"
            )
        return proc

    @property
    def data_dir(self) -> Path:
        return self.base_dir / "data"

    @property
    def socket_dir(self) -> Path:
        return self.base_dir / "sock"

    @property
    def log_path(self) -> Path:
        return self.base_dir / "server.log"

    def log_tail(self, n: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        except (OSError, TypeError, AttributeError):
            return "(no log)"

    def _postmaster_pid(self) -> int | None:
        try:
            return int((self.data_dir / "postmaster.pid").read_text().split("\n", 1)[0])
        except (OSError, ValueError):
            return None

    def _pick_base_parent(self) -> str:
        if self._base_parent:
            return self._base_parent
        if os.geteuid() != 0:
            return tempfile.gettempdir()
        # The server user must be able to reach its dir: TMPDIR may be private to root.
        for cand in (tempfile.gettempdir(), "/tmp", "/var/tmp"):
            if os.path.isdir(cand) and _dir_traversable_by_others(Path(cand)):
                return cand
        raise RuntimeError("no temp dir reachable by an unprivileged user")

    # -- lifecycle -----------------------------------------------------------

    def start(self, timeout: float = 30) -> "PostgresServer":
        if self.bindir is None:
            raise ServiceUnavailable(self.unavailable_reason())
        if self.port is not None:
            raise RuntimeError("already started")
        self._ensure_os_user()
        self.base_dir = Path(tempfile.mkdtemp(prefix="cxdesk-pg-", dir=self._pick_base_parent()))
        _Reaper.watch_path(self._key + "/dir", str(self.base_dir))
        os.chmod(self.base_dir, 0o700)
        if os.geteuid() == 0:
            os.chown(self.base_dir, self._uid, self._gid)
        try:
            self._initdb()
            for attempt in range(5):
                self.port = free_port()
                self._write_config()
                proc = self._run("pg_ctl", "-D", str(self.data_dir), "-l", str(self.log_path),
                                 "-w", "-t", str(int(timeout)), "start", check=False,
                                 timeout=timeout + 10)
                if proc.returncode == 0:
                    break
                log = self.log_tail()
                if "could not bind" in log or "already in use" in log:
                    continue  # lost the race for the port: try another one
                raise RuntimeError(f"pg_ctl start failed: {proc.stdout}{proc.stderr}\n{log}")
            else:
                raise RuntimeError("could not find a free port for PostgreSQL")
            self._watch_postmaster()
            self._create_roles()
        except BaseException:
            self.stop()
            raise
        return self

    def _initdb(self) -> None:
        self._run(
            "initdb", "-D", str(self.data_dir), "-U", self.SUPERUSER, "--auth=trust",
            "-E", "UTF8", "--locale=C", "--no-sync",
        )
        self.socket_dir.mkdir(mode=0o700)
        if os.geteuid() == 0:
            os.chown(self.socket_dir, self._uid, self._gid)
        (self.data_dir / "pg_hba.conf").write_text(
            "# written by tests/servers.py\n"
            f"local all {self.SUPERUSER} trust\n"
            "local all all scram-sha-256\n"
            f"host  all {self.SUPERUSER} 127.0.0.1/32 trust\n"
            "host  all all 127.0.0.1/32 scram-sha-256\n"
        )

    def _write_config(self) -> None:
        conf = self.data_dir / "postgresql.conf"
        text = conf.read_text()
        marker = "# --- cxdesk test settings ---\n"
        text = text.split(marker, 1)[0]
        text += marker + "\n".join([
            "listen_addresses = '127.0.0.1'",
            f"port = {self.port}",
            f"unix_socket_directories = '{self.socket_dir}'",
            "fsync = off",
            "synchronous_commit = off",
            "full_page_writes = off",
            "max_connections = 100",
            "shared_buffers = 32MB",
            "dynamic_shared_memory_type = posix",
            "password_encryption = 'scram-sha-256'",
            "timezone = 'UTC'",
            "log_min_messages = warning",
            "log_connections = off",
            "jit = off",
        ]) + "\n"
        conf.write_text(text)

    def _watch_postmaster(self) -> None:
        pid = self._postmaster_pid()
        if pid:
            # SIGINT = fast shutdown (SIGTERM would wait for clients to disconnect)
            _Reaper.watch_pid(self._key + "/pid", pid, signal.SIGINT)

    def _create_roles(self) -> None:
        from psycopg import sql

        with self.connect() as conn:
            conn.execute(
                sql.SQL("CREATE ROLE {} LOGIN CREATEDB PASSWORD {}").format(
                    sql.Identifier(self.TEST_USER), sql.Literal(self.TEST_PASSWORD)
                )
            )

    def stop(self) -> None:
        """Stop the server (fast shutdown) and delete its directory. Idempotent."""
        if self.base_dir is None:
            return
        try:
            if self._postmaster_pid() is not None:
                proc = self._run("pg_ctl", "-D", str(self.data_dir), "-m", "fast", "-w",
                                 "-t", "20", "stop", check=False, timeout=30)
                if proc.returncode != 0:
                    pid = self._postmaster_pid()
                    if pid:
                        try:
                            os.kill(pid, signal.SIGQUIT)  # immediate shutdown
                        except OSError:
                            pass
                        time.sleep(0.5)
        finally:
            shutil.rmtree(self.base_dir, ignore_errors=True)
            _Reaper.forget(self._key)
            self.base_dir = None
            self.port = None

    def restart(self, timeout: float = 30) -> None:
        """Restart on the same port and data dir (connections are dropped)."""
        self._run("pg_ctl", "-D", str(self.data_dir), "-l", str(self.log_path), "-m", "fast",
                  "-w", "-t", str(int(timeout)), "restart", timeout=timeout + 10)
        self._watch_postmaster()

    def __enter__(self) -> "PostgresServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- connection helpers --------------------------------------------------

    def url(self, dbname: str = "postgres", user: str = SUPERUSER,
            password: str | None = None, driver: str = DRIVER) -> str:
        """SQLAlchemy URL, e.g. ``postgresql+psycopg://postgres@127.0.0.1:PORT/db``."""
        auth = urllib.parse.quote(user, safe="")
        if password is not None:
            auth += ":" + urllib.parse.quote(password, safe="")
        return f"{driver}://{auth}@{self.host}:{self.port}/{urllib.parse.quote(dbname, safe='')}"

    def conninfo(self, dbname: str = "postgres", user: str = SUPERUSER,
                 password: str | None = None) -> str:
        """libpq conninfo string for psycopg.connect()."""
        from psycopg.conninfo import make_conninfo

        kw = dict(host=self.host, port=self.port, dbname=dbname, user=user, connect_timeout=10)
        if password is not None:
            kw["password"] = password
        return make_conninfo(**kw)

    def connect(self, dbname: str = "postgres", user: str = SUPERUSER,
                password: str | None = None, autocommit: bool = True):
        import psycopg

        return psycopg.connect(self.conninfo(dbname, user, password), autocommit=autocommit)

    def create_database(self, name: str, owner: str | None = None,
                        template: str = "template0") -> str:
        from psycopg import sql

        q = sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
            sql.Identifier(name), sql.Identifier(template))
        if owner:
            q += sql.SQL(" OWNER {}").format(sql.Identifier(owner))
        with self.connect() as conn:
            conn.execute(q)
        return name

    def drop_database(self, name: str) -> None:
        """Drop ``name``, terminating any sessions still connected to it."""
        from psycopg import sql

        with self.connect() as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                sql.Identifier(name)))


# ---------------------------------------------------------------------------
# Secret Service (gnome-keyring in a private D-Bus session)
# ---------------------------------------------------------------------------

# Variables a keyring user looks at: ``.env`` sets these ...
KEYRING_ENV_VARS = (
    "DBUS_SESSION_BUS_ADDRESS",
    "XDG_RUNTIME_DIR",
    "HOME",
    "XDG_DATA_HOME",
    "XDG_CONFIG_HOME",
    "XDG_CACHE_HOME",
    "XDG_STATE_HOME",
)
# ... and these are removed, so nothing of a developer's desktop session leaks in
# (python-keyring fails on PYTHON_KEYRING_BACKEND="", so it must be unset, not blank).
KEYRING_UNSET_VARS = (
    "PYTHON_KEYRING_BACKEND",
    "GNOME_KEYRING_CONTROL",
    "DBUS_STARTER_ADDRESS",
    "DBUS_STARTER_BUS_TYPE",
)


def merged_env(env: dict[str, str], base: dict[str, str] | None = None) -> dict[str, str]:
    """A complete environment for a subprocess: ``base`` (default os.environ) without
    :data:`KEYRING_UNSET_VARS`, updated with ``env``."""
    out = {k: v for k, v in (os.environ if base is None else base).items()
           if k not in KEYRING_UNSET_VARS}
    out.update(env)
    return out


@contextlib.contextmanager
def applied_env(env: dict[str, str], environ=None):
    """Apply ``env`` (and drop :data:`KEYRING_UNSET_VARS`) in os.environ; restore after."""
    environ = os.environ if environ is None else environ
    keys = set(env) | set(KEYRING_UNSET_VARS)
    saved = {k: environ.get(k) for k in keys}
    try:
        for k in KEYRING_UNSET_VARS:
            environ.pop(k, None)
        environ.update(env)
        yield env
    finally:
        for k, v in saved.items():
            if v is None:
                environ.pop(k, None)
            else:
                environ[k] = v


def reset_python_keyring() -> None:
    """Make python-keyring choose its backend again (it caches the choice, and the list
    of viable backends, at first use). Call after changing the keyring env vars in
    os.environ. No-op when keyring has not been imported."""
    if "keyring" not in sys.modules:
        return
    import keyring.backend
    import keyring.core

    with contextlib.suppress(KeyError, AttributeError):  # reset() before first use
        keyring.backend.get_all_keyring.reset()
    keyring.core.init_backend()


_BUS_CONF = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path={socket}</listen>
  <auth>EXTERNAL</auth>
  <!-- No service dirs: nothing gets D-Bus-activated (no GUI prompter, no portal). -->
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"""


def _home_env(base: Path) -> dict[str, str]:
    home = base / "home"
    runtime = base / "run"
    for d in (home, runtime, home / ".local/share", home / ".config", home / ".cache",
              home / ".local/state"):
        d.mkdir(parents=True, exist_ok=True)
    os.chmod(runtime, 0o700)
    return {
        "XDG_RUNTIME_DIR": str(runtime),
        "HOME": str(home),
        "XDG_DATA_HOME": str(home / ".local/share"),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_CACHE_HOME": str(home / ".cache"),
        "XDG_STATE_HOME": str(home / ".local/state"),
    }


def no_keyring_env(base_dir: str | os.PathLike) -> dict[str, str]:
    """Env in which no Secret Service is reachable: DBUS_SESSION_BUS_ADDRESS names a
    unix socket with nothing listening (like a crashed bus: connect() fails at once
    with ECONNREFUSED), and HOME/XDG dirs are fresh dirs under ``base_dir``. Same keys
    as :attr:`SecretServiceSession.env`; use with :func:`applied_env`/:func:`merged_env`.
    """
    base = Path(base_dir)
    env = _home_env(base)
    dead = base / "run" / "dead-bus"
    if not dead.exists():
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.bind(str(dead))  # bound, never listening; the file stays after close
    env["DBUS_SESSION_BUS_ADDRESS"] = f"unix:path={dead}"
    return env


class SecretServiceSession:
    """gnome-keyring-daemon (secrets component) on a private D-Bus session bus.

    After :meth:`start` the default alias points at a "login" collection created with
    ``password`` and unlocked (or locked again when ``locked=True``). Nothing touches the
    real user's keyring: HOME, XDG_* and the bus all live in a temp dir.

    ``.env`` gives the variables to put into os.environ (:meth:`applied`) or a
    subprocess env (:meth:`subprocess_env`); python-keyring also needs
    :data:`KEYRING_UNSET_VARS` removed, which both helpers do. jeepney
    (under secretstorage/keyring) reads DBUS_SESSION_BUS_ADDRESS at every connect, so
    changing os.environ takes effect on the next keyring call.
    """

    PASSWORD = "keyring-Test-1234"

    def __init__(self, password: str = PASSWORD, locked: bool = False):
        self.password = password
        self.locked = locked
        self.base_dir: Path | None = None
        self.env: dict[str, str] = {}
        self._bus: subprocess.Popen | None = None
        self._daemon: subprocess.Popen | None = None
        self._key = _Reaper.new_key("ss")

    @staticmethod
    def unavailable_reason() -> str | None:
        missing = [b for b in ("dbus-daemon", "gnome-keyring-daemon") if not shutil.which(b)]
        if missing:
            return (f"{', '.join(missing)} not found; "
                    "run scripts/install-os-deps.sh (packages dbus, gnome-keyring)")
        try:
            import jeepney  # noqa: F401
            import secretstorage  # noqa: F401
        except ImportError as e:
            return f"python package missing: {e.name}"
        return None

    @classmethod
    def is_available(cls) -> bool:
        return cls.unavailable_reason() is None

    @property
    def address(self) -> str:
        return self.env["DBUS_SESSION_BUS_ADDRESS"]

    def start(self, timeout: float = 15) -> "SecretServiceSession":
        reason = self.unavailable_reason()
        if reason:
            raise ServiceUnavailable(reason)
        self.base_dir = Path(tempfile.mkdtemp(prefix="cxdesk-keyring-"))
        _Reaper.watch_path(self._key + "/dir", str(self.base_dir))
        try:
            self._start(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self, timeout: float) -> None:
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("DBUS_", "XDG_", "GNOME_KEYRING", "SSH_AUTH"))
               and k not in ("DISPLAY", "WAYLAND_DISPLAY")}
        env.update(_home_env(self.base_dir))
        conf = self.base_dir / "bus.conf"
        conf.write_text(_BUS_CONF.format(socket=self.base_dir / "run" / "bus"))
        self._bus = subprocess.Popen(
            ["dbus-daemon", f"--config-file={conf}", "--nofork", "--nopidfile",
             "--print-address=1"],
            env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL, start_new_session=True,
        )
        _Reaper.watch_pid(self._key + "/bus", self._bus.pid)
        address = _readline_with_timeout(self._bus.stdout, timeout).strip()
        if not address:
            raise RuntimeError("dbus-daemon printed no address")
        env["DBUS_SESSION_BUS_ADDRESS"] = address
        # --foreground (not --daemonize) keeps it our child, so we know its pid.
        # --unlock reads the login password from stdin up to EOF and creates the
        # "login" collection with it when it does not exist yet.
        self._daemon = subprocess.Popen(
            ["gnome-keyring-daemon", "--foreground", "--replace", "--unlock",
             "--components=secrets"],
            env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=open(self.base_dir / "gnome-keyring.log", "wb"),
            start_new_session=True,
        )
        _Reaper.watch_pid(self._key + "/daemon", self._daemon.pid)
        self._daemon.stdin.write(self.password.encode())
        self._daemon.stdin.close()
        # It prints GNOME_KEYRING_CONTROL=... once set up; we do not need the value.
        _readline_with_timeout(self._daemon.stdout, timeout)
        self.env = {k: env[k] for k in KEYRING_ENV_VARS}
        self._wait_ready(timeout)
        if self.locked:
            self.lock()

    def _connect(self):
        from jeepney.io.blocking import open_dbus_connection

        return open_dbus_connection(bus=self.address)

    def _wait_ready(self, timeout: float) -> None:
        import secretstorage
        from secretstorage.exceptions import SecretStorageException

        deadline = time.monotonic() + timeout
        last: Exception | None = None
        while time.monotonic() < deadline:
            if self._daemon.poll() is not None:
                raise RuntimeError("gnome-keyring-daemon exited early:\n" + self.daemon_log())
            try:
                with self._connect() as conn:
                    if secretstorage.check_service_availability(conn):
                        secretstorage.Collection(conn)  # default alias resolves
                        return
            except (SecretStorageException, OSError) as e:
                last = e
            time.sleep(0.02)
        raise TimeoutError(f"Secret Service not ready after {timeout}s ({last!r}):\n"
                           + self.daemon_log())

    def applied(self, environ=None):
        """Context manager: this session's env in os.environ, restored after."""
        return applied_env(self.env, environ)

    def subprocess_env(self, base: dict[str, str] | None = None) -> dict[str, str]:
        """Full env for a subprocess that should use this keyring."""
        return merged_env(self.env, base)

    def daemon_log(self) -> str:
        try:
            return (self.base_dir / "gnome-keyring.log").read_text(errors="replace")
        except (OSError, TypeError):
            return ""

    def lock(self) -> None:
        """Lock the default collection (unlocking needs a GUI prompt: not available)."""
        import secretstorage

        with self._connect() as conn:
            secretstorage.Collection(conn).lock()

    def is_locked(self) -> bool:
        import secretstorage

        with self._connect() as conn:
            return secretstorage.Collection(conn).is_locked()

    def stop(self) -> None:
        _terminate(self._daemon)
        _terminate(self._bus)
        for p in (self._daemon, self._bus):
            if p is not None and p.stdout is not None:
                p.stdout.close()
        self._daemon = self._bus = None
        if self.base_dir is not None:
            shutil.rmtree(self.base_dir, ignore_errors=True)
            self.base_dir = None
        _Reaper.forget(self._key)

    def __enter__(self) -> "SecretServiceSession":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


# ---------------------------------------------------------------------------
# SMTP
# ---------------------------------------------------------------------------


class TlsMaterial:
    """trustme certificates: a CA we trust and a server cert it signed for 127.0.0.1
    and localhost, plus an unrelated CA's server cert (fails verification)."""

    def __init__(self, directory: str | os.PathLike | None = None):
        import trustme

        self.dir = Path(directory) if directory else temp_dir("cxdesk-tls-")
        self.dir.mkdir(parents=True, exist_ok=True)
        self.ca = trustme.CA(organization_name="cxdesk test CA")
        self.cert = self.ca.issue_cert(LOOPBACK, "localhost")
        self.untrusted_ca = trustme.CA(organization_name="cxdesk UNTRUSTED CA")
        self.untrusted_cert = self.untrusted_ca.issue_cert(LOOPBACK, "localhost")
        self.ca_pem_path = self.dir / "ca.pem"
        self.ca.cert_pem.write_to_path(str(self.ca_pem_path))
        self.untrusted_ca_pem_path = self.dir / "untrusted-ca.pem"
        self.untrusted_ca.cert_pem.write_to_path(str(self.untrusted_ca_pem_path))

    def server_context(self, untrusted: bool = False) -> ssl.SSLContext:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        (self.untrusted_cert if untrusted else self.cert).configure_cert(ctx)
        return ctx

    def client_context(self) -> ssl.SSLContext:
        """A verifying client context that trusts only our CA."""
        return ssl.create_default_context(cafile=str(self.ca_pem_path))


_tls_lock = threading.Lock()
_tls_material: TlsMaterial | None = None


def tls_material() -> TlsMaterial:
    """Process-wide :class:`TlsMaterial` (key generation is the slow part)."""
    global _tls_material
    with _tls_lock:
        if _tls_material is None:
            _tls_material = TlsMaterial()
        return _tls_material


class _Handler:
    def __init__(self, server: "SmtpServer"):
        self.server = server

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.server.mode == "refuse" and self.server.refuse_at == "rcpt":
            return "550 5.1.1 Recipient refused by cxdesk test server"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.server.mode == "refuse":
            return "550 5.7.1 Message refused by cxdesk test server"
        raw = envelope.original_content or envelope.content
        if isinstance(raw, str):
            raw = raw.encode("utf-8", "surrogateescape")
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        with self.server._cond:
            self.server.envelopes.append(
                (envelope.mail_from, list(envelope.rcpt_tos), session.authenticated))
            self.server.messages.append(msg)
            self.server._cond.notify_all()
        return "250 Message accepted for delivery"


class _HangServer:
    """Accepts TCP connections and never says a word."""

    def __init__(self, host: str):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, 0))
        self.sock.listen(16)
        self.sock.settimeout(0.1)
        self.port = self.sock.getsockname()[1]
        self.conns: list[socket.socket] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="smtp-hang", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except (socket.timeout, OSError):
                continue
            self.conns.append(conn)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)
        for c in self.conns:
            c.close()
        self.sock.close()


class SmtpServer:
    """An SMTP server on 127.0.0.1 for tests.

    Modes:
      ``ok``        accept everything; ``.messages`` collects EmailMessage objects.
      ``auth``      as ok, but AUTH PLAIN/LOGIN with ``username``/``password`` is
                    required (allowed without TLS).
      ``refuse``    550 on RCPT (``refuse_at="rcpt"``, default) or on DATA
                    (``refuse_at="data"``).
      ``starttls``  as ok, STARTTLS offered and required before MAIL.
      ``ssl``       as ok over implicit TLS (SMTPS).
      ``hang``      accepts the TCP connection and never answers (timeouts).

    ``auth=True`` also requires AUTH in starttls/ssl mode. ``untrusted_cert=True``
    presents a certificate from a CA that :attr:`ca_pem_path` does not vouch for.
    """

    MODES = ("ok", "auth", "refuse", "starttls", "ssl", "hang")
    USERNAME = "cxdesk-smtp"
    PASSWORD = "smtp-Pass-1234"

    def __init__(self, mode: str = "ok", *, username: str = USERNAME,
                 password: str = PASSWORD, auth: bool | None = None,
                 untrusted_cert: bool = False, refuse_at: str = "rcpt",
                 host: str = LOOPBACK):
        if mode not in self.MODES:
            raise ValueError(f"mode must be one of {self.MODES}, not {mode!r}")
        if refuse_at not in ("rcpt", "data"):
            raise ValueError("refuse_at must be 'rcpt' or 'data'")
        self.mode = mode
        self.username = username
        self.password = password
        self.auth = (mode == "auth") if auth is None else auth
        self.untrusted_cert = untrusted_cert
        self.refuse_at = refuse_at
        self.host = host
        self.port: int | None = None
        self.messages: list[email.message.EmailMessage] = []
        self.envelopes: list[tuple[str, list[str], bool]] = []  # (from, rcpts, authed)
        self._cond = threading.Condition()
        self._controller = None
        self._hang: _HangServer | None = None
        self.tls = tls_material() if mode in ("starttls", "ssl") else None

    @property
    def ca_pem_path(self) -> str | None:
        """PEM of the CA that signed the (trusted) server certificate."""
        return str(tls_material().ca_pem_path)

    @property
    def address(self) -> tuple[str, int]:
        return self.host, self.port

    def client_ssl_context(self) -> ssl.SSLContext:
        """A verifying client context trusting our test CA."""
        return tls_material().client_context()

    def _authenticator(self, server, session, envelope, mechanism, auth_data):
        from aiosmtpd.smtp import AuthResult, LoginPassword

        ok = (isinstance(auth_data, LoginPassword)
              and auth_data.login == self.username.encode()
              and auth_data.password == self.password.encode())
        return AuthResult(success=ok, handled=False)

    def start(self) -> "SmtpServer":
        if self.mode == "hang":
            self._hang = _HangServer(self.host)
            self.port = self._hang.port
            return self
        from aiosmtpd.controller import Controller

        kwargs: dict = {}
        if self.auth:
            kwargs.update(authenticator=self._authenticator, auth_required=True,
                          auth_require_tls=True)
        if self.mode == "starttls":
            kwargs.update(tls_context=self.tls.server_context(self.untrusted_cert),
                          require_starttls=True)
        elif self.mode == "ssl":
            kwargs.update(ssl_context=self.tls.server_context(self.untrusted_cert))
        # aiosmtpd counts only STARTTLS as TLS, so on an implicit-TLS (ssl) port it would
        # never offer AUTH: lift its check there too, the connection is encrypted already
        plain_auth = self.auth and self.mode != "starttls"

        class _Controller(Controller):
            def factory(inner):
                smtp = super().factory()
                if plain_auth:
                    # Same as auth_require_tls=False, without aiosmtpd's per-connection
                    # "Requiring AUTH while not requiring TLS" UserWarning.
                    smtp._auth_require_tls = False
                return smtp

        last: Exception | None = None
        for _ in range(5):
            self.port = free_port(self.host)
            ctl = _Controller(_Handler(self), hostname=self.host, port=self.port,
                              ready_timeout=10, **kwargs)
            try:
                ctl.start()
            except Exception as e:  # lost the race for the port
                last = e
                continue
            self._controller = ctl
            return self
        raise RuntimeError(f"SMTP server did not start: {last!r}")

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None
        if self._hang is not None:
            self._hang.stop()
            self._hang = None

    def wait_for_messages(self, count: int = 1, timeout: float = 5.0):
        """Block until ``count`` messages arrived; returns ``messages``."""
        with self._cond:
            if not self._cond.wait_for(lambda: len(self.messages) >= count, timeout):
                raise TimeoutError(f"{len(self.messages)} of {count} messages after {timeout}s")
            return list(self.messages)

    def __enter__(self) -> "SmtpServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def files_containing(roots, needle: str) -> list[Path]:
    """Every file below ``roots`` whose bytes contain ``needle`` (the secret-leak searches)."""
    data = needle.encode("utf-8")
    hits = []
    for root in roots:
        for dirpath, _dirs, files in os.walk(root):
            for name in files:
                path = Path(dirpath, name)
                try:
                    if data in path.read_bytes():
                        hits.append(path)
                except OSError:
                    pass
    return hits
