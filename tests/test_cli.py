"""The command line: version, report, decode, demo, and errors with exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from firmware import __version__
from hal import labels


def stocktaker(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "firmware", *args], capture_output=True,
                          text=True, timeout=300, cwd=cwd)


def test_version() -> None:
    done = stocktaker("--version")
    assert done.returncode == 0 and done.stdout.strip() == f"stocktaker {__version__}"


def test_decode_prints_one_json_line_per_image_and_goes_on_after_a_bad_one(tmp_path: Path) -> None:
    labels.place_in_frame(labels.qr_label("https://a.example/hardware/7"), seed=1).save(
        tmp_path / "qr.png")
    labels.place_in_frame(labels.code128_label("IT-004512"), seed=2).save(tmp_path / "bars.png")
    (tmp_path / "broken.png").write_bytes(b"not an image")
    labels.blank_frame(seed=3).save(tmp_path / "empty.png")
    names = ["qr.png", "broken.png", "bars.png", "empty.png"]
    done = stocktaker("decode", *names, cwd=tmp_path)
    assert done.returncode == 1
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert [line["file"] for line in lines] == names
    assert lines[0]["reads"] == [{"payload": "https://a.example/hardware/7", "symbology": "QR"}]
    assert "broken.png" in lines[1]["error"]
    assert lines[2]["reads"] == [{"payload": "IT-004512", "symbology": "CODE128"}]
    assert lines[3]["reads"] == []


def test_demo_shows_every_verdict_and_writes_the_report(tmp_path: Path) -> None:
    out, screens = tmp_path / "demo", tmp_path / "screens"
    done = stocktaker("demo", "--out", str(out), "--screens", str(screens))
    assert done.returncode == 0, done.stderr
    (report_file,) = (out / "out").glob("report-*.json")
    report = json.loads(report_file.read_text(encoding="utf-8"))
    assert report["counts"] == {"verified": 11, "mislocated": 1, "unregistered": 2,
                                "retired": 1, "recovered": 1, "ambiguous": 1, "repeat": 1,
                                "rejected": 1, "ghost": 3}
    assert report["location"] == "Storage B" and report["expected"] == 14
    assert [u["reason"] for u in report["unregistered"]] == [
        None, "label of another register (previous-owner.example)"]
    assert [c["asset_tag"] for c in report["ambiguous"][0]["candidates"]] == [
        "IT-004511", "IT-004417"]
    assert report["recovered"][0]["asset_tag"] == "IT-004409"
    assert any("2213AB0452" in w for w in report["warnings"])
    shown = {p.name.split("-")[1] for p in screens.glob("*.png")}
    assert {"verified", "mislocated", "unregistered", "retired", "recovered", "ambiguous",
            "repeat", "rejected", "summary"} <= shown
    for word in ("[feedback] verified", "[feedback] mislocated", "[feedback] rejected",
                 "Ghosts (expected here, not seen):", "IT-004512"):
        assert word in done.stdout
    assert "\u2800" in done.stdout  # the OLED drawn in braille

    again = stocktaker("report", str(report_file))
    assert again.returncode == 0 and "verified 11 of 14 expected" in again.stdout


def test_demo_refuses_a_folder_that_is_not_its_own(tmp_path: Path) -> None:
    (tmp_path / "precious.txt").write_text("keep me")
    done = stocktaker("demo", "--out", str(tmp_path), "--style", "none")
    assert done.returncode == 2 and "not a stocktaker demo folder" in done.stderr
    assert (tmp_path / "precious.txt").read_text() == "keep me"


def test_report_of_a_file_that_is_not_a_report(tmp_path: Path) -> None:
    (tmp_path / "x.json").write_text("[1, 2]")
    done = stocktaker("report", str(tmp_path / "x.json"))
    assert done.returncode == 2 and "not a stocktaker audit report" in done.stderr


def test_decode_escapes_what_a_terminal_would_act_on_and_the_json_means_the_same(
        tmp_path: Path) -> None:
    payload = "IT\x1b[2J\x1b]0;title\x07\x7f-1"
    labels.place_in_frame(labels.qr_label(payload.encode()), seed=1).save(tmp_path / "qr.png")
    missing = "no\u202esuch\x9b\u2028file.png"
    done = stocktaker("decode", "qr.png", missing, cwd=tmp_path)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert all(line.isprintable() and line.isascii() for line in done.stdout.splitlines())
    found, failed = [json.loads(line) for line in done.stdout.splitlines()]
    assert found["reads"] == [{"payload": payload, "symbology": "QR"}]
    assert failed["file"] == missing and missing in failed["error"]


def test_decode_keeps_printable_text_readable(tmp_path: Path) -> None:
    labels.place_in_frame(labels.code128_label("IT-004512"), seed=2).save(
        tmp_path / "Größe.png")
    done = stocktaker("decode", "Größe.png", cwd=tmp_path)
    assert done.stdout == ('{"file": "Größe.png", "reads": [{"payload": "IT-004512",'
                           ' "symbology": "CODE128"}]}\n')
