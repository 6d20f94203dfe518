"""The API token never travels in clear by accident.

A token-sending adapter (``http``, ``snipeit``, ``nautobot``) with an ``http://`` URL to
another machine is refused before anything is sent, with one line naming
``register.url``; ``register.allow_insecure_http = true`` lets it through for a trusted
network, and then every start and ``stocktaker doctor`` warn. Loopback is not another
machine. Name lookups are recorded (and refused) in the process, so a test proves that no
connection was even attempted.
"""

from __future__ import annotations

import logging
import socket
from pathlib import Path
from typing import Any

import pytest

from firmware.cli import main
from firmware.config import RegisterConfig, load_config
from firmware.errors import ConfigError
from sync.registers import open_register
from sync.transport import cleartext_host
from tests.test_receiver import write_token

REMOTE = "http://register.example"


@pytest.fixture
def lookups(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Every name lookup the process makes, each refused (there is no network here)."""
    seen: list[Any] = []

    def refuse(host: Any, *args: Any, **kwargs: Any) -> Any:
        seen.append(host)
        raise socket.gaierror(socket.EAI_NONAME, "no network in this test")

    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    return seen


def config_file(tmp_path: Path, adapter: str, url: str, *, opt_in: bool | None = None) -> Path:
    token = write_token(tmp_path / "token", "secret-token")
    lines = ["[scanner]", 'backend = "stdin"', "[register]", f'adapter = "{adapter}"',
             f'url = "{url}"', f'token_file = "{token}"', "timeout = 2"]
    if opt_in is not None:
        lines.append(f"allow_insecure_http = {'true' if opt_in else 'false'}")
    lines += ["[queue]", 'path = "state"']
    path = tmp_path / "stocktaker.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.mark.parametrize("url", [
    "http://127.0.0.1:8080", "http://localhost/inventory", "http://[::1]:80",
    "http://127.1.2.3", "https://register.example", "HTTPS://Register.Example:8443/x",
    "http://snipe.localhost",
])
def test_loopback_and_https_carry_no_token_in_clear(url: str) -> None:
    assert cleartext_host(url) is None


@pytest.mark.parametrize(("url", "host"), [
    (REMOTE, "register.example"), ("http://10.0.0.7:8000/api", "10.0.0.7"),
    ("HTTP://Snipe.Example.COM", "snipe.example.com"), ("http://[fd00::7]/", "fd00::7"),
])
def test_plain_http_to_another_machine_is_cleartext(url: str, host: str) -> None:
    assert cleartext_host(url) == host


@pytest.mark.parametrize("adapter", ["http", "snipeit", "nautobot"])
def test_the_configuration_refuses_it_naming_register_url(tmp_path: Path,
                                                           adapter: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(config_file(tmp_path, adapter, REMOTE))
    message = str(caught.value)
    assert message.startswith("register.url: 'http://register.example' would send the API"
                              " token in clear to register.example")
    assert "register.allow_insecure_http = true" in message and "\n" not in message
    with pytest.raises(ConfigError, match="^register.url: "):
        load_config(config_file(tmp_path, adapter, REMOTE, opt_in=False))
    assert load_config(config_file(tmp_path, adapter, REMOTE,
                                   opt_in=True)).register.allow_insecure_http


def test_the_files_adapter_sends_no_token_and_may_name_any_register(tmp_path: Path) -> None:
    """There ``register.url`` only tells the register's own labels apart."""
    assert load_config(config_file(tmp_path, "files", REMOTE)).register.url == REMOTE


@pytest.mark.parametrize("command", [["sync"], ["run"], ["doctor"]])
def test_no_command_sends_anything_to_a_cleartext_url(
        tmp_path: Path, lookups: list[Any], capsys: pytest.CaptureFixture[str],
        command: list[str]) -> None:
    code = main([*command, "--config", str(config_file(tmp_path, "http", REMOTE))])
    err = capsys.readouterr().err
    assert code == 2, err
    (line,) = err.splitlines()
    assert line.startswith("stocktaker: error: register.url: ")
    assert lookups == []  # not even the name was looked up


def test_a_register_config_made_in_code_is_refused_too(lookups: list[Any],
                                                       tmp_path: Path) -> None:
    token = write_token(tmp_path / "token", "secret-token")
    for adapter in ("http", "snipeit", "nautobot"):
        with pytest.raises(ConfigError, match="^register.url: .* in clear"):
            open_register(RegisterConfig(adapter=adapter, url=REMOTE, token_file=token), "hh-01")
    assert lookups == []


def test_the_opt_in_is_warned_about_at_every_start_and_by_doctor(
        tmp_path: Path, lookups: list[Any], capsys: pytest.CaptureFixture[str],
        caplog: pytest.LogCaptureFixture) -> None:
    config = config_file(tmp_path, "http", REMOTE, opt_in=True)
    for start in (1, 2):
        code = main(["sync", "--config", str(config)])
        captured = capsys.readouterr()
        assert code == 4, captured  # it tried, and this test has no network
        warnings = [r.getMessage() for r in caplog.records
                    if r.levelno == logging.WARNING and "in clear" in r.getMessage()]
        assert len(warnings) == start  # once per start, at the default log level
        assert warnings[-1].startswith(
            "register.url http://register.example sends the API token in clear to"
            " register.example (register.allow_insecure_http = true)")
        assert "Traceback" not in captured.err
    assert lookups and all(host == "register.example" for host in lookups)
    main(["doctor", "--config", str(config)])
    out = capsys.readouterr().out
    warning = [line for line in out.splitlines() if "in clear" in line]
    assert warning and "WARNING" in warning[0] and "register.example" in warning[0]
    assert "fix: use an https:// register.url" in out


def test_doctor_says_nothing_of_it_for_https(tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    main(["doctor", "--config", str(config_file(tmp_path, "http", "https://register.example"))])
    assert "in clear" not in capsys.readouterr().out
