"""The frozen program (``make package``): built with PyInstaller, started as users start it.

The bundle is built once per run (packaging/build.sh), or reused when dist/cxdesk/cxdesk
is newer than every file it is built from. Building takes minutes: these tests are
marked ``slow``.
"""
from __future__ import annotations

import fcntl
import os
import re
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from cxdesk.services import secrets

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]

REPO = Path(__file__).resolve().parents[2]
PROGRAM = REPO / "dist" / "cxdesk" / "cxdesk"
INTERNAL = PROGRAM.parent / "_internal"
SOURCES = [REPO / "cxdesk", REPO / "packaging", REPO / "pyproject.toml"]


def newest_source_mtime() -> float:
    newest = 0.0
    for root in SOURCES:
        paths = [root] if root.is_file() else (p for p in root.rglob("*") if "__pycache__" not in p.parts)
        for p in paths:
            if p.is_file():
                newest = max(newest, p.stat().st_mtime)
    return newest


@pytest.fixture(scope="module")
def frozen() -> Path:
    """dist/cxdesk/cxdesk, built now unless it is newer than all its sources. A lock
    keeps parallel test workers from building into the same folder at once."""
    (REPO / "build").mkdir(exist_ok=True)
    with open(REPO / "build" / "frozen-test.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not PROGRAM.exists() or PROGRAM.stat().st_mtime < newest_source_mtime():
            done = subprocess.run(["bash", "packaging/build.sh"], cwd=REPO, capture_output=True, text=True,
                                  env={**os.environ, "PYTHON": sys.executable}, timeout=1500)
            assert done.returncode == 0, f"packaging/build.sh failed:\n{done.stdout}\n{done.stderr}"
    assert os.access(PROGRAM, os.X_OK)
    return PROGRAM


def user_env(tmp_path: Path) -> dict[str, str]:
    """A fresh user: own HOME and XDG dirs, no display (offscreen Qt). The D-Bus address
    is whatever the test's keyring fixture put into os.environ."""
    home = tmp_path / "home"
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "HOME": str(home)}
    for var, sub in (("XDG_DATA_HOME", ".local/share"), ("XDG_CONFIG_HOME", ".config"),
                     ("XDG_STATE_HOME", ".local/state"), ("XDG_CACHE_HOME", ".cache")):
        (home / sub).mkdir(parents=True)
        env[var] = str(home / sub)
    env.pop("CXDESK_LOG_LEVEL", None)
    return env


def run(program: Path, *args: str, env: dict[str, str], input: str | None = None):
    return subprocess.run([str(program), *args], env=env, input=input, capture_output=True,
                          text=True, timeout=300, cwd=env["HOME"])


def test_self_test_on_a_new_sqlite_file_leaves_a_verifiable_audit_chain(frozen, tmp_path, run_cli):
    db = tmp_path / "x.db"
    env = user_env(tmp_path)
    done = run(frozen, "--db", str(db), "--self-test", env=env)
    assert done.returncode == 0, f"stdout:\n{done.stdout}\nstderr:\n{done.stderr}"
    assert "self-test passed" in done.stdout.splitlines()
    assert "ok: read: the customer list shows" in done.stdout
    assert "ok: icon: the application icon loads" in done.stdout.splitlines()
    assert (Path(env["XDG_STATE_HOME"]) / "cxdesk" / "log" / "cxdesk.log").is_file()

    # the chain the frozen program wrote is the one the installed package verifies
    verified = run_cli("--db", str(db), "audit", "verify")
    assert verified.returncode == 0, verified.stderr
    first = verified.stdout.splitlines()[0]  # then what the witness found
    count = int(re.fullmatch(r"Audit log intact: (\d+) entries verified\.", first)[1])
    assert count > 3
    again = run(frozen, "--db", str(db), "audit", "verify", env=env)
    assert (again.returncode, again.stdout.splitlines()[0]) == (0, first)
    # the frozen program witnessed its own writes; this test's process had never seen the log
    assert again.stdout.splitlines()[1].startswith("The audit log extends what this workstation saw")


