"""Campaign files: campaigns written in TOML, read by ``stocktaker reconcile --campaign-file``
and ``stocktaker register-server --campaigns`` alike.

A file holds one campaign as top-level keys or a ``[campaign]`` table, or several as
``[[campaign]]`` tables; each has the keys of :meth:`sync.campaign.Campaign.from_mapping`
(``name``, ``rooms``, ``from``, ``to``) and is checked by it, so both commands accept and
refuse the same campaigns.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from sync.campaign import Campaign, CampaignError, name_key

__all__ = ["campaign_tables", "defined_campaigns"]


def campaign_tables(path: Path) -> list[dict[str, Any]]:
    """The campaigns of the TOML file ``path`` as plain tables, in the file's order.

    Raises:
        CampaignError: the file is missing, unreadable, not TOML, or holds no campaign
            (the message starts with the path).
    """
    try:
        with path.open("rb") as fh:
            loaded = tomllib.load(fh)
    except FileNotFoundError:
        raise CampaignError(f"{path}: no such campaign file") from None
    except OSError as exc:
        raise CampaignError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise CampaignError(f"{path}: not TOML: {exc}") from None
    if "campaign" not in loaded:
        return [loaded]
    tables = loaded["campaign"]
    if isinstance(tables, dict):
        return [tables]
    if isinstance(tables, list) and tables and all(isinstance(t, dict) for t in tables):
        return tables
    raise CampaignError(f"{path}: campaign must be a table ([campaign]) or tables"
                        " ([[campaign]])")


def defined_campaigns(path: Path) -> list[Campaign]:
    """Every campaign of ``path``, each with a name, no two with the same one (names are
    compared ignoring case and spacing).

    Raises:
        CampaignError: the file cannot be read, or a campaign in it is not valid (the
            message names the file and, when it holds several, which campaign).
    """
    tables = campaign_tables(path)
    campaigns: list[Campaign] = []
    seen: set[str] = set()
    for number, table in enumerate(tables, 1):
        where = f"{path}: " if len(tables) == 1 else f"{path}: campaign {number}: "
        try:
            campaign = Campaign.from_mapping(table)
        except CampaignError as exc:
            raise CampaignError(f"{where}{exc}") from None
        if campaign.name is None:
            raise CampaignError(f"{where}campaign: no name (name = \"...\")")
        if name_key(campaign.name) in seen:
            raise CampaignError(f"{where}campaign {campaign.name!r} is defined twice")
        seen.add(name_key(campaign.name))
        campaigns.append(campaign)
    return campaigns
