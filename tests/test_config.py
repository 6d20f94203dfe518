"""The configuration contract: every key has a default, unknown keys and wrong types are named."""

from __future__ import annotations

from pathlib import Path

import pytest

from firmware.config import Config, load_config
from firmware.errors import ConfigError

CONTRACT = """\
[device]
id = "hh-01"
mode = "handheld"
[audit]
location = "Storage B"    # may be left out when a LOC: label is scanned first
technician = "ana"
[camera]
backend = "files"         # later also "picamera2"; "none" turns it off
path = "frames/"
[scanner]
backend = "stdin"         # later also "evdev"; "none" turns it off
[register]
adapter = "files"
manifest = "expected.csv"
outbox = "out/"
[queue]
path = "state/"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "stocktaker.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_documented_contract_loads_with_paths_relative_to_the_file(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, CONTRACT))
    assert config.device.id == "hh-01" and config.device.mode == "handheld"
    assert config.audit.location == "Storage B" and config.audit.technician == "ana"
    assert config.camera.backend == "files" and config.camera.path == tmp_path / "frames"
    assert config.scanner.backend == "stdin"
    assert config.register.manifest == tmp_path / "expected.csv"
    assert config.register.outbox == tmp_path / "out"
    assert config.queue.path == tmp_path / "state"
    assert config.audit.repeat_window == 2.0


def test_an_empty_file_gives_every_default(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, ""))
    assert config.audit.location is None
    assert config.queue.path == tmp_path / "state"
    assert config.register.retired_statuses == ["archived", "retired", "disposed"]
    assert config.register.lost_statuses == ["lost", "stolen"]
    assert isinstance(Config(), Config)


@pytest.mark.parametrize(("text", "named"), [
    ("[camera]\npaht = 'x'\n", "unknown key camera.paht"),
    ("[cameras]\n", "unknown section [cameras]"),
    ("[camera]\npath = 3\n", "camera.path: expected a path (string), got integer"),
    ("[audit]\nrepeat_window = 'soon'\n", "audit.repeat_window: expected a number, got string"),
    ("[audit]\nrepeat_window = true\n", "audit.repeat_window: expected a number, got boolean"),
    ("[display]\ni2c_port = 1.5\n", "display.i2c_port: expected an integer, got float"),
    ("[register]\nretired_statuses = 'lost'\n", "register.retired_statuses: expected a list"),
    ("[register]\nretired_statuses = [1]\n", "register.retired_statuses: expected a list"),
    ("[camera]\nbackend = 'webcam'\n", "camera.backend: 'webcam' is not one of files, none"),
    ("[device]\nmode = 'kiosk'\n", "device.mode: 'kiosk' is not one of handheld"),
    ("camera = 1\n", "camera: expected a table"),
    ("[audit]\nrepeat_window = -1\n", "audit.repeat_window: must be 0 or more"),
    ("[camera]\nfps = 0\n", "camera.fps: must be more than 0"),
    ("[audit]\ntag_pattern = '(['\n", "audit.tag_pattern: not a valid regular expression"),
    ("[device\n", "not valid TOML"),
    ("[device]\nid = 'Scanner 3'\n", "device.id: use 1 to 128 letters"),
])
def test_bad_files_are_errors_naming_the_key(tmp_path: Path, text: str, named: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, text))
    assert named in str(caught.value)
    assert caught.value.exit_code == 2


def test_an_integer_is_accepted_where_a_number_is_wanted(tmp_path: Path) -> None:
    assert load_config(write(tmp_path, "[audit]\nrepeat_window = 3\n")).audit.repeat_window == 3.0


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="nope.toml: configuration file not found"):
        load_config(tmp_path / "nope.toml")
