"""The decode pipeline: zbar and zxing-cpp together on generated frames, misread guards,
the redundancy rule, the backend choice and its errors."""

from __future__ import annotations

import logging
import sys

import numpy as np
import pytest
import segno
from PIL import Image, ImageFilter

from hal.labels import blank_frame, code128_label, place_in_frame, qr_label
from hal.camera.decode import DEFAULT_SYMBOLOGIES, open_decoder
from hal.camera.decode_checks import code32_from_code39, gtin_check_ok, upce_to_upca, value_ok
from hal.camera.decode_cues import barcode_region
from hal.camera.decode_passes import Found, Libraries
from hal.camera.pipeline import Redundancy, StillDecoder, StreamDecoder, merge
from hal.errors import DeviceError

pytest.importorskip("zxingcpp", reason="zxing-cpp is not installed (stocktaker[zxing])")


def ean13_label(digits12: str) -> Image.Image:
    import barcode
    from barcode.writer import ImageWriter

    symbol = barcode.EAN13(digits12, writer=ImageWriter(mode="L", dpi=254))
    return symbol.render({"module_width": 0.3, "module_height": 12.0, "quiet_zone": 4.0,
                          "font_size": 8, "text_distance": 3.0})


def datamatrix_label(text: str) -> Image.Image:
    import zxingcpp

    made = zxingcpp.create_barcode(text, zxingcpp.BarcodeFormat.DataMatrix)
    return Image.fromarray(np.asarray(zxingcpp.write_barcode_to_image(made, scale=5))).convert("L")


def micro_qr_label(text: str) -> Image.Image:
    rows = list(segno.make_micro(text).matrix_iter(scale=5, border=2))
    return Image.fromarray(np.where(np.array(rows, dtype=bool), 0, 255).astype(np.uint8))


def perspective(frame: Image.Image, squeeze: float) -> Image.Image:
    width, height = frame.size
    # a quad of the output mapped from the whole frame: one side farther away
    quad = (0, 0, 0, height, width, height - squeeze * height, width, squeeze * height)
    return frame.transform(frame.size, Image.Transform.QUAD, quad, Image.Resampling.BICUBIC)


def glare(frame: Image.Image, at: tuple[int, int], strength: float = 150.0) -> Image.Image:
    pixels = np.asarray(frame, dtype=np.float32)
    ys, xs = np.mgrid[0:pixels.shape[0], 0:pixels.shape[1]]
    spot = np.exp(-((ys - at[1]) ** 2 + (xs - at[0]) ** 2) / (2 * 60.0 ** 2))
    return Image.fromarray(np.clip(pixels + strength * spot, 0, 255).astype(np.uint8))


