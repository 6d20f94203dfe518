"""The camera: frames from a source, codes found in them by a decoder, reads handed upwards.

Sources, chosen by ``camera.backend`` with :func:`open_camera` (the table is
:data:`BACKENDS`, see :mod:`hal.camera.backends`): a folder of images, a video file, a V4L2
webcam, a Raspberry Pi camera (picamera2), or none. Decoders, chosen by name with
:func:`open_decoder`: ``auto`` (default: zxing-cpp and zbar together,
:mod:`hal.camera.pipeline`), zbar, zxing-cpp. Neither decoder library nor any camera
library, nor numpy, is imported until something that needs it is used: the names below
other than the settings and the table are loaded on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

from hal.camera.backends import (
    BACKENDS, CameraSettings, NullCamera, open_camera, open_frame_source,
)

_LAZY = {
    "CameraReader": "hal.camera.reader",
    "CameraStats": "hal.camera.reader",
    "DEFAULT_SYMBOLOGIES": "hal.camera.decode",
    "Decoder": "hal.camera.base",
    "FolderFrames": "hal.camera.files",
    "Frame": "hal.camera.base",
    "FrameSource": "hal.camera.base",
    "ZbarDecoder": "hal.camera.decode",
    "ZxingDecoder": "hal.camera.decode",
    "decode_image_file": "hal.camera.decode",
    "load_gray": "hal.camera.files",
    "open_decoder": "hal.camera.decode",
}

__all__ = ["BACKENDS", "CameraSettings", "NullCamera", "open_camera", "open_frame_source",
           *_LAZY]


def __getattr__(name: str) -> Any:
    """Load the camera stack's names when first asked for (numpy, the decoders)."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
