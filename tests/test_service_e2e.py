"""``stocktaker run`` under a real NOTIFY_SOCKET: ready, status, watchdog, health textfile, logs."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from tests.rooms import make_room, write_config


def test_the_service_reports_ready_status_watchdog_and_health(tmp_path: Path) -> None:
    room = make_room(5, location="Storage B")
    room.write_manifest(tmp_path / "expected.csv")
    write_config(tmp_path / "stocktaker.toml", camera=False, scanner=True, location=None,
                 repeat_window=0)
    with (tmp_path / "stocktaker.toml").open("a", encoding="utf-8") as fh:
        fh.write('[service]\nhealth_file = "health/stocktaker.prom"\nhealth_interval = 1\n')
    (tmp_path / "health").mkdir()
    sock_path = tmp_path / "notify.sock"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    server.bind(str(sock_path))
    server.settimeout(0.2)
    messages: list[str] = []
    done = threading.Event()

    def listen() -> None:
        while not done.is_set():
            try:
                messages.append(server.recv(4096).decode())
            except socket.timeout:
                continue

    listener = threading.Thread(target=listen, daemon=True)
    listener.start()
    env = {**os.environ, "NOTIFY_SOCKET": str(sock_path), "WATCHDOG_USEC": "1000000"}
    log_file = (tmp_path / "stderr.txt").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "firmware", "-v", "run", "--config",
         str(tmp_path / "stocktaker.toml")],
        stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=log_file, env=env,
        cwd=tmp_path)
    try:
        assert proc.stdin is not None
        lines = ["LOC:Storage B"] + [s.payload for s in room.scans[:4]] + ["IT-\x1b[2J"]
        proc.stdin.write(("\n".join(lines) + "\n").encode())
        proc.stdin.flush()
        # Idle for a while: the loop keeps turning, so the watchdog keeps being pinged.
        end = time.monotonic() + 20
        while sum("WATCHDOG=1" in m for m in messages) < 3 and time.monotonic() < end:
            time.sleep(0.1)
        proc.stdin.close()
        proc.wait(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
        log_file.close()
        done.set()
        listener.join(2)
        server.close()
    text = (tmp_path / "stderr.txt").read_text(encoding="utf-8")
    assert proc.returncode == 0, text
    assert any(m.startswith("READY=1") for m in messages)
    assert any("STATUS=room Storage B;" in m for m in messages)
    assert sum("WATCHDOG=1" in m for m in messages) >= 3
    scan_lines = [line for line in text.splitlines() if " scan " in f" {line}"
                  and "stocktaker.scan" in line]
    assert len(scan_lines) == 5
    assert "\x1b" not in text and "IT-\\x1b[2J" in text  # a label cannot drive the terminal
    families = {f.name: f for f in text_string_to_metric_families(
        (tmp_path / "health" / "stocktaker.prom").read_text(encoding="utf-8"))}
    assert families["stocktaker_up"].samples[0].value == 0  # written as the loop ended
    scans = {s.labels["verdict"]: s.value for s in families["stocktaker_scans"].samples
             if s.name == "stocktaker_scans_total"}
    assert sum(scans.values()) == 5
    # Five sightings of a few hundred bytes each went into the queue: their lines.
    written = families["stocktaker_queue_bytes_written"].samples[0].value
    assert 5 * 200 < written < 5 * 2000
