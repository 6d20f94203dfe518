"""The OLED's I²C bus: the kernel's ``i2c-stub`` answering at 0x3C, the service's display
the real luma.oled ``ssd1306`` on it; every SMBus write is recorded by the kernel's
``smbus_write`` tracepoint, the panel's memory rebuilt from them and compared with what
:mod:`firmware.screens` draws for the verdict."""

from __future__ import annotations

import re

from PIL import Image

from firmware.screens import verdict_screen
from firmware.verdicts import Progress, Verdict, VerdictKind
from sync.asset import Asset
from tests.vm.audit import ROOM, enter_room, make_room, scan
from tests.vm.machine import Machine
from tests.vm.service import error_lines, set_section, wait_ready

WIDTH, HEIGHT = 128, 64
TRACING = "/sys/kernel/tracing"
#: One SMBus write as the tracepoint prints it: bus, address, command (the SSD1306's
#: control byte: 0x00 commands, 0x40 data), protocol, length and the bytes (length first).
WRITE = re.compile(r"smbus_write: i2c-(\d+) a=03c f=\w+ c=([0-9a-f]+) (\w+) l=(\d+)"
                   r" \[([0-9a-f-]*)\]")

STUB = f"""
set -e
modprobe i2c-stub chip_addr=0x3c
modprobe i2c-dev
mountpoint -q {TRACING} || mount -t tracefs nodev {TRACING}
echo 8192 > {TRACING}/buffer_size_kb
echo 1 > {TRACING}/events/smbus/smbus_write/enable
echo > {TRACING}/trace
for name in /sys/bus/i2c/devices/i2c-*/name; do
  grep -q "SMBus stub" "$name" && basename "$(dirname "$name")"
done
"""


def stub_bus(machine: Machine) -> int:
    """Load i2c-stub (a chip at 0x3C) and start the trace; the stub's bus number."""
    _, out = machine.sh(STUB)
    return int(out.split()[-1].removeprefix("i2c-"))


def use_oled(machine: Machine, port: int) -> None:
    """The box's ``[display]`` made the real OLED on ``/dev/i2c-<port>``; service restarted."""
    set_section(machine, f"""[display]
backend = "oled"
driver = "ssd1306"
interface = "i2c"
i2c_port = {port}
i2c_address = 0x3C
""")


def frames(trace: str, port: int) -> list[Image.Image]:
    """The panel's memory after each full frame written (luma's ssd1306: column and page
    address commands, then 1,024 bytes of data, page by page, bit 0 the top row)."""
    shown: list[Image.Image] = []
    data: list[int] = []
    for found in WRITE.finditer(trace):
        bus, control, protocol, _, raw = found.groups()
        if int(bus) != port:
            continue
        assert protocol == "I2C_BLOCK_DATA", found.group(0)
        block = [int(b, 16) for b in raw.split("-")] if raw else []
        payload = block[1:1 + block[0]]
        if int(control, 16) == 0x00:
            if 0x21 in payload[:1]:  # COLUMNADDR: a new frame starts
                data = []
            continue
        data += payload
        if len(data) == WIDTH * HEIGHT // 8:
            image = Image.new("1", (WIDTH, HEIGHT))
            for offset, byte in enumerate(data):
                page, x = divmod(offset, WIDTH)
                for bit in range(8):
                    if byte >> bit & 1:
                        image.putpixel((x, page * 8 + bit), 1)
            shown.append(image)
            data = []
    return shown


def test_the_verdict_is_drawn_on_the_oled_bus(make_box, tmp_path) -> None:
    room = make_room(tags=2, epcs=0)
    manifest = tmp_path / "expected.csv"
    room.write_manifest(manifest)
    box = make_box(manifest=manifest)
    machine = box.machine
    machine.start()
    machine.wait_agent()
    wait_ready(machine)
    port = stub_bus(machine)
    use_oled(machine, port)
    wait_ready(machine)

    enter_room(machine, ROOM)
    tag = room.tags[0]
    assert scan(machine, tag).startswith("[feedback] verified")
    _, trace = machine.sh(f"cat {TRACING}/trace")
    _, journal = machine.sh("journalctl -b --no-pager -o cat -u stocktaker.service",
                            check=False)
    expected_count = len(room.tags) + len(room.missing)
    want = verdict_screen(Verdict(VerdictKind.VERIFIED, tag,
                                  Asset(asset_tag=tag, name="Laptop", location=ROOM)),
                          Progress(ROOM, 1, expected_count))
    drawn = frames(trace, port)
    assert drawn, f"no frame on i2c-{port}:\n{trace[-2000:]}\n{journal[-3000:]}"
    assert any(frame.tobytes() == want.convert("1").tobytes() for frame in drawn), (
        f"{len(drawn)} frames, none the verdict's screen")
    assert error_lines(machine) == []
    machine.power_off()
