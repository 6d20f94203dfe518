"""Snipe-IT's REST API as the ``snipeit`` adapter speaks it: requests, error envelopes,
throttling and paged lists.

- Snipe-IT answers most errors with HTTP 200 and ``{"status": "error"}``; every answer's
  body is checked (:func:`error_message`), not only its status code.
- HTTP 429 (its request limit) is :class:`Throttled`, waiting as long as Snipe-IT asks
  (capped), or a minute when it does not say; requests are paced under
  ``register.rate_per_minute``.
- Lists (``{total, rows}``) are read page by page, again from the start when the total
  changes meanwhile.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from sync.errors import RegisterError, RegisterUnavailable
from sync.snipeit_bulk import message_text
from sync.web import RegisterClient, parse_retry_after

if TYPE_CHECKING:
    import requests

__all__ = ["DEFAULT_RATE_PER_MINUTE", "DEFAULT_RETRY_AFTER", "MAX_RETRY_AFTER", "NO_ROUTE",
           "PACING", "PAGE_LIMIT", "TOO_LARGE", "SnipeItApi", "Throttled", "api_base",
           "error_message", "list_page"]

PAGE_LIMIT = 500
"""Snipe-IT's default ``MAX_RESULTS``: a larger ``limit`` silently falls back to it."""

PACING = 0.95
"""Share of ``register.rate_per_minute`` actually used.

Snipe-IT counts requests in fixed one-minute windows (whole seconds, started by the first
request); a client spaced at exactly the limit can land one request too many in a window
when network delays bunch a few together. Five percent under the limit absorbs that.
"""

DEFAULT_RATE_PER_MINUTE = 120.0
"""Snipe-IT's default API throttle, used when ``register.rate_per_minute`` is not set."""

DEFAULT_RETRY_AFTER = 60.0
"""Seconds to wait after a 429 that does not say (Snipe-IT 8.1.4 drops ``Retry-After``)."""

MAX_RETRY_AFTER = 120.0
"""The most a 429 may ask; Snipe-IT's window is a minute, and some versions send nonsense."""

NO_ROUTE = object()
"""What :meth:`SnipeItApi.read` returns for a 404 or 405 it was told to expect."""
TOO_LARGE = object()
"""What :meth:`SnipeItApi.read` returns for a 413 it was told to expect."""


def api_base(url: str) -> str:
    """The API root for ``register.url``: the Snipe-IT address with ``/api/v1``."""
    url = url.rstrip("/")
    return url if url.endswith("/api/v1") else url + "/api/v1"


class Throttled(RegisterUnavailable):
    """HTTP 429: the request was refused before Snipe-IT ran it (nothing was applied)."""


class SnipeItApi:
    """Requests to one Snipe-IT server, paced under its request limit.

    Args:
        url: ``register.url`` (``/api/v1`` is added when missing).
        token: the API token.
        timeout: seconds to connect and, separately, to wait for an answer.
        rate_per_minute: Snipe-IT's request limit (``register.rate_per_minute``), or None
            for its default.
        session: the HTTP session (tests); one is made when None.
    """

    def __init__(self, url: str, token: str, *, timeout: float,
                 rate_per_minute: float | None = None,
                 session: requests.Session | None = None) -> None:
        self.rate = rate_per_minute or DEFAULT_RATE_PER_MINUTE
        self.client = RegisterClient(api_base(url), token, timeout=timeout,
                                     rate_per_minute=self.rate * PACING, session=session)

    @property
    def timeout(self) -> float:
        """Seconds a request may wait for its answer."""
        return self.client.timeout

    def close(self) -> None:
        """Close the HTTP connections."""
        self.client.close()

    def read(self, method: str, path: str, *, params: Mapping[str, Any] | None = None,
             body: Any = None, missing: tuple[int, ...] = ()) -> Any:
        """Send one request and return its JSON body (an error envelope included).

        A status in ``missing`` returns :data:`NO_ROUTE` (404, 405) or :data:`TOO_LARGE`
        (413) instead of raising.

        Raises:
            Throttled: HTTP 429.
            RegisterUnavailable: no answer, a 5xx, or a body that is not JSON.
            RegisterRefused, RegisterError: as :meth:`sync.web.RegisterClient.request`.
        """
        answer = self.client.request(method, path, params=params, body=body,
                                     ok=(200, 201, 429, *missing))
        if answer.status_code in missing:
            return TOO_LARGE if answer.status_code == 413 else NO_ROUTE
        if answer.status_code == 429:
            retry_after = parse_retry_after(answer.headers.get("Retry-After"))
            if retry_after is None:
                retry_after = _body_retry_after(answer)
            retry_after = min(MAX_RETRY_AFTER, DEFAULT_RETRY_AFTER if retry_after is None
                              else retry_after)
            raise Throttled(f"{method} {answer.url}: HTTP 429, Snipe-IT's request limit"
                            f" (wait {retry_after:g} s; register.rate_per_minute is"
                            f" {self.rate:g})", retry_after=retry_after)
        return self.client.json(answer)

    def list_all(self, path: str, params: Mapping[str, Any], *,
                 missing_ok: bool = False) -> list[dict[str, Any]]:
        """Every row of a ``{total, rows}`` list, page by page.

        A total that changes between pages (an asset added or deleted meanwhile) starts
        the read again, up to three times. With ``missing_ok``, an error envelope on the
        first page is an empty list.

        Raises:
            RegisterUnavailable: as :meth:`read`, or the list kept changing.
            RegisterError: an error envelope, or an answer that is not a list.
        """
        for _ in range(4):
            rows: list[dict[str, Any]] = []
            total: int | None = None
            while True:
                data = self.read("GET", path, params={**params, "limit": PAGE_LIMIT,
                                                      "offset": len(rows)})
                message = error_message(data)
                if message is not None:
                    if missing_ok and total is None:
                        return []
                    raise RegisterError(f"GET {path}: Snipe-IT: {message}")
                page, page_total = list_page(path, data)
                if total is None:
                    total = page_total
                elif page_total != total or not page:
                    break  # changed while read: start again
                rows.extend(page)
                if len(rows) >= total or not page:
                    return rows
        raise RegisterUnavailable(f"GET {path}: the list kept changing while it was read")


def list_page(path: str, data: Any) -> tuple[list[dict[str, Any]], int]:
    """The rows and the total of one page of a Snipe-IT list.

    Raises:
        RegisterError: ``data`` is not a ``{total, rows}`` list.
    """
    if (not isinstance(data, dict) or not isinstance(data.get("rows"), list)
            or not isinstance(data.get("total"), int)):
        raise RegisterError(f"GET {path}: not a Snipe-IT list ({str(data)[:200]})")
    return [row for row in data["rows"] if isinstance(row, dict)], data["total"]


def error_message(data: Any) -> str | None:
    """The message of an error envelope (``{"status": "error", ...}``), or None."""
    if not isinstance(data, dict) or data.get("status") != "error":
        return None
    return message_text(data.get("messages", data.get("message")))


def _body_retry_after(answer: requests.Response) -> float | None:
    try:
        data = answer.json()
    except ValueError:
        return None
    value = data.get("retryAfter") if isinstance(data, dict) else None
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0:
        return float(value)
    return None
