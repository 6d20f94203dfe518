"""The V4L2 webcam backend, against a stand-in of linuxpy's device checked against linuxpy itself.

There is no /dev/video node on a build machine, so the stand-in plays the kernel's part:
formats offered, the format the driver settles on, controls, and frames arriving on the
device's file descriptor at the frame rate. Each method it stands for has linuxpy's own
signature (checked below against the installed linuxpy).
"""

from __future__ import annotations

import errno
import inspect
import io
import os
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from linuxpy.video import device as linuxpy_device
from linuxpy.video.device import BufferType, Format, ImageFormat, PixelFormat
from linuxpy.video.raw import v4l2_fourcc
from PIL import Image

from hal.labels import place_in_frame, qr_label
from hal.camera import CameraReader, CameraSettings, ZbarDecoder, open_camera
from hal.camera.webcam import WebcamFrames
from hal.errors import DeviceError

PAYLOAD = b"IT-004512"


def format_code(fourcc: str) -> PixelFormat:
    """linuxpy's pixel format for a four-character code (``MJPG`` is ``PixelFormat.MJPEG``)."""
    return PixelFormat(v4l2_fourcc(*fourcc))


class Control:
    """One V4L2 control: ``value`` is written as linuxpy writes it."""

    def __init__(self, writable: bool = True) -> None:
        self.value: object = None
        self.writable = writable

    def __setattr__(self, name: str, value: object) -> None:
        if name == "value" and getattr(self, "writable", True) is False:
            raise AttributeError("MenuControl auto_exposure is not writeable: read-only")
        object.__setattr__(self, name, value)


class StandinDevice:
    """linuxpy's ``Device`` for one webcam whose frames are scripted."""

    webcam: Webcam

    def __init__(self, name_or_file: Any, read_write: bool = True, io: Any = None,
                 blocking: bool = False) -> None:
        self.filename, self.blocking = str(name_or_file), blocking
        self.closed = True
        self.info = type("Info", (), {"formats": [
            ImageFormat(BufferType.VIDEO_CAPTURE, name, 0, format_code(name))
            for name in self.webcam.offers]})()
        self.controls = self.webcam.controls

    def open(self) -> None:
        if self.filename != self.webcam.path:
            raise FileNotFoundError(errno.ENOENT, "No such file or directory")
        if self.webcam.refuse is not None:
            raise self.webcam.refuse
        self.closed = False
        self.webcam.calls.append("open")

    def close(self) -> None:
        self.closed = True
        self.webcam.calls.append("close")

    def fileno(self) -> int:
        return self.webcam.ready_r


class StandinBuffer:
    """linuxpy's ``MemoryMap`` buffer of a streaming capture."""

    def __init__(self, webcam: Webcam) -> None:
        self.webcam = webcam

    def raw_read(self, into: Any = None) -> Any:
        os.read(self.webcam.ready_r, 1)
        item = self.webcam.script.pop(0)
        if isinstance(item, BaseException):
            raise item
        into[: len(item)] = item
        return type("Frame", (), {"data": memoryview(into)[: len(item)]})()


class StandinCapture:
    """linuxpy's ``VideoCapture``: the driver settles on the format nearest the one asked."""

    webcam: Webcam

    def __init__(self, device: Any, size: int = 2, buffer_type: Any = None) -> None:
        self.device = device
        self.buffer: StandinBuffer | None = None
        self.format: Format | None = None

    def set_format(self, width: Any, height: Any, pixel_format: Any = "MJPG") -> None:
        width, height = self.webcam.sizes.get((width, height), (width, height))
        code = format_code(pixel_format)
        line = width * 2 if pixel_format == "YUYV" else width
        self.format = Format(width, height, code, line * height, line)
        self.webcam.calls.append(f"set_format {width}x{height} {pixel_format}")

    def set_fps(self, fps: Any) -> None:
        self.webcam.period = 1 / fps

    def get_format(self) -> Format:
        assert self.format is not None
        return self.format

    def open(self) -> None:
        self.buffer = StandinBuffer(self.webcam)
        self.webcam.start()
        self.webcam.calls.append("stream on")

    def close(self) -> None:
        self.webcam.calls.append("stream off")


class Webcam:
    """The scripted webcam behind the stand-in classes."""

    def __init__(self, script: list[bytes | BaseException], *, offers: tuple[str, ...] = (
            "YUYV", "MJPG"), path: str = "/dev/video0", refuse: OSError | None = None,
            sizes: dict[tuple[int, int], tuple[int, int]] | None = None) -> None:
        self.script, self.offers, self.path, self.refuse = list(script), offers, path, refuse
        self.sizes = sizes or {}
        self.controls: dict[str, Control] = {"auto_exposure": Control(),
                                             "exposure_time_absolute": Control()}
        self.calls: list[str] = []
        self.period = 0.1
        self.ready_r, self.ready_w = os.pipe()

    def start(self) -> None:
        """Frames arrive at the frame rate: one byte on the descriptor per frame."""
        def arrive() -> None:
            for _ in range(len(self.script)):
                time.sleep(self.period)
                os.write(self.ready_w, b"f")

        threading.Thread(target=arrive, daemon=True).start()

    def classes(self) -> tuple[type, type]:
        device = type("Device", (StandinDevice,), {"webcam": self})
        capture = type("VideoCapture", (StandinCapture,), {"webcam": self})
        return device, capture


