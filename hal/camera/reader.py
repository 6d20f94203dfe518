"""``CameraReader``: the frames of any source turned into reads, one per code found.

It is the only thing of the camera that the rest of stocktaker sees. Sources are *live* (a
camera: the newest frame is the one worth decoding, older ones are dropped) or *recorded* (a
folder, a video file: every frame is decoded, in order, so a replay is deterministic).
Either way the source is read by a capture thread of its own and handed to the decoding
thread through a one-frame :class:`FrameMailbox`.
"""

from __future__ import annotations

import enum
import logging
import threading
from dataclasses import dataclass
from typing import Iterator

from hal.camera.base import Decoder, Frame, FrameSource
from hal.errors import DeviceError
from hal.read import Read
from hal.resource import Resource
from hal.text import terminal_safe

logger = logging.getLogger("hal.camera")

#: Longest wait, in seconds, of :meth:`CameraReader.close` for the capture thread to end.
CLOSE_WAIT = 2.0
#: One log line stands for this many frames the decoder failed on.
LOG_FAILURES_EVERY = 100
#: What :meth:`FrameMailbox.take` returns once the source has ended or the mailbox is closed.
class _End(enum.Enum):
    END = "end"


END = _End.END



class FrameMailbox:
    """One frame on its way from the capture thread to the decoding thread.

    Args:
        replace: True for a live source: a new frame replaces one not yet taken (which is
            counted as dropped) and :meth:`put` never waits. False for a recorded source:
            :meth:`put` waits until the frame before has been taken.
    """

    def __init__(self, replace: bool) -> None:
        self.replace = replace
        self._ready = threading.Condition()
        self._frame: Frame | None = None
        self._end: _End | BaseException | None = None  # END or the source's exception, once it has ended
        self._closed = False
        self._captured = 0
        self._dropped = 0

    def put(self, frame: Frame) -> bool:
        """Leave ``frame`` for the decoder; False once the mailbox is closed."""
        with self._ready:
            if not self.replace:
                while self._frame is not None and not self._closed:
                    self._ready.wait()
            if self._closed:
                return False
            self._captured += 1
            if self._frame is not None:
                self._dropped += 1
            self._frame = frame
            self._ready.notify_all()
            return True

    def finish(self, error: BaseException | None = None) -> None:
        """The source has ended, or failed with ``error``: no frame follows."""
        with self._ready:
            self._end = END if error is None else error
            self._ready.notify_all()

    def take(self) -> Frame | BaseException | _End:
        """The waiting frame; else, once no frame will follow, the error or :data:`END`.

        Waits for one of them. A closed mailbox gives :data:`END` at once.
        """
        with self._ready:
            while self._frame is None and self._end is None and not self._closed:
                self._ready.wait()
            if self._closed:
                return END
            if self._frame is not None:
                frame, self._frame = self._frame, None
                self._ready.notify_all()
                return frame
            assert self._end is not None  # the wait above ended on it
            return self._end

    def close(self) -> None:
        """Wake both sides: :meth:`take` gives :data:`END`, :meth:`put` gives False."""
        with self._ready:
            self._closed = True
            self._frame = None
            self._ready.notify_all()

    def counts(self) -> tuple[int, int]:
        """Frames put so far, and how many of them a newer one replaced."""
        with self._ready:
            return self._captured, self._dropped


@dataclass(frozen=True)
class CameraStats:
    """What a :class:`CameraReader` has done with its frames so far.

    Attributes:
        captured: frames the source delivered.
        decoded: frames handed to the decoder (those it failed on included).
        dropped: frames a newer one replaced before the decoder was free (live sources).
        failed: frames the decoder raised on.
    """

    captured: int = 0
    decoded: int = 0
    dropped: int = 0
    failed: int = 0


