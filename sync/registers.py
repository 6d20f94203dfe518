"""The table of register adapters and :func:`open_register`, as TinyDB takes a storage.

Each adapter is one entry of :data:`ADAPTERS`: how to open it from the ``[register]``
settings. The configuration's allowed ``register.adapter`` values are the table's keys.
The base class (:mod:`sync.register`) imports no adapter; each adapter is imported only
when it is opened.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from hal.errors import ConfigError
from sync.register import Register
from sync.transport import cleartext_host, cleartext_refusal, cleartext_warning

if TYPE_CHECKING:
    from sync.settings import RegisterSettings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Adapter:
    """One register adapter.

    Attributes:
        open: builds the register from the ``[register]`` settings and the device's id;
            raises ``ConfigError`` naming the key when a setting is missing or unusable.
        sends_token: whether it sends an API token with every request (then an
            ``http://`` URL to another machine needs ``register.allow_insecure_http``).
    """

    open: Callable[[RegisterSettings, str], Register]
    sends_token: bool = False


def _files(config: RegisterSettings, device_id: str) -> Register:
    from sync.files import FilesRegister

    return FilesRegister(config.manifest, config.outbox, device_id, config.columns,
                         people=config.people, intake_status=config.intake_status,
                         intake_unknown_model=config.intake_unknown_model)


def _http(config: RegisterSettings, device_id: str) -> Register:
    from sync.http import HttpRegister

    return HttpRegister.from_config(config, device_id)


def _snipeit(config: RegisterSettings, device_id: str) -> Register:
    from sync.snipeit import SnipeItRegister

    return SnipeItRegister(config, device_id)


def _nautobot(config: RegisterSettings, device_id: str) -> Register:
    from sync.nautobot import NautobotRegister

    return NautobotRegister(config, device_id)


ADAPTERS: dict[str, Adapter] = {
    "files": Adapter(_files),
    "http": Adapter(_http, sends_token=True),
    "snipeit": Adapter(_snipeit, sends_token=True),
    "nautobot": Adapter(_nautobot, sends_token=True),
}
"""The register adapters by name."""


def sends_token(adapter: str) -> bool:
    """Whether the adapter named ``adapter`` sends an API token (False for no such one)."""
    entry = ADAPTERS.get(adapter)
    return entry is not None and entry.sends_token


def check_transport(config: RegisterSettings) -> None:
    """Refuse a token-sending adapter's ``http://`` URL to another machine, or, with
    ``register.allow_insecure_http``, log a warning (at every start).

    Raises:
        ConfigError: the URL would carry the token in clear and the opt-in is not set.
    """
    host = cleartext_host(config.url) if sends_token(config.adapter) else None
    if host is None or config.url is None:
        return
    if not config.allow_insecure_http:
        raise ConfigError(f"register.url: {cleartext_refusal(config.url, host)}")
    log.warning("%s", cleartext_warning(config.url, host))


def open_register(config: RegisterSettings, device_id: str) -> Register:
    """The register adapter ``config.adapter`` names.

    Raises:
        ConfigError: ``config.adapter`` names no known adapter, or the adapter's
            settings are missing or unusable (the message names the key), or
            ``register.url`` would carry the token in clear without the opt-in.
    """
    check_transport(config)
    adapter = ADAPTERS.get(config.adapter)
    if adapter is None:
        raise ConfigError(f"register.adapter: unknown register adapter {config.adapter!r}"
                          f" (known: {', '.join(ADAPTERS)})")
    return adapter.open(config, device_id)