def open_webcam(webcam: Webcam, **kwargs: Any) -> WebcamFrames:
    device, capture = webcam.classes()
    kwargs.setdefault("fps", 100.0)
    kwargs.setdefault("size", (320, 240))
    return WebcamFrames(webcam.path, device_class=device, capture_class=capture, **kwargs)


def qr_picture(size: tuple[int, int] = (320, 240)) -> np.ndarray:
    return np.asarray(place_in_frame(qr_label(PAYLOAD), size=size, seed=2))


def yuyv(gray: np.ndarray) -> bytes:
    """A gray picture as a YUYV buffer: Y0 U Y1 V, U and V neutral."""
    packed = np.full((gray.shape[0], gray.shape[1] * 2), 128, dtype=np.uint8)
    packed[:, 0::2] = gray
    return packed.tobytes()


def jpeg(gray: np.ndarray) -> bytes:
    out = io.BytesIO()
    Image.fromarray(gray).convert("RGB").save(out, "JPEG", quality=92)
    return out.getvalue()


# --- the stand-in is true to linuxpy ------------------------------------------------------


@pytest.mark.parametrize(("ours", "theirs"), [
    (StandinDevice.__init__, linuxpy_device.Device.__init__),
    (StandinDevice.open, linuxpy_device.Device.open),
    (StandinDevice.close, linuxpy_device.Device.close),
    (StandinDevice.fileno, linuxpy_device.Device.fileno),
    (StandinCapture.__init__, linuxpy_device.VideoCapture.__init__),
    (StandinCapture.set_format, linuxpy_device.VideoCapture.set_format),
    (StandinCapture.set_fps, linuxpy_device.VideoCapture.set_fps),
    (StandinCapture.get_format, linuxpy_device.VideoCapture.get_format),
    (StandinCapture.open, linuxpy_device.VideoCapture.open),
    (StandinCapture.close, linuxpy_device.VideoCapture.close),
    (StandinBuffer.raw_read, linuxpy_device.MemoryMap.raw_read),
], ids=lambda f: f.__qualname__)
def test_the_standin_has_linuxpys_signatures(ours: Callable[..., Any],
                                             theirs: Callable[..., Any]) -> None:
    mine, real = inspect.signature(ours).parameters, inspect.signature(theirs).parameters
    assert list(mine) == list(real)
    for name, param in real.items():
        assert mine[name].kind == param.kind, name
        if name != "io":  # linuxpy's default is its IO class
            assert mine[name].default == param.default, name


def test_the_attributes_the_backend_reads_are_linuxpys() -> None:
    assert {"self.info =", "self.controls ="} <= {
        line.strip().split(" None")[0] for line in
        inspect.getsource(linuxpy_device.Device.__init__).splitlines()}
    assert isinstance(inspect.getattr_static(linuxpy_device.InfoEx, "formats"), property)
    assert "self.buffer = None" in inspect.getsource(linuxpy_device.VideoCapture.__init__)
    assert Format._fields == ("width", "height", "pixel_format", "size", "bytes_per_line")
    for control in (linuxpy_device.MenuControl, linuxpy_device.BooleanControl,
                    linuxpy_device.IntegerControl):
        assert inspect.getattr_static(control, "value").fset is not None, control
    # A control the webcam lacks is a KeyError, as the backend expects.
    no_controls = type("Dev", (), {"info": type("Info", (), {"controls": []})()})()
    with pytest.raises(KeyError):
        linuxpy_device.Controls(no_controls)["focus_automatic_continuous"]


# --- formats and frames -------------------------------------------------------------------


def test_yuyv_frames_give_their_y_bytes_decoded_by_the_reader() -> None:
    picture = qr_picture()
    webcam = Webcam([yuyv(picture)] * 3)
    source = open_webcam(webcam, size=(320, 240))
    assert source.pixel_format == "YUYV" and "set_format 320x240 YUYV" in webcam.calls
    with CameraReader(source, ZbarDecoder(), name="usb") as reader:
        read = next(reader.reads())
    assert (read.payload, read.symbology, read.source) == (PAYLOAD, "QR", "usb")
    frame = next(open_webcam(Webcam([yuyv(picture)]), size=(320, 240)).frames())
    assert np.array_equal(frame.gray, picture) and not frame.gray.flags.c_contiguous


