"""The ``nautobot`` register adapter: Nautobot's REST API (``/api``), for data-centre audits.

- The expected inventory is the devices of the locations in ``register.locations`` (each
  with its child locations; ``/api/dcim/devices/?location=…``, paged 1,000 at a time), or
  every device when the list is empty. Each becomes an :class:`~sync.asset.Asset` with
  its asset tag, serial, name, location and status.
- A ``verified``, ``mislocated`` or ``recovered`` sighting becomes one **note** on its
  device (``POST /api/extras/notes/``) carrying the scan time, room, technician, the
  scanner's device id, the Nautobot device id and the verdict. The note's ``id`` is the
  sighting's UUID: a replayed sighting is refused by Nautobot itself ("Note with this Id
  already exists.") and answered ``duplicate``, so each sighting leaves one note however
  often it is sent, with no search of earlier notes.
- The requests, refusals and paged lists are :mod:`sync.nautobot_api`; devices and
  locations :mod:`sync.nautobot_devices`; the notes :mod:`sync.nautobot_notes`.
- Labels are matched to devices on the scanner, by the identity rules (asset tag or
  serial, with Nautobot's own comparison: serials ignore case). Devices without an asset
  tag are left out of the expected inventory (logged): the sighting names its device by
  tag, and it is found again by that tag when sent (exact, then ignoring case). A device
  deleted meanwhile is a dead letter with the reason.
- ``register.audited_field`` names a date custom field (e.g. ``last_audited``) set to the
  scan's date, never moved backwards; ``register.move_mislocated`` moves a mislocated
  device to the room where it was found. Both happen before the note, so a replay that
  finds the note made has nothing left to do.
- Other verdicts are not notes: they are answered as accepted and stay in the room's report.
  Nautobot keeps no reports: :meth:`NautobotRegister.publish_report` writes them into the
  outbox folder, as the ``files`` adapter does.
- Check-out and check-in (the kiosk) are not DCIM concepts; the configuration refuses
  any mode but ``handheld`` with this adapter.
- Intake records (unregistered assets) are refused: a Nautobot device needs a device
  type, role and location that a scan cannot tell, so the configuration refuses
  ``register.intake = true`` with this adapter, and an intake record that reaches it
  anyway is a dead letter saying so (never answered accepted and lost).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING

from hal.errors import ConfigError
from sync.asset import Asset
from sync.errors import RegisterError
from sync.intake import IntakeRecord
from sync.nautobot_api import NautobotApi
from sync.nautobot_devices import NautobotDevices
from sync.nautobot_notes import NOTE_VERDICTS, DeviceNotes, note_tags
from sync.register import ItemResult, ItemStatus, OutboxReports, Register
from sync.sighting import Outgoing
from sync.web import read_token

if TYPE_CHECKING:
    import requests

    from sync.settings import RegisterSettings

__all__ = ["NautobotRegister"]


class NautobotRegister(OutboxReports, Register):
    """A Nautobot server as the register of a data centre's devices.

    Args:
        config: ``[register]``; ``url`` and ``token_file`` are required.
        device_id: this scanner's id (names its files in the outbox folder and its notes).
        session: the HTTP session (tests); one is made when None.

    Raises:
        ConfigError: ``register.url`` or ``register.token_file`` is missing, or the token
            file is unusable.
    """

    def __init__(self, config: RegisterSettings, device_id: str, *,
                 session: requests.Session | None = None) -> None:
        if not config.url:
            raise ConfigError("register.url: the nautobot adapter needs the Nautobot address"
                              " (e.g. \"https://nautobot.example.com\")")
        if config.token_file is None:
            raise ConfigError("register.token_file: the nautobot adapter needs a file holding"
                              " a Nautobot API token (chmod 600)")
        token = read_token(config.token_file)
        self.config = config
        self.device_id = device_id
        self.api = NautobotApi(config.url, token, timeout=config.timeout,
                               rate_per_minute=config.rate_per_minute, session=session)
        self.devices = NautobotDevices(self.api)
        self.notes = DeviceNotes(self.api, self.devices, audited_field=config.audited_field,
                                 move_mislocated=config.move_mislocated)
        self._lock = threading.Lock()

    def close(self) -> None:
        """Close the HTTP connections."""
        self.api.close()

    # -- the Register interface --------------------------------------------------------

    def expected_assets(self) -> list[Asset]:
        """The devices of ``register.locations`` (and their child locations), or all.

        Raises:
            RegisterUnavailable: Nautobot cannot be reached now, or the list kept
                changing while it was read.
            RegisterError: it refused (token, permission) or answered something else.
        """
        return self.devices.in_locations(self.config.locations)

    def push(self, records: Sequence[Outgoing]) -> list[ItemResult]:
        """Make a note on the device of each verified, mislocated or recovered sighting.

        Returns one result per record: ``accepted`` (note made, or not a note: the reason
        says ``not a note: <verdict>``), ``duplicate`` (Nautobot has the sighting's note
        already) or ``rejected`` (no such device, or Nautobot refused the note; the reason
        carries its message; an intake record, which Nautobot cannot take).

        Raises:
            RegisterUnavailable: Nautobot cannot be reached or failed; notes made before
                are refused as duplicates when the batch is sent again.
            RegisterError: it refused the batch as a whole (token, permission).
        """
        with self._lock:
            devices = self.devices.by_tags(note_tags(records))
            results = []
            for record in records:
                if isinstance(record, IntakeRecord):
                    results.append(ItemResult(
                        record.sighting_id, ItemStatus.REJECTED, "Nautobot takes no intake"
                        " records: add the device in Nautobot (its type, role and location"
                        " are not known from a scan)"))
                elif record.verdict not in NOTE_VERDICTS:
                    results.append(ItemResult(record.sighting_id, ItemStatus.ACCEPTED,
                                              f"not a note: {record.verdict}"))
                else:
                    results.append(self.notes.push_one(record, devices))
            return results

    def check(self) -> None:
        """Prove Nautobot answers and takes the token, cheaply: one device of the list
        (``GET /api/dcim/devices/?limit=1``). ``/api/status/`` would not do: it answers
        without a token.

        Raises:
            RegisterUnavailable: Nautobot cannot be reached now.
            RegisterRefused: the token was refused (Nautobot answers 403 "Invalid token").
            RegisterError: it answered, but not with a Nautobot list.
        """
        answer = self.api.request("GET", "/dcim/devices/",
                                  params={"limit": 1, "depth": 0}, ok=(200, 403))
        if answer.status_code == 403:
            self.api.refusal(answer)  # raises RegisterRefused with Nautobot's reason
        data = self.api.json(answer)
        if not isinstance(data, dict) or not isinstance(data.get("results"), list):
            raise RegisterError(f"GET {answer.url}: not a Nautobot list ({str(data)[:200]})")
