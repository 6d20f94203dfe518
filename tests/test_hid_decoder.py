"""The HID key decoder: layouts, modifiers, timing, faults; and the evdev scanner's loop."""

from __future__ import annotations

import errno
import os
import threading
import time
from collections import deque
from types import SimpleNamespace

import pytest

from hal.errors import DeviceError
from hal.scanner import keymaps as km
from hal.scanner.evtest import EvtestError, parse_evtest
from hal.scanner.keys import Discarded, KeyDecoder, KeyEvent, Scan, SynEvent

SHIFT, RSHIFT, CTRL, ALTGR = km.KEY_LEFTSHIFT, km.KEY_RIGHTSHIFT, km.KEY_LEFTCTRL, km.KEY_RIGHTALT
LEVEL_MODS = {0: (), 1: (SHIFT,), 2: (ALTGR,)}


class Typist:
    """Key events as a scanner types them: press, release, ``gap`` seconds per character."""

    def __init__(self, keymap: str = "us", start: float = 100.0, gap: float = 0.008) -> None:
        self.keymap = km.keymap(keymap)
        self.t = start
        self.gap = gap
        self.events: list[KeyEvent | SynEvent] = []

    def stroke(self, code: int, mods: tuple[int, ...] = ()) -> Typist:
        for m in mods:
            self.events.append(KeyEvent(m, 1, self.t))
        self.events += [KeyEvent(code, 1, self.t), SynEvent(False, self.t)]
        self.events += [KeyEvent(code, 0, self.t + 0.002)]
        self.events += [KeyEvent(m, 0, self.t + 0.002) for m in mods]
        self.events.append(SynEvent(False, self.t + 0.002))
        self.t += self.gap
        return self

    def text(self, text: str) -> Typist:
        for ch in text:
            if ch == "\x1d":
                self.stroke(km.KEY_RIGHTBRACE, (CTRL,))
                continue
            found = self.keymap.strokes(ch)
            assert found is not None, f"{ch!r} is not on the {self.keymap.name} keymap"
            code, level = found
            self.stroke(code, LEVEL_MODS[level])
        return self

    def enter(self) -> Typist:
        return self.stroke(km.KEY_ENTER)

    def wait(self, seconds: float) -> Typist:
        self.t += seconds
        return self


def decode(events: list[KeyEvent | SynEvent], decoder: KeyDecoder | None = None,
           ) -> list[Scan | Discarded]:
    decoder = decoder or KeyDecoder()
    return [o for e in events for o in decoder.feed(e)] + decoder.finish()


def payloads(outcomes: list[Scan | Discarded]) -> list[bytes | str]:
    return [o.payload if isinstance(o, Scan) else "discarded: " + o.reason for o in outcomes]


LABELS = ["IT-004512", "5CG1234XYZ", "https://assets.example.com/hardware/42",
          "LOC:Storage B", "(8004)0614141IT-0001", "a/b_c.d;e=f+g*h?i#j$k%l&m!n@o"]


@pytest.mark.parametrize("layout", ["us", "uk", "de", "fr"])
def test_the_same_labels_typed_on_each_layout_decode_the_same(layout: str) -> None:
    typist = Typist(layout)
    for label in LABELS:
        typist.text(label).enter().wait(1.0)
    outcomes = decode(typist.events, KeyDecoder(layout))
    assert payloads(outcomes) == [label.encode() for label in LABELS]


