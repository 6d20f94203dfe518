#!/usr/bin/env python3
"""Apply the settings an admin put on the card's boot partition, then remove the secrets.

``/boot/firmware/stocktaker.toml`` (written from any computer, the partition is FAT)::

    [device]
    id = "hh-07"                          # names the device in sightings and the outbox
    [wifi]
    ssid = "Warehouse"
    psk = "correct horse battery"         # 8 to 63 characters, or 64 hex digits
    country = "DE"                        # regulatory domain, two letters
    [register]
    adapter = "http"                      # files, http or snipeit
    url = "https://assets.example.com"
    token = "..."                         # goes to /etc/stocktaker/token, mode 0600

Every section and key is optional. The device id and register settings are written into
``/etc/stocktaker/config.toml`` only while that file is still the one the installer
wrote (an admin's edits are never overwritten); the Wi-Fi becomes a NetworkManager
keyfile; the token goes to the token file. Then the boot file is deleted — the FAT
partition has no permissions, anyone with the card could read it — and
``stocktaker-applied.txt`` beside it says what was applied, without secrets.
Run by ``stocktaker-firstboot.service``; exit code 2 for a file it cannot use (left in
place, with the reason in the journal).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import pwd
import re
import subprocess
import sys
import tempfile
import tomllib
import uuid
from pathlib import Path

KNOWN = {"device": {"id"}, "wifi": {"ssid", "psk", "country"},
         "register": {"adapter", "url", "token"}}
CONFIG = "etc/stocktaker/config.toml"
TOKEN = "etc/stocktaker/token"
TEMPLATE = "opt/stocktaker/config.toml.in"
STAMP = "opt/stocktaker/config.toml.installed.sha256"
WIFI = "etc/NetworkManager/system-connections/stocktaker-wifi.nmconnection"


class Unusable(Exception):
    """The boot file cannot be applied; the message says why."""


def read_settings(path: Path) -> dict[str, dict[str, str]]:
    """The boot file's settings, checked: known sections and keys, strings, sane values."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8-sig"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise Unusable(f"{path}: cannot read it: {exc}") from None
    for section, values in data.items():
        if section not in KNOWN or not isinstance(values, dict):
            raise Unusable(f"{path}: unknown section [{section}] (known: {', '.join(KNOWN)})")
        for key, value in values.items():
            if key not in KNOWN[section]:
                raise Unusable(f"{path}: unknown key {section}.{key}")
            if not isinstance(value, str) or any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
                raise Unusable(f"{path}: {section}.{key} must be one line of text")
    device, wifi, register = (data.get(name, {}) for name in ("device", "wifi", "register"))
    if "id" in device and not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}", device["id"]):
        raise Unusable(f"{path}: device.id: use 1 to 128 letters, digits, '.', '_' or '-'")
    if wifi:
        if not 1 <= len(wifi.get("ssid", "").encode()) <= 32:
            raise Unusable(f"{path}: wifi.ssid: 1 to 32 bytes")
        psk = wifi.get("psk", "")
        if not (8 <= len(psk) <= 63 and psk.isascii() or re.fullmatch(r"[0-9a-fA-F]{64}", psk)):
            raise Unusable(f"{path}: wifi.psk: 8 to 63 ASCII characters or 64 hex digits")
        if "country" in wifi and not re.fullmatch(r"[A-Z]{2}", wifi["country"]):
            raise Unusable(f"{path}: wifi.country: two capital letters (DE, GB, US)")
    url = register.get("url")
    if url is not None and not re.fullmatch(r"https?://[^\s/?#]+(/\S*)?", url):
        raise Unusable(f"{path}: register.url: an http(s) URL, not {url!r}")
    if register.get("adapter", "files") not in ("files", "http", "snipeit"):
        raise Unusable(f"{path}: register.adapter: files, http or snipeit")
    if register.get("adapter") in ("http", "snipeit") and not register.get("url"):
        raise Unusable(f"{path}: register.url is needed by the {register['adapter']} adapter")
    return {"device": device, "wifi": wifi, "register": register}


def render_config(template: str, settings: dict[str, dict[str, str]]) -> str:
    """The installer's configuration template with the boot file's device and register."""
    device, register = settings["device"], settings["register"]
    text = template.replace("@DEVICE_ID@", device.get("id", "stocktaker"))
    adapter = register.get("adapter") or ("http" if register.get("url") else "files")
    lines = []
    for line in text.splitlines():
        if line.startswith("adapter = "):
            line = f"adapter = {_toml(adapter)}"
        elif re.fullmatch(r"#\s*url = .*", line) and register.get("url"):
            line = f"url = {_toml(register['url'])}"
        elif re.fullmatch(r"#\s*token_file = .*", line) and register.get("token"):
            line = f"token_file = {_toml('/' + TOKEN)}"
        lines.append(line)
    return "\n".join(lines) + "\n"