def test_self_test_on_an_x_server_with_the_bundled_xcb_plugin(frozen, tmp_path):
    xvfb_run = shutil.which("xvfb-run")
    if xvfb_run is None:
        pytest.skip("xvfb-run is not installed (scripts/install-os-deps.sh installs it)")
    env = {**user_env(tmp_path), "QT_QPA_PLATFORM": "xcb"}
    env.pop("WAYLAND_DISPLAY", None)
    done = subprocess.run([xvfb_run, "-a", str(frozen), "--db", str(tmp_path / "x.db"), "--self-test"],
                          env=env, capture_output=True, text=True, timeout=300, cwd=env["HOME"])
    assert done.returncode == 0, f"stdout:\n{done.stdout}\nstderr:\n{done.stderr}"
    assert "self-test passed" in done.stdout.splitlines()


@pytest.mark.postgres
def test_self_test_on_a_postgresql_server(frozen, tmp_path, pg_url, run_cli):
    done = run(frozen, "--db", pg_url, "--self-test", env=user_env(tmp_path))
    assert done.returncode == 0, f"stdout:\n{done.stdout}\nstderr:\n{done.stderr}"
    assert "self-test passed" in done.stdout.splitlines()
    verified = run_cli("--db", pg_url, "audit", "verify")
    assert verified.returncode == 0 and verified.stdout.startswith("Audit log intact"), verified.stderr


def test_a_missing_database_is_one_sentence_and_creates_nothing(frozen, tmp_path):
    db = tmp_path / "nowhere" / "x.db"
    done = run(frozen, "--db", str(db), "audit", "verify", env=user_env(tmp_path))
    assert done.returncode == 1
    assert done.stderr.startswith("cxdesk: ") and len(done.stderr.strip().splitlines()) == 1
    assert not db.parent.exists()


def test_keyring_finds_the_secret_service(frozen, tmp_path, secret_service):
    """keyring discovers backends by entry points; the frozen program must still find
    the Secret Service, and store there (never in a file)."""
    name, value = f"frozen-{uuid.uuid4().hex[:8]}", f"V-{uuid.uuid4().hex}"
    env = {**user_env(tmp_path), **secret_service.env}
    try:
        done = run(frozen, "secret", "set", name, "--stdin", env=env, input=value + "\n")
        assert (done.returncode, done.stdout) == (0, f"stored {name} in the SecretService (Keyring) keyring\n"), done.stderr
        assert secrets.get_secret(name) == value  # read back here, through the same D-Bus service
        listed = run(frozen, "secret", "list", env=env)
        assert name in listed.stdout.splitlines() and value not in listed.stdout
    finally:
        secrets.delete_secret(name)


def test_without_a_keyring_secrets_are_refused_not_written_to_a_file(frozen, tmp_path, no_keyring):
    env = user_env(tmp_path)  # its D-Bus address is no_keyring's: nothing listens there
    done = run(frozen, "secret", "set", "nope", "--stdin", env=env, input="Some-Value-123\n")
    assert done.returncode == 1
    assert done.stderr.startswith("cxdesk: No system keyring is available")
    written = [p for p in Path(env["HOME"]).rglob("*") if p.is_file() and b"Some-Value-123" in p.read_bytes()]
    assert written == []


def test_bundle_ships_migrations_and_resources_and_leaves_out_unused_qt(frozen):
    migrations = INTERNAL / "cxdesk" / "migrations"
    assert (migrations / "env.py").is_file() and (migrations / "script.py.mako").is_file()
    versions = sorted(p.name for p in (REPO / "cxdesk" / "migrations" / "versions").glob("*.py"))
    assert sorted(p.name for p in (migrations / "versions").glob("*.py")) == versions
    icons = INTERNAL / "cxdesk" / "resources" / "icons"
    assert {p.name for p in icons.iterdir()} >= {"cxdesk.svg", *(f"cxdesk-{s}.png" for s in (16, 32, 48, 64, 128, 256))}

    qt = INTERNAL / "PySide6" / "Qt"
    platforms = {p.name for p in (qt / "plugins" / "platforms").iterdir()}
    assert {"libqxcb.so", "libqoffscreen.so"} <= platforms
    assert (qt / "plugins" / "imageformats" / "libqsvg.so").is_file()  # the SVG icon
    assert (qt / "plugins" / "iconengines" / "libqsvgicon.so").is_file()
    assert any(p.startswith("libqwayland") for p in platforms)
    assert not platforms & {"libqvnc.so", "libqlinuxfb.so", "libqeglfs.so"}
    assert not (qt / "translations").exists()
    assert not list(qt.glob("lib/libQt6Network*")) and not list(qt.glob("lib/libQt6Qml*"))
    assert not list(INTERNAL.glob("libgtk-3*"))
