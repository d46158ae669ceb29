"""The desktop integration: the .desktop entry, the icons and the AppStream metadata, and
``make install-desktop`` (scripts/install-desktop.sh) installing them for one user.

The install script runs from a copy of the files it reads, so each test decides whether
a venv or a frozen build is "present" without touching the real tree.
"""
from __future__ import annotations

import configparser
import os
import shutil
import struct
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from cxdesk import __version__

REPO = Path(__file__).resolve().parents[2]
DESKTOP = REPO / "resources" / "cxdesk.desktop"
METAINFO = REPO / "resources" / "io.cxdesk.cxdesk.metainfo.xml"
ICONS = REPO / "cxdesk" / "resources" / "icons"
SIZES = (16, 32, 48, 64, 128, 256)


def fake_root(tmp_path: Path, *, venv: bool = True, frozen: bool = False) -> Path:
    """A copy of what install-desktop.sh reads, with stand-in programs."""
    root = tmp_path / "checkout"
    (root / "scripts").mkdir(parents=True)
    shutil.copy(REPO / "scripts" / "install-desktop.sh", root / "scripts")
    shutil.copytree(REPO / "resources", root / "resources")
    shutil.copytree(ICONS, root / "cxdesk" / "resources" / "icons")
    for present, program in ((venv, root / ".venv" / "bin" / "cxdesk"), (frozen, root / "dist" / "cxdesk" / "cxdesk")):
        if present:
            program.parent.mkdir(parents=True)
            program.write_text("#!/bin/sh\n")
            program.chmod(0o755)
    return root


def install(root: Path, tmp_path: Path, *args: str) -> tuple[subprocess.CompletedProcess, Path]:
    data = tmp_path / "data"
    env = {**os.environ, "HOME": str(tmp_path / "home"), "XDG_DATA_HOME": str(data)}
    done = subprocess.run(["bash", str(root / "scripts" / "install-desktop.sh"), *args], env=env,
                          capture_output=True, text=True, timeout=60, cwd=tmp_path)
    return done, data


def read_entry(path: Path) -> dict[str, str]:
    parser = configparser.ConfigParser(interpolation=None, delimiters=("=",))
    parser.optionxform = str  # keys are case-sensitive
    parser.read(path, encoding="utf-8")
    return dict(parser["Desktop Entry"])


def exec_argv(value: str) -> list[str]:
    """The Exec key's arguments, decoded as the Desktop Entry Specification says: string
    escapes first, then quoting, then %%."""
    s = value.replace("\\\\", "\0")  # string level: \\ is one backslash
    s = s.replace("\\s", " ").replace("\\n", "\n").replace("\\t", "\t").replace("\\r", "\r").replace("\0", "\\")
    args, i = [], 0
    while i < len(s):
        if s[i] == " ":
            i += 1
            continue
        arg = ""
        if s[i] == '"':
            i += 1
            while s[i] != '"':
                if s[i] == "\\" and s[i + 1] in '"`$\\':
                    i += 1
                arg += s[i]
                i += 1
            i += 1
        else:
            while i < len(s) and s[i] != " ":
                arg += s[i]
                i += 1
        args.append(arg.replace("%%", "%"))
    return args


def png_size(path: Path) -> tuple[int, int]:
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n" and head[12:16] == b"IHDR", f"{path} is not a PNG"
    return struct.unpack(">II", head[16:24])


def validator(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"{name} is not installed (scripts/install-os-deps.sh installs it)")
    return path


def test_desktop_entry_names_the_program_its_icon_and_menu_place():
    entry = read_entry(DESKTOP)
    assert entry["Type"] == "Application"
    assert entry["Name"] == "cxdesk" and entry["GenericName"] and entry["Comment"]
    assert (entry["Exec"], entry["Icon"], entry["Terminal"]) == ("cxdesk", "cxdesk", "false")
    assert entry["Categories"] == "Office;Finance;"
    assert entry["StartupWMClass"] == "cxdesk"  # Qt's WM_CLASS is the application name


