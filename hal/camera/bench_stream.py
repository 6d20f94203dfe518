"""``stocktaker bench camera``: frame-to-read latency through the live camera path.

A synthetic live camera delivers frames at a fixed rate, each showing one QR label drawn by
the demo's label generator, stamped with the monotonic time it was "taken"; the frames go
through :class:`~hal.camera.base.CameraReader` (capture thread, one-frame mailbox, decoding
thread) exactly as a camera's do. The figure is the time from a frame's stamp to its read
coming out of :meth:`CameraReader.reads`, p50 and p99, with the frames captured, decoded
and dropped. A second run adds a fixed delay to each decode, slower than the frame rate,
to show that a slow decoder drops frames and does not fall behind.

The same measurement runs on a real camera with :func:`measure_latency`, given the source.
"""

from __future__ import annotations

import statistics
import threading
import time
from collections.abc import Callable, Iterator, Sequence

import numpy as np

from hal.camera.base import Decoder, Frame, FrameSource
from hal.camera.reader import CameraReader, CameraStats
from hal.camera.decode import open_decoder
from hal.errors import DeviceError

PAYLOAD = "https://assets.example.com/hardware/4512"


class SyntheticCamera(FrameSource):
    """A live source: ``count`` frames at ``fps``, cycling through ``pictures``, each
    stamped with the monotonic time it was delivered."""

    live = True

    def __init__(self, pictures: Sequence[np.ndarray], fps: float, count: int,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.pictures, self.fps, self.count, self._clock = list(pictures), fps, count, clock
        self._closed = False

    def frames(self) -> Iterator[Frame]:
        """Yield the frames at their pace until ``count`` or :meth:`close`."""
        start = self._clock()
        for n in range(self.count):
            if self._closed:
                return
            delay = start + n / self.fps - self._clock()
            if delay > 0:
                time.sleep(delay)
            yield Frame(gray=self.pictures[n % len(self.pictures)], at=self._clock(),
                        name=f"frame {n}")

    def close(self) -> None:
        """Stop delivering frames."""
        self._closed = True


class TimedDecoder(Decoder):
    """``decoder``, timed, then ``delay`` seconds more per frame (a decoder slower than the
    camera when ``delay`` exceeds the frame time); ``times`` holds each decode's ms."""

    def __init__(self, decoder: Decoder, delay: float = 0.0) -> None:
        self.decoder, self.delay = decoder, delay
        self.times: list[float] = []

    def decode(self, gray: np.ndarray) -> list[tuple[bytes, str]]:
        """Decode and time it, then wait ``delay`` seconds."""
        start = time.perf_counter()
        found = self.decoder.decode(gray)
        self.times.append((time.perf_counter() - start) * 1000)
        if self.delay:
            time.sleep(self.delay)
        return found


def measure_latency(source: FrameSource, decoder: Decoder,
                    clock: Callable[[], float] = time.monotonic
                    ) -> tuple[list[float], CameraStats]:
    """Run ``source`` through a :class:`CameraReader` to its end.

    Returns:
        The latency of each read, frame stamp to read yielded, in ms (``source`` must stamp
        frames with ``clock``), and the reader's counts.
    """
    latencies = []
    with CameraReader(source, decoder, name="bench") as reader:
        for read in reader.reads():
            latencies.append((clock() - read.at) * 1000)
        return latencies, reader.stats()


def qr_frame(size: tuple[int, int]) -> np.ndarray:
    """A camera-sized frame showing one QR label, as the demo draws them."""
    from hal import labels

    label = labels.qr_label(PAYLOAD, "IT-004512")
    return np.asarray(labels.place_in_frame(label, size=size, seed=1))


def bench_camera(sizes: Sequence[tuple[int, int]] = ((640, 480), (320, 240)),
                 fps: float = 30.0, frames: int = 150, slow_ms: float = 50.0,
                 decoders: Sequence[str] = ("auto", "zbar", "zxing")) -> list[str]:
    """Frame-to-read latency p50/p99 and drops per decoder and size; returns the lines.

    ``decode`` is the decoder's own median time per frame, so that what the camera path
    adds (latency minus decode) shows even on a busy machine.
    """
    lines = [f"live camera at {fps:g} fps, {frames} frames with one QR code each;"
             " latency = frame taken -> read out of CameraReader.reads()",
             f"{'decoder':<8}{'frame':>10}{'extra ms':>9}{'decode':>8}{'p50 ms':>8}"
             f"{'p99 ms':>8}{'captured':>9}{'decoded':>8}{'dropped':>8}{'reads':>6}"]
    for size in sizes:
        picture = qr_frame(size)
        for name in decoders:
            try:
                decoder = open_decoder(name)
            except (DeviceError, ValueError) as exc:  # a library missing, an unknown name
                lines.append(f"{name:<8} not available: {exc}")
                continue
            if decoder.decode(picture) != [(PAYLOAD.encode(), "QR")]:
                lines.append(f"{name:<8} does not read the benchmark frame")
                continue
            for extra in (0.0, slow_ms):
                timed = TimedDecoder(decoder, extra / 1000)
                source = SyntheticCamera([picture], fps, frames)
                latencies, stats = measure_latency(source, timed)
                p50, p99 = _percentiles(latencies)
                lines.append(f"{name:<8}{size[0]:>5}x{size[1]:<4}{extra:>9.0f}"
                             f"{statistics.median(timed.times):>8.2f}{p50:>8.2f}{p99:>8.2f}"
                             f"{stats.captured:>9}{stats.decoded:>8}{stats.dropped:>8}"
                             f"{len(latencies):>6}")
    return lines


def _percentiles(values: list[float]) -> tuple[float, float]:
    if len(values) < 2:
        return (values[0], values[0]) if values else (float("nan"), float("nan"))
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return statistics.median(values), cuts[98]


def bench_live(source: FrameSource, decoder: Decoder, seconds: float = 10.0,
               clock: Callable[[], float] = time.monotonic) -> list[str]:
    """The configured camera for ``seconds``: frames captured, decoded and dropped, decode ms,
    and what was read (``stocktaker bench decode --camera`` on a device). Returns the lines."""
    timed = TimedDecoder(decoder)
    reads: list[float] = []
    reader = CameraReader(source, timed, name="bench")
    start = clock()
    stop = threading.Timer(seconds, reader.close)
    stop.start()
    try:
        with reader:
            for read in reader.reads():
                reads.append((clock() - read.at) * 1000)
            stats = reader.stats()
    finally:
        stop.cancel()
    elapsed = max(clock() - start, 1e-9)
    p50, p99 = _percentiles(timed.times) if timed.times else (float("nan"), float("nan"))
    lines = [f"camera for {elapsed:.1f} s: {stats.captured} frames captured"
             f" ({stats.captured / elapsed:.1f}/s), {stats.decoded} decoded"
             f" ({stats.decoded / elapsed:.1f}/s), {stats.dropped} dropped, {stats.failed} failed",
             f"decode ms per frame: median {p50:.2f}, p99 {p99:.2f}"]
    if reads:
        r50, r99 = _percentiles(reads)
        lines.append(f"{len(reads)} codes read; frame to read ms: median {r50:.2f}, p99 {r99:.2f}")
    else:
        lines.append("no code read (hold a label in front of the camera to time reads)")
    return lines
