"""Child process of the Snipe-IT crash test: pushes sightings until all are answered.

Usage: ``python snipeit_pusher.py SETTINGS_JSON`` with the repository root on
``PYTHONPATH``. The settings name the emulator (``url``, ``token_file``), the records
file (a JSON list of sighting records), the answers file, ``batch_size``,
``rate_per_minute``, ``timeout``, ``max_wait`` (seconds slept at most after a failure) and
``bulk_audit`` (default false).

The answers file stands for the queue's acknowledge: after each pushed batch one JSON
line per record (``{"id": ..., "status": ...}``) is appended and fsynced; records
answered there are not pushed again. A line cut by a kill is removed (its record is
pushed again). Lines on stdout, each flushed: ``ready`` once the register is open,
``acked <n>`` after each batch's answers are durable, ``finished`` at the end.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

from firmware.config import RegisterConfig
from firmware.errors import RegisterUnavailable
from sync.snipeit import SnipeItRegister
from tests.sightings import typed


def answered(path: Path) -> dict[str, str]:
    """The answers already recorded; a torn last line is cut off."""
    done: dict[str, str] = {}
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return done
    keep = data.rfind(b"\n") + 1
    if keep < len(data):  # cut by a kill: the next lines must start on a line of their own
        os.truncate(path, keep)
    for line in data[:keep].split(b"\n"):
        try:
            item = json.loads(line)
        except ValueError:
            continue
        done[item["id"]] = item["status"]
    return done


def _say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def main(argv: list[str]) -> int:
    """Push every record not answered yet; returns the exit status."""
    settings = json.loads(Path(argv[1]).read_text())
    records = json.loads(Path(settings["records"]).read_text())
    answers = Path(settings["answers"])
    done = answered(answers)
    pending = [r for r in records if r["sighting_id"] not in done]
    config = RegisterConfig(adapter="snipeit", url=settings["url"],
                            token_file=Path(settings["token_file"]),
                            timeout=settings["timeout"],
                            rate_per_minute=settings["rate_per_minute"],
                            outbox=Path(settings["outbox"]),
                            bulk_audit=settings.get("bulk_audit", False))
    batch_size = settings["batch_size"]
    with SnipeItRegister(config, "handheld-07") as register:
        _say("ready")
        while pending:
            batch = pending[:batch_size]
            try:
                results = register.push(typed(batch))
            except RegisterUnavailable as exc:
                time.sleep(min(settings["max_wait"], exc.retry_after or 0.02))
                continue
            lines = "".join(json.dumps({"id": r.sighting_id, "status": r.status.value}) + "\n"
                            for r in results)
            fd = os.open(answers, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                os.write(fd, lines.encode("utf-8"))
                os.fsync(fd)
            finally:
                os.close(fd)
            pending = pending[batch_size:]
            _say(f"acked {len(results)}")
    _say("finished")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
