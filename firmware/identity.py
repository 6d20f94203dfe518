"""Identity: which register record a scanned identifier names — one asset, none, or several.

The rules (the README's table):

=========================================  ==================================================
what the label holds                       matched against
=========================================  ==================================================
plain text (``IT-004512``, ``5CG1234XYZ``)  asset tag **and** serial: plain text does not say
                                           which it is; naming two assets is ``ambiguous``
register URL ``…/hardware/<id>``            register id, only when the URL points at the
                                           configured register (``register.url``,
                                           ``register.label_hosts``)
register URL ``…/ht/<tag>``, ``?tag=``       asset tag, same host rule
GS1 AI 8004 (GIAI)                         asset tag: the whole GIAI, or the GIAI without a
                                           configured company prefix (``identity.giai_prefixes``)
GS1 AI 21 (serial), with or without AI 01  serial only; the GTIN is kept in the sighting
GS1 AI 8004 and AI 21 together             both; naming two different assets is ``ambiguous``
=========================================  ==================================================

Normalisation, as registers such as Snipe-IT compare: outer spaces are ignored and case
is ignored (Unicode case folding) for asset tags, serials and GIAIs; register ids are
numbers (leading zeros never matter). With ``identity.leading_zeros = "ignore"`` (the
default) every run of digits in an asset tag or GIAI also loses its leading zeros, so
``4512`` finds ``004512`` and ``IT-4512`` finds ``IT-004512``.

Every identifier a label carries is looked up in the fields its kind can mean; the
union of the assets found decides: exactly one is a match, none is unknown, more than
one is ambiguous — never a guess.
"""

from __future__ import annotations

import enum
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from sync.asset import MAX_ID_DIGITS, Asset
from firmware.tags import Tag, TagKind, url_site

__all__ = [
    "AssetIndex",
    "Field",
    "IdentityRules",
    "IndexWarning",
    "NO_ID_COLUMN",
    "Outcome",
    "Resolution",
    "register_sites",
    "resolve",
]

NO_ID_COLUMN = "the expected inventory has no id column"
"""The reason given when a ``…/hardware/<id>`` label cannot be looked up."""

_DIGITS = re.compile(r"[0-9]+")


class Field(str, enum.Enum):
    """A register field an identifier can be matched against."""

    ASSET_TAG = "asset_tag"
    ID = "id"
    SERIAL = "serial"


@dataclass(frozen=True)
class IdentityRules:
    """How identifiers are compared with the register's records.

    Attributes:
        ignore_leading_zeros: digit runs in asset tags and GIAIs lose their leading zeros.
        giai_prefixes: GS1 company prefixes a GIAI may start with before the asset tag.
        sites: the sites (:func:`firmware.tags.url_site` form) whose URL labels name
            this register's assets; URL labels of any other site are unknown.
    """

    ignore_leading_zeros: bool = True
    giai_prefixes: tuple[str, ...] = ()
    sites: tuple[str, ...] = ()

    def tag_key(self, value: str) -> str:
        """An asset tag (or GIAI) as compared: outer spaces and case ignored, zeros as set."""
        key = value.strip().casefold()
        if self.ignore_leading_zeros:
            key = _DIGITS.sub(lambda m: m[0].lstrip("0") or "0", key)
        return key

    def on_register(self, site: str | None) -> bool:
        """True when a URL label's site is one of :attr:`sites` or lies below one."""
        return site is not None and any(site == s or site.startswith(s + "/")
                                        for s in self.sites)

    @staticmethod
    def serial_key(value: str) -> str:
        """A serial number as compared: outer spaces and case ignored."""
        return value.strip().casefold()


def register_sites(url: str | None, label_hosts: Iterable[str]) -> tuple[str, ...]:
    """The sites whose URL labels count, from ``register.url`` and ``register.label_hosts``.

    A label host is written ``host``, ``host:port`` or ``host/base-path``.
    """
    sites = [url_site(url)] if url else []
    for host in label_hosts:
        sites.append(url_site("https://" + host.strip().strip("/")))
    return tuple(dict.fromkeys(sites))


@dataclass(frozen=True)
class IndexWarning:
    """Records that share an identifier: a scan of it will be ``ambiguous``.

    Attributes:
        field: the register field they share.
        value: the shared value, as the first record writes it.
        assets: the records, in register order.
    """

    field: Field
    value: str
    assets: tuple[Asset, ...]

    def message(self) -> str:
        """The warning in words, naming every record and where it came from."""
        where = ", ".join(f"{a.asset_tag} ({a.origin})" if a.origin else a.asset_tag
                          for a in self.assets)
        label = {Field.ASSET_TAG: "asset tag", Field.ID: "id", Field.SERIAL: "serial"}[self.field]
        return (f"{label} {self.value!r} is shared by {len(self.assets)} assets: {where};"
                " a scan of it is ambiguous")


