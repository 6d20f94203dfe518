"""The card reader's settings (``[cards]``), its table of backends and :func:`open_cards`.

Backends: ``evdev`` (a keyboard-emulating reader grabbed through python-evdev) and
``none`` (:class:`~hal.scanner.base.NullScanner`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hal.backends import Backend, backend_choices, choices, choose, known
from hal.checks import Finding, System, input_device
from hal.scanner.backends import KEYMAPS, open_hid
from hal.scanner.base import NullScanner, Scanner


def _open_evdev(settings: CardsSettings) -> Scanner[object]:
    return open_hid(settings.device, key="cards.device", keymap=settings.keymap,
                    source="card", symbology="CARD")


def _open_none(settings: CardsSettings) -> Scanner[object]:
    return NullScanner()


def _check_evdev(settings: CardsSettings, system: System) -> list[Finding]:
    return input_device(system, "cards", settings.device)


def _needs_device(value: str, settings: CardsSettings) -> None:
    if not value.strip():
        raise ValueError("the card reader needs its device: a /dev/input/by-id/… path,"
                         " vendor:product (08ff:0009) or its name")


BACKENDS: dict[str, Backend[Scanner[object]]] = {
    "evdev": Backend(_open_evdev, _check_evdev, rules={"device": _needs_device}),
    "none": Backend(_open_none),
}
"""The card reader backends by name."""


@dataclass(frozen=True)
class CardsSettings:
    """``[cards]``: a keyboard-emulating 125 kHz / 13.56 MHz RFID card reader.

    Attributes:
        backend: a name in :data:`BACKENDS`.
        device: ``evdev``: the reader (a ``/dev/input/by-id/…`` path, vendor:product or
            its name).
        format: how the reader types card numbers (the firmware's
            :data:`firmware.cards.FORMATS`; the configuration checks the name).
        keymap: the keyboard layout the reader types in.
    """

    backend: str = field(default="none", metadata=backend_choices(BACKENDS))
    device: str = ""
    format: str = "decimal"
    keymap: str = field(default="us", metadata=choices(*KEYMAPS))


def open_cards(settings: CardsSettings) -> Scanner[object]:
    """Open the card reader ``settings.backend`` names.

    Returns:
        A scanner whose reads have source ``card`` and symbology ``CARD``; a
        :class:`~hal.scanner.base.NullScanner` for ``none``.

    Raises:
        ValueError: unknown backend.
        DeviceError: no device named, or python-evdev missing.
    """
    backend = choose(BACKENDS, settings.backend, lambda name: ValueError(
        f"unknown cards backend {name!r} (known: {known(BACKENDS)})"))
    return backend.open(settings)
