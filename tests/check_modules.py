"""Compile every Python file of the project and import every module of its packages.

Run before the test suite (``./dev.sh test``): a module that does not compile or import is a
failed build, even when no test imports it. Exit code 1 names each module that failed.
"""

from __future__ import annotations

import compileall
import importlib
import pkgutil
import sys
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("firmware", "hal", "sync")
NOT_IMPORTED = {"firmware.__main__"}  # runs the CLI when imported


def failures(root: Path = ROOT) -> list[str]:
    """The modules below ``root`` that failed to compile or import, each with its error's
    last line."""
    failed = []
    for folder in (*PACKAGES, "tests", "images"):
        if (root / folder).is_dir() and not compileall.compile_dir(
                str(root / folder), quiet=1, force=True, legacy=False):
            failed.append(f"{folder}/: a file does not compile (see above)")
    sys.path.insert(0, str(root))
    for package in PACKAGES:
        root = importlib.import_module(package)
        for info in pkgutil.walk_packages(root.__path__, f"{package}."):
            if info.name in NOT_IMPORTED:
                continue
            try:
                importlib.import_module(info.name)
            except BaseException:  # noqa: B036 (a SystemExit at import is a failure too)
                last = traceback.format_exc().strip().splitlines()[-1]
                failed.append(f"{info.name}: {last}")
    return failed


def main(argv: list[str]) -> int:
    """Print what failed; 0 when every module compiled and imported.

    ``argv``: optionally ``--root DIR``, the checkout to check (default: this one).
    """
    root = Path(argv[1]).resolve() if argv[:1] == ["--root"] and len(argv) == 2 else ROOT
    failed = failures(root)
    for line in failed:
        print(f"check_modules: {line}", file=sys.stderr)
    if not failed:
        print("check_modules: every module compiles and imports")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
