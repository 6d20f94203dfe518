"""The camera: frames from a source, codes found in them by a decoder, reads handed upwards.

Sources: :class:`FolderFrames` (the stand-in, a folder of images). Decoders: zbar (default)
and zxing-cpp, chosen by name with :func:`open_decoder`. Neither decoder library nor any
camera library is imported until the backend that needs it is built.
"""

from __future__ import annotations

from hal.camera.base import CameraReader, Decoder, Frame, FrameSource
from hal.camera.decode import ZbarDecoder, ZxingDecoder, decode_image_file, open_decoder
from hal.camera.files import FolderFrames, load_gray

__all__ = [
    "CameraReader",
    "Decoder",
    "FolderFrames",
    "Frame",
    "FrameSource",
    "ZbarDecoder",
    "ZxingDecoder",
    "decode_image_file",
    "load_gray",
    "open_decoder",
]