def test_layouts_differ_where_the_keyboards_do() -> None:
    # Hand-written from the keyboards, not derived from the tables under test.
    def one(layout: str, code: int, mods: tuple[int, ...] = ()) -> bytes | str:
        return payloads(decode(Typist().stroke(code, mods).enter().events,
                               KeyDecoder(layout)))[0]

    assert [one(k, km.KEY_Y) for k in ("us", "uk", "de", "fr")] == [b"y", b"y", b"z", b"y"]
    assert [one(k, km.KEY_Q) for k in ("us", "de", "fr")] == [b"q", b"q", b"a"]
    assert [one(k, km.KEY_2, (SHIFT,)) for k in ("us", "uk", "de", "fr")] == [
        b"@", b'"', b'"', b"2"]
    assert one("fr", km.KEY_1) == b"&" and one("fr", km.KEY_0, (ALTGR,)) == b"@"
    assert one("de", km.KEY_Q, (ALTGR,)) == b"@" and one("de", km.KEY_SLASH) == b"-"
    assert one("uk", km.KEY_APOSTROPHE, (SHIFT,)) == b"@"
    assert one("uk", km.KEY_3, (SHIFT,)) == "£".encode()
    assert one("fr", km.KEY_SEMICOLON) == b"m" and one("fr", km.KEY_M) == b","


def test_both_shifts_and_caps_lock() -> None:
    typist = Typist()
    typist.stroke(km.KEY_A, (RSHIFT,)).stroke(km.KEY_B).stroke(km.KEY_1, (RSHIFT,))
    typist.stroke(km.KEY_CAPSLOCK)
    typist.stroke(km.KEY_C).stroke(km.KEY_D, (SHIFT,)).stroke(km.KEY_2).stroke(km.KEY_3, (SHIFT,))
    typist.enter()
    typist.stroke(km.KEY_E).enter()  # caps lock stays on across scans
    typist.stroke(km.KEY_CAPSLOCK).stroke(km.KEY_F).enter()
    assert payloads(decode(typist.events)) == [b"Ab!Cd2#", b"E", b"f"]


def test_dead_keys_are_typed_with_space_and_anything_else_discards() -> None:
    typist = Typist("de")
    typist.text("A").stroke(km.KEY_GRAVE).stroke(km.KEY_SPACE).text("B").enter().wait(1)
    typist.stroke(km.KEY_GRAVE).stroke(km.KEY_A).enter()
    assert payloads(decode(typist.events, KeyDecoder("de"))) == [
        b"A^B", "discarded: dead key '^' followed by 'a': composed characters are not supported"]


def test_fast_and_slow_scanner_bursts_both_decode() -> None:
    fast = Typist(gap=0.001).text("IT-004512").enter().events
    slow = Typist(gap=0.06).text("IT-004512").enter().events  # the slowest seen in the field
    assert payloads(decode(fast)) == payloads(decode(slow)) == [b"IT-004512"]


def test_doubled_characters_are_kept() -> None:
    assert payloads(decode(Typist().text("IT-0022881").enter().events)) == [b"IT-0022881"]


def test_a_person_typing_slowly_is_discarded_never_cut_into_scans() -> None:
    events = Typist(gap=0.4).text("ab").enter().events
    outcomes = decode(events)
    assert all(isinstance(o, Discarded) for o in outcomes) and len(outcomes) == 2
    assert outcomes[0].reason == "no terminator within 0.1 s of the last key (1 character typed)"
    # when the scan went stale: its last key event (the release) plus the timeout
    assert outcomes[0].at == pytest.approx(100.0 + 0.002 + 0.1)
    # a longer timeout takes the same typing as a scan
    assert payloads(decode(events, KeyDecoder(inter_key_timeout=0.5))) == [b"ab"]


def test_a_scan_without_terminator_times_out_by_expire_and_at_the_end() -> None:
    decoder = KeyDecoder()
    for event in Typist().text("IT-9").events:
        assert decoder.feed(event) == []
    assert decoder.deadline == pytest.approx(100.0 + 3 * 0.008 + 0.002 + 0.1)
    assert decoder.expire(decoder.deadline) == []  # not yet: strictly after
    (gone,) = decoder.expire(decoder.deadline + 0.001)
    assert isinstance(gone, Discarded) and "4 characters" in gone.reason
    assert decoder.deadline is None and decoder.finish() == []


