"""A stand-in network label printer on 127.0.0.1: raw socket printing, as on port 9100.

Each connection is one job. Like a real Zebra or Brother, it prints a job only when the
job is complete: a ZPL format at its ``^XZ``, Brother raster at its final print command
(0x1A). A connection closed before that is a job cut short, kept apart and never printed.
It can go offline (nothing listens: connections are refused) and come back on the same
port.
"""

from __future__ import annotations

import select
import socket
import threading
import time
from collections.abc import Callable


def zpl_complete(data: bytes) -> bool:
    return data.rstrip().endswith(b"^XZ")


def brother_complete(data: bytes) -> bool:
    return data.endswith(b"\x1a")


class StandInPrinter:
    """Listens on 127.0.0.1 (a free port, kept across outages); counts printed jobs."""

    def __init__(self, complete: Callable[[bytes], bool] = zpl_complete,
                 on_printed: Callable[[bytes], None] | None = None) -> None:
        self._complete = complete
        self._on_printed = on_printed
        self._lock = threading.Lock()
        self._server: socket.socket | None = None
        self._threads: list[threading.Thread] = []
        self.port = 0
        self._printed: list[tuple[int, bytes]] = []
        self._cut_short: list[tuple[int, bytes]] = []
        self.connections = 0
        self._busy = 0

    @property
    def printed(self) -> list[bytes]:
        """The jobs printed, in the order their connections were accepted (a printer
        takes one job after the other)."""
        with self._lock:
            return [data for _, data in sorted(self._printed)]

    @property
    def cut_short(self) -> list[bytes]:
        """Connections closed before their job was complete: nothing printed."""
        with self._lock:
            return [data for _, data in sorted(self._cut_short)]

    @property
    def address(self) -> str:
        return f"tcp://127.0.0.1:{self.port}"

    def online(self) -> None:
        """Start (or come back) listening on the same port."""
        server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("127.0.0.1", self.port))
        server.listen(16)
        server.setblocking(False)
        self.port = server.getsockname()[1]
        with self._lock:
            self._server = server
        thread = threading.Thread(target=self._accept, args=(server,), daemon=True)
        thread.start()
        self._threads.append(thread)

    def offline(self) -> None:
        """Stop listening: every connection is refused until :meth:`online`."""
        with self._lock:
            server, self._server = self._server, None
        if server is not None:
            try:
                server.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            server.close()

    def stop(self) -> None:
        self.offline()
        for thread in self._threads:
            thread.join(timeout=10)

    def __enter__(self) -> StandInPrinter:
        self.online()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def settle(self, timeout: float = 60.0) -> None:
        """Wait until every connection made so far has been read to its end.

        A connection is either still in the listening socket's backlog (readable) or
        accepted and counted as busy, both seen under one lock: once a client process has
        exited, this returns with all its jobs counted.
        """
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                server = self._server
                pending = server is not None and bool(select.select([server], [], [], 0)[0])
                if not pending and self._busy == 0:
                    return
            time.sleep(0.02)
        raise AssertionError("the stand-in printer is still receiving")

    def _accept(self, server: socket.socket) -> None:
        while True:
            try:
                readable = select.select([server], [], [], 0.05)[0]
            except (OSError, ValueError):
                return
            with self._lock:
                if self._server is not server:
                    return
                if not readable:
                    continue
                try:
                    conn, _ = server.accept()
                except BlockingIOError:
                    continue
                except OSError:
                    return
                self.connections += 1
                self._busy += 1
                thread = threading.Thread(target=self._receive, args=(conn, self.connections),
                                          daemon=True)
                thread.start()
                self._threads.append(thread)

    def _receive(self, conn: socket.socket, number: int) -> None:
        chunks = []
        with conn:
            conn.settimeout(30)
            try:
                while chunk := conn.recv(65536):
                    chunks.append(chunk)
            except OSError:
                pass
        data = b"".join(chunks)
        complete = self._complete(data)
        try:
            if complete and self._on_printed is not None:
                with self._lock:
                    self._printed.append((number, data))
                self._on_printed(data)
                return
            with self._lock:
                (self._printed if complete else self._cut_short).append((number, data))
        finally:
            with self._lock:
                self._busy -= 1
