"""The build gate: a module that does not compile or import fails it, named."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHECK = ROOT / "tests" / "check_modules.py"


def _copy(tmp_path: Path) -> Path:
    tree = tmp_path / "tree"
    for package in ("firmware", "hal", "sync"):
        shutil.copytree(ROOT / package, tree / package,
                        ignore=shutil.ignore_patterns("__pycache__"))
    return tree


def _check(tree: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(CHECK), "--root", str(tree)], cwd=tree,
                          capture_output=True, text=True, timeout=300)


def test_an_indentation_error_no_test_imports_fails_the_gate(tmp_path: Path) -> None:
    tree = _copy(tmp_path)
    bench = tree / "sync" / "bench_sync.py"
    bench.write_text(bench.read_text() + "\n    stray = 1\n        worse = 2\n")
    done = _check(tree)
    assert done.returncode == 1
    assert "sync.bench_sync: IndentationError" in done.stderr


def test_a_module_that_fails_at_import_is_named(tmp_path: Path) -> None:
    tree = _copy(tmp_path)
    (tree / "hal" / "broken_part.py").write_text("import no_such_library_here\n")
    done = _check(tree)
    assert done.returncode == 1
    assert "hal.broken_part: ModuleNotFoundError" in done.stderr


def test_the_copy_of_this_checkout_passes(tmp_path: Path) -> None:
    done = _check(_copy(tmp_path))
    assert done.returncode == 0, done.stderr
    assert "every module compiles and imports" in done.stdout
