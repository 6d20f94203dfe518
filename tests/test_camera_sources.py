"""One factory for every camera source, and the reader's capture thread, mailbox and drops."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from hal.labels import blank_frame, place_in_frame, qr_label
from firmware.readers import ReaderFailed, merge_read_bursts
from hal.camera import (BACKENDS, CameraReader, CameraSettings, CameraStats, Decoder,
                        FolderFrames, Frame, FrameSource, NullCamera, ZbarDecoder, open_camera,
                        open_frame_source)
from hal.camera.sources import camera_number, webcam_path
from hal.resource import ReadGuard
from hal.errors import DeviceError
from hal.read import Read

TINY = np.full((4, 4), 200, dtype=np.uint8)
WAIT = 30.0  # upper bound only: every wait returns as soon as its event is set


def qr_picture(text: str, seed: int = 0) -> np.ndarray:
    return np.asarray(place_in_frame(qr_label(text), size=(320, 240), seed=seed))


class PacedCamera(FrameSource):
    """A live source: ``count`` frames, one every ``period`` seconds, taken or not."""

    live = True

    def __init__(self, count: int, period: float, gray: np.ndarray = TINY) -> None:
        self.count, self.period, self.gray = count, period, gray
        self.closed = threading.Event()

    def frames(self) -> Iterator[Frame]:
        start = time.monotonic()
        for n in range(self.count):
            if self.closed.is_set():
                return
            time.sleep(max(0.0, start + n * self.period - time.monotonic()))
            yield Frame(gray=self.gray, at=time.monotonic(), name=str(n))

    def close(self) -> None:
        self.closed.set()


class Numbered(FrameSource):
    """A recorded source of numbered frames; optionally fails after them."""

    def __init__(self, count: int, fail: BaseException | None = None) -> None:
        self.count, self.fail = count, fail
        self.closes = 0

    def frames(self) -> Iterator[Frame]:
        for n in range(self.count):
            yield Frame(gray=TINY, at=n / 10, name=str(n))
        if self.fail is not None:
            raise self.fail

    def close(self) -> None:
        self.closes += 1


class Blocked(FrameSource):
    """A camera stuck inside a read until it is let go; records when it was closed."""

    live = True

    def __init__(self) -> None:
        self.let_go = threading.Event()
        self.inside = threading.Event()
        self.closed_at: float | None = None
        self.read_returned_at: float | None = None

    def frames(self) -> Iterator[Frame]:
        self.inside.set()
        self.let_go.wait(5)
        self.read_returned_at = time.monotonic()
        return
        yield  # a generator

    def close(self) -> None:
        self.closed_at = time.monotonic()


class SlowRecorder(Decoder):
    """Sleeps ``delay`` per frame and records the threads it was called from."""

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.threads: set[int] = set()

    def decode(self, gray: np.ndarray) -> list[tuple[bytes, str]]:
        self.threads.add(threading.get_ident())
        time.sleep(self.delay)
        return [(b"code", "QR")]


class NamingDecoder(SlowRecorder):
    """Reports each frame's top-left pixel as the payload, to tell the frames apart."""

    def decode(self, gray: np.ndarray) -> list[tuple[bytes, str]]:
        super().decode(gray)
        return [(str(int(gray[0, 0])).encode(), "QR")]


# --- the factory --------------------------------------------------------------------------


def test_none_is_no_camera() -> None:
    with open_camera(CameraSettings("none"), decoder=ZbarDecoder()) as camera:
        assert isinstance(camera, NullCamera) and list(camera.reads()) == []


def test_an_unknown_backend_names_the_known_ones() -> None:
    with pytest.raises(DeviceError, match="unknown camera backend 'webcam' .known: files,"
                                          " none, video, v4l2, picamera2"):
        open_camera(CameraSettings("webcam"), decoder=ZbarDecoder())


