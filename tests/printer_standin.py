"""A stand-in network label printer on 127.0.0.1: raw socket printing, as on port 9100.

Each connection is one job. Like a real Zebra or Brother, it prints a job only when the
job is complete: a ZPL format at its ``^XZ``, Brother raster at its final print command
(0x1A). A connection closed before that is a job cut short, kept apart and never printed.
It can go offline (nothing listens: connections are refused) and come back on the same
port.
"""

from __future__ import annotations

import socket
import threading
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
        self.printed: list[bytes] = []
        self.cut_short: list[bytes] = []
        self.connections = 0

    @property
    def address(self) -> str:
        return f"tcp://127.0.0.1:{self.port}"

    def online(self) -> None:
        """Start (or come back) listening on the same port."""
        server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("127.0.0.1", self.port))
        server.listen(16)
        self.port = server.getsockname()[1]
        self._server = server
        thread = threading.Thread(target=self._accept, args=(server,), daemon=True)
        thread.start()
        self._threads.append(thread)

    def offline(self) -> None:
        """Stop listening: every connection is refused until :meth:`online`."""
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

    def _accept(self, server: socket.socket) -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            with self._lock:
                self.connections += 1
            thread = threading.Thread(target=self._receive, args=(conn,), daemon=True)
            thread.start()
            self._threads.append(thread)

    def _receive(self, conn: socket.socket) -> None:
        chunks = []
        with conn:
            conn.settimeout(30)
            try:
                while chunk := conn.recv(65536):
                    chunks.append(chunk)
            except OSError:
                pass
        data = b"".join(chunks)
        with self._lock:
            (self.printed if self._complete(data) else self.cut_short).append(data)
        if self._complete(data) and self._on_printed is not None:
            self._on_printed(data)
