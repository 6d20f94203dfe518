"""The ``nautobot`` adapter's configuration and note text, without a server."""

from __future__ import annotations

from pathlib import Path

import pytest

from firmware.config import (Config, DeviceConfig, KioskConfig, RegisterConfig, _check_values,
                             load_config)
from firmware.errors import ConfigError
from sync.nautobot_api import api_base
from sync.nautobot_notes import note_text
from sync.registers import open_register
from sync.sighting import Sighting
from tests.sightings import sighting_record

RECORD = sighting_record(
    sighting_id="5f0c2a8e-3d1b-4c6e-9a7f-0b1c2d3e4f50", device_id="hh-07",
    location="DC1 Hall 2", technician="ana", verdict="mislocated",
    recorded_location="DC1 Hall 1", wall_time="2026-11-30T09:15:02.120Z",
    clock_synchronized=True)


def test_the_adapter_and_its_keys_load_from_toml(tmp_path: Path) -> None:
    path = tmp_path / "stocktaker.toml"
    path.write_text('[register]\nadapter = "nautobot"\nurl = "https://nautobot.example.com"\n'
                    'token_file = "token"\nlocations = ["DC1 Hall 1", "DC1 Hall 2"]\n'
                    'audited_field = "last_audited"\nmove_mislocated = true\n')
    config = load_config(path).register
    assert config.adapter == "nautobot" and config.token_file == tmp_path / "token"
    assert config.locations == ["DC1 Hall 1", "DC1 Hall 2"]
    assert config.audited_field == "last_audited"


def test_defaults_read_every_device_and_set_no_custom_field() -> None:
    assert RegisterConfig().locations == [] and RegisterConfig().audited_field == ""


@pytest.mark.parametrize("value", ["Last Audited", "last-audited", "1st", "x" * 51])
def test_a_custom_field_key_nautobot_cannot_have_is_refused(tmp_path: Path, value: str) -> None:
    path = tmp_path / "stocktaker.toml"
    path.write_text(f'[register]\nadapter = "nautobot"\naudited_field = "{value}"\n')
    with pytest.raises(ConfigError, match="register.audited_field: .* custom field key"):
        load_config(path)


def test_kiosk_mode_with_nautobot_is_refused_at_load(tmp_path: Path) -> None:
    (tmp_path / "c.toml").write_text('[device]\nmode = "kiosk"\n[kiosk]\nlocation = "Storage B"\n'
                                     '[register]\nadapter = "nautobot"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="register.adapter: the nautobot adapter serves"
                                          " handheld audits only.*check-out and check-in"):
        load_config(tmp_path / "c.toml")


def test_the_rule_refuses_every_mode_but_handheld() -> None:
    # Built directly: a mode added later is refused without touching the rule.
    config = Config(device=DeviceConfig(mode="shelf"), register=RegisterConfig(adapter="nautobot"))
    with pytest.raises(ConfigError, match="device.mode 'shelf' needs check-out"):
        _check_values(config)


def test_kiosk_mode_with_another_adapter_is_not_refused_by_this_rule() -> None:
    _check_values(Config(device=DeviceConfig(mode="kiosk"), kiosk=KioskConfig(location="B"),
                         register=RegisterConfig(adapter="files")))


def test_the_factory_names_the_missing_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="register.url: the nautobot adapter needs"):
        open_register(RegisterConfig(adapter="nautobot"), "hh-07")
    with pytest.raises(ConfigError, match="register.token_file: the nautobot adapter needs"):
        open_register(RegisterConfig(adapter="nautobot", url="http://127.0.0.1:1"), "hh-07")
    token = tmp_path / "token"
    token.write_text("abc\n")
    token.chmod(0o644)
    with pytest.raises(ConfigError, match="readable by others"):
        open_register(RegisterConfig(adapter="nautobot", url="http://127.0.0.1:1",
                                     token_file=token), "hh-07")


def test_api_base() -> None:
    assert api_base("https://nb.example.com/") == "https://nb.example.com/api"
    assert api_base("https://nb.example.com/api") == "https://nb.example.com/api"


def test_the_note_carries_time_room_technician_scanner_device_and_verdict() -> None:
    text = note_text(Sighting.from_record(RECORD), "0b7c0a4e-1111-4222-8333-944455556666")
    assert text.splitlines() == [
        "stocktaker sighting 5f0c2a8e-3d1b-4c6e-9a7f-0b1c2d3e4f50",
        "- scanned: 2026-11-30T09:15:02.120Z",
        "- room: DC1 Hall 2",
        "- technician: ana",
        "- scanner: hh-07",
        "- device: 0b7c0a4e-1111-4222-8333-944455556666",
        "- verdict: mislocated (recorded in DC1 Hall 1)",
    ]


def test_the_note_says_when_the_clock_was_not_synchronised() -> None:
    text = note_text(Sighting.from_record({**RECORD, "clock_synchronized": False}), "d")
    assert "- scanned: 2026-11-30T09:15:02.120Z (device clock not synchronised)" in text


def test_outside_text_cannot_add_lines_or_markup_to_the_note() -> None:
    text = note_text(Sighting.from_record({
        **RECORD, "technician": "eve\n- verdict: verified\x1b[2J <script>",
        "location": "[x](javascript:alert(1)) " + "r" * 300}), "d")
    assert len(text.splitlines()) == 7
    assert "\x1b" not in text and "<" not in text and "[" not in text
    room = next(line for line in text.splitlines() if line.startswith("- room: "))
    assert len(room) <= len("- room: ") + 120 and room.endswith("...")