def test_syn_dropped_discards_the_scan_in_progress_and_its_tail() -> None:
    typist = Typist().text("IT-00")
    typist.events.append(SynEvent(True, typist.t))
    typist.events.append(KeyEvent(SHIFT, 1, typist.t))  # rest of the cut report: ignored
    typist.events.append(SynEvent(False, typist.t))
    typist.text("4512").enter().wait(1).text("IT-7").enter()
    outcomes = decode(typist.events)
    assert payloads(outcomes) == ["discarded: events dropped by the kernel (SYN_DROPPED)",
                                  b"IT-7"]  # shift state forgotten: not "it-7"
    assert outcomes[0].at == pytest.approx(100.0 + 9 * 0.008)


def test_a_drop_that_lost_the_terminator_ends_at_the_timeout() -> None:
    typist = Typist().text("IT-00")
    typist.events.append(SynEvent(True, typist.t))
    typist.wait(1).text("IT-8").enter()
    assert payloads(decode(typist.events)) == [
        "discarded: events dropped by the kernel (SYN_DROPPED)", b"IT-8"]


def test_over_long_input_is_discarded_with_its_tail() -> None:
    decoder = KeyDecoder(max_length=5)
    events = Typist().text("123456789").enter().wait(1).text("12345").enter().events
    assert payloads(decode(events, decoder)) == [
        "discarded: longer than 5 characters", b"12345"]


def test_ctrl_right_brace_is_gs_and_aim_prefix_passes_through() -> None:
    events = Typist().text("]C18004IT-0001\x1d21SN42").enter().events
    assert payloads(decode(events)) == [b"]C18004IT-0001\x1d21SN42"]
    rs = Typist().stroke(km.KEY_6, (CTRL, SHIFT)).stroke(km.KEY_A, (CTRL,)).enter().events
    assert payloads(decode(rs)) == [b"\x1e\x01"]
    for layout in ("de", "fr"):  # the key at the US "]" position, as Windows binds it
        gs = Typist(layout).text("A").stroke(km.KEY_RIGHTBRACE, (CTRL,)).text("B").enter()
        assert payloads(decode(gs.events, KeyDecoder(layout))) == [b"A\x1dB"]


def test_unknown_keys_discard_the_scan_with_a_reason() -> None:
    events = (Typist().text("IT-").stroke(59).text("55").enter().wait(1)
              .text("X").stroke(km.KEY_BACKSPACE).enter().wait(1)
              .text("Y").stroke(km.KEY_1, (km.KEY_LEFTALT,)).enter().wait(1)
              .text("IT-1").enter().events)
    assert payloads(decode(events)) == [
        "discarded: unknown key code 59 on the us keymap",
        "discarded: unknown key KEY_BACKSPACE on the us keymap",
        "discarded: Alt or Meta with KEY_1 is not supported",
        b"IT-1"]


def test_terminators_enter_keypad_enter_and_tab() -> None:
    events = Typist().text("A").enter().text("B").stroke(km.KEY_KPENTER).text("C")
    events = events.stroke(km.KEY_TAB).text("D").enter().events
    assert payloads(decode(events)) == [b"A", b"B", b"C\tD"]
    assert payloads(decode(events, KeyDecoder(terminator="tab"))) == [
        b"A\rB\rC", "discarded: no terminator within 0.1 s of the last key (2 characters typed)"]


def test_enter_alone_and_autorepeat_are_nothing() -> None:
    events = Typist().enter().text("A").events
    events.append(KeyEvent(km.KEY_A, 2, events[-1].at))
    events += Typist(start=events[-1].at + 0.004).enter().events
    assert payloads(decode(events)) == [b"A"]


def test_two_scanners_decode_independently() -> None:
    one = Typist("us", gap=0.01).text("IT-1").enter().events
    two = Typist("de", start=100.003, gap=0.01).text("YZ-2").enter().events
    merged = sorted([(e.at, 0, e) for e in one] + [(e.at, 1, e) for e in two],
                    key=lambda x: (x[0], x[1]))
    decoders = [KeyDecoder("us"), KeyDecoder("de")]
    got: list[list[bytes | str]] = [[], []]
    for _, which, event in merged:
        got[which] += payloads(decoders[which].feed(event))
    assert got == [[b"IT-1"], [b"YZ-2"]]


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown keymap"):
        KeyDecoder("dvorak")
    with pytest.raises(ValueError, match="terminator"):
        KeyDecoder(terminator="space")
    with pytest.raises(ValueError, match="timeout"):
        KeyDecoder(inter_key_timeout=0)


