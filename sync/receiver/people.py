"""The people the reference receiver serves (``GET /api/v1/people``): a people CSV as JSON.

The CSV is read with :func:`sync.people_csv.read_people` (every rule of the ``files`` adapter's
``register.people``) and read again when the file changes; a replacement that cannot be
read is logged and the last good list stays in service.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from pathlib import Path

from sync.errors import RegisterError
from sync.people_csv import read_people
from sync.receiver.manifest import file_stamp

__all__ = ["PeopleSource"]


class PeopleSource:
    """The people CSV at ``path``, served as ``{"people": [...]}``.

    Raises:
        PeopleFileError: the file cannot be read when the source is made.
    """

    def __init__(self, path: str | Path, log: Callable[[str], None] | None = None) -> None:
        self.path = Path(path)
        self._log = log or (lambda line: None)
        self._lock = threading.Lock()
        self._stamp = file_stamp(self.path)
        self._body = self._read()

    def _read(self) -> bytes:
        people = [person.to_record() for person in read_people(self.path)]
        return json.dumps({"people": people}, ensure_ascii=True,
                          separators=(",", ":")).encode("ascii")

    def answer(self) -> bytes:
        """The JSON body of the current list."""
        with self._lock:
            stamp = file_stamp(self.path)
            if stamp is not None and stamp != self._stamp:
                self._stamp = stamp
                try:
                    self._body = self._read()
                except RegisterError as exc:
                    self._log(f"people not reloaded, still serving the previous list: {exc}")
            return self._body
