"""The expected inventory from CSV: header dialects and column maps, any line ending, and
errors that name file, line and column for anything a register export may hold."""

from __future__ import annotations

import csv
import re
import tomllib
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from firmware.config import RegisterConfig, config_from_dict
from firmware.errors import ConfigError, ManifestError
from sync.files import FilesRegister
from sync.manifest import MAX_CELL_CHARS, read_manifest
from sync.registers import open_register

ROOT = Path(__file__).resolve().parents[1]
HEADER = "asset_tag,serial,name,location,status,assigned_to"


def write(tmp_path: Path, data: str | bytes, name: str = "expected.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return path


def error_of(path: Path, columns: dict[str, str] | None = None) -> ManifestError:
    with pytest.raises(ManifestError) as caught:
        read_manifest(path, columns)
    assert str(caught.value).startswith(str(path))
    assert caught.value.exit_code == 2
    return caught.value


def test_own_columns(tmp_path: Path) -> None:
    path = write(tmp_path, f"{HEADER}\n"
                           "IT-1,S1,Laptop,Storage B,Ready to Deploy,\n\n"
                           " IT-2 ,S2,Dock,Storage A,Archived,ana\n")
    assets = read_manifest(path)
    assert [a.asset_tag for a in assets] == ["IT-1", "IT-2"]
    assert assets[1].status == "Archived" and assets[1].assigned_to == "ana"
    assert assets[0].id is None
    assert [a.origin for a in assets] == ["expected.csv, line 2", "expected.csv, line 4"]


def test_snipeit_export_headers_any_case_extra_columns_bom_and_semicolons(tmp_path: Path) -> None:
    path = write(tmp_path, "\ufeffID;ASSET TAG;Asset Name;Serial;Model;Location;Status;"
                           "Checked Out To;Notes\n"
                           "42;IT-42;Laptop;SN42;T14;Storage B;Deployed;Ana Costa;\"a;b\"\n")
    (asset,) = read_manifest(path)
    assert (asset.id, asset.asset_tag, asset.serial, asset.name) == (42, "IT-42", "SN42", "Laptop")
    assert (asset.location, asset.assigned_to) == ("Storage B", "Ana Costa")


def test_quoted_fields_with_commas_and_newlines(tmp_path: Path) -> None:
    path = write(tmp_path, f'{HEADER}\n'
                           'IT-1,S1,"Dell, 27"" monitor\nwith stand",Storage B,,\n'
                           'IT-2,S2,x,Storage B,,\n')
    first, second = read_manifest(path)
    assert first.name == 'Dell, 27" monitor\nwith stand'
    assert (first.origin, second.origin) == ("expected.csv, line 2", "expected.csv, line 4")


def test_only_asset_tag_and_location_are_required(tmp_path: Path) -> None:
    (asset,) = read_manifest(write(tmp_path, "Location,Asset Tag\nServer Room,IT-9\n"))
    assert (asset.asset_tag, asset.location) == ("IT-9", "Server Room")
    # No status column means an active asset.
    assert (asset.serial, asset.name, asset.status, asset.assigned_to, asset.id) == (
        "", "", "", "", None)


@pytest.mark.parametrize("missing", ["asset_tag", "location"])
def test_a_required_column_missing(tmp_path: Path, missing: str) -> None:
    header = ",".join(c for c in ("asset_tag", "serial", "location") if c != missing)
    error = error_of(write(tmp_path, f"{header}\nx,y\n"))
    assert f"line 1, column '{missing}': missing column (accepted headers: " in str(error)
    assert f"register.columns.{missing}" in str(error)


def test_a_short_row_reads_its_missing_cells_as_empty(tmp_path: Path) -> None:
    (asset,) = read_manifest(write(tmp_path, f"{HEADER}\nIT-1,S1,n,Room\n"))
    assert (asset.location, asset.status, asset.assigned_to) == ("Room", "", "")


@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"], ids=["LF", "CRLF", "CR"])
def test_every_line_ending_reads_the_same(tmp_path: Path, newline: str) -> None:
    lines = [HEADER, f'IT-1,S1,"two{newline}lines",Room,,', "", "IT-2,S2,Dock,Room,,",
             "IT-3,S3,Hub,Room,,"]
    path = write(tmp_path, newline.join(lines) + newline)
    assets = read_manifest(path)
    assert [a.asset_tag for a in assets] == ["IT-1", "IT-2", "IT-3"]
    assert assets[0].name == f"two{newline}lines"
    assert [a.origin for a in assets] == [f"expected.csv, line {n}" for n in (2, 5, 6)]


@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"], ids=["LF", "CRLF", "CR"])
def test_errors_count_lines_the_same_for_every_line_ending(tmp_path: Path, newline: str) -> None:
    lines = [HEADER, f'IT-1,S1,"two{newline}lines",Room,,', "IT-2,S2,Dock,Room,,",
             "it-1,S3,Hub,Room,,"]
    error = error_of(write(tmp_path, newline.join(lines) + newline))
    assert str(error).endswith("line 5, column 'asset_tag': duplicate asset tag 'it-1'"
                               " (first on line 2 as 'IT-1')")


@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"], ids=["LF", "CRLF", "CR"])
def test_bytes_that_are_not_utf8_are_located_for_every_line_ending(
        tmp_path: Path, newline: str) -> None:
    lines = [HEADER, f'IT-1,S1,"two{newline}lines",Room,,', 'IT-2,S2,"Caf\xe9",Room,,']
    error = error_of(write(tmp_path, newline.join(lines).encode("latin-1")))
    assert str(error).endswith("line 4, column 'name': byte 0xE9 is not UTF-8 text"
                               " (save the export as 'CSV UTF-8')")


def test_a_byte_that_is_not_utf8_inside_a_multiline_cell_names_its_own_line(
        tmp_path: Path) -> None:
    error = error_of(write(tmp_path, f'{HEADER}\rIT-1,S1,"a\rb\rc\xff",Room,,\r'
                           .encode("latin-1")))
    assert (error.line, error.column) == (4, "name")


def test_a_byte_that_is_not_utf8_in_the_header(tmp_path: Path) -> None:
    error = error_of(write(tmp_path, b"asset_tag,location,D\xe9p\nIT-1,Room,x\n"))
    assert (error.line, error.column) == (1, "#3")


def test_configured_columns_win_over_the_built_in_names(tmp_path: Path) -> None:
    path = write(tmp_path, "Asset Tag,Inventory number,Room,Location,Name,Display name\n"
                           "OLD-1,IT-1,Storage B,Nowhere,n,Laptop 14\n")
    columns = {"asset_tag": "inventory NUMBER ", "location": "Room", "name": "Display name"}
    (asset,) = read_manifest(path, columns)
    assert (asset.asset_tag, asset.location, asset.name) == ("IT-1", "Storage B", "Laptop 14")


def test_a_configured_header_missing_from_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, "Asset Tag,Location\nIT-1,Room\n")
    error = error_of(path, {"asset_tag": "Inventory number"})
    assert str(error) == (f"{path}, line 1: column 'Inventory number'"
                          " (register.columns.asset_tag) not in the header")


