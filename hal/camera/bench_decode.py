"""``stocktaker bench decode [DIR...]``: pyzbar, zxing-cpp and stocktaker side by side.

Per image set (images each beside the ``.txt`` of what they encode, see
:mod:`hal.camera.decode_sets`): images read by pyzbar alone, by zxing-cpp alone, by either
(the union), by stocktaker's still-image pipeline, by any single harder option of either
library (the ceiling), and by the camera's stream pipeline held still over it
(:func:`held_still`); wrong reads of each; median ms per image of each still decoder, timed
in turn on the same picture. Then the stream figure: mean cost of the camera pipeline on
idle 640x480 frames against raw ``pyzbar.decode`` of the same frames.

Without a DIR, held-out sets are drawn into a temporary folder first.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from hal.camera.decode import DEFAULT_SYMBOLOGIES, SYMBOLOGIES, open_decoder
from hal.camera.symbologies import ZBAR_NAMES, ZXING_NAMES
from hal.camera.decode_passes import HARDER, ZBAR_DEFAULT, ZXING_DEFAULT, Libraries
from hal.camera.decode_sets import (
    ImageSet, correction, expected, find_sets, generate_sets, judge,
)
from hal.camera.files import load_gray

SET_SYMBOLOGIES = {
    "qrcode": ("QR",), "microqrcode": ("MICROQR",), "datamatrix": ("DATAMATRIX",),
    "code128": ("CODE128",), "code39": ("CODE39",), "code93": ("CODE93",), "itf": ("ITF",),
    "ean13": ("EAN13",), "ean8": ("EAN8",), "upca": ("UPCA",), "upce": ("UPCE",),
    "pdf417": ("PDF417",), "aztec": ("AZTEC",), "codabar": ("CODABAR",),
    "falsepositives": DEFAULT_SYMBOLOGIES,
}
"""What stocktaker is configured for on a set, by the set's name up to its last ``-``, as
a device is configured for the labels it scans (zxing-cpp's own test runner does the same);
a set of another name gets every symbology."""

IDLE_SIZE = (640, 480)
"""The frame size of the stream figure: the camera's lores stream."""


@dataclass(frozen=True)
class SetFigures:
    """What each decoder did on one image set (reads: images whose code was read)."""

    name: str
    images: int
    pyzbar: int
    zxing: int
    union: int
    stocktaker: int
    ceiling: int
    wrong_pyzbar: int
    wrong_zxing: int
    wrong_stocktaker: int
    stream: int
    wrong_stream: int
    ms_pyzbar: float
    ms_zxing: float
    ms_stocktaker: float
    corrected: tuple[str, ...] = ()
    """Images judged by their printed value, their expected file being known wrong
    (:data:`hal.camera.decode_sets.CORRECTIONS`)."""


def _timed(decode: Callable[[], list[tuple[bytes, str]]]) -> tuple[list[tuple[bytes, str]], float]:
    start = time.perf_counter()
    reads = decode()
    return reads, (time.perf_counter() - start) * 1000


def measure_set(image_set: ImageSet, symbologies: Sequence[str] | None = None) -> SetFigures:
    """Decode every image of a set with each decoder in turn, and count.

    Args:
        image_set: the images and their expected content.
        symbologies: what stocktaker (and the ceiling's passes) look for; when ``None``,
            those of :data:`SET_SYMBOLOGIES` for the set's name.
    """
    from pyzbar import pyzbar
    import zxingcpp

    if not symbologies:
        symbologies = SET_SYMBOLOGIES.get(image_set.name.rsplit("-", 1)[0],
                                          tuple(SYMBOLOGIES["auto"]))
    wanted = frozenset(s.upper() for s in symbologies)
    still = open_decoder("auto", sorted(wanted), still=True)
    libraries = Libraries(wanted, both_ways=False)  # the ceiling is the bare libraries'
    counts = dict.fromkeys(("pyzbar", "zxing", "union", "stocktaker", "ceiling", "wrong_pyzbar",
                            "wrong_zxing", "wrong_stocktaker", "stream", "wrong_stream"), 0)
    times: dict[str, list[float]] = {"pyzbar": [], "zxing": [], "stocktaker": []}
    decoders = {
        "pyzbar": lambda gray: [(s.data, ZBAR_NAMES.get(s.type, s.type)) for s in pyzbar.decode(gray)],
        "zxing": lambda gray: [(c.text.encode("utf-8", "surrogateescape"), _zxing_name(c)) for c in
                               zxingcpp.read_barcodes(gray, text_mode=zxingcpp.TextMode.Plain)],
        "stocktaker": still.decode,
    }
    for image in image_set.images:
        gray = load_gray(image)
        wanted_value = expected(image) if image_set.has_codes else None
        right = {}
        for name, decode in decoders.items():
            reads, ms = _timed(lambda: decode(gray))
            times[name].append(ms)
            right[name], wrong = judge(reads, wanted_value)
            counts[name] += right[name]
            counts[f"wrong_{name}"] += wrong
        counts["union"] += right["pyzbar"] or right["zxing"]
        seen, wrong = judge(held_still(gray, sorted(wanted)), wanted_value)
        counts["stream"] += seen
        counts["wrong_stream"] += wrong
        counts["ceiling"] += any(
            judge([(f.payload, f.symbology) for f in libraries.run(step, gray) if f.decoded],
                  wanted_value)[0] for step in (ZXING_DEFAULT, ZBAR_DEFAULT, *HARDER))
    corrected = tuple(image.name for image in image_set.images
                      if image_set.has_codes and correction(image) is not None)
    figures: dict[str, Any] = {**counts, **{f"ms_{k}": round(statistics.median(v), 2) if v else 0.0
                                             for k, v in times.items()}}
    return SetFigures(name=image_set.name, images=len(image_set.images), corrected=corrected,
                      **figures)


STREAM_FRAMES = 4
"""Frames of the stream figure per picture: a camera held still over it."""


def held_still(gray: np.ndarray, symbologies: Sequence[str]) -> list[tuple[bytes, str]]:
    """What the camera's stream pipeline (redundancy 2) reports from a camera held still over
    a picture: :data:`STREAM_FRAMES` frames, every other one with sensor noise of up to three
    grey levels (drawn from a fixed seed), each value once."""
    stream = open_decoder("auto", symbologies, redundancy=2)
    noise = np.random.default_rng(len(gray)).integers(-3, 4, gray.shape, dtype=np.int16)
    noisy = np.clip(gray.astype(np.int16) + noise, 0, 255).astype(np.uint8)
    reported: dict[tuple[bytes, str], None] = {}
    for n in range(STREAM_FRAMES):
        reported.update(dict.fromkeys(stream.decode(noisy if n % 2 else gray)))
    return list(reported)


def _zxing_name(code: Any) -> str:
    return ZXING_NAMES.get(code.format.name, code.format.name.upper())


def idle_frames(sets: Sequence[ImageSet], count: int = 12) -> list[np.ndarray]:
    """640x480 frames with nothing in view: desks drawn here, and the images of every
    ``falsepositives-*`` set given, resized."""
    from hal.labels import blank_frame

    frames = [np.asarray(blank_frame(size=IDLE_SIZE, seed=seed)) for seed in range(count)]
    for image_set in sets:
        if not image_set.has_codes:
            for image in image_set.images:
                picture = Image.fromarray(load_gray(image)).resize(IDLE_SIZE)
                frames.append(np.asarray(picture))
    return frames


def measure_idle(frames: Sequence[np.ndarray], repeat: int = 5) -> dict[str, float]:
    """Mean ms per idle frame of the camera pipeline (default symbologies) and of raw pyzbar.

    Each frame is decoded ``repeat`` times by each, in turn; the pipeline keeps its state
    across frames as on the device.
    """
    from pyzbar import pyzbar

    stream = open_decoder("auto", DEFAULT_SYMBOLOGIES)
    ours, theirs = [], []
    for frame in frames:
        for _ in range(repeat):
            ours.append(_timed(lambda: stream.decode(frame))[1])
            theirs.append(_timed(lambda: pyzbar.decode(frame))[1])
    mean_ours, mean_theirs = statistics.mean(ours), statistics.mean(theirs)
    return {"frames": len(frames), "stocktaker_ms": round(mean_ours, 3),
            "pyzbar_ms": round(mean_theirs, 3), "ratio": round(mean_ours / mean_theirs, 3),
            "thorough_frames": getattr(stream, "thorough_frames", 0) / repeat}


def bench_decode_figures(dirs: Sequence[Path] = (), symbologies: Sequence[str] | None = None,
                         per_set: int = 30) -> dict[str, Any]:
    """Every figure of ``stocktaker bench decode``, as one JSON-ready object.

    Args:
        dirs: image sets, or folders of them; none draws held-out sets (``per_set`` images
            each) into a temporary folder.
        symbologies: what stocktaker looks for on the sets; by set name when ``None``.
        per_set: images per drawn set.

    Raises:
        DeviceError: a folder is missing or holds no image set.
    """
    with tempfile.TemporaryDirectory() as tmp:
        if not dirs:
            generate_sets(Path(tmp), per_set=per_set)
            dirs = [Path(tmp)]
        sets = [image_set for folder in dirs for image_set in find_sets(Path(folder))]
        rows = [asdict(measure_set(image_set, symbologies)) for image_set in sets]
        idle = measure_idle(idle_frames(sets))
    return {"sets": rows, "idle": idle}


def format_figures(figures: dict[str, Any]) -> list[str]:
    """The figures as a table, one line per set, then the stream figure."""
    head = (f"{'set':<20}{'imgs':>5}{'pyzbar':>7}{'zxing':>6}{'union':>6}{'ours':>5}"
            f"{'ceil':>5}{'strm':>5}  {'wrong pz/zx/ours/strm':>21}  {'ms pz/zx/ours':>20}")
    lines = [head]
    for row in figures["sets"]:
        wrong = (f"{row['wrong_pyzbar']}/{row['wrong_zxing']}/{row['wrong_stocktaker']}"
                 f"/{row['wrong_stream']}")
        ms = f"{row['ms_pyzbar']:.2f}/{row['ms_zxing']:.2f}/{row['ms_stocktaker']:.2f}"
        lines.append(f"{row['name'][:19]:<20}{row['images']:>5}{row['pyzbar']:>7}"
                     f"{row['zxing']:>6}{row['union']:>6}{row['stocktaker']:>5}"
                     f"{row['ceiling']:>5}{row['stream']:>5}  {wrong:>21}  {ms:>20}")
    for row in figures["sets"]:
        if row.get("corrected"):
            lines.append(f"{row['name']}: judged by the printed value, the expected file being"
                         f" known wrong: {', '.join(row['corrected'])}")
    idle = figures["idle"]
    lines.append(f"idle {IDLE_SIZE[0]}x{IDLE_SIZE[1]} frames ({idle['frames']}): stocktaker "
                 f"{idle['stocktaker_ms']:.2f} ms vs pyzbar {idle['pyzbar_ms']:.2f} ms per frame,"
                 f" ratio {idle['ratio']:.3f} ({idle['thorough_frames']:.0f} decoded thoroughly)")
    return lines


def _labelled_frames(size: tuple[int, int]) -> dict[str, np.ndarray]:
    # Drawn with the same generators as the demo room, so the figures match what it decodes.
    from hal import labels

    qr = labels.qr_label("https://assets.example.com/hardware/4512", "IT-004512")
    bars = labels.code128_label("IT-004512")
    return {
        "QR": np.asarray(labels.place_in_frame(qr, size=size, seed=1)),
        "CODE128": np.asarray(labels.place_in_frame(bars, size=size, seed=2)),
        "empty": np.asarray(labels.blank_frame(size=size, seed=3)),
    }


def bench_decode(sizes: Sequence[tuple[int, int]] = ((320, 240), (640, 480)),
                 repeat: int = 40) -> list[str]:
    """Median ms per demo frame (a QR label, a Code 128 label, no code) for each decoder
    (zbar, zxing-cpp, and the ``auto`` still pipeline); returns the lines."""
    from hal.errors import DeviceError

    lines = [f"{'decoder':<8}{'frame':>10}{'content':>9}{'median ms':>11}{'frames/s':>10}"
             f"{'read':>6}"]
    for size in sizes:
        frames = _labelled_frames(size)
        for name in ("zbar", "zxing", "auto"):
            try:
                decoder = open_decoder(name, still=True)
            except DeviceError as exc:
                lines.append(f"{name:<8} not available: {exc}")
                continue
            for content, gray in frames.items():
                found = decoder.decode(gray)
                median = statistics.median(_timed(lambda: decoder.decode(gray))[1]
                                           for _ in range(repeat))
                lines.append(f"{name:<8}{size[0]:>5}x{size[1]:<4}{content:>9}{median:>11.2f}"
                             f"{1000 / median:>10.0f}{'yes' if found else 'no':>6}")
    return lines
