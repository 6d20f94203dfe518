"""The camera: ``v4l2loopback`` (built by DKMS for the image's kernel) as ``/dev/video0``, fed
from inside the guest with frames of a Code 128 label; the service reads it with its real
``v4l2`` backend (linuxpy), and the verdict for the label's asset comes on the feedback
port."""

from __future__ import annotations

import io

from hal import labels
from tests.vm.audit import ROOM, enter_room, feedback_after, make_room
from tests.vm.machine import Machine
from tests.vm.service import error_lines, set_section, wait_ready

#: Writes a picture to a v4l2loopback device as YUYV frames (the luminance in every other
#: byte), ``count`` times, then blank frames, at 10 frames a second, until stopped.
FEEDER = """
import sys, time
import numpy as np
from PIL import Image
from linuxpy.video.device import BufferType, Device

def yuyv(gray):
    out = np.full((gray.shape[0], gray.shape[1] * 2), 128, dtype=np.uint8)
    out[:, 0::2] = gray
    return out.tobytes()

picture = np.asarray(Image.open(sys.argv[2]).convert("L").resize((640, 480)))
blank = np.full_like(picture, 200)
device = Device(sys.argv[1])
device.open()
device.set_format(BufferType.VIDEO_OUTPUT, 640, 480, "YUYV")
print("feeding", flush=True)
sent = 0
while True:
    device.write(yuyv(picture if sent < int(sys.argv[3]) else blank))
    sent += 1
    time.sleep(0.1)
"""

CAMERA = """[camera]
backend = "v4l2"
device = "/dev/video0"
width = 640
height = 480
fps = 10
decoder = "zbar"
"""


def feed(machine: Machine, picture: bytes, frames: int) -> None:
    """Start the feeder in the guest (it runs until the machine stops)."""
    machine.sh("cat > /tmp/label.png", stdin=picture)
    machine.sh("cat > /tmp/feeder.py", stdin=FEEDER.encode())
    machine.sh(f"nohup /opt/stocktaker/venv/bin/python /tmp/feeder.py /dev/video0"
               f" /tmp/label.png {frames} >/tmp/feeder.log 2>&1 &")
    machine.sh("for i in $(seq 60); do grep -q feeding /tmp/feeder.log && exit 0; sleep 1;"
               " done; cat /tmp/feeder.log; exit 1")


def test_a_label_before_the_camera_gets_its_verdict(make_box, tmp_path) -> None:
    room = make_room(tags=2, epcs=0)
    manifest = tmp_path / "expected.csv"
    room.write_manifest(manifest)
    box = make_box(manifest=manifest)
    machine = box.machine
    machine.start()
    machine.wait_agent()
    wait_ready(machine)
    enter_room(machine, ROOM)

    machine.sh("modprobe v4l2loopback exclusive_caps=1 video_nr=0 card_label=box-camera")
    tag = room.tags[1]
    frame = labels.place_in_frame(labels.code128_label(tag, tag), seed=3)
    png = io.BytesIO()
    frame.save(png, format="PNG")
    assert machine.feedback is not None
    start = machine.feedback.count()
    feed(machine, png.getvalue(), frames=3000)
    set_section(machine, CAMERA)
    state = wait_ready(machine)
    _, verdict = feedback_after(machine, start, timeout=600)
    _, journal = machine.sh("journalctl -b --no-pager -o cat -u stocktaker.service",
                            check=False)
    assert verdict.startswith("[feedback] verified"), f"{verdict}\n{journal[-3000:]}"
    # the feedback line names the verdict, the service's log the asset read
    assert tag in journal, journal[-3000:]
    assert state["ActiveState"] == "active"
    assert error_lines(machine) == []
    machine.power_off()