# evtest text

def test_evtest_lines_become_events() -> None:
    text = """Input driver version is 1.0.1
Input device name: "Scanner"
Testing ... (interrupt to exit)
Event: time 1700000000.123456, type 4 (EV_MSC), code 4 (MSC_SCAN), value 70004
Event: time 1700000000.123456, type 1 (EV_KEY), code 30 (KEY_A), value 1
Event: time 1700000000.123456, -------------- SYN_REPORT ------------
-------------- SYN_DROPPED ------------
Event: time 1700000000.200000, >>>>>>>>>>>>>> SYN_DROPPED <<<<<<<<<<<<
Event: time 1700000000.300000, type 17 (EV_LED), code 1 (LED_CAPSL), value 1
"""
    assert list(parse_evtest(text.splitlines())) == [
        KeyEvent(30, 1, 1700000000.123456), SynEvent(False, 1700000000.123456),
        SynEvent(True, 1700000000.123456), SynEvent(True, 1700000000.2)]


@pytest.mark.parametrize(("line", "problem"), [
    ("Event: time 1700000000.1, type 1 (EV_KEY), code 30 (KEY_A), value 7", "key value '7'"),
    ("Event: time 1700000000.1, type 1 (EV_KEY), code 30 (KEY_A)", "not an evtest event line"),
    ("Input device name: \"late header\"", "not an evtest event line"),
])
def test_a_bad_evtest_line_is_named(line: str, problem: str) -> None:
    text = ["Testing ... (interrupt to exit)",
            "Event: time 1700000000.000001, type 1 (EV_KEY), code 30 (KEY_A), value 1", line]
    with pytest.raises(EvtestError, match=f"rec.txt, line 3: {problem}") as caught:
        list(parse_evtest(text, "rec.txt"))
    assert caught.value.exit_code == 2


# The evdev backend, on fake devices

evdev = pytest.importorskip("evdev")
from hal.read import ReaderState  # noqa: E402
from hal.scanner.evdev_scanner import HidScanner  # noqa: E402

KEYBOARD_CAPS = {1: list(range(1, 120))}


class FakeDevice:
    """An ``evdev.InputDevice`` stand-in: a pipe as its descriptor, events queued by tests."""

    def __init__(self, path: str, name: str = "Scanner", vendor: int = 0x05e0,
                 product: int = 0x1200, caps: dict[int, list[int]] | None = None) -> None:
        self.path, self.name = path, name
        self.info = SimpleNamespace(vendor=vendor, product=product)
        self.caps = KEYBOARD_CAPS if caps is None else caps
        self.grabbed = self.closed = False
        self.grabs = 0
        self.unplugged = False
        self.queue: deque[object] = deque()
        self._r, self._w = os.pipe()
        os.set_blocking(self._r, False)

    def capabilities(self) -> dict[int, list[int]]:
        return self.caps

    def grab(self) -> None:
        if self.grabbed:
            raise OSError(errno.EBUSY, "Device or resource busy")
        self.grabbed = True
        self.grabs += 1

    def ungrab(self) -> None:
        if not self.grabbed:
            raise OSError(errno.EINVAL, "Invalid argument")
        self.grabbed = False

    def fileno(self) -> int:
        return self._r

    def push(self, *events: object) -> None:
        self.queue.extend(events)
        os.write(self._w, b".")

    def unplug(self) -> None:
        self.unplugged = True
        os.write(self._w, b".")

    def read(self):  # noqa: ANN201 - a generator like evdev's
        if self.unplugged:
            raise OSError(errno.ENODEV, "No such device")
        try:
            os.read(self._r, 4096)
        except BlockingIOError:
            pass
        if not self.queue:
            raise BlockingIOError
        while self.queue:
            yield self.queue.popleft()

    def close(self) -> None:
        self.closed = True


