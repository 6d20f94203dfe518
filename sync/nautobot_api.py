"""Nautobot's REST API as the ``nautobot`` adapter speaks it: the token, the API version,
refusals and paged lists.

Nautobot's token scheme is ``Token``, not ``Bearer``; every request asks for API version
:data:`API_VERSION`. A 403 is a refused token (or a missing permission) and stops the
batch; a 400 or 404 is Nautobot's refusal of one request, with its message.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import requests

from sync.errors import RegisterError, RegisterRefused, RegisterUnavailable
from sync.web import RegisterClient

__all__ = ["API_VERSION", "PAGE_LIMIT", "NautobotApi", "api_base"]

API_VERSION = "3.2"
"""The REST API version asked for (``Accept: application/json; version=3.2``)."""

PAGE_LIMIT = 250
"""Devices per page: well under Nautobot's ``MAX_PAGE_SIZE`` (1,000), so that each page
comes back within ``register.timeout`` even from a busy server (1,000 devices with their
nested objects took over 10 s from a loaded one)."""


def api_base(url: str) -> str:
    """The API root for ``register.url``: the Nautobot address with ``/api``."""
    url = url.rstrip("/")
    return url if url.endswith("/api") else url + "/api"


class NautobotApi:
    """Requests to one Nautobot server.

    Args:
        url: ``register.url`` (``/api`` is added when missing).
        token: the API token.
        timeout: seconds to connect and, separately, to wait for an answer.
        rate_per_minute: ``register.rate_per_minute``, or None for no pacing.
        session: the HTTP session (tests); one is made when None.
    """

    def __init__(self, url: str, token: str, *, timeout: float,
                 rate_per_minute: float | None = None,
                 session: requests.Session | None = None) -> None:
        session = session or requests.Session()
        # Nautobot's token scheme is "Token", not "Bearer"; the client adds no other.
        session.headers["Authorization"] = f"Token {token}"
        self.client = RegisterClient(api_base(url), None, timeout=timeout,
                                     rate_per_minute=rate_per_minute, session=session)
        self.client.session.headers["Accept"] = f"application/json; version={API_VERSION}"

    def close(self) -> None:
        """Close the HTTP connections."""
        self.client.close()

    def request(self, method: str, path: str, *, params: Mapping[str, Any] | None = None,
                body: Any = None, ok: tuple[int, ...] = (200,)) -> requests.Response:
        """One request; see :meth:`sync.web.RegisterClient.request`."""
        return self.client.request(method, path, params=params, body=body, ok=ok)

    def json(self, answer: requests.Response) -> Any:
        """The JSON body of an answer (RegisterUnavailable when it is none)."""
        return self.client.json(answer)

    def refusal(self, answer: requests.Response) -> str:
        """Nautobot's message for a 400/403/404; a bad token stops the whole batch.

        Raises:
            RegisterRefused: the answer is a 403.
        """
        try:
            data = answer.json()
        except ValueError:
            data = answer.text[:200]
        message = _message(data)
        if answer.status_code == 403:
            if "token" in message.lower():
                raise RegisterRefused(f"Nautobot refused the token ({message}): put a valid"
                                      " API token in register.token_file")
            raise RegisterRefused(f"Nautobot refused: {message} (give the token's user the"
                                  " permission)")
        return message

    def list_all(self, path: str, params: Mapping[str, Any]) -> list[dict[str, Any]]:
        """Every row of a paged ``{count, next, results}`` list.

        A count that changes between pages (a device added or deleted meanwhile) starts
        the read again, up to three times.

        Raises:
            RegisterUnavailable: no answer, or the list kept changing.
            RegisterRefused: the token was refused.
            RegisterError: Nautobot refused the request, or answered something else.
        """
        for _ in range(4):
            rows: list[dict[str, Any]] = []
            count: int | None = None
            while True:
                answer = self.client.request("GET", path, params={
                    **params, "limit": PAGE_LIMIT, "offset": len(rows)}, ok=(200, 400, 403))
                if answer.status_code != 200:
                    raise RegisterError(f"GET {path}: Nautobot: {self.refusal(answer)}")
                data = self.client.json(answer)
                if (not isinstance(data, dict) or not isinstance(data.get("results"), list)
                        or not isinstance(data.get("count"), int)):
                    raise RegisterError(f"GET {path}: not a Nautobot list ({str(data)[:200]})")
                page = [row for row in data["results"] if isinstance(row, dict)]
                if count is None:
                    count = data["count"]
                elif data["count"] != count:
                    break  # changed while read: start again
                rows.extend(page)
                if len(rows) >= count or not page or not data.get("next"):
                    return rows
        raise RegisterUnavailable(f"GET {path}: the list kept changing while it was read")


def _message(data: Any) -> str:
    """Nautobot's error body as one line: ``detail``, or ``field: message`` pairs."""
    if isinstance(data, dict):
        if "detail" in data and len(data) == 1:
            return str(data["detail"])
        parts = []
        for key, value in data.items():
            texts = value if isinstance(value, list) else [value]
            parts.append(f"{key}: {' '.join(str(t) for t in texts)}")
        return "; ".join(parts) or "refused"
    if isinstance(data, list):
        return " ".join(str(item) for item in data) or "refused"
    return " ".join(str(data).split()) or "refused"
