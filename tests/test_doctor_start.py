"""``stocktaker doctor`` checks what ``stocktaker run`` refuses at start: for every
configuration the run stops on, the doctor reports a problem naming the part, with a fix.

Each row is run twice, as real processes: ``stocktaker run`` (its exit code) and
``stocktaker doctor`` (exit code 3 and the part marked ``!!``).
"""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from sync.inventory_cache import InventoryCache
from tests.test_kiosk_e2e import TOKEN, receiver

MANIFEST = "asset_tag,name,location,status\nIT-1,Laptop,Storage B,Ready to Deploy\n"
PEOPLE = "badge,employee_num,name,username\n0004211234,E-100,Ana Lopes,ana\n"



@dataclass
class Setup:
    """A device folder: the configuration's sections and the files beside it."""

    folder: Path
    url: str = ""

    def write(self, **sections: str) -> Path:
        parts = {"device": 'id = "hh-1"', "audit": 'location = "Storage B"',
                 "scanner": 'backend = "stdin"', "display": 'backend = "none"',
                 "feedback": 'backend = "none"', "buttons": 'backend = "none"',
                 "register": 'manifest = "expected.csv"\noutbox = "out"',
                 "queue": 'path = "state"', **sections}
        text = "".join(f"[{name}]\n{body}\n" for name, body in parts.items() if body)
        path = self.folder / "c.toml"
        path.write_text(text, encoding="utf-8")
        return path

    def file(self, name: str, content: str | bytes) -> Path:
        path = self.folder / name
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
        return path

    def token(self, value: str = TOKEN) -> None:
        self.file("token", value + "\n").chmod(0o600)


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def stocktaker(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "firmware", *args, "--config", "c.toml"],
                          cwd=folder, input="", capture_output=True, text=True, timeout=120)


KIOSK = 'id = "door-1"\nmode = "kiosk"'


def latin1_manifest(s: Setup) -> None:
    s.file("expected.csv", "asset_tag,name,location\nIT-1,Caf\u00e9 machine,Storage B\n"
           .encode("latin-1"))
    s.write()


def missing_manifest(s: Setup) -> None:
    s.write()


def kiosk_without_people(s: Setup) -> None:
    s.file("expected.csv", MANIFEST)
    s.write(device=KIOSK, kiosk='location = "Storage B"')


def kiosk_with_a_badge_twice(s: Setup) -> None:
    s.file("expected.csv", MANIFEST)
    s.file("people.csv", PEOPLE + "0004211234,E-101,Ben Ode,ben\n")
    s.write(device=KIOSK, kiosk='location = "Storage B"')


def no_reader(s: Setup) -> None:
    s.file("expected.csv", MANIFEST)
    s.write(scanner='backend = "none"')


def camera_folder_missing(s: Setup) -> None:
    s.file("expected.csv", MANIFEST)
    s.write(scanner='backend = "none"', camera='backend = "files"\npath = "images"')


def queue_folder_is_a_file(s: Setup) -> None:
    s.file("expected.csv", MANIFEST)
    s.file("state", "not a folder")
    s.write()


def http_without_url(s: Setup) -> None:
    s.token()
    s.write(register='adapter = "http"\ntoken_file = "token"')


def http_token_file_missing(s: Setup) -> None:
    s.write(register=f'adapter = "http"\nurl = "http://127.0.0.1:{closed_port()}"\n'
                     'token_file = "token"')


def saved_from_another_manifest(s: Setup) -> None:
    InventoryCache(s.folder / "state", {"adapter": "files",
                                        "manifest": str(s.folder / "old.csv")}).save([], 0.0)
    s.write()  # expected.csv is missing: only the other register's copy is there


def http_out_of_reach(s: Setup) -> None:
    s.token()
    s.write(register=f'adapter = "http"\nurl = "http://127.0.0.1:{closed_port()}"\n'
                     'token_file = "token"\ntimeout = 2')


def http_wrong_token(s: Setup) -> None:
    s.token("a-rotated-token-nobody-knows")
    s.write(register=f'adapter = "http"\nurl = "{s.url}"\ntoken_file = "token"\ntimeout = 5')


ROWS: list[tuple[Callable[[Setup], None], int, str]] = [
    (latin1_manifest, 2, "inventory"),
    (missing_manifest, 4, "inventory"),
    (kiosk_without_people, 2, "people"),
    (kiosk_with_a_badge_twice, 2, "people"),
    (no_reader, 2, "readers"),
    (camera_folder_missing, 3, "camera"),
    (queue_folder_is_a_file, 5, "queue"),
    (http_without_url, 2, "register"),
    (http_token_file_missing, 2, "token"),
    (saved_from_another_manifest, 4, "inventory"),
    pytest.param(http_out_of_reach, 4, "register"),
    pytest.param(http_wrong_token, 4, "register"),
]


