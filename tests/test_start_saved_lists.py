"""What ``stocktaker run`` starts with when the register's lists cannot be had fresh: a
kiosk's missing people file, a refused (rotated) token, a saved copy from another register.

The register is the reference receiver (``stocktaker register-server``) as a real process.
"""

from __future__ import annotations

import contextlib
import io
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from firmware.config import load_config
from firmware.device import _open_mode
from firmware.door_kiosk import DoorKiosk
from firmware.handheld_audit import HandheldAudit
from sync.sync_status import SyncStatus
from tests.test_doctor_start import closed_port
from tests.test_kiosk_e2e import (
    MANIFEST,
    PEOPLE,
    TOKEN,
    kiosk_config,
    queue_status,
    receiver,
    run_kiosk,
)

ROTATED = "a-rotated-token-nobody-knows"


def handheld_config(folder: Path, url: str) -> Path:
    """A handheld in Storage B on the ``http`` register at ``url``, its token in ``token``."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "token").write_text(TOKEN + "\n", encoding="utf-8")
    (folder / "token").chmod(0o600)
    path = folder / "hh.toml"
    path.write_text(f"""\
[device]
id = "hh-1"
[audit]
location = "Storage B"
repeat_window = 0
[display]
backend = "none"
[register]
adapter = "http"
url = "{url}"
token_file = "token"
timeout = 2
[sync]
interval = 3600
[queue]
path = "state"
""", encoding="utf-8")
    return path


def rotate_token(config: Path) -> None:
    (config.parent / "token").write_text(ROTATED + "\n", encoding="utf-8")


def run(config: Path, lines: list[str]) -> subprocess.CompletedProcess[bytes]:
    return run_kiosk(config, lines)


@contextlib.contextmanager
def opened(config: Path) -> Iterator[HandheldAudit | DoorKiosk]:
    """The mode ``stocktaker run`` would start, opened in this process."""
    with contextlib.ExitStack() as stack:
        mode, _streams, _buttons, _engine, _reporter = _open_mode(
            load_config(config), stack, stdin=io.BytesIO(b""), stdout=io.StringIO(),
            screens_dir=None, clock=None)
        yield mode


def files_kiosk(folder: Path) -> Path:
    (folder / "expected.csv").write_text(MANIFEST, encoding="utf-8")
    (folder / "people.csv").write_text(PEOPLE, encoding="utf-8")
    config = folder / "kiosk.toml"
    config.write_text('[device]\nid = "door-f"\nmode = "kiosk"\n[kiosk]\nlocation = "Storage B"\n'
                      '[audit]\nrepeat_window = 0\n[display]\nbackend = "none"\n',
                      encoding="utf-8")
    return config


def movements(folder: Path) -> str:
    return "".join(p.read_text(encoding="utf-8")
                   for p in (folder / "out").glob("movements-door-f-*.csv"))


# --- a door kiosk without its people file -------------------------------------------------

def test_a_kiosk_without_its_people_file_and_no_saved_list_stops_naming_the_key(
        tmp_path: Path) -> None:
    config = files_kiosk(tmp_path)
    (tmp_path / "people.csv").unlink()
    done = run(config, ["BADGE:E-100", "IT-1"])
    assert done.returncode == 2, done.stderr.decode()
    err = done.stderr.decode()
    assert "stocktaker: error: register.people: " in err and "people.csv" in err
    assert "no people list is saved" in err
    assert not movements(tmp_path)


def test_a_kiosk_without_its_people_file_works_with_the_saved_list_and_says_so(
        tmp_path: Path) -> None:
    config = files_kiosk(tmp_path)
    assert run(config, []).returncode == 0  # the people list is saved
    (tmp_path / "people.csv").unlink()
    done = run(config, ["BADGE:E-100", "IT-1"])
    err = done.stderr.decode()
    assert done.returncode == 0, err
    assert "identifying people with the people list saved" in err
    assert "not known to the register" not in err
    assert "checked_out" in movements(tmp_path) and "Ana Lopes" in movements(tmp_path)
    with opened(config) as mode:  # on screen: the saved list's age
        assert mode.sync_status is not None
        assert " list now" in mode.sync_status().line()


def test_a_malformed_people_file_stops_the_kiosk_even_with_a_saved_list(tmp_path: Path) -> None:
    config = files_kiosk(tmp_path)
    assert run(config, []).returncode == 0
    (tmp_path / "people.csv").write_text(PEOPLE + "0004211234,E-102,Cleo Park,cleo\n",
                                         encoding="utf-8")
    done = run(config, ["BADGE:E-100"])
    assert done.returncode == 2
    assert "register.people" in done.stderr.decode() and "given twice" in done.stderr.decode()


# --- a rotated token ----------------------------------------------------------------------

def test_status_line_says_token_refused() -> None:
    assert SyncStatus(3, 0, None, token_refused=True).line() == "TOKEN REFUSED 3 wait"


def test_a_refused_token_at_start_audits_with_the_saved_inventory(tmp_path: Path) -> None:
    with receiver(tmp_path / "register") as url:
        config = handheld_config(tmp_path / "hh", url)
        first = run(config, [])
        assert first.returncode == 0, first.stderr.decode()
        rotate_token(config)
        done = run(config, ["IT-1", "IT-3"])
        err = done.stderr.decode()
        assert done.returncode == 0, err
        assert "the register refused the token" in err
        assert "auditing with the expected inventory saved" in err
        assert "verified 2 of" in done.stdout.decode()
        assert queue_status(config)["queued"] >= 2  # kept for when the token is mended
        synced = subprocess.run([sys.executable, "-m", "firmware", "sync", "--config",
                                 str(config)], capture_output=True, timeout=120,
                                cwd=config.parent)
        assert synced.returncode == 4 and b"refused the token" in synced.stderr
        with opened(config) as mode:
            assert mode.sync_status is not None
            assert mode.sync_status().line().startswith("TOKEN REFUSED ")
        (config.parent / "token").write_text(
            (tmp_path / "register" / "token").read_text(encoding="utf-8"), encoding="utf-8")
        with opened(config) as mode:
            assert mode.sync_status is not None
            assert not mode.sync_status().token_refused


def test_a_refused_token_with_nothing_saved_still_stops(tmp_path: Path) -> None:
    with receiver(tmp_path / "register") as url:
        config = handheld_config(tmp_path / "hh", url)
        rotate_token(config)
        done = run(config, ["IT-1"])
    assert done.returncode == 4
    assert b"refused the token" in done.stderr and b"no expected inventory is saved" in done.stderr


def test_a_kiosk_with_a_refused_token_works_with_its_saved_lists(tmp_path: Path) -> None:
    with receiver(tmp_path / "register") as url:
        config = kiosk_config(tmp_path / "door", url)
        assert run(config, []).returncode == 0
        rotate_token(config)
        done = run(config, ["BADGE:E-100", "IT-1"])
        err = done.stderr.decode()
        assert done.returncode == 0, err
        assert "identifying people with the people list saved" in err
        assert "not known to the register" not in err
        assert queue_status(config)["queued"] == 1  # the check-out, kept


# --- a saved copy from another register ---------------------------------------------------

def test_a_copy_saved_from_another_register_is_not_used(tmp_path: Path) -> None:
    with receiver(tmp_path / "register") as url:
        config = handheld_config(tmp_path / "hh", url)
        assert run(config, []).returncode == 0
    saved = json.loads((config.parent / "state" / "inventory.json").read_text(encoding="utf-8"))
    assert saved["origin"] == {"adapter": "http", "url": url}
    moved = f"http://127.0.0.1:{closed_port()}"
    config.write_text(config.read_text(encoding="utf-8").replace(url, moved), encoding="utf-8")
    done = run(config, ["IT-1"])
    err = done.stderr.decode()
    assert done.returncode == 4, err
    assert f"came from another register (http {url}; now http {moved})" in err


@pytest.mark.parametrize("change", ["manifest", "locations"])
def test_files_register_origin_is_the_manifest_and_the_locations(tmp_path: Path,
                                                                 change: str) -> None:
    (tmp_path / "expected.csv").write_text(MANIFEST, encoding="utf-8")
    config = tmp_path / "c.toml"
    config.write_text('[scanner]\nbackend = "stdin"\n[display]\nbackend = "none"\n'
                      '[audit]\nlocation = "Storage B"\n', encoding="utf-8")
    assert run(config, []).returncode == 0
    (tmp_path / "expected.csv").rename(tmp_path / "gone.csv")  # the stick is unplugged
    assert run(config, ["IT-1"]).returncode == 0  # the same register: the saved copy
    if change == "manifest":
        config.write_text(config.read_text() + '[register]\nmanifest = "other.csv"\n')
    else:
        config.write_text(config.read_text() + '[register]\nlocations = ["Storage B"]\n')
    done = run(config, ["IT-1"])
    assert done.returncode == 4
    assert b"came from another register" in done.stderr


def test_a_kiosk_against_a_register_that_keeps_no_people_does_not_start(tmp_path: Path) -> None:
    from tests.test_kiosk_sync_http import TOKEN as THREAD_TOKEN
    from tests.test_kiosk_sync_http import Running

    bare = Running(tmp_path, people=False)
    try:
        config = kiosk_config(tmp_path / "door", bare.url)
        (config.parent / "token").write_text(THREAD_TOKEN + "\n", encoding="utf-8")
        done = run(config, ["BADGE:E-100", "IT-1"])
    finally:
        bare.stop()
    assert done.returncode == 4
    assert b"keeps no people" in done.stderr
