"""A video file as the camera: written here with PyAV, labels drawn by hal.labels."""

from __future__ import annotations

import sys
import wave
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from hal.labels import blank_frame, code128_label, place_in_frame, qr_label
from hal.camera import CameraSettings, CameraStats, ZbarDecoder, open_camera
from hal.camera.video import VideoFileFrames, luminance
from hal.errors import DeviceError
from tests.rooms import make_room, write_config, write_frames
from tests.test_e2e import assert_report_matches, only_report, run_stocktaker

LABELS = ["IT-000101", "IT-000102", "IT-000103"]


def write_video(path: Path, pictures: list[np.ndarray], *, codec: str = "libx264",
                pix_fmt: str = "yuv420p", fps: int = 5) -> Path:
    """Encode gray pictures as a video file, as a phone or a camera would record them."""
    height, width = pictures[0].shape
    with av.open(str(path), "w") as out:
        stream = out.add_stream(codec, rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, pix_fmt
        if codec == "libx264":
            stream.options = {"crf": "16", "preset": "ultrafast"}
        for picture in pictures:
            frame = av.VideoFrame.from_ndarray(picture, format="gray")
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


def walk(size: tuple[int, int] = (640, 480)) -> list[np.ndarray]:
    """Each label in one frame, an empty frame after each."""
    pictures = []
    for n, text in enumerate(LABELS):
        label = qr_label(text, text) if n != 1 else code128_label(text)
        pictures.append(np.asarray(place_in_frame(label, size=size, seed=n).convert("L")))
        pictures.append(np.asarray(blank_frame(size=size, seed=n).convert("L")))
    return pictures


def test_a_video_file_is_read_end_to_end_every_label_in_order(tmp_path: Path) -> None:
    path = write_video(tmp_path / "walk.mp4", walk(), fps=5)
    reader = open_camera(CameraSettings("video", path=path), decoder=ZbarDecoder(), name="cam")
    assert reader is not None and not reader.live
    with reader:
        reads = list(reader.reads())
    assert [(r.payload.decode(), r.symbology, r.source) for r in reads] == [
        ("IT-000101", "QR", "cam"), ("IT-000102", "CODE128", "cam"), ("IT-000103", "QR", "cam")]
    assert [r.at for r in reads] == pytest.approx([0.0, 0.4, 0.8])  # times in the file
    assert reader.stats() == CameraStats(captured=6, decoded=6, dropped=0, failed=0)


def test_the_y_plane_is_taken_without_a_copy_rows_cut_to_the_width(tmp_path: Path) -> None:
    pictures = walk(size=(600, 450))  # rows padded past 600 bytes by the decoder
    path = write_video(tmp_path / "odd.mkv", pictures[:1])
    with VideoFileFrames(path) as source:
        (frame,) = list(source.frames())
    assert frame.gray.shape == (450, 600) and not frame.gray.flags.owndata
    # The encoder stored the gray levels in video's limited range (16 to 235), lossily.
    expected = 16 + pictures[0].astype(float) * 219 / 255
    assert np.abs(frame.gray - expected).mean() < 3
    assert ZbarDecoder().decode(frame.gray) == [(b"IT-000101", "QR")]


def test_other_pixel_formats_are_converted_to_gray(tmp_path: Path) -> None:
    picture = np.asarray(place_in_frame(qr_label("IT-000101"), size=(320, 240), seed=1))
    path = write_video(tmp_path / "rgb.avi", [picture], codec="ffv1", pix_fmt="bgr0")
    with av.open(str(path)) as container:
        decoded = next(container.decode(video=0))
        assert decoded.format.name == "bgr0"
        assert np.array_equal(luminance(decoded), picture)  # lossless codec, gray in and out


def test_closing_stops_a_replay(tmp_path: Path) -> None:
    source = VideoFileFrames(write_video(tmp_path / "walk.mp4", walk()))
    frames = source.frames()
    assert next(frames).name == "frame 0"
    source.close()
    assert list(frames) == []
    with pytest.raises(ValueError, match="closed"):
        next(source.frames())
    source.close()


@pytest.mark.parametrize(("content", "named"), [
    (None, "cannot open video file .*missing.mp4: .*No such file"),
    (b"this is not a video" * 10, "cannot open video file .*missing.mp4: .*Invalid data"),
])
def test_a_missing_or_garbage_file_is_a_device_error(tmp_path: Path, content: bytes | None,
                                                     named: str) -> None:
    path = tmp_path / "missing.mp4"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(DeviceError, match=named):
        VideoFileFrames(path)


def test_a_sound_file_has_no_video_stream(tmp_path: Path) -> None:
    path = tmp_path / "beep.wav"
    with wave.open(str(path), "wb") as sound:
        sound.setnchannels(1)
        sound.setsampwidth(2)
        sound.setframerate(8000)
        sound.writeframes(b"\x00\x00" * 800)
    with pytest.raises(DeviceError, match="beep.wav has no video stream"):
        VideoFileFrames(path)


def test_a_truncated_file_gives_the_frames_before_the_break(tmp_path: Path) -> None:
    path = write_video(tmp_path / "walk.mkv", walk())
    data = path.read_bytes()
    path.write_bytes(data[: len(data) * 2 // 3])
    reader = open_camera(CameraSettings("video", path=path), decoder=ZbarDecoder())
    assert reader is not None
    with reader:
        payloads = [r.payload for r in reader.reads()]
    assert payloads[:1] == [b"IT-000101"]


def test_without_pyav_the_error_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch,
                                                       tmp_path: Path) -> None:
    monkeypatch.setitem(sys.modules, "av", None)
    with pytest.raises(DeviceError, match=r"pip install 'stocktaker\[video\]'"):
        open_camera(CameraSettings("video", path=tmp_path / "walk.mp4"), decoder=ZbarDecoder())


def test_stocktaker_run_audits_a_room_from_a_video_file(tmp_path: Path) -> None:
    """The whole device, its camera a video of the walk the folder test shows as images."""
    room = make_room(4)
    room.write_manifest(tmp_path / "expected.csv")
    write_frames(room, tmp_path / "pictures")
    pictures = [np.asarray(Image.open(path).convert("L"))
                for path in sorted((tmp_path / "pictures").glob("*.png"))]
    write_video(tmp_path / "walk.mkv", pictures, fps=1)  # each label held 2 s: one read
    config = tmp_path / "stocktaker.toml"
    write_config(config, camera=True, scanner=False, location=room.location)
    config.write_text(config.read_text().replace('backend = "files"', 'backend = "video"')
                      .replace('path = "frames/"', 'path = "walk.mkv"'))

    done = run_stocktaker(config)

    assert done.returncode == 0, done.stderr.decode()
    report = only_report(tmp_path)
    assert_report_matches(report, room)
    assert {s["source"] for s in report["scans"]} == {"camera"}
