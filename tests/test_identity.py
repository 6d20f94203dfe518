"""Identity resolution: every row of the README's table, and properties over random registers."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from firmware.identity import (
    NO_ID_COLUMN,
    AssetIndex,
    Field,
    IdentityRules,
    Outcome,
    register_sites,
    resolve,
)
from firmware.inventory import Asset
from firmware.tags import Tag, TagKind, TagRejected, parse_read
from hal.read import Read

REGISTER = [
    Asset("IT-0001", "SN-A1", "Laptop", "Storage B", id=1, origin="expected.csv, line 2"),
    Asset("IT-0002", "IT-0003", "Dock whose serial looks like a tag", "Storage B", id=2),
    Asset("IT-0003", "C02XK1", "Screen", "Storage A", id=3),
    Asset("004512", "5CG1234XYZ", "Phone", "Storage B", id=45),
    Asset("IT-0005", "SN-DUP", "Headset", "Storage B", id=5, origin="expected.csv, line 6"),
    Asset("IT-0006", "sn-dup", "Headset", "Storage B", id=6, origin="expected.csv, line 7"),
    Asset("0614141IT-0100", "", "Server with a whole GIAI as tag", "Server Room", id=100),
    Asset("12345400", "6790", "Switch with a numeric tag", "Server Room", id=102),
]
RULES = IdentityRules(
    ignore_leading_zeros=True,
    giai_prefixes=("0614141",),
    sites=register_sites("https://assets.example.com", ["old-assets.example.com"]),
)
INDEX = AssetIndex(REGISTER, RULES)

FOUND, UNKNOWN, AMBIGUOUS = Outcome.FOUND, Outcome.UNKNOWN, Outcome.AMBIGUOUS

# (payload, outcome, asset tags found) — one row per rule of the README's table.
TABLE = [
    # plain text: asset tag and serial, case and outer spaces ignored, zeros as configured
    ("IT-0001", FOUND, ["IT-0001"]),
    ("it-0001", FOUND, ["IT-0001"]),
    ("IT-1", FOUND, ["IT-0001"]),
    ("4512", FOUND, ["004512"]),
    ("C02XK1", FOUND, ["IT-0003"]),
    ("c02xk1", FOUND, ["IT-0003"]),
    ("IT-0003", AMBIGUOUS, ["IT-0003", "IT-0002"]),
    ("SN-DUP", AMBIGUOUS, ["IT-0005", "IT-0006"]),
    ("IT-9999", UNKNOWN, []),
    # register URL with an id: only on the register's own site (or a label host)
    ("https://assets.example.com/hardware/1", FOUND, ["IT-0001"]),
    ("HTTPS://ASSETS.EXAMPLE.COM/HARDWARE/0001", FOUND, ["IT-0001"]),
    ("http://assets.example.com/hardware/3/view", FOUND, ["IT-0003"]),
    ("https://old-assets.example.com/hardware/45", FOUND, ["004512"]),
    ("https://assets.example.com/hardware/99", UNKNOWN, []),
    ("https://previous-owner.example/hardware/1", UNKNOWN, []),
    ("https://assets.example.com:8443/hardware/1", UNKNOWN, []),
    ("https://assets.example.com.evil.example/hardware/1", UNKNOWN, []),
    # register URL with a tag: asset tag only (never a serial), same site rule
    ("https://assets.example.com/ht/it-0001", FOUND, ["IT-0001"]),
    ("https://assets.example.com/ht/IT-0003", FOUND, ["IT-0003"]),
    ("https://assets.example.com/hardware/bytag?assetTag=IT-1", FOUND, ["IT-0001"]),
    ("https://previous-owner.example/ht/IT-0001", UNKNOWN, []),
    # GS1 GIAI (AI 8004): the whole GIAI or without the configured company prefix
    ("(8004)0614141IT-0001", FOUND, ["IT-0001"]),
    ("(8004)0614141it-1", FOUND, ["IT-0001"]),
    ("(8004)0614141IT-0100", FOUND, ["0614141IT-0100"]),
    ("(8004)0999999IT-0001", UNKNOWN, []),
    ("https://id.example.org/8004/0614141IT-0001", FOUND, ["IT-0001"]),
    # GS1 serial (AI 21, GTIN in AI 01): serials only, never asset tags
    ("(01)09506000134352(21)IT-0003", FOUND, ["IT-0002"]),
    ("(01)09506000134352(21)C02XK1", FOUND, ["IT-0003"]),
    ("(21)IT-0001", UNKNOWN, []),
    # GIAI and serial together: both must agree
    ("(8004)0614141IT-0001(21)SN-A1", FOUND, ["IT-0001"]),
    ("(8004)0614141IT-0001(21)C02XK1", AMBIGUOUS, ["IT-0001", "IT-0003"]),
    ("(8004)0614141IT-9999(21)C02XK1", FOUND, ["IT-0003"]),
    # a room label names no asset
    ("LOC:Storage B", UNKNOWN, []),
]

# (EPC hex from a UHF reader, outcome, asset tags): the GIAI of an EPC resolves like the
# same GIAI in a barcode; an SGTIN's serial like a GS1 serial.
EPC_TABLE = [
    ("3414257BF400000000BC6038", FOUND, ["12345400"]),  # GIAI-96 (8004)061414112345400
    ("3814257BF60C286B58B266BFC000000000000000000000000000", UNKNOWN, []),  # ABC-123/x
    ("3074257BF7194E4000001A85", UNKNOWN, []),  # SGTIN serial 6789: no such serial
]


@pytest.mark.parametrize(("epc", "outcome", "tags"), EPC_TABLE, ids=[r[0] for r in EPC_TABLE])
def test_an_epc_resolves_through_the_same_rules(epc: str, outcome: Outcome,
                                                tags: list[str]) -> None:
    tag = parse_read(Read(epc.encode(), "EPC", "uhf", 0.0))
    found = resolve(tag, INDEX)
    assert found.outcome is outcome
    assert sorted(a.asset_tag for a in found.candidates) == sorted(tags)
    barcode = {"3414257BF400000000BC6038": "(8004)061414112345400"}.get(epc)
    if barcode:
        assert resolve(parsed(barcode), INDEX) == found


def test_an_unreadable_epc_is_a_rejected_label() -> None:
    with pytest.raises(TagRejected, match="EPC: unknown header"):
        parse_read(Read(b"E2801160600002084B5E1234", "EPC", "uhf", 0.0))


def parsed(payload: str) -> Tag:
    return parse_read(Read(payload.encode(), "UNKNOWN", "test", 0.0))


@pytest.mark.parametrize(("payload", "outcome", "tags"), TABLE, ids=[row[0] for row in TABLE])
def test_every_rule_of_the_table(payload: str, outcome: Outcome, tags: list[str]) -> None:
    found = resolve(parsed(payload), INDEX)
    assert found.outcome is outcome
    assert sorted(a.asset_tag for a in found.candidates) == sorted(tags)
    assert (found.asset.asset_tag if found.asset else None) == (tags[0] if outcome is FOUND else None)


def test_a_gs1_serial_keeps_its_gtin() -> None:
    tag = parsed("(01)09506000134352(21)IT-0003")
    assert (tag.kind, tag.value, tag.gtin) == (TagKind.SERIAL, "IT-0003", "09506000134352")


def test_a_foreign_url_says_why_it_is_unknown() -> None:
    found = resolve(parsed("https://previous-owner.example/hardware/1"), INDEX)
    assert found.reason == "label of another register (previous-owner.example)"
    unset = AssetIndex(REGISTER, IdentityRules())
    assert "register.url is not set" in (resolve(parsed("https://x.example/hardware/1"),
                                                   unset).reason or "")


def test_a_register_under_a_base_path_matches_only_that_path() -> None:
    index = AssetIndex(REGISTER, IdentityRules(sites=register_sites("https://h.example/snipe/", [])))
    assert resolve(parsed("https://h.example/snipe/hardware/1"), index).outcome is FOUND
    assert resolve(parsed("https://h.example/hardware/1"), index).outcome is UNKNOWN


def test_id_labels_without_an_id_column_say_so() -> None:
    index = AssetIndex([Asset("IT-1", location="B")], RULES)
    found = resolve(parsed("https://assets.example.com/hardware/1"), index)
    assert (found.outcome, found.reason) == (UNKNOWN, NO_ID_COLUMN)


def test_leading_zeros_can_be_significant() -> None:
    index = AssetIndex(REGISTER, IdentityRules(ignore_leading_zeros=False))
    assert resolve(parsed("4512"), index).outcome is UNKNOWN
    assert resolve(parsed("004512"), index).outcome is FOUND


def test_shared_identifiers_are_warned_about_with_their_origins() -> None:
    messages = [w.message() for w in INDEX.warnings]
    assert messages == ["serial 'SN-DUP' is shared by 2 assets: IT-0005 (expected.csv, line 6),"
                        " IT-0006 (expected.csv, line 7); a scan of it is ambiguous"]
    zeros = AssetIndex([Asset("IT-01"), Asset("IT-001")], RULES)
    assert [(w.field, len(w.assets)) for w in zeros.warnings] == [(Field.ASSET_TAG, 2)]


# -- properties over random registers -------------------------------------------------------

_chars = st.sampled_from("0123456789ABab- ")
_idents = st.text(_chars, min_size=1, max_size=6).filter(lambda s: s.strip())
_assets = st.lists(st.tuples(_idents, _idents), min_size=0, max_size=8).map(
    lambda rows: [Asset(tag, serial) for tag, serial in rows])


@settings(max_examples=300, deadline=None)
@given(assets=_assets, ident=_idents, zeros=st.booleans(),
       kind=st.sampled_from(["plain", "serial", "url-tag"]))
def test_a_resolved_asset_is_exactly_one_whose_field_equals_the_identifier(
        assets: list[Asset], ident: str, zeros: bool, kind: str) -> None:
    rules = IdentityRules(ignore_leading_zeros=zeros, sites=("r.example",))
    tag = {"plain": Tag(TagKind.ASSET_TAG, ident, "plain"),
           "serial": Tag(TagKind.SERIAL, ident, "gs1"),
           "url-tag": Tag(TagKind.ASSET_TAG, ident, "url", site="r.example")}[kind]
    fields = {"plain": ("tag", "serial"), "serial": ("serial",), "url-tag": ("tag",)}[kind]

    def fits(asset: Asset) -> bool:
        return (("tag" in fields and rules.tag_key(asset.asset_tag) == rules.tag_key(ident))
                or ("serial" in fields and rules.serial_key(asset.serial)
                    == rules.serial_key(ident)))

    found = resolve(tag, AssetIndex(assets, rules))
    matching = [a for a in assets if fits(a)]
    assert sorted(map(id, found.candidates)) == sorted(map(id, matching))
    assert found.outcome is {0: UNKNOWN, 1: FOUND}.get(len(matching), AMBIGUOUS)
    if found.asset is not None:
        assert fits(found.asset)


@settings(max_examples=200, deadline=None)
@given(text=st.text(min_size=0, max_size=12))
def test_normalisation_ignores_case_and_outer_spaces_and_never_raises(text: str) -> None:
    rules = IdentityRules()
    assert rules.tag_key(f"  {text.upper()} ") == rules.tag_key(text.upper())
    assert rules.serial_key(text.casefold()) == rules.serial_key(text.casefold().strip())