def test_files_backend_reads_a_folder_in_order(tmp_path: Path) -> None:
    for n in range(3):
        place_in_frame(qr_label(f"IT-00000{n}"), seed=n).save(tmp_path / f"{n}.png")
    reader = open_camera(CameraSettings("files", path=tmp_path, fps=4.0),
                         decoder=ZbarDecoder(), name="cam")
    assert reader is not None and not reader.live
    with reader:
        reads = list(reader.reads())
    assert [(r.payload, r.at, r.source) for r in reads] == [
        (b"IT-000000", 0.0, "cam"), (b"IT-000001", 0.25, "cam"), (b"IT-000002", 0.5, "cam")]
    assert reader.stats() == CameraStats(captured=3, decoded=3, dropped=0, failed=0)


def test_every_backend_is_built_by_the_factory_or_refused_clearly(tmp_path: Path) -> None:
    assert set(BACKENDS) == {"files", "video", "v4l2", "picamera2", "none"}
    assert isinstance(open_frame_source(CameraSettings("files", path=tmp_path)), FolderFrames)
    with pytest.raises(DeviceError, match="cannot open video file .*nothing.mp4"):
        open_frame_source(CameraSettings("video", path=tmp_path / "nothing.mp4"))
    with pytest.raises(DeviceError, match="cannot open webcam /dev/video97.*plugged in"):
        open_frame_source(CameraSettings("v4l2", device="97"))


@pytest.mark.parametrize(("device", "path"), [("", "/dev/video0"), ("2", "/dev/video2"),
                                              (" /dev/v4l/by-id/usb-cam ",
                                               "/dev/v4l/by-id/usb-cam")])
def test_webcams_are_named_by_path_or_number(device: str, path: str) -> None:
    assert webcam_path(device) == path


@pytest.mark.parametrize("device", ["video0", "٣", "cam\x1b[2J"])
def test_a_webcam_name_that_is_neither_is_refused(device: str) -> None:
    with pytest.raises(DeviceError, match="is not a webcam") as caught:
        webcam_path(device)
    assert "\x1b" not in str(caught.value)


def test_cameras_are_numbered() -> None:
    assert (camera_number(""), camera_number("1")) == (0, 1)
    with pytest.raises(DeviceError, match="'/dev/video0' is not a camera number"):
        camera_number("/dev/video0")


# --- the reader: live sources drop, recorded ones do not ----------------------------------


def test_a_slow_decoder_drops_live_frames_and_always_takes_the_newest() -> None:
    camera = PacedCamera(count=60, period=0.002)
    decoder = SlowRecorder(delay=0.02)
    reader = CameraReader(camera, decoder)
    names = []
    for read in reader.reads():
        names.append(read)
    stats = reader.stats()
    assert stats.captured == 60 and stats.dropped > 30
    assert stats.decoded + stats.dropped == stats.captured  # nothing queued, nothing lost
    assert len(decoder.threads) == 1  # one decoding thread, so a decoder may keep state
    assert len(names) == stats.decoded
    times = [r.at for r in names]
    assert times == sorted(times)  # in frame order
    reader.close()


def test_the_newest_frame_replaces_the_waiting_one() -> None:
    busy = threading.Event()

    class Shades(PacedCamera):
        """Frame 0, then frames 1 to 9 while the decoder is busy with frame 0."""

        def frames(self) -> Iterator[Frame]:
            for n in range(10):
                yield Frame(gray=np.full((2, 2), n, np.uint8), at=float(n), name=str(n))
                if n == 0:
                    busy.wait(2)

    class Busy(NamingDecoder):
        def decode(self, gray: np.ndarray) -> list[tuple[bytes, str]]:
            busy.set()
            return super().decode(gray)

    reader = CameraReader(Shades(0, 0.0), Busy(delay=0.2))
    assert [read.payload for read in reader.reads()] == [b"0", b"9"]
    assert reader.stats() == CameraStats(captured=10, decoded=2, dropped=8, failed=0)


def test_a_recorded_source_is_decoded_frame_by_frame_however_slow_the_decoder() -> None:
    decoder = SlowRecorder(delay=0.005)
    reader = CameraReader(Numbered(20), decoder)
    reads = list(reader.reads())
    assert [r.at for r in reads] == [n / 10 for n in range(20)]
    assert reader.stats() == CameraStats(captured=20, decoded=20, dropped=0, failed=0)


