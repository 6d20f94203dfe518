"""The expected inventory from CSV: both header dialects, and errors that name line and column."""

from __future__ import annotations

from pathlib import Path

import pytest

from firmware.errors import ManifestError
from sync.manifest import read_manifest


def write(tmp_path: Path, data: str | bytes) -> Path:
    path = tmp_path / "expected.csv"
    path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return path


def test_own_columns(tmp_path: Path) -> None:
    path = write(tmp_path, "asset_tag,serial,name,location,status,assigned_to\n"
                           "IT-1,S1,Laptop,Storage B,Ready to Deploy,\n\n"
                           " IT-2 ,S2,Dock,Storage A,Archived,ana\n")
    assets = read_manifest(path)
    assert [a.asset_tag for a in assets] == ["IT-1", "IT-2"]
    assert assets[1].status == "Archived" and assets[1].assigned_to == "ana"
    assert assets[0].id is None


def test_snipeit_export_headers_any_case_extra_columns_bom_and_semicolons(tmp_path: Path) -> None:
    path = write(tmp_path, "\ufeffID;ASSET TAG;Asset Name;Serial;Model;Location;Status;"
                           "Checked Out To;Notes\n"
                           "42;IT-42;Laptop;SN42;T14;Storage B;Deployed;Ana Costa;\"a;b\"\n")
    (asset,) = read_manifest(path)
    assert (asset.id, asset.asset_tag, asset.serial, asset.name) == (42, "IT-42", "SN42", "Laptop")
    assert (asset.location, asset.assigned_to) == ("Storage B", "Ana Costa")


def test_quoted_fields_with_commas_and_newlines(tmp_path: Path) -> None:
    path = write(tmp_path, 'asset_tag,serial,name,location,status,assigned_to\n'
                           'IT-1,S1,"Dell, 27"" monitor\nwith stand",Storage B,,\n'
                           'IT-2,S2,x,Storage B,,\n')
    assert read_manifest(path)[0].name == 'Dell, 27" monitor\nwith stand'


@pytest.mark.parametrize(("data", "where"), [
    ("asset_tag,serial,name,location,status\nIT-1,S,n,l,s\n", "line 1, column 'assigned_to'"),
    ("asset_tag,serial,name,location,status,assigned_to\nIT-1,S,n,l,s,\nIT-1,T,n,l,s,\n",
     "line 3, column 'asset_tag': duplicate asset tag 'IT-1' (first on line 2)"),
    ("asset_tag,serial,name,location,status,assigned_to\n,S,n,l,s,\n",
     "line 2, column 'asset_tag': empty asset tag"),
    ("Asset Tag,Serial,Name,Location,Status,Checked Out To,ID\nIT-1,S,n,l,s,,4x\n",
     "line 2, column 'ID': id '4x' is not a number"),
    (b"asset_tag,serial,name,location,status,assigned_to\nIT-1,S,Caf\xe9,l,s,\n",
     "line 2, column 'name': byte 0xE9 is not UTF-8"),
    ("", "line 1: empty file"),
])
def test_bad_files_name_file_line_and_column(tmp_path: Path, data: str | bytes, where: str) -> None:
    path = write(tmp_path, data)
    with pytest.raises(ManifestError) as caught:
        read_manifest(path)
    assert str(caught.value).startswith(str(path))
    assert where in str(caught.value)
    assert caught.value.exit_code == 2


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match="not found"):
        read_manifest(tmp_path / "none.csv")
