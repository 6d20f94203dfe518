"""The ``stocktaker`` command line."""

from __future__ import annotations

import argparse
import io
import json
import logging
import os
import re
import signal
import sys
from pathlib import Path
from types import FrameType
from typing import Any

from firmware import __version__
from firmware.errors import StocktakerError
from firmware.text import terminal_safe

log = logging.getLogger("stocktaker")


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit code.

    0 success; 1 other failure; 2 bad configuration or input file (configuration,
    expected inventory, report); 3 a device part failed; 4 the register failed; 5 the
    on-device queue failed; 130 Ctrl-C. When standard output is closed early (piped into
    ``head``), the command stops quietly with 141, what a shell reports for a program
    ended by SIGPIPE, so that ``set -o pipefail`` scripts see what they see with ``cat``.
    An unexpected error prints one line, logs its traceback at debug level (``-vv``) and
    exits with 1.
    """
    args = _parser().parse_args(argv)
    _log_to_stderr(logging.DEBUG if args.verbose > 1
                   else logging.INFO if args.verbose else logging.WARNING)
    _tolerate_unencodable_output()
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    try:
        code = int(args.command(args) or 0)
        if sys.stdout is not None:
            sys.stdout.flush()  # here, not at exit: a closed pipe must meet the handler below
        return code
    except StocktakerError as exc:
        print(f"stocktaker: error: {terminal_safe(exc)}", file=sys.stderr)
        return exc.exit_code
    except BrokenPipeError:
        _discard_stdout()
        return 128 + signal.SIGPIPE
    except KeyboardInterrupt:
        return 128 + signal.SIGINT
    except Exception as exc:
        log.debug("internal error", exc_info=True)
        what = terminal_safe(f"{type(exc).__name__}: {exc}")
        print(f"stocktaker: internal error: {what} (details in the log with -vv)",
              file=sys.stderr)
        return 1


class _EscapingFormatter(logging.Formatter):
    """Log messages carry outside text (file names, labels): shown through terminal_safe.

    A message is one line. A traceback keeps its lines, each escaped.
    """

    def formatMessage(self, record: logging.LogRecord) -> str:
        record.message = terminal_safe(record.message)
        return super().formatMessage(record)

    def formatException(self, ei: Any) -> str:
        return _escape_lines(super().formatException(ei))

    def formatStack(self, stack_info: str) -> str:
        return _escape_lines(super().formatStack(stack_info))


def _escape_lines(text: str) -> str:
    return "\n".join(terminal_safe(line) for line in text.split("\n"))


def _log_to_stderr(level: int) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_EscapingFormatter("%(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=level, handlers=[handler])


def _tolerate_unencodable_output() -> None:
    """Print what a non-UTF-8 terminal cannot show as escapes instead of failing."""
    if isinstance(sys.stdout, io.TextIOWrapper):
        sys.stdout.reconfigure(errors="backslashreplace")


def _discard_stdout() -> None:
    """Point standard output at /dev/null, so that flushing it at exit cannot fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (AttributeError, OSError, ValueError):
        pass  # no real file behind sys.stdout: nothing will be flushed to the pipe at exit


