#!/usr/bin/env python3
"""Build a bootable Debian 12 disk image of the device with ``images/install.sh``.

    sudo python3 images/vm/build.py [--arch amd64|arm64] [--cache DIR] [--force]

The image is what a device gets, on Debian's packages instead of Raspberry Pi OS's: a
Debian root (systemd, udev, the kernel) made by mmdebstrap, ``images/install.sh --image``
run in it (apt, the user, the venv, the units, the udev rules), a FAT boot partition
mounted at ``/boot/firmware`` (where ``stocktaker.toml`` goes for the first boot) and an
ext4 root, in one MBR disk. Python's packages come from a wheelhouse made on this machine
(the guest reaches no network), installed offline by ``install.sh --wheels``.

Built images are kept in ``~/.cache/stocktaker-vm/<arch>-<hash>/`` (``--cache`` or
``STOCKTAKER_VM_CACHE`` elsewhere), the hash over everything that went in: this script,
the installer, the units, the package's source and the Debian package list. A second run
with the same inputs prints the same folder without building. The folder holds
``disk.img``, the kernel ``vmlinuz``, ``initrd.img`` and ``image.json`` (partitions, kernel
command line, build time). The last line printed is that folder.

arm64: the wheelhouse comes from ``pip download --platform manylinux2014_aarch64
--only-binary=:all:`` (evdev as its source, built in the guest); the root and the
installer run in an emulated arm64 machine (``images/vm/arm64.py``).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SUITE = "bookworm"
MIRROR = "http://deb.debian.org/debian"
#: What the base root holds before the installer runs: a bootable Debian with systemd and
#: udev, Python, fsck for both partitions, and the QEMU guest agent the rig talks through.
BASE_PACKAGES = ["systemd", "systemd-sysv", "udev", "kmod", "python3", "python3-venv",
                 "e2fsprogs", "dosfstools", "qemu-guest-agent", "procps", "i2c-tools"]
KERNEL = {"amd64": "linux-image-amd64", "arm64": "linux-image-arm64"}
#: The rig's camera: v4l2loopback, built by DKMS for the image's kernel (its headers).
CAMERA = {"amd64": ["linux-headers-amd64", "v4l2loopback-dkms"],
          "arm64": ["linux-headers-arm64", "v4l2loopback-dkms"]}
#: The package's files the installer copies (as images/pi-gen does).
SOURCE = ["pyproject.toml", "README.md", "firmware", "hal", "sync", "systemd", "images",
          "docs"]
#: What the image's hash covers: what goes into it and changes what it does. README.md and
#: docs/ are copied in too (as /opt/stocktaker/README.md, docs/operations.md and the
#: package's description) but left out: a change to the documentation alone reuses the
#: cached image, whose copies of it may then be older. So is images/pi-gen/ (not used here).
HASHED = ["pyproject.toml", "firmware", "hal", "sync", "systemd", "images/install.sh",
          "images/first-boot.py", "images/config.toml.in", "images/stocktaker.toml.example",
          "images/vm"]
BOOT_MIB = 64
ROOT_SLACK_MIB = 768
#: Units an appliance without a login, a package manager's timers, EFI, FUSE, device
#: mapper or binfmt does not need, masked (as an appliance image ships them): fewer units
#: at each boot, and no timer that wakes during a scenario. Nothing here checks or mounts
#: a file system: systemd-fsck-root and systemd-fsck@ still run at every boot.
MASKED = [
    # apt and dpkg's timers, the periodic ext4 scrub and its reaper, trim
    "apt-daily.timer", "apt-daily-upgrade.timer", "dpkg-db-backup.timer",
    "e2scrub_all.timer", "e2scrub_reap.service", "fstrim.timer", "man-db.timer",
    # nobody logs in (root is locked; the rig works through the guest agent)
    "getty.target", "getty-static.service", "serial-getty@ttyS0.service",
    "getty@tty1.service",
    # kernel interfaces and modules the device does not use
    "sys-kernel-debug.mount", "sys-kernel-tracing.mount", "dev-hugepages.mount",
    "dev-mqueue.mount", "sys-fs-fuse-connections.mount", "modprobe@fuse.service",
    "modprobe@dm_mod.service", "modprobe@efi_pstore.service", "modprobe@loop.service",
    "modprobe@drm.service", "systemd-pstore.service", "systemd-binfmt.service",
    "proc-sys-fs-binfmt_misc.automount", "proc-sys-fs-binfmt_misc.mount",
    # the root is one block device, nothing to wait for on the network
    "systemd-networkd-wait-online.service",
]
CMDLINE = {
    "amd64": "console=ttyS0 root=LABEL=rootfs ro quiet",
    "arm64": "console=ttyAMA0 root=LABEL=rootfs ro quiet",
}


class BuildError(Exception):
    """A build step failed; the message says which and why."""


def say(text: str) -> None:
    print(f"build: {text}", file=sys.stderr, flush=True)


def run(*args: str | Path, **kwargs: object) -> subprocess.CompletedProcess:
    """Run a command; a failure raises BuildError with its last lines of output."""
    done = subprocess.run([str(a) for a in args], capture_output=True, text=True, **kwargs)
    if done.returncode != 0:
        tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-25:])
        raise BuildError(f"{args[0]} failed (exit {done.returncode}):\n{tail}")
    return done


def source_files(names: list[str] = HASHED) -> list[Path]:
    files = []
    for name in names:
        path = REPO / name
        if path.is_file():
            files.append(path)
            continue
        for item in sorted(path.rglob("*")):
            if item.is_file() and "__pycache__" not in item.parts and item.suffix != ".pyc":
                files.append(item)
    return files


def inputs_hash(arch: str) -> str:
    """A hash of everything the image is made from (:data:`HASHED`, the Debian package
    list, the boot options)."""
    digest = hashlib.sha256()
    digest.update(json.dumps([arch, SUITE, MIRROR, BASE_PACKAGES, KERNEL[arch], BOOT_MIB,
                              CMDLINE[arch]]).encode())
    for path in source_files():
        digest.update(str(path.relative_to(REPO)).encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()[:16]


def requirements() -> list[str]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    build = tomllib.loads((REPO / "pyproject.toml").read_text())["build-system"]["requires"]
    # the installer's extras too (install.sh): the USB webcam's linuxpy, and zxing-cpp
    # for the camera's default decoder
    extras = [dep for extra in ("v4l2", "zxing")
              for dep in project["optional-dependencies"][extra]]
    return list(project["dependencies"]) + extras + list(build) + ["wheel"]


def wheelhouse(arch: str, cache: Path) -> Path:
    """Wheels of the package's dependencies for the guest's Python (3.11) and architecture."""
    reqs = requirements()
    key = hashlib.sha256(json.dumps([arch, reqs]).encode()).hexdigest()[:16]
    folder = cache / f"wheels-{arch}-{key}"
    if (folder / ".complete").exists():
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check"]
    say(f"wheelhouse for {arch} in {folder}")
    if arch == "amd64":
        # this machine is the guest's kind: build what has no wheel (evdev) here
        run(*pip, "wheel", "--quiet", "--wheel-dir", folder, *reqs)
    else:
        target = ["--platform", "manylinux2014_aarch64", "--platform", "manylinux_2_28_aarch64",
                  "--platform", "linux_aarch64", "--python-version", "3.11",
                  "--implementation", "cp", "--abi", "cp311"]
        binary = [r for r in reqs if not r.startswith("evdev")]
        run(*pip, "download", "--quiet", "--only-binary=:all:", *target, "--dest", folder,
            *binary)
        # evdev publishes no aarch64 wheel: its source, built by pip in the guest (gcc
        # and python3-dev are among the installer's packages)
        evdev = [r.split(";")[0] for r in reqs if r.startswith("evdev")]
        run(*pip, "download", "--quiet", "--no-deps", "--no-binary=:all:", "--dest", folder,
            *evdev)
    (folder / ".complete").write_text("")
    return folder


def base_root(arch: str, cache: Path) -> Path:
    """A tarball of the Debian root before the installer: cached by its package list."""
    packages = BASE_PACKAGES + [KERNEL[arch]] + CAMERA[arch]
    key = hashlib.sha256(json.dumps([arch, SUITE, MIRROR, packages]).encode()).hexdigest()[:16]
    tarball = cache / f"base-{arch}-{key}.tar"
    if tarball.exists():
        return tarball
    say(f"Debian {SUITE} {arch} root with mmdebstrap (about 2 minutes)")
    partial = cache / f"base-{arch}-{key}.partial.tar"
    sources = (f"deb {MIRROR} {SUITE} main\ndeb {MIRROR} {SUITE}-updates main\n"
               f"deb http://deb.debian.org/debian-security {SUITE}-security main")
    run("mmdebstrap", "--variant=minbase", f"--architectures={arch}",
        f"--include={','.join(packages)}", SUITE, partial, sources)
    partial.rename(tarball)
    return tarball


class Chroot:
    """/proc, /sys and /dev mounted into a root for the installer; unmounted on exit."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.mounted: list[Path] = []

    def __enter__(self) -> Chroot:
        for name, args in (("proc", ["-t", "proc", "proc"]), ("sys", ["-t", "sysfs", "sys"]),
                           ("dev", ["--bind", "/dev"]), ("dev/pts", ["--bind", "/dev/pts"])):
            target = self.root / name
            target.mkdir(exist_ok=True)
            run("mount", *args, target)
            self.mounted.append(target)
        shutil.copy2("/etc/resolv.conf", self.root / "etc/resolv.conf")
        return self

    def run(self, *args: str) -> subprocess.CompletedProcess:
        env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8",
               "DEBIAN_FRONTEND": "noninteractive"}
        return run("chroot", self.root, *args, env=env)

    def __exit__(self, *exc: object) -> None:
        for target in reversed(self.mounted):
            subprocess.run(["umount", "-l", str(target)], check=False)
        (self.root / "etc/resolv.conf").unlink(missing_ok=True)


