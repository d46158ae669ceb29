"""The program's entry point. A subcommand runs the command line (``cxdesk.cli``); none
starts the desktop program (``cxdesk.ui``). The two packages do not import each other."""
from __future__ import annotations

import argparse
import sys


def gui(args: argparse.Namespace) -> int:
    try:
        from cxdesk.ui.app import run
    except ImportError as exc:
        print(f"cxdesk: the desktop program cannot start: {exc}", file=sys.stderr)
        return 1
    return run(args)


def main(argv: list[str] | None = None) -> int:
    from cxdesk import cli

    return cli.main(argv, gui=gui)


def gui_main() -> int:
    return main([])