def test_a_column_map_naming_an_unknown_column(tmp_path: Path) -> None:
    error = error_of(write(tmp_path, "asset_tag,location\nIT-1,Room\n"), {"colour": "Colour"})
    assert "register.columns: unknown column 'colour'" in str(error)


def test_duplicate_serials_are_kept_with_their_origins(tmp_path: Path) -> None:
    path = write(tmp_path, f"{HEADER}\nIT-1,SN-7,a,Room,,\nIT-2,SN-7,b,Room,,\n")
    assets = read_manifest(path)
    assert [(a.asset_tag, a.serial, a.origin) for a in assets] == [
        ("IT-1", "SN-7", "expected.csv, line 2"), ("IT-2", "SN-7", "expected.csv, line 3")]


def test_header_only_and_blank_lines_mean_no_assets(tmp_path: Path) -> None:
    assert read_manifest(write(tmp_path, "\ufeffasset_tag,location\r\n\r\n")) == []


def test_blank_lines_before_the_header_are_counted(tmp_path: Path) -> None:
    (asset,) = read_manifest(write(tmp_path, "\n\nasset_tag,location\nIT-1,Room\n"))
    assert asset.origin == "expected.csv, line 4"


def test_free_text_keeps_tabs_line_breaks_and_joiners(tmp_path: Path) -> None:
    name = "Dock\tUSB-C\n\u0645\u06cc\u200c\u0634\u0648\u062f"
    (asset,) = read_manifest(write(tmp_path, f'{HEADER}\nIT-1,S1,"{name}",Room,,"Ana\nCosta"\n'))
    assert (asset.name, asset.assigned_to) == (name, "Ana\nCosta")


