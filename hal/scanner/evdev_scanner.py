"""The real keyboard-wedge scanner: a USB HID keyboard read through python-evdev.

The device is grabbed (``EVIOCGRAB``) as soon as it is opened, so its keystrokes reach
only this process, never a console or a login prompt, and released on every way out.
Scans are decoded by :class:`~hal.scanner.keys.KeyDecoder`, the decoder
``stocktaker hid-replay`` uses too.

A scanner unplugged (or a Bluetooth scanner gone to sleep) is waited for: the loop logs
"scanner disconnected" once, looks for the device every ``poll_interval`` seconds and grabs
it again when it is back. A scanner absent at start is waited for the same way.
"""

from __future__ import annotations

import errno
import functools
import logging
import os
import re
import select
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from hal.errors import DeviceError
from hal.read import Read, ReaderState
from hal.resource import ReadGuard
from hal.scanner.base import Scanner
from hal.scanner.keys import (DEFAULT_INTER_KEY_TIMEOUT, DEFAULT_MAX_LENGTH, Discarded,
                              KeyDecoder, KeyEvent, Outcome, Scan, SynEvent, preview,
                              terminator_hint)

log = logging.getLogger(__name__)

EV_SYN, EV_KEY = 0, 1
SYN_REPORT, SYN_DROPPED = 0, 3
#: A node is a keyboard when it has every key from KEY_ESC (1) to KEY_S (31): scanners
#: with a second node for media keys (same name, same vendor:product) are told apart so.
_KEYBOARD_KEYS = frozenset(range(1, 32))
_VENDOR_PRODUCT = re.compile(r"([0-9a-fA-F]{4}):([0-9a-fA-F]{4})")
_GONE = frozenset({errno.ENODEV, errno.ENOENT, errno.ENXIO})


@dataclass(frozen=True)
class ScanDiscarded:
    """A scan a HID scanner threw away, yielded among its reads only when asked
    (:attr:`HidScanner.report_discards`, for ``doctor --listen``).

    Attributes:
        source: the reader's name, as its reads carry it.
        reason: why it was discarded.
        typed: the characters decoded before it was.
        hint: what it says about the scanner's terminator, if anything
            (:func:`~hal.scanner.keys.terminator_hint`).
        at: the reader's monotonic time.
    """

    source: str
    reason: str
    typed: str
    hint: str | None
    at: float

    def lines(self) -> list[str]:
        """What ``doctor --listen`` prints: the reason and what was typed (escaped), then
        the terminator hint on a line of its own."""
        out = [f"{self.source:<8} scan discarded: {self.reason}; typed {preview(self.typed)}"]
        return out + ([f"{self.source:<8} {self.hint}"] if self.hint else [])


