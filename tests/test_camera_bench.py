"""``stocktaker bench camera`` runs the live camera path and prints its figures (not timed here)."""

from __future__ import annotations

from hal.camera import ZbarDecoder
from hal.camera.bench_stream import (SyntheticCamera, TimedDecoder, bench_camera,
                                     measure_latency, qr_frame)


def test_every_frame_of_a_fast_enough_camera_is_read_and_timed() -> None:
    decoder = TimedDecoder(ZbarDecoder())
    latencies, stats = measure_latency(SyntheticCamera([qr_frame((320, 240))], 20.0, 10),
                                       decoder)
    assert stats.captured == 10 and stats.decoded + stats.dropped == 10
    assert len(latencies) == stats.decoded == len(decoder.times)
    assert all(latency >= 0 for latency in latencies)


def test_the_benchmark_prints_a_line_per_decoder_and_decode_speed() -> None:
    lines = bench_camera(sizes=((320, 240),), fps=50.0, frames=6, slow_ms=30.0,
                         decoders=("zbar", "nope"))
    assert "latency = frame taken -> read" in lines[0] and "p99 ms" in lines[1]
    rows = [line.split() for line in lines if line.startswith("zbar")]
    assert [(row[1], row[2]) for row in rows] == [("320x240", "0"), ("320x240", "30")]
    for row in rows:
        captured, decoded, dropped, reads = map(int, row[6:10])
        assert captured == 6 and decoded + dropped == 6 and reads == decoded
    (unknown,) = [line for line in lines if line.startswith("nope")]
    assert "not available" in unknown