def test_ids_with_leading_zeros_and_eighteen_digits(tmp_path: Path) -> None:
    path = write(tmp_path, "asset_tag,location,id\nA,Room,0042\nB,Room,999999999999999999\n")
    assert [a.id for a in read_manifest(path)] == [42, 999_999_999_999_999_999]


@pytest.mark.parametrize(("data", "where"), [
    (f"{HEADER}\nIT-4,S,n,l,s,\nIT-5,S,n,l,s,\nIT-4,T,n,l,s,\n",
     "line 4, column 'asset_tag': duplicate asset tag 'IT-4' (first on line 2)"),
    (f"{HEADER}\nIT-4,S,n,l,s,\n it-4 ,T,n,l,s,\n",
     "line 3, column 'asset_tag': duplicate asset tag 'it-4' (first on line 2 as 'IT-4')"),
    ("asset_tag,location,ID\nA,l,7\nB,l,007\n",
     "line 3, column 'ID': duplicate id 7 (first on line 2)"),
    (f"{HEADER}\n,S,n,l,s,\n", "line 2, column 'asset_tag': empty asset tag"),
    ("id,asset_tag,location\n101\n", "line 2, column 'asset_tag': empty asset tag"),
    ("Asset Tag,Serial,Name,Location,Status,Checked Out To,ID\nIT-1,S,n,l,s,,4x\n",
     "line 2, column 'ID': id '4x' is not a number"),
    ("asset_tag,location,id\nIT-1,l,\u00b2\n",
     "line 2, column 'id': id '\u00b2' is not a number (digits 0-9 only)"),
    ("asset_tag,location,id\nIT-1,l,\u0663\n",
     "line 2, column 'id': id '\u0663' is not a number (digits 0-9 only)"),
    ("asset_tag,location,id\nIT-1,l,-3\n", "line 2, column 'id': id '-3' is not a number"),
    ("asset_tag,location,id\nIT-1,l,1000000000000000000\n",
     "line 2, column 'id': id '1000000000000000000' has more than 18 digits"),
    (b"asset_tag,serial,name,location,status,assigned_to\nIT-1,S,Caf\xe9,l,s,\n",
     "line 2, column 'name': byte 0xE9 is not UTF-8"),
    ("", "line 1: empty file"),
    ("\ufeff", "line 1: empty file"),
    ("\n\r\n\n", "line 1: empty file"),
    ("asset_tag,location\n".encode("utf-16"), "line 1: the file is UTF-16 text, not UTF-8"),
    ("asset_tag,location\n".encode("utf-16-le"),
     "line 1: NUL characters in the header: the file looks like UTF-16 text"),
    ("asset_tag\tlocation\nIT-1\tRoom\n", "the header holds tabs"),
    ("asset_tag,location,Location\nIT-1,a,b\n",
     "line 1, column 'Location': the header names this column twice (columns 2 and 3)"),
    ("Inventory number,Location,inventory number\nIT-1,a,b\n",
     "line 1, column 'inventory number': the header names this column twice"),
    (f"{HEADER}\nIT-1,S1,Dell, monitor,Room,,\n",
     "line 2, column '#7': the row has 7 cells, the header 6 (a delimiter inside an unquoted"
     " field? quote that field)"),
])
def test_bad_files_name_file_line_and_column(tmp_path: Path, data: str | bytes, where: str) -> None:
    path = write(tmp_path, data)
    columns = {"asset_tag": "Inventory number"} if b"Inventory" in (
        data if isinstance(data, bytes) else data.encode()) else None
    assert where in str(error_of(path, columns))


