"""The device image's cache key (images/vm/build.py): what goes into the image and changes
it makes a new image; the documentation alone does not."""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def build(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """images/vm/build.py on a copy of the tree's inputs and documentation."""
    spec = importlib.util.spec_from_file_location("vm_build", REPO / "images/vm/build.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    for name in module.SOURCE:
        source = REPO / name
        if source.is_dir():
            shutil.copytree(source, tmp_path / name,
                            ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, tmp_path / name)
    monkeypatch.setattr(module, "REPO", tmp_path)
    return module


def test_documentation_alone_does_not_change_the_image_hash(build, tmp_path: Path) -> None:
    before = build.inputs_hash("amd64")
    (tmp_path / "README.md").write_text("# another README\n")
    (tmp_path / "docs/operations.md").write_text("other operations\n")
    (tmp_path / "docs/new-page.md").write_text("a new page\n")
    (tmp_path / "images/pi-gen/README.md").write_text("other\n")
    assert build.inputs_hash("amd64") == before


@pytest.mark.parametrize("changed", ["firmware/__init__.py", "images/install.sh",
                                     "images/config.toml.in", "systemd/stocktaker.service",
                                     "pyproject.toml", "images/vm/build.py"])
def test_what_goes_into_the_image_changes_its_hash(build, tmp_path: Path,
                                                   changed: str) -> None:
    before = build.inputs_hash("amd64")
    with (tmp_path / changed).open("a") as file:
        file.write("\n# changed\n")
    assert build.inputs_hash("amd64") != before