def _exit_on_sigterm(signum: int, frame: FrameType | None) -> None:
    # systemd stops services with SIGTERM, whose default action skips every cleanup.
    raise SystemExit(128 + signum)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="stocktaker", description=(
        "Firmware for Raspberry Pi asset scanners: audit a room, queue every sighting, "
        "write the report."))
    parser.add_argument("--version", action="version", version=f"stocktaker {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0,
                        help="log what happens (-vv: also debugging details)")
    sub = parser.add_subparsers(required=True, metavar="COMMAND")

    demo = sub.add_parser("demo", help="audit the sample room on simulated hardware")
    demo.add_argument("--out", type=Path, default=Path("demo-out"),
                      help="folder for the generated room, queue and reports (default demo-out)")
    demo.add_argument("--screens", type=Path, help="also save every OLED screen as PNG here")
    demo.add_argument("--style", choices=("braille", "halfblock", "none"), default="braille",
                      help="how the OLED is drawn in the terminal (default braille)")
    demo.set_defaults(command=_demo)

    run = sub.add_parser("run", help="run the device loop with the configured backends")
    run.add_argument("--config", type=Path, required=True, help="the TOML configuration file")
    run.add_argument("--screens", type=Path, help="save every OLED screen as PNG here")
    run.set_defaults(command=_run)

    sync = sub.add_parser("sync", help="hand everything queued to the register once, then exit")
    sync.add_argument("--config", type=Path, required=True, help="the TOML configuration file")
    sync.set_defaults(command=_sync)

    report = sub.add_parser("report", help=(
        "print an audit report, or a door kiosk's movements (--movements)"))
    report.add_argument("file", type=Path, nargs="?", help="a report-<session>.json file")
    report.add_argument("--movements", action="store_true", help=(
        "who took and returned what, per day, and what is out now (a kiosk; needs --config)"))
    report.add_argument("--since", metavar="DATE", help="with --movements: from this day on"
                        " (YYYY-MM-DD, UTC)")
    report.add_argument("--config", type=Path, help="with --movements: the TOML configuration")
    report.set_defaults(command=_report)

    from firmware.reconcile_command import add_parser as add_reconcile

    add_reconcile(sub)

    bench = sub.add_parser("bench", help="measure and print figures (same command on a Pi)",
                           epilog="benches:\n" + "\n".join(_bench_lines()),
                           formatter_class=argparse.RawDescriptionHelpFormatter)
    bench.add_argument("what", nargs="?", choices=tuple(BENCHES), metavar="BENCH",
                       help="which bench (listed below)")
    bench.add_argument("dirs", type=Path, nargs="*", metavar="DIR", help=(
        "with decode: image sets (each image beside a .txt of its content) or folders of"
        " them; none draws held-out sets"))
    bench.add_argument("--generate", type=Path, metavar="DIR",
                       help="with decode: only draw the held-out image sets into DIR")
    bench.add_argument("--seed", type=int, default=7,
                       help="with decode --generate: the draw (one seed, the same sets; default 7)")
    bench.add_argument("--camera", action="store_true", help=(
        "with decode and --config: time the configured camera live (on a device)"))
    bench.add_argument("--config", type=Path, help="with decode --camera: the configuration")
    bench.add_argument("--seconds", type=float, default=10.0,
                       help="with decode --camera: how long to watch (default 10)")
    bench.add_argument("--url", help="with nautobot: a test Nautobot's URL (the bench creates"
                                     " and then deletes a location and devices there)")
    bench.add_argument("--token-file", type=Path, help="with nautobot: its API token file")
    bench.add_argument("--devices", type=int, default=50, metavar="N",
                       help="with receiver: devices pushing at once (default 50)")
    bench.add_argument("--sightings", type=int, default=10_000, metavar="N",
                       help="with receiver: sightings each device pushes (default 10000)")
    bench.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="both",
                       help="with receiver: the database(s), side by side (default both)")
    bench.add_argument("--postgres-url", metavar="URL", help=(
        "with receiver: an empty PostgreSQL database to use (password in PGPASSWORD or"
        " ~/.pgpass); default: a throw-away server from the installed PostgreSQL"))
    bench.add_argument("--json", action="store_true",
                       help="with queue or decode: print the figures as one JSON object")
    bench.set_defaults(command=_bench)

    queue = sub.add_parser("queue", help="look at the on-device sighting queue")
    queue_actions = queue.add_subparsers(required=True, metavar="ACTION")
    queue_status = queue_actions.add_parser("status", help=(
        "what is queued, the oldest sighting, the last sync, dead letters, damaged files"
        " (safe while the device loop runs)"))
    queue_status.add_argument("--config", type=Path, required=True,
                              help="the TOML configuration file")
    queue_status.add_argument("--json", action="store_true", help="print one JSON object")
    queue_status.set_defaults(command=_queue_status)

    doctor = sub.add_parser("doctor", help=(
        "check every configured part and say how to fix what is missing"))
    doctor.add_argument("--config", type=Path, required=True, help="the TOML configuration file")
    doctor.add_argument("--listen", action="store_true", help=(
        "show what each reader sends, decoded, live (Ctrl-C to stop); nothing is saved"))
    doctor.set_defaults(command=_doctor)

    decode = sub.add_parser("decode", help="print what the camera pipeline reads in images")
    decode.add_argument("images", type=Path, nargs="+", metavar="IMAGE")
    decode.add_argument("--decoder", choices=("auto", "zbar", "zxing"), default="auto",
                        help="auto: zxing-cpp and zbar together, full effort (default)")
    decode.add_argument("--symbologies", metavar="LIST", help=(
        "comma-separated symbologies to look for (QR,CODE128...) or 'all'; default: those"
        " of camera.symbologies = []"))
    decode.set_defaults(command=_decode)

    label = sub.add_parser("label", help=(
        "print asset labels (QR of the register URL, tag, organisation); queued while the"
        " printer is offline, each printed once"))
    label.add_argument("tags", nargs="*", metavar="TAG",
                       help="asset tags to print; none sends what is queued")
    label.add_argument("--config", type=Path, required=True, help="the TOML configuration file")
    label.add_argument("--printer", metavar="ADDRESS", help=(
        "replaces printer.address (tcp://host[:port], file:///dev/usb/lp0, usb://...)"))
    label.add_argument("--wait", type=float, default=0.0, metavar="S",
                       help="keep trying an offline printer for S seconds (default 0: once)")
    label.set_defaults(command=_label)

    replay = sub.add_parser("hid-replay", help=(
        "decode an evtest recording of a HID scanner as the device would"))
    replay.add_argument("file", type=Path, help="the evtest output (evtest --grab DEVICE > FILE)")
    replay.add_argument("--keymap", choices=("us", "uk", "de", "fr"), default="us",
                        help="the keyboard layout the scanner is set to (default us)")
    replay.add_argument("--inter-key-timeout", type=float, default=None, metavar="S",
                        help="seconds without a key that discard a scan in progress"
                             " (default 0.1)")
    replay.add_argument("--terminator", choices=("enter", "tab"), default="enter",
                        help="the key that ends a scan (default enter)")
    replay.set_defaults(command=_hid_replay)

    server = sub.add_parser("register-server", help=(
        "run the reference receiver of the register protocol (docs/protocol.md)"))
    server.add_argument("--db", required=True, help=(
        "where sightings, reports and devices are kept: a SQLite file (PATH or"
        " sqlite:///PATH, created when missing) or postgresql://USER@HOST:PORT/DBNAME"))
    server.add_argument("--db-password-file", type=Path, metavar="FILE", help=(
        "file holding the PostgreSQL password (else PGPASSWORD or ~/.pgpass; never in"
        " the URL)"))
    server.add_argument("--manifest", type=Path, required=True,
                        help="the expected-inventory CSV served as the manifest")
    server.add_argument("--token-file", type=Path, required=True,
                        help="file holding the bearer token clients must send (mode 600)")
    server.add_argument("--people", type=Path,
                        help="a people CSV (badge, employee_num, name, username, id) served"
                             " to door kiosks")
    server.add_argument("--host", default="127.0.0.1",
                        help="address to listen on (default 127.0.0.1)")
    server.add_argument("--port", type=int, default=8080,
                        help="port to listen on; 0 picks a free one (default 8080)")
    server.add_argument("--viewers", type=Path, metavar="FILE", help=(
        "viewer credentials (made by register-viewer) that turn on the read-only"
        " dashboard at /dashboard/"))
    server.add_argument("--campaigns", type=Path, metavar="TOML", help=(
        "campaigns the dashboard shows with their rooms and period (name, rooms, from, to:"
        " the keys of reconcile --campaign-file; several as [[campaign]])"))
    server.set_defaults(command=_register_server)

    viewer = sub.add_parser("register-viewer", help=(
        "add a viewer of register-server's dashboard (or give one a new password)"))
    viewer.add_argument("viewers", type=Path, metavar="FILE",
                        help="the viewers file (made with mode 600 when missing)")
    viewer.add_argument("name", help="the viewer's user name")
    viewer.set_defaults(command=_register_viewer)
    return parser


