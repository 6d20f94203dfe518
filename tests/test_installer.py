"""images/install.sh run twice into a throw-away root, and images/first-boot.py on its result.

The root is a bare tree with a Debian-style /etc/passwd, group, shadow and gshadow and a
Raspberry Pi OS boot partition's config.txt; the installer's --root mode runs the same
useradd, groupadd, systemctl enable and file steps as on a Pi, skipping only apt and the
reload of a running system. (A debootstrap root would take minutes per run for no extra
coverage of the script.) pip installs the package without its dependencies here
(PIP_NO_DEPS, pip's own switch), which keeps the run offline-fast.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from firmware.config import config_from_dict

REPO = Path(__file__).resolve().parent.parent
INSTALL = REPO / "images" / "install.sh"
FIRST_BOOT = REPO / "images" / "first-boot.py"

pytestmark = pytest.mark.skipif(os.geteuid() != 0,
                                reason="the installer creates users and owners: needs root")


def bare_root(path: Path) -> Path:
    (path / "etc").mkdir(parents=True)
    (path / "etc/passwd").write_text("root:x:0:0:root:/root:/bin/bash\n")
    (path / "etc/group").write_text("root:x:0:\ninput:x:101:\nvideo:x:44:\n")
    (path / "etc/shadow").write_text("root:*:19000:0:99999:7:::\n")
    (path / "etc/gshadow").write_text("root:*::\ninput:!::\nvideo:!::\n")
    os.chmod(path / "etc/shadow", 0o640)
    (path / "boot/firmware").mkdir(parents=True)
    (path / "boot/firmware/config.txt").write_text("dtparam=audio=on\n")
    return path


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A snapshot of the source the installer installs, so both runs see the same files."""
    copy = tmp_path_factory.mktemp("source")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO / name, copy / name)
    for name in ("firmware", "hal", "sync", "systemd", "images", "docs"):
        shutil.copytree(REPO / name, copy / name, symlinks=True,
                        ignore=shutil.ignore_patterns("__pycache__"))
    return copy


def install(root: Path, source: Path) -> str:
    env = {**os.environ, "PIP_NO_DEPS": "1", "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    run = subprocess.run([str(source / "images/install.sh"), "--root", str(root)], env=env,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    return run.stdout


def tree(root: Path) -> dict[str, tuple[object, ...]]:
    """Every path: type, mode, owner, mtime and content hash (or link target)."""
    listing: dict[str, tuple[object, ...]] = {}
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            path = Path(folder) / name
            info = path.lstat()
            if stat.S_ISLNK(info.st_mode):
                what: object = os.readlink(path)
            elif stat.S_ISREG(info.st_mode):
                what = hashlib.sha256(path.read_bytes()).hexdigest()
            else:
                what = "dir"
            listing[str(path.relative_to(root))] = (stat.S_IMODE(info.st_mode), info.st_uid,
                                                    info.st_gid, info.st_mtime_ns, what)
    return listing


def account(root: Path, name: str, file: str = "passwd") -> list[str]:
    for line in (root / "etc" / file).read_text().splitlines():
        if line.split(":")[0] == name:
            return line.split(":")
    raise AssertionError(f"{name} not in {file}")


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory,
              source: Path) -> tuple[Path, str, str, dict, dict]:
    root = bare_root(tmp_path_factory.mktemp("root"))
    first = install(root, source)
    before = tree(root)
    second = install(root, source)
    return root, first, second, before, tree(root)


def test_the_second_run_changes_nothing(installed: tuple) -> None:
    root, first, second, before, after = installed
    assert "changed:" in first
    assert second.strip() == "stocktaker install: nothing to change"
    assert after == before


def test_the_service_user_and_its_device_groups(installed: tuple) -> None:
    root = installed[0]
    user = account(root, "stocktaker")
    assert user[5] == "/var/lib/stocktaker" and user[6] == "/usr/sbin/nologin"
    assert int(user[2]) < 1000  # a system user
    for group in ("input", "video", "i2c", "gpio", "spi", "dialout"):
        assert "stocktaker" in account(root, group, "group")[3].split(","), group