def test_gray_is_preferred_and_mjpeg_is_decoded_when_it_is_all() -> None:
    picture = qr_picture()
    assert open_webcam(Webcam([], offers=("MJPG", "GREY", "YUYV"))).pixel_format == "GREY"
    source = open_webcam(Webcam([b"\xff\xd8 torn", jpeg(picture)], offers=("MJPG",)))
    frame = next(source.frames())  # the torn frame is skipped
    assert frame.gray.shape == (240, 320) and frame.name == "frame 0"
    assert ZbarDecoder().decode(frame.gray) == [(PAYLOAD, "QR")]


def test_the_size_the_driver_settles_on_is_used() -> None:
    picture = qr_picture(size=(320, 240))
    webcam = Webcam([yuyv(picture)], sizes={(333, 250): (320, 240)})
    source = open_webcam(webcam, size=(333, 250))
    assert next(source.frames()).gray.shape == (240, 320)


def test_a_webcam_without_a_usable_format_is_refused() -> None:
    with pytest.raises(DeviceError, match="cannot start webcam /dev/video0: offers none of"
                                          " GREY, YUYV, MJPG .it offers H264"):
        open_webcam(Webcam([], offers=("H264",)))


# --- controls -----------------------------------------------------------------------------


def test_a_fixed_exposure_and_autofocus_are_set_where_the_webcam_has_them(
        caplog: pytest.LogCaptureFixture) -> None:
    webcam = Webcam([])
    with caplog.at_level("INFO", logger="hal.camera"):
        open_webcam(webcam, exposure_ms=2.5, autofocus=True)
    assert webcam.controls["auto_exposure"].value == 1  # manual
    assert webcam.controls["exposure_time_absolute"].value == 25  # in 100 µs
    assert "has no focus_automatic_continuous control" in caplog.text


def test_a_control_the_webcam_refuses_is_logged_and_the_webcam_used(
        caplog: pytest.LogCaptureFixture) -> None:
    webcam = Webcam([yuyv(qr_picture())])
    webcam.controls["auto_exposure"] = Control(writable=False)
    source = open_webcam(webcam, exposure_ms=2.0)
    assert "refused auto_exposure = 1: MenuControl auto_exposure is not writeable" in caplog.text
    assert next(source.frames()).gray.shape == (240, 320)


# --- errors -------------------------------------------------------------------------------


@pytest.mark.parametrize(("refuse", "named"), [
    (None, "cannot open webcam /dev/video3: No such file or directory (is it plugged in?"),
    (PermissionError(errno.EACCES, "Permission denied"),
     "cannot open webcam /dev/video0: Permission denied (add the user to the 'video' group)"),
    (OSError(errno.EBUSY, "Device or resource busy"),
     "cannot open webcam /dev/video0: Device or resource busy"),
])
def test_a_webcam_that_cannot_be_opened_is_named(refuse: OSError | None, named: str) -> None:
    webcam = Webcam([], refuse=refuse)
    device, capture = webcam.classes()
    path = "/dev/video3" if refuse is None else "/dev/video0"
    with pytest.raises(DeviceError) as caught:
        WebcamFrames(path, device_class=device, capture_class=capture)
    assert str(caught.value).startswith(named)


def test_a_webcam_unplugged_mid_session_is_one_device_error() -> None:
    webcam = Webcam([yuyv(qr_picture()), OSError(errno.ENODEV, "No such device")])
    reader = CameraReader(open_webcam(webcam), ZbarDecoder())
    reads = reader.reads()
    assert next(reads).payload == PAYLOAD
    with pytest.raises(DeviceError, match="^camera: webcam /dev/video0 failed: No such device$"):
        next(reads)
    reader.close()
    assert webcam.calls[-2:] == ["stream off", "close"]


def test_a_webcam_that_goes_silent_is_lost() -> None:
    source = open_webcam(Webcam([yuyv(qr_picture())]), stall_timeout=0.3)
    frames = source.frames()
    next(frames)
    with pytest.raises(DeviceError, match="no frame from webcam /dev/video0 for 0.3 s"):
        next(frames)


def test_close_from_another_thread_ends_reads_promptly() -> None:
    webcam = Webcam([])  # no frame ever comes
    reader = CameraReader(open_webcam(webcam, stall_timeout=30), ZbarDecoder())
    ended = threading.Event()
    threading.Thread(target=lambda: (list(reader.reads()), ended.set()), daemon=True).start()
    time.sleep(0.1)
    start = time.monotonic()
    reader.close()
    assert ended.wait(1) and time.monotonic() - start < 1.0
    assert webcam.calls[-2:] == ["stream off", "close"]


def test_without_linuxpy_the_error_says_how_to_install_it(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "linuxpy.video.device", None)
    with pytest.raises(DeviceError, match=r"pip install 'stocktaker\[v4l2\]'"):
        open_camera(CameraSettings("v4l2"), decoder=ZbarDecoder())
