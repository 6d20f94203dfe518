"""One table of backends per kind of part: the configuration's allowed values, the doctor's
checks and the factories all come from it, and ``none`` is a null object for every kind."""

from __future__ import annotations

import contextlib
import io
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from firmware.config import Config, config_from_dict
from firmware.device import _or_nothing, open_readers
from firmware.doctor import PART_TABLES, System, examine, report_lines
from firmware.errors import ConfigError
from hal import buttons, camera, cards, display, feedback, rfid, scanner
from hal.backends import Absent, Backend, fitted
from hal.checks import Finding
from hal.display import Display, DisplaySettings, NullDisplay, open_display
from hal.errors import DeviceError
from hal.feedback import Signal
from hal.read import Read
from hal.scanner.stdin import StdinScanner
from sync.register import Register
from sync.registers import ADAPTERS, Adapter, open_register

KINDS = {"camera": camera, "scanner": scanner, "cards": cards, "rfid": rfid,
         "display": display, "feedback": feedback, "buttons": buttons}


class Panel(Display):
    """A display of a backend the test adds: it keeps the captions it was shown."""

    def __init__(self, settings: DisplaySettings) -> None:
        self.settings = settings
        self.captions: list[str] = []
        self.closed = False

    def show(self, image: Image.Image, caption: str = "") -> None:
        self.captions.append(caption)

    def close(self) -> None:
        self.closed = True


def check_lcd(settings: DisplaySettings, system: System) -> list[Finding]:
    return [Finding("display", f"lcd on /dev/i2c-{settings.i2c_port}", False, "not wired",
                    "solder it")]


LCD = Backend(lambda settings, *, stream=None: Panel(settings), check_lcd)


def base_config(tmp_path: Path, **sections: dict[str, object]) -> Config:
    data = {"queue": {"path": str(tmp_path / "state")},
            "register": {"manifest": str(tmp_path / "expected.csv")},
            "scanner": {"backend": "stdin"}, "display": {"backend": "none"},
            "feedback": {"backend": "none"}, "buttons": {"backend": "none"}}
    return config_from_dict({**data, **sections}, base=tmp_path)


# --- the tables are where the names come from ------------------------------------------------


def test_the_doctor_checks_every_kind_from_its_own_table() -> None:
    assert set(PART_TABLES) == set(KINDS)
    for kind, module in KINDS.items():
        assert PART_TABLES[kind] is module.BACKENDS
        assert "none" in module.BACKENDS


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_the_allowed_backends_are_the_tables_keys(kind: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=rf"^{kind}.backend: 'lcd' is not one of"
                                          rf" {', '.join(KINDS[kind].BACKENDS)}$"):
        base_config(tmp_path, **{kind: {"backend": "lcd"}})


def test_a_backend_added_to_a_table_is_configured_checked_and_opened(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="display.backend: 'lcd' is not one of"):
        base_config(tmp_path, display={"backend": "lcd", "i2c_port": 3})
    monkeypatch.setitem(display.BACKENDS, "lcd", LCD)

    config = base_config(tmp_path, display={"backend": "lcd", "i2c_port": 3})
    assert config.display.backend == "lcd"
    findings = examine(config, System(tmp_path, user="stocktaker"))
    assert Finding("display", "lcd on /dev/i2c-3", False, "not wired", "solder it") in findings
    assert ("!! display   lcd on /dev/i2c-3: not wired" in list(report_lines(findings)))
    with open_display(config.display) as panel:
        assert isinstance(panel, Panel) and panel.settings.i2c_port == 3
    assert panel.closed


