"""A loopback HTTP proxy in front of the test Nautobot that can SIGKILL its client.

``KillingProxy`` forwards every request to Nautobot as it is. When armed with a process
id and a count, it waits for the n-th ``POST /api/extras/notes/`` to be answered by
Nautobot (the note is made), SIGKILLs that process, and drops the connection without
passing the answer on: the client dies between the server's answer and the queue's
acknowledgement, deterministically.
"""

from __future__ import annotations

import http.client
import os
import signal
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

_HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "te",
               "trailer", "upgrade", "content-length"}


class KillingProxy:
    """Forwards ``http://127.0.0.1:<port>`` to ``upstream``; see the module docstring.

    Attributes:
        notes_forwarded: how many note creations Nautobot answered through the proxy.
        killed: the PID killed, once it was.
    """

    def __init__(self, upstream: str) -> None:
        parts = urlsplit(upstream)
        self.upstream_host = parts.hostname or "127.0.0.1"
        self.upstream_port = parts.port or 80
        self.notes_forwarded = 0
        self.killed: int | None = None
        self._armed: tuple[int, int] | None = None  # (pid, note number)
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        """The proxy's address."""
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def arm(self, pid: int, note_number: int) -> None:
        """SIGKILL ``pid`` once the ``note_number``-th note from now is made."""
        with self._lock:
            self._armed = (pid, self.notes_forwarded + note_number)

    def __enter__(self) -> KillingProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _after_note(self) -> bool:
        """Count one answered note; True when the armed process was killed for it."""
        with self._lock:
            self.notes_forwarded += 1
            if self._armed is None or self.notes_forwarded < self._armed[1]:
                return False
            pid, self._armed = self._armed[0], None
        os.kill(pid, signal.SIGKILL)
        self.killed = pid
        return True

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                pass

            def _forward(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                headers = {k: v for k, v in self.headers.items()
                           if k.lower() not in _HOP_BY_HOP and k.lower() != "host"}
                upstream = http.client.HTTPConnection(proxy.upstream_host,
                                                      proxy.upstream_port, timeout=60)
                try:
                    upstream.request(self.command, self.path, body=body, headers=headers)
                    answer = upstream.getresponse()
                    data = answer.read()
                finally:
                    upstream.close()
                if (self.command == "POST" and self.path.split("?")[0] == "/api/extras/notes/"
                        and proxy._after_note()):
                    self.close_connection = True
                    return  # the client is dead; the answer goes nowhere
                self.send_response(answer.status)
                for key, value in answer.getheaders():
                    if key.lower() not in _HOP_BY_HOP:
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PATCH = do_DELETE = _forward

        return Handler
