"""One TCP connection to ``127.0.0.1:PORT`` bridged to standard input and output.

QEMU's user network runs it for each connection the guest opens to the register's forward
(``guestfwd=tcp:10.0.2.100:80-cmd:…``): a ``tcp:`` character device there would be one
connection made when QEMU starts, shared by every guest connection, which an HTTP server
closes after its idle timeout.

    python3 bridge.py PORT
"""

from __future__ import annotations

import os
import select
import socket
import sys


def bridge(port: int) -> None:
    """Copy bytes both ways until the server closes (or the guest and then the server)."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as server:
        server.settimeout(None)
        sources: list[object] = [sys.stdin.fileno(), server]
        while server in sources:
            ready, _, _ = select.select(sources, [], [])
            for source in ready:
                if source is server:
                    data = server.recv(65536)
                    if not data:
                        return
                    os.write(sys.stdout.fileno(), data)
                else:
                    data = os.read(sys.stdin.fileno(), 65536)
                    if data:
                        server.sendall(data)
                    else:  # the guest closed its side: the server may still answer
                        server.shutdown(socket.SHUT_WR)
                        sources.remove(source)


if __name__ == "__main__":
    try:
        bridge(int(sys.argv[1]))
    except OSError:
        sys.exit(1)
