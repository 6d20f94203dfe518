"""What a start loads and checks before the first scan, shared by ``run`` and ``doctor``.

``stocktaker run`` stops on the first of these that fails (with the error's exit code);
``stocktaker doctor`` calls the same functions and reports each failure with its fix, so
that a configuration ``run`` refuses is never "all parts look usable".
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from sync.asset import Asset
from firmware.config import Config, RegisterConfig
from firmware.errors import ConfigError, RegisterUnavailable
from sync.person import Person
from sync.inventory_cache import InventoryCache, PeopleCache
from sync.register import Register

log = logging.getLogger(__name__)

__all__ = ["inventory_cache", "load_inventory", "load_people", "people_cache",
           "register_origin", "require_reader", "unwritable_folder"]


def register_origin(register: RegisterConfig, list_name: str = "inventory") -> dict[str, Any]:
    """Where a list comes from, as saved with it: the adapter, then its URL or the file
    (``manifest`` for the inventory, ``people`` for a kiosk's people), and the locations
    asked for. A saved copy whose origin differs is not used (see
    :mod:`sync.inventory_cache`)."""
    origin: dict[str, Any] = {"adapter": register.adapter}
    if register.adapter == "files":
        path = register.people if list_name == "people" else register.manifest
        origin["people" if list_name == "people" else "manifest"] = str(path)
    else:
        origin["url"] = (register.url or "").rstrip("/")
    if register.locations:
        origin["locations"] = list(register.locations)
    return origin


def inventory_cache(config: Config) -> InventoryCache:
    """The saved expected inventory of this configuration's register."""
    return InventoryCache(config.queue.path, register_origin(config.register))


def people_cache(config: Config) -> PeopleCache:
    """The saved people (a door kiosk's) of this configuration's register."""
    return PeopleCache(config.queue.path, register_origin(config.register, "people"))


def load_inventory(config: Config, register: Register, now: float, *, save: bool = True
                   ) -> tuple[InventoryCache, list[Asset], float | None]:
    """The expected inventory from the register, or the copy saved from it when the register
    is out of reach or refuses the token (``cache.problem`` says which).

    Returns:
        The cache (its ``problem``), the assets, and the saved copy's age in seconds
        (None when fresh).

    Raises:
        ManifestError: the ``files`` register's export is unusable (exit code 2).
        RegisterUnavailable: out of reach, and no copy saved from this register.
        RegisterRefused: the token refused, and no copy saved from this register.
        RegisterError: any other refusal.
    """
    cache = inventory_cache(config)
    assets, age = cache.fetch(register, now, save=save)
    return cache, assets, age


def load_people(config: Config, register: Register, now: float, *, save: bool = True
                ) -> tuple[PeopleCache, list[Person], float | None]:
    """A door kiosk's people from the register, or the copy saved from it (as
    :func:`load_inventory`).

    Raises:
        ConfigError: the ``files`` register's people file (``register.people``) is
            missing with no saved copy, or unusable (exit code 2).
        RegisterUnavailable: out of reach, and no copy saved from this register.
        RegisterError: it refused, or keeps no people.
    """
    cache = people_cache(config)
    try:
        people, age = cache.fetch(register, now, save=save)
    except RegisterUnavailable as exc:
        if config.register.adapter == "files":
            raise ConfigError(str(exc)) from exc  # the message names register.people
        raise
    if not people:
        log.warning("the register lists no people: every badge will be refused")
    return cache, people, age


def require_reader(config: Config) -> None:
    """Raises ConfigError when the configuration names no reader at all."""
    readers = (config.camera, config.rfid, config.scanner, config.cards)
    if all(settings.backend == "none" for settings in readers):
        raise ConfigError("no reader: set camera.backend, scanner.backend or rfid.backend")


def unwritable_folder(path: Path) -> str | None:
    """Why the folder ``path`` cannot be written to (made first when missing), or None."""
    here = Path(path)
    while not here.exists() and here != here.parent:
        if here.is_symlink():
            return f"{here} is a broken link"
        here = here.parent
    if not here.is_dir():
        return f"{here} is not a folder"
    if not os.access(here, os.W_OK | os.X_OK):
        return f"{here} is not writable by this user" if here == Path(path) else (
            f"cannot be made: {here} is not writable by this user")
    return None