class StuckDecoder(Decoder):
    """Blocks inside ``decode`` until released: a decode that takes as long as the test says."""

    def __init__(self) -> None:
        self.inside = threading.Event()
        self.release = threading.Event()
        self.finished = 0

    def decode(self, gray: np.ndarray) -> list[tuple[bytes, str]]:
        self.inside.set()
        self.release.wait(WAIT)
        self.finished += 1
        return [(b"code", "QR")]


def test_a_slow_decode_never_delays_another_reader() -> None:
    """A scan typed while the camera's decode is stuck comes out of the merge at once,
    before that decode ends."""
    decoder = StuckDecoder()
    camera = CameraReader(PacedCamera(count=1000, period=0.01), decoder)
    typed = Read(b"IT-000001", "UNKNOWN", "stdin", 0.0)
    scanner: queue.Queue[Read | None] = queue.Queue()

    def scans() -> Iterator[Read]:
        while (read := scanner.get()) is not None:
            yield read

    merged: queue.Queue[list[Read]] = queue.Queue()

    def merge() -> None:
        for burst in merge_read_bursts([camera.reads(), scans()]):
            if burst:
                merged.put(burst)

    threading.Thread(target=merge, daemon=True).start()
    try:
        assert decoder.inside.wait(WAIT)
        scanner.put(typed)
        assert merged.get(timeout=WAIT) == [typed]
        assert decoder.finished == 0, "the typed scan waited for the camera's decode"
    finally:
        decoder.release.set()
        scanner.put(None)
        camera.close()


# --- the reader: stopping and failing -----------------------------------------------------


def test_close_from_another_thread_ends_reads_at_once_and_never_under_a_read() -> None:
    source = Blocked()
    reader = CameraReader(source, ZbarDecoder())
    ended = threading.Event()
    threading.Thread(target=lambda: (list(reader.reads()), ended.set()), daemon=True).start()
    assert source.inside.wait(1)
    closing = threading.Thread(target=reader.close)
    start = time.monotonic()
    closing.start()
    assert ended.wait(0.5) and time.monotonic() - start < 0.5  # reads() ended promptly
    source.let_go.set()  # the capture thread's read returns only now
    closing.join(3)
    assert source.closed_at is not None and source.read_returned_at is not None


def test_a_reader_closed_before_its_reads_yields_nothing() -> None:
    source = Numbered(3)
    reader = CameraReader(source, ZbarDecoder())
    reader.close()
    reader.close()
    assert list(reader.reads()) == [] and source.closes == 1


def test_reads_can_be_taken_once() -> None:
    reader = CameraReader(Numbered(1), SlowRecorder(0))
    list(reader.reads())
    with pytest.raises(ValueError, match="once"):
        list(reader.reads())


def test_a_source_that_fails_ends_its_reads_with_one_clear_device_error() -> None:
    gone = OSError(19, "No such device")
    reader = CameraReader(Numbered(2, fail=gone), SlowRecorder(0), name="cam0")
    reads = reader.reads()
    assert len([next(reads), next(reads)]) == 2  # the frames before the failure count
    no_device = r"^cam0: OSError: \[Errno 19\] No such device$"
    with pytest.raises(DeviceError, match=no_device) as caught:
        next(reads)
    assert caught.value.__cause__ is gone
    assert list(reads) == []


def test_a_lost_camera_is_reported_once_and_the_other_readers_go_on() -> None:
    camera = CameraReader(Numbered(1, fail=DeviceError("the camera failed: unplugged")),
                          SlowRecorder(0))
    typed = [Read(b"IT-000001", "UNKNOWN", "stdin", 0.0)]
    failures: list[ReaderFailed] = []
    reads = [r for burst in merge_read_bursts([camera.reads(), iter(typed)],
                                              on_failure=failures.append) for r in burst]
    assert sorted(r.source for r in reads) == ["camera", "stdin"]
    (failure,) = failures
    assert str(failure) == "camera: the camera failed: unplugged"


def test_a_frame_the_decoder_fails_on_is_counted(caplog: pytest.LogCaptureFixture) -> None:
    class Failing(Decoder):
        def decode(self, gray: np.ndarray) -> list[tuple[bytes, str]]:
            raise RuntimeError("decoder crashed")

    reader = CameraReader(Numbered(3), Failing())
    assert list(reader.reads()) == []
    assert reader.stats() == CameraStats(captured=3, decoded=3, dropped=0, failed=3)
    assert len([r for r in caplog.records if "could not decode" in r.getMessage()]) == 1


