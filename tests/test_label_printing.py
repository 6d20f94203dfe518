"""``stocktaker label``: labels printed on a stand-in network printer, each exactly once,
through printer outages and SIGKILLs of the real command."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import numpy as np
import pytest

from firmware.config import load_config
from firmware.print_jobs import PrintJobs
from firmware.printing import label_url
from hal.camera import open_decoder
from tests.printer_formats import read_brother, read_zpl
from tests.printer_standin import StandInPrinter, brother_complete

ROOT = Path(__file__).resolve().parent.parent
TAGS = [f"IT-{n:06d}" for n in range(4501, 4507)]
REGISTER = "https://assets.example.org"


@pytest.fixture(scope="module")
def decoder():
    return open_decoder("auto", still=True)


def _config(tmp_path: Path, address: str, **printer: str | int) -> Path:
    settings = {"backend": "zpl", "address": address, "label": "2x1in", "dpi": 203,
                "organisation": "Example Corp. IT", **printer}
    lines = "\n".join(f"{k} = {v!r}" if isinstance(v, int) else f'{k} = "{v}"'
                      for k, v in settings.items())
    path = tmp_path / "stocktaker.toml"
    path.write_text(textwrap.dedent(f"""\
        [register]
        url = "{REGISTER}"
        [queue]
        path = "state"
        [printer]
        """) + lines + "\n")
    return path


def _label(config: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "firmware", "label", *args, "--config",
                           str(config)], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout)


def _tags_printed(decoder, printer: StandInPrinter) -> list[str]:
    """The tag of every label the printer printed, read back from its QR code."""
    printer.settle()
    tags = []
    for job in list(printer.printed):
        (fmt,) = read_zpl(job)
        (_, _, graphic), = fmt.graphics
        ((payload, kind),) = decoder.decode(np.asarray(graphic))
        assert kind == "QR" and payload.decode().startswith(REGISTER + "/")
        assert "/ht/" in payload.decode()
        tags.append(payload.decode().rsplit("/", 1)[1])
    return tags


def test_labels_print_once_each_in_order(tmp_path, decoder) -> None:
    with StandInPrinter() as printer:
        config = _config(tmp_path, printer.address)
        done = _label(config, *TAGS[:3])
        assert done.returncode == 0, done.stderr
        assert done.stdout.splitlines() == [f"{t}: printed" for t in TAGS[:3]]
        again = _label(config)  # nothing queued: nothing sent
        assert again.returncode == 0 and again.stdout == ""
        assert _tags_printed(decoder, printer) == TAGS[:3]  # settles the printer first
        assert printer.connections == 3 and printer.cut_short == []


def test_offline_printer_queues_and_prints_when_it_is_back(tmp_path, decoder) -> None:
    printer = StandInPrinter()
    printer.online()
    printer.offline()  # the port is known, nothing listens on it
    try:
        config = _config(tmp_path, printer.address)
        queued = _label(config, *TAGS[:2])
        assert queued.returncode == 3
        assert queued.stdout.splitlines()[:2] == [f"{t}: printer offline, queued"
                                                  for t in TAGS[:2]]
        assert "2 label(s) queued" in queued.stdout
        still = _label(config, TAGS[2])  # a third while it is still off: queued behind them
        assert still.returncode == 3 and "3 label(s) queued" in still.stdout
        printer.online()
        back = _label(config)
        assert back.returncode == 0, back.stdout + back.stderr
        assert back.stdout.splitlines() == [f"{t}: printed" for t in TAGS[:3]]
        assert _label(config).stdout == ""
        assert _tags_printed(decoder, printer) == TAGS[:3]
        states = {j.tag: j.state for j in PrintJobs(tmp_path / "state" / "labels").jobs()}
        assert states == dict.fromkeys(TAGS[:3], "printed")
    finally:
        printer.stop()


def test_wait_keeps_trying_until_the_printer_is_back(tmp_path, decoder) -> None:
    printer = StandInPrinter()
    printer.online()
    printer.offline()
    try:
        config = _config(tmp_path, printer.address)
        buffered = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
        command = subprocess.Popen(
            [sys.executable, "-m", "firmware", "label", *TAGS[:2], "--wait", "90",
             "--config", str(config)], cwd=ROOT, stdout=subprocess.PIPE, text=True,
            env=buffered)
        try:
            first = [command.stdout.readline() for _ in range(2)]
            assert first == [f"{t}: printer offline, queued\n" for t in TAGS[:2]]
            printer.online()
            out, _ = command.communicate(timeout=120)
        finally:
            command.kill()
            command.wait()
        assert command.returncode == 0
        assert out.splitlines() == [f"{t}: printed" for t in TAGS[:2]]
        assert _tags_printed(decoder, printer) == TAGS[:2]
    finally:
        printer.stop()


@pytest.mark.parametrize("kill_after", [1, 3])
def test_sigkill_mid_queue_never_prints_a_label_twice(tmp_path, decoder, kill_after) -> None:
    """The real command is SIGKILLed as the printer takes its n-th label. The next run
    prints the rest; a label caught in flight is named as uncertain, not sent again; the
    person prints it again if it did not come out. In the end: every label exactly once."""
    command: list[subprocess.Popen] = []
    ready = threading.Event()

    def kill_at(_: bytes) -> None:
        if len(printer.printed) == kill_after:
            ready.wait(30)
            os.kill(command[0].pid, signal.SIGKILL)

    printer = StandInPrinter(on_printed=kill_at)
    with printer:
        config = _config(tmp_path, printer.address)
        proc = subprocess.Popen([sys.executable, "-m", "firmware", "label", *TAGS,
                                 "--config", str(config)], cwd=ROOT,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        command.append(proc)
        ready.set()
        assert proc.wait(timeout=120) == -signal.SIGKILL
        killed_at = _tags_printed(decoder, printer)
        assert killed_at == TAGS[:len(killed_at)] and len(killed_at) >= kill_after

        rest = _label(config)
        uncertain = [line.split(":")[0] for line in rest.stdout.splitlines()
                     if ": uncertain:" in line]
        printed = _tags_printed(decoder, printer)
        assert sorted(set(printed)) == sorted(printed), "a label was printed twice"
        missing = [t for t in TAGS if t not in printed]
        assert set(missing) <= set(uncertain)  # nothing lost silently
        assert len(uncertain) <= 1  # at most the one in flight
        assert rest.returncode == (3 if uncertain else 0)

        # The person looks at the printer and prints again what did not come out.
        if missing:
            again = _label(config, *missing)
            assert again.returncode == 0, again.stdout
        assert sorted(_tags_printed(decoder, printer)) == TAGS
        assert _label(config).returncode == 0  # reported once, not sent again
        assert sorted(_tags_printed(decoder, printer)) == TAGS


def test_a_job_cut_short_by_a_kill_is_uncertain_and_never_resent(tmp_path, decoder) -> None:
    """A sender SIGKILLed halfway through a job: the printer got half a format and printed
    nothing; the next run does not send it by itself, it names it; asking for the label
    again prints it once."""
    with StandInPrinter() as printer:
        config = _config(tmp_path, printer.address)
        script = textwrap.dedent(f"""
            import os, signal, socket
            from firmware.config import load_config
            from firmware.print_jobs import PrintJobs
            from firmware.printing import label_url, labels_folder, open_configured_printer
            from hal.printer import draw_label
            config = load_config({str(config)!r})
            printer = open_configured_printer(config)
            jobs = PrintJobs(labels_folder(config))
            jobs.add({TAGS[0]!r}, label_url(config, {TAGS[0]!r}))
            class HalfThenKilled:
                def render(self, job):
                    return printer.job_bytes(draw_label(job.url, job.tag, "", printer.size))
                def send(self, job, data):
                    sock = socket.create_connection(("127.0.0.1", {printer.port}))
                    sock.sendall(data[: len(data) // 2])
                    os.kill(os.getpid(), signal.SIGKILL)
            jobs.flush(HalfThenKilled())
            """)
        crashed = subprocess.run([sys.executable, "-c", script], cwd=ROOT, timeout=120)
        assert crashed.returncode == -signal.SIGKILL
        printer.settle()
        assert len(printer.cut_short) == 1 and printer.printed == []

        after = _label(config)
        assert after.returncode == 3
        assert after.stdout.startswith(f"{TAGS[0]}: uncertain:")
        assert f"stocktaker label {TAGS[0]}" in after.stdout
        assert printer.printed == []  # not resent by itself
        later = _label(config)  # nor by the next run, which does not repeat the warning
        assert (later.returncode, later.stdout, printer.printed) == (0, "", [])

        again = _label(config, TAGS[0])
        assert again.returncode == 0 and again.stdout == f"{TAGS[0]}: printed\n"
        assert _tags_printed(decoder, printer) == [TAGS[0]]
        states = sorted(j.state for j in PrintJobs(tmp_path / "state" / "labels").jobs())
        assert states == ["printed", "superseded"]


def test_brother_raster_over_the_network(tmp_path, decoder) -> None:
    with StandInPrinter(complete=brother_complete) as printer:
        config = _config(tmp_path, printer.address, backend="brother_ql", label="29x90",
                         dpi=300)
        done = _label(config, TAGS[0])
        assert done.returncode == 0, done.stderr
        (job,) = printer.printed
    (page,) = read_brother(job, tmp_path / "pages")
    assert decoder.decode(np.asarray(page)) == [
        (f"{REGISTER}/ht/{TAGS[0]}".encode(), "QR")]


def test_zpl_to_a_usb_device_file(tmp_path, decoder) -> None:
    device = tmp_path / "lp0"
    config = _config(tmp_path, f"file://{device}")
    unplugged = _label(config, TAGS[0])
    assert unplugged.returncode == 3
    assert "not plugged in or switched off" in unplugged.stdout
    device.write_bytes(b"")  # plugged in
    assert _label(config).returncode == 0
    (fmt,) = read_zpl(device.read_bytes())
    (_, _, graphic), = fmt.graphics
    assert decoder.decode(np.asarray(graphic)) == [(f"{REGISTER}/ht/{TAGS[0]}".encode(), "QR")]


def test_the_file_stand_in_writes_the_artwork(tmp_path, decoder) -> None:
    config = _config(tmp_path, "", backend="file", folder="printed", label="62", dpi=300)
    assert _label(config, "IT/42 ä").returncode == 0
    (png,) = (tmp_path / "printed").glob("*.png")
    from PIL import Image

    found = decoder.decode(np.asarray(Image.open(png).convert("L")))
    assert found == [(f"{REGISTER}/ht/IT%2F42%20%C3%A4".encode(), "QR")]
    assert label_url(load_config(config), "IT/42 ä") == found[0][0].decode()


@pytest.mark.parametrize("printer,args,message", [
    ({"backend": "none"}, ["IT-1"], "no label printer is configured"),
    ({}, ["IT-1", "IT-\x07"], "control or invisible characters"),
    ({}, ["IT-" + "9" * 70], "not an asset tag"),
    ({}, ["  "], "empty tag"),
    ({"label": "62"}, ["IT-1"], "printer.label: 62 at 203 dpi is not a label size of 'zpl'"),
    ({"address": "printer:9100"}, ["IT-1"], "is not a printer address"),
])
def test_bad_settings_and_tags_queue_nothing(tmp_path, printer, args, message) -> None:
    config = _config(tmp_path, printer.pop("address", "tcp://127.0.0.1:9"), **printer)
    done = _label(config, *args)
    assert done.returncode == 2
    assert message in done.stderr and done.stderr.count("\n") == 1
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "state" / "labels").exists() or not list(
        (tmp_path / "state" / "labels").glob("*.json"))


def test_brother_to_a_usb_device_file(tmp_path, decoder) -> None:
    device = tmp_path / "lp0"
    device.write_bytes(b"")
    config = _config(tmp_path, f"file://{device}", backend="brother_ql", label="62", dpi=300)
    assert _label(config, TAGS[1]).returncode == 0
    (page,) = read_brother(device.read_bytes(), tmp_path / "pages")
    assert decoder.decode(np.asarray(page)) == [(f"{REGISTER}/ht/{TAGS[1]}".encode(), "QR")]


def test_brother_on_usb_without_the_printer_queues_the_label(tmp_path) -> None:
    config = _config(tmp_path, "usb://0x04f9:0x209d", backend="brother_ql", label="62",
                     dpi=300)
    done = _label(config, TAGS[0])
    assert done.returncode == 3, done.stderr
    assert done.stdout.startswith(f"{TAGS[0]}: printer offline, queued\n")
    assert "printer usb://0x04f9:0x209d" in done.stdout and done.stderr == ""
    (job,) = PrintJobs(tmp_path / "state" / "labels").jobs()
    assert job.state == "queued"


def test_a_damaged_job_file_is_never_sent_and_does_not_stop_the_others(tmp_path, decoder) -> None:
    jobs = PrintJobs(tmp_path / "state" / "labels")
    kept = jobs.add(TAGS[0], f"{REGISTER}/ht/{TAGS[0]}")
    bad = jobs.add(TAGS[1], f"{REGISTER}/ht/{TAGS[1]}")
    path = jobs.folder / f"{bad.id}.json"
    path.write_text(path.read_text().replace(f'"created": {bad.created}', '"created": "soon"'))
    torn = jobs.folder / "00000000000000000001-000000000000.json"
    torn.write_text('{"id": "00000000000000000001-0000')
    assert [j.id for j in jobs.jobs()] == [kept.id]
    assert sorted(jobs.damaged()) == sorted([path, torn])
    from firmware.print_jobs import labels_for_report
    from hal.clock import iso_utc

    listed = labels_for_report(jobs.folder, None, iso_utc(kept.created - 1),
                               iso_utc(kept.created + 1))
    assert [label["asset_tag"] for label in listed] == [TAGS[0]]
    with StandInPrinter() as printer:
        assert _label(_config(tmp_path, printer.address)).returncode == 0
        assert _tags_printed(decoder, printer) == [TAGS[0]]


def test_doctor_says_whether_the_printer_is_reachable_and_what_waits(tmp_path) -> None:
    from firmware.doctor import examine

    printer = StandInPrinter()
    printer.online()
    try:
        config = _config(tmp_path, printer.address)
        (found,) = [f for f in examine(load_config(config)) if f.part == "printer"]
        assert found.ok and found.found == "accepts connections"
        printer.offline()
        assert _label(config, TAGS[0]).returncode == 3
        (found,) = [f for f in examine(load_config(config)) if f.part == "printer"]
        assert not found.ok and "not reachable" in found.found
        assert "1 label(s) queued" in found.found and "port 9100" in found.fix
    finally:
        printer.stop()
    # The check sent nothing (its connection may be counted, or dropped by the outage).
    assert printer.printed == [] and set(printer.cut_short) <= {b""}
    device = _config(tmp_path, f"file://{tmp_path / 'lp0'}")
    (found,) = [f for f in examine(load_config(device)) if f.part == "printer"]
    assert not found.ok and found.fix == "plug the printer in and switch it on"


def test_a_job_that_no_longer_fits_the_label_stays_queued(tmp_path, decoder) -> None:
    """Queued for a 300 dpi printer, the printer is now a 203 dpi one: the long URL no
    longer fits its QR code. The job is kept with the reason, the others print."""
    base = "https://assets.example.org/" + "a" * 60
    long_tag = "LAB-CHEM-2024-000815"
    with StandInPrinter() as printer:
        printer.offline()
        fine = _config(tmp_path, printer.address, dpi=300, url=base)
        assert _label(fine, long_tag, TAGS[0]).returncode == 3  # offline: both queued
        coarse = _config(tmp_path, printer.address, dpi=203, url=base)
        printer.online()
        done = _label(coarse)
        assert done.returncode == 3
        printed, refused = done.stdout.splitlines()[:2]
        assert printed == f"{TAGS[0]}: printed"
        assert refused.startswith(f"{long_tag}: cannot be printed on the configured label,"
                                  " kept in the queue: the URL needs a version-")
        assert "too dense for a zebra 2 x 1 inch label, 203 dpi head" in refused
        assert _tags_printed(decoder, printer) == [TAGS[0]]
        states = {j.tag: j.state for j in PrintJobs(tmp_path / "state" / "labels").jobs()}
        assert states == {long_tag: "queued", TAGS[0]: "printed"}
        _config(tmp_path, printer.address, dpi=300, url=base)  # the 300 dpi printer is back
        assert _label(fine).stdout == f"{long_tag}: printed\n"
        assert _tags_printed(decoder, printer) == [TAGS[0], long_tag]


def test_the_running_device_prints_queued_labels_when_the_printer_is_back(tmp_path,
                                                                          decoder) -> None:
    """A label queued while the printer was off comes out while `stocktaker run` runs,
    once, without anyone asking again."""
    (tmp_path / "expected.csv").write_text("asset_tag,serial,name,location\n"
                                           "IT-1,S1,Laptop,Storage B\n")
    printer = StandInPrinter()
    printer.online()
    printer.offline()
    try:
        config = _config(tmp_path, printer.address)
        config.write_text(textwrap.dedent("""\
            [device]
            id = "hh-1"
            [audit]
            location = "Storage B"
            [scanner]
            backend = "stdin"
            [display]
            backend = "none"
            [feedback]
            backend = "none"
            [buttons]
            backend = "none"
            """) + config.read_text())
        assert _label(config, TAGS[0], TAGS[1]).returncode == 3
        printer.online()
        run = subprocess.run([sys.executable, "-m", "firmware", "run", "--config", str(config)],
                             input=b"IT-1\n", capture_output=True, cwd=ROOT, timeout=120)
        assert run.returncode == 0, run.stderr.decode()
        assert _tags_printed(decoder, printer) == TAGS[:2]
        assert _label(config).stdout == ""  # nothing left to print
        assert _tags_printed(decoder, printer) == TAGS[:2]
    finally:
        printer.stop()


def test_without_brother_ql_installed_the_command_says_what_to_install(tmp_path) -> None:
    """brother_ql hidden from the command (a device without the printing extra)."""
    (tmp_path / "hide").mkdir()
    (tmp_path / "hide" / "brother_ql.py").write_text("raise ImportError('no brother_ql')\n")
    config = _config(tmp_path, "tcp://127.0.0.1:9", backend="brother_ql", label="62",
                     dpi=300)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(tmp_path / "hide")])}
    done = subprocess.run([sys.executable, "-m", "firmware", "label", TAGS[0], "--config",
                           str(config)], cwd=ROOT, capture_output=True, text=True, env=env,
                          timeout=120)
    assert done.returncode == 3
    assert done.stderr == ("stocktaker: error: brother_ql is not installed: pip install"
                           " 'stocktaker[printing]'\n")
