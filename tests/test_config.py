"""The configuration contract: every key has a default, unknown keys and wrong types are named."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import types
import typing
from pathlib import Path

import pytest

from firmware.cli import main
from firmware.config import _VALUE_RULES, MAX_CONFIG_BYTES, Config, load_config
from firmware.errors import ConfigError
from hal.camera.decode import SYMBOLOGIES

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
    ("[device]\nmode = 'door'\n", "device.mode: 'door' is not one of handheld, kiosk"),
    ("[device]\nmode = 'kiosk'\n", "device.mode: a kiosk needs kiosk.location"),
    ("[kiosk]\nlocation = ' '\n", "kiosk.location: an empty room name"),
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



def test_a_file_that_is_not_utf8_is_named_with_its_line(tmp_path: Path) -> None:
    path = tmp_path / "stocktaker.toml"
    path.write_bytes(b"[audit]\ntechnician = \"Jos\xe9\"\n")
    with pytest.raises(ConfigError, match=r"stocktaker.toml, line 2: byte 0xE9 is not UTF-8"):
        load_config(path)


def test_a_byte_order_mark_is_allowed(tmp_path: Path) -> None:
    path = tmp_path / "stocktaker.toml"
    path.write_bytes(b"\xef\xbb\xbf[audit]\ntechnician = 'ana'\n")
    assert load_config(path).audit.technician == "ana"


@pytest.mark.parametrize(("text", "named"), [
    ("a = " + "[" * 5000 + "]" * 5000 + "\n", "not a usable TOML file"),
    ("[display]\ni2c_port = " + "9" * 5000 + "\n", "not a usable TOML file"),
    ("# " + "x" * MAX_CONFIG_BYTES + "\n", "not a configuration file"),
], ids=["nested", "long-integer", "huge"])
def test_files_tomllib_cannot_digest_are_errors(tmp_path: Path, text: str, named: str) -> None:
    with pytest.raises(ConfigError, match=named):
        load_config(write(tmp_path, text))


def test_a_folder_is_not_a_configuration(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read configuration"):
        load_config(tmp_path)


def test_symbologies_are_those_of_the_configured_decoder_in_any_case(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, "[camera]\nsymbologies = ['qr', 'Code128']\n"))
    assert config.camera.symbologies == ["qr", "Code128"]
    zxing_only = "[camera]\ndecoder = '{}'\nsymbologies = ['DATAMATRIX']\n"
    assert load_config(write(tmp_path, zxing_only.format("zxing"))).camera.symbologies
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, zxing_only.format("zbar")))
    message = str(caught.value)
    assert message.startswith("camera.symbologies: 'DATAMATRIX': not read by the zbar decoder")
    assert all(name in message for name in SYMBOLOGIES["zbar"])


@pytest.mark.parametrize(("text", "named"), [
    ("[device]\nid = '.hh'\n", "device.id: use 1 to 128 letters"),
    ("[device]\nid = '-x'\n", "device.id: use 1 to 128 letters"),
    ("[audit]\nrepeat_window = nan\n", "audit.repeat_window: must be a finite number, not nan"),
    ("[audit]\nresume_within = inf\n", "audit.resume_within: must be a finite number, not inf"),
    ("[audit]\nresume_within = 0\n", "audit.resume_within: must be more than 0 hours"),
    ("[audit]\nlocation = ' '\n", "audit.location: an empty room name"),
    ("[audit]\ntechnician = \"a\\u001b[2J\"\n", "audit.technician: control character U+001B"),
    ("[audit]\ntag_pattern = 'a{99999999999}'\n", "audit.tag_pattern: not a valid regular"),
    ("[camera]\nfps = 1e400\n", "camera.fps: must be a finite number"),
    ("[camera]\npath = ''\n", "camera.path: empty path"),
    ("[display]\ni2c_port = -1\n", "display.i2c_port: must be from 0 to 255"),
    ("[display]\ni2c_address = 0x78\n", "display.i2c_address: must be a 7-bit I2C address"),
    ("[display]\nscreens = \"a\\u0000b\"\n", "display.screens: control character U+0000"),
    ("[feedback]\nred_pin = 28\n", "feedback.red_pin: must be from 0 to 27"),
    ("[feedback]\nred_pin = 18\n", "feedback.red_pin: GPIO 18 is already feedback.buzzer_pin"),
    ("[register]\nurl = 'http://[::1'\n", "register.url: Invalid IPv6 URL"),
    ("[register]\nurl = 'https://a.example:99999/'\n", "register.url: Port out of range"),
    ("[register]\nadapter = 'snipeit'\nurl = 'http://assets.example'\n",
     "register.url: 'http://assets.example' would send the API token in clear"),
    ("[register]\nadapter = 'http'\nallow_insecure_http = false\nurl = 'http://10.1.2.3'\n",
     "register.url: 'http://10.1.2.3' would send the API token in clear"),
    ("[register]\nlabel_hosts = ['a.example:70000']\n", "register.label_hosts: 'a.example:7"),
    ("[register]\nretired_statuses = ['retired', '']\n", "register.retired_statuses: empty"),
    ("[register]\ncolumns = {asset_tag = ' '}\n", "register.columns: blank table value"),
])
def test_wrong_values_of_the_right_type_name_the_key(tmp_path: Path, text: str,
                                                      named: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, text))
    assert str(caught.value).startswith(named)


def test_hex_addresses_and_distinct_pins_are_accepted(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, "[display]\ni2c_address = 0x3D\n"
                                         "[feedback]\nbuzzer_pin = 0\ngreen_pin = 27\n"))
    assert config.display.i2c_address == 0x3D and config.feedback.green_pin == 27


# Every key of every section, keys added later included, must refuse a wrong value with
# exit code 2 and its name, through the real command. A key of a new kind of value fails
# `wrong_values` until it is taught what a wrong one looks like.

CONTROL = '"a\\u001bb"'  # TOML for a string holding ESC

#: Wrong values of the right type for keys with a rule of their own (TOML literals).
SPECIFIC = {
    "device.id": ["'.hh'", "'-x'", "'a b'", "'" + "x" * 129 + "'"],
    "audit.location": ["''"],
    "audit.tag_pattern": ["'(['"],
    "camera.symbologies": ["['NOPE']"],
    "identity.giai_prefixes": ["['12']"],
    "display.i2c_port": ["256"],
    "display.i2c_address": ["2", "0x78"],
    "feedback.buzzer_pin": ["28"],
    "feedback.green_pin": ["18"],
    "feedback.red_pin": ["23"],
    "register.url": ["'ftp://a.example'", "'http://[::1'", "'https://a.example:0x/'"],
    "register.label_hosts": ["['not a host']"],
    "register.columns": ["{colour = 'Colour'}"],
}


def wrong_values(key: str, hint: object, spec: dataclasses.Field) -> list[str]:
    """TOML literals that ``key`` must refuse: of a wrong type, then of the right type."""
    if isinstance(hint, types.UnionType) and type(None) in typing.get_args(hint):
        (hint,) = [t for t in typing.get_args(hint) if t is not type(None)]
    kind = typing.get_origin(hint) or hint
    literals = {
        str: ["7", "['a']", CONTROL],
        Path: ["7", "''", CONTROL],
        bool: ["'yes'", "1"],
        int: ["'1'", "1.5", "true", "-1"],
        float: ["'1'", "true", "nan", "inf", "-inf", "-1.0"],
        list: ["'a'", "[1]", "['']", f"[{CONTROL}]"],
        dict: (["'a'", "{a = 1}", "{asset_tag = ''}"] if kind is not dict
               or typing.get_args(hint)[1] is str
               else ["'a'", "{a = 'x'}", "{a = 0}", "{a = true}", "{a = 1.5}"]),
    }.get(kind)
    assert literals is not None, f"{key}: no wrong values known for {hint}"
    if spec.metadata.get("choices"):
        literals.append("'no-such-choice'")
    return literals + SPECIFIC.get(key, [])


def every_key() -> list[tuple[str, str]]:
    cases = []
    for section in dataclasses.fields(Config):
        section_type = typing.get_type_hints(Config)[section.name]
        hints = typing.get_type_hints(section_type)
        for spec in dataclasses.fields(section_type):
            key = f"{section.name}.{spec.name}"
            cases += [(key, literal) for literal in wrong_values(key, hints[spec.name], spec)]
    return cases


CASES = every_key()


def config_file(folder: Path, key: str, literal: str) -> Path:
    section, name = key.split(".")
    folder.mkdir(parents=True, exist_ok=True)
    return write(folder, f"[{section}]\n{name} = {literal}\n")


def test_the_walk_covers_every_key_and_every_specific_rule() -> None:
    walked = {key for key, _ in CASES}
    declared = {f"{section.name}.{spec.name}" for section in dataclasses.fields(Config)
                for spec in dataclasses.fields(typing.get_type_hints(Config)[section.name])}
    assert walked == declared and set(SPECIFIC) <= declared
    assert set(_VALUE_RULES) <= declared  # a renamed key must not lose its rule in silence


@pytest.mark.parametrize(("key", "literal"), CASES, ids=[f"{k}={v}" for k, v in CASES])
def test_stocktaker_run_refuses_a_wrong_value_of_every_key(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], key: str, literal: str) -> None:
    code = main(["run", "--config", str(config_file(tmp_path, key, literal))])
    err = capsys.readouterr().err
    assert code == 2, err
    assert f"{key}:" in err and "Traceback" not in err


def test_the_installed_command_refuses_them_too(tmp_path: Path) -> None:
    """The last wrong value walked in each section, each a `stocktaker run` of its own."""
    picked = {key.split(".")[0]: (key, literal) for key, literal in CASES}
    runs = []
    for n, (key, literal) in enumerate(picked.values()):
        path = config_file(tmp_path / str(n), key, literal)
        runs.append((key, subprocess.Popen(
            [sys.executable, "-m", "firmware", "run", "--config", str(path)],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)))
    for key, run in runs:
        _, err = run.communicate(timeout=60)
        assert run.returncode == 2, (key, err)
        assert f"{key}:" in err and "Traceback" not in err, err


def test_the_evdev_scanner_needs_its_device(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="^scanner.device: the evdev scanner needs its device"):
        load_config(write(tmp_path, '[scanner]\nbackend = "evdev"\n'))
    config = load_config(write(tmp_path, '[scanner]\nbackend = "evdev"\n'
                                         'device = "0c2e:0b61"\nkeymap = "de"\n'))
    from hal.scanner import open_scanners
    from hal.scanner.evdev_scanner import HidScanner

    (scanner,) = open_scanners(config.scanner)
    assert isinstance(scanner, HidScanner) and scanner.device == "0c2e:0b61"
    scanner.close()
