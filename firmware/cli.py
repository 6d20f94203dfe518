"""The ``stocktaker`` command line."""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
from pathlib import Path
from types import FrameType

from firmware import __version__
from firmware.errors import StocktakerError


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit code (0 success, 2 bad configuration or data)."""
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    try:
        return int(args.command(args) or 0)
    except StocktakerError as exc:
        print(f"stocktaker: error: {exc}", file=sys.stderr)
        return exc.exit_code


def _exit_on_sigterm(signum: int, frame: FrameType | None) -> None:
    # systemd stops services with SIGTERM, whose default action skips every cleanup.
    raise SystemExit(128 + signum)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="stocktaker", description=(
        "Firmware for Raspberry Pi asset scanners: audit a room, queue every sighting, "
        "write the report."))
    parser.add_argument("--version", action="version", version=f"stocktaker {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log what happens")
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

    report = sub.add_parser("report", help="print an audit report")
    report.add_argument("file", type=Path, help="a report-<session>.json file")
    report.set_defaults(command=_report)

    bench = sub.add_parser("bench", help="measure and print figures (same command on a Pi)")
    bench.add_argument("what", choices=("scan", "queue", "decode", "all"))
    bench.set_defaults(command=_bench)

    decode = sub.add_parser("decode", help="print what the camera pipeline reads in images")
    decode.add_argument("images", type=Path, nargs="+", metavar="IMAGE")
    decode.add_argument("--decoder", choices=("zbar", "zxing"), default="zbar")
    decode.set_defaults(command=_decode)
    return parser


def _run(args: argparse.Namespace) -> int:
    from firmware.config import load_config
    from firmware.device import run_device
    from firmware.report import format_report

    config = load_config(args.config)
    reports = run_device(config, screens_dir=args.screens)
    for report in reports:
        print(format_report(report))
    print(f"Outbox: {config.register.outbox}")
    return 0


def _demo(args: argparse.Namespace) -> int:
    from firmware.demo import run_demo

    return run_demo(args.out, screens_dir=args.screens, style=args.style)


def _report(args: argparse.Namespace) -> int:
    from firmware.report import format_report, load_report

    print(format_report(load_report(args.file)))
    return 0


def _bench(args: argparse.Namespace) -> int:
    import platform

    print(f"stocktaker {__version__}, Python {platform.python_version()}, {platform.machine()}")
    if args.what in ("scan", "all"):
        from firmware.bench import bench_scan

        print("\n".join(bench_scan()), flush=True)
    if args.what in ("queue", "all"):
        from sync.bench import bench_queue

        print("\n".join(bench_queue()), flush=True)
    if args.what in ("decode", "all"):
        from hal.camera.bench import bench_decode

        print("\n".join(bench_decode()), flush=True)
    return 0


def _decode(args: argparse.Namespace) -> int:
    from hal.camera import decode_image_file, open_decoder

    decoder = open_decoder(args.decoder)
    failed = 0
    for image in args.images:
        try:
            reads = decode_image_file(image, decoder)
        except StocktakerError as exc:
            failed += 1
            print(json.dumps({"file": str(image), "error": str(exc)}), flush=True)
            continue
        line = {"file": str(image), "reads": [
            {"payload": r.payload.decode("utf-8", "backslashreplace"), "symbology": r.symbology}
            for r in reads]}
        print(json.dumps(line, ensure_ascii=False), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
