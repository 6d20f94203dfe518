"""The camera: frames from a source, codes found in them by a decoder, reads handed upwards.

Sources, chosen by name with :func:`open_camera`: a folder of images, a video file, a V4L2
webcam, a Raspberry Pi camera (picamera2). Decoders, chosen by name with :func:`open_decoder`:
``auto`` (default: zxing-cpp and zbar together, :mod:`hal.camera.pipeline`), zbar, zxing-cpp. Neither decoder library nor any
camera library is imported until the backend that needs it is built.
"""

from __future__ import annotations

from hal.camera.base import Decoder, Frame, FrameSource
from hal.camera.decode import (
    DEFAULT_SYMBOLOGIES, ZbarDecoder, ZxingDecoder, decode_image_file, open_decoder,
)
from hal.camera.files import FolderFrames, load_gray
from hal.camera.reader import CameraReader, CameraStats
from hal.camera.sources import BACKENDS, open_camera, open_frame_source

__all__ = [
    "BACKENDS",
    "CameraReader",
    "CameraStats",
    "DEFAULT_SYMBOLOGIES",
    "Decoder",
    "FolderFrames",
    "Frame",
    "FrameSource",
    "ZbarDecoder",
    "ZxingDecoder",
    "decode_image_file",
    "load_gray",
    "open_camera",
    "open_decoder",
    "open_frame_source",
]
