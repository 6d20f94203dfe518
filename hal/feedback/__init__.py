"""Buzzer and LED feedback: choose a backend by name with :func:`open_feedback`.

Backends (:data:`BACKENDS`): ``gpio`` (the real buzzer and LEDs, through gpiozero),
``terminal`` (the stand-in: one line of text per signal) and ``none``; see
:mod:`hal.feedback.backends`. Every backend takes a :class:`Signal`; which signal a
verdict gives is the firmware's choice.
"""

from __future__ import annotations

from hal.feedback.backends import BACKENDS, FeedbackSettings, open_feedback
from hal.feedback.base import PATTERNS, Feedback, NullFeedback, Pattern, pattern_for
from hal.feedback.signals import Signal

__all__ = [
    "BACKENDS",
    "PATTERNS",
    "Feedback",
    "FeedbackSettings",
    "NullFeedback",
    "Pattern",
    "Signal",
    "open_feedback",
    "pattern_for",
]