class HidScanner(Scanner[Read | ReaderState | ScanDiscarded]):
    """Scans from a USB HID (keyboard-wedge) scanner, one :class:`Read` each.

    Args:
        device: which input device: a path (``/dev/input/by-id/usb-…-event-kbd``, the
            stable choice), ``vendor:product`` in hex (``05e0:1200``), or the device's
            name as the kernel gives it. ``vendor:product`` and names pick among keyboard
            nodes only; when several match, the first by path is taken, with a warning.
        keymap: the layout the scanner is set to (``us``, ``uk``, ``de``, ``fr``).
        terminator: ``enter`` or ``tab``, the key the scanner ends a scan with.
        inter_key_timeout: seconds without a key that discard a scan in progress.
        max_length: the most characters of a scan.
        poll_interval: seconds between looks for an absent device.
        source: the name reads carry as their ``source``.
        symbology: what reads carry as their ``symbology``: ``UNKNOWN`` for a barcode
            scanner (the payload says what it is), ``CARD`` for an RFID card reader
            typing card numbers.
        list_devices: paths of the input devices (``evdev.list_devices``).
        open_device: opens a path as an ``evdev.InputDevice``-like object (``path``,
            ``name``, ``info.vendor``, ``info.product``, ``capabilities()``, ``grab()``,
            ``ungrab()``, ``fileno()``, ``read()``, ``close()``).
        clock: monotonic seconds for ``Read.at``.
        wall_clock: the clock of the kernel's event times (``CLOCK_REALTIME``), used to
            time out a scan while no event comes.

    Raises:
        ValueError: a bad keymap, terminator, timeout or length.
        DeviceError: python-evdev is not installed (only when no callables are given).
    """

    name = "hid"

    report_discards = False
    """Whether :meth:`reads` also yields a :class:`ScanDiscarded` for each discarded scan
    (``doctor --listen`` sets it); either way each is logged."""

    def __init__(self, device: str, *, keymap: str = "us", terminator: str = "enter",
                 inter_key_timeout: float = DEFAULT_INTER_KEY_TIMEOUT,
                 max_length: int = DEFAULT_MAX_LENGTH, poll_interval: float = 1.0,
                 source: str = "hid", symbology: str = "UNKNOWN",
                 list_devices: Callable[[], Iterable[str]] | None = None,
                 open_device: Callable[[str], Any] | None = None,
                 clock: Callable[[], float] = time.monotonic,
                 wall_clock: Callable[[], float] = time.time) -> None:
        if not device:
            raise ValueError("no scanner device given")
        self._new_decoder = functools.partial(
            KeyDecoder, keymap=keymap, terminator=terminator,
            inter_key_timeout=inter_key_timeout, max_length=max_length)
        self._decoder = self._new_decoder()
        if list_devices is None or open_device is None:
            try:
                import evdev
            except ImportError as exc:
                raise DeviceError(
                    "the evdev scanner needs python-evdev (pip install evdev)") from exc
            list_devices = list_devices or evdev.list_devices
            open_device = open_device or evdev.InputDevice
        self.device = device
        self.source = source
        self.symbology = symbology
        self.poll_interval = poll_interval
        self._list_devices = list_devices
        self._open_device = open_device
        self._clock = clock
        self._wall_clock = wall_clock
        self._lock = threading.Lock()
        self._dev: Any = None
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_w, False)
        # The reader thread blocks only between enter() and leave(); close() from another
        # thread then leaves the device and the pipe to it, so no fd is closed under a select.
        self._guard = ReadGuard(self._shutdown, wake=self._wake)

    def reads(self) -> Iterator[Read | ReaderState | ScanDiscarded]:
        """Yield each scan until :meth:`close`; waits for the device while it is absent.

        When the device goes away (unplugged) and when it comes back, a
        :class:`ReaderState` is yielded among the reads.

        Raises:
            DeviceError: the device cannot be opened (permissions) or grabbed (another
                program holds it).
        """
        reconnecting = False
        try:
            while True:
                dev = self._connect(waiting_logged=reconnecting)
                if dev is None:
                    return
                if reconnecting:
                    yield ReaderState(self.source, True, "connected again", self._clock())
                try:
                    yield from self._pump(dev)
                    return
                except OSError as exc:
                    if self._guard.closed:
                        return
                    detail = str(exc.strerror or exc)
                    log.warning("scanner disconnected (%s): waiting for it to come back",
                                detail)
                    self._release()
                    self._report(self._decoder.finish(), hints=False)  # cut by the unplug
                    self._decoder = self._new_decoder()
                    reconnecting = True
                    yield ReaderState(self.source, False, detail, self._clock())
        finally:
            self._release()

    def close(self) -> None:
        """Stop :meth:`reads` (from any thread: it returns promptly) and release the device."""
        self._guard.close()

    def _wake(self) -> None:
        try:
            os.write(self._wake_w, b"x")
        except OSError:
            pass  # the pipe is full: the reader wakes anyway

    def _shutdown(self) -> None:
        self._release()
        with self._lock:
            fds, self._wake_r, self._wake_w = (self._wake_r, self._wake_w), -1, -1
        for fd in fds:
            if fd >= 0:
                os.close(fd)

    def _release(self) -> None:
        with self._lock:
            dev, self._dev = self._dev, None
        if dev is None:
            return
        try:
            dev.ungrab()
        except OSError:
            pass  # unplugged, or never grabbed: the grab ends with the descriptor anyway
        try:
            dev.close()
        except OSError:
            pass

    def _connect(self, waiting_logged: bool = False) -> Any:
        """The grabbed device, or None once closed; waits while it is absent."""
        while True:
            if self._guard.closed:
                return None
            dev = self._find()
            if dev is not None:
                try:
                    dev.grab()
                except OSError as exc:
                    _close_quietly(dev)
                    if exc.errno not in _GONE:
                        raise DeviceError(f"cannot grab scanner {self.device} "
                                          f"({exc.strerror or exc}): another program holds "
                                          "it") from exc
                else:
                    with self._lock:
                        if self._guard.closed:
                            _release_quietly(dev)
                            return None
                        self._dev = dev
                    log.info("scanner connected: %s (%s)", getattr(dev, "name", "?"),
                             getattr(dev, "path", self.device))
                    return dev
            if not waiting_logged:
                log.warning("scanner %s not found: waiting for it", self.device)
                waiting_logged = True
            if not self._guard.enter():
                return None
            try:
                select.select([self._wake_r], [], [], self.poll_interval)
            finally:
                alive = self._guard.leave()
            if not alive:
                return None

    def _find(self) -> Any:
        """Open the configured device, or None when it is not there."""
        spec = self.device
        if spec.startswith("/"):
            return self._open(spec)
        wanted = _VENDOR_PRODUCT.fullmatch(spec)
        found = []
        for path in sorted(self._list_devices(), key=_natural):
            dev = self._open(path)
            if dev is None:
                continue
            if wanted:
                match = (dev.info.vendor == int(wanted[1], 16)
                         and dev.info.product == int(wanted[2], 16))
            else:
                match = dev.name == spec
            if match and _is_keyboard(dev):
                found.append(dev)
            else:
                _close_quietly(dev)
        if not found:
            return None
        if len(found) > 1:
            log.warning("%d keyboards match scanner %s (%s): using %s; name it by its "
                        "/dev/input/by-id path", len(found), spec,
                        ", ".join(d.path for d in found), found[0].path)
            for extra in found[1:]:
                _close_quietly(extra)
        return found[0]

    def _open(self, path: str) -> Any:
        try:
            return self._open_device(path)
        except PermissionError as exc:
            raise DeviceError(f"cannot open scanner {path}: permission denied (run as a "
                              "member of the 'input' group)") from exc
        except OSError as exc:
            if exc.errno in _GONE or isinstance(exc, FileNotFoundError):
                return None
            raise DeviceError(f"cannot open scanner {path}: {exc.strerror or exc}") from exc

    def _pump(self, dev: Any) -> Iterator[Read | ScanDiscarded]:
        """Reads from ``dev`` until closed; OSError when it goes away."""
        fd = dev.fileno()
        while True:
            if not self._guard.enter():
                return
            try:
                events = self._wait_and_read(dev, fd)
            except OSError:
                if self._guard.leave():
                    raise
                return  # closed meanwhile: an error of a released device does not matter
            except BaseException:
                self._guard.leave()
                raise
            if not self._guard.leave():
                return
            outcomes: list[Outcome] = []
            for raw in events:
                event = to_event(raw)
                if event is not None:
                    outcomes += self._decoder.feed(event)
            outcomes += self._decoder.expire(self._wall_clock())
            reads = self._report(outcomes)
            yield from reads

    def _wait_and_read(self, dev: Any, fd: int) -> list[Any]:
        """The events that arrived before the next deadline or poll; none when woken."""
        deadline = self._decoder.deadline
        timeout = self.poll_interval if deadline is None else min(
            self.poll_interval, max(0.0, deadline - self._wall_clock()))
        ready, _, _ = select.select([fd, self._wake_r], [], [], timeout)
        if fd not in ready or self._wake_r in ready:
            return []
        try:
            return list(dev.read())
        except BlockingIOError:
            return []

    def _report(self, outcomes: list[Outcome], hints: bool = True) -> list[Read | ScanDiscarded]:
        """Reads for the scans; each discarded scan logged with its reason, the characters
        typed and (``hints``) what it says about the terminator."""
        reads: list[Read | ScanDiscarded] = []
        for outcome in outcomes:
            if isinstance(outcome, Scan):
                reads.append(Read(outcome.payload, self.symbology, self.source, self._clock()))
            elif isinstance(outcome, Discarded):
                hint = terminator_hint(outcome, self._decoder.terminator) if hints else None
                log.warning("scan discarded: %s; typed %s%s", outcome.reason,
                            preview(outcome.typed), f"; {hint}" if hint else "")
                if self.report_discards:
                    reads.append(ScanDiscarded(self.source, outcome.reason, outcome.typed,
                                               hint, self._clock()))
        return reads


def to_event(raw: Any) -> KeyEvent | SynEvent | None:
    """An ``evdev.InputEvent`` as the decoder's event; None for other types (``EV_MSC``)."""
    if raw.type == EV_KEY:
        return KeyEvent(raw.code, raw.value, raw.timestamp())
    if raw.type == EV_SYN and raw.code in (SYN_REPORT, SYN_DROPPED):
        return SynEvent(raw.code == SYN_DROPPED, raw.timestamp())
    return None


def _is_keyboard(dev: Any) -> bool:
    try:
        keys = dev.capabilities().get(EV_KEY, ())
    except OSError:
        return False
    return _KEYBOARD_KEYS <= set(keys)


def _natural(path: str) -> tuple[Any, ...]:
    """``event2`` before ``event10``."""
    return tuple(int(p) if p.isdigit() else p for p in re.split(r"(\d+)", path))


def _close_quietly(dev: Any) -> None:
    try:
        dev.close()
    except OSError:
        pass


def _release_quietly(dev: Any) -> None:
    try:
        dev.ungrab()
    except OSError:
        pass
    _close_quietly(dev)