def test_files_modes_and_owners(installed: tuple) -> None:
    root = installed[0]
    uid, gid = (int(n) for n in account(root, "stocktaker")[2:4])

    def check(path: str, mode: int, owner: tuple[int, int]) -> None:
        info = (root / path).stat()
        assert (stat.S_IMODE(info.st_mode), info.st_uid, info.st_gid) == (mode, *owner), path

    check("etc/stocktaker", 0o750, (0, gid))
    check("etc/stocktaker/config.toml", 0o640, (0, gid))
    check("etc/stocktaker/token", 0o600, (uid, gid))
    check("var/lib/stocktaker", 0o755, (uid, gid))
    check("var/lib/stocktaker/metrics", 0o755, (uid, gid))
    for unit in ("stocktaker.service", "stocktaker-sync.service", "stocktaker-sync.timer",
                 "stocktaker-firstboot.service", "media-stocktaker.mount"):
        check(f"etc/systemd/system/{unit}", 0o644, (0, 0))
        assert (root / "etc/systemd/system" / unit).read_bytes() == \
            (REPO / "systemd" / unit).read_bytes()
    check("etc/udev/rules.d/99-stocktaker.rules", 0o644, (0, 0))
    check("opt/stocktaker/libexec/first-boot.py", 0o755, (0, 0))
    assert (root / "etc/modules-load.d/stocktaker.conf").read_text() == "i2c-dev\n"
    boot = (root / "boot/firmware/config.txt").read_text().splitlines()
    assert boot == ["dtparam=audio=on", "dtparam=i2c_arm=on", "dtparam=i2c_arm_baudrate=400000"]


def test_the_units_state_directory_modes_match_the_installed_folders(installed: tuple) -> None:
    """systemd checks ConfigurationDirectory= and StateDirectory= against their modes at
    every start and logs a warning when the folder differs (found on the booted image)."""
    root = installed[0]
    for unit in ("stocktaker.service", "stocktaker-sync.service"):
        text = (REPO / "systemd" / unit).read_text()
        for key, folder in (("ConfigurationDirectory", "etc/stocktaker"),
                            ("StateDirectory", "var/lib/stocktaker")):
            if f"\n{key}=" not in text:
                continue
            found = [line.split("=", 1)[1] for line in text.splitlines()
                     if line.startswith(f"{key}Mode=")]
            declared = int(found[0], 8) if found else 0o755
            assert declared == stat.S_IMODE((root / folder).stat().st_mode), (unit, key)


def test_the_venv_sees_system_packages_and_holds_the_command(installed: tuple,
                                                           source: Path) -> None:
    root = installed[0]
    venv = root / "opt/stocktaker/venv"
    assert "include-system-site-packages = true" in (venv / "pyvenv.cfg").read_text()
    assert os.access(venv / "bin/stocktaker", os.X_OK)
    assert list(venv.glob("lib/python3*/site-packages/firmware/systemd_notify.py"))
    assert not (source / "build").exists()  # built from a copy: the source tree stays clean


def test_units_are_enabled_and_the_timer_is_left_to_the_admin(installed: tuple) -> None:
    system = installed[0] / "etc/systemd/system"
    wants = system / "multi-user.target.wants"
    assert os.readlink(wants / "stocktaker.service") == "/etc/systemd/system/stocktaker.service"
    assert (wants / "stocktaker-firstboot.service").is_symlink()
    assert (system / "dev-disk-by\\x2dlabel-STOCKTAKER.device.wants/media-stocktaker.mount"
            ).is_symlink()
    assert not (system / "timers.target.wants").exists()


def test_the_default_configuration_loads(installed: tuple) -> None:
    root = installed[0]
    data = tomllib.loads((root / "etc/stocktaker/config.toml").read_text())
    config = config_from_dict(data, base=root / "etc/stocktaker")
    assert config.device.id == "stocktaker"
    assert config.scanner.backend == "evdev" and config.scanner.device == "/dev/stocktaker/scanner"
    assert config.register.adapter == "files"
    assert str(config.register.manifest) == "/media/stocktaker/expected.csv"
    assert str(config.service.health_file) == "/var/lib/stocktaker/metrics/stocktaker.prom"


def test_an_admins_configuration_and_token_are_kept(tmp_path: Path, source: Path) -> None:
    root = bare_root(tmp_path / "root")
    (root / "etc/stocktaker").mkdir(parents=True)
    (root / "etc/stocktaker/config.toml").write_text("[device]\nid = 'mine'\n")
    (root / "etc/stocktaker/token").write_text("s3cret\n")
    os.chmod(root / "etc/stocktaker/token", 0o644)
    install(root, source)
    assert (root / "etc/stocktaker/config.toml").read_text() == "[device]\nid = 'mine'\n"
    assert (root / "etc/stocktaker/token").read_text() == "s3cret\n"
    assert stat.S_IMODE((root / "etc/stocktaker/token").stat().st_mode) == 0o600
    assert not (root / "opt/stocktaker/config.toml.installed.sha256").exists()


