"""The arm64 image: a Debian root made on a machine that cannot run arm64 programs.

Called by ``build.py --arch arm64``. The amd64 image's root is made by mmdebstrap and the
installer runs in a chroot; here neither can run on the build machine (no binfmt_misc,
no qemu-user), so the arm64 programs run in an emulated arm64 machine instead
(``qemu-system-aarch64 -M virt``, TCG), booted twice:

1. the base root, cached by its package list in ``base-arm64-<hash>/``:
   ``debootstrap --foreign`` downloads and unpacks the packages here (no maintainer
   script runs), the root becomes an ext4 file system (``mke2fs -d``, no loop device) and
   the emulated machine runs debootstrap's second stage in it;
2. the image: a copy of the base root booted again with a second disk holding the
   package's source, the arm64 wheelhouse and the system's own files (fstab, host name,
   watchdog, the masked timers; as ``build.configure_system`` writes them for amd64): it
   runs ``images/install.sh --image --wheels`` (apt's packages come from Debian's archive
   through QEMU's user network, as the amd64 chroot reaches it through this machine's).

Both boots use Debian's arm64 kernel (unpacked here from the package debootstrap fetched)
and a small initramfs made here: busybox-static and the modules for virtio disks, ext4 and
a virtio network card. Its init mounts the root and the second disk (at ``/mnt``), brings
the network up and runs the second disk's ``stage.sh`` in a chroot, then powers off.

Then the ext4 file system is checked, shrunk to what it holds plus the amd64 image's slack
and goes with the FAT boot partition into the same MBR disk. The kernel is the root's own;
the initrd is the one Debian's initramfs-tools made in the emulated machine (``debugfs``
reads both out). The machine's console is kept in the image folder as ``console.log``.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import tarfile
import tempfile
import time
import urllib.request
from pathlib import Path

import build

#: The emulated machine: TCG on this machine, pointer authentication by QEMU's own
#: algorithm (``pauth-impdef``: much faster under TCG than the architected QARMA).
CPU = "max,pauth-impdef=on"
CPUS = "2"
MEMORY_MIB = 2048
#: Room for the second stage and the installer (apt's packages, the venv); shrunk after.
STAGE_DISK_MIB = 6144
STAGE_TIMEOUT = 3 * 3600
#: Modules the initramfs loads, each after what it depends on.
MODULES = ["virtio_pci", "virtio_blk", "crc32c_generic", "ext4", "virtio_net"]
#: QEMU user networking's fixed addresses: the guest, the gateway, the DNS forwarder.
GUEST_NET = ("10.0.2.15/24", "10.0.2.2", "10.0.2.3")
SOURCES = (f"deb {build.MIRROR} {build.SUITE} main\n"
           f"deb {build.MIRROR} {build.SUITE}-updates main\n"
           f"deb http://deb.debian.org/debian-security {build.SUITE}-security main\n")

INIT = """#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
mount -t devtmpfs dev /dev
mount -t proc proc /proc
mount -t sysfs sys /sys
for module in $(cat /modules); do insmod "/lib/$module.ko" || echo "insmod $module failed"; done
tries=0
while [ ! -b /dev/vdb ] && [ $tries -lt 300 ]; do sleep 0.2; tries=$((tries + 1)); done
mount -t ext4 /dev/vda /newroot || { echo "stocktaker-stage: exit no-root"; poweroff -f; }
mkdir -p /newroot/mnt
mount -t ext4 /dev/vdb /newroot/mnt || { echo "stocktaker-stage: exit no-payload"; poweroff -f; }
ip link set lo up
ip link set eth0 up
ip addr add @ADDRESS@ dev eth0
ip route add default via @GATEWAY@
mount -t devtmpfs dev /newroot/dev
mkdir -p /newroot/dev/pts
mount -t devpts devpts /newroot/dev/pts
mount -t proc proc /newroot/proc
mount -t sysfs sys /newroot/sys
chroot /newroot /bin/sh /mnt/stage.sh
status=$?
umount /newroot/dev/pts /newroot/dev /newroot/proc /newroot/sys /newroot/mnt
sync
umount /newroot
echo "stocktaker-stage: exit $status"
poweroff -f
"""

#: The first boot: debootstrap's second stage, then the archive for apt.
STAGE_BASE = """set -eu
export PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive
echo "stocktaker-stage: debootstrap --second-stage"
/debootstrap/debootstrap --second-stage
cp /mnt/sources.list /etc/apt/sources.list
echo "stocktaker-stage: done"
"""

#: The second boot: the installer, the system's files, cleaning up.
STAGE_INSTALL = """set -eu
export PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive
echo "nameserver @DNS@" > /etc/resolv.conf
echo "stocktaker-stage: images/install.sh --image"
/mnt/src/images/install.sh --image --wheels /mnt/wheels
tar -C / -xpf /mnt/system.tar
passwd --lock root
apt-get clean
rm -rf /etc/resolv.conf /var/lib/apt/lists/*
echo "stocktaker-stage: done"
"""


def package_file(root: Path, name: str) -> tuple[str, str]:
    """The pool path and SHA-256 of an arm64 package, from the Packages index debootstrap
    fetched (itself checked against the archive's signed InRelease)."""
    index = next((root / "var/lib/apt/lists").glob("*_binary-arm64_Packages"))
    for stanza in index.read_text().split("\n\n"):
        fields = dict(re.findall(r"^([A-Za-z0-9-]+): (.*)$", stanza, re.M))
        if fields.get("Package") == name:
            return fields["Filename"], fields["SHA256"]
    raise build.BuildError(f"{name} is not in the arm64 archive's index")


def fetch_deb(root: Path, name: str, dest: Path) -> Path:
    """Download one arm64 .deb and check it against the index."""
    pool, sha = package_file(root, name)
    with urllib.request.urlopen(f"{build.MIRROR}/{pool}", timeout=120) as response:
        data = response.read()
    if hashlib.sha256(data).hexdigest() != sha:
        raise build.BuildError(f"{pool}: checksum differs from the archive's index")
    dest.write_bytes(data)
    return dest


def kernel_tree(root: Path, work: Path) -> tuple[Path, Path]:
    """The kernel package unpacked here: (vmlinuz, the modules' folder)."""
    debs = sorted((root / "var/cache/apt/archives").glob("linux-image-[0-9]*_arm64.deb"))
    if not debs:
        raise build.BuildError("debootstrap fetched no arm64 kernel package")
    tree = work / "kernel"
    build.run("dpkg-deb", "-x", debs[-1], tree)
    vmlinuz = sorted((tree / "boot").glob("vmlinuz-*"))[-1]
    modules = tree / "lib/modules" / vmlinuz.name.removeprefix("vmlinuz-")
    return vmlinuz, modules


def module_order(modules: Path, wanted: list[str]) -> list[Path]:
    """The modules' files, each after the ones its ``depends=`` names (read from the .ko's
    modinfo section: no depmod for arm64 modules needed here)."""
    files = {path.name.removesuffix(".ko").replace("-", "_"): path
             for path in modules.rglob("*.ko")}
    order: list[Path] = []

    def add(name: str) -> None:
        path = files.get(name.replace("-", "_"))
        if path is None:
            raise build.BuildError(f"module {name} is not in the kernel package")
        if path in order:
            return
        found = re.search(rb"depends=([^\0]*)\0", path.read_bytes())
        for dependency in (found.group(1).decode().split(",") if found else []):
            if dependency:
                add(dependency)
        order.append(path)

    for name in wanted:
        add(name)
    return order


def cpio_newc(entries: list[tuple[str, int, bytes, int]]) -> bytes:
    """An initramfs archive (cpio "newc"): (name, mode, data, rdev) for each entry."""
    out = io.BytesIO()

    def pad() -> None:
        out.write(b"\0" * (-out.tell() % 4))

    for ino, (name, mode, data, rdev) in enumerate(entries + [("TRAILER!!!", 0, b"", 0)], 1):
        encoded = name.encode() + b"\0"
        fields = [ino, mode, 0, 0, 1, 0, len(data), 0, 0, rdev >> 8, rdev & 0xFF,
                  len(encoded), 0]
        out.write(b"070701" + "".join(f"{f:08X}" for f in fields).encode() + encoded)
        pad()
        out.write(data)
        pad()
    return out.getvalue()


def initramfs(root: Path, modules: Path, work: Path) -> Path:
    """busybox-static, the init above and the modules it loads."""
    busybox_deb = fetch_deb(root, "busybox-static", work / "busybox-static.deb")
    build.run("dpkg-deb", "-x", busybox_deb, work / "busybox")
    order = module_order(modules, MODULES)
    directory, program, data, char = 0o040755, 0o100755, 0o100644, 0o020600
    entries = [(name, directory, b"", 0)
               for name in ("bin", "dev", "proc", "sys", "lib", "newroot")]
    entries.append(("dev/console", char, b"", 5 << 8 | 1))
    entries.append(("bin/busybox", program, (work / "busybox/bin/busybox").read_bytes(), 0))
    address, gateway, _ = GUEST_NET
    init = INIT.replace("@ADDRESS@", address).replace("@GATEWAY@", gateway)
    entries.append(("init", program, init.encode(), 0))
    names = [path.name.removesuffix(".ko") for path in order]
    entries.append(("modules", data, "\n".join(names).encode() + b"\n", 0))
    entries += [(f"lib/{path.name}", data, path.read_bytes(), 0) for path in order]
    out = work / "initramfs.gz"
    out.write_bytes(gzip.compress(cpio_newc(entries), compresslevel=6))
    return out


def system_tarball(work: Path) -> bytes:
    """The files build.configure_system writes into a root, as a tarball for the guest."""
    scratch = work / "system"
    (scratch / "etc/systemd/system").mkdir(parents=True)
    build.configure_system(scratch, "arm64", lock_root=False)
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for path in sorted(scratch.rglob("*")):
            if path.is_dir() and path.name != "firmware":
                continue  # folders the root has already, left as they are
            info = tar.gettarinfo(str(path), arcname=str(path.relative_to(scratch)))
            info.uid = info.gid = 0
            info.uname = info.gname = "root"
            if path.is_file() and not path.is_symlink():
                with path.open("rb") as handle:
                    tar.addfile(info, handle)
            else:
                tar.addfile(info)
    return buffer.getvalue()


def payload_disk(folder: Path, script: str, image: Path) -> Path:
    """An ext4 file system of ``folder`` with ``stage.sh``: the machine's second disk."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "stage.sh").write_text(script)
    used = int(build.run("du", "-sxm", folder).stdout.split()[0])
    build.run("mke2fs", "-q", "-t", "ext4", "-L", "payload", "-d", folder, image,
              f"{used + 64}M")
    return image


def install_payload(wheels: Path, work: Path) -> Path:
    """The package's source, the wheelhouse and the system's files, for the installer."""
    folder = work / "payload"
    src = folder / "src"
    src.mkdir(parents=True)
    for name in build.SOURCE:
        path = build.REPO / name
        if path.is_dir():
            shutil.copytree(path, src / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(path, src / name)
    shutil.copytree(wheels, folder / "wheels")
    (folder / "system.tar").write_bytes(system_tarball(work))
    return payload_disk(folder, STAGE_INSTALL.replace("@DNS@", GUEST_NET[2]),
                        work / "payload.img")


def boot_stage(kernel: Path, initrd: Path, disk: Path, payload: Path, log: Path) -> int:
    """Boot ``disk`` in the emulated arm64 machine with ``payload`` as its second disk; it
    runs the payload's stage.sh and powers off. Returns the seconds it took."""
    command = ["qemu-system-aarch64", "-M", "virt", "-accel", "tcg", "-cpu", CPU,
               "-smp", CPUS, "-m", str(MEMORY_MIB), "-nographic", "-no-reboot",
               "-kernel", str(kernel), "-initrd", str(initrd),
               "-append", "console=ttyAMA0 panic=-1 rdinit=/init",
               "-drive", f"file={disk},if=none,format=raw,id=root,cache=unsafe",
               "-device", "virtio-blk-pci,drive=root",
               "-drive", f"file={payload},if=none,format=raw,id=payload,cache=unsafe",
               "-device", "virtio-blk-pci,drive=payload",
               "-netdev", "user,id=net", "-device", "virtio-net-pci,netdev=net"]
    started = time.monotonic()
    before = log.stat().st_size if log.exists() else 0
    with log.open("ab") as console:
        try:
            subprocess.run(command, stdin=subprocess.DEVNULL, stdout=console,
                           stderr=subprocess.STDOUT, timeout=STAGE_TIMEOUT, check=False)
        except subprocess.TimeoutExpired as exc:
            raise build.BuildError(f"the arm64 machine did not end in {STAGE_TIMEOUT} s; "
                                   f"see {log}") from exc
    with log.open("rb") as console:
        console.seek(before)
        text = console.read().decode(errors="replace")
    found = re.findall(r"stocktaker-stage: exit (\S+)", text)
    if found[-1:] != ["0"]:
        tail = "\n".join(text.strip().splitlines()[-30:])
        raise build.BuildError(f"the arm64 machine's stage failed ({found[-1:] or 'no exit'};"
                               f" console in {log}):\n{tail}")
    return round(time.monotonic() - started)


def base_image(cache: Path, work: Path, log: Path) -> tuple[Path, Path, Path]:
    """The Debian root after its second stage, as an ext4 image, cached by its package
    list: (the image, the kernel and the initramfs that boot it)."""
    packages = build.BASE_PACKAGES + [build.KERNEL["arm64"], "initramfs-tools"]
    key = hashlib.sha256(json.dumps([build.SUITE, build.MIRROR, packages, SOURCES, INIT,
                                     STAGE_BASE, MODULES]).encode()).hexdigest()[:16]
    folder = cache / f"base-arm64-{key}"
    if (folder / "root.img").exists():
        return folder / "root.img", folder / "vmlinuz", folder / "initramfs.gz"
    root = work / "root"
    build.say(f"Debian {build.SUITE} arm64 root, first stage (debootstrap --foreign)")
    build.run("debootstrap", "--foreign", "--arch=arm64", "--variant=minbase",
              f"--include={','.join(packages)}", build.SUITE, root, build.MIRROR)
    vmlinuz, modules = kernel_tree(root, work)
    initrd = initramfs(root, modules, work)
    image = work / "base.img"
    build.run("mke2fs", "-q", "-t", "ext4", "-L", "rootfs", "-d", root, image,
              f"{STAGE_DISK_MIB}M")
    shutil.rmtree(root)
    stage = work / "stage-base"
    stage.mkdir()
    (stage / "sources.list").write_text(SOURCES)
    disk = payload_disk(stage, STAGE_BASE, work / "stage-base.img")
    build.say(f"debootstrap --second-stage in qemu-system-aarch64 (TCG; console in {log})")
    seconds = boot_stage(vmlinuz, initrd, image, disk, log)
    build.say(f"second stage: {seconds} s")
    partial = cache / f"base-arm64-{key}.partial"
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir()
    shutil.move(image, partial / "root.img")
    shutil.copy2(vmlinuz, partial / "vmlinuz")
    shutil.move(initrd, partial / "initramfs.gz")
    (partial / "stage.json").write_text(json.dumps({"second_stage_seconds": seconds}) + "\n")
    os.rename(partial, folder)
    return folder / "root.img", folder / "vmlinuz", folder / "initramfs.gz"


def shrink(image: Path) -> None:
    """Check the root file system and cut it to what it holds plus the amd64 slack."""
    done = subprocess.run(["e2fsck", "-fy", str(image)], capture_output=True, text=True)
    if done.returncode not in (0, 1):
        raise build.BuildError(f"e2fsck of the arm64 root: exit {done.returncode}\n"
                               f"{done.stdout[-2000:]}")
    build.run("resize2fs", "-M", image)
    header = build.run("dumpe2fs", "-h", image).stdout
    blocks = re.search(r"Block count:\s+(\d+)", header)
    size = re.search(r"Block size:\s+(\d+)", header)
    if blocks is None or size is None:
        raise build.BuildError(f"dumpe2fs said no block count:\n{header[-1000:]}")
    mib = int(blocks.group(1)) * int(size.group(1)) // (1024 * 1024) + build.ROOT_SLACK_MIB
    build.run("resize2fs", image, f"{mib}M")
    os.truncate(image, mib * 1024 * 1024)


def read_out(image: Path, pattern: str, dest: Path) -> str:
    """Copy the newest /boot file matching ``pattern`` out of the ext4 image."""
    listing = build.run("debugfs", "-R", "ls /boot", image).stdout
    names = sorted(set(re.findall(rf"(?<![\w.-])({pattern})(?![\w.-])", listing)))
    if not names:
        raise build.BuildError(f"no /boot/{pattern} in the arm64 root:\n{listing}")
    build.run("debugfs", "-R", f"dump /boot/{names[-1]} {dest}", image)
    if not dest.exists() or dest.stat().st_size == 0:
        raise build.BuildError(f"could not read /boot/{names[-1]} out of the arm64 root")
    return names[-1]


def build_image(cache: Path, out: Path, key: str) -> Path:
    """Build the arm64 image into ``out`` (see the module's docstring)."""
    started = time.monotonic()
    cache.mkdir(parents=True, exist_ok=True)
    wheels = build.wheelhouse("arm64", cache)
    work = Path(tempfile.mkdtemp(prefix="build-arm64-", dir=cache))
    out.mkdir(parents=True, exist_ok=True)
    log = out / "console.log"
    log.unlink(missing_ok=True)
    try:
        base, vmlinuz, initrd = base_image(cache, work, log)
        rootfs = work / "root.img"
        build.run("cp", "--sparse=always", base, rootfs)
        payload = install_payload(wheels, work)
        build.say(f"images/install.sh --image in qemu-system-aarch64 (TCG; console in {log})")
        install_seconds = boot_stage(vmlinuz, initrd, rootfs, payload, log)
        build.say(f"installer: {install_seconds} s")
        shrink(rootfs)
        kernel = read_out(rootfs, r"vmlinuz-[\w.+-]+", work / "vmlinuz")
        read_out(rootfs, r"initrd\.img-[\w.+-]+", work / "initrd.img")
        build.say("boot partition, disk")
        build.boot_partition(work, work / "boot.img")
        layout = build.disk(work / "boot.img", rootfs, work / "disk.img")
        for name in ("disk.img", "vmlinuz", "initrd.img"):
            os.replace(work / name, out / name)
        installer = re.findall(r"^(stocktaker install: .*?)\r?$",
                               log.read_text(errors="replace"), re.M)
        info = {"arch": "arm64", "hash": key, "cmdline": build.CMDLINE["arm64"], **layout,
                "kernel": kernel, "build_seconds": round(time.monotonic() - started),
                "install_seconds": install_seconds,
                "built": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "installer": installer}
        (out / "image.json").write_text(json.dumps(info, indent=2) + "\n")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    build.say(f"built in {time.monotonic() - started:.0f} s: {out}")
    build.prune(cache, "arm64", keep=out)
    return out
