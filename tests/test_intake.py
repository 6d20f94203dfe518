"""The intake record (its queue shape, checks) and the device's own tag range."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from sync.intake import IntakeRecord, is_intake
from sync.intake_tags import (
    DeviceTags,
    TagRangeExhausted,
    counter_path,
    device_tags,
    parse_tag_range,
)
from sync.queue import SightingQueue
from tests.sightings import typed

ROOT = Path(__file__).resolve().parents[1]


def make(**changes: object) -> IntakeRecord:
    fields: dict[str, object] = dict(
        intake_id=str(uuid.uuid4()), device_id="handheld-07", session_id="s-1",
        location="Storage B", technician="Ana", wall_time="2026-12-07T09:15:02Z",
        clock_synchronized=True, identifiers={"serial": "SN-1", "gtin": "04006381333931"},
        unknown_label=None, asset_tag="FIELD-0001", firmware_version="1.4.0")
    fields.update(changes)
    return IntakeRecord(**fields)  # type: ignore[arg-type]


def test_the_record_round_trips_through_the_queue(tmp_path: Path) -> None:
    intake = make(unknown_label="IT-0?7")
    record = intake.to_record()
    assert record["sighting_id"] == intake.intake_id and record["verdict"] == "intake"
    assert record["payload"] == "IT-0?7" and is_intake(record)
    with SightingQueue(tmp_path / "state") as queue:
        queue.append(record)
        [queued] = queue.pending(10)
    assert IntakeRecord.from_record(queued) == intake
    assert make().payload == "SN-1"  # no label: the first identifier


@pytest.mark.parametrize(("changes", "message"), [
    ({"intake_id": "not-a-uuid"}, "is not a UUID"),
    ({"identifiers": {"imei": "1"}}, "unknown identifier kind 'imei'"),
    ({"identifiers": {"serial": " "}}, "identifier serial must be text"),
    ({"identifiers": {}}, "at least one identifier or the unknown label"),
    ({"asset_tag": ""}, "asset_tag must be text"),
    ({"unknown_label": 42}, "unknown_label must be text"),
])
def test_a_malformed_intake_is_refused_with_the_reason(changes: dict[str, object],
                                                        message: str) -> None:
    with pytest.raises(ValueError, match=message):
        make(**changes)


def test_from_record_refuses_what_is_not_an_intake() -> None:
    record = make().to_record()
    with pytest.raises(ValueError, match="not an intake record"):
        IntakeRecord.from_record({**record, "verdict": "verified"})
    with pytest.raises(ValueError, match="needs location"):
        IntakeRecord.from_record({**record, "location": None})


def test_tag_ranges_parse_or_say_what_is_wrong() -> None:
    tags = parse_tag_range("FIELD-0001..FIELD-9999")
    assert (tags.prefix, tags.first, tags.last, tags.width) == ("FIELD-", 1, 9999, 4)
    assert tags.tag(42) == "FIELD-0042" and str(tags) == "FIELD-0001..FIELD-9999"
    for bad, message in (("FIELD-0001", "not a tag range"), ("A1..B9", "same prefix"),
                         ("X-9..X-1", "first tag comes after"), ("X-..X-", "end in digits")):
        with pytest.raises(ValueError, match=message):
            parse_tag_range(bad)


def test_device_tags_are_never_handed_out_twice(tmp_path: Path) -> None:
    path = counter_path(tmp_path)
    tags = DeviceTags(parse_tag_range("F-1..F-3"), path)
    assert [tags.take(), tags.take()] == ["F-1", "F-2"]
    again = DeviceTags(parse_tag_range("F-1..F-3"), path)  # a restart
    assert again.take() == "F-3"
    with pytest.raises(TagRangeExhausted, match="F-1..F-3"):
        again.take()
    shorter = DeviceTags(parse_tag_range("F-1..F-2"), path)  # range shrunk: still used up
    with pytest.raises(TagRangeExhausted):
        shorter.take()
    other = DeviceTags(parse_tag_range("G-01..G-99"), path)  # another prefix starts afresh
    assert other.take() == "G-01"
    assert device_tags("", tmp_path) is None  # the register assigns tags
    configured = device_tags("G-01..G-99", tmp_path)
    assert configured is not None and configured.take() == "G-02"


def test_a_damaged_counter_is_an_error_not_a_restart(tmp_path: Path) -> None:
    path = counter_path(tmp_path)
    path.write_text("{not json")
    with pytest.raises(ValueError, match="not a tag counter"):
        DeviceTags(parse_tag_range("F-1..F-3"), path).take()


def test_a_killed_taker_never_gets_its_tag_again(tmp_path: Path) -> None:
    """A process killed right after take() returned: the next process moves on."""
    path = counter_path(tmp_path)
    code = ("import os, signal, sys\n"
            "from pathlib import Path\n"
            "from sync.intake_tags import DeviceTags, parse_tag_range\n"
            "tags = DeviceTags(parse_tag_range('F-0001..F-9999'), Path(sys.argv[1]))\n"
            "print(tags.take(), flush=True)\n"
            "os.kill(os.getpid(), signal.SIGKILL)\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    seen = []
    for _ in range(3):
        child = subprocess.run([sys.executable, "-c", code, str(path)], env=env,
                               capture_output=True, text=True, timeout=60)
        assert child.returncode == -9
        seen.append(child.stdout.strip())
    assert seen == ["F-0001", "F-0002", "F-0003"]
    assert json.loads(path.read_text())["next"] == 4


def test_config_keys_are_checked_at_load(tmp_path: Path) -> None:
    from firmware.config import load_config
    from firmware.errors import ConfigError

    path = tmp_path / "c.toml"
    path.write_text('[register]\nadapter = "snipeit"\nintake = true\n'
                    'intake_tag_range = "FIELD-0001..FIELD-9999"\n')
    register = load_config(path).register
    assert (register.intake, register.intake_status, register.intake_unknown_model,
            register.intake_tag_range) == (True, "Pending", "Unknown model",
                                           "FIELD-0001..FIELD-9999")
    path.write_text('[register]\nintake_tag_range = "FIELD-9..FIELD-1"\n')
    with pytest.raises(ConfigError, match="register.intake_tag_range.*first tag comes after"):
        load_config(path)
    path.write_text('[register]\nadapter = "nautobot"\nintake = true\n')
    with pytest.raises(ConfigError, match="register.intake.*nautobot adapter takes no intake"):
        load_config(path)
    path.write_text('[register]\nintake_status = " "\n')
    with pytest.raises(ConfigError, match="register.intake_status"):
        load_config(path)


def test_nautobot_answers_an_intake_with_a_dead_letter_not_silence(tmp_path: Path) -> None:
    """Refused at load; one that reaches the adapter anyway is rejected, no request made."""
    from firmware.config import RegisterConfig
    from sync.nautobot import NautobotRegister
    from sync.register import ItemStatus

    token = tmp_path / "token"
    token.write_text("0123456789abcdef0123456789abcdef01234567\n")
    token.chmod(0o600)
    config = RegisterConfig(adapter="nautobot", url="http://127.0.0.1:9", token_file=token,
                            outbox=tmp_path / "out", timeout=1.0)
    with NautobotRegister(config, "hh-07") as nautobot:
        [result] = nautobot.push(typed([make().to_record()]))
    assert result.status is ItemStatus.REJECTED
    assert "Nautobot takes no intake records" in (result.reason or "")