class CameraReader(Resource):
    """Turns the frames of a source into reads: one :class:`Read` per code found in each frame.

    :meth:`reads` starts a capture thread that takes frames from the source and leaves
    each in a one-frame mailbox; :meth:`reads` decodes them in the thread that iterates it
    (``firmware.readers`` gives each reader a thread of its own), one frame at a time, in
    order, so a decoder may keep state between frames. From a live source the newest frame
    replaces one not yet decoded, which is counted as dropped: a slow decode costs frames,
    never a queue of stale ones, and never holds up the camera. From a recorded source the
    capture thread waits for the decoder, so every frame is decoded.

    A frame the decoder fails on is logged (logger ``hal.camera``) and skipped: one bad frame
    never stops the camera. A source that fails (a camera unplugged) makes :meth:`reads`
    raise one :class:`DeviceError` after the frames it delivered before.

    Args:
        source: where frames come from; the reader owns it and closes it.
        decoder: what finds the codes in each frame.
        name: the reader's configured name, given to each read as its ``source``.
    """

    def __init__(self, source: FrameSource, decoder: Decoder, name: str = "camera") -> None:
        self._source = source
        self._decoder = decoder
        self.name = name
        self.live = bool(getattr(source, "live", False))
        self._mailbox = FrameMailbox(replace=self.live)
        self._lock = threading.Lock()
        self._counts = {"decoded": 0, "failed": 0}
        self._capture: threading.Thread | None = None
        self._closed = False

    def reads(self) -> Iterator[Read]:
        """Yield reads as frames are decoded, each stamped with its frame's time.

        Ends when the source ends or :meth:`close` is called (from any thread).

        Raises:
            DeviceError: the source failed; a one-line message naming the camera.
            ValueError: reads were already taken from this reader.
        """
        with self._lock:
            if self._capture is not None:
                raise ValueError(f"{self.name}: reads() can be taken once")
            self._capture = threading.Thread(target=self._capture_frames, daemon=True,
                                             name=f"{self.name}-capture")
            if self._closed:
                return
            self._capture.start()
        while True:
            item = self._mailbox.take()
            if item is END:
                return
            if isinstance(item, BaseException):
                raise self._failure(item) from item
            reads = self._decode(item)
            if self._closed:
                return
            yield from reads

    def stats(self) -> CameraStats:
        """Counts of the frames captured, decoded, dropped and failed so far."""
        captured, dropped = self._mailbox.counts()
        with self._lock:
            return CameraStats(captured, self._counts["decoded"], dropped,
                               self._counts["failed"])

    def close(self) -> None:
        """End :meth:`reads` promptly and close the source. Closing twice is harmless."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            capture = self._capture
        self._mailbox.close()
        self._source.close()
        if (capture is not None and capture.is_alive()
                and capture is not threading.current_thread()):
            capture.join(CLOSE_WAIT)
            if capture.is_alive():
                logger.warning("%s: the camera is still inside a read; it is released when"
                               " that read returns", terminal_safe(self.name))

    def _capture_frames(self) -> None:
        """The capture thread: every frame of the source into the mailbox, then the end."""
        frames: Iterator[Frame] | None = None
        try:
            frames = iter(self._source.frames())
            for frame in frames:
                if not self._mailbox.put(frame):
                    break
        except Exception as exc:  # the source failed: handed to reads(), which reports it
            self._mailbox.finish(exc)
        else:
            self._mailbox.finish()
        finally:
            # A generator's own clean-up runs here, in the thread that reads the source.
            close = getattr(frames, "close", None)
            if close is not None:
                close()

    def _decode(self, frame: Frame) -> list[Read]:
        try:
            found = self._decoder.decode(frame.gray)
        # A decoder is third-party native code fed arbitrary pictures: whatever it
        # raises on one frame must not end the scanning session.
        except Exception:
            with self._lock:
                self._counts["decoded"] += 1
                self._counts["failed"] += 1
                failed = self._counts["failed"]
            if (failed - 1) % LOG_FAILURES_EVERY == 0:
                logger.warning("%s: could not decode frame %s (%d frame(s) failed so far)",
                               terminal_safe(self.name), terminal_safe(frame.name), failed,
                               exc_info=True)
            return []
        with self._lock:
            self._counts["decoded"] += 1
        return [Read(payload=payload, symbology=symbology, source=self.name, at=frame.at)
                for payload, symbology in found]

    def _failure(self, exc: BaseException) -> DeviceError:
        reason = str(exc) or type(exc).__name__
        if not isinstance(exc, DeviceError):
            reason = f"{type(exc).__name__}: {reason}"
        line = " ".join(terminal_safe(reason).split())
        return DeviceError(f"{terminal_safe(self.name)}: {line}")
