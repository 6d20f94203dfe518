"""The ``http`` register adapter: stocktaker's own register protocol (``sync/openapi.yaml``).

For an inventory system that implements the protocol (``docs/protocol.md``), or the
reference receiver (``stocktaker register-server``). Every request goes through
:class:`sync.web.RegisterClient`: bearer token, timeouts, client-side rate limit, and
failures turned into :class:`~sync.errors.RegisterUnavailable` (try again later) or
:class:`~sync.errors.RegisterError` (refused).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import requests

from sync.asset import Asset, audit_date
from hal.errors import ConfigError
from sync.errors import RegisterError, RegisterUnavailable
from sync.person import Person
from sync.outbox import FilesOutbox
from sync.register import ItemResult, ItemStatus, Register
from sync.sighting import Outgoing
from sync.web import RegisterClient, read_token

if TYPE_CHECKING:
    from sync.settings import RegisterSettings

__all__ = ["API", "HttpRegister", "idempotency_key"]

API = "/api/v1"
"""The protocol version this adapter speaks."""

_TEXT_FIELDS = ("serial", "name", "location", "status", "assigned_to")


def idempotency_key(device_id: str, records: Sequence[Outgoing]) -> str:
    """The ``Idempotency-Key`` of a batch: a digest of the device and its sighting ids, in order.

    A retry of the same batch sends the same key and gets the answer of the first try.
    The ids are kept in their order (not sorted) because the register compares the whole
    body under a key: the same sightings in another order are another body, which must
    get another key rather than a 422.
    """
    digest = hashlib.sha256(device_id.encode("utf-8", "surrogatepass"))
    for record in records:
        digest.update(b"\n" + record.sighting_id.encode("utf-8", "surrogatepass"))
    return f"stocktaker-{digest.hexdigest()}"


class HttpRegister(Register):
    """The register at ``url``, spoken to in stocktaker's register protocol.

    Args:
        url: the register's base URL (``register.url``); ``/api/v1/...`` is appended.
        token: the bearer token.
        device_id: this device, named in every batch of sightings.
        timeout: seconds to connect and, separately, to wait for an answer.
        rate_per_minute: client-side request limit (None: none, the default: the
            receiver takes what it is sent).
        session: a ``requests.Session`` for :class:`RegisterClient` (one is made when None).
    """

    def __init__(self, url: str, token: str, device_id: str, *, timeout: float = 10.0,
                 rate_per_minute: float | None = None,
                 session: requests.Session | None = None,
                 outbox: Path | None = None) -> None:
        self.client = RegisterClient(url, token, timeout=timeout,
                                     rate_per_minute=rate_per_minute, session=session)
        self.device_id = device_id
        self.outbox = outbox
        self._etag: str | None = None
        self._assets: list[Asset] | None = None

    @classmethod
    def from_config(cls, config: RegisterSettings, device_id: str) -> HttpRegister:
        """The adapter ``[register]`` describes.

        Raises:
            ConfigError: ``register.url`` or ``register.token_file`` is not set, or the
                token file cannot be used (the message names the key).
        """
        if not config.url:
            raise ConfigError("register.url: the http adapter needs the register's URL")
        if config.token_file is None:
            raise ConfigError("register.token_file: the http adapter needs a file holding"
                              " the register's API token")
        return cls(config.url, read_token(config.token_file), device_id,
                   timeout=config.timeout, rate_per_minute=config.rate_per_minute,
                   outbox=config.outbox)

    def close(self) -> None:
        """Close the connections."""
        self.client.close()

    def record_conflicts(self, conflicts: Sequence[Mapping[str, Any]]) -> None:
        """Write ``conflicts-<device>.json`` into ``register.outbox`` (the register answered
        them too; the copy is for whoever looks at the device)."""
        if self.outbox is not None:
            FilesOutbox(self.outbox, self.device_id).write_conflicts(conflicts)

    def expected_assets(self) -> list[Asset]:
        """Every asset of the register (``GET /api/v1/manifest``).

        The manifest's ETag is remembered: the next call sends ``If-None-Match`` and, when
        the register answers 304, returns the previous list without downloading it again.

        Raises:
            RegisterUnavailable: no answer, or one that is not a manifest.
            RegisterError: the register refused (bad token).
        """
        path = f"{API}/manifest"
        headers = {"If-None-Match": self._etag} if self._etag and self._assets is not None else {}
        answer = self.client.request("GET", path, headers=headers, ok=(200, 304))
        if answer.status_code == 304:
            if self._assets is None:
                raise RegisterUnavailable(f"GET {answer.url}: 304 with no manifest to reuse")
            return list(self._assets)
        assets = _assets(self.client.json(answer), answer.url)
        self._assets = assets
        self._etag = answer.headers.get("ETag")
        return list(assets)

    def check(self) -> None:
        """Prove the register answers and takes the token, cheaply: ``GET /api/v1/manifest``
        with ``If-None-Match: *``, which a register with the manifest answers 304, no body.

        A register that ignores ETags answers 200 with the manifest: still an answer.

        Raises:
            RegisterUnavailable: no answer, or one that is not the protocol's.
            RegisterRefused: the token was refused (401, 403).
            RegisterError: another refusal (a 404: ``register.url`` is wrong).
        """
        answer = self.client.request("GET", f"{API}/manifest", headers={"If-None-Match": "*"},
                                     ok=(200, 304))
        if answer.status_code == 200 and not isinstance(self.client.json(answer), dict):
            raise RegisterUnavailable(f"GET {answer.url}: the answer is not a manifest")

    def people(self) -> list[Person]:
        """The people who may take assets at a door kiosk (``GET /api/v1/people``).

        Raises:
            RegisterUnavailable: no answer, or one that is not a people list.
            RegisterError: the register refused (bad token), or keeps no people (404).
        """
        answer = self.client.request("GET", f"{API}/people", ok=(200,))
        return _people(self.client.json(answer), answer.url)

    def push(self, records: Sequence[Outgoing]) -> list[ItemResult]:
        """Send one batch (``POST /api/v1/sightings``); one result per record, in order.

        A door kiosk's check-out or check-in the register disagrees with comes back as a
        ``conflict`` result carrying the register's side.

        Raises:
            RegisterUnavailable: no answer, a 5xx/408/429, or an answer that does not
                match the batch (nothing of it is known to be done: send it again).
            RegisterError: the batch as a whole was refused (bad token, 4xx).
        """
        if not records:
            return []
        body = {"device_id": self.device_id, "sightings": [r.to_record() for r in records]}
        answer = self.client.request(
            "POST", f"{API}/sightings", body=body, ok=(200,),
            headers={"Idempotency-Key": idempotency_key(self.device_id, records)})
        return _results(self.client.json(answer), records, answer.url)

    def heartbeat(self, state: Mapping[str, Any]) -> None:
        """Report the device's state (``POST /api/v1/heartbeat``).

        Raises:
            RegisterUnavailable: no answer, or not the protocol's.
            RegisterError: the register refused it (bad token, a 404 from a register
                without heartbeats).
        """
        body = {**state, "device_id": self.device_id}
        answer = self.client.request("POST", f"{API}/heartbeat", body=body, ok=(200,))
        recorded = self.client.json(answer)
        if not isinstance(recorded, dict) or recorded.get("status") != "recorded":
            raise RegisterUnavailable(f"POST {answer.url}: the register did not say the"
                                      " heartbeat is recorded")

    def publish_report(self, report: Mapping[str, Any]) -> list[str]:
        """Store the report (``PUT /api/v1/reports/<session_id>``); returns its URL.

        Raises:
            RegisterUnavailable: no answer, or not the protocol's answer.
            RegisterError: the register refused the report, or it has no session id.
        """
        session_id = report.get("session_id")
        if not isinstance(session_id, str) or not session_id:
            raise RegisterError("the report has no session_id: it cannot be published")
        path = f"{API}/reports/{quote(session_id, safe='')}"
        answer = self.client.request("PUT", path, body=dict(report), ok=(200, 201))
        stored = self.client.json(answer)
        if not isinstance(stored, dict) or stored.get("status") != "stored":
            raise RegisterUnavailable(f"PUT {answer.url}: the register did not say the report"
                                      " is stored")
        return [self.client.base_url + path]


def _assets(data: Any, url: str) -> list[Asset]:
    """The manifest's assets, checked field by field.

    Raises:
        RegisterUnavailable: the answer is not ``{"assets": [...]}`` of asset objects.
    """
    items = data.get("assets") if isinstance(data, dict) else None
    if not isinstance(items, list):
        raise RegisterUnavailable(f"GET {url}: the answer is not a manifest (no assets list)")
    assets = []
    for number, item in enumerate(items, 1):
        problem = _asset_problem(item)
        if problem:
            raise RegisterUnavailable(f"GET {url}: asset {number} of the manifest {problem}")
        asset_id = item.get("id")
        assets.append(Asset(
            asset_tag=item["asset_tag"],
            **{name: item.get(name) or "" for name in _TEXT_FIELDS},
            id=asset_id,
            origin=f"{url}, asset {number}",
            next_audit_date=audit_date(item.get("next_audit_date") or ""),
        ))
    return assets


def _asset_problem(item: Any) -> str | None:
    if not isinstance(item, dict):
        return "is not an object"
    tag = item.get("asset_tag")
    if not isinstance(tag, str) or not tag.strip():
        return "has no asset_tag"
    for name in _TEXT_FIELDS:
        if not isinstance(item.get(name), (str, type(None))):
            return f"has a {name} that is not text"
    next_audit = item.get("next_audit_date")
    if next_audit is not None:
        try:
            audit_date(next_audit if isinstance(next_audit, str) else "?")
        except ValueError as exc:
            return f"has a next_audit_date that is not a date: {exc}"
    asset_id = item.get("id")
    if asset_id is not None and (type(asset_id) is not int or asset_id < 0):
        return "has an id that is not a whole number"
    return None


def _results(data: Any, records: Sequence[Outgoing], url: str) -> list[ItemResult]:
    """The answer's results, each checked against the record in its position.

    Raises:
        RegisterUnavailable: a result is missing, extra, out of order or malformed.
    """
    results = data.get("results") if isinstance(data, dict) else None
    if not isinstance(results, list) or len(results) != len(records):
        count = len(results) if isinstance(results, list) else "no"
        raise RegisterUnavailable(f"POST {url}: {count} results for a batch of {len(records)}"
                                  "; sending it again later")
    statuses = {s.value: s for s in ItemStatus}
    mapped = []
    for number, (result, record) in enumerate(zip(results, records), 1):
        expected = record.sighting_id
        status = result.get("status") if isinstance(result, dict) else None
        reason = result.get("reason") if isinstance(result, dict) else None
        side = result.get("register_side") if isinstance(result, dict) else None
        if (not isinstance(result, dict) or result.get("sighting_id") != expected
                or status not in statuses or not isinstance(reason, (str, type(None)))
                or not isinstance(side, (dict, type(None)))):
            raise RegisterUnavailable(f"POST {url}: result {number} does not answer sighting"
                                      f" {expected!r}; sending the batch again later")
        mapped.append(ItemResult(expected, statuses[status], reason,
                                 side if statuses[status] is ItemStatus.CONFLICT else None))
    return mapped


_PERSON_TEXT = ("badge", "employee_num", "name", "username")


def _people(data: Any, url: str) -> list[Person]:
    """The answer's people, checked field by field.

    Raises:
        RegisterUnavailable: the answer is not ``{"people": [...]}`` of person objects.
    """
    items = data.get("people") if isinstance(data, dict) else None
    if not isinstance(items, list):
        raise RegisterUnavailable(f"GET {url}: the answer is not a people list")
    people = []
    for number, item in enumerate(items, 1):
        person_id = item.get("id") if isinstance(item, dict) else None
        if (not isinstance(item, dict)
                or not all(isinstance(item.get(k), (str, type(None))) for k in _PERSON_TEXT)
                or (person_id is not None and (type(person_id) is not int or person_id < 0))):
            raise RegisterUnavailable(f"GET {url}: person {number} is not a person object")
        people.append(Person(**{k: item.get(k) or "" for k in _PERSON_TEXT}, id=person_id,
                             origin=f"{url}, person {number}"))
    return people
