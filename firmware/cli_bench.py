"""``stocktaker bench``: the benches by name, and the command that runs them and prints
their figures (the same command on a Pi as on a workstation)."""

from __future__ import annotations

import argparse
import sys

from firmware import __version__
from firmware.terminal_json import json_line
from firmware.text import terminal_safe

__all__ = ["BENCHES", "bench", "bench_lines"]


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

        print(json_line({"receiver": [dataclasses.asdict(f) for f in figures]}), flush=True)
    else:
        print("\n".join(format_figures(figures)), flush=True)
    return 0


def _bench_queue_json(args: argparse.Namespace) -> int:
    if args.what == "decode":
        from hal.camera.bench_decode import bench_decode_figures

        print(json_line(bench_decode_figures(args.dirs)), flush=True)
        return 0
    if args.what != "queue":
        print("stocktaker: error: --json is only for 'bench queue' and 'bench decode'",
              file=sys.stderr)
        return 2
    from firmware.bench_scan import room_journal
    from sync.bench_queue import queue_figures

    print(json_line(queue_figures(journal=room_journal)), flush=True)
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


def bench_lines() -> list[str]:
    return [f"  {name:<9} {what}" for name, what in BENCHES.items()]


def bench(args: argparse.Namespace) -> int:
    if args.what is None:
        print("stocktaker: error: bench needs BENCH, one of:", file=sys.stderr)
        print("\n".join(bench_lines()), file=sys.stderr)
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
        from firmware.bench_scan import bench_scan

        print("\n".join(bench_scan()), flush=True)
    if args.what in ("room", "all"):
        from firmware.bench_scan import bench_room

        print("\n".join(bench_room()), flush=True)
    if args.what in ("queue", "all"):
        from firmware.bench_scan import room_journal
        from sync.bench_queue import bench_queue

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
        from firmware.bench_scan import bench_frame_to_verdict
        from hal.camera.bench_stream import bench_camera

        print("\n".join(bench_camera()), flush=True)
        print("\n".join(bench_frame_to_verdict()), flush=True)
    if args.what in ("decode", "all"):
        from hal.camera.bench_decode import bench_decode_figures, format_figures

        figures = bench_decode_figures(args.dirs)
        print("\n".join(terminal_safe(line) for line in format_figures(figures)), flush=True)
    return 0