@pytest.mark.parametrize(("column", "cell", "code"), [
    ("asset_tag", "IT-\x001", "U+0000"),
    ("asset_tag", "\x1fIT-1", "U+001F"),  # str.strip() would have removed it silently
    ("asset_tag", "IT-\u200b1", "U+200B"),
    ("serial", "SN\x7f", "U+007F"),
    ("location", "Storage\u2028B", "U+2028"),
    ("location", "\ufeffStorage B", "U+FEFF"),
    ("status", "Archived\u200d", "U+200D"),
    ("status", '"In\nuse"', "U+000A"),
    ("name", "Laptop\x07", "U+0007"),
    ("name", "abc\u202edcba", "U+202E"),
    ("assigned_to", "Ana\x1b[31m", "U+001B"),
])
def test_control_characters_are_refused(tmp_path: Path, column: str, cell: str, code: str) -> None:
    cells = {"asset_tag": "IT-1", "serial": "S1", "name": "n", "location": "Room",
             "status": "", "assigned_to": ""}
    cells[column] = cell
    row = ",".join(cells[c] for c in HEADER.split(","))
    error = error_of(write(tmp_path, f"{HEADER}\n{row}\n"))
    assert (error.line, error.column) == (2, column)
    assert error.problem.startswith(f"control character {code} in ")


def test_a_cell_over_the_limit(tmp_path: Path) -> None:
    error = error_of(write(tmp_path, f"{HEADER}\nIT-1,S1,{'x' * (MAX_CELL_CHARS + 1)},Room,,\n"))
    assert (error.line, error.column) == (2, "name")
    assert error.problem == f"name over {MAX_CELL_CHARS} characters ({MAX_CELL_CHARS + 1})"


def test_a_field_over_the_csv_modules_limit(tmp_path: Path) -> None:
    huge = "x" * (csv.field_size_limit() + 10)
    error = error_of(write(tmp_path, f'{HEADER}\nIT-1,S1,n,Room,,\nIT-2,S2,"{huge}",Room,,\n'))
    assert (error.line, error.column) == (3, "name")
    assert error.problem.startswith(f"field over {csv.field_size_limit()} characters")


def test_an_unquoted_cell_over_the_csv_modules_limit_in_a_column_not_read(tmp_path: Path) -> None:
    huge = "x" * (csv.field_size_limit() + 10)
    error = error_of(write(tmp_path, f"asset_tag,location,notes\nIT-1,Room,{huge}\n"))
    assert (error.line, error.column) == (2, "notes")


def test_an_unterminated_quote_names_the_line_it_opens_on(tmp_path: Path) -> None:
    path = write(tmp_path, f'{HEADER}\nIT-1,S1,n,Room,,\nIT-2,S2,"Dell 27 monitor,Room,,\n'
                           "IT-3,S3,n,Room,,\nIT-4,S4,n,Room,,\n")
    error = error_of(path)
    assert str(error) == (f"{path}, line 3, column 'name': the quote that opens this field is"
                          " never closed: lines 3 to 5 would be one field (add the missing"
                          " closing quote)")


def test_an_unterminated_quote_on_the_last_line(tmp_path: Path) -> None:
    error = error_of(write(tmp_path, f'{HEADER}\nIT-1,S1,n,Room,,"Ana'))
    assert (error.line, error.column) == (2, "assigned_to")
    assert error.problem == "the quote that opens this field is never closed (add the missing" \
                            " closing quote)"


def test_an_unterminated_quote_in_the_header(tmp_path: Path) -> None:
    error = error_of(write(tmp_path, 'asset_tag,"location\nIT-1,Room\n'))
    assert (error.line, error.column) == (1, "#2")


def test_text_after_a_closing_quote(tmp_path: Path) -> None:
    error = error_of(write(tmp_path, f'{HEADER}\nIT-1,S1,"Dell 27" monitor",Room,,\n'))
    assert (error.line, error.column) == (2, "name")
    assert "a quote inside a quoted field must be doubled" in error.problem


