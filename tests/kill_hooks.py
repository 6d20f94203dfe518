"""Run the real ``stocktaker`` command and SIGKILL it at one exact point of its work.

``python -c "import tests.kill_hooks as k; k.main()" run --config c.toml`` is
``stocktaker run …`` with, when ``STOCKTAKER_TEST_KILL=<point>:<n>`` is set, a
``SIGKILL`` of the process itself the ``n``-th time it reaches ``point``:

* ``journal`` — a burst is in the queue (fsynced), its room-journal line not written yet;
* ``journaled`` — the room-journal line is written (its fsync deferred), no feedback yet;
* ``parked`` — a full segment was just parked, waiting for the journals' flush;
* ``flushed`` — the sync flushed the journals and is about to take records out of the queue;
* ``delete`` — a room's report is saved, its journal not deleted yet.

``STOCKTAKER_TEST_SEGMENT=<records>`` makes the queue's segments that small, so that a
short walk rolls over segments.
"""

from __future__ import annotations

import functools
import os
import signal
import sys
from collections.abc import Callable
from typing import Any


def _kill_on(owner: Any, name: str, wanted: int, *, after: bool = False,
             only: Callable[..., bool] | None = None) -> None:
    real = getattr(owner, name)
    seen = [0]

    @functools.wraps(real)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        counts = only is None or only(*args, **kwargs)
        if counts:
            seen[0] += 1
        if counts and seen[0] == wanted and not after:
            os.kill(os.getpid(), signal.SIGKILL)
        result = real(*args, **kwargs)
        if counts and seen[0] == wanted and after:
            os.kill(os.getpid(), signal.SIGKILL)
        return result

    setattr(owner, name, wrapped)


def arm() -> None:
    """Install the kill point and segment size named in the environment."""
    from firmware.room import RoomJournal
    from sync.queue import open_segment, removal

    size = os.environ.get("STOCKTAKER_TEST_SEGMENT")
    if size:
        real_init = open_segment.OpenSegment.__init__

        def small(self: Any, index: Any, segment_size: int, seal_after: float) -> None:
            real_init(self, index, int(size), seal_after)

        open_segment.OpenSegment.__init__ = small  # type: ignore[method-assign]
    plan = os.environ.get("STOCKTAKER_TEST_KILL")
    if not plan:
        return
    point, _, count = plan.partition(":")
    n = int(count or "1")

    def deferred(self: Any, records: Any, wall: float, *, flush: bool = False) -> bool:
        return not flush

    if point == "journal":
        _kill_on(RoomJournal, "add_many", n, only=deferred)
    elif point == "journaled":
        _kill_on(RoomJournal, "add_many", n, after=True, only=deferred)
    elif point == "parked":
        _kill_on(open_segment.OpenSegment, "_park", n, after=True)
    elif point == "flushed":
        _kill_on(removal, "flush_journals", n, after=True)
        # Removal looks the function up in its own module.
    elif point == "delete":
        _kill_on(RoomJournal, "delete", n)
    else:
        raise SystemExit(f"unknown kill point {point!r}")


def main() -> None:
    """``stocktaker`` with the kill point armed."""
    arm()
    from firmware.cli import main as stocktaker

    sys.exit(stocktaker(sys.argv[1:]))
