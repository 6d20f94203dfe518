"""The Raspberry Pi camera backend, against a stand-in of picamera2 checked against the real one."""

from __future__ import annotations

import ast
import inspect
import logging
import sys
import threading
import time
import types

import numpy as np
import pytest

from hal.labels import place_in_frame, qr_label
from hal.camera import CameraReader, CameraSettings, ZbarDecoder, open_camera
from hal.camera.picamera import PicameraFrames
from hal.errors import DeviceError
from tests.picamera2_standin import (MODULE_2_CONTROLS, PROPERTIES, SIGNATURES,
                                     StandinPicamera2, controls, standin)

PAYLOAD = b"https://assets.example.com/hardware/4512"


def qr_picture(size: tuple[int, int] = (640, 480), seed: int = 0) -> np.ndarray:
    return np.asarray(place_in_frame(qr_label(PAYLOAD, "IT-004512"), size=size, seed=seed))


def camera(frames: list, **kwargs: object) -> tuple[PicameraFrames, type[StandinPicamera2]]:
    options = {k: kwargs.pop(k) for k in ("cameras", "camera_controls", "busy",
                                          "fail_configure") if k in kwargs}
    cls = standin(frames, **options)  # type: ignore[arg-type]
    return PicameraFrames(picamera2=cls, controls=controls, **kwargs), cls  # type: ignore[arg-type]


# --- the stand-in is true to picamera2 ----------------------------------------------------


def parameters(signature: str) -> list[tuple[str, str | None]]:
    """(name, default as source text) of each parameter of a source parameter list."""
    args = ast.parse(f"def f{signature}: pass").body[0].args  # type: ignore[attr-defined]
    names = [a.arg for a in args.args]
    defaults = [None] * (len(names) - len(args.defaults)) + [ast.unparse(d)
                                                             for d in args.defaults]
    return list(zip(names, defaults))


@pytest.mark.parametrize("method", sorted(SIGNATURES))
def test_the_standin_has_picamera2s_signatures(method: str) -> None:
    real = parameters(SIGNATURES[method])
    ours = inspect.signature(getattr(StandinPicamera2, method))
    assert [name for name, _ in real] == list(ours.parameters)
    for name, default in real:
        param = ours.parameters[name]
        assert param.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD, name
        if default is None:
            assert param.default is inspect.Parameter.empty, name
            continue
        assert param.default is not inspect.Parameter.empty, name
        try:
            expected = ast.literal_eval(default)
        except ValueError:
            continue  # libcamera.Transform(): a default, of a type only libcamera has
        assert param.default == expected, name
    static = method == "global_camera_info"
    assert isinstance(inspect.getattr_static(StandinPicamera2, method), staticmethod) == static


def test_the_backend_calls_only_what_the_standin_has() -> None:
    source = inspect.getsource(sys.modules[PicameraFrames.__module__])
    called = {node.attr for node in ast.walk(ast.parse(source))
              if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Attribute)
              and node.value.attr == "_camera"}
    called |= {"global_camera_info"}
    assert called <= set(SIGNATURES) | set(PROPERTIES), called - set(SIGNATURES)


def test_the_standin_matches_the_installed_picamera2_on_a_pi() -> None:
    real = pytest.importorskip("picamera2", reason="picamera2 is a Raspberry Pi OS package"
                               " (python3-picamera2); compared with the committed signatures")
    for method, signature in SIGNATURES.items():
        got = inspect.signature(getattr(real.Picamera2, method))
        assert list(got.parameters) == [name for name, _ in parameters(signature)], method


# --- configuration ------------------------------------------------------------------------


def test_a_small_yuv420_stream_at_the_frame_rate_short_exposure_and_continuous_focus() -> None:
    source, cls = camera([], size=(640, 480), fps=20.0)
    (cam,) = cls.opened
    (name, made), = [call for call in cam.calls if call[0] == "create_video_configuration"]
    assert made["main"] == {"format": "YUV420", "size": (640, 480)}
    assert made["lores"] is None and made["display"] is None and made["encode"] is None
    assert made["controls"] == {"FrameDurationLimits": (50000, 50000),
                                "AeExposureMode": controls.AeExposureModeEnum.Short,
                                "AfMode": controls.AfModeEnum.Continuous}
    assert cam.controls["FrameDurationLimits"] == (50000, 50000)  # ours over picamera2's 30 fps
    assert cam.started and source.size == (640, 480)
    source.close()
    assert cam.calls[-2:] == [("stop", None), ("close", None)]


def test_a_fixed_exposure_replaces_the_short_auto_exposure() -> None:
    source, cls = camera([], exposure_ms=1.5, autofocus=False)
    (cam,) = cls.opened
    assert cam.controls["ExposureTime"] == 1500
    assert "AeExposureMode" not in cam.controls and "AfMode" not in cam.controls
    source.close()


def test_a_camera_without_autofocus_is_used_as_it_is(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="hal.camera"):
        source, cls = camera([], camera_controls=MODULE_2_CONTROLS)
    assert "AfMode" not in cls.opened[0].controls
    assert "no autofocus" in caplog.text
    source.close()


def test_an_odd_size_is_rounded_as_picamera2_rounds_it() -> None:
    source, cls = camera([qr_picture()], size=(641, 481))
    assert source.size == (640, 480)
    frame = next(source.frames())
    assert frame.gray.shape == (480, 640)
    source.close()


# --- frames -------------------------------------------------------------------------------


