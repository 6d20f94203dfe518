"""``stocktaker bench decode``: decode time per camera frame, zbar and zxing-cpp side by side."""

from __future__ import annotations

import statistics
import time
from collections.abc import Sequence

import numpy as np

from hal.camera.decode import open_decoder
from hal.errors import DeviceError


def _frames(size: tuple[int, int]) -> dict[str, np.ndarray]:
    # Drawn with the same generators as the demo room, so the figures match what it decodes.
    from firmware import labels

    qr = labels.qr_label("https://assets.example.com/hardware/4512", "IT-004512")
    bars = labels.code128_label("IT-004512")
    return {
        "QR": np.asarray(labels.place_in_frame(qr, size=size, seed=1)),
        "CODE128": np.asarray(labels.place_in_frame(bars, size=size, seed=2)),
        "empty": np.asarray(labels.blank_frame(size=size, seed=3)),
    }


def bench_decode(sizes: Sequence[tuple[int, int]] = ((320, 240), (640, 480)),
                 repeat: int = 40) -> list[str]:
    """Median ms per frame for each decoder, frame size and content; returns the lines."""
    lines = [f"{'decoder':<8}{'frame':>10}{'content':>9}{'median ms':>11}{'frames/s':>10}{'read':>6}"]
    for size in sizes:
        frames = _frames(size)
        for name in ("zbar", "zxing"):
            try:
                decoder = open_decoder(name)
            except DeviceError as exc:
                lines.append(f"{name:<8} not available: {exc}")
                continue
            for content, gray in frames.items():
                found = decoder.decode(gray)
                times = []
                for _ in range(repeat):
                    start = time.perf_counter()
                    decoder.decode(gray)
                    times.append((time.perf_counter() - start) * 1000)
                median = statistics.median(times)
                lines.append(f"{name:<8}{size[0]:>5}x{size[1]:<4}{content:>9}{median:>11.2f}"
                             f"{1000 / median:>10.0f}{'yes' if found else 'no':>6}")
    return lines