class AssetIndex:
    """The register's records indexed by every field an identifier can be matched against.

    Args:
        assets: the register's records.
        rules: how identifiers are compared.
    """

    def __init__(self, assets: Iterable[Asset], rules: IdentityRules = IdentityRules()) -> None:
        self.rules = rules
        self._by: dict[Field, dict[object, list[Asset]]] = {f: defaultdict(list) for f in Field}
        for asset in assets:
            self._by[Field.ASSET_TAG][rules.tag_key(asset.asset_tag)].append(asset)
            if asset.id is not None:
                self._by[Field.ID][asset.id].append(asset)
            if asset.serial.strip():
                self._by[Field.SERIAL][rules.serial_key(asset.serial)].append(asset)
        self.has_ids = bool(self._by[Field.ID])
        self.warnings: tuple[IndexWarning, ...] = tuple(
            IndexWarning(f, str(getattr(found[0], f.value)), tuple(found))
            for f in Field for found in self._by[f].values() if len(found) > 1
        )

    def find(self, field: Field, key: object) -> tuple[Asset, ...]:
        """The records whose ``field`` equals ``key`` (already normalised)."""
        return tuple(self._by[field].get(key, ()))


class Outcome(str, enum.Enum):
    """What identity resolution found."""

    FOUND = "found"
    UNKNOWN = "unknown"
    AMBIGUOUS = "ambiguous"


@dataclass(frozen=True)
class Resolution:
    """The answer to "which asset is this?".

    Attributes:
        outcome: found, unknown or ambiguous.
        asset: the one asset, when found.
        candidates: every asset the identifiers matched (two or more when ambiguous).
        reason: why an identifier was not looked up at all (a foreign register's URL).
    """

    outcome: Outcome
    asset: Asset | None = None
    candidates: tuple[Asset, ...] = field(default=())
    reason: str | None = None


def resolve(tag: Tag, index: AssetIndex) -> Resolution:
    """Which record ``tag`` names, by the rules in this module's docstring.

    A pure function of the tag and the index.

    Args:
        tag: a parsed label (a room label names no asset: unknown).
        index: the register's records and the comparison rules.

    Returns:
        The resolution; never raises.
    """
    rules = index.rules
    if tag.kind is TagKind.LOCATION:
        return Resolution(Outcome.UNKNOWN, reason="a room label names no asset")
    if tag.kind is TagKind.CAMPAIGN:
        return Resolution(Outcome.UNKNOWN, reason="a campaign label names no asset")
    if tag.kind is TagKind.INTAKE:
        return Resolution(Outcome.UNKNOWN, reason="an intake label names no asset")
    if tag.scheme == "url":
        if not rules.on_register(tag.site):
            why = ("register.url is not set, so register URL labels cannot be checked"
                   if not rules.sites else f"label of another register ({tag.site})")
            return Resolution(Outcome.UNKNOWN, reason=why)
        if tag.kind is TagKind.ASSET_ID:
            if not index.has_ids:
                return Resolution(Outcome.UNKNOWN, reason=NO_ID_COLUMN)
            return _decide(_by_id(tag.value, index))
    found: list[Asset] = []
    for fld, key in _lookups(tag, rules):
        found.extend(index.find(fld, key))
    return _decide(found)


def _by_id(value: str, index: AssetIndex) -> list[Asset]:
    digits = value.strip()
    if not (digits.isascii() and digits.isdigit()) or len(digits.lstrip("0")) > MAX_ID_DIGITS:
        return []
    return list(index.find(Field.ID, int(digits)))


def _lookups(tag: Tag, rules: IdentityRules) -> list[tuple[Field, object]]:
    """The (field, normalised key) pairs a tag's identifiers are looked up under."""
    if tag.kind is TagKind.GIAI:
        keys = [rules.tag_key(tag.value)]
        giai = tag.value.strip()
        keys += [rules.tag_key(giai[len(p):]) for p in rules.giai_prefixes
                 if giai.startswith(p) and len(giai) > len(p)]
        found: list[tuple[Field, object]] = [(Field.ASSET_TAG, k) for k in dict.fromkeys(keys)]
        if tag.serial:
            found.append((Field.SERIAL, rules.serial_key(tag.serial)))
        return found
    if tag.kind is TagKind.ASSET_ID:  # only URLs carry ids, and those were handled
        return []
    if tag.scheme == "plain":
        return [(Field.ASSET_TAG, rules.tag_key(tag.value)),
                (Field.SERIAL, rules.serial_key(tag.value))]
    if tag.kind is TagKind.SERIAL:
        return [(Field.SERIAL, rules.serial_key(tag.value))]
    return [(Field.ASSET_TAG, rules.tag_key(tag.value))]


def _decide(found: Sequence[Asset]) -> Resolution:
    distinct = tuple({id(a): a for a in found}.values())
    if not distinct:
        return Resolution(Outcome.UNKNOWN)
    if len(distinct) == 1:
        return Resolution(Outcome.FOUND, distinct[0], distinct)
    return Resolution(Outcome.AMBIGUOUS, None, distinct)
