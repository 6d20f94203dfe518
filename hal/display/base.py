"""The ``Display`` interface every display backend implements, and the null backend."""

from __future__ import annotations

import abc

from PIL import Image

from hal.backends import Absent
from hal.errors import DeviceError
from hal.resource import Resource

WIDTH, HEIGHT = 128, 64


def check_frame(image: Image.Image, size: tuple[int, int] = (WIDTH, HEIGHT)) -> Image.Image:
    """Return ``image`` as the one-bit frame a panel of ``size`` takes.

    Raises:
        ValueError: the image is not exactly the panel's size.
    """
    if image.size != size:
        width, height = image.size
        raise ValueError(f"frame is {width}x{height}, the display is {size[0]}x{size[1]}")
    # A plain threshold: dithering would scatter stray pixels over a drawn screen.
    return image if image.mode == "1" else image.convert("1", dither=Image.Dither.NONE)


class Display(Resource, abc.ABC):
    """A 128x64 one-bit status display.

    Use it as a context manager, or call :meth:`close` when done.
    """

    @abc.abstractmethod
    def show(self, image: Image.Image, caption: str = "") -> None:
        """Show ``image`` (128x64; converted to one bit if needed) until the next frame.

        Args:
            image: the frame, as drawn by :mod:`firmware.screens`.
            caption: a short description of the frame, for logs and stand-ins.

        Raises:
            ValueError: the frame has the wrong size.
            DeviceError: the display stopped answering.
        """

    def wake(self) -> None:
        """Input arrived (a button press): light a dimmed or switched-off panel again.

        Displays without burn-in care have nothing to do.
        """

    def tick(self, now: float | None = None) -> None:
        """Take the burn-in care step due by ``now`` (monotonic seconds; the clock's if None).

        Displays without burn-in care have nothing to do.
        """

    @abc.abstractmethod
    def close(self) -> None:
        """Blank the display if it has a panel, and release its bus. Safe to call twice."""


class NullDisplay(Display, Absent):
    """A display that discards every frame (no panel fitted)."""

    _closed = False

    def show(self, image: Image.Image, caption: str = "") -> None:
        """Check the frame's size and discard it.

        Raises:
            ValueError: the frame has the wrong size.
            DeviceError: the display is closed.
        """
        if self._closed:
            raise DeviceError("the display is closed")
        check_frame(image)

    def close(self) -> None:
        """Nothing to release; frames are refused from now on."""
        self._closed = True
