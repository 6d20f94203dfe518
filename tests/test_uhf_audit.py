"""A UHF reader walked past a shelf: 300 tags in a burst through the real ``stocktaker run``.

The reader is a pseudo-terminal the test writes EPC lines into, as a serial UHF reader
does; the device opens it as ``rfid.port``. Every tag must get its sighting and verdict,
duplicates inside the window must not, and SIGTERM must write the room's report.
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.test_epc import _GIAI96_PARTITIONS, _encode

TAGS = 300


def giai96(reference: int) -> str:
    """The GIAI-96 EPC of GIAI 0614141<reference> (partition 5: a 7-digit company prefix)."""
    return _encode(0x34, 0, 5, 614141, reference, None, _GIAI96_PARTITIONS)


def journaled(folder: Path) -> int:
    """Sightings in the open room's journal."""
    return sum(line.startswith('{"type":"sighting"')
               for path in (folder / "state" / "rooms").glob("room-*.jsonl")
               for line in path.read_text(encoding="utf-8").splitlines())


def test_a_burst_of_300_tags_gets_300_verdicts(tmp_path: Path) -> None:
    rows = ["asset_tag,location"] + [f"{100000 + n},Server Room" for n in range(TAGS)]
    (tmp_path / "expected.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    master, slave = os.openpty()
    port = os.ttyname(slave)
    (tmp_path / "c.toml").write_text(
        '[device]\nid = "hh-uhf"\n[audit]\nlocation = "Server Room"\n'
        '[identity]\ngiai_prefixes = ["0614141"]\n[scanner]\nbackend = "none"\n'
        f'[rfid]\nbackend = "serial"\nport = "{port}"\nwindow = 30\n'
        '[display]\nbackend = "none"\n[queue]\npath = "state"\n', encoding="utf-8")
    run = subprocess.Popen([sys.executable, "-m", "firmware", "run", "--config", "c.toml"],
                           cwd=tmp_path, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, start_new_session=True)
    acks: list[str] = []
    buffer = b""
    try:
        assert run.stdout is not None
        deadline = time.monotonic() + 60
        # Until the device listens, the first tag is sent again (the window makes it one read).
        while not acks:
            assert time.monotonic() < deadline, "the device never answered"
            os.write(master, (giai96(100000) + "\r\n").encode())
            if select.select([run.stdout], [], [], 0.2)[0]:
                buffer += os.read(run.stdout.fileno(), 65536)
                acks = [line for line in buffer.decode().splitlines() if "[feedback]" in line]
        burst = "".join(f"EPC:{giai96(100000 + n)}\r\n" for n in range(1, TAGS))
        burst += "".join(f"{giai96(100000 + n)}\r\n" for n in range(0, 40))  # in the field still
        os.write(master, burst.encode())
        # Bursts are shown as running counts, so count what the room's journal holds.
        while (saved := journaled(tmp_path)) < TAGS:
            assert time.monotonic() < deadline, f"only {saved} sightings saved"
            if select.select([run.stdout], [], [], 0.2)[0]:
                os.read(run.stdout.fileno(), 65536)
        time.sleep(0.5)  # the repeats, had they come through, would be saved by now
        os.killpg(run.pid, signal.SIGTERM)
        out, err = run.communicate(timeout=60)
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
            run.wait()
        os.close(master)
        os.close(slave)
    assert run.returncode == 0, err.decode()
    assert "[feedback]" in out.decode() + buffer.decode()
    (report_file,) = (tmp_path / "out").glob("report-*.json")
    report = json.loads(report_file.read_text(encoding="utf-8"))
    assert report["counts"]["verified"] == TAGS and report["counts"]["repeat"] == 0
    assert report["ghosts"] == [] and len(report["scans"]) == TAGS
    assert {s["symbology"] for s in report["scans"]} == {"EPC"}
    assert {s["source"] for s in report["scans"]} == {"uhf"}
