"""``Signal``: what the buzzer and LEDs can say, one member per distinct pattern.

The hardware layer knows signals, not what they mean for an audit: the firmware decides
which signal a verdict or an event gives (:mod:`firmware.signals`, one table). A signal's
value is the word the terminal stand-in prints for it.
"""

from __future__ import annotations

import enum


class Signal(enum.Enum):
    """One buzzer-and-LED pattern (see :data:`hal.feedback.base.PATTERNS`)."""

    VERIFIED = "verified"
    REPEAT = "repeat"
    MISLOCATED = "mislocated"
    RETIRED = "retired"
    RECOVERED = "recovered"
    AMBIGUOUS = "ambiguous"
    CONFIRM = "confirm"
    UNREGISTERED = "unregistered"
    REJECTED = "rejected"
    ERROR = "error"
    DONE = "done"
    READER_LOST = "reader_lost"
    BUTTON = "button"
    BADGE_REFUSED = "badge_refused"
    BADGE_ACCEPTED = "badge_accepted"
    CHECKED_OUT = "checked_out"
    CHECKED_IN = "checked_in"
    REFUSED = "refused"