def test_a_real_qr_through_a_live_source() -> None:
    camera = PacedCamera(count=3, period=0.01, gray=qr_picture("IT-004512"))
    reader = CameraReader(camera, ZbarDecoder())
    payloads = {read.payload for read in reader.reads()}
    assert payloads == {b"IT-004512"}
    blank = np.asarray(blank_frame(size=(320, 240)))
    assert ZbarDecoder().decode(blank) == []


# --- the guard ----------------------------------------------------------------------------


def test_the_guard_releases_once_after_the_read_in_progress() -> None:
    released: list[str] = []
    guard = ReadGuard(lambda: released.append("released"))
    assert guard.enter()
    guard.close()
    assert released == []  # a read is in progress
    assert guard.leave() is False and released == ["released"]
    assert guard.enter() is False
    guard.close()
    assert released == ["released"]


def test_the_guard_releases_at_once_when_idle() -> None:
    released: list[str] = []
    guard = ReadGuard(lambda: released.append("released"))
    assert guard.enter() and guard.leave()
    guard.close()
    assert released == ["released"] and guard.closed


# --- the configuration keys of the sources ------------------------------------------------


@pytest.mark.parametrize(("text", "named"), [
    ('backend = "v4l2"\ndevice = "video0"', "camera.device: 'video0' is not a webcam"),
    ('backend = "picamera2"\ndevice = "/dev/video0"',
     "camera.device: '/dev/video0' is not a camera number"),
    ("fps = 10\nexposure_ms = 150", "camera.exposure_ms: 150.0 ms is longer than one frame at"
                                    " camera.fps = 10 (100 ms)"),
    ("width = 8", "camera.width: must be from 16 to 4096 pixels"),
    ("height = 5000", "camera.height: must be from 16 to 4096 pixels"),
    ('autofocus = "yes"', "camera.autofocus: expected true or false"),
])
def test_camera_source_keys_refuse_wrong_values(tmp_path: Path, text: str, named: str) -> None:
    from firmware.config import load_config
    from firmware.errors import ConfigError

    path = tmp_path / "stocktaker.toml"
    path.write_text(f"[camera]\n{text}\n", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert str(caught.value).startswith(named)


def test_camera_source_keys_load(tmp_path: Path) -> None:
    from firmware.config import load_config

    path = tmp_path / "stocktaker.toml"
    path.write_text('[camera]\nbackend = "v4l2"\ndevice = "/dev/v4l/by-id/usb-cam"\n'
                    "width = 320\nheight = 240\nfps = 30\nexposure_ms = 2.5\n"
                    "autofocus = false\n", encoding="utf-8")
    camera = load_config(path).camera
    assert (camera.backend, camera.device, camera.width, camera.height, camera.fps,
            camera.exposure_ms, camera.autofocus) == (
        "v4l2", "/dev/v4l/by-id/usb-cam", 320, 240, 30.0, 2.5, False)


def test_a_source_that_cannot_start_is_a_device_error_not_a_hang() -> None:
    class Refusing(Numbered):
        def frames(self) -> Iterator[Frame]:  # not a generator: raises when called
            raise DeviceError("camera busy")

    reader = CameraReader(Refusing(0), SlowRecorder(0))
    with pytest.raises(DeviceError, match="^camera: camera busy$"):
        list(reader.reads())


def test_a_merge_stopped_early_ends_the_camera_threads_before_it_returns() -> None:
    def camera_threads() -> set[threading.Thread]:
        return {t for t in threading.enumerate() if t.name in ("reader", "camera-capture")}

    before = camera_threads()
    camera = CameraReader(PacedCamera(count=10**9, period=0.001), SlowRecorder(delay=0.0))
    bursts = merge_read_bursts([camera.reads()], stop_readers=camera.close)
    assert next(bursts)[0].payload == b"code"
    assert len(camera_threads() - before) == 2  # reading and capturing, endlessly
    bursts.close()  # a stop signal
    assert camera_threads() - before == set()
