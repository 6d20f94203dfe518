"""A TCP relay on 127.0.0.1 that can be shut like a cut cable: the register's outage.

While open it relays bytes both ways to ``upstream``; :meth:`TcpGate.shut` resets every
relayed connection and resets each new one at once (the client sees the register out of
reach); :meth:`TcpGate.open` lets connections through again, on the same port.
"""

from __future__ import annotations

import socket
import struct
import threading


class TcpGate:
    """A loopback relay to ``upstream`` (host, port) that can be shut and opened again."""

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.1)
        self._shut = threading.Event()
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._sockets: set[socket.socket] = set()
        self._threads: list[threading.Thread] = []
        self._acceptor = threading.Thread(target=self._accept, name="tcp-gate", daemon=True)
        self._acceptor.start()

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>`` of the relay."""
        return f"http://127.0.0.1:{self._listener.getsockname()[1]}"

    def shut(self) -> None:
        """Reset every relayed connection; new ones are reset on arrival."""
        self._shut.set()
        with self._lock:
            sockets, self._sockets = set(self._sockets), set()
        for sock in sockets:
            _reset(sock)

    def open(self) -> None:
        """Relay new connections again."""
        self._shut.clear()

    def close(self) -> None:
        """Stop the relay and wait for its threads."""
        self._stopping.set()
        self.shut()
        self._acceptor.join(10)
        self._listener.close()
        for thread in self._threads:
            thread.join(10)

    def _accept(self) -> None:
        while not self._stopping.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            if self._shut.is_set():
                _reset(client)
                continue
            try:
                server = socket.create_connection(self.upstream, timeout=10)
            except OSError:
                _reset(client)
                continue
            server.settimeout(None)
            with self._lock:
                self._sockets |= {client, server}
            for source, sink in ((client, server), (server, client)):
                thread = threading.Thread(target=self._pump, args=(source, sink), daemon=True)
                self._threads.append(thread)
                thread.start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
            with self._lock:
                self._sockets.discard(source)
            source.close()


def _reset(sock: socket.socket) -> None:
    """Close ``sock`` with RST (SO_LINGER 0): the peer sees the connection reset."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.close()
    except OSError:
        pass
