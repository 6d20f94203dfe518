"""The Raspberry Pi camera through picamera2: the Y plane of a YUV420 stream, as grayscale.

The camera is configured for a small YUV420 video stream at the configured size and frame
rate; the first ``height`` rows of each buffer, cut to ``width`` columns (the rows are
padded to a stride), are the luminance, which is all a decoder needs: no colour
conversion, no copy beyond the one picamera2 makes to hand the buffer over. Exposure is
kept short against motion blur (a fixed time, or the auto-exposure's ``Short`` mode), and
a camera that can focus (Camera Module 3) focuses continuously.

picamera2 and libcamera are imported here only, when the camera is opened: Raspberry Pi
OS ships them as the apt package ``python3-picamera2``, built against the system
libcamera, and a virtual environment sees them only when made with
``--system-site-packages``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Any

from hal.camera.base import Frame, FrameSource, check_fps
from hal.errors import DeviceError
from hal.resource import ReadGuard
from hal.text import terminal_safe

log = logging.getLogger("hal.camera")

INSTALL_HINT = ("install it with 'sudo apt install python3-picamera2 --no-install-recommends'"
                " and make the virtual environment with 'python3 -m venv"
                " --system-site-packages' so it can see the system's picamera2 and libcamera")
#: Seconds without a frame, on top of one frame's time, after which the camera is lost.
STALL_TIMEOUT = 2.0


def load_picamera2() -> tuple[Any, ModuleType]:
    """The ``Picamera2`` class and libcamera's ``controls`` module.

    Raises:
        DeviceError: picamera2 or libcamera cannot be imported; the message says how to
            install them.
    """
    try:
        from libcamera import controls
        from picamera2 import Picamera2
    except ImportError as exc:
        raise DeviceError(f"the picamera2 camera needs picamera2 ({exc}): {INSTALL_HINT}"
                          ) from exc
    return Picamera2, controls


class PicameraFrames(FrameSource):
    """Frames from a Raspberry Pi camera, as they come (a live source).

    Args:
        camera: which camera (0 is the first; a Pi 5 may have two).
        size: (width, height) of the frames; picamera2 may round them to even numbers.
        fps: the frame rate the camera is held to.
        exposure_ms: a fixed exposure time; 0 lets auto-exposure choose, in its ``Short``
            mode where the camera has it.
        autofocus: focus continuously where the camera can (``AfMode`` among its controls).
        stall_timeout: seconds without a frame, beyond one frame's time, after which the
            camera counts as lost.
        picamera2: the ``Picamera2`` class; loaded with :func:`load_picamera2` when None.
        controls: libcamera's ``controls`` module (its ``AfModeEnum`` and
            ``AeExposureModeEnum``); loaded with ``picamera2`` when None.
        clock: monotonic seconds for each frame's ``at``, read when the frame arrives.

    Raises:
        DeviceError: picamera2 is missing, no such camera is attached, or it cannot be
            opened, configured or started (busy with another program, an unsupported size).
        ValueError: a size or frame rate that is not positive.
    """

    live = True

    def __init__(self, camera: int = 0, *, size: tuple[int, int] = (640, 480),
                 fps: float = 10.0, exposure_ms: float = 0.0, autofocus: bool = True,
                 stall_timeout: float = STALL_TIMEOUT, picamera2: Any = None,
                 controls: ModuleType | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        check_fps(fps)
        if len(size) != 2 or min(size) < 2:
            raise ValueError(f"a frame size is (width, height) of 2 pixels or more, not {size}")
        if picamera2 is None or controls is None:
            picamera2, controls = load_picamera2()
        self.fps = fps
        self._clock = clock
        self._timeout = stall_timeout + 1.0 / fps
        self._stalled = False
        self._camera = _open(picamera2, camera)
        self._guard = ReadGuard(self._release)
        try:
            config = self._configuration(controls, size, exposure_ms, autofocus)
            self._camera.configure(config)
            self.size = tuple(self._camera.stream_configuration("main")["size"])
            self._camera.start()
        except Exception as exc:  # picamera2 raises RuntimeError, libcamera anything
            self.close()
            raise DeviceError(f"cannot start the camera: {_reason(exc)}") from exc
        log.info("camera %d started: %dx%d YUV420 at %s fps", camera, *self.size, fps)

    def frames(self) -> Iterator[Frame]:
        """Yield the camera's frames until :meth:`close`.

        Raises:
            DeviceError: no frame came for a few seconds (the camera was unplugged or
                hung), or picamera2 failed.
        """
        width, height = self.size
        number = 0
        while self._guard.enter():
            try:
                buffer = self._camera.capture_array("main", wait=self._timeout)
                at = self._clock()
            except TimeoutError as exc:
                self._stalled = True
                raise DeviceError(f"no frame from the camera for {self._timeout:.1f} s:"
                                  " unplugged, or the camera hung") from exc
            except Exception as exc:  # picamera2's own failures are RuntimeError and kin
                raise DeviceError(f"the camera failed: {_reason(exc)}") from exc
            finally:
                alive = self._guard.leave()
            if not alive:
                return
            # The buffer is (height * 3 / 2) rows of ``stride`` bytes: Y plane first, padded.
            yield Frame(gray=buffer[:height, :width], at=at, name=f"frame {number}")
            number += 1

    def close(self) -> None:
        """Stop the camera and release it (once a capture in progress has returned)."""
        self._guard.close()

    def _configuration(self, controls: ModuleType, size: tuple[int, int], exposure_ms: float,
                       autofocus: bool) -> dict[str, Any]:
        available = self._camera.camera_controls
        settings: dict[str, Any] = {}
        if "FrameDurationLimits" in available:
            period = round(1_000_000 / self.fps)
            settings["FrameDurationLimits"] = (period, period)
        if exposure_ms > 0:
            settings["ExposureTime"] = round(exposure_ms * 1000)
        elif "AeExposureMode" in available:
            settings["AeExposureMode"] = controls.AeExposureModeEnum.Short
        if autofocus and "AfMode" in available:
            settings["AfMode"] = controls.AfModeEnum.Continuous
        elif autofocus:
            log.info("the camera has no autofocus: its focus stays where it is")
        return self._camera.create_video_configuration(
            main={"format": "YUV420", "size": (int(size[0]), int(size[1]))},
            controls=settings, display=None, encode=None)

    def _release(self) -> None:
        try:
            if self._stalled:
                self._camera.cancel_all_and_flush()  # picamera2's way out of a hung capture
            self._camera.stop()
            self._camera.close()
        except Exception as exc:  # noqa: BLE001 - a camera gone may fail to close; go on
            log.warning("camera did not close cleanly: %s", _reason(exc))


def _open(picamera2: Any, camera: int) -> Any:
    """The opened camera, or a DeviceError saying why not."""
    try:
        attached = picamera2.global_camera_info()
    except Exception as exc:  # noqa: BLE001 - libcamera's camera manager failed to start
        raise DeviceError(f"cannot list the cameras: {_reason(exc)}") from exc
    if camera >= len(attached):
        found = f"only {len(attached)} camera(s) found" if attached else "no camera found"
        raise DeviceError(f"camera {camera}: {found} (is the ribbon cable seated, the"
                          " camera enabled, and 'rpicam-hello --list-cameras' listing it?)")
    try:
        return picamera2(camera)
    except (IndexError, RuntimeError) as exc:
        raise DeviceError(f"cannot open camera {camera}: {_reason(exc)} (is another"
                          " program using it?)") from exc


def _reason(exc: BaseException) -> str:
    """The exception as one printable line."""
    cause = exc.__cause__ if isinstance(exc, RuntimeError) and exc.__cause__ else None
    text = f"{exc}" + (f" ({cause})" if cause is not None else "")
    return " ".join(terminal_safe(text or type(exc).__name__).split())
