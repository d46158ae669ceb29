"""Benchmark runner: ``python -m bench [NAME ...] [--full]``.

Each benchmark is a module ``bench/<name>.py`` exposing ``main(full: bool) -> None``
that prints its figures, always as a ratio against a baseline measured in the same run.
Benchmarks are not part of the pass/fail test run.
"""
from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
import time
from pathlib import Path


def available() -> list[str]:
    here = Path(__file__).parent
    return sorted(m.name for m in pkgutil.iter_modules([str(here)]) if not m.name.startswith("_"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("names", nargs="*", help=f"benchmarks to run (default: all): {', '.join(available())}")
    parser.add_argument("--full", action="store_true", help="use the sizes the issues name (slow)")
    args = parser.parse_args(argv)
    names = args.names or available()
    unknown = [n for n in names if n not in available()]
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(unknown)}")
    for name in names:
        print(f"== {name} ({'full' if args.full else 'quick'} size)", flush=True)
        started = time.perf_counter()
        importlib.import_module(f"bench.{name}").main(args.full)
        print(f"   ({time.perf_counter() - started:.1f} s)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
