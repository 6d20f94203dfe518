"""The manifest the reference receiver serves: an expected-inventory CSV, as JSON with an ETag.

The CSV is read with :func:`sync.manifest.read_manifest` (every rule of the ``files``
adapter applies) and read again when the file changes, so replacing the export on the
server is enough to publish a new manifest. A replacement that cannot be read is logged
and the last good manifest stays in service.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections.abc import Callable, Mapping
from pathlib import Path

from sync.asset import Asset, room_key
from sync.errors import ManifestError
from sync.manifest import read_manifest

__all__ = ["ManifestSource", "etag_matches"]

_MAX_CACHED_ROOMS = 256


def file_stamp(path: Path) -> tuple[int, int, int] | None:
    """Inode, size and modification time of ``path``: when it changes, the file was
    replaced or rewritten and is read again. None when it cannot be looked at."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_ino, st.st_size, st.st_mtime_ns


class ManifestSource:
    """The expected-inventory CSV at ``path``, served as ``{"assets": [...]}``.

    Args:
        path: the CSV export.
        columns: ``[register.columns]``-style header map.
        log: where a failed re-read is reported (one line).

    Raises:
        ManifestError: the file cannot be read when the source is made.
    """

    def __init__(self, path: str | Path, columns: Mapping[str, str] | None = None,
                 log: Callable[[str], None] | None = None) -> None:
        self.path = Path(path)
        self.columns = dict(columns or {})
        self._log = log or (lambda line: None)
        self._lock = threading.Lock()
        self._answers: dict[str | None, tuple[bytes, str]] = {}
        self._stamp = file_stamp(self.path)
        self._assets = read_manifest(self.path, self.columns)

    def _refresh(self) -> None:
        stamp = file_stamp(self.path)
        if stamp is None or stamp == self._stamp:
            return
        self._stamp = stamp
        try:
            assets = read_manifest(self.path, self.columns)
        except ManifestError as exc:
            self._log(f"manifest not reloaded, still serving the previous one: {exc}")
            return
        self._assets = assets
        self._answers.clear()

    def assets(self) -> tuple[tuple[int, int, int] | None, list[Asset]]:
        """The file's stamp (it changes when the file does) and its assets, read again
        when the file changed."""
        with self._lock:
            self._refresh()
            return self._stamp, list(self._assets)

    def asset(self, asset_tag: str) -> Asset | None:
        """The manifest's asset with this tag (case ignored), or None."""
        key = asset_tag.casefold()
        with self._lock:
            self._refresh()
            return next((a for a in self._assets if a.asset_tag.casefold() == key), None)

    def answer(self, location: str | None) -> tuple[bytes, str]:
        """The JSON body and its ETag for all assets, or for those of room ``location``.

        Rooms are matched as the device matches them: case and runs of spaces ignored.
        """
        with self._lock:
            self._refresh()
            cached = self._answers.get(location)
            if cached is not None:
                return cached
            key = None if location is None else room_key(location)
            assets = [a for a in self._assets if key is None or room_key(a.location) == key]
            body = json.dumps({"assets": [_asset_json(a) for a in assets]},
                              ensure_ascii=True, separators=(",", ":")).encode("ascii")
            etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
            if len(self._answers) >= _MAX_CACHED_ROOMS:
                self._answers.clear()
            self._answers[location] = (body, etag)
            return body, etag


def _asset_json(asset: Asset) -> dict[str, object]:
    return {"asset_tag": asset.asset_tag, "serial": asset.serial, "name": asset.name,
            "location": asset.location, "status": asset.status,
            "assigned_to": asset.assigned_to, "id": asset.id}


def etag_matches(if_none_match: str | None, etag: str) -> bool:
    """True when an ``If-None-Match`` header names ``etag`` (weak comparison, or ``*``)."""
    if not if_none_match:
        return False
    bare = etag.removeprefix("W/")
    for candidate in if_none_match.split(","):
        candidate = candidate.strip()
        if candidate == "*" or candidate.removeprefix("W/") == bare:
            return True
    return False
