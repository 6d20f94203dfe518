"""What each ``stocktaker`` command does, one handler per command (its arguments parsed by
:mod:`firmware.cli`); ``stocktaker bench`` is :mod:`firmware.cli_bench`.

Each handler takes the parsed arguments and returns the exit code; an error the user can
mend is raised as a :class:`~firmware.errors.StocktakerError` (the CLI prints it as one
line) or printed here when it is about the command line itself.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from firmware.errors import StocktakerError
from firmware.terminal_json import json_line
from firmware.text import terminal_safe

__all__ = ["decode", "demo", "doctor", "hid_replay", "label", "queue_status", "register_server",
           "register_viewer", "report", "run", "sync"]


def run(args: argparse.Namespace) -> int:
    from firmware.config import load_config
    from firmware.device import run_device
    from firmware.room_report import format_report

    config = load_config(args.config)
    reports = run_device(config, screens_dir=args.screens)
    for report in reports:
        print(format_report(report))
    print("\n".join(terminal_safe(line) for line in _handed_over_lines(config)))
    return 0


def _handed_over_lines(config: Any) -> list[str]:
    """Where the run's sightings and reports went: the outbox, or the register, and what
    still waits on the device."""
    from firmware.systemd_notify import without_credentials
    from sync.pending_reports import waiting_reports

    register = config.register
    lines = [f"Outbox: {register.outbox}" if register.adapter == "files" else
             f"Register: {register.adapter} {without_credentials(register.url or '')}".rstrip()]
    folder = config.queue.path / "reports"
    waiting = waiting_reports(folder)
    if waiting:
        lines.append(f"Reports waiting on the device: {len(waiting)} in {folder}"
                     " (handed over at the next sync)")
    return lines


def sync(args: argparse.Namespace) -> int:
    from firmware.config import load_config
    from firmware.device import run_sync
    from sync.engine import summarise

    result = run_sync(load_config(args.config))
    print(terminal_safe(summarise(result)))
    # 0 only when everything queued was taken (or refused for good, into the dead letters).
    return 0 if result.error is None and result.left == 0 else 4


def demo(args: argparse.Namespace) -> int:
    from firmware.demo import run_demo

    return run_demo(args.out, screens_dir=args.screens, style=args.style)


def doctor(args: argparse.Namespace) -> int:
    from firmware.config import load_config
    from firmware.doctor import examine, report_lines

    config = load_config(args.config)
    if args.listen:
        from firmware.device import listen

        listen(config, sys.stdout)
        return 0
    findings = examine(config)
    for line in report_lines(findings):
        print(line)
    return 0 if all(f.ok for f in findings) else 3


def report(args: argparse.Namespace) -> int:
    from firmware.room_report import format_report, load_report

    if args.movements:
        return _movements(args)
    if args.file is None or args.since or args.config:
        print("stocktaker: error: report FILE, or report --movements --config FILE"
              " [--since DATE]", file=sys.stderr)
        return 2
    print(format_report(load_report(args.file)))
    return 0


def _movements(args: argparse.Namespace) -> int:
    import time

    from firmware.config import load_config
    from firmware.movement_report import format_movements, parse_since, room_spelling
    from firmware.movement_log import MovementLog
    from sync.inventory_cache import InventoryCache

    if args.file is not None:
        print("stocktaker: error: report --movements takes --config FILE, not a report file",
              file=sys.stderr)
        return 2
    if args.config is None:
        print("stocktaker: error: report --movements needs --config FILE, the door kiosk's"
              " configuration", file=sys.stderr)
        return 2
    try:
        since = parse_since(args.since) if args.since else None
    except ValueError as exc:
        print(f"stocktaker: error: {exc}", file=sys.stderr)
        return 2
    config = load_config(args.config)
    if config.device.mode != "kiosk" or config.kiosk.location is None:
        print(f"stocktaker: error: {terminal_safe(args.config)} is not a door kiosk's"
              f" configuration (device.mode = {terminal_safe(config.device.mode)!r}):"
              " movements are recorded by a kiosk", file=sys.stderr)
        return 2
    events = list(MovementLog(config.queue.path / "kiosk").events())
    saved = InventoryCache(config.queue.path).load()
    room = room_spelling(config.kiosk.location, events, saved[0] if saved else [])
    heading = f"Movements at {room} ({config.device.id}), times UTC"
    print("\n".join(format_movements(events, now=time.time(),
                                      overdue_days=config.kiosk.overdue_days, since=since,
                                      heading=heading)))
    return 0


def queue_status(args: argparse.Namespace) -> int:
    from firmware.config import load_config
    from sync.queue import format_status, read_status
    from sync.pending_reports import waiting_reports

    path = load_config(args.config).queue.path
    status = read_status(path)
    waiting = waiting_reports(path / "reports")
    status.update(reports_waiting=len(waiting), reports_waiting_items=waiting)
    if args.json:
        print(json_line(status))
        return 0
    lines = format_status(status)
    lines.append(f"reports waiting: {len(waiting)}" + (
        f" in {path / 'reports'} (handed to the register at the next sync)" if waiting else ""))
    lines += [f"  {name}" for name in waiting[-_REPORTS_LISTED:]]
    if len(waiting) > _REPORTS_LISTED:
        lines.append(f"  (the {_REPORTS_LISTED} last of {len(waiting)}; --json lists all)")
    print("\n".join(terminal_safe(line) for line in lines))
    return 0


_REPORTS_LISTED = 10


def decode(args: argparse.Namespace) -> int:
    from hal.camera import decode_image_file, open_decoder

    symbologies = None
    if args.symbologies:
        from hal.camera.decode import SYMBOLOGIES

        symbologies = (sorted(SYMBOLOGIES[args.decoder]) if args.symbologies == "all"
                       else [s.strip() for s in args.symbologies.split(",") if s.strip()])
    try:
        decoder = open_decoder(args.decoder, symbologies, still=True)
    except ValueError as exc:
        print(f"stocktaker: error: {terminal_safe(exc)}", file=sys.stderr)
        return 2
    failed = 0
    for image in args.images:
        try:
            reads = decode_image_file(image, decoder)
        except StocktakerError as exc:
            failed += 1
            print(json_line({"file": str(image), "error": str(exc)}), flush=True)
            continue
        line = {"file": str(image), "reads": [
            {"payload": r.payload.decode("utf-8", "backslashreplace"), "symbology": r.symbology}
            for r in reads]}
        print(json_line(line), flush=True)
    return 1 if failed else 0


def label(args: argparse.Namespace) -> int:
    from firmware.config import load_config
    from firmware.printing import print_labels

    return print_labels(load_config(args.config), args.tags, sys.stdout,
                        address=args.printer, wait=max(0.0, args.wait))


def hid_replay(args: argparse.Namespace) -> int:
    from firmware.errors import ConfigError
    from hal.scanner.evtest import read_evtest
    from hal.scanner.keys import DEFAULT_INTER_KEY_TIMEOUT, Discarded, KeyDecoder

    timeout = args.inter_key_timeout
    if timeout is None:
        timeout = DEFAULT_INTER_KEY_TIMEOUT
    elif not 0 < timeout < float("inf"):
        raise ConfigError(f"--inter-key-timeout {timeout}: not a number of seconds above 0")
    decoder = KeyDecoder(args.keymap, terminator=args.terminator, inter_key_timeout=timeout)
    events = read_evtest(args.file)
    outcomes = [o for event in events for o in decoder.feed(event)] + decoder.finish()
    for outcome in outcomes:
        at = round(outcome.at, 6)  # the recording's resolution: microseconds
        if isinstance(outcome, Discarded):
            line = {"discarded": True, "reason": outcome.reason, "at": at}
        else:
            line = {"payload": outcome.payload.decode("utf-8", "backslashreplace"), "at": at}
        print(json.dumps(line, ensure_ascii=True), flush=True)
    return 0


def register_server(args: argparse.Namespace) -> int:
    from firmware.errors import ConfigError
    from sync.receiver import run_receiver

    if not 0 <= args.port <= 65535:
        raise ConfigError(f"--port {args.port}: not a port (0 to 65535)")
    return run_receiver(args.db, args.manifest, args.token_file, args.host, args.port,
                        people=args.people, db_password_file=args.db_password_file,
                        viewers=args.viewers, campaigns=args.campaigns)


def register_viewer(args: argparse.Namespace) -> int:
    """Ask the password (twice on a terminal; one line from a pipe) and store its hash."""
    import getpass

    from firmware.errors import ConfigError
    from sync.receiver.viewers import add_viewer

    if sys.stdin.isatty():
        password = getpass.getpass(f"password for {args.name}: ")
        if getpass.getpass("again: ") != password:
            raise ConfigError("the two passwords differ")
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    new = add_viewer(args.viewers, args.name, password)
    print(f"{'added' if new else 'new password for'} viewer {args.name} in {args.viewers}")
    return 0