def test_a_quote_left_open_and_closed_lines_later_with_text_after_it(tmp_path: Path) -> None:
    error = error_of(write(tmp_path, f'{HEADER}\nIT-1,S1,"Dell 27 monitor,Room,,\n'
                                     'IT-2,S2,n,Room,,\nIT-3,S3,"HP 24"" x",Room,,\n'))
    assert (error.line, error.column) == (4, "name")
    assert "closes the field opened on line 2" in error.problem


def test_a_quote_left_open_and_closed_cleanly_lines_later_loses_no_row(tmp_path: Path) -> None:
    error = error_of(write(tmp_path, f'{HEADER}\nIT-1,S1,"Dell 27 monitor,Room,,\n'
                                     'IT-2,S2,n,Room,,\nIT-3,S3,Monitor 24",Room,,\n'))
    assert (error.line, error.column) == (2, "name")
    assert "its line 3 reads as a row (asset tag 'IT-2')" in error.problem


def test_a_quote_left_open_in_a_column_that_is_not_read_loses_no_row(tmp_path: Path) -> None:
    error = error_of(write(tmp_path, 'asset_tag,location,notes\nIT-1,Room,"box 4\n'
                                     'IT-2,Room,x\nIT-3,Room,shelf 2"\n'))
    assert (error.line, error.column) == (2, "notes")


def test_a_multiline_note_with_commas_is_not_taken_for_swallowed_rows(tmp_path: Path) -> None:
    path = write(tmp_path, 'asset_tag,location,notes\nIT-1,Room,"moved from A, to B\n'
                           'see ticket 42, by Ana, today"\nIT-2,Room,x\n')
    assert [a.asset_tag for a in read_manifest(path)] == ["IT-1", "IT-2"]


def test_a_duplicated_column_that_is_not_read_is_ignored(tmp_path: Path) -> None:
    path = write(tmp_path, "asset_tag,location,Notes,notes,,\nIT-1,Room,a,b,,\n")
    assert [a.asset_tag for a in read_manifest(path)] == ["IT-1"]


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match="not found"):
        read_manifest(tmp_path / "none.csv")


def test_a_folder_instead_of_a_file(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match="cannot read"):
        read_manifest(tmp_path)


_PIECES = st.sampled_from([
    "asset_tag", "location", "Asset Tag", "id", "IT-1", "it-1", "7", "\u00b2", ",", ";", '"',
    '""', "\n", "\r", "\r\n", " ", "\t", "\x00", "\ufeff", "\u202e", "Caf\u00e9", "x" * 50,
])


