"""Generated rooms for end-to-end tests: a register, a walk through one room, and the truth.

The expected report is computed here from what the walk contains, independently of the
firmware's own audit code, so the end-to-end tests compare two separate accounts.
"""

from __future__ import annotations

import csv
import random
from dataclasses import dataclass, field
from pathlib import Path

from hal import labels

ROOMS = ("Storage A", "Storage B", "Server Room")
RETIRED = ("Archived", "Disposed")
LOST = ("Lost", "Stolen")
BASE_URL = "https://register.example.org/snipe"
FOREIGN_URL = "https://previous-owner.example"
GTIN = "09506000134352"
VERDICTS = ("verified", "mislocated", "unregistered", "retired", "recovered", "ambiguous",
            "repeat", "rejected")


@dataclass
class Asset:
    id: int
    asset_tag: str
    serial: str
    name: str
    location: str
    status: str


@dataclass
class Scan:
    """One label in the walk and the verdict it must get."""

    payload: str
    kind: str  # how it is drawn / typed: "qr" or "code128"
    verdict: str
    asset_tag: str | None
    recorded_location: str | None = None
    candidates: tuple[str, ...] = ()


@dataclass
class Room:
    assets: list[Asset]
    location: str
    scans: list[Scan] = field(default_factory=list)

    def expected(self) -> list[Asset]:
        return [a for a in self.assets
                if a.location == self.location and a.status not in RETIRED + LOST]

    def write_manifest(self, path: Path) -> None:
        with path.open("w", newline="", encoding="utf-8") as fh:
            out = csv.writer(fh)
            out.writerow(["Asset Tag", "Serial", "Asset Name", "Location", "Status",
                          "Checked Out To", "ID", "Notes"])
            for a in self.assets:
                out.writerow([a.asset_tag, a.serial, a.name, a.location, a.status, "", a.id, "x"])

    def truth(self) -> dict:
        """The counts and lists the report must hold for this walk."""
        counts = {k: 0 for k in VERDICTS + ("ghost",)}
        for s in self.scans:
            counts[s.verdict] += 1
        verified = {s.asset_tag for s in self.scans if s.verdict == "verified"}
        ghosts = [{"asset_tag": a.asset_tag, "serial": a.serial, "name": a.name}
                  for a in self.expected() if a.asset_tag not in verified]
        counts["ghost"] = len(ghosts)
        return {
            "location": self.location, "expected": len(self.expected()), "counts": counts,
            "ghosts": ghosts,
            "mislocated": [{"asset_tag": s.asset_tag, "recorded_location": s.recorded_location}
                           for s in self.scans if s.verdict == "mislocated"],
            "unregistered": [s.payload for s in self.scans if s.verdict == "unregistered"],
            "recovered": [s.asset_tag for s in self.scans if s.verdict == "recovered"],
            "ambiguous": [sorted(s.candidates) for s in self.scans if s.verdict == "ambiguous"],
            "verdicts": [(s.asset_tag, s.verdict) for s in self.scans],
        }


