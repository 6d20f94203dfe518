"""The stand-in printer: every job becomes a PNG of its artwork in a folder.

A job's file is named after its id and written whole (a temporary file renamed), so a job
sent twice is still one label in the folder.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

from PIL import Image

from hal.printer.artwork import LabelSize
from hal.printer.base import Printer, PrinterOffline

__all__ = ["FolderPrinter"]


class FolderPrinter(Printer):
    """Writes each job to ``<folder>/<job id>.png`` (the folder is made when missing)."""

    kind = "file"

    def __init__(self, size: LabelSize, folder: Path) -> None:
        super().__init__(size)
        self.folder = Path(folder)

    def job_bytes(self, artwork: Image.Image) -> bytes:
        buffer = io.BytesIO()
        artwork.convert("L").save(buffer, format="PNG", dpi=(self.size.dpi, self.size.dpi))
        return buffer.getvalue()

    def send(self, job_id: str, data: bytes) -> None:
        target = self.folder / f"{job_id}.png"
        tmp = target.with_name(target.name + ".tmp")
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            tmp.write_bytes(data)
            os.replace(tmp, target)
        except OSError as exc:
            raise PrinterOffline(f"label folder {self.folder}: {exc.strerror or exc}") from None