def _run(args: argparse.Namespace) -> int:
    from firmware.config import load_config
    from firmware.device import run_device
    from firmware.report import format_report

    config = load_config(args.config)
    reports = run_device(config, screens_dir=args.screens)
    for report in reports:
        print(format_report(report))
    print("\n".join(terminal_safe(line) for line in _handed_over_lines(config)))
    return 0


def _handed_over_lines(config: Any) -> list[str]:
    """Where the run's sightings and reports went: the outbox, or the register, and what
    still waits on the device."""
    from firmware.service import without_credentials
    from sync.reports import waiting_reports

    register = config.register
    lines = [f"Outbox: {register.outbox}" if register.adapter == "files" else
             f"Register: {register.adapter} {without_credentials(register.url or '')}".rstrip()]
    folder = config.queue.path / "reports"
    waiting = waiting_reports(folder)
    if waiting:
        lines.append(f"Reports waiting on the device: {len(waiting)} in {folder}"
                     " (handed over at the next sync)")
    return lines


def _sync(args: argparse.Namespace) -> int:
    from firmware.config import load_config
    from firmware.device import run_sync
    from sync.engine import summarise

    result = run_sync(load_config(args.config))
    print(terminal_safe(summarise(result)))
    # 0 only when everything queued was taken (or refused for good, into the dead letters).
    return 0 if result.error is None and result.left == 0 else 4


