"""The reference receiver against its own contract, ``sync/openapi.yaml``, with schemathesis.

Schemathesis reads the document and sends the running receiver (a loopback subprocess)
requests drawn from it, valid and invalid, checking each answer's status, headers and
body against the document, that valid data is accepted, invalid data refused, and that
the token is enforced. The number of examples is bounded to keep the run short.
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

schemathesis = pytest.importorskip(
    "schemathesis", reason="schemathesis is not installed: pip install -e '.[test]'")
yaml = pytest.importorskip("yaml", reason="PyYAML (installed with schemathesis) is missing")

from hypothesis import HealthCheck, settings  # noqa: E402
from schemathesis.specs.openapi.checks import negative_data_rejection  # noqa: E402

from sync.receiver import protocol  # noqa: E402
from tests.test_receiver import TOKEN, Receiver, running_receiver  # noqa: E402

SPEC = Path(__file__).resolve().parents[1] / "sync" / "openapi.yaml"
EXAMPLES = int(os.environ.get("STOCKTAKER_OPENAPI_EXAMPLES", "25"))
"""Examples per operation and phase; raise it for a longer run."""

schema = schemathesis.openapi.from_path(SPEC)


@pytest.fixture(scope="module")
def receiver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Receiver]:
    with running_receiver(tmp_path_factory.mktemp("openapi")) as running:
        yield running


def _valid(pattern: re.Pattern[str], value: Any) -> bool:
    return isinstance(value, str) and pattern.fullmatch(value) is not None


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                                 HealthCheck.function_scoped_fixture])
def test_the_receiver_keeps_to_the_openapi_document(case: Any, receiver: Receiver) -> None:
    headers = case.headers if case.headers is not None else {}
    # Rules the document cannot express, kept for data meant to be valid, so that a
    # valid request is not refused for breaking them:
    # - a key drawn twice with different bodies is a (documented) 422: one key per request;
    if _valid(protocol.IDEMPOTENCY_KEY, headers.get("Idempotency-Key")):
        headers["Idempotency-Key"] = f"schemathesis-{uuid.uuid4()}"
    # - a report's session_id is the one in its URL.
    session = (case.path_parameters or {}).get("session_id")
    if (case.method == "PUT" and isinstance(case.body, dict) and _valid(protocol.SESSION_ID, session)
            and _valid(protocol.SESSION_ID, case.body.get("session_id"))):
        case.body["session_id"] = session
    case.headers = headers
    auth = {"Authorization": f"Bearer {TOKEN}"}
    response = case.call(base_url=receiver.url, headers=auth, timeout=20)
    excluded = []
    if case.operation.path == "/api/v1/manifest" and _query_is_valid(str(response.request.url)):
        # A query parameter drawn as an empty list or object is not sent at all, so a
        # request drawn as invalid may reach the receiver as a valid one (and be answered).
        excluded.append(negative_data_rejection)
    case.validate_response(response, headers=auth, excluded_checks=excluded,
                           transport_kwargs={"base_url": receiver.url, "headers": auth,
                                             "timeout": 20})


def _query_is_valid(url: str) -> bool:
    query = parse_qs(urlsplit(url).query, keep_blank_values=True)
    return set(query) <= {"location"} and all(len(values) == 1 for values in query.values())


def _spec() -> dict[str, Any]:
    return yaml.safe_load(SPEC.read_text(encoding="utf-8"))


def test_the_document_and_the_receiver_share_their_rules() -> None:
    spec = _spec()
    schemas = spec["components"]["schemas"]
    assert set(schemas["Sighting"]["properties"]) == set(protocol.SIGHTING_FIELDS)
    assert tuple(schemas["Sighting"]["required"]) == protocol.SIGHTING_REQUIRED
    assert set(schemas["Report"]["properties"]) == set(protocol.REPORT_FIELDS)
    assert tuple(schemas["Report"]["required"]) == protocol.REPORT_REQUIRED
    assert tuple(schemas["SightingBatch"]["required"]) == protocol.BATCH_REQUIRED
    assert set(schemas["Heartbeat"]["properties"]) == set(protocol.HEARTBEAT_FIELDS)
    assert tuple(schemas["Heartbeat"]["required"]) == protocol.HEARTBEAT_REQUIRED
    assert schemas["SightingBatch"]["properties"]["sightings"]["maxItems"] == protocol.MAX_BATCH
    assert schemas["Identifier"]["pattern"] == f"^{protocol.IDENTIFIER.pattern}$"
    assert schemas["SessionId"]["pattern"] == f"^{protocol.SESSION_ID.pattern}$"
    (key,) = spec["paths"]["/api/v1/sightings"]["post"]["parameters"]
    assert key["schema"]["pattern"] == f"^{protocol.IDEMPOTENCY_KEY.pattern}$"
    assert all(path.startswith(protocol.API + "/") for path in spec["paths"])
    assert "2 MiB" in spec["info"]["description"]
    assert protocol.MAX_BODY_BYTES == 2 * 1024 * 1024


def test_every_answer_the_receiver_gives_is_documented() -> None:
    """Each operation documents 401, and each write the limits' statuses."""
    spec = _spec()
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            if method == "parameters":
                continue
            codes = set(operation["responses"])
            assert {"401", "500"} <= codes, (path, method)
            if method in ("post", "put"):
                assert {"400", "411", "413", "415", "422"} <= codes, (path, method)
