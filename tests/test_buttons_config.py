"""The [buttons] section and the new [display] keys: defaults, wrong values named by key."""

from __future__ import annotations

from pathlib import Path

import pytest

from firmware.config import load_config
from firmware.errors import ConfigError


def load(tmp_path: Path, text: str):
    path = tmp_path / "stocktaker.toml"
    path.write_text(text, encoding="utf-8")
    return load_config(path)


def test_defaults(tmp_path: Path) -> None:
    config = load(tmp_path, "")
    assert config.buttons.backend == "terminal"
    assert (config.buttons.end_pin, config.buttons.next_pin, config.buttons.mode_pin) == (5, 6, 13)
    assert config.display.interface == "i2c" and config.display.rotation == 0
    assert (config.display.dim_after, config.display.blank_after) == (60.0, 300.0)


def test_an_spi_ssd1309_upside_down(tmp_path: Path) -> None:
    config = load(tmp_path, "[display]\nbackend = 'oled'\ndriver = 'ssd1309'\ninterface = 'spi'\n"
                            "spi_device = 1\nspi_speed_hz = 16000000\nrotation = 180\n"
                            "contrast = 255\ndim_after = 0\nblank_after = 0\n")
    assert config.display.driver == "ssd1309" and config.display.spi_device == 1


@pytest.mark.parametrize(("text", "named"), [
    ("[display]\nrotation = 90\n", "display.rotation: must be 0 or 180"),
    ("[display]\ncontrast = 256\n", "display.contrast: must be from 0 to 255"),
    ("[display]\nspi_speed_hz = 3000000\n", "display.spi_speed_hz: must be one of"),
    ("[display]\ndim_after = 60\nblank_after = 30\n",
     "display.blank_after: must be longer than display.dim_after"),
    ("[display]\ndc_pin = 0\n", "display.dc_pin: GPIO 0 cannot drive the display"),
    ("[buttons]\nnext_pin = 5\n", "buttons.next_pin: GPIO 5 is already buttons.end_pin"),
    ("[buttons]\nbackend = 'gpio'\nend_pin = 18\n[feedback]\nbackend = 'gpio'\n",
     "buttons.end_pin: GPIO 18 is already feedback.buzzer_pin"),
    ("[display]\nbackend = 'oled'\ninterface = 'spi'\ndc_pin = 24\n[feedback]\nbackend = 'gpio'\n",
     "display.dc_pin: GPIO 24 is already feedback.red_pin"),
    ("[buttons]\nbounce = 2.0\n", "buttons.bounce: must be from 0 to 1"),
    ("[buttons]\nbackend = 'keys'\n", "buttons.backend: 'keys' is not one of terminal, gpio, none"),
])
def test_wrong_values_name_the_key(tmp_path: Path, text: str, named: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, text)
    assert str(caught.value).startswith(named)


def test_pins_of_parts_not_on_gpio_may_coincide(tmp_path: Path) -> None:
    """A terminal stand-in claims no pin: its pin numbers wait, unchecked against others."""
    config = load(tmp_path, "[buttons]\nend_pin = 18\n[feedback]\nbackend = 'gpio'\n"
                            "[display]\ndc_pin = 23\n")
    assert config.buttons.end_pin == config.feedback.buzzer_pin == 18
