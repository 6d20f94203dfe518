"""A stand-in for picamera2's ``Picamera2`` class: the calls stocktaker makes, and nothing else.

It behaves as the real class does on those calls (checked against its source): cameras
are listed by ``global_camera_info()``, a missing one is an ``IndexError`` and a busy one
a ``RuntimeError``; ``create_video_configuration`` fills in a stream as picamera2 does
(even sizes, a stride padded to 64 bytes); ``capture_array`` gives a YUV420 buffer
``(height * 3 / 2, stride)`` at the pace ``FrameDurationLimits`` sets, and raises
``TimeoutError`` when no frame comes within ``wait`` seconds. Every call is recorded in
``calls``.

``SIGNATURES`` holds the real signatures of those methods, copied from picamera2 0.3.36,
``picamera2/picamera2.py`` at commit 3e6dff099d3982c8fbdb25f7cbe2e4c17bac34f7
(github.com/raspberrypi/picamera2, 2026-05-12); ``tests/test_camera_picamera.py`` checks
this stand-in against them.
"""

from __future__ import annotations

import enum
import threading
import time
import types
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

SIGNATURES = {
    "global_camera_info": "()",  # a staticmethod
    "__init__": "(self, camera_num=0, verbose_console=None, tuning=None, allocator=None)",
    "create_video_configuration": (
        "(self, main={}, lores=None, raw={}, transform=libcamera.Transform(),"
        " colour_space=None, buffer_count=6, controls={}, display='main', encode='main',"
        " queue=True, sensor={}, use_case='video')"),
    "configure": "(self, camera_config=None)",
    "stream_configuration": "(self, name='main')",
    "start": "(self, config=None, show_preview=False)",
    "capture_array": "(self, name='main', wait=None, signal_function=None)",
    "cancel_all_and_flush": "(self)",
    "stop": "(self)",
    "close": "(self)",
}
"""Method name to its parameter list, as written in picamera2's source."""

PROPERTIES = ("camera_controls",)
"""Properties of ``Picamera2`` that stocktaker reads."""


class AfModeEnum(enum.IntEnum):
    """libcamera's ``controls.AfModeEnum`` (control_ids_core.yaml)."""

    Manual = 0
    Auto = 1
    Continuous = 2


class AeExposureModeEnum(enum.IntEnum):
    """libcamera's ``controls.AeExposureModeEnum`` (control_ids_core.yaml)."""

    Normal = 0
    Short = 1
    Long = 2
    Custom = 3


controls = types.SimpleNamespace(AfModeEnum=AfModeEnum, AeExposureModeEnum=AeExposureModeEnum)
"""Stands for ``from libcamera import controls``."""

#: Controls of a Camera Module 3 (imx708): (min, max, default) as ``camera_controls`` gives.
MODULE_3_CONTROLS = {
    "FrameDurationLimits": (33333, 120000, 33333),
    "ExposureTime": (26, 112015443, 20000),
    "AeExposureMode": (0, 3, 0),
    "AfMode": (0, 2, 0),
    "NoiseReductionMode": (0, 4, 0),
}
#: A Camera Module 2 (imx219) has no autofocus.
MODULE_2_CONTROLS = {k: v for k, v in MODULE_3_CONTROLS.items() if k != "AfMode"}


def standin(frames: Iterable[np.ndarray | BaseException] = (), *, cameras: int = 1,
            camera_controls: dict[str, tuple[Any, Any, Any]] | None = None,
            busy: bool = False, fail_configure: str | None = None) -> type[StandinPicamera2]:
    """A ``Picamera2`` stand-in class whose camera shows ``frames`` (gray pictures).

    Args:
        frames: what each ``capture_array`` gives, in order: a picture becomes its YUV420
            buffer, an exception is raised. After the last, no frame comes (a camera hung).
        cameras: how many cameras ``global_camera_info`` lists.
        camera_controls: the camera's controls (Module 3 by default).
        busy: opening the camera fails as when another program holds it.
        fail_configure: ``configure`` raises RuntimeError with this message.
    """
    def global_camera_info() -> list[dict[str, Any]]:
        return camera_list(cameras)

    return type("Picamera2", (StandinPicamera2,), {
        "global_camera_info": staticmethod(global_camera_info),
        "script": list(frames), "busy": busy,
        "available": dict(MODULE_3_CONTROLS if camera_controls is None else camera_controls),
        "fail_configure": fail_configure, "opened": []})


def camera_list(count: int) -> list[dict[str, Any]]:
    """What ``global_camera_info`` gives for ``count`` Camera Modules 3."""
    return [{"Model": "imx708", "Location": 2, "Rotation": 180, "Num": n,
             "Id": f"/base/soc/i2c0mux/i2c@{n}/imx708@1a"} for n in range(count)]


