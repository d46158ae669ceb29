"""The package's layers: ui -> services -> models; cli -> services; cli and ui never import
each other (cxdesk.main picks one); widgets never get the database (only ctx.ops)."""
from __future__ import annotations

import ast
import sys
from pathlib import Path

import cxdesk

PACKAGE = Path(cxdesk.__file__).parent


def imported_modules(path: Path) -> list[tuple[int, str]]:
    out = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.append((node.lineno, node.module))
            out += [(node.lineno, f"{node.module}.{a.name}") for a in node.names]
    return out


def offenders(folder: str, forbidden: tuple[str, ...]) -> list[str]:
    found = []
    for path in sorted((PACKAGE / folder).rglob("*.py")):
        for line, module in imported_modules(path):
            if module.startswith(forbidden):
                found.append(f"{path.relative_to(PACKAGE)}:{line} imports {module}")
    return found


def test_cli_and_ui_do_not_import_each_other():
    assert offenders("cli", ("cxdesk.ui",)) == []
    assert offenders("ui", ("cxdesk.cli",)) == []


def test_models_and_services_import_neither_ui_nor_cli():
    for layer in ("models", "services"):
        assert offenders(layer, ("cxdesk.ui", "cxdesk.cli")) == []


def test_the_checker_finds_a_forbidden_import(tmp_path, monkeypatch):
    bad = tmp_path / "ui"
    bad.mkdir()
    (bad / "x.py").write_text("from cxdesk.cli.common import open_db\n")
    monkeypatch.setattr(sys.modules[__name__], "PACKAGE", tmp_path)
    assert offenders("ui", ("cxdesk.cli",)) == ["ui/x.py:1 imports cxdesk.cli.common",
                                                "ui/x.py:1 imports cxdesk.cli.common.open_db"]
