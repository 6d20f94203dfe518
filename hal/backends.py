"""One table of backends per kind of part, as gpiozero's pin factories or TinyDB's storages.

Each kind (camera, scanner, cards, rfid, display, feedback, buttons) has a settings
dataclass (its configuration section, one field per key) and a table ``BACKENDS`` from
backend name to :class:`Backend`: how to open the part from the settings, and how to
check it for ``stocktaker doctor``. The configuration's allowed ``backend`` values are the
table's keys and the doctor runs the chosen entry's check, so adding a backend is one
table entry. Every table has ``none``, which opens a null object (an :class:`Absent`
part): callers never test for None.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from hal.checks import Finding, System

P = TypeVar("P")


def no_findings(settings: Any, system: System) -> list[Finding]:
    """The check of a backend with nothing on the system to look at."""
    return []


def no_gpio(settings: Any) -> bool:
    """A backend that claims no GPIO pins."""
    return False


def all_gpio(settings: Any) -> bool:
    """A backend that claims every pin its settings name."""
    return True


KeyRule = Callable[[Any, Any], None]
"""A rule for one settings key: ``rule(value, settings)`` raises ValueError with the
problem (the configuration adds the key's name)."""


@dataclass(frozen=True)
class Backend(Generic[P]):
    """One backend of a kind of part.

    Attributes:
        open: builds the part from the kind's settings; keyword arguments carry what is
            not configuration (a stream to print on, a gpiozero pin factory). Raises
            ``DeviceError`` when the hardware cannot be used.
        check: what ``stocktaker doctor`` finds for this backend with these settings,
            without taking the part (see :mod:`hal.checks`).
        rules: what this backend asks of its settings' keys beyond their type and range
            (``evdev`` needs its ``device``), by key name; the configuration runs them
            when the backend is chosen.
        uses_gpio: whether, with these settings, the part claims the GPIO pins its
            settings name (two parts on GPIO must not share a pin).
    """

    open: Callable[..., P]
    check: Callable[[Any, System], list[Finding]] = no_findings
    rules: Mapping[str, KeyRule] = field(default_factory=dict)
    uses_gpio: Callable[[Any], bool] = no_gpio


class Absent:
    """Mixed into the null object a ``none`` backend opens: no such part is fitted.

    A null part does what its kind does with nothing (a reader yields no reads, a
    display discards frames); :func:`fitted` tells it from a real one where that
    matters (the readers a device names, the parts ``doctor --listen`` lists).
    """


def fitted(part: object) -> bool:
    """Whether ``part`` is a real part, not the null object of a ``none`` backend."""
    return not isinstance(part, Absent)


def choose(table: Mapping[str, Backend[P]], name: str, unknown: Callable[[str], Exception]
           ) -> Backend[P]:
    """The entry ``name`` of ``table``.

    Raises:
        Exception: ``unknown(name)`` when the table has no such entry (each kind words
            its own: the names it knows are the table's keys).
    """
    try:
        return table[name]
    except KeyError:
        raise unknown(name) from None


def known(table: Mapping[str, Any]) -> str:
    """The table's names, for a message: ``files, video, none``."""
    return ", ".join(table)


def choices(*values: str) -> dict[str, Any]:
    """Field metadata: the values a settings key allows (the configuration checks them)."""
    return {"choices": values}


def backend_choices(table: Mapping[str, Any]) -> dict[str, Any]:
    """Field metadata of a ``backend`` key: the table's names, looked up when checked, so
    an entry added to the table is allowed at once."""
    return {"choices": table}
