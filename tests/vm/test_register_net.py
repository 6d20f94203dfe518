"""The ``http`` register over the network: ``stocktaker register-server`` on the host at
127.0.0.1, the device reaching it through QEMU's user network (``restrict=on``: no other
address) as ``http://10.0.2.100``; the audit's sightings arrive there exactly once."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from urllib.parse import urlsplit

from tests.test_receiver import db_rows, running_receiver
from tests.vm.audit import NEXT_ROOM, ROOM, enter_room, make_room, read_epc, scan
from tests.vm.box import HTTP_REGISTER
from tests.vm.machine import MachineError
from tests.vm.service import error_lines, wait_ready


def api(url: str, token: str, path: str) -> object:
    request = urllib.request.Request(f"{url}/api/v1/{path}",
                                     headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=10) as answer:
        return json.loads(answer.read())


def stored(db: object) -> list[dict]:
    return [json.loads(row[0]) for row in db_rows(db, "SELECT record FROM sightings")]  # type: ignore[arg-type]


def queue_depth(register: object, token: str) -> int | None:
    """The queue depth the device last reported in a heartbeat (None before one)."""
    devices = api(register.url, token, "devices")  # type: ignore[attr-defined]
    assert isinstance(devices, dict)
    for device in devices["devices"]:
        if device["state"]:
            return int(device["state"]["queue_depth"])
    return None


def test_the_audit_reaches_the_register_on_the_host_exactly_once(make_box, tmp_path) -> None:
    room = make_room(tags=8, epcs=4)
    manifest = tmp_path / "expected.csv"
    room.write_manifest(manifest)
    with running_receiver(tmp_path / "register", manifest=manifest) as register:
        token = register.token_file.read_text().strip()
        box = make_box(manifest=manifest, register_port=urlsplit(register.url).port,
                       register=HTTP_REGISTER, token=token)
        machine = box.machine
        machine.start()
        machine.wait_agent()
        wait_ready(machine)

        enter_room(machine, ROOM)
        verdicts = [scan(machine, tag) for tag in room.tags]
        verdicts += [read_epc(machine, epc) for epc in room.epcs]
        # verified: the expected inventory came from the register on the host
        assert all(v.startswith("[feedback] verified") for v in verdicts), verdicts
        assert "[feedback] done" in enter_room(machine, NEXT_ROOM)
        expected = sorted(room.tags + [str(ref) for ref in room.references])

        # the room's end starts a sync; wait until the device reports an empty queue
        deadline = time.monotonic() + 300
        while len(stored(register.db)) < len(expected) or queue_depth(register, token) != 0:
            if time.monotonic() > deadline:
                raise MachineError(f"the register holds {len(stored(register.db))} of"
                                   f" {len(expected)} sightings")
            time.sleep(2.0)
        records = stored(register.db)
        assert sorted(r["asset_tag"] for r in records) == expected
        assert len({r["sighting_id"] for r in records}) == len(records)

        # read back through the receiver's API: the room's report and the device's state
        sessions = {r["session_id"] for r in records}
        assert len(sessions) == 1
        session = sessions.pop()
        while True:  # the report goes in the same round as the sightings, or the next
            try:
                report = api(register.url, token, f"reports/{session}")
                break
            except urllib.error.HTTPError as exc:
                if exc.code != 404 or time.monotonic() > deadline:
                    raise
                time.sleep(2.0)
        assert isinstance(report, dict)
        assert sorted(s["asset_tag"] for s in report["scans"]) == expected
        devices = api(register.url, token, "devices")
        assert isinstance(devices, dict)
        assert [d["device_id"] for d in devices["devices"]] == ["stocktaker"]
        assert error_lines(machine) == []
        machine.power_off()
