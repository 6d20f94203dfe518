"""``stocktaker reconcile``: a campaign's room reports put together, offline.

For the smallest sites: the ``files`` register's report files, collected from USB sticks,
become one HTML page and one CSV (and the full reconciliation as JSON). The work itself is
:func:`sync.reconcile.reconcile`, the one implementation every other place uses too.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from firmware.errors import ConfigError

if TYPE_CHECKING:
    from sync.campaign import Campaign
    from sync.reconcile import ExpectedAsset

# The rest is imported when the command runs: the parser is built at every start of the
# command line, and reconciliation's modules would slow every other command.

__all__ = ["add_parser", "run_reconcile"]


def add_parser(sub: Any) -> None:
    """Add the ``reconcile`` command to the command line's sub-parsers."""
    rec = sub.add_parser("reconcile", help=(
        "put a campaign's room reports together: found, moved, missing, not yet audited"))
    rec.add_argument("reports", nargs="+", type=Path, metavar="REPORT", help=(
        "report-<session>.json files, or folders holding them"))
    rec.add_argument("--campaign", metavar="NAME", help=(
        "use only the reports tagged with this campaign (audit.campaign or a CAMPAIGN: label)"))
    rec.add_argument("--room", action="append", metavar="ROOM", dest="rooms", help=(
        "a room of the campaign (repeat for each); default every room of the register"))
    rec.add_argument("--from", dest="start", metavar="DATE",
                     help="only reports started on or after this day (YYYY-MM-DD, UTC)")
    rec.add_argument("--to", dest="end", metavar="DATE",
                     help="only reports started on or before this day (YYYY-MM-DD, UTC)")
    rec.add_argument("--campaign-file", type=Path, metavar="TOML", help=(
        "the campaign from a TOML file (name, rooms, from, to; of several [[campaign]],"
        " the one --campaign names); options given win"))
    rec.add_argument("--manifest", type=Path, metavar="CSV", help=(
        "the register's expected inventory: needed for rooms nobody audited yet"))
    rec.add_argument("--html", type=Path, metavar="FILE", help="write a self-contained HTML page")
    rec.add_argument("--csv", type=Path, metavar="FILE", help="write a CSV for a spreadsheet")
    rec.add_argument("--json", action="store_true",
                     help="print the full reconciliation as JSON instead of a summary")
    rec.set_defaults(command=run_reconcile)


def run_reconcile(args: argparse.Namespace) -> int:
    """Run ``stocktaker reconcile``; 0 done, 2 a bad input file or campaign."""
    from firmware.room_report import load_report
    from sync.reconcile import reconcile
    from sync.reconcile_csv import reconciliation_csv
    from sync.reconcile_html import reconciliation_html

    campaign = _campaign(args)
    files = _report_files(args.reports)
    reports = [load_report(path) for path in files]
    expected = _expected(args.manifest) if args.manifest is not None else None
    result = reconcile(reports, campaign, expected, sources=[str(p) for p in files])
    if args.html is not None:
        _write(args.html, reconciliation_html(result).encode("utf-8"))
    if args.csv is not None:
        _write(args.csv, reconciliation_csv(result))
    if args.json:
        print(terminal_safe_json(result))
    else:
        print(summary(result))
    return 0


def summary(result: dict[str, Any]) -> str:
    """A few lines for a terminal: progress, counts, rooms; outside text made safe."""
    from firmware.text import terminal_safe
    from sync.reconcile import CATEGORIES
    from sync.reconcile_html import CATEGORY_TITLES

    progress = result["progress"]
    name = result["campaign"]["name"]
    lines = [f"Campaign {terminal_safe(name) if name else '(all reports given)'}:"
             f" {progress['audited']} of {progress['rooms']} rooms audited",
             "  " + "  ".join(f"{CATEGORY_TITLES[c][0].lower()} {result['counts'][c]}"
                              for c in CATEGORIES)]
    for room in result["rooms"]:
        counts = ", ".join(f"{CATEGORY_TITLES[c][0].lower()} {n}"
                           for c, n in room["counts"].items() if n)
        lines.append(f"  {terminal_safe(room['room'])}: {room['status'].replace('_', ' ')}"
                     + (f" ({counts})" if counts else ""))
        if room["note"]:
            lines.append(f"    {terminal_safe(room['note'])}")
    look = sum(1 for i in result["items"] if i["needs_look"])
    if look:
        lines.append(f"  {look} item(s) seen in more than one room: needs a look")
    if result["excluded"]:
        lines.append(f"  {len(result['excluded'])} report(s) left out:")
        lines += [f"    {terminal_safe(e['source'] or e['session_id'] or '?')}:"
                  f" {terminal_safe(e['reason'])}" for e in result["excluded"]]
    lines += [f"  note: {terminal_safe(note)}" for note in result["notes"]]
    return "\n".join(lines)


def terminal_safe_json(value: Any) -> str:
    """Indented JSON in which every character a terminal could act on (controls, bidi
    overrides) is a ``\\uXXXX`` escape; printable text, accents included, stays readable."""
    text = json.dumps(value, ensure_ascii=False, indent=2)
    return "".join(ch if ch == "\n" or ch.isprintable() else _escaped(ch) for ch in text)


def _escaped(ch: str) -> str:
    code = ord(ch)
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    code -= 0x10000
    return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"


def _campaign(args: argparse.Namespace) -> Campaign:
    from sync.campaign import Campaign, CampaignError, name_key
    from sync.campaign_file import campaign_tables

    data: dict[str, Any] = {}
    if args.campaign_file is not None:
        try:
            tables = campaign_tables(args.campaign_file)
        except CampaignError as exc:
            raise ConfigError(str(exc)) from None
        if len(tables) > 1:  # a file of several ([[campaign]]): the one --campaign names
            wanted = name_key(args.campaign) if args.campaign is not None else None
            tables = [t for t in tables
                      if isinstance(t.get("name"), str) and name_key(t["name"]) == wanted]
            if wanted is None:
                raise ConfigError(f"{args.campaign_file}: holds several campaigns: name one"
                                  " with --campaign NAME")
            if not tables:
                raise ConfigError(f"{args.campaign_file}: no campaign of this name in it")
            tables = tables[:1]  # a name given twice: the server refuses the file, take the first
        data = dict(tables[0])
    for key, value in (("name", args.campaign), ("rooms", args.rooms), ("from", args.start),
                       ("to", args.end)):
        if value is not None:
            data[key] = value
    try:
        return Campaign.from_mapping(data)
    except CampaignError as exc:
        where = f"{args.campaign_file}: " if args.campaign_file is not None else ""
        raise ConfigError(f"{where}{exc}") from None


def _report_files(paths: list[Path]) -> list[Path]:
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            found = sorted(path.glob("report-*.json"))
            if not found:
                raise ConfigError(f"{path}: no report-*.json file in this folder")
            files += found
        else:
            files.append(path)
    return files


def _expected(path: Path) -> list[ExpectedAsset]:
    """The active assets of the manifest: those a room's audit expects."""
    from firmware.inventory import AssetState, Inventory
    from sync.manifest import read_manifest
    from sync.reconcile import ExpectedAsset

    inventory = Inventory(read_manifest(path))
    return [ExpectedAsset(a.asset_tag, a.location, a.name, a.serial) for a in inventory.assets
            if inventory.state(a) is AssetState.ACTIVE]


def _write(path: Path, data: bytes) -> None:
    from sync.storage import replace_file

    try:
        replace_file(path, data)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot write: {exc.strerror or exc}") from None
