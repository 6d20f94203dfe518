"""The ``stocktaker`` command line: its parser, and running a command with one-line errors
and exit codes. What each command does is :mod:`firmware.cli_commands` (and
:mod:`firmware.cli_bench` for ``stocktaker bench``)."""

from __future__ import annotations

import argparse
import io
import logging
import os
import signal
import sys
from pathlib import Path
from types import FrameType
from typing import Any

from firmware import __version__
from firmware import cli_commands as commands
from firmware import cli_bench
from firmware.cli_bench import BENCHES, bench_lines
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
    demo.set_defaults(command=commands.demo)

    run = sub.add_parser("run", help="run the device loop with the configured backends")
    run.add_argument("--config", type=Path, required=True, help="the TOML configuration file")
    run.add_argument("--screens", type=Path, help="save every OLED screen as PNG here")
    run.set_defaults(command=commands.run)

    sync = sub.add_parser("sync", help="hand everything queued to the register once, then exit")
    sync.add_argument("--config", type=Path, required=True, help="the TOML configuration file")
    sync.set_defaults(command=commands.sync)

    report = sub.add_parser("report", help=(
        "print an audit report, or a door kiosk's movements (--movements)"))
    report.add_argument("file", type=Path, nargs="?", help="a report-<session>.json file")
    report.add_argument("--movements", action="store_true", help=(
        "who took and returned what, per day, and what is out now (a kiosk; needs --config)"))
    report.add_argument("--since", metavar="DATE", help="with --movements: from this day on"
                        " (YYYY-MM-DD, UTC)")
    report.add_argument("--config", type=Path, help="with --movements: the TOML configuration")
    report.set_defaults(command=commands.report)

    from firmware.reconcile_command import add_parser as add_reconcile

    add_reconcile(sub)

    bench = sub.add_parser("bench", help="measure and print figures (same command on a Pi)",
                           epilog="benches:\n" + "\n".join(bench_lines()),
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
    bench.set_defaults(command=cli_bench.bench)

    queue = sub.add_parser("queue", help="look at the on-device sighting queue")
    queue_actions = queue.add_subparsers(required=True, metavar="ACTION")
    queue_status = queue_actions.add_parser("status", help=(
        "what is queued, the oldest sighting, the last sync, dead letters, damaged files"
        " (safe while the device loop runs)"))
    queue_status.add_argument("--config", type=Path, required=True,
                              help="the TOML configuration file")
    queue_status.add_argument("--json", action="store_true", help="print one JSON object")
    queue_status.set_defaults(command=commands.queue_status)

    doctor = sub.add_parser("doctor", help=(
        "check every configured part and say how to fix what is missing"))
    doctor.add_argument("--config", type=Path, required=True, help="the TOML configuration file")
    doctor.add_argument("--listen", action="store_true", help=(
        "show what each reader sends, decoded, live (Ctrl-C to stop); nothing is saved"))
    doctor.set_defaults(command=commands.doctor)

    decode = sub.add_parser("decode", help="print what the camera pipeline reads in images")
    decode.add_argument("images", type=Path, nargs="+", metavar="IMAGE")
    decode.add_argument("--decoder", choices=("auto", "zbar", "zxing"), default="auto",
                        help="auto: zxing-cpp and zbar together, full effort (default)")
    decode.add_argument("--symbologies", metavar="LIST", help=(
        "comma-separated symbologies to look for (QR,CODE128...) or 'all'; default: those"
        " of camera.symbologies = []"))
    decode.set_defaults(command=commands.decode)

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
    label.set_defaults(command=commands.label)

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
    replay.set_defaults(command=commands.hid_replay)

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
    server.set_defaults(command=commands.register_server)

    viewer = sub.add_parser("register-viewer", help=(
        "add a viewer of register-server's dashboard (or give one a new password)"))
    viewer.add_argument("viewers", type=Path, metavar="FILE",
                        help="the viewers file (made with mode 600 when missing)")
    viewer.add_argument("name", help="the viewer's user name")
    viewer.set_defaults(command=commands.register_viewer)
    return parser


if __name__ == "__main__":
    sys.exit(main())
