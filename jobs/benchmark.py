"""Benchmarks behind one entry point: ``python -m jobs.benchmark <name> [options]``.

Each benchmark lives in ``jobs/benchmarks/<name>.py`` with ``main(argv) -> int``,
prints a table and, as its last line, ``<name>: <metric>=<value> ...``.
"""
from __future__ import annotations

import importlib
import pkgutil
import sys

import jobs.benchmarks as _pkg


def available() -> list[str]:
    return sorted(m.name for m in pkgutil.iter_modules(_pkg.__path__) if not m.name.startswith("_"))


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in available():
        print(f"usage: python -m jobs.benchmark <{'|'.join(available())}> [options]", file=sys.stderr)
        return 2
    mod = importlib.import_module(f"jobs.benchmarks.{argv[0]}")
    return int(mod.main(argv[1:]) or 0)


if __name__ == "__main__":
    raise SystemExit(main())