def test_the_installer_is_shellcheck_clean() -> None:
    assert shutil.which("shellcheck"), "shellcheck is missing: ./dev.sh installs it"
    scripts = [INSTALL, *sorted((REPO / "images/pi-gen").rglob("*.sh"))]
    run = subprocess.run(["shellcheck", "--severity=style", *map(str, scripts)],
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stdout
    assert len(scripts) >= 2


BOOT_FILE = """\
[device]
id = "hh-07"
[wifi]
ssid = " Warehouse\\\\2"
psk = "correct horse battery"
country = "DE"
[register]
adapter = "http"
url = "https://assets.example.com"
token = "tok-123"
"""


def first_boot(root: Path, boot_file: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(FIRST_BOOT), "--root", str(root),
                           "--boot-file", str(boot_file)], capture_output=True, text=True,
                          timeout=60, cwd=REPO)


def installed_copy(installed: tuple, to: Path) -> Path:
    """The installed root without its venv (first-boot needs none)."""
    shutil.copytree(installed[0], to, symlinks=True, ignore=shutil.ignore_patterns("venv"))
    return to


def test_first_boot_applies_the_boot_file_and_removes_its_secrets(installed: tuple,
                                                                  tmp_path: Path) -> None:
    root = installed_copy(installed, tmp_path / "root")
    boot_file = root / "boot/firmware/stocktaker.toml"
    boot_file.write_text(BOOT_FILE)
    run = first_boot(root, boot_file)
    assert run.returncode == 0, run.stderr
    assert not boot_file.exists()
    note = (root / "boot/firmware/stocktaker-applied.txt").read_text()
    assert "tok-123" not in note and "correct horse" not in note
    config = config_from_dict(tomllib.loads((root / "etc/stocktaker/config.toml").read_text()),
                              base=root / "etc/stocktaker")
    assert config.device.id == "hh-07" and config.register.adapter == "http"
    assert config.register.url == "https://assets.example.com"
    assert str(config.register.token_file) == "/etc/stocktaker/token"
    token = root / "etc/stocktaker/token"
    assert token.read_text() == "tok-123\n" and stat.S_IMODE(token.stat().st_mode) == 0o600
    assert token.stat().st_uid == int(account(root, "stocktaker")[2])
    keyfile = root / "etc/NetworkManager/system-connections/stocktaker-wifi.nmconnection"
    assert stat.S_IMODE(keyfile.stat().st_mode) == 0o600
    text = keyfile.read_text()
    assert "ssid=\\sWarehouse\\\\2\n" in text and "psk=correct horse battery\n" in text
    assert "key-mgmt=wpa-psk" in text
    # a second file later: the config is no longer the installer's, so it is left alone
    (root / "etc/stocktaker/config.toml").write_text("[device]\nid = 'edited'\n")
    boot_file.write_text('[device]\nid = "hh-08"\n[register]\ntoken = "tok-456"\n')
    assert first_boot(root, boot_file).returncode == 0
    assert (root / "etc/stocktaker/config.toml").read_text() == "[device]\nid = 'edited'\n"
    assert token.read_text() == "tok-456\n"
    assert "NOT applied" in (root / "boot/firmware/stocktaker-applied.txt").read_text()


@pytest.mark.parametrize(("text", "named"), [
    ("[device]\nid = 'a b'\n", "device.id"),
    ("[wifi]\nssid = 'x'\npsk = 'short'\n", "wifi.psk"),
    ("[register]\nadapter = 'http'\n", "register.url is needed"),
    ("[register]\nurl = 'ftp://x'\n", "register.url"),
    ("[printer]\n", "unknown section [printer]"),
    ("[device]\nid = \"a\\u001b\"\n", "one line of text"),
])
def test_an_unusable_boot_file_is_left_in_place_with_the_reason(
        installed: tuple, tmp_path: Path, text: str, named: str) -> None:
    root = installed_copy(installed, tmp_path / "root")
    boot_file = root / "boot/firmware/stocktaker.toml"
    boot_file.write_text(text)
    before = (root / "etc/stocktaker/config.toml").read_bytes()
    run = first_boot(root, boot_file)
    assert run.returncode == 2 and named in run.stderr and "Traceback" not in run.stderr
    assert boot_file.exists()
    assert (root / "etc/stocktaker/config.toml").read_bytes() == before
