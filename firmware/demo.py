"""``stocktaker demo``: a technician audits the sample room "Storage B" on simulated hardware.

The room's labels are drawn at run time (QR codes with register URLs and plain tags, Code
128 tags, a manufacturer's serial label, some askew, blurred or noisy) and shown to the
camera stand-in as a folder of frames; everything else runs as on the device.
"""

from __future__ import annotations

import shutil
import sys
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from PIL import Image

from hal import labels
from firmware.errors import ConfigError

ROOM = "Storage B"
REGISTER_URL = "https://assets.example.com"
MARKER = ".stocktaker-demo"
FPS = 2.0  # frames 0.5 s apart: a label held for two frames is one read


@dataclass(frozen=True)
class Shot:
    """One label shown to the camera, and how it looks in the frame."""

    kind: str  # "qr", "code128" or "serial"
    payload: str
    caption: str | None = None
    angle: float = 0.0
    blur: float = 0.0
    noise: float = 0.0


def _askew(kind: str) -> dict[str, float]:
    d = labels.DEMO_DISTORTIONS[kind]
    return {"angle": d["angle"], "blur": d["blur"], "noise": d["noise"]}


#: The walk through Storage B, in order. Expected there: IT-004501..IT-004514.
WALK: tuple[Shot, ...] = (
    Shot("qr", f"LOC:{ROOM}", ROOM),
    Shot("qr", f"{REGISTER_URL}/hardware/101", "IT-004501"),
    Shot("code128", "IT-004502"),
    Shot("qr", "IT-004503", "IT-004503", **_askew("qr")),
    Shot("qr", f"{REGISTER_URL}/ht/IT-004504", "IT-004504"),
    Shot("code128", "IT-004505", **_askew("code128")),
    Shot("qr", f"{REGISTER_URL}/hardware/122", "IT-004406"),  # registered in Storage A
    Shot("code128", "IT-004506", blur=0.8),
    Shot("code128", "IT-009999"),  # a label the register has never heard of
    Shot("qr", "IT-004507", "IT-004507", noise=12.0),
    Shot("code128", "IT-004515"),  # archived in the register
    Shot("serial", "3JK7Q42", **_askew("serial")),  # IT-004508's dock, by its maker's label
    Shot("qr", f"{REGISTER_URL}/hardware/109", "IT-004509"),
    Shot("code128", "IT-004409"),  # reported lost in the register: recovered
    Shot("qr", "https://previous-owner.example/hardware/101", "prev. owner"),  # not ours
    Shot("code128", "2213AB0452"),  # a serial the register gives to two headsets
    Shot("qr", "IT-00\x0745", "IT-0045?"),  # a corrupt label: a control character
    Shot("qr", f"{REGISTER_URL}/hardware/101", "IT-004501"),  # the first laptop, again
    Shot("code128", "IT-004510"),
    Shot("qr", "IT-004511", "IT-004511"),
)


def render_walk(walk: tuple[Shot, ...], frames_dir: Path, *, seed: int = 7) -> int:
    """Write the frames of a walk into ``frames_dir``: each label twice, then an empty frame.

    Returns the number of frames written.
    """
    frames_dir.mkdir(parents=True, exist_ok=True)
    count = 0
    for n, shot in enumerate(walk):
        label = _label(shot)
        frames = [labels.place_in_frame(label, angle=shot.angle, blur=shot.blur,
                                        noise=shot.noise, seed=seed + n * 3 + k)
                  for k in range(2)]
        frames.append(labels.blank_frame(seed=seed + n))
        for frame in frames:
            count += 1
            frame.save(frames_dir / f"frame-{count:04d}.png")
    return count


def _label(shot: Shot) -> Image.Image:
    if shot.kind == "qr":
        return labels.qr_label(shot.payload, shot.caption)
    if shot.kind == "code128":
        return labels.code128_label(shot.payload, shot.caption)
    return labels.serial_label(shot.payload, "Dell", "WD19S")


def prepare(out: Path, style: str) -> Path:
    """Lay out the demo folder (manifest, frames, configuration); returns the config file."""
    if out.exists() and any(out.iterdir()) and not (out / MARKER).exists():
        raise ConfigError(f"{out}: folder exists and is not a stocktaker demo folder;"
                          " choose another with --out")
    for generated in ("frames", "state", "out"):
        shutil.rmtree(out / generated, ignore_errors=True)
    out.mkdir(parents=True, exist_ok=True)
    (out / MARKER).touch()
    manifest = resources.files("firmware") / "sample" / "expected.csv"
    (out / "expected.csv").write_bytes(manifest.read_bytes())
    render_walk(WALK, out / "frames")
    display = "none" if style == "none" else "terminal"
    config = out / "stocktaker.toml"
    config.write_text(f"""\
# The simulated handheld: camera frames from a folder, no scanner, terminal OLED.
[device]
id = "hh-demo"
mode = "handheld"
[audit]
technician = "demo"
[camera]
backend = "files"
path = "frames/"
fps = {FPS}
[scanner]
backend = "none"
[display]
backend = "{display}"
style = "{'braille' if style == 'none' else style}"
[register]
adapter = "files"
url = "{REGISTER_URL}"
manifest = "expected.csv"
outbox = "out/"
[queue]
path = "state/"
""", encoding="utf-8")
    return config


def run_demo(out: Path, *, screens_dir: Path | None = None, style: str = "braille") -> int:
    """Prepare the sample room in ``out`` and audit it; prints the report. Returns 0."""
    from firmware.config import load_config
    from firmware.device import run_device
    from firmware.room_report import format_report

    config_path = prepare(out, style)
    print(f"Sample room {ROOM!r}: {len(WALK)} labels drawn into {out / 'frames'}", flush=True)
    config = load_config(config_path)
    reports = run_device(config, screens_dir=screens_dir, stdin=sys.stdin.buffer)
    for report in reports:
        print()
        print(format_report(report))
        print(f"\nReport: {config.register.outbox / ('report-' + report['session_id'])}"
              ".json (and .csv)")
    return 0
