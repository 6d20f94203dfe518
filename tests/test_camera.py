"""The camera seam: the folder stand-in, both decoders, and the reader that joins them."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Iterator

import numpy as np
import pytest
from PIL import Image

from hal.labels import DEMO_DISTORTIONS, blank_frame, code128_label, place_in_frame, qr_label
from hal.camera import (
    CameraReader,
    Decoder,
    FolderFrames,
    Frame,
    FrameSource,
    ZbarDecoder,
    ZxingDecoder,
    decode_image_file,
    open_decoder,
)
from hal.errors import DeviceError
from hal.read import Read

QR_PAYLOAD = b"https://assets.example.com/hardware/4512"
CODE128_PAYLOAD = b"IT-004512"


def qr_frame(seed: int = 0) -> Image.Image:
    label = qr_label(QR_PAYLOAD, caption="IT-004512")
    return place_in_frame(label, **DEMO_DISTORTIONS["qr"], seed=seed)


def code128_frame(seed: int = 0) -> Image.Image:
    label = code128_label(CODE128_PAYLOAD.decode())
    return place_in_frame(label, **DEMO_DISTORTIONS["code128"], seed=seed)


@pytest.fixture(params=["zbar", "zxing"])
def decoder(request: pytest.FixtureRequest) -> Decoder:
    if request.param == "zxing":
        pytest.importorskip("zxingcpp", reason="zxing-cpp is not installed (stocktaker[zxing])")
    return open_decoder(request.param)


class ListFrames(FrameSource):
    """Frames held in memory; records whether it was closed."""

    def __init__(self, frames: list[Frame]) -> None:
        self._frames = frames
        self.closed = 0

    def frames(self) -> Iterator[Frame]:
        yield from self._frames

    def close(self) -> None:
        self.closed += 1


class FailingOn(Decoder):
    """Decodes with zbar, except that it raises on frames whose top-left pixel is 0."""

    def __init__(self) -> None:
        self._zbar = ZbarDecoder()

    def decode(self, gray: np.ndarray) -> list[tuple[bytes, str]]:
        if gray[0, 0] == 0:
            raise RuntimeError("decoder crashed")
        return self._zbar.decode(gray)


# --- FolderFrames -------------------------------------------------------------------------


def test_folder_frames_come_in_name_order_on_a_virtual_clock(tmp_path: Path) -> None:
    levels = {"10.png": 10, "9.bmp": 90, "a.PGM": 160, "b.jpeg": 200, "c.TIF": 240}
    for name, level in levels.items():
        Image.new("L", (32, 24), level).save(tmp_path / name)
    (tmp_path / "notes.txt").write_text("not an image")
    (tmp_path / "d.png").mkdir()  # a folder with an image's name is not a frame

    with FolderFrames(tmp_path, fps=4.0) as source:
        frames = list(source.frames())

    assert [f.name for f in frames] == ["10.png", "9.bmp", "a.PGM", "b.jpeg", "c.TIF"]
    assert [f.at for f in frames] == [0.0, 0.25, 0.5, 0.75, 1.0]
    for frame, level in zip(frames, levels.values()):
        assert frame.gray.shape == (24, 32) and frame.gray.dtype == np.uint8
        assert abs(int(frame.gray.mean()) - level) <= 2  # jpeg may shift a flat grey by a level


def test_colour_images_become_grayscale(tmp_path: Path) -> None:
    Image.new("RGB", (20, 10), (255, 0, 0)).save(tmp_path / "red.png")
    (frame,) = FolderFrames(tmp_path).frames()
    assert frame.gray.shape == (10, 20)
    assert int(frame.gray[0, 0]) == 76  # ITU-R 601 luma of pure red


def test_corrupt_image_is_logged_and_skipped(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    qr_frame().save(tmp_path / "a.png")
    (tmp_path / "x.png").write_bytes(b"\x89PNG\r\n\x1a\n this is not really a png")
    code128_frame().save(tmp_path / "z.png")

    with caplog.at_level(logging.WARNING, logger="hal.camera"):
        with CameraReader(FolderFrames(tmp_path, fps=10.0), ZbarDecoder()) as reader:
            reads = list(reader.reads())

    assert [(r.payload, r.at) for r in reads] == [(QR_PAYLOAD, 0.0), (CODE128_PAYLOAD, 0.2)]
    assert any("x.png" in record.getMessage() for record in caplog.records)


def test_missing_folder_is_a_device_error(tmp_path: Path) -> None:
    with pytest.raises(DeviceError, match="nowhere"):
        FolderFrames(tmp_path / "nowhere")


def test_a_file_is_not_a_folder(tmp_path: Path) -> None:
    (tmp_path / "frame.png").write_bytes(b"")
    with pytest.raises(DeviceError, match="frame.png.*not a directory"):
        FolderFrames(tmp_path / "frame.png")


@pytest.mark.parametrize("fps", [0.0, -5.0, float("nan"), float("inf")])
def test_frame_rate_must_be_positive(tmp_path: Path, fps: float) -> None:
    with pytest.raises(ValueError, match="fps"):
        FolderFrames(tmp_path, fps=fps)


def test_closing_stops_a_replay(tmp_path: Path) -> None:
    for i in range(3):
        blank_frame(size=(64, 48), seed=i).save(tmp_path / f"{i}.png")
    source = FolderFrames(tmp_path)
    frames = source.frames()
    assert next(frames).name == "0.png"
    source.close()
    assert list(frames) == []
    with pytest.raises(ValueError, match="closed"):
        next(source.frames())


# --- Frame and CameraReader ---------------------------------------------------------------


@pytest.mark.parametrize(
    "bad", [np.zeros((4, 4, 3), np.uint8), np.zeros((4, 4), np.float32), np.zeros((0, 4), np.uint8)]
)
def test_a_frame_is_a_2d_uint8_picture(bad: np.ndarray) -> None:
    with pytest.raises(ValueError, match="2-D uint8"):
        Frame(gray=bad, at=0.0, name="bad")


def test_reader_yields_one_read_per_code_with_its_frame_time(tmp_path: Path) -> None:
    qr_frame(seed=1).save(tmp_path / "0.png")
    blank_frame(seed=1).save(tmp_path / "1.png")
    code128_frame(seed=1).save(tmp_path / "2.png")

    with CameraReader(FolderFrames(tmp_path, fps=5.0), ZbarDecoder(), name="cam0") as reader:
        reads = list(reader.reads())

    assert reads == [
        Read(payload=QR_PAYLOAD, symbology="QR", source="cam0", at=0.0),
        Read(payload=CODE128_PAYLOAD, symbology="CODE128", source="cam0", at=0.4),
    ]


def test_reader_reports_every_code_in_a_frame() -> None:
    both = np.hstack([np.asarray(qr_frame()), np.asarray(code128_frame())])
    reader = CameraReader(ListFrames([Frame(gray=both, at=3.5, name="both")]), ZbarDecoder())
    reads = list(reader.reads())
    assert sorted((r.payload, r.symbology, r.source, r.at) for r in reads) == [
        (CODE128_PAYLOAD, "CODE128", "camera", 3.5),
        (QR_PAYLOAD, "QR", "camera", 3.5),
    ]


def test_reader_logs_and_skips_a_frame_the_decoder_fails_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    crashing = np.asarray(qr_frame()).copy()
    crashing[0, 0] = 0
    source = ListFrames([
        Frame(gray=crashing, at=0.0, name="frame-0"),
        Frame(gray=np.asarray(code128_frame()), at=0.1, name="frame-1"),
    ])
    with caplog.at_level(logging.WARNING, logger="hal.camera"):
        with CameraReader(source, FailingOn(), name="cam0") as reader:
            reads = list(reader.reads())

    assert [(r.payload, r.at) for r in reads] == [(CODE128_PAYLOAD, 0.1)]
    (record,) = [r for r in caplog.records if r.name == "hal.camera"]
    assert "frame-0" in record.getMessage() and record.exc_info is not None
    assert source.closed == 1


# --- decoders -----------------------------------------------------------------------------


def test_both_decoders_read_a_qr_and_a_code128(decoder: Decoder) -> None:
    assert decoder.decode(np.asarray(qr_frame(seed=2))) == [(QR_PAYLOAD, "QR")]
    assert decoder.decode(np.asarray(code128_frame(seed=2))) == [(CODE128_PAYLOAD, "CODE128")]
    assert decoder.decode(np.asarray(blank_frame(seed=2))) == []


def test_both_decoders_read_a_non_contiguous_y_plane(decoder: Decoder) -> None:
    gray = np.asarray(qr_frame(seed=4))
    height, width = gray.shape
    # A YUV420 buffer as picamera2 hands it over: rows padded to a wider stride, U and V below.
    yuv = np.full((height * 3 // 2, width + 64), 128, dtype=np.uint8)
    yuv[:height, :width] = gray
    y_plane = yuv[:height, :width]
    assert not y_plane.flags.c_contiguous
    assert decoder.decode(y_plane) == [(QR_PAYLOAD, "QR")]


@pytest.mark.parametrize("name", ["zbar", "zxing"])
def test_decoders_can_be_restricted_to_some_symbologies(name: str) -> None:
    if name == "zxing":
        pytest.importorskip("zxingcpp", reason="zxing-cpp is not installed (stocktaker[zxing])")
    only_bars = open_decoder(name, ["CODE128"])
    assert only_bars.decode(np.asarray(qr_frame())) == []
    assert only_bars.decode(np.asarray(code128_frame())) == [(CODE128_PAYLOAD, "CODE128")]
    with pytest.raises(ValueError, match="NOPE"):
        open_decoder(name, ["QR", "NOPE"])


def test_zxing_payloads_are_the_raw_bytes() -> None:
    pytest.importorskip("zxingcpp", reason="zxing-cpp is not installed (stocktaker[zxing])")
    frame = place_in_frame(qr_label(b"\x00\x01\xe9\xff"), seed=0)
    assert ZxingDecoder().decode(np.asarray(frame)) == [(b"\x00\x01\xe9\xff", "QR")]


def test_unknown_decoder_names_the_valid_ones() -> None:
    with pytest.raises(ValueError, match="zbar, zxing"):
        open_decoder("opencv")


def test_missing_zbar_library_tells_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    # As when libzbar0 is absent: importing pyzbar.pyzbar raises ImportError.
    monkeypatch.setitem(sys.modules, "pyzbar", None)
    monkeypatch.setitem(sys.modules, "pyzbar.pyzbar", None)
    with pytest.raises(DeviceError, match="apt install libzbar0"):
        ZbarDecoder()


def test_missing_zxing_tells_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "zxingcpp", None)
    with pytest.raises(DeviceError, match=r"pip install 'stocktaker\[zxing\]'"):
        open_decoder("zxing")


# --- decode_image_file --------------------------------------------------------------------


def test_decode_image_file_reads_every_code(tmp_path: Path) -> None:
    path = tmp_path / "shelf.jpg"
    qr_frame().save(path, quality=90)
    assert decode_image_file(path, ZbarDecoder(), source="cli") == [
        Read(payload=QR_PAYLOAD, symbology="QR", source="cli", at=0.0)
    ]


@pytest.mark.parametrize("content", [b"garbage, not an image", None])
def test_decode_image_file_on_an_unreadable_file(tmp_path: Path, content: bytes | None) -> None:
    path = tmp_path / "label.png"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(DeviceError, match="label.png"):
        decode_image_file(path, ZbarDecoder())


# --- faults of the environment ------------------------------------------------------------


def test_a_folder_name_too_long_is_a_device_error_naming_it(tmp_path: Path) -> None:
    folder = tmp_path / ("x" * 5000)
    with pytest.raises(DeviceError, match="cannot use camera image folder") as caught:
        FolderFrames(folder)
    assert str(folder) in str(caught.value)


def test_a_folder_that_cannot_be_looked_at_is_a_device_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refused(self: Path) -> bool:
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "is_dir", refused)
    with pytest.raises(DeviceError, match="Permission denied") as caught:
        FolderFrames(tmp_path / "frames")
    assert str(tmp_path / "frames") in str(caught.value)


def test_a_folder_whose_entries_cannot_be_looked_at_is_a_device_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    Image.new("L", (8, 8)).save(tmp_path / "a.png")
    source = FolderFrames(tmp_path)

    def refused(self: Path) -> bool:
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "is_file", refused)  # a folder readable but not searchable
    with pytest.raises(DeviceError, match=f"cannot list camera image folder {tmp_path}"):
        list(source.frames())


def test_decode_image_file_names_the_file_a_decoder_fails_on(tmp_path: Path) -> None:
    path = tmp_path / "shelf.png"
    Image.new("L", (32, 32), 0).save(path)  # top-left pixel 0: FailingOn raises
    with pytest.raises(DeviceError, match="shelf.png.*RuntimeError: decoder crashed") as caught:
        decode_image_file(path, FailingOn())
    assert isinstance(caught.value.__cause__, RuntimeError)


def test_decode_image_file_passes_a_device_error_of_the_decoder_on_unchanged(
    tmp_path: Path,
) -> None:
    class Gone(Decoder):
        def decode(self, gray: np.ndarray) -> list[tuple[bytes, str]]:
            raise DeviceError("the decoder library went away")

    path = tmp_path / "shelf.png"
    Image.new("L", (32, 32), 255).save(path)
    with pytest.raises(DeviceError, match="^the decoder library went away$"):
        decode_image_file(path, Gone())
