"""The fuzz targets of tests/fuzz: seeds and kept crash inputs replayed, and a bounded run.

The replays need nothing but the code under test. The bounded runs need atheris (in the
``test`` extra on Linux x86_64) and take about 20 seconds per target.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

FUZZ = Path(__file__).resolve().parent / "fuzz"
ROOT = FUZZ.parents[1]
TARGETS = ("manifest", "tags")
SECONDS_PER_TARGET = 20


def load(target: str) -> ModuleType:
    """The fuzz target module ``tests/fuzz/fuzz_<target>.py``, imported without a fuzzer."""
    name = f"fuzz_{target}"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, FUZZ / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def inputs(kind: str) -> list[tuple[str, Path]]:
    """``(target, file)`` for every file under ``tests/fuzz/<kind>/<target>/``."""
    return [(target, path) for target in TARGETS
            for path in sorted((FUZZ / kind / target).glob("*")) if path.is_file()]


@pytest.mark.parametrize(("target", "path"), inputs("crashes"),
                         ids=lambda v: v.name if isinstance(v, Path) else v)
def test_kept_crash_inputs_no_longer_crash(target: str, path: Path) -> None:
    load(target).fuzz_one_input(path.read_bytes())


@pytest.mark.parametrize("target", TARGETS)
def test_seed_corpus_replays_cleanly(target: str) -> None:
    seeds = [path for t, path in inputs("corpus") if t == target]
    assert len(seeds) >= 10
    for path in seeds:
        load(target).fuzz_one_input(path.read_bytes())


@pytest.mark.parametrize("target", TARGETS)
def test_bounded_fuzz_run_finds_nothing(target: str, tmp_path: Path) -> None:
    try:
        import atheris  # noqa: F401
    except ImportError as exc:
        pytest.skip(f"atheris cannot be imported ({exc}); it is installed by"
                    " pip install -e '.[test]' on Linux x86_64, the only platform with"
                    " atheris wheels")
    new = tmp_path / "new"  # the seed corpus in the repository stays as it is
    artifacts = tmp_path / "artifacts"
    new.mkdir()
    artifacts.mkdir()
    command = [
        sys.executable, str(FUZZ / f"fuzz_{target}.py"),
        f"-max_total_time={SECONDS_PER_TARGET}", "-max_len=4096", "-timeout=10",
        "-rss_limit_mb=2048", f"-dict={FUZZ / f'{target}.dict'}",
        f"-artifact_prefix={artifacts}/", str(new), str(FUZZ / "corpus" / target),
    ]
    done = subprocess.run(command, cwd=tmp_path, capture_output=True,
                          timeout=SECONDS_PER_TARGET + 120)
    found = sorted(p.name for p in artifacts.iterdir())
    log = done.stderr.decode("utf-8", errors="replace")[-4000:]
    assert done.returncode == 0 and not found, (
        f"fuzz_{target} failed (exit {done.returncode}, inputs {found} kept in {artifacts}):"
        f"\n{log}")
    assert "Done " in log and " runs in " in log, log