def _toml(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def nm_keyfile(wifi: dict[str, str]) -> str:
    """A NetworkManager keyfile joining ``wifi['ssid']`` with WPA-PSK."""
    def escaped(value: str) -> str:  # GLib key-file escapes
        value = value.replace("\\", "\\\\")
        return "\\s" + value[1:] if value.startswith(" ") else value

    return "\n".join([
        "[connection]", "id=stocktaker-wifi", f"uuid={uuid.uuid4()}", "type=wifi",
        "autoconnect=true", "", "[wifi]", "mode=infrastructure",
        f"ssid={escaped(wifi['ssid'])}", "", "[wifi-security]", "key-mgmt=wpa-psk",
        f"psk={escaped(wifi['psk'])}", "", "[ipv4]", "method=auto", "", "[ipv6]",
        "addr-gen-mode=default", "method=auto", ""])


def write_file(path: Path, text: str, mode: int, owner: tuple[int, int] = (0, 0)) -> None:
    """Replace ``path`` atomically with ``text``, ``mode`` and ``owner`` set before the rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        os.write(fd, text.encode("utf-8"))
        os.fchmod(fd, mode)
        os.fchown(fd, *owner)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(temp, path)


def service_user(root: Path) -> tuple[int, int]:
    """uid and gid of the stocktaker user, from the root's own passwd file."""
    for line in (root / "etc/passwd").read_text().splitlines():
        fields = line.split(":")
        if fields[0] == "stocktaker":
            return int(fields[2]), int(fields[3])
    return pwd.getpwnam("stocktaker")[2:4]


def check_config(text: str, root: Path) -> None:
    """Load the configuration as the service will (when the package is importable)."""
    try:
        from firmware.config import config_from_dict
        from firmware.errors import ConfigError
    except ImportError:
        return
    try:
        config_from_dict(tomllib.loads(text), base=root / "etc/stocktaker")
    except ConfigError as exc:
        raise Unusable(f"the configuration would not load: {exc}") from None


def apply(boot_file: Path, root: Path, live: bool) -> list[str]:
    """Apply ``boot_file`` under ``root``; returns what was done (no secrets)."""
    settings = read_settings(boot_file)
    done: list[str] = []
    config_path, stamp_path = root / CONFIG, root / STAMP
    if settings["device"] or settings["register"]:
        current = config_path.read_bytes() if config_path.exists() else b""
        stamp = stamp_path.read_text().strip() if stamp_path.exists() else None
        if hashlib.sha256(current).hexdigest() == stamp:
            text = render_config((root / TEMPLATE).read_text(), settings)
            check_config(text, root)
            write_file(config_path, text, 0o640, (0, service_user(root)[1]))
            write_file(stamp_path, hashlib.sha256(text.encode()).hexdigest() + "\n", 0o644)
            done.append("device and register settings written to /" + CONFIG)
        else:
            done.append(f"/{CONFIG} was edited by hand: device and register settings"
                        " NOT applied (edit it)")
    if settings["register"].get("token"):
        write_file(root / TOKEN, settings["register"]["token"] + "\n", 0o600,
                   service_user(root))
        done.append(f"register token written to /{TOKEN}")
    if settings["wifi"]:
        write_file(root / WIFI, nm_keyfile(settings["wifi"]), 0o600)
        done.append(f"Wi-Fi {settings['wifi']['ssid']!r} written to /{WIFI}")
        country = settings["wifi"].get("country")
        if country and live:
            subprocess.run(["raspi-config", "nonint", "do_wifi_country", country], check=False)
            done.append(f"Wi-Fi country {country}")
    return done


def main(argv: list[str] | None = None) -> int:
    """Apply the boot file; 0 when applied (or absent), 2 when it cannot be used."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--boot-file", type=Path, default=Path("/boot/firmware/stocktaker.toml"))
    parser.add_argument("--root", type=Path, default=Path("/"),
                        help="the system to configure (default /); not / means not running")
    args = parser.parse_args(argv)
    if not args.boot_file.exists():
        return 0
    try:
        done = apply(args.boot_file, args.root, live=args.root == Path("/"))
    except Unusable as exc:
        print(f"stocktaker first boot: {exc}; nothing applied", file=sys.stderr)
        return 2
    note = args.boot_file.with_name("stocktaker-applied.txt")
    note.write_text("Applied by stocktaker at first boot (the file with the secrets is"
                    " deleted):\n" + "".join(f"- {line}\n" for line in done), encoding="utf-8")
    args.boot_file.unlink()
    for line in done:
        print(f"stocktaker first boot: {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