def test_a_backends_own_key_rules_and_pins_are_checked_by_the_configuration(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    def bluetooth_address(value: str, settings: object) -> None:
        if value.count(":") != 5:
            raise ValueError(f"{value!r} is not a Bluetooth address")

    monkeypatch.setitem(scanner.BACKENDS, "bluetooth", Backend(
        lambda settings, **_: scanner.NullScanner(), rules={"device": bluetooth_address}))
    with pytest.raises(ConfigError, match="^scanner.device: 'hci0' is not a Bluetooth address$"):
        base_config(tmp_path, scanner={"backend": "bluetooth", "device": "hci0"})
    assert base_config(tmp_path, scanner={"backend": "bluetooth",
                                           "device": "00:11:22:33:44:55"}).scanner.device

    # A pin shared by two parts is refused only when both backends claim their pins.
    shared = {"buttons": {"backend": "gpio", "end_pin": 18},
              "feedback": {"backend": "pwm", "buzzer_pin": 18, "green_pin": 2, "red_pin": 3}}
    monkeypatch.setitem(feedback.BACKENDS, "pwm", Backend(feedback.BACKENDS["none"].open))
    assert base_config(tmp_path, **shared).buttons.end_pin == 18
    monkeypatch.setitem(feedback.BACKENDS, "pwm", Backend(feedback.BACKENDS["none"].open,
                                                          uses_gpio=lambda settings: True))
    with pytest.raises(ConfigError, match="^buttons.end_pin: GPIO 18 is already"
                                          " feedback.buzzer_pin$"):
        base_config(tmp_path, **shared)


def test_a_register_adapter_added_to_the_table_is_configured_and_opened(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    class Memory(Register):
        def __init__(self, device_id: str) -> None:
            self.device_id = device_id

        def expected_assets(self) -> list:
            return []

        def push(self, records):  # type: ignore[no-untyped-def]
            return []

        def publish_report(self, report):  # type: ignore[no-untyped-def]
            return []

    with pytest.raises(ConfigError, match="register.adapter: 'memory' is not one of"
                                          " files, http, snipeit, nautobot$"):
        base_config(tmp_path, register={"adapter": "memory"})
    monkeypatch.setitem(ADAPTERS, "memory", Adapter(lambda config, device_id: Memory(device_id)))
    config = base_config(tmp_path, register={"adapter": "memory"})
    with open_register(config.register, "hh-07") as register:
        assert isinstance(register, Memory) and register.device_id == "hh-07"
    # A token-sending adapter is held to the rule against a token sent in clear.
    monkeypatch.setitem(ADAPTERS, "memory", Adapter(lambda config, device_id: Memory(device_id),
                                                    sends_token=True))
    with pytest.raises(ConfigError, match="^register.url: .*in clear"):
        base_config(tmp_path, register={"adapter": "memory", "url": "http://10.0.0.5/"})


# --- "none" is a null object everywhere ------------------------------------------------------


def open_none(kind: str) -> object:
    """What each kind's factory gives for ``none``, and what it then yields."""
    settings = {"camera": camera.CameraSettings, "scanner": scanner.ScannerSettings,
                "cards": cards.CardsSettings, "rfid": rfid.RfidSettings,
                "display": DisplaySettings, "feedback": feedback.FeedbackSettings,
                "buttons": buttons.ButtonsSettings}[kind](backend="none")
    if kind == "scanner":
        (part,) = scanner.open_scanners(settings)  # type: ignore[arg-type]
        return part
    opener = {"camera": camera.open_camera, "cards": cards.open_cards, "rfid": rfid.open_rfid,
              "display": open_display, "feedback": feedback.open_feedback,
              "buttons": buttons.open_buttons}[kind]
    return opener(settings)  # type: ignore[operator]


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_none_opens_a_null_object_that_does_nothing(kind: str) -> None:
    part = open_none(kind)
    assert part is not None and isinstance(part, Absent) and not fitted(part)
    with part:  # type: ignore[attr-defined]
        if kind in ("camera", "scanner", "cards", "rfid"):
            assert list(part.reads()) == []  # type: ignore[attr-defined]
        elif kind == "buttons":
            assert list(part.presses()) == []  # type: ignore[attr-defined]
        elif kind == "feedback":
            part.signal(Signal.VERIFIED)  # type: ignore[attr-defined]
            assert part.wait(0) is True  # type: ignore[attr-defined]
        else:
            part.show(Image.new("1", (128, 64)), "idle")  # type: ignore[attr-defined]


def test_the_readers_named_none_are_left_out(tmp_path: Path) -> None:
    config = base_config(tmp_path, camera={"backend": "none"}, rfid={"backend": "none"},
                         cards={"backend": "none"})
    with contextlib.ExitStack() as stack:
        readers = open_readers(config, io.BytesIO(b"IT-1\n"), stack)
        assert [type(reader) for reader in readers] == [StdinScanner]
        assert [r.payload for r in readers[0].reads() if isinstance(r, Read)] == [b"IT-1"]


def test_a_part_that_cannot_be_had_is_replaced_by_its_null_object(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    def unplugged(settings: DisplaySettings, *, stream: object = None) -> Display:
        raise DeviceError("no panel answers at 0x3C")

    monkeypatch.setitem(display.BACKENDS, "oled", Backend(unplugged))
    config = base_config(tmp_path, display={"backend": "oled"})
    part = _or_nothing("display", config.display, open_display)
    assert isinstance(part, NullDisplay)


# --- no import cycles ------------------------------------------------------------------------


def test_the_register_base_imports_no_adapter_and_hal_imports_no_firmware() -> None:
    code = ("import sys\n"
            "import sync.register\n"
            "adapters = [m for m in ('sync.files', 'sync.http', 'sync.snipeit',"
            " 'sync.nautobot', 'sync.registers') if m in sys.modules]\n"
            "import hal.backends, hal.checks, hal.camera, hal.cards, hal.display, hal.feedback,"
            " hal.buttons, hal.rfid, hal.scanner\n"
            "import hal.camera.backends, hal.display.backends, hal.scanner.backends\n"
            "print(adapters, 'numpy' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.split("\n")[0] == "[] False"
    hal_only = ("import sys\n"
                "import hal.backends, hal.checks, hal.camera, hal.cards, hal.display,"
                " hal.feedback, hal.buttons, hal.rfid, hal.scanner\n"
                "print(sorted(m for m in sys.modules if m.split('.')[0] == 'firmware'))\n")
    out = subprocess.run([sys.executable, "-c", hal_only], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"


# --- the label printer has the same shape ----------------------------------------------------


def test_the_printers_allowed_backends_and_doctor_check_come_from_its_table(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from hal import printer

    assert "none" in printer.BACKENDS
    with pytest.raises(ConfigError, match=r"^printer.backend: 'cups' is not one of"
                                          rf" {', '.join(printer.BACKENDS)}$"):
        base_config(tmp_path, printer={"backend": "cups"})

    def check_cups(settings: printer.PrinterSettings, system: System) -> list[Finding]:
        return [Finding("printer", f"cups {settings.address}", False, "no queue", "lpadmin")]

    monkeypatch.setitem(printer.BACKENDS, "cups", Backend(printer.BACKENDS["file"].open,
                                                          check_cups))
    config = base_config(tmp_path, printer={"backend": "cups", "address": "ipp://q"})
    (found,) = [f for f in examine(config) if f.part == "printer"]
    assert (found.wanted, found.ok, found.fix) == ("cups ipp://q", False, "lpadmin")
    assert not [f for f in examine(base_config(tmp_path)) if f.part == "printer"]