@pytest.fixture(scope="module")
def register_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The reference receiver (``stocktaker register-server``), for the rows that need one."""
    with receiver(tmp_path_factory.mktemp("register")) as url:
        yield url


@pytest.mark.parametrize(("prepare", "run_exit", "part"), ROWS)
def test_what_run_refuses_at_start_doctor_reports(
        tmp_path: Path, request: pytest.FixtureRequest, prepare: Callable[[Setup], None],
        run_exit: int, part: str) -> None:
    setup = Setup(tmp_path)
    if prepare is http_wrong_token:
        setup.url = request.getfixturevalue("register_url")
    prepare(setup)
    run = stocktaker(tmp_path, "run")
    assert run.returncode == run_exit, run.stderr
    assert "Traceback" not in run.stderr
    doctor = stocktaker(tmp_path, "doctor")
    assert doctor.returncode == 3, doctor.stdout + doctor.stderr
    lines = doctor.stdout.splitlines()
    flagged = [n for n, line in enumerate(lines) if line.startswith(f"!! {part} ")]
    assert flagged, doctor.stdout
    assert lines[flagged[0] + 1].lstrip().startswith("fix: "), doctor.stdout


def test_a_configuration_neither_can_load_is_one_line_and_exit_code_2(tmp_path: Path) -> None:
    setup = Setup(tmp_path)
    setup.file("expected.csv", MANIFEST)
    setup.write(queue='path = "state"\nsize = 3')
    run, doctor = stocktaker(tmp_path, "run"), stocktaker(tmp_path, "doctor")
    assert run.returncode == doctor.returncode == 2
    assert doctor.stderr.startswith("stocktaker: error: ") and "queue" in doctor.stderr
    assert doctor.stderr == run.stderr


def test_a_configuration_run_accepts_is_all_usable(tmp_path: Path) -> None:
    setup = Setup(tmp_path)
    setup.file("expected.csv", MANIFEST)
    setup.file("people.csv", PEOPLE)
    setup.write(device=KIOSK, kiosk='location = "Storage B"',
                service=f'health_file = "{tmp_path / "metrics" / "stocktaker.prom"}"')
    assert stocktaker(tmp_path, "run").returncode == 0
    doctor = stocktaker(tmp_path, "doctor")
    assert doctor.returncode == 0, doctor.stdout
    assert "ok inventory" in doctor.stdout and "1 listed" in doctor.stdout
    assert "ok people" in doctor.stdout and "ok outbox" in doctor.stdout
    assert "ok health" in doctor.stdout
    assert doctor.stdout.splitlines()[-1] == "all parts look usable"


def test_the_outbox_and_health_folders_are_checked(tmp_path: Path) -> None:
    setup = Setup(tmp_path)
    setup.file("expected.csv", MANIFEST)
    setup.file("usb", "a file where the outbox folder should be")
    setup.file("metrics", "a file where the health file's folder should be")
    setup.write(register='manifest = "expected.csv"\noutbox = "usb/out"',
                service=f'health_file = "{tmp_path / "metrics" / "stocktaker.prom"}"')
    doctor = stocktaker(tmp_path, "doctor")
    assert doctor.returncode == 3
    assert f"!! outbox    {tmp_path / 'usb' / 'out'}: {tmp_path / 'usb'} is not a folder" \
        in doctor.stdout
    assert f"!! health    {tmp_path / 'metrics'}: {tmp_path / 'metrics'} is not a folder" \
        in doctor.stdout


def test_a_bad_manifest_is_named_with_its_line_and_fix(tmp_path: Path) -> None:
    setup = Setup(tmp_path)
    latin1_manifest(setup)
    doctor = stocktaker(tmp_path, "doctor")
    text = doctor.stdout
    assert "expected.csv, line 2" in text and "not UTF-8" in text
    assert "save as CSV UTF-8" in text and "stocktaker run stops (exit code 2)" in text


def test_a_kiosk_without_its_people_file_is_told_to_put_it_there(tmp_path: Path) -> None:
    setup = Setup(tmp_path)
    kiosk_without_people(setup)
    doctor = stocktaker(tmp_path, "doctor")
    assert "!! people    register.people " in doctor.stdout
    assert "fix: put the file there (a USB stick: plug it in); until then stocktaker run stops" \
        " (exit code 2)" in doctor.stdout


def test_a_missing_manifest_with_a_saved_copy_says_what_run_does(tmp_path: Path) -> None:
    setup = Setup(tmp_path)
    setup.write()
    InventoryCache(tmp_path / "state", {"adapter": "files",
                                        "manifest": str(tmp_path / "expected.csv")}).save([], 0.0)
    doctor = stocktaker(tmp_path, "doctor")
    assert doctor.returncode == 3
    assert "plug it in" in doctor.stdout
    assert "meanwhile the device works with the expected inventory saved" in doctor.stdout
    assert not (tmp_path / "state" / "inventory.json").read_text().count("IT-1")


def test_a_refused_token_is_named_with_the_saved_copy(tmp_path: Path, register_url: str
                                                     ) -> None:
    setup = Setup(tmp_path)
    http_wrong_token(Setup(tmp_path, register_url))
    InventoryCache(tmp_path / "state", {"adapter": "http", "url": register_url}).save([], 0.0)
    doctor = stocktaker(setup.folder, "doctor")
    assert doctor.returncode == 3
    assert "!! register" in doctor.stdout and "refused the token" in doctor.stdout
    assert f"put the register's current API token in {tmp_path / 'token'}" in doctor.stdout
    assert "keeps everything queued" in doctor.stdout