def install(root: Path, wheels: Path) -> str:
    """Run images/install.sh --image in the root, as pi-gen's stage does."""
    src = root / "tmp/stocktaker-src"
    src.mkdir(parents=True)
    for name in SOURCE:
        path = REPO / name
        if path.is_dir():
            shutil.copytree(path, src / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(path, src / name)
    shutil.copytree(wheels, root / "tmp/wheels")
    with Chroot(root) as chroot:
        done = chroot.run("/tmp/stocktaker-src/images/install.sh", "--image",
                          "--wheels", "/tmp/wheels")
    shutil.rmtree(src)
    shutil.rmtree(root / "tmp/wheels")
    return done.stdout


def build_v4l2loopback(root: Path) -> None:
    """v4l2loopback for the image's kernel. The package's own install in mmdebstrap builds
    it for the root's kernel (its headers are there too); where it did not, DKMS is told
    the kernel, since ``uname -r`` in a chroot is the host's."""
    kernel = sorted(p.name for p in (root / "lib/modules").iterdir())[-1]
    if list((root / "lib/modules" / kernel).rglob("v4l2loopback.ko*")):
        return
    version = sorted((root / "usr/src").glob("v4l2loopback-*"))[-1].name.split("-", 1)[1]
    with Chroot(root) as chroot:
        chroot.run("dkms", "install", f"v4l2loopback/{version}", "-k", kernel)


def configure_system(root: Path, arch: str, lock_root: bool = True) -> None:
    """What a Raspberry Pi OS image has and a bare Debian root lacks: fstab with the FAT
    boot partition at /boot/firmware, a host name, a hardware watchdog for systemd."""
    (root / "etc/fstab").write_text(
        "LABEL=rootfs    /               ext4  defaults,noatime,errors=remount-ro  0 1\n"
        "LABEL=bootfs    /boot/firmware  vfat  defaults,umask=0077,flush           0 2\n")
    (root / "etc/hostname").write_text("stocktaker\n")
    (root / "etc/hosts").write_text("127.0.0.1 localhost\n127.0.1.1 stocktaker\n")
    (root / "boot/firmware").mkdir(parents=True, exist_ok=True)
    watchdog = root / "etc/systemd/system.conf.d/watchdog.conf"
    watchdog.parent.mkdir(parents=True, exist_ok=True)
    # as on a Pi (bcm2835_wdt): systemd keeps the hardware watchdog fed, a hung kernel or
    # PID 1 resets the device
    watchdog.write_text("[Manager]\nRuntimeWatchdogSec=30\n")
    # no password: the rig works through the guest agent, nobody logs in
    if lock_root:  # arm64 locks it in its emulated machine (images/vm/arm64.py)
        run("chroot", root, "passwd", "--lock", "root")
    for unit in MASKED:
        (root / "etc/systemd/system" / unit).unlink(missing_ok=True)
        os.symlink("/dev/null", root / "etc/systemd/system" / unit)
    if arch == "amd64":
        small_initrd(root)


def small_initrd(root: Path) -> None:
    """An initramfs with only what mounts this machine's root (virtio disk, ext4) instead
    of Debian's "most" modules: a third of the size, less to unpack and probe at each boot.
    The root's fsck stays where Debian has it, systemd-fsck-root.service."""
    conf = root / "etc/initramfs-tools/conf.d/stocktaker-vm.conf"
    conf.parent.mkdir(parents=True, exist_ok=True)
    conf.write_text("MODULES=list\n")
    with (root / "etc/initramfs-tools/modules").open("a") as modules:
        modules.write("virtio_pci\nvirtio_blk\next4\n")
    with Chroot(root) as chroot:
        chroot.run("update-initramfs", "-u", "-k", "all")


def boot_partition(root: Path, image: Path) -> None:
    """A FAT boot partition labelled bootfs with what Raspberry Pi OS's holds for us."""
    run("mkfs.vfat", "-C", "-n", "bootfs", image, str(BOOT_MIB * 1024))
    example = REPO / "images/stocktaker.toml.example"
    run("mcopy", "-i", image, example, "::stocktaker.toml.example")


def root_partition(root: Path, image: Path) -> None:
    used = int(run("du", "-sxm", root).stdout.split()[0])
    size = used + ROOT_SLACK_MIB
    run("mke2fs", "-q", "-t", "ext4", "-L", "rootfs", "-d", root, image, f"{size}M")


def disk(boot: Path, rootfs: Path, image: Path) -> dict[str, int]:
    """An MBR disk: 1 MiB gap, the FAT partition, the ext4 partition."""
    mib = 1024 * 1024
    boot_start, boot_size = mib, boot.stat().st_size
    root_start, root_size = boot_start + boot_size, rootfs.stat().st_size
    with image.open("wb") as out:
        out.truncate(root_start + root_size)
    table = (f"label: dos\nstart={boot_start // 512}, size={boot_size // 512}, type=c\n"
             f"start={root_start // 512}, size={root_size // 512}, type=83\n")
    run("sfdisk", "--quiet", image, input=table)
    for part, offset in ((boot, boot_start), (rootfs, root_start)):
        run("dd", f"if={part}", f"of={image}", "bs=1M", f"seek={offset // mib}",
            "conv=notrunc,sparse", "status=none")
    return {"boot_offset": boot_start, "boot_size": boot_size, "root_offset": root_start,
            "root_size": root_size}


def build(arch: str, cache: Path, force: bool) -> Path:
    key = inputs_hash(arch)
    out = cache / f"{arch}-{key}"
    if (out / "image.json").exists() and not force:
        say(f"cached: {out}")
        return out
    if arch == "arm64":  # made in an emulated arm64 machine: images/vm/arm64.py
        import arm64
        return arm64.build_image(cache, out, key)
    started = time.monotonic()
    cache.mkdir(parents=True, exist_ok=True)
    wheels = wheelhouse(arch, cache)
    tarball = base_root(arch, cache)
    work = Path(tempfile.mkdtemp(prefix=f"build-{arch}-", dir=cache))
    try:
        root = work / "root"
        root.mkdir()
        run("tar", "-C", root, "--numeric-owner", "-xpf", tarball)
        say("images/install.sh --image in the root")
        log = install(root, wheels)
        build_v4l2loopback(root)
        configure_system(root, arch)
        kernel = sorted((root / "boot").glob("vmlinuz-*"))[-1]
        initrd = sorted((root / "boot").glob("initrd.img-*"))[-1]
        out.mkdir(parents=True, exist_ok=True)
        shutil.copy2(kernel, work / "vmlinuz")
        shutil.copy2(initrd, work / "initrd.img")
        say("boot and root partitions, disk")
        boot_partition(root, work / "boot.img")
        root_partition(root, work / "root.img")
        layout = disk(work / "boot.img", work / "root.img", work / "disk.img")
        for name in ("disk.img", "vmlinuz", "initrd.img"):
            os.replace(work / name, out / name)
        info = {"arch": arch, "hash": key, "cmdline": CMDLINE[arch], **layout,
                "kernel": kernel.name, "build_seconds": round(time.monotonic() - started),
                "built": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "installer": log.strip().splitlines()}
        (out / "image.json").write_text(json.dumps(info, indent=2) + "\n")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    say(f"built in {time.monotonic() - started:.0f} s: {out}")
    prune(cache, arch, keep=out)
    return out


def prune(cache: Path, arch: str, keep: Path, images: int = 2) -> None:
    """Remove all but the newest ``images`` images of ``arch`` (each is about 1.5 GB)."""
    built = sorted((p for p in cache.glob(f"{arch}-*") if (p / "image.json").exists()),
                   key=lambda p: (p / "image.json").stat().st_mtime, reverse=True)
    for old in built[images:]:
        if old != keep:
            shutil.rmtree(old, ignore_errors=True)


def default_cache() -> Path:
    env = os.environ.get("STOCKTAKER_VM_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "stocktaker-vm"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--arch", choices=sorted(KERNEL), default="amd64")
    parser.add_argument("--cache", type=Path, default=default_cache())
    parser.add_argument("--force", action="store_true", help="build even when cached")
    args = parser.parse_args(argv)
    if os.geteuid() != 0:
        print("build: run as root (mmdebstrap, chroot and the image's owners need it)",
              file=sys.stderr)
        return 1
    try:
        out = build(args.arch, args.cache, args.force)
    except BuildError as exc:
        print(f"build: {exc}", file=sys.stderr)
        return 1
    print(out)
    return 0


if __name__ == "__main__":
    sys.modules.setdefault("build", sys.modules["__main__"])  # arm64.py imports this one
    sys.exit(main())
