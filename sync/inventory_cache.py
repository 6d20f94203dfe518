"""The expected inventory kept on the device, for audits while the register is out of reach.

Every time the register answers, its assets are saved (atomically) in
``<queue.path>/inventory.json`` with the time they were fetched. When it cannot be reached
at start, the device audits with the saved copy and the idle screen shows its age.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from pathlib import Path
from typing import Any

from firmware.asset import Asset
from firmware.errors import QueueError, RegisterUnavailable
from sync.register import Register
from sync.storage import fsync_directory, replace_file

log = logging.getLogger(__name__)

__all__ = ["InventoryCache"]

_FIELDS = {f.name for f in dataclasses.fields(Asset)}


class InventoryCache:
    """The saved expected inventory in ``directory``.

    Args:
        directory: the device's state folder (``queue.path``).
    """

    def __init__(self, directory: Path) -> None:
        self.path = Path(directory) / "inventory.json"

    def fetch(self, register: Register, now: float) -> tuple[list[Asset], float | None]:
        """The register's assets, saved for later; or the saved ones when it is out of reach.

        Returns:
            The assets and, when they come from the saved copy, its age in seconds
            (None when fresh from the register).

        Raises:
            RegisterUnavailable: the register cannot be reached and nothing is saved.
        """
        try:
            assets = register.expected_assets()
        except RegisterUnavailable as exc:
            saved = self.load()
            if saved is None:
                raise RegisterUnavailable(f"{exc}; and no expected inventory is saved on the"
                                          " device yet") from None
            assets, fetched_at = saved
            log.warning("register out of reach (%s): auditing with the expected inventory"
                        " saved %.0f minutes ago", exc, max(0.0, now - fetched_at) / 60)
            return assets, max(0.0, now - fetched_at)
        self.save(assets, now)
        return assets, None

    def save(self, assets: list[Asset], fetched_at: float) -> None:
        """Keep ``assets`` as the saved copy (a failure is logged, not raised)."""
        data = {"fetched_at": fetched_at, "assets": [dataclasses.asdict(a) for a in assets]}
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            replace_file(self.path, json.dumps(data, ensure_ascii=False).encode("utf-8"))
            fsync_directory(self.path.parent)
        except (OSError, QueueError) as exc:
            log.warning("%s: expected inventory not saved for offline use: %s", self.path, exc)

    def load(self) -> tuple[list[Asset], float] | None:
        """The saved assets and when they were fetched, or None (none saved, or unreadable)."""
        try:
            data: Any = json.loads(self.path.read_text(encoding="utf-8"))
            fetched_at = float(data["fetched_at"])
            assets = [_asset(item) for item in data["assets"]]
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.error("%s: saved expected inventory unreadable, not used: %s", self.path, exc)
            return None
        return assets, fetched_at


def _asset(item: Any) -> Asset:
    if not isinstance(item, dict) or not set(item) <= _FIELDS:
        raise ValueError("not an asset record")
    return Asset(**item)