def test_metainfo_describes_this_program_and_release():
    component = ET.parse(METAINFO).getroot()
    assert component.get("type") == "desktop-application"
    assert component.findtext("id") == "io.cxdesk.cxdesk" == METAINFO.name.removesuffix(".metainfo.xml")
    assert component.findtext("launchable") == DESKTOP.name
    assert component.find("provides/binary").text == "cxdesk"
    assert [r.get("version") for r in component.iter("release")][0] == __version__


def test_committed_icons_are_pngs_of_their_named_size():
    assert (ICONS / "cxdesk.svg").is_file()
    for size in SIZES:
        assert png_size(ICONS / f"cxdesk-{size}.png") == (size, size)


def test_install_puts_entry_icons_and_metainfo_under_xdg_data_home(tmp_path):
    root = fake_root(tmp_path)
    done, data = install(root, tmp_path)
    assert done.returncode == 0, done.stderr
    entry = read_entry(data / "applications" / "cxdesk.desktop")
    assert exec_argv(entry["Exec"]) == [str(root / ".venv" / "bin" / "cxdesk")]
    assert {k: v for k, v in entry.items() if k != "Exec"} == {k: v for k, v in read_entry(DESKTOP).items() if k != "Exec"}
    for size in SIZES:
        icon = data / "icons" / "hicolor" / f"{size}x{size}" / "apps" / "cxdesk.png"
        assert icon.read_bytes() == (ICONS / f"cxdesk-{size}.png").read_bytes()
    assert (data / "icons/hicolor/scalable/apps/cxdesk.svg").read_bytes() == (ICONS / "cxdesk.svg").read_bytes()
    assert (data / "metainfo" / METAINFO.name).read_bytes() == METAINFO.read_bytes()
    assert not (tmp_path / "home").exists()  # XDG_DATA_HOME is honoured, HOME untouched


def test_install_prefers_the_frozen_build_and_can_be_repeated(tmp_path):
    root = fake_root(tmp_path, frozen=True)
    for _ in range(2):
        done, data = install(root, tmp_path)
        assert done.returncode == 0, done.stderr
    entry = read_entry(data / "applications" / "cxdesk.desktop")
    assert exec_argv(entry["Exec"]) == [str(root / "dist" / "cxdesk" / "cxdesk")]
    assert sorted(p.name for p in (data / "applications").iterdir() if p.suffix == ".desktop") == ["cxdesk.desktop"]


def test_exec_quotes_a_program_path_with_awkward_characters(tmp_path):
    root = fake_root(tmp_path)
    program = tmp_path / 'My Apps $HOME "x" \\ 100% `y`' / "cx desk"
    program.parent.mkdir()
    shutil.copy(root / ".venv" / "bin" / "cxdesk", program)
    done, data = install(root, tmp_path, str(program))
    assert done.returncode == 0, done.stderr
    installed = data / "applications" / "cxdesk.desktop"
    assert exec_argv(read_entry(installed)["Exec"]) == [str(program)]
    checked = subprocess.run([validator("desktop-file-validate"), str(installed)], capture_output=True, text=True)
    assert checked.returncode == 0 and checked.stdout == "", checked.stdout + checked.stderr


def test_install_refuses_a_missing_program_and_installs_nothing(tmp_path):
    root = fake_root(tmp_path, venv=False)
    done, data = install(root, tmp_path)
    assert done.returncode == 1
    assert done.stderr.startswith("install-desktop: ") and "make venv" in done.stderr
    done, data = install(root, tmp_path, str(tmp_path))  # a folder is not a program
    assert done.returncode == 1
    assert not data.exists()


def test_desktop_file_validate_accepts_the_entry_and_the_installed_one(tmp_path):
    tool = validator("desktop-file-validate")
    done, data = install(fake_root(tmp_path), tmp_path)
    assert done.returncode == 0, done.stderr
    for path in (DESKTOP, data / "applications" / "cxdesk.desktop"):
        checked = subprocess.run([tool, str(path)], capture_output=True, text=True)
        assert checked.returncode == 0 and checked.stdout == "", checked.stdout + checked.stderr


def test_appstreamcli_validates_the_metainfo():
    checked = subprocess.run([validator("appstreamcli"), "validate", "--no-net", str(METAINFO)],
                             capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr
