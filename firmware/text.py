"""Text from outside made safe to print on a terminal: see :mod:`hal.text`.

The function lives in the hardware layer, which every other layer may import; it is
re-exported here for the firmware's own modules.
"""

from __future__ import annotations

from hal.text import terminal_safe

__all__ = ["terminal_safe"]