def _demo(args: argparse.Namespace) -> int:
    from firmware.demo import run_demo

    return run_demo(args.out, screens_dir=args.screens, style=args.style)


def _doctor(args: argparse.Namespace) -> int:
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


def _report(args: argparse.Namespace) -> int:
    from firmware.report import format_report, load_report

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
    from firmware.movements import MovementLog
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


def _queue_status(args: argparse.Namespace) -> int:
    from firmware.config import load_config
    from sync.queue import format_status, read_status
    from sync.reports import waiting_reports

    path = load_config(args.config).queue.path
    status = read_status(path)
    waiting = waiting_reports(path / "reports")
    status.update(reports_waiting=len(waiting), reports_waiting_items=waiting)
    if args.json:
        print(_json_line(status))
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


def _bench_camera_live(args: argparse.Namespace) -> int:
    from firmware.config import load_config
    from hal.camera import open_decoder, open_frame_source
    from hal.camera.bench_stream import bench_live

    if args.what != "decode" or args.config is None or not 0 < args.seconds <= 3600:
        print("stocktaker: error: bench decode --camera --config FILE [--seconds S (0-3600)]",
              file=sys.stderr)
        return 2
    camera = load_config(args.config).camera
    if camera.backend == "none":
        print("stocktaker: error: camera.backend is none in this configuration", file=sys.stderr)
        return 2
    decoder = open_decoder(camera.decoder, camera.symbologies or None,
                           redundancy=camera.redundancy)
    source = open_frame_source(camera)
    print("\n".join(terminal_safe(line) for line in bench_live(source, decoder, args.seconds)))
    return 0


def _bench_receiver(args: argparse.Namespace) -> int:
    from sync.bench_receiver import bench_receiver, format_figures
    from sync.receiver.pgcluster import PostgresMissing

    if not (1 <= args.devices <= 500 and 1 <= args.sightings <= 1_000_000):
        print("stocktaker: error: bench receiver --devices 1-500 --sightings 1-1000000",
              file=sys.stderr)
        return 2
    databases = ("sqlite", "postgresql") if args.db == "both" else (args.db,)
    try:
        figures = bench_receiver(devices=args.devices, sightings=args.sightings,
                                 databases=databases, postgres_url=args.postgres_url)
    except (PostgresMissing, RuntimeError) as exc:
        print(f"stocktaker: error: bench receiver: {terminal_safe(str(exc))}",
              file=sys.stderr)
        return 1
    if args.json:
        import dataclasses

        print(_json_line({"receiver": [dataclasses.asdict(f) for f in figures]}), flush=True)
    else:
        print("\n".join(format_figures(figures)), flush=True)
    return 0


def _bench_queue_json(args: argparse.Namespace) -> int:
    if args.what == "decode":
        from hal.camera.bench import bench_decode_figures

        print(_json_line(bench_decode_figures(args.dirs)), flush=True)
        return 0
    if args.what != "queue":
        print("stocktaker: error: --json is only for 'bench queue' and 'bench decode'",
              file=sys.stderr)
        return 2
    from firmware.bench import room_journal
    from sync.bench import queue_figures

    print(_json_line(queue_figures(journal=room_journal)), flush=True)
    return 0


BENCHES = {
    "scan": "one scan from read to feedback, queued and journaled with fsync",
    "room": "one append to the open room's journal, and its resume, at several room sizes",
    "queue": "one durable append to the sighting queue at several depths (--json)",
    "sync": "the files outbox, the reference receiver and the Snipe-IT emulator's rate",
    "decode": "pyzbar, zxing-cpp and stocktaker on image sets (DIR..., or drawn; --json)",
    "camera": "a live camera stand-in: frames per second and frame to verdict",
    "nautobot": "1,000 sightings to a test Nautobot (--url URL --token-file FILE)",
    "receiver": "a fleet pushing into the receiver at once, SQLite and PostgreSQL (--json)",
    "dashboard": "the receiver's dashboard pages for 200 rooms and 20,000 assets",
    "all": "every bench above but nautobot, receiver and dashboard",
}
"""The ``stocktaker bench`` benches, each with what it measures."""


def _bench_lines() -> list[str]:
    return [f"  {name:<9} {what}" for name, what in BENCHES.items()]