def test_each_frame_is_the_y_plane_as_a_view_of_the_padded_buffer() -> None:
    picture = qr_picture(size=(600, 450), seed=3)  # rows of 600 bytes padded to 640
    ticks = iter([10.0, 10.1])
    source, _ = camera([picture, picture], size=(600, 450), clock=lambda: next(ticks))
    frames = source.frames()
    first, second = next(frames), next(frames)
    source.close()
    assert first.gray.shape == (450, 600) and not first.gray.flags.c_contiguous
    assert first.gray.base is not None and first.gray.base.shape == (675, 640)
    assert np.array_equal(first.gray, picture)  # neither padding nor U/V rows in the frame
    assert (first.at, second.at) == (10.0, 10.1)
    assert ZbarDecoder().decode(first.gray) == [(PAYLOAD, "QR")]


def test_the_reader_decodes_the_camera_frames() -> None:
    source, _ = camera([qr_picture(seed=n) for n in range(3)], fps=30.0, stall_timeout=0.2)
    with CameraReader(source, ZbarDecoder(), name="cam") as reader:
        reads = reader.reads()
        first = next(reads)
    assert (first.payload, first.symbology, first.source) == (PAYLOAD, "QR", "cam")


# --- errors -------------------------------------------------------------------------------


def test_without_picamera2_the_error_says_how_to_install_it(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "picamera2", None)
    monkeypatch.setitem(sys.modules, "libcamera", None)
    with pytest.raises(DeviceError) as caught:
        open_camera(CameraSettings("picamera2"), decoder=ZbarDecoder())
    message = str(caught.value)
    assert "apt install python3-picamera2" in message
    assert "--system-site-packages" in message and "\n" not in message


def test_the_factory_builds_it_from_the_installed_modules(
        monkeypatch: pytest.MonkeyPatch) -> None:
    cls = standin([qr_picture()], cameras=2)
    monkeypatch.setitem(sys.modules, "picamera2", types.SimpleNamespace(Picamera2=cls))
    monkeypatch.setitem(sys.modules, "libcamera", types.SimpleNamespace(controls=controls))
    reader = open_camera(CameraSettings("picamera2", device="1", width=320, height=240, fps=15.0),
                         decoder=ZbarDecoder())
    assert isinstance(reader, CameraReader) and reader.live
    (cam,) = cls.opened
    assert cam.camera_num == 1 and cam.stream_configuration()["size"] == (320, 240)
    reader.close()
    assert cam.closed


@pytest.mark.parametrize(("cameras", "number", "named"), [
    (0, 0, "camera 0: no camera found"),
    (1, 1, "camera 1: only 1 camera(s) found"),
])
def test_a_missing_camera_is_named(cameras: int, number: int, named: str) -> None:
    with pytest.raises(DeviceError) as caught:
        PicameraFrames(number, picamera2=standin(cameras=cameras), controls=controls)
    assert str(caught.value).startswith(named) and "ribbon" in str(caught.value)


def test_a_busy_camera_is_a_device_error() -> None:
    with pytest.raises(DeviceError, match="cannot open camera 0: Camera __init__ sequence"
                                          " did not complete.*another program"):
        camera([], busy=True)


def test_a_configuration_the_camera_refuses_closes_it() -> None:
    cls = standin(fail_configure="Failed to configure")
    with pytest.raises(DeviceError, match="cannot start the camera: Failed to configure"):
        PicameraFrames(picamera2=cls, controls=controls)
    assert cls.opened[0].closed


def test_a_camera_that_fails_mid_session_is_one_device_error_after_its_frames() -> None:
    frames = [qr_picture(seed=1), RuntimeError("Camera frontend has timed out!\x1b[2J")]
    source, cls = camera(frames, fps=30.0)
    reader = CameraReader(source, ZbarDecoder())
    reads = reader.reads()
    assert next(reads).payload == PAYLOAD
    with pytest.raises(DeviceError) as caught:
        next(reads)
    message = str(caught.value)
    assert message.startswith("camera: the camera failed: Camera frontend has timed out!")
    assert "\x1b" not in message and "\n" not in message
    assert list(reads) == []  # reported once
    reader.close()
    assert [name for name, _ in cls.opened[0].calls[-2:]] == ["stop", "close"]


def test_a_camera_that_stops_sending_frames_is_lost_and_flushed() -> None:
    source, cls = camera([qr_picture()], fps=50.0, stall_timeout=0.1)
    frames = source.frames()
    next(frames)
    with pytest.raises(DeviceError, match=r"no frame from the camera for 0\.1 s: unplugged"):
        next(frames)
    source.close()
    names = [name for name, _ in cls.opened[0].calls]
    assert names[-3:] == ["cancel_all_and_flush", "stop", "close"]


def test_closing_during_a_capture_releases_the_camera_after_it() -> None:
    source, cls = camera([], fps=50.0, stall_timeout=0.5)  # no frame: the capture blocks
    (cam,) = cls.opened
    reader = CameraReader(source, ZbarDecoder())
    ended = threading.Event()
    failures: list[BaseException] = []

    def drain() -> None:
        try:
            list(reader.reads())
        except DeviceError as exc:  # pragma: no cover - would be a failure of the test
            failures.append(exc)
        ended.set()

    threading.Thread(target=drain, daemon=True).start()
    time.sleep(0.1)  # the capture thread is inside capture_array now
    start = time.monotonic()
    reader.close()
    assert ended.wait(1.0) and time.monotonic() - start < 1.0
    assert failures == []
    names = [name for name, _ in cam.calls]
    assert cam.closed and names.index("close") > names.index("capture_array returned")
