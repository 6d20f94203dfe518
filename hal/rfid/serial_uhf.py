"""A UHF RFID reader on a serial port that prints one EPC per line (plain-text inventory)."""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable, Iterator

import serial

from hal.errors import DeviceError
from hal.read import Read
from hal.resource import Resource

log = logging.getLogger(__name__)

#: Shortest and longest EPC accepted, in hex digits: 96 bits, and Gen2's 496-bit maximum.
MIN_HEX_DIGITS = 24
MAX_HEX_DIGITS = 124
#: A line longer than this is not a frame: it is dropped (and counted as garbage) unread.
LINE_LIMIT = 512

_LINE_END = re.compile(rb"[\r\n]")
#: A label before the EPC, such as ``EPC:`` or ``tag=``.
_LABEL = re.compile(r"[A-Za-z][A-Za-z0-9_-]*\s*[:=]")
_HEX = frozenset("0123456789abcdefABCDEF")


def parse_epc_line(line: bytes) -> str | None:
    """The EPC a line of reader output holds, as upper-case hex, or None when it holds none.

    A line holds an EPC when, after an optional label (``EPC:``, ``EPC =``) and with spaces
    removed, it is :data:`MIN_HEX_DIGITS` to :data:`MAX_HEX_DIGITS` hex digits.
    """
    try:
        text = line.decode("ascii").strip()
    except UnicodeDecodeError:
        return None
    label = _LABEL.match(text)
    if label is not None:
        text = text[label.end():]
    digits = "".join(text.split())
    if not MIN_HEX_DIGITS <= len(digits) <= MAX_HEX_DIGITS or not _HEX.issuperset(digits):
        return None
    return digits.upper()


class SerialUhfReader(Resource):
    """EPCs from a UHF reader on a serial port, one :class:`Read` per tag entering the field.

    The reader is expected to print each tag it sees as a line of hex (see
    :func:`parse_epc_line`), ended by LF or CR LF. A tag sitting in the field is reported
    many times a second: a report of an EPC within ``window`` seconds of its previous
    report is dropped, and the window slides, so the tag is one read until it has been out
    of the field for ``window`` seconds. Lines that hold no EPC are skipped and counted in
    :attr:`garbage`; one log line is written for the first and then every
    ``log_garbage_every``-th.

    Each read has the EPC's upper-case hex digits as ASCII payload, symbology ``EPC`` and
    source ``uhf``.

    Args:
        url: the port: a device path (``/dev/ttyUSB0``, ``/dev/serial/by-id/…``) or a
            pyserial URL (``loop://``, ``rfc2217://host:port``).
        baudrate: the reader's line speed.
        window: seconds within which a repeated EPC is the same read; 0 keeps every report.
        timeout: longest wait of one read of the port, in seconds; bounds how long
            :meth:`close` may wait for a blocked :meth:`reads` when the port cannot cancel a read.
        clock: monotonic seconds for ``Read.at`` and the window.
        log_garbage_every: how many skipped lines one log line stands for.

    Raises:
        DeviceError: the port cannot be opened.
    """

    name = "uhf"

    def __init__(self, url: str, baudrate: int = 115200, *, window: float = 2.0,
                 timeout: float = 0.2, clock: Callable[[], float] = time.monotonic,
                 log_garbage_every: int = 100) -> None:
        self.url = url
        self.window = window
        self.garbage = 0
        self._timeout = timeout
        self._clock = clock
        self._log_every = max(1, log_garbage_every)
        self._last_seen: dict[str, float] = {}
        self._prune_at = 4096
        self._closed = False
        self._lock = threading.Lock()
        self._idle = threading.Event()  # set while no thread is inside a read of the port
        self._idle.set()
        try:
            self._port = serial.serial_for_url(url, baudrate=baudrate, timeout=timeout)
        except (serial.SerialException, OSError, ValueError) as exc:
            raise DeviceError(f"cannot open the UHF reader at {url}: {exc}") from exc

    @property
    def port(self) -> serial.SerialBase:
        """The open serial port."""
        return self._port

    def reads(self) -> Iterator[Read]:
        """Yield one :class:`Read` per tag entering the field, until :meth:`close`.

        Raises:
            DeviceError: the port failed (the reader was unplugged); the message names it.
        """
        line = bytearray()
        overlong = False
        while (chunk := self._next_chunk()) is not None:
            *ended, rest = _LINE_END.split(chunk)
            for piece in ended:
                if not overlong:
                    line += piece
                    if len(line) > LINE_LIMIT:
                        overlong = True
                if overlong:
                    self._skip(bytes(line[:40]) + b"...")
                elif line:
                    read = self._admit(bytes(line))
                    if read is not None:
                        yield read
                line.clear()
                overlong = False
            if not overlong:
                line += rest
                if len(line) > LINE_LIMIT:
                    overlong = True

    def close(self) -> None:
        """Stop :meth:`reads` (a blocked read returns within ``timeout``) and close the port."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        cancel = getattr(self._port, "cancel_read", None)
        if cancel is not None:
            try:
                cancel()
            except Exception:  # noqa: BLE001 - best effort: the read times out anyway
                pass
        # Closing a port while another thread is inside read() can crash that read in
        # odd ways (a file descriptor set to None); wait for it to come out first.
        self._idle.wait(self._timeout + 1.0)
        try:
            self._port.close()
        except (serial.SerialException, OSError):
            pass

    def _next_chunk(self) -> bytes | None:
        """What has arrived (maybe nothing, after a timeout), or None once closed."""
        with self._lock:
            if self._closed:
                return None
            self._idle.clear()
        try:
            return self._port.read(self._port.in_waiting or 1)
        except (serial.SerialException, OSError, TypeError, AttributeError) as exc:
            # TypeError, AttributeError: pyserial's read on a port closed under it
            if self._closed:
                return None
            raise DeviceError(f"UHF reader at {self.url} failed: {exc}") from exc
        finally:
            self._idle.set()

    def _admit(self, line: bytes) -> Read | None:
        epc = parse_epc_line(line)
        if epc is None:
            self._skip(line)
            return None
        at = self._clock()
        last = self._last_seen.get(epc)
        self._last_seen[epc] = at
        if len(self._last_seen) > self._prune_at:
            self._last_seen = {k: t for k, t in self._last_seen.items()
                               if at - t < self.window}
            self._prune_at = max(4096, 2 * len(self._last_seen))
        if last is not None and at - last < self.window:
            return None
        return Read(epc.encode("ascii"), "EPC", self.name, at)

    def _skip(self, line: bytes) -> None:
        self.garbage += 1
        if (self.garbage - 1) % self._log_every == 0:
            log.warning("UHF reader at %s: %d line(s) skipped that hold no EPC, latest %r",
                        self.url, self.garbage, line[:80])