def _bench(args: argparse.Namespace) -> int:
    if args.what is None:
        print("stocktaker: error: bench needs BENCH, one of:", file=sys.stderr)
        print("\n".join(_bench_lines()), file=sys.stderr)
        return 2
    if (args.dirs or args.generate) and args.what != "decode":
        print("stocktaker: error: DIR and --generate are only for 'bench decode'",
              file=sys.stderr)
        return 2
    if args.camera:
        return _bench_camera_live(args)
    if args.what == "nautobot":
        if not args.url or args.token_file is None:
            print("stocktaker: error: bench nautobot --url URL --token-file FILE",
                  file=sys.stderr)
            return 2
        from sync.bench_nautobot import bench_nautobot

        print("\n".join(terminal_safe(line)
                        for line in bench_nautobot(args.url, args.token_file)))
        return 0
    if args.what == "receiver":
        return _bench_receiver(args)
    if args.what == "dashboard":
        from sync.receiver.bench_dashboard import bench_dashboard

        print("\n".join(bench_dashboard()), flush=True)
        return 0
    if args.generate:
        from hal.camera.decode_sets import generate_sets

        for folder in generate_sets(args.generate, seed=args.seed):
            print(terminal_safe(folder))
        return 0
    if args.json:
        return _bench_queue_json(args)
    import platform

    print(f"stocktaker {__version__}, Python {platform.python_version()}, {platform.machine()}")
    if args.what in ("scan", "all"):
        from firmware.bench import bench_scan

        print("\n".join(bench_scan()), flush=True)
    if args.what in ("room", "all"):
        from firmware.bench import bench_room

        print("\n".join(bench_room()), flush=True)
    if args.what in ("queue", "all"):
        from firmware.bench import room_journal
        from sync.bench import bench_queue

        print("\n".join(bench_queue(journal=room_journal)), flush=True)
    if args.what in ("sync", "all"):
        from sync.bench_http import bench_http
        from sync.bench_snipeit import bench_snipeit, bench_snipeit_handover
        from sync.bench_sync import bench_files_push

        print("\n".join(bench_files_push()), flush=True)
        print("\n".join(bench_http()), flush=True)
        print("\n".join(bench_snipeit()), flush=True)
        print("\n".join(bench_snipeit_handover()), flush=True)
    if args.what in ("camera", "all"):
        from firmware.bench import bench_frame_to_verdict
        from hal.camera.bench_stream import bench_camera

        print("\n".join(bench_camera()), flush=True)
        print("\n".join(bench_frame_to_verdict()), flush=True)
    if args.what in ("decode", "all"):
        from hal.camera.bench import bench_decode_figures, format_figures

        figures = bench_decode_figures(args.dirs)
        print("\n".join(terminal_safe(line) for line in format_figures(figures)), flush=True)
    return 0


def _decode(args: argparse.Namespace) -> int:
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
            print(_json_line({"file": str(image), "error": str(exc)}), flush=True)
            continue
        line = {"file": str(image), "reads": [
            {"payload": r.payload.decode("utf-8", "backslashreplace"), "symbology": r.symbology}
            for r in reads]}
        print(_json_line(line), flush=True)
    return 1 if failed else 0


def _label(args: argparse.Namespace) -> int:
    from firmware.config import load_config
    from firmware.printing import print_labels

    return print_labels(load_config(args.config), args.tags, sys.stdout,
                        address=args.printer, wait=max(0.0, args.wait))


def _hid_replay(args: argparse.Namespace) -> int:
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


def _register_server(args: argparse.Namespace) -> int:
    from firmware.errors import ConfigError
    from sync.receiver import run_receiver

    if not 0 <= args.port <= 65535:
        raise ConfigError(f"--port {args.port}: not a port (0 to 65535)")
    return run_receiver(args.db, args.manifest, args.token_file, args.host, args.port,
                        people=args.people, db_password_file=args.db_password_file,
                        viewers=args.viewers, campaigns=args.campaigns)


def _register_viewer(args: argparse.Namespace) -> int:
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


_UNPRINTABLE = re.compile(r"[^\x20-\x7e]")


def _json_line(value: Any) -> str:
    """One line of JSON with every character a terminal could act on as a ``\\u`` escape.

    Printable non-ASCII text stays readable; the JSON means exactly the same.
    """
    text = json.dumps(value, ensure_ascii=False)
    return _UNPRINTABLE.sub(lambda m: _json_escape(m[0]), text)


def _json_escape(ch: str) -> str:
    if ch.isprintable():
        return ch
    code = ord(ch)
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    code -= 0x10000
    return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"


if __name__ == "__main__":
    sys.exit(main())
