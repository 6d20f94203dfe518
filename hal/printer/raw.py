"""Raw transports to a label printer: a TCP socket (port 9100, "raw" or "JetDirect"
printing) and a USB printer device file (``/dev/usb/lp0``).

Neither transport acknowledges a job: a send returns once every byte was handed over.
"""

from __future__ import annotations

import errno
import os
import socket
from urllib.parse import urlsplit

from hal.printer.base import PrinterOffline

__all__ = ["RAW_PORT", "parse_address", "send_device_file", "send_tcp"]

RAW_PORT = 9100


def parse_address(address: str) -> tuple[str, str, int]:
    """Split a printer address into ``(scheme, where, port)``.

    ``tcp://host[:port]`` gives ``("tcp", host, port)`` (port 9100 by default);
    ``file:///dev/usb/lp0`` gives ``("file", "/dev/usb/lp0", 0)``; ``usb://…`` gives
    ``("usb", address, 0)``.

    Raises:
        ValueError: none of these forms.
    """
    parts = urlsplit(address)
    if parts.scheme == "tcp" and parts.hostname and not parts.path.strip("/"):
        return "tcp", parts.hostname, parts.port or RAW_PORT
    if parts.scheme == "file" and parts.path.startswith("/") and not parts.netloc:
        return "file", parts.path, 0
    if parts.scheme == "usb" and parts.netloc:
        return "usb", address, 0
    raise ValueError(f"{address!r} is not a printer address (tcp://host[:port],"
                     " file:///dev/usb/lp0 or usb://0xVENDOR:0xPRODUCT)")


def send_tcp(host: str, port: int, data: bytes, timeout: float) -> None:
    """Send one job over a new TCP connection, then close it.

    Raises:
        PrinterOffline: no connection within ``timeout`` seconds, or it broke while
            sending.
    """
    try:
        sock = socket.create_connection((host, port), timeout=timeout)
    except OSError as exc:
        raise PrinterOffline(f"printer {host}:{port} not reachable: "
                             f"{exc.strerror or exc}") from None
    with sock:
        try:
            sock.sendall(data)
        except OSError as exc:
            raise PrinterOffline(f"printer {host}:{port} dropped the job while it was being"
                                 f" sent: {exc.strerror or exc}") from None
        # The whole job is handed over: a failure from here on must not send it again.
        try:
            sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass


def send_device_file(path: str, data: bytes) -> None:
    """Write one job to a printer device file (``/dev/usb/lp0``).

    Raises:
        PrinterOffline: the device is not there (unplugged, switched off) or the write
            failed.
    """
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CLOEXEC)
    except OSError as exc:
        why = "not plugged in or switched off" if exc.errno in (
            errno.ENOENT, errno.ENODEV, errno.ENXIO) else exc.strerror or str(exc)
        raise PrinterOffline(f"printer {path}: {why}") from None
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
    except OSError as exc:
        raise PrinterOffline(f"printer {path}: write failed: {exc.strerror or exc}") from None
    finally:
        os.close(fd)