@settings(max_examples=300, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(pieces=st.lists(_PIECES, max_size=40), latin1=st.booleans())
def test_any_mix_of_csv_pieces_gives_assets_or_a_manifest_error(
        tmp_path: Path, pieces: list[str], latin1: bool) -> None:
    text = "".join(pieces)
    path = write(tmp_path, text.encode("latin-1", "replace") if latin1 else text)
    try:
        assets = read_manifest(path)
    except ManifestError as exc:
        assert exc.line is None or exc.line >= 1
        return
    assert len({a.asset_tag.casefold() for a in assets}) == len(assets)


def test_files_register_reads_with_the_column_map(tmp_path: Path) -> None:
    manifest = write(tmp_path, "Inventory number;Location\nIT-1;Room\n")
    register = FilesRegister(manifest, tmp_path / "out", "hh-1", {"asset_tag": "Inventory number"})
    assert [a.asset_tag for a in register.expected_assets()] == ["IT-1"]


def test_open_register_passes_the_configured_column_map(tmp_path: Path) -> None:
    manifest = write(tmp_path, "Inventory number,Room\nIT-1,Storage B\n")
    config = RegisterConfig(manifest=manifest, outbox=tmp_path / "out",
                            columns={"asset_tag": "Inventory number", "location": "Room"})
    with open_register(config, "hh-1") as register:
        (asset,) = register.expected_assets()
    assert (asset.asset_tag, asset.location) == ("IT-1", "Storage B")


def test_open_register_refuses_an_unknown_adapter_as_a_configuration_error(
        tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unknown register adapter 'glpi'") as caught:
        open_register(RegisterConfig(adapter="glpi"), "hh-1")
    assert caught.value.exit_code == 2


# Small exports as each register writes them, loaded with the ready-to-paste maps of
# docs/expected-inventory.md (so the documented maps are the tested ones).
SAMPLES = {
    "GLPI": (
        "Name;Entity;Status;Manufacturer;Serial number;Type;Model;Location;"
        "Inventory number;User;ID\n"
        "PC-0042;Root entity;In use;Dell Inc.;5CD2211KQ7;Laptop;Latitude 5440;"
        "HQ > Storage B;IT-004501;acosta;17\n"
        "PC-0043;Root entity;Retired;Dell Inc.;5CD2211KR2;Laptop;Latitude 5440;"
        "HQ > Storage B;IT-004502;;18\n",
        ("IT-004501", "5CD2211KQ7", "PC-0042", "HQ > Storage B", "In use", "acosta", 17),
    ),
    "InvGate": (
        "Name,Type,Inventory ID,Serial number,Location,Status,User,Tags\n"
        "NB-0042,Notebook,IT-004501,5CD2211KQ7,Storage B,In use,Ana Costa,\"laptops,2024\"\n",
        ("IT-004501", "5CD2211KQ7", "NB-0042", "Storage B", "In use", "Ana Costa", None),
    ),
    "ServiceNow alm_hardware": (
        '"asset_tag","display_name","model_category","serial_number","install_status",'
        '"substatus","location","assigned_to","sys_id"\n'
        '"P1000479","P1000479 - Apple MacBook Pro 15""","Computer","BQP-854-D33246-GH",'
        '"In use","","Storage B","Ana Costa","00a96c0d3790200044e0bfc8bcbe5dc3"\n',
        ("P1000479", "BQP-854-D33246-GH", 'P1000479 - Apple MacBook Pro 15"', "Storage B",
         "In use", "Ana Costa", None),
    ),
    "ServiceNow alm_hardware with labels": (
        '"Display name","Asset tag","Serial number","State","Substate","Location","Assigned to"\n'
        '"P1000479 - Apple MacBook Pro 15","P1000479","BQP-854-D33246-GH","In stock",'
        '"Available","Storage B",""\n',
        ("P1000479", "BQP-854-D33246-GH", "P1000479 - Apple MacBook Pro 15", "Storage B",
         "In stock", "", None),
    ),
    "ServiceNow cmdb_ci": (
        '"name","asset_tag","serial_number","install_status","location","assigned_to"\n'
        '"lnux100","P1000167","L3BB-7FQ","Installed","Server Room","David Loo"\n',
        ("P1000167", "L3BB-7FQ", "lnux100", "Server Room", "Installed", "David Loo", None),
    ),
}


def documented_maps() -> dict[str, dict[str, object]]:
    """Heading -> parsed TOML of each ```toml block under a '###' heading of the docs."""
    text = (ROOT / "docs" / "expected-inventory.md").read_text(encoding="utf-8")
    maps: dict[str, dict[str, object]] = {}
    for section in re.split(r"^### ", text, flags=re.MULTILINE)[1:]:
        heading = section.splitlines()[0].strip()
        block = re.search(r"```toml\n(.*?)```", section, flags=re.DOTALL)
        if block and "[register.columns]" in block[1]:
            maps[heading] = tomllib.loads(block[1])
    return maps


def test_the_docs_give_a_map_for_every_sample() -> None:
    headings = documented_maps()
    for register in SAMPLES:
        assert sum(h.startswith(register + " (") for h in headings) == 1, register


@pytest.mark.parametrize("register", list(SAMPLES))
def test_sample_exports_load_with_the_documented_maps(tmp_path: Path, register: str) -> None:
    (toml,) = [t for h, t in documented_maps().items() if h.startswith(register + " (")]
    config = config_from_dict(toml, base=tmp_path)  # the map passes configuration checks
    data, expected = SAMPLES[register]
    manifest = write(tmp_path, data)
    asset = read_manifest(manifest, config.register.columns)[0]
    assert (asset.asset_tag, asset.serial, asset.name, asset.location, asset.status,
            asset.assigned_to, asset.id) == expected
    assert asset.origin == "expected.csv, line 2"