def two_labels(first: Image.Image, second: Image.Image, seed: int = 0) -> np.ndarray:
    frame = blank_frame(size=(800, 600), seed=seed)
    frame.paste(first.resize((first.width * 3 // 4, first.height * 3 // 4)), (20, 40))
    frame.paste(second, (420, 300))
    return np.asarray(frame.filter(ImageFilter.GaussianBlur(0.6)))


@pytest.fixture(scope="module")
def still() -> StillDecoder:
    return open_decoder("auto", list(DEFAULT_SYMBOLOGIES) + ["ITF"], still=True)


# --- still pictures ---------------------------------------------------------------------------

@pytest.mark.parametrize(("label", "payload", "kind", "distort"), [
    (lambda: qr_label("https://assets.example.com/hardware/7"),
     b"https://assets.example.com/hardware/7", "QR", dict(angle=33, blur=1.2, noise=6)),
    (lambda: code128_label("IT-004512"), b"IT-004512", "CODE128",
     dict(angle=90, blur=0.8, noise=5)),
    (lambda: ean13_label("400638133393"), b"4006381333931", "EAN13",
     dict(angle=-12, blur=1.0, noise=4)),
    (lambda: datamatrix_label("SN12345678"), b"SN12345678", "DATAMATRIX",
     dict(angle=170, blur=0.7, noise=4)),
    (lambda: micro_qr_label("IT4512"), b"IT4512", "MICROQR", dict(angle=8, blur=0.5, noise=3)),
], ids=["qr", "code128", "ean13", "datamatrix", "microqr"])
def test_still_decoder_reads_distorted_labels(still: StillDecoder, label, payload: bytes,
                                              kind: str, distort: dict) -> None:
    frame = place_in_frame(label(), seed=3, **distort)
    assert still.decode(np.asarray(frame)) == [(payload, kind)]
    assert still.decode(np.asarray(perspective(frame, 0.12))) == [(payload, kind)]


def test_still_decoder_reads_through_glare_and_low_contrast(still: StillDecoder) -> None:
    frame = place_in_frame(code128_label("IT-000042"), angle=5, blur=0.9, noise=4, seed=5)
    dim = Image.fromarray((60 + np.asarray(frame, dtype=np.float32) * 0.35).astype(np.uint8))
    assert still.decode(np.asarray(glare(dim, (40, 40)))) == [(b"IT-000042", "CODE128")]


def test_every_code_of_a_frame_is_reported(still: StillDecoder) -> None:
    gray = two_labels(qr_label("https://assets.example.com/hardware/9"),
                      code128_label("IT-000777"))
    assert sorted(still.decode(gray)) == [(b"IT-000777", "CODE128"),
                                          (b"https://assets.example.com/hardware/9", "QR")]


def test_a_frame_without_a_code_reads_nothing(still: StillDecoder) -> None:
    for seed in range(3):
        assert still.decode(np.asarray(blank_frame(seed=seed))) == []


def test_symbologies_not_configured_are_never_reported() -> None:
    only_qr = open_decoder("auto", ["QR"], still=True)
    frame = np.asarray(place_in_frame(code128_label("IT-004512"), seed=1))
    assert only_qr.decode(frame) == []


# --- the guards, on readings -------------------------------------------------------------------

def reading(payload: bytes, kind: str, library: str, box=(100, 100, 300, 160)) -> Found:
    return Found(payload, kind, library, box)


def test_disagreeing_1d_readings_of_one_code_report_nothing() -> None:
    believed, conflicts = merge([reading(b"4006381333931", "EAN13", "zxing"),
                                 reading(b"4006381333948", "EAN13", "zbar", (104, 90, 296, 150))])
    assert believed == [] and conflicts == 1


def test_agreeing_readings_are_one_code_and_distant_ones_two() -> None:
    believed, _ = merge([reading(b"IT-1", "CODE128", "zxing"),
                         reading(b"IT-1", "CODE128", "zbar", (110, 120, 280, 125)),
                         reading(b"IT-2", "CODE128", "zbar", (600, 400, 700, 440))])
    assert [(f.payload, f.library) for f in believed] == [(b"IT-1", "zxing"), (b"IT-2", "zbar")]


def test_a_retail_code_failing_its_check_digit_is_dropped() -> None:
    assert merge([reading(b"4006381333932", "EAN13", "zbar")])[0] == []
    assert value_ok(b"4006381333931", "EAN13") and not value_ok(b"400638133393", "EAN13")
    assert gtin_check_ok(b"036000291452") and not gtin_check_ok(b"036000291453")
    assert upce_to_upca(b"04252614") == b"042100005264"
    assert value_ok(b"04252614", "UPCE") and not value_ok(b"04252615", "UPCE")


def test_zxing_wins_where_zbar_transcoded_a_qr_differently() -> None:
    believed, _ = merge([reading("Grüße".encode(), "QR", "zxing"),
                         reading("GrÃ¼ÃŸe".encode(), "QR", "zbar")])
    assert [f.payload for f in believed] == ["Grüße".encode()]


def test_a_code_32_read_as_code_39_by_zbar_agrees_with_zxing() -> None:
    assert code32_from_code39(b"3PRM8N") == b"A123456788"
    assert code32_from_code39(b"3PRM8P") is None  # check digit fails
    believed, conflicts = merge([reading(b"A123456788", "CODE32", "zxing"),
                                 reading(b"3PRM8N", "CODE39", "zbar")])
    assert [(f.payload, f.symbology) for f in believed] == [(b"A123456788", "CODE32")]
    assert conflicts == 0


def test_zbar_is_no_evidence_against_an_extended_code128() -> None:
    believed, conflicts = merge([reading("óó12ab".encode(), "CODE128", "zxing"),
                                 reading(b"ss12ab", "CODE128", "zbar")])
    assert [f.payload for f in believed] == ["óó12ab".encode()] and conflicts == 0


# --- the stream ------------------------------------------------------------------------------

def test_redundancy_reports_a_1d_value_only_from_its_nth_frame() -> None:
    rule = Redundancy(3)
    bars, qr = reading(b"IT-1", "CODE128", "zxing"), reading(b"x", "QR", "zxing")
    assert rule.admit([bars, qr]) == [qr]
    assert rule.admit([]) == []  # one frame without it is tolerated
    assert rule.admit([bars]) == []
    assert rule.admit([bars]) == [bars]
    assert rule.admit([bars]) == [bars]


def test_a_lone_misread_in_a_stream_is_never_reported() -> None:
    rule = Redundancy(2)
    assert rule.admit([reading(b"4006381333931", "EAN13", "zbar")]) == []
    for _ in range(3):
        assert rule.admit([]) == []
    assert rule.admit([reading(b"4006381333931", "EAN13", "zbar")]) == []


@pytest.mark.parametrize("bad", [0, -1, True, 1.5])
def test_redundancy_must_be_a_whole_number_of_frames(bad: object) -> None:
    with pytest.raises(ValueError, match="redundancy"):
        open_decoder("auto", redundancy=bad)  # type: ignore[arg-type]


def test_stream_reads_a_turned_code128_on_its_second_frame() -> None:
    stream = open_decoder("auto", ["QR", "CODE128"], redundancy=2)
    assert isinstance(stream, StreamDecoder)
    frames = [np.asarray(place_in_frame(code128_label("IT-004512"), angle=90, blur=0.8,
                                        noise=4, seed=seed)) for seed in (1, 2)]
    assert stream.decode(frames[0]) == []
    assert stream.decode(frames[1]) == [(b"IT-004512", "CODE128")]
    qr = np.asarray(place_in_frame(qr_label("https://assets.example.com/hardware/1"), seed=4))
    assert stream.decode(qr) == [(b"https://assets.example.com/hardware/1", "QR")]


def test_stream_spends_nothing_more_on_idle_frames() -> None:
    stream = open_decoder("auto")
    for seed in range(5):
        assert stream.decode(np.asarray(blank_frame(seed=seed))) == []
    assert stream.thorough_frames == 0


def test_the_bars_test_fires_on_bars_not_on_a_desk() -> None:
    bars = np.asarray(place_in_frame(code128_label("IT-004512"), angle=30, seed=2))
    region = barcode_region(bars)
    assert region is not None and region[2] > region[0] and region[3] > region[1]
    assert all(barcode_region(np.asarray(blank_frame(seed=s))) is None for s in range(5))


# --- choosing the backend ----------------------------------------------------------------------

def test_auto_without_zxing_degrades_to_zbar_and_says_what_is_lost(
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setitem(sys.modules, "zxingcpp", None)
    with caplog.at_level(logging.WARNING, logger="hal.camera"):
        still = open_decoder("auto", ["QR", "DATAMATRIX", "MICROQR", "CODE128"], still=True)
    assert "DATAMATRIX, MICROQR cannot be read" in caplog.text
    frame = np.asarray(place_in_frame(code128_label("IT-004512"), seed=1))
    assert still.decode(frame) == [(b"IT-004512", "CODE128")]
    stream = open_decoder("auto", ["CODE128"], redundancy=1)
    assert stream.decode(frame) == [(b"IT-004512", "CODE128")]


def test_auto_without_zxing_and_only_its_symbologies_is_a_device_error(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "zxingcpp", None)
    with pytest.raises(DeviceError, match=r"pip install 'stocktaker\[zxing\]'"):
        open_decoder("auto", ["DATAMATRIX"])


def test_auto_without_zbar_tells_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pyzbar", None)
    monkeypatch.setitem(sys.modules, "pyzbar.pyzbar", None)
    with pytest.raises(DeviceError, match="apt install libzbar0"):
        open_decoder("auto")


def test_unknown_names_are_refused_with_the_valid_ones() -> None:
    with pytest.raises(ValueError, match="auto, zbar, zxing"):
        open_decoder("opencv")
    with pytest.raises(ValueError, match="NOPE"):
        open_decoder("auto", ["QR", "NOPE"])
    with pytest.raises(ValueError, match="NOPE"):
        Libraries(frozenset({"NOPE"}))


def test_default_symbologies_are_trimmed_to_what_a_single_library_reads() -> None:
    zbar = open_decoder("zbar")  # the default set holds DataMatrix, which zbar cannot read
    frame = np.asarray(place_in_frame(qr_label("https://assets.example.com/hardware/3"), seed=1))
    assert zbar.decode(frame) == [(b"https://assets.example.com/hardware/3", "QR")]


class ScriptedLibraries:
    """Libraries whose passes answer from a script: pass name -> readings."""

    def __init__(self, script: dict[str, list[Found]]) -> None:
        self.script = script

    def run(self, step, gray):  # noqa: ANN001, ANN201 - the Libraries.run signature
        return list(self.script.get(step.name, []))


EAN = b"4006381333931"  # a valid EAN-13
OTHER = b"4006381333924"  # another valid EAN-13, a misread of the same bars
BOX = (10.0, 10.0, 200.0, 60.0)


def still_from(script: dict[str, list[Found]]) -> list[tuple[bytes, str]]:
    return StillDecoder(ScriptedLibraries(script)).decode(np.zeros((8, 8), np.uint8))


def test_a_1d_value_only_one_harder_pass_reads_is_not_believed() -> None:
    assert still_from({"zbar x2": [Found(EAN, "EAN13", "zbar", BOX)]}) == []


def test_a_1d_value_two_harder_passes_read_is_believed() -> None:
    assert still_from({"zbar x2": [Found(EAN, "EAN13", "zbar", BOX)],
                       "zxing x2": [Found(EAN, "EAN13", "zxing", BOX)]}) == [(EAN, "EAN13")]


def test_a_stray_misread_against_a_value_every_pass_reads_is_outvoted() -> None:
    everywhere = {name: [Found(EAN, "EAN13", name.split()[0], BOX)]
                  for name in ("zbar stretched", "zbar x2", "zbar x0.5", "zxing fixed",
                               "zxing x2")}
    everywhere["zxing"] = [Found(EAN, "EAN13", "zxing", BOX),
                           Found(OTHER, "EAN13", "zxing", (60.0, 10.0, 62.0, 60.0))]
    assert still_from(everywhere) == [(EAN, "EAN13")]
    # Read by one library only, or not by far more passes: nothing rather than a guess.
    zbar_only = {k: v for k, v in everywhere.items() if not k.startswith("zxing")}
    zbar_only["zbar"] = [Found(EAN, "EAN13", "zbar", BOX),
                         Found(OTHER, "EAN13", "zbar", (60.0, 10.0, 62.0, 60.0))]
    assert still_from(zbar_only) == []
    close = {"zxing": everywhere["zxing"], "zbar": [Found(OTHER, "EAN13", "zbar", BOX)],
             "zbar x2": [Found(EAN, "EAN13", "zbar", BOX)]}
    assert still_from(close) == []


def test_one_library_alone_at_its_defaults_needs_a_second_look() -> None:
    assert still_from({"zxing": [Found(EAN, "EAN13", "zxing", BOX)]}) == []
    assert still_from({"zbar": [Found(EAN, "EAN13", "zbar", BOX)]}) == []
    # Both libraries at their defaults, or one of them and another scale: believed.
    assert still_from({"zxing": [Found(EAN, "EAN13", "zxing", BOX)],
                       "zbar": [Found(EAN, "EAN13", "zbar", BOX)]}) == [(EAN, "EAN13")]
    assert still_from({"zxing": [Found(EAN, "EAN13", "zxing", BOX)],
                       "zxing x2": [Found(EAN, "EAN13", "zxing", BOX)]}) == [(EAN, "EAN13")]
    # A 2D code carries its own error correction: believed at once.
    assert still_from({"zxing": [Found(b"IT-1", "QR", "zxing", BOX)]}) == [(b"IT-1", "QR")]


def test_passes_over_the_same_pixels_are_one_look() -> None:
    # Contrast stretching, sharpening or another binarizer show a library the same pixels:
    # a misread born of them comes back through each, so they confirm nothing.
    same_pixels = {"zbar stretched": [Found(EAN, "EAN13", "zbar", BOX)],
                   "zbar sharpened": [Found(EAN, "EAN13", "zbar", BOX)],
                   "zxing global": [], "zxing fixed": []}
    assert still_from(same_pixels) == []
    assert still_from({"zxing": [Found(EAN, "EAN13", "zxing", BOX)],
                       "zxing global": [Found(EAN, "EAN13", "zxing", BOX)],
                       "zxing fixed": [Found(EAN, "EAN13", "zxing", BOX)]}) == []
    # A confirming pass at another scale is the second look.
    assert still_from({**same_pixels, "zbar x2.5": [Found(EAN, "EAN13", "zbar", BOX)]}) == [
        (EAN, "EAN13")]


def test_confirming_passes_add_no_value_of_their_own() -> None:
    assert still_from({"zbar x1.5": [Found(EAN, "EAN13", "zbar", BOX)],
                       "zxing x2.5": [Found(EAN, "EAN13", "zxing", BOX)]}) == []


def test_a_1d_value_waits_for_its_second_look_even_beside_a_2d_code() -> None:
    qr = Found(b"IT-1", "QR", "zxing", (300.0, 10.0, 360.0, 70.0))
    assert still_from({"zxing": [qr, Found(EAN, "EAN13", "zxing", BOX)],
                       "zbar x2": [Found(EAN, "EAN13", "zbar", BOX)]}) == [
        (b"IT-1", "QR"), (EAN, "EAN13")]
    assert still_from({"zxing": [qr, Found(EAN, "EAN13", "zxing", BOX)]}) == [(b"IT-1", "QR")]


class OneWayZbar:
    """zbar's decode as a stand-in: the symbol reads only while the scan runs one way along
    its axis (the picture not mirrored there), or both ways."""

    def __init__(self, symbol_type: str, orientation: str, both_ways: bool) -> None:
        self.symbol_type, self.orientation, self.both_ways = symbol_type, orientation, both_ways
        self.calls: list[np.ndarray] = []

    def decode(self, picture: np.ndarray, symbols=None):  # noqa: ANN001, ANN201 - pyzbar's
        from pyzbar.pyzbar import Decoded, Rect

        self.calls.append(picture)
        if picture[0, 0] != ORIGINAL[0, 0] and not self.both_ways:  # mirrored
            return []
        payload = b"https://x" if self.symbol_type == "QRCODE" else EAN
        return [Decoded(payload, self.symbol_type, Rect(10, 10, 190, 50), [], 9,
                        self.orientation)]


# Every corner differs, so the stand-in can tell a mirrored picture from the original.
ORIGINAL = np.array([[1, 2], [3, 4]], dtype=np.uint8)


@pytest.mark.parametrize(("orientation", "flip"), [("UP", ORIGINAL[:, ::-1]),
                                                   ("DOWN", ORIGINAL[:, ::-1]),
                                                   ("LEFT", ORIGINAL[::-1]),
                                                   ("RIGHT", ORIGINAL[::-1])])
def test_a_zbar_1d_reading_is_kept_only_when_the_code_reads_both_ways(
        orientation: str, flip: np.ndarray) -> None:
    from hal.camera.decode_passes import ZBAR_DEFAULT

    libraries = Libraries(frozenset({"EAN13"}))
    libraries.zbar = OneWayZbar("EAN13", orientation, both_ways=False)
    assert libraries.run(ZBAR_DEFAULT, ORIGINAL) == []
    # The second scan ran backwards along the code's axis.
    assert np.array_equal(libraries.zbar.calls[1], flip)
    libraries.zbar = OneWayZbar("EAN13", orientation, both_ways=True)
    assert [f.payload for f in libraries.run(ZBAR_DEFAULT, ORIGINAL)] == [EAN]
    bare = Libraries(frozenset({"EAN13"}), both_ways=False)
    bare.zbar = OneWayZbar("EAN13", orientation, both_ways=False)
    assert [f.payload for f in bare.run(ZBAR_DEFAULT, ORIGINAL)] == [EAN]
    assert len(bare.zbar.calls) == 1


def test_a_zbar_2d_reading_is_not_scanned_again() -> None:
    from hal.camera.decode_passes import ZBAR_DEFAULT

    libraries = Libraries(frozenset({"QR"}))
    libraries.zbar = OneWayZbar("QRCODE", "UP", both_ways=False)
    assert [f.payload for f in libraries.run(ZBAR_DEFAULT, ORIGINAL)] == [b"https://x"]
    assert len(libraries.zbar.calls) == 1


def test_a_printed_ean_reads_both_ways_with_the_real_zbar() -> None:
    from hal.camera.decode_passes import ZBAR_DEFAULT

    frame = np.asarray(place_in_frame(ean13_label("400638133393"), seed=3))
    found = Libraries(frozenset({"EAN13"})).run(ZBAR_DEFAULT, frame)
    assert [f.payload for f in found] == [EAN]


class ScriptedStreamLibraries(ScriptedLibraries):
    """Scripted passes for the stream decoder, which also asks for regions; calls are logged."""

    zxing = object()  # zxing-cpp present

    def __init__(self, script: dict[str, list[Found]]) -> None:
        super().__init__(script)
        self.calls: list[tuple[str, object]] = []

    def run(self, step, gray, region=None):  # noqa: ANN001, ANN201 - Libraries.run's
        self.calls.append((step.name, region))
        return list(self.script.get(step.name, []))


FRAME = np.zeros((480, 640), np.uint8)
LOCATED = Found(b"", "EAN13", "zxing", BOX, decoded=False)  # a symbol zxing-cpp could not decode


def stream_reports(script: dict[str, list[Found]], frames: int = 4) -> tuple[list, list]:
    libraries = ScriptedStreamLibraries(script)
    decoder = StreamDecoder(libraries, redundancy=2)
    return [decoder.decode(FRAME) for _ in range(frames)], libraries.calls


def test_the_stream_reports_a_1d_value_both_libraries_read_without_a_second_look() -> None:
    reports, calls = stream_reports({"zxing lean": [Found(EAN, "EAN13", "zxing", BOX)],
                                     "zbar": [Found(EAN, "EAN13", "zbar", BOX)]})
    assert reports == [[], [(EAN, "EAN13")], [(EAN, "EAN13")], [(EAN, "EAN13")]]
    assert {name for name, _ in calls} == {"zxing lean", "zbar"}


def test_the_stream_gives_one_library_s_1d_value_a_second_look_around_the_code() -> None:
    reports, calls = stream_reports({"zxing lean": [Found(EAN, "EAN13", "zxing", BOX)],
                                     "zxing x2": [Found(EAN, "EAN13", "zxing", BOX)]})
    assert reports == [[], [(EAN, "EAN13")], [(EAN, "EAN13")], [(EAN, "EAN13")]]
    # zxing-cpp's box, grown by a third of its longer side: the code and its surroundings.
    assert ("zxing x2", (0, 0, 267, 127)) in calls


def test_the_stream_never_reports_a_1d_value_only_one_look_reads() -> None:
    reports, _ = stream_reports({"zxing lean": [Found(EAN, "EAN13", "zxing", BOX)]}, frames=6)
    assert reports == [[]] * 6
    # A camera held still over a code zbar alone reads (as upca-2/38): same.
    reports, calls = stream_reports({"zxing lean": [LOCATED],
                                     "zbar": [Found(EAN, "EAN13", "zbar", BOX)]}, frames=6)
    assert reports == [[]] * 6
    # zbar's box of a 1D code is where its scan lines ended: the second look is the frame.
    assert ("zxing x2", None) in calls and ("zxing turned", None) in calls


def test_the_stream_drops_zbar_s_value_where_zxing_turned_reads_another() -> None:
    script = {"zxing lean": [LOCATED], "zbar": [Found(OTHER, "EAN13", "zbar", BOX)],
              "zbar x2": [Found(OTHER, "EAN13", "zbar", BOX)],
              "zxing turned": [Found(EAN, "EAN13", "zxing", BOX)]}
    reports, _ = stream_reports(script)
    assert reports == [[]] * 4
    # Without zxing-cpp's other reading, zbar's value and its doubled look are reported.
    del script["zxing turned"]
    reports, _ = stream_reports(script)
    assert reports == [[], [(OTHER, "EAN13")], [(OTHER, "EAN13")], [(OTHER, "EAN13")]]
