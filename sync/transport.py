"""Whether a register URL would carry the device's API token in clear.

A token sent over plain ``http://`` can be read by anyone on the way. The adapters that
send one (``http``, ``snipeit``, ``nautobot``) refuse such a URL unless it names this
machine (loopback), or ``register.allow_insecure_http`` says the network is trusted; then
every start and ``stocktaker doctor`` say so.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

__all__ = ["cleartext_host", "cleartext_refusal", "cleartext_warning"]


def cleartext_host(url: str | None) -> str | None:
    """The host an ``http://`` URL sends to when that host is not this machine; else None.

    Loopback (``localhost``, ``*.localhost``, 127.0.0.0/8, ``::1``) never leaves the
    machine, and an ``https://`` URL is encrypted: both give None, as does no URL.
    """
    if not url:
        return None
    try:
        parts = urlsplit(url.strip())
        host = parts.hostname
    except ValueError:
        return None
    if parts.scheme.lower() != "http" or not host:
        return None
    host = host.lower().rstrip(".")
    if host == "localhost" or host.endswith(".localhost"):
        return None
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host
    mapped = getattr(address, "ipv4_mapped", None)
    return None if address.is_loopback or (mapped is not None and mapped.is_loopback) else host


def cleartext_refusal(url: str, host: str) -> str:
    """The one-line error for a cleartext URL (the caller adds ``register.url:``)."""
    return (f"{url!r} would send the API token in clear to {host}: use https://, or set"
            " register.allow_insecure_http = true if this network is trusted")


def cleartext_warning(url: str, host: str) -> str:
    """The warning every start (and ``doctor``) gives while the opt-in is set."""
    return (f"register.url {url} sends the API token in clear to {host}"
            " (register.allow_insecure_http = true): anyone on the network path can read"
            " it; use https:// unless this network is trusted")
