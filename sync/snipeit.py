"""The ``snipeit`` register adapter: Snipe-IT's REST API (``/api/v1``).

- The expected inventory is every asset of the register (``GET /hardware``, paged 500 at a
  time, then once more with ``status=Archived``, which the plain list hides).
- A ``verified``, ``mislocated`` or ``recovered`` sighting becomes one audit. When the
  server has the bulk audit (``POST /hardware/audit/bulk``, Snipe-IT 8.7 and later; found
  out once per process) the audits of a batch that share their room, location update and
  note go in one request (see :mod:`sync.snipeit_bulk_audit`); otherwise each is one
  ``POST /hardware/audit`` whose note carries the scan time, room, technician, device and
  the marker ``stocktaker sighting <uuid>`` (see :mod:`sync.snipeit_audit`). Other
  verdicts are not audits: they are answered as accepted (so the queue lets them go) and
  stay in the room's report.
- Audits are not idempotent in Snipe-IT (every call logs one more audit), so before an
  audit is sent the activity report is read for the sighting's marker: once per room
  session and process, and again for each sighting whose earlier audit call ended without
  a clear answer (timeout, reset, 5xx, unreadable body). A sighting found there is
  answered ``duplicate`` and not audited again. A bulk audit is found there by its session
  and asset: in one session an asset gets one bulk audit, however often it was seen.
- Snipe-IT answers most errors with HTTP 200 and ``{"status": "error"}``; every answer's
  body is checked, not only its status code (see :mod:`sync.snipeit_api`); lookups of
  assets, rooms and users are :mod:`sync.snipeit_assets`.
- A door kiosk's check-outs and check-ins become Snipe-IT check-outs to the person's user
  and check-ins to the kiosk's room; when Snipe-IT holds something else, the event is a
  conflict with Snipe-IT's side (see :mod:`sync.snipeit_kiosk`). People are Snipe-IT's
  users (``GET /users``, paged): they have no badge field, so a kiosk finds them by
  employee number.
- An intake record (an asset the audit found and Snipe-IT did not know) becomes a new
  asset, created once (see :mod:`sync.snipeit_intake`).
- Snipe-IT keeps no reports: :meth:`SnipeItRegister.publish_report` writes them into the
  outbox folder, as the ``files`` adapter does.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING

from hal.errors import ConfigError
from sync.asset import Asset
from sync.intake import IntakeRecord
from sync.movements_csv import KIOSK_VERDICTS
from sync.person import Person
from sync.register import ItemResult, ItemStatus, OutboxReports, Register
from sync.sighting import Outgoing, Sighting
from sync.snipeit_api import SnipeItApi, error_message
from sync.snipeit_assets import SnipeItAssets
from sync.snipeit_audit import AUDIT_VERDICTS, MARKER, SAFE_ID, SnipeItAudits
from sync.snipeit_bulk_audit import BulkAudits
from sync.snipeit_intake import SnipeItIntake
from sync.snipeit_kiosk import KioskMoves
from sync.web import read_token

if TYPE_CHECKING:
    import requests

    from sync.settings import RegisterSettings

__all__ = ["SnipeItRegister"]


class SnipeItRegister(OutboxReports, Register):
    """A Snipe-IT server as the asset register.

    Args:
        config: ``[register]``; ``url`` and ``token_file`` are required.
        device_id: this device's id (names its files in the outbox folder and its audits).
        session: the HTTP session (tests); one is made when None.

    Attributes:
        api: the requests (:mod:`sync.snipeit_api`).
        assets: lookups (:mod:`sync.snipeit_assets`).
        audits, bulk: audits one by one and in bulk.

    Raises:
        ConfigError: ``register.url`` or ``register.token_file`` is missing, or the token
            file is unusable (missing, empty, readable by group or others).
    """

    def __init__(self, config: RegisterSettings, device_id: str, *,
                 session: requests.Session | None = None) -> None:
        if not config.url:
            raise ConfigError("register.url: the snipeit adapter needs the Snipe-IT address"
                              " (e.g. \"https://assets.example.com\")")
        if config.token_file is None:
            raise ConfigError("register.token_file: the snipeit adapter needs a file holding"
                              " a Snipe-IT API token (chmod 600)")
        token = read_token(config.token_file)
        self.config = config
        self.device_id = device_id
        self.api = SnipeItApi(config.url, token, timeout=config.timeout,
                              rate_per_minute=config.rate_per_minute, session=session)
        self.assets = SnipeItAssets(self.api, config.location_ids)
        self.audits = SnipeItAudits(self.api, self.assets, config.move_mislocated)
        self.bulk = BulkAudits(self.api, self.assets, self.audits, enabled=config.bulk_audit,
                               move_mislocated=config.move_mislocated)
        self._lock = threading.Lock()
        self._kiosk = KioskMoves(self.api.read, self.api.list_all, self.assets.room,
                                 error_message, MARKER, self.audits.found_in_log)
        self._intake = SnipeItIntake(self.api.read, self.api.list_all, self.assets.room,
                                     error_message, config.intake_status,
                                     config.intake_unknown_model)

    def close(self) -> None:
        """Close the HTTP connections."""
        self.api.close()

    # -- the Register interface --------------------------------------------------------

    def expected_assets(self) -> list[Asset]:
        """Every asset of the register, archived ones included (deleted ones are not).

        ``status`` is the status label's name, ``location`` the asset's current location
        (its default location when it has none), ``assigned_to`` the name of whoever or
        whatever it is checked out to.

        Raises:
            RegisterUnavailable: Snipe-IT cannot be reached now, or the list kept changing
                while it was read.
            RegisterError: it refused (token, permission) or answered something else.
        """
        return self.assets.all_assets()

    def push(self, records: Sequence[Outgoing]) -> list[ItemResult]:
        """Audit each ``verified``, ``mislocated`` or ``recovered`` sighting, once.

        Audits that can go in bulk (see :meth:`BulkAudits.candidate`) are sent together,
        one request per group of shared details, when the server has the bulk audit; the
        others one by one.

        Returns one result per record, in order: ``accepted`` (audited now, or not an
        audit: the reason says ``not an audit: <verdict>``), ``duplicate`` (its audit is
        already in Snipe-IT's activity log; with the bulk audit, also when its asset was
        audited in the same session) or ``rejected`` (Snipe-IT refused it, e.g. "Asset
        does not exist.").

        Raises:
            RegisterUnavailable: Snipe-IT cannot be reached, failed or throttled; audits
                done before it are remembered and found again, so the batch can be sent
                again as it is.
            RegisterError: it refused the batch as a whole (token, permission).
        """
        with self._lock:
            results: list[ItemResult | None] = [None] * len(records)
            bulk: list[int] = []
            for n, record in enumerate(records):
                if self.bulk.candidate(record):
                    bulk.append(n)
                else:
                    results[n] = self._push_one(record)
            candidates = [records[n] for n in bulk]
            sightings = [r for r in candidates if isinstance(r, Sighting)]
            if bulk and self.bulk.server_has_it():
                answers = self.bulk.push(sightings)
            else:
                answers = [self.audits.push_one(r) for r in sightings]
            for n, answer in zip(bulk, answers):
                results[n] = answer
            return [r for r in results if r is not None]

    def check(self) -> None:
        """Prove Snipe-IT answers and takes the token, cheaply: one asset of the list
        (``GET /hardware?limit=1``), which needs the token and ``assets.view``.

        Raises:
            RegisterUnavailable: Snipe-IT cannot be reached now, or throttled.
            RegisterRefused: the token was refused (401, 403).
            RegisterError: it answered with an error, or not as Snipe-IT would.
        """
        self.assets.check()

    def people(self) -> list[Person]:
        """Snipe-IT's users, as the people a door kiosk knows (``GET /users``, paged).

        Snipe-IT users have no badge field: ``badge`` is empty and a kiosk finds a person
        by ``employee_num``. Names are unescaped (Snipe-IT sends them HTML-escaped).

        Raises:
            RegisterUnavailable: Snipe-IT cannot be reached now.
            RegisterError: it refused (token, permission ``users.view``).
        """
        return self.assets.people()

    # -- lookups -------------------------------------------------------------------------

    def asset_by_tag(self, tag: str) -> Asset | None:
        """The asset with asset tag ``tag``, or None (see :meth:`SnipeItAssets.by_tag`)."""
        return self.assets.by_tag(tag)

    def assets_by_serial(self, serial: str) -> list[Asset]:
        """Every asset with serial number ``serial``, maybe none."""
        return self.assets.by_serial(serial)

    def asset_by_id(self, asset_id: int) -> Asset | None:
        """The asset with Snipe-IT id ``asset_id`` (deleted ones included), or None."""
        return self.assets.by_id(asset_id)

    # -- sending one record ------------------------------------------------------------

    def _push_one(self, record: Outgoing) -> ItemResult:
        if isinstance(record, IntakeRecord):
            return self._intake.push_one(record)
        sighting_id, verdict = record.sighting_id, record.verdict
        if verdict in KIOSK_VERDICTS:
            if not SAFE_ID.fullmatch(sighting_id):
                return ItemResult(sighting_id, ItemStatus.REJECTED, "sighting id cannot be"
                                  " written into a Snipe-IT note (use a UUID)")
            return self._kiosk.push_one(record)
        if verdict not in AUDIT_VERDICTS:
            return ItemResult(sighting_id, ItemStatus.ACCEPTED, f"not an audit: {verdict}")
        return self.audits.push_one(record)
