"""Discarded HID scans: logged with their reason and what was typed; a scanner ending its scans
with another key than ``scanner.terminator`` named (``doctor --listen``)."""

from __future__ import annotations

import time

import pytest

from hal.scanner import keymaps as km
from hal.scanner import report_discards
from hal.scanner.keys import (
    Discarded,
    KeyDecoder,
    KeyEvent,
    SynEvent,
    preview,
    terminator_hint,
)

evdev = pytest.importorskip("evdev", reason="python-evdev is a Linux-only dependency")
from hal.scanner.evdev_scanner import ScanDiscarded  # noqa: E402 (after the evdev check)
from tests.test_hid_decoder import FakeDevice, Plug, run_reads, scanner, wait_for  # noqa: E402


def typed(text: str, end: int | None, start: float) -> list[object]:
    """Real ``evdev.InputEvent`` objects: ``text`` on a US scanner 5 ms a key, then the
    key ``end`` (none when ``None``)."""
    strokes = [km.KEYMAPS["us"].strokes(c) for c in text]
    if end is not None:
        strokes.append((end, 0))
    out, t = [], start
    for code, level in strokes:
        sec, usec = int(t), int((t % 1) * 1e6)
        mods = [km.KEY_LEFTSHIFT] if level else []
        out += [evdev.InputEvent(sec, usec, 1, m, 1) for m in mods]
        out += [evdev.InputEvent(sec, usec, 1, code, 1), evdev.InputEvent(sec, usec, 0, 0, 0),
                evdev.InputEvent(sec, usec, 1, code, 0)]
        out += [evdev.InputEvent(sec, usec, 1, m, 0) for m in mods]
        out += [evdev.InputEvent(sec, usec, 0, 0, 0)]
        t += 0.005
    return out


def decoded(events: list[object], terminator: str) -> list[object]:
    from hal.scanner.evdev_scanner import to_event

    decoder = KeyDecoder("us", terminator=terminator)
    out: list[object] = []
    for raw in events:
        event = to_event(raw)
        if event is not None:
            out += decoder.feed(event)
    return out + decoder.finish()


@pytest.mark.parametrize(("configured", "end", "sent"), [
    ("enter", km.KEY_TAB, "tab"), ("tab", km.KEY_ENTER, "enter"), ("tab", km.KEY_KPENTER, "enter"),
])
def test_a_scan_ended_by_the_other_terminator_names_it(configured: str, end: int,
                                                       sent: str) -> None:
    [gone] = decoded(typed("IT-004512", end, 100.0), configured)
    assert isinstance(gone, Discarded) and gone.timed_out
    assert gone.typed == "IT-004512" + ("\t" if sent == "tab" else "\r")
    hint = terminator_hint(gone, configured)
    assert hint is not None and f'set scanner.terminator = "{sent}"' in hint
    assert f"ends its scans with {sent.capitalize()}, not {configured.capitalize()}" in hint


def test_a_scan_without_terminator_says_none_was_sent() -> None:
    [gone] = decoded(typed("IT-004512", None, 100.0), "enter")
    hint = terminator_hint(gone, "enter")
    assert hint is not None and "sent no terminator (Enter expected)" in hint


def test_the_configured_terminator_and_other_discards_give_no_hint() -> None:
    assert [s.payload for s in decoded(typed("IT-1", km.KEY_ENTER, 100.0), "enter")] == [b"IT-1"]
    decoder = KeyDecoder("us")
    events = [KeyEvent(km.KEY_I, 1, 100.0), SynEvent(True, 100.001),
              KeyEvent(km.KEY_T, 1, 100.002)]
    out = [o for e in events for o in decoder.feed(e)] + decoder.finish()
    assert len(out) == 1 and "SYN_DROPPED" in out[0].reason
    assert terminator_hint(out[0], "enter") is None
    assert terminator_hint(Discarded("no terminator", 1.0, "", True), "enter") is None


def test_preview_escapes_and_shortens() -> None:
    assert preview('IT-4\t"\x1b') == '"IT-4\\t\\"\\x1b"'
    assert preview("A" * 50) == '"' + "A" * 40 + '" and 10 more'


def test_the_scanner_logs_each_discard_and_reports_it_when_asked(
        caplog: pytest.LogCaptureFixture) -> None:
    dev = FakeDevice("/dev/input/event5")
    hid = scanner(Plug(dev), "/dev/input/event5")
    report_discards([hid, object()])
    assert hid.report_discards
    got, thread = run_reads(hid)
    try:
        wait_for(lambda: dev.grabbed)
        dev.push(*typed("IT-004512", km.KEY_TAB, time.time()))
        wait_for(lambda: len(got) == 1)
        dev.push(evdev.InputEvent(int(time.time()), 0, 1, km.KEY_A, 1),
                 evdev.InputEvent(int(time.time()), 0, 0, 3, 0))  # SYN_DROPPED
        wait_for(lambda: len(got) == 2)
    finally:
        hid.close()
        thread.join(2)
    tab, dropped = got
    assert isinstance(tab, ScanDiscarded) and tab.typed == "IT-004512\t"
    assert tab.lines() == [
        ('hid      scan discarded: no terminator within 0.1 s of the last key (10 characters '
         'typed); typed "IT-004512\\t"'),
        ('hid      the scanner ends its scans with Tab, not Enter: set scanner.terminator = '
         '"tab" (or set the scanner\'s suffix to Enter)')]
    assert isinstance(dropped, ScanDiscarded) and dropped.hint is None
    assert "SYN_DROPPED" in dropped.reason and dropped.typed == "a"
    assert 'typed "IT-004512\\t"; the scanner ends its scans with Tab' in caplog.text
    assert 'events dropped by the kernel (SYN_DROPPED); typed "a"' in caplog.text


def test_without_asking_a_discard_is_only_logged(caplog: pytest.LogCaptureFixture) -> None:
    dev = FakeDevice("/dev/input/event5")
    hid = scanner(Plug(dev), "/dev/input/event5", terminator="tab")
    got, thread = run_reads(hid)
    try:
        wait_for(lambda: dev.grabbed)
        dev.push(*typed("IT-9", km.KEY_ENTER, time.time()))
        wait_for(lambda: "scan discarded" in caplog.text)
        dev.push(*typed("IT-5", km.KEY_TAB, time.time()))
        wait_for(lambda: len(got) == 1)
    finally:
        hid.close()
        thread.join(2)
    assert got[0].payload == b"IT-5"
    assert 'typed "IT-9\\r"; the scanner ends its scans with Enter, not Tab' in caplog.text


def test_doctor_listen_prints_a_discard_and_its_hint() -> None:
    from firmware.config import Config
    from firmware.doctor import describe

    item = ScanDiscarded("hid", "no terminator within 0.1 s of the last key (4 characters "
                         "typed)", "IT-1", "the scanner sent no terminator (Enter expected): "
                         "set the scanner's suffix to Enter", 1.0)
    assert describe(item, Config()).splitlines() == [
        ('hid      scan discarded: no terminator within 0.1 s of the last key (4 characters '
         'typed); typed "IT-1"'),
        ("hid      the scanner sent no terminator (Enter expected): set the scanner's suffix "
         "to Enter")]