def input_events(text: str, start: float | None = None) -> list[object]:
    """Real ``evdev.InputEvent`` objects typing ``text`` + Enter on a US scanner, 5 ms apart."""
    t = time.time() if start is None else start
    out = []
    for code, level in [km.KEYMAPS["us"].strokes(c) for c in text] + [(km.KEY_ENTER, 0)]:
        sec, usec = int(t), int((t % 1) * 1e6)
        mods = [SHIFT] if level else []
        out += [evdev.InputEvent(sec, usec, 1, m, 1) for m in mods]
        out += [evdev.InputEvent(sec, usec, 4, 4, 0x70004), evdev.InputEvent(sec, usec, 1, code, 1),
                evdev.InputEvent(sec, usec, 0, 0, 0), evdev.InputEvent(sec, usec, 1, code, 0)]
        out += [evdev.InputEvent(sec, usec, 1, m, 0) for m in mods]
        out += [evdev.InputEvent(sec, usec, 0, 0, 0)]
        t += 0.005
    return out


class Plug:
    """A fake /dev/input: the devices present, opened by path."""

    def __init__(self, *devices: FakeDevice) -> None:
        self.devices = {d.path: d for d in devices}
        self.opened: list[str] = []
        self.listed = 0

    def list_devices(self) -> list[str]:
        self.listed += 1
        return list(self.devices)

    def open_device(self, path: str) -> FakeDevice:
        self.opened.append(path)
        if path not in self.devices:
            raise FileNotFoundError(errno.ENOENT, "No such file or directory", path)
        device = self.devices[path]
        device.closed = False
        return device


def scanner(plug: Plug, device: str, **kwargs: object) -> HidScanner:
    return HidScanner(device, list_devices=plug.list_devices, open_device=plug.open_device,
                      poll_interval=0.02, **kwargs)


def run_reads(hid: HidScanner) -> tuple[list[object], threading.Thread]:
    got: list[object] = []
    thread = threading.Thread(target=lambda: got.extend(hid.reads()), daemon=True)
    thread.start()
    return got, thread


def wait_for(condition, timeout: float = 5.0) -> None:  # noqa: ANN001
    end = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < end, "timed out"
        time.sleep(0.005)


def test_device_selection_by_path_vendor_product_and_name() -> None:
    media = FakeDevice("/dev/input/event3", caps={1: [113, 114, 115]})  # same ids, no keys
    kbd = FakeDevice("/dev/input/event10")
    other = FakeDevice("/dev/input/event2", name="AT keyboard", vendor=0x0001, product=0x0001)
    plug = Plug(media, kbd, other)
    for spec in ("05e0:1200", "05E0:1200", "Scanner", "/dev/input/event10"):
        hid = scanner(plug, spec)
        assert hid._find() is kbd, spec
        assert not other.grabbed
        hid.close()
    assert media.closed and other.closed  # looked at, not kept
    assert scanner(plug, "dead:beef")._find() is None
    assert scanner(plug, "/dev/input/by-id/missing")._find() is None


def test_two_matching_keyboards_take_the_first_by_path(caplog: pytest.LogCaptureFixture) -> None:
    a, b = FakeDevice("/dev/input/event9"), FakeDevice("/dev/input/event12")
    hid = scanner(Plug(b, a), "Scanner")
    assert hid._find() is a and b.closed
    assert "2 keyboards match scanner Scanner" in caplog.text


def test_reads_grab_decode_and_ungrab_on_close() -> None:
    dev = FakeDevice("/dev/input/event5")
    hid = scanner(Plug(dev), "05e0:1200", source="hid-1")
    got, thread = run_reads(hid)
    wait_for(lambda: dev.grabbed)
    dev.push(*input_events("IT-004512"))
    dev.push(*input_events("]C1X"))
    wait_for(lambda: len(got) == 2)
    assert [(r.payload, r.symbology, r.source) for r in got] == [
        (b"IT-004512", "UNKNOWN", "hid-1"), (b"]C1X", "UNKNOWN", "hid-1")]
    started = time.monotonic()
    hid.close()  # from another thread, while reads() is blocked in select
    thread.join(2)
    assert not thread.is_alive() and time.monotonic() - started < 1
    assert not dev.grabbed and dev.closed
    assert list(hid.reads()) == []


