"""What a room's report and ``stocktaker run``'s summary say, through the real command."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

from tests.test_receiver import running_receiver

MANIFEST = ("asset_tag,serial,name,location,status,assigned_to,id\n"
            "IT-1,SN-1,Laptop one,Storage B,,,1\n"
            "IT-2,SN-2,Dock two,Storage B,,,2\n"
            "IT-3,SN-3,Monitor three,Storage A,,,3\n")


def handheld_config(folder: Path, *, register: str, repeat_window: float = 30.0,
                    health: bool = False) -> Path:
    """A handheld reading standard input; ``register`` is the ``[register]`` section's body."""
    lines = ['[device]', 'id = "hh-1"', '[audit]', 'technician = "ana"',
             'location = "Storage B"', f'repeat_window = {repeat_window}',
             '[camera]', 'backend = "none"', '[scanner]', 'backend = "stdin"',
             '[display]', 'backend = "none"', '[feedback]', 'backend = "none"',
             '[register]', register, '[queue]', 'path = "state"']
    if health:
        lines += ['[service]', 'health_file = "health.prom"']
    path = folder / "stocktaker.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def files_register(folder: Path) -> str:
    (folder / "expected.csv").write_text(MANIFEST, encoding="utf-8")
    return 'adapter = "files"\nmanifest = "expected.csv"\noutbox = "out"'


def run(config: Path, lines: list[str], *options: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "firmware", *options, "run", "--config",
                           str(config)], input="\n".join(lines) + "\n", capture_output=True,
                          text=True, timeout=300, cwd=config.parent)


def only(folder: Path, pattern: str) -> Path:
    found = sorted(folder.glob(pattern))
    assert len(found) == 1, found
    return found[0]


def test_csv_scan_rows_carry_the_registers_serial_and_name(tmp_path: Path) -> None:
    config = handheld_config(tmp_path, register=files_register(tmp_path))
    done = run(config, ["IT-1", "IT-3", "IT-404"])
    assert done.returncode == 0, done.stderr
    with only(tmp_path / "out", "report-*.csv").open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    found = {(r["row_type"], r["asset_tag"] or r["payload"]): (r["serial"], r["name"])
             for r in rows}
    assert found == {("scan", "IT-1"): ("SN-1", "Laptop one"),      # verified
                     ("scan", "IT-3"): ("SN-3", "Monitor three"),   # mislocated
                     ("scan", "IT-404"): ("", ""),                  # unknown to the register
                     ("ghost", "IT-2"): ("SN-2", "Dock two")}
    report = json.loads(only(tmp_path / "out", "report-*.json").read_text(encoding="utf-8"))
    assert [(s["serial"], s["name"]) for s in report["scans"]] == [
        ("SN-1", "Laptop one"), ("SN-3", "Monitor three"), ("", "")]
    assert done.stdout.rstrip().endswith(f"Outbox: {tmp_path / 'out'}")


def test_with_the_http_register_the_summary_names_the_register_not_an_outbox(
        tmp_path: Path) -> None:
    with running_receiver(tmp_path / "receiver") as receiver:
        config = handheld_config(tmp_path, register=(
            f'adapter = "http"\nurl = "{receiver.url}"\ntoken_file = "{receiver.token_file}"'))
        done = run(config, ["IT-0001"])
    assert done.returncode == 0, done.stderr
    assert "Outbox" not in done.stdout and not (tmp_path / "out").exists()
    assert done.stdout.rstrip().splitlines()[-1] == f"Register: http {receiver.url}"


def test_the_summary_says_when_a_report_is_still_on_the_device(tmp_path: Path) -> None:
    config = handheld_config(tmp_path, register=files_register(tmp_path))
    (tmp_path / "out").write_text("a file where the outbox folder should be")
    done = run(config, ["IT-1"])
    assert done.returncode == 0, done.stderr
    assert (f"Reports waiting on the device: 1 in {tmp_path / 'state' / 'reports'}"
            " (handed over at the next sync)") in done.stdout


def test_reads_dropped_within_the_repeat_window_are_counted_and_logged(tmp_path: Path) -> None:
    config = handheld_config(tmp_path, register=files_register(tmp_path), health=True)
    done = run(config, ["IT-1", "IT-1", "IT-2", "IT-1"], "-vv")
    assert done.returncode == 0, done.stderr
    report = json.loads(only(tmp_path / "out", "report-*.json").read_text(encoding="utf-8"))
    assert report["counts"]["verified"] == 2 and len(report["scans"]) == 2
    assert report["repeat_reads_dropped"] == 2
    assert "  2 reads of the same label within audit.repeat_window taken as one" in done.stdout
    dropped = [line for line in done.stderr.splitlines()
               if line.startswith("DEBUG") and "IT-1 from stdin dropped" in line]
    assert len(dropped) == 2, done.stderr
    health = (tmp_path / "health.prom").read_text(encoding="utf-8").splitlines()
    assert "# TYPE stocktaker_repeat_reads_dropped_total counter" in health
    assert "stocktaker_repeat_reads_dropped_total 2" in health


def test_the_report_command_shows_the_dropped_reads(tmp_path: Path) -> None:
    config = handheld_config(tmp_path, register=files_register(tmp_path))
    assert run(config, ["IT-1", "IT-1"]).returncode == 0
    report = only(tmp_path / "out", "report-*.json")
    done = subprocess.run([sys.executable, "-m", "firmware", "report", str(report)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "  1 read of the same label within audit.repeat_window taken as one" in done.stdout
