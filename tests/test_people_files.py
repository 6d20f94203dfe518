"""The people CSV (``register.people``) and the people cache, through the ``files`` adapter."""

from __future__ import annotations

from pathlib import Path

import pytest

from firmware.config import RegisterConfig
from firmware.errors import RegisterError, RegisterUnavailable
from sync.person import Person
from sync.files import FilesRegister
from sync.inventory_cache import PeopleCache
from sync.memory_register import MemoryRegister
from sync.people_csv import PeopleFileError, read_people
from sync.registers import open_register

GOOD = ("badge,employee_num,name,username,id\n"
        "0004211234,E-100,Ana Lopes,ana,7\n"
        "0004215678,E-101,\"Ben \"\"the builder\"\" Ode\",ben,\n"
        ",E-102,Cleo Park,cleo,9\n")


def write(tmp_path: Path, text: str | bytes, name: str = "people.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode("utf-8") if isinstance(text, str) else text)
    return path


def test_a_people_file_is_read_in_order_with_origins(tmp_path: Path) -> None:
    people = read_people(write(tmp_path, GOOD))
    assert [p.username for p in people] == ["ana", "ben", "cleo"]
    assert people[0] == Person("0004211234", "E-100", "Ana Lopes", "ana", 7,
                               "people.csv, line 2")
    assert people[1].name == 'Ben "the builder" Ode' and people[1].id is None
    assert people[2].badge == "" and people[2].employee_num == "E-102"


def test_bom_semicolons_crlf_and_other_headers_are_read(tmp_path: Path) -> None:
    text = ("\ufeffUser Name;Employee Number;Full Name;Badge Number\r\n"
            "ana;E-100;Ana Lopes;42\r\n\r\n")
    people = read_people(write(tmp_path, text))
    assert people == [Person("42", "E-100", "Ana Lopes", "ana", None, "people.csv, line 2")]


@pytest.mark.parametrize(("text", "where", "problem"), [
    ("badge,name\n1,Ana\n01,Ben\n", "line 3, column 'badge'", "given twice (first on line 2)"),
    ("employee_num,name\nE-1,Ana\ne-1,Ben\n", "line 3, column 'employee_num'", "given twice"),
    ("badge,id\n1,5\n2,5\n", "line 3, column 'id'", "id '5' given twice"),
    ("badge,name\n1,Ana\x00\n", "line 2, column 'name'", "control character U+0000"),
    ("badge,name\n1\x1b[2J,Ana\n", "line 2, column 'badge'", "control character U+001B"),
    ("badge,name\n" + "9" * 5000 + ",Ana\n", "line 2, column 'badge'", "over 4096 characters"),
    ("badge,name\n1,\"Ana\n2,Ben\n", "line 2, column 'name'", "never closed"),
    ("badge,name\n1,Ana,extra\n", "line 2, column '#3'", "the row has 3 cells"),
    ("badge,name\n,Ana\n", "line 2, column 'badge'", "neither a badge nor an employee number"),
    ("badge,id\n1,x7\n", "line 2, column 'id'", "not a number"),
    ("name,username\nAna,ana\n", "line 1, column 'badge'", "needs a 'badge' or an"),
    ("badge,name\n1,\"Ana\nLopes\"\n", "line 2, column 'name'", "a line break inside a cell"),
    ("", "line 1", "empty file"),
])
def test_a_damaged_people_file_names_file_line_and_column(tmp_path: Path, text: str,
                                                          where: str, problem: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(PeopleFileError) as caught:
        read_people(path)
    message = str(caught.value)
    assert message.startswith(f"register.people: {path}, {where}") or where == "line 1" \
        and message.startswith(f"register.people: {path}, line 1"), message
    assert problem in message
    assert isinstance(caught.value, RegisterError)


def test_utf16_and_bad_bytes_are_refused_with_a_hint(tmp_path: Path) -> None:
    with pytest.raises(PeopleFileError, match="UTF-16"):
        read_people(write(tmp_path, "badge\n1\n".encode("utf-16")))
    with pytest.raises(PeopleFileError, match="line 2, column 'name': byte 0xE9 is not UTF-8"):
        read_people(write(tmp_path, b"badge,name\n1,Ren\xe9\n"))


def test_a_missing_file_names_the_file_and_the_key(tmp_path: Path) -> None:
    register = open_register(RegisterConfig(manifest=tmp_path / "e.csv",
                                            people=tmp_path / "staff.csv",
                                            outbox=tmp_path / "out"), "kiosk-1")
    with pytest.raises(RegisterError) as caught:
        register.people()
    assert "register.people" in str(caught.value) and "staff.csv" in str(caught.value)
    assert "not found" in str(caught.value)


def test_the_files_adapter_reads_the_configured_people(tmp_path: Path) -> None:
    write(tmp_path, GOOD, "staff.csv")
    register = FilesRegister(tmp_path / "e.csv", tmp_path / "out", "kiosk-1",
                             people=tmp_path / "staff.csv")
    assert [p.employee_num for p in register.people()] == ["E-100", "E-101", "E-102"]


def register_with(people: list[Person] | None) -> MemoryRegister:
    """A register answering ``people``, or out of reach when None."""
    register = MemoryRegister(people=people or [])
    if people is None:
        register.down = 1_000_000
    return register


def test_the_people_cache_serves_the_last_list_while_the_register_is_away(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    people = read_people(write(tmp_path, GOOD))
    cache = PeopleCache(tmp_path / "state")
    with pytest.raises(RegisterUnavailable, match="no people list is saved"):
        cache.fetch(register_with(None), now=0.0)
    assert cache.fetch(register_with(people), now=100.0) == (people, None)
    assert (tmp_path / "state" / "people.json").exists()
    assert cache.fetch(register_with(None), now=700.0) == (people, 600.0)
    assert "identifying people with the people list saved 10 minutes ago" in caplog.text


def test_a_bad_people_file_is_not_hidden_by_the_cache(tmp_path: Path) -> None:
    cache = PeopleCache(tmp_path)
    cache.save([Person("1", "E-1")], 0.0)
    (tmp_path / "bad.csv").write_bytes(b"badge,name\n1,Ana\n1,Ben\n")
    with pytest.raises(PeopleFileError, match="register.people.*given twice") as caught:
        cache.fetch(FilesRegister(tmp_path / "e.csv", tmp_path / "o", "k",
                                  people=tmp_path / "bad.csv"), now=1.0)
    assert caught.value.exit_code == 2


def test_a_missing_people_file_is_like_a_register_out_of_reach(tmp_path: Path) -> None:
    cache = PeopleCache(tmp_path)
    cache.save([Person("1", "E-1")], 0.0)
    register = FilesRegister(tmp_path / "e.csv", tmp_path / "o", "k",
                             people=tmp_path / "none.csv")
    assert cache.fetch(register, now=60.0) == ([Person("1", "E-1")], 60.0)
    assert isinstance(cache.problem, RegisterUnavailable)
    (tmp_path / "people.json").unlink()
    with pytest.raises(RegisterError, match="register.people.*no people list is saved"):
        cache.fetch(register, now=61.0)


@pytest.mark.parametrize("damage", [b"", b"{", b'{"fetched_at": 1, "people": [{"x": 1}]}',
                                    b'{"people": []}'])
def test_a_damaged_saved_people_list_is_not_used(tmp_path: Path, damage: bytes) -> None:
    (tmp_path / "people.json").write_bytes(damage)
    assert PeopleCache(tmp_path).load() is None