def make_room(seed: int, *, location: str = "Storage B") -> Room:
    """A register of ~50 assets over three rooms and a shuffled walk through ``location``.

    The register deliberately holds colliding identifiers: a dock elsewhere whose serial
    is, in other case, the asset tag of an asset here; an asset tag equal to another
    one but for leading zeros; a serial shared by two assets; and lost or stolen assets.
    """
    rng = random.Random(seed)
    assets = []
    for n in range(45):
        room = ROOMS[n % 3]
        status = (rng.choice(RETIRED + LOST) if n % 11 == 5
                  else rng.choice(("Ready to Deploy", "Deployed")))
        assets.append(Asset(500 + n, f"AT-{seed:02d}{n:04d}", f"SN{rng.randrange(10**9):09d}",
                            f"Laptop model {n % 7}", room, status))
    room = Room(assets, location)
    here = room.expected()
    other = next(r for r in ROOMS if r != location)
    shadowed, zeroed, shared = here[0], here[1], here[2]
    dock = Asset(600, "DK-0001", shadowed.asset_tag.lower(), "Dock", other, "Ready to Deploy")
    twin = Asset(601, "AT-" + zeroed.asset_tag[3:].lstrip("0"), "SN-TWIN", "Laptop", other,
                 "Ready to Deploy")
    shared.serial = f"DUP-{seed:02d}"
    copy = Asset(602, "DK-0002", shared.serial, "Dock", other, "Deployed")
    assets += [dock, twin, copy]

    seen = rng.sample(here[3:], k=len(here) - 6)
    elsewhere = [a for a in assets[:45] if a.location != location and a.status not in RETIRED + LOST]
    retired = [a for a in assets if a.status in RETIRED]
    lost = [a for a in assets if a.status in LOST]
    scans = [_scan(rng, a, "verified", None) for a in seen]
    scans += [_scan(rng, a, "mislocated", a.location) for a in rng.sample(elsewhere, 2)]
    scans += [_scan(rng, a, "retired", None) for a in retired[:2]]
    scans += [_scan(rng, a, "recovered", a.location) for a in lost[:2]]
    scans += [Scan(f"ZZ-{seed:02d}{k:04d}", "code128", "unregistered", None) for k in range(2)]
    scans += [
        # a plain tag that is also the dock's serial: never a guess
        Scan(shadowed.asset_tag, "code128", "ambiguous", None,
             candidates=(shadowed.asset_tag, dock.asset_tag)),
        # the same asset by its register URL: the URL names an id, which is unique
        Scan(f"{BASE_URL}/hardware/{shadowed.id}", "qr", "verified", shadowed.asset_tag),
        # a GS1 serial matches serials only: the dock, registered elsewhere
        Scan(f"(01){GTIN}(21){shadowed.asset_tag}", "qr", "mislocated", dock.asset_tag,
             other),
        # equal but for leading zeros, by tag: ambiguous; by id: found
        Scan(f"{BASE_URL}/ht/{zeroed.asset_tag}", "qr", "ambiguous", None,
             candidates=(zeroed.asset_tag, twin.asset_tag)),
        Scan(f"{BASE_URL}/hardware/{zeroed.id}", "qr", "verified", zeroed.asset_tag),
        # a serial two assets share
        Scan(shared.serial, "code128", "ambiguous", None,
             candidates=(shared.asset_tag, copy.asset_tag)),
        # an id label of another register
        Scan(f"{FOREIGN_URL}/hardware/{shared.id}", "qr", "unregistered", None),
    ]
    rng.shuffle(scans)
    scans.insert(3, Scan("BAD\x07LABEL", "qr", "rejected", None))
    again = next(s for s in scans[1:] if s.verdict == "verified")
    scans.append(Scan(again.payload, again.kind, "repeat", again.asset_tag))
    room.scans = scans
    return room


def _scan(rng: random.Random, asset: Asset, verdict: str, recorded: str | None) -> Scan:
    form = rng.choice(("plain-qr", "url-id", "url-ht", "code128", "serial"))
    payload = {"plain-qr": asset.asset_tag, "code128": asset.asset_tag, "serial": asset.serial,
               "url-id": f"{BASE_URL}/hardware/{asset.id}",
               "url-ht": f"{BASE_URL}/ht/{asset.asset_tag}"}[form]
    kind = "code128" if form in ("code128", "serial") else "qr"
    return Scan(payload, kind, verdict, asset.asset_tag, recorded)


def write_frames(room: Room, frames: Path, *, held: int = 2) -> None:
    """Each label held ``held`` frames in front of the camera, then an empty frame."""
    frames.mkdir(parents=True, exist_ok=True)
    n = 0
    for i, scan in enumerate(room.scans):
        label = (labels.qr_label(scan.payload) if scan.kind == "qr"
                 else labels.code128_label(scan.payload))
        for k in range(held):
            n += 1
            labels.place_in_frame(label, seed=i * 10 + k, size=(480, 360)).save(
                frames / f"f{n:04d}.png")
        n += 1
        labels.blank_frame(seed=i, size=(480, 360)).save(frames / f"f{n:04d}.png")


def write_config(path: Path, *, camera: bool, scanner: bool, location: str | None,
                 repeat_window: float = 2.0, fps: float = 1.0, display: str = "terminal") -> None:
    """A configuration in the shape of the README's contract."""
    lines = ['[device]', 'id = "hh-test"', 'mode = "handheld"', '[audit]',
             'technician = "ana"', f'repeat_window = {repeat_window}']
    if location:
        lines.append(f'location = "{location}"')
    lines += ['[camera]', f'backend = "{"files" if camera else "none"}"', 'path = "frames/"',
              f'fps = {fps}', '[scanner]', f'backend = "{"stdin" if scanner else "none"}"',
              '[display]', f'backend = "{display}"', 'i2c_port = 29', '[feedback]', 'backend = "terminal"',
              '[register]', 'adapter = "files"', f'url = "{BASE_URL}"',
              'manifest = "expected.csv"', 'outbox = "out/"',
              '[queue]', 'path = "state/"']
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