def test_a_partial_scan_times_out_while_no_key_comes(caplog: pytest.LogCaptureFixture) -> None:
    dev = FakeDevice("/dev/input/event5")
    hid = scanner(Plug(dev), "/dev/input/event5")
    got, thread = run_reads(hid)
    wait_for(lambda: dev.grabbed)
    dev.push(*input_events("IT-0")[:-4])  # no Enter
    wait_for(lambda: "scan discarded: no terminator" in caplog.text)
    dev.push(*input_events("IT-5"))
    wait_for(lambda: len(got) == 1)
    assert got[0].payload == b"IT-5"
    hid.close()
    thread.join(2)


def test_unplug_then_replug_is_waited_for_and_grabbed_again(
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("INFO")
    dev = FakeDevice("/dev/input/event5")
    plug = Plug(dev)
    hid = scanner(plug, "Scanner")
    got, thread = run_reads(hid)
    wait_for(lambda: dev.grabbed)
    dev.push(*input_events("A1"))
    wait_for(lambda: len(got) == 1)
    del plug.devices[dev.path]
    dev.unplug()
    wait_for(lambda: dev.closed)
    listed = plug.listed
    time.sleep(0.1)
    polls = plug.listed - listed
    assert 0 < polls < 20  # polled every 0.02 s, not in a busy loop
    assert caplog.text.count("scanner disconnected") == 1
    assert "not found" not in caplog.text
    back = FakeDevice("/dev/input/event7")
    plug.devices[back.path] = back
    wait_for(lambda: back.grabbed)
    back.push(*input_events("B2"))
    wait_for(lambda: len(got) == 4)
    assert got[0].payload == b"A1" and got[3].payload == b"B2"
    gone, again = got[1], got[2]
    assert isinstance(gone, ReaderState) and isinstance(again, ReaderState)
    assert (gone.source, gone.connected, gone.detail) == ("hid", False, "No such device")
    assert (again.connected, again.detail) == (True, "connected again")
    hid.close()
    thread.join(2)
    assert not thread.is_alive() and not back.grabbed and back.closed


def test_absent_at_start_is_waited_for_and_close_stops_the_wait(
        caplog: pytest.LogCaptureFixture) -> None:
    hid = scanner(Plug(), "/dev/input/by-id/usb-scanner-event-kbd")
    got, thread = run_reads(hid)
    wait_for(lambda: "not found: waiting" in caplog.text)
    hid.close()
    thread.join(2)
    assert not thread.is_alive() and got == []
    assert caplog.text.count("not found: waiting") == 1


def test_a_device_another_program_holds_is_an_error_and_released() -> None:
    dev = FakeDevice("/dev/input/event5")
    dev.grabbed = True  # held elsewhere
    hid = scanner(Plug(dev), "Scanner")
    with pytest.raises(DeviceError, match="another program holds it"):
        next(hid.reads())
    assert dev.closed
    hid.close()


def test_a_consumer_that_stops_early_releases_the_device() -> None:
    dev = FakeDevice("/dev/input/event5")
    hid = scanner(Plug(dev), "Scanner")
    dev.push(*input_events("X9"))
    reads = hid.reads()
    assert next(reads).payload == b"X9" and dev.grabbed
    reads.close()
    assert not dev.grabbed and dev.closed
    hid.close()


def test_permission_denied_names_the_input_group() -> None:
    def refuse(path: str) -> FakeDevice:
        raise PermissionError(errno.EACCES, "Permission denied", path)

    hid = HidScanner("/dev/input/event0", list_devices=list, open_device=refuse)
    with pytest.raises(DeviceError, match="'input' group"):
        next(hid.reads())
    hid.close()