class StandinPicamera2:
    """The stand-in itself; make a configured class of it with :func:`standin`."""

    script: list[np.ndarray | BaseException] = []
    busy = False
    available: dict[str, tuple[Any, Any, Any]] = {}
    fail_configure: str | None = None
    opened: list[StandinPicamera2] = []

    @staticmethod
    def global_camera_info() -> list[dict[str, Any]]:
        """One dict per attached camera, as picamera2 lists them (one, unless configured)."""
        return camera_list(1)

    def __init__(self, camera_num: int = 0, verbose_console: Any = None, tuning: Any = None,
                 allocator: Any = None) -> None:
        self.calls: list[tuple[str, Any]] = [("open", camera_num)]
        self.camera_num = self.global_camera_info()[camera_num]["Num"]  # IndexError, as real
        if self.busy:
            raise RuntimeError("Camera __init__ sequence did not complete.")
        self.camera_config: dict[str, Any] = {}
        self.started = False
        self.closed = False
        self.controls: dict[str, Any] = {}
        self._script = list(self.script)
        self._next_at = 0.0
        self._lock = threading.Lock()
        type(self).opened.append(self)

    @property
    def camera_controls(self) -> dict[str, tuple[Any, Any, Any]]:
        """The controls this camera has, name to (min, max, default)."""
        return dict(self.available)

    def create_video_configuration(self, main: dict[str, Any] = {}, lores: Any = None,  # noqa: B006
                                   raw: Any = {}, transform: Any = None,  # noqa: B006
                                   colour_space: Any = None, buffer_count: int = 6,
                                   controls: dict[str, Any] = {},  # noqa: B006
                                   display: str | None = "main", encode: str | None = "main",
                                   queue: bool = True, sensor: Any = {},  # noqa: B006
                                   use_case: str = "video") -> dict[str, Any]:
        """A configuration as picamera2 makes it (the keys a stream may have are checked)."""
        self.calls.append(("create_video_configuration", dict(main=main, lores=lores,
                                                                controls=controls,
                                                                display=display, encode=encode)))
        stream = {"format": "XBGR8888", "size": (1280, 720), "preserve_ar": True}
        for key, value in main.items():
            if key not in ("format", "size", "stride", "preserve_ar"):
                raise ValueError(f"Bad key {key!r}: valid stream configuration keys are"
                                 " ('format', 'size', 'stride', 'preserve_ar')")
            stream[key] = value
        width, height = stream["size"]
        stream["size"] = (width - width % 2, height - height % 2)  # align_stream(optimal=False)
        if "NoiseReductionMode" in self.available and "FrameDurationLimits" in self.available:
            controls = {"NoiseReductionMode": 1, "FrameDurationLimits": (33333, 33333)} | controls
        return {"use_case": use_case, "buffer_count": buffer_count, "queue": queue,
                "main": stream, "lores": lores, "raw": raw, "controls": controls,
                "display": display, "encode": encode}

    def configure(self, camera_config: Any = None) -> None:
        """Take the configuration; the stride is filled in as libcamera pads YUV420 rows."""
        self.calls.append(("configure", camera_config))
        if self.fail_configure:
            raise RuntimeError(self.fail_configure)
        config = dict(camera_config)
        main = dict(config["main"])
        if main["format"] != "YUV420":
            raise RuntimeError("this stand-in gives YUV420 frames only")
        main["stride"] = -(-main["size"][0] // 64) * 64
        config["main"] = main
        self.camera_config = config
        self.controls = dict(config["controls"])

    def stream_configuration(self, name: str = "main") -> dict[str, Any]:
        """The named stream's configuration."""
        return self.camera_config[name]

    def start(self, config: Any = None, show_preview: bool = False) -> None:
        """Start streaming."""
        self.calls.append(("start", show_preview))
        if not self.camera_config:
            raise RuntimeError("Camera has not been configured")
        self.started = True
        self._next_at = time.monotonic()

    def capture_array(self, name: str = "main", wait: Any = None,
                      signal_function: Callable[..., Any] | None = None) -> np.ndarray:
        """The next frame's buffer, at the camera's frame rate; TimeoutError after ``wait``."""
        if not self.started:
            raise RuntimeError("Camera is not running")  # picamera2 would wait forever
        self.calls.append(("capture_array", name))
        try:
            return self._capture(wait)
        finally:
            self.calls.append(("capture_array returned", name))

    def _capture(self, wait: Any) -> np.ndarray:
        period = self.controls.get("FrameDurationLimits", (33333, 33333))[0] / 1e6
        with self._lock:
            item = self._script.pop(0) if self._script else None
            self._next_at = max(self._next_at + period, time.monotonic())
            due = self._next_at
        if item is None:
            time.sleep(wait if isinstance(wait, (int, float)) and wait is not True else 3600)
            raise TimeoutError()  # concurrent.futures.TimeoutError is TimeoutError
        time.sleep(max(0.0, due - time.monotonic()))
        if isinstance(item, BaseException):
            raise item
        return self.yuv420(item)

    def yuv420(self, gray: np.ndarray) -> np.ndarray:
        """``gray`` as the configured stream's YUV420 buffer: Y rows padded, U and V below."""
        width, height = self.camera_config["main"]["size"]
        stride = self.camera_config["main"]["stride"]
        buffer = np.full((height * 3 // 2, stride), 128, dtype=np.uint8)
        buffer[:height, stride - 8:] = 7  # padding that is not picture
        rows, cols = min(height, gray.shape[0]), min(width, gray.shape[1])
        buffer[:rows, :cols] = gray[:rows, :cols]
        return buffer

    def cancel_all_and_flush(self) -> None:
        """Drop the jobs in progress."""
        self.calls.append(("cancel_all_and_flush", None))

    def stop(self) -> None:
        """Stop streaming; harmless when stopped."""
        self.calls.append(("stop", None))
        self.started = False

    def close(self) -> None:
        """Close the camera; harmless when closed."""
        self.calls.append(("close", None))
        self.closed = True
