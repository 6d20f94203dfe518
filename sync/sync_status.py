"""``SyncStatus``: what the idle screen says about the way out (waiting, last sync, problems)."""

from __future__ import annotations

from dataclasses import dataclass


LINE_COLUMNS = 21
"""What the OLED's bottom line holds."""


@dataclass(frozen=True)
class SyncStatus:
    """The state of the sync, as the device loop shows it.

    Attributes:
        waiting: sightings queued on the device, not yet taken by the register.
        dead_letters: sightings the register refused for good (to look at).
        last_sync_age: seconds since the register last answered a sync (a round that sent
            something, or the cheap check of an idle one), None if never.
        inventory_age: seconds since the expected inventory was fetched, when it comes
            from the device's cache because the register could not be reached; else None.
        conflicts: door-kiosk events the register disagreed with (kept on the device,
            listed by ``stocktaker queue status``), to settle in the register.
        register_answered: whether the last sync round got the register's answers
            (False: it did not answer, or refused the token); None before the first round.
        token_refused: the register refused the device's token (the device works with
            its saved lists and keeps everything queued until an admin mends it).
    """

    waiting: int = 0
    dead_letters: int = 0
    last_sync_age: float | None = None
    inventory_age: float | None = None
    conflicts: int = 0
    register_answered: bool | None = None
    token_refused: bool = False

    def state(self) -> tuple[int, int, int, bool | None, bool]:
        """What the line says apart from ages: an idle screen is redrawn when it changes."""
        return (self.waiting, self.dead_letters, self.conflicts, self.register_answered,
                self.token_refused)

    def line(self) -> str:
        """One screen line (21 columns): ``12 wait 5m`` (12 to send, the register last
        answered 5 minutes ago), ``all sent 2m`` (only when the register confirmed it: the
        last round got its answer), ``offline 2m`` (nothing queued, but the register did
        not answer; it last did 2 minutes ago) or ``0 wait 2m`` (no round yet since the
        start), then ``!2`` (dead letters), ``x1`` (conflicts: the register disagreed with
        a kiosk's check-out or check-in) and ``list 3h`` (cached list's age); all after
        ``TOKEN REFUSED`` while the register refuses the device's token (then only what fits).
        """
        age = short_age(self.last_sync_age)
        if self.waiting or self.register_answered is None:
            text = f"{self.waiting} wait {age}"
        elif self.register_answered:
            text = f"all sent {age}"
        else:
            text = f"offline {age}"
        if self.dead_letters:
            text += f" !{self.dead_letters}"
        if self.conflicts:
            text += f" x{self.conflicts}"
        if self.inventory_age is not None:
            text += f" list {short_age(self.inventory_age)}"
        if self.token_refused:  # what matters most, then as much of the rest as fits
            fitting = [line for line in (f"TOKEN REFUSED {text}",
                                         f"TOKEN REFUSED {self.waiting} wait")
                       if len(line) <= LINE_COLUMNS]
            text = fitting[0] if fitting else f"TOKEN REFUSED {self.waiting}"
        return text


def short_age(seconds: float | None) -> str:
    """``never``, ``now``, ``5m``, ``3h``, ``2d``: an age in one short word."""
    if seconds is None:
        return "never"
    if seconds < 60:
        return "now"
    if seconds < 3600:
        return f"{int(seconds // 60)}m"
    if seconds < 86400 * 2:
        return f"{int(seconds // 3600)}h"
    return f"{int(seconds // 86400)}d"
