"""Label artwork and what each printer receives: decoded back to exactly the URL and tag."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from PIL import Image

from firmware.tags import parse_read
from hal.camera import open_decoder
from hal.printer import (
    LABEL_SIZES,
    LabelTooSmall,
    NullPrinter,
    Printer,
    PrinterOffline,
    PrinterSettings,
    draw_label,
    label_size,
    open_printer,
)
from hal.read import Read
from tests.printer_formats import read_brother, read_zpl


def _open(backend: str, **settings: Any) -> Printer:
    """The printer ``backend`` names, with these ``[printer]`` settings."""
    return open_printer(PrinterSettings(backend=backend, **settings))


URL = "https://assets.example.org/ht/IT-004512"
TAG = "IT-004512"
LONG_URL = "https://inventory.it.example-university.ac.uk/snipe/ht/LAB-CHEM-2024-000815"
LONG_TAG = "LAB-CHEM-2024-000815"

SIZES = sorted(LABEL_SIZES)
QUIET_MODULES = 4  # the QR standard's quiet zone


@pytest.fixture(scope="module")
def decoder():
    return open_decoder("auto", still=True)


def _decoded(decoder, image: Image.Image) -> list[tuple[bytes, str]]:
    return decoder.decode(np.asarray(image.convert("L")))


def _check_round_trip(decoder, image: Image.Image, url: str, tag: str) -> None:
    found = _decoded(decoder, image)
    assert found == [(url.encode(), "QR")]
    read = Read(payload=found[0][0], symbology="QR", source="camera", at=0.0)
    assert parse_read(read).value == tag


@pytest.mark.parametrize("key", SIZES, ids=[f"{n}-{d}dpi" for n, d in SIZES])
@pytest.mark.parametrize("url,tag", [(URL, TAG), (LONG_URL, LONG_TAG)])
def test_every_size_decodes_to_exactly_the_url_and_tag(decoder, key, url, tag) -> None:
    size = LABEL_SIZES[key]
    image = draw_label(url, tag, "Example University IT", size)
    assert image.size == (size.width, size.height)
    assert set(np.unique(np.asarray(image))) <= {0, 255}
    _check_round_trip(decoder, image, url, tag)


def _code_box(dots: np.ndarray) -> tuple[int, int, int, int]:
    """Left, top, side and module of the QR code: its first row of ink is the top of its
    two upper finder patterns (the text sits lower, centred), 7 dark modules at each end."""
    first = int(np.flatnonzero((dots == 0).any(axis=1))[0])
    ink = np.flatnonzero(dots[first] == 0)
    side = int(ink[-1] - ink[0] + 1)
    module = int(np.argmax(dots[first, ink[0]:] != 0)) // 7
    assert side % module == 0
    return int(ink[0]), first, side, module


@pytest.mark.parametrize("key", SIZES, ids=[f"{n}-{d}dpi" for n, d in SIZES])
def test_the_code_has_room_to_spare(decoder, key) -> None:
    """Quiet zone of at least 4 modules, modules of 0.4 mm or more, and still read at half
    the resolution and slightly blurred: a worn label or a poor camera."""
    from PIL import ImageFilter

    size = LABEL_SIZES[key]
    image = draw_label(LONG_URL, LONG_TAG, "Example University IT", size)
    dots = np.asarray(image)
    left, top, code_side, module = _code_box(dots)
    ink_cols = [left, left + code_side - 1]
    ink_rows = [top, top + code_side - 1]
    assert size.mm(module) >= 0.4
    assert ink_cols[0] >= QUIET_MODULES * module
    assert ink_rows[0] >= QUIET_MODULES * module
    assert size.height - 1 - ink_rows[-1] >= QUIET_MODULES * module
    text_start = ink_cols[0] + code_side
    assert (dots[:, text_start: text_start + QUIET_MODULES * module] == 255).all()
    worn = image.resize((size.width // 2, size.height // 2), Image.Resampling.BILINEAR)
    worn = worn.filter(ImageFilter.GaussianBlur(0.8))
    assert _decoded(decoder, worn) == [(LONG_URL.encode(), "QR")]


def test_the_tag_and_the_line_are_printed_beside_the_code() -> None:
    size = label_size("2x1in", 203)
    with_line = np.asarray(draw_label(URL, TAG, "Example University IT", size))
    without = np.asarray(draw_label(URL, TAG, "", size))
    other_tag = np.asarray(draw_label(URL, "IT-999999", "", size))
    left, _, side, module = _code_box(without)
    code_width = left + side + QUIET_MODULES * module  # the code and its quiet zone
    assert (without[:, code_width:] == 0).sum() > 500  # the tag
    assert not (without[:, code_width:] == other_tag[:, code_width:]).all()
    assert (with_line[:, code_width:] == 0).sum() > (without[:, code_width:] == 0).sum()
    assert (with_line[:, :code_width] == without[:, :code_width]).all()


def test_a_url_too_long_for_the_label_is_refused_not_shrunk() -> None:
    size = label_size("2x1in", 203)
    with pytest.raises(LabelTooSmall, match="too dense"):
        draw_label("https://assets.example.org/ht/" + "X" * 120, "X", "", size)


def test_a_tag_too_long_to_read_is_refused() -> None:
    with pytest.raises(LabelTooSmall, match="too long"):
        draw_label(URL, "IT-" + "0" * 80, "", label_size("2x1in", 203))


def test_unknown_sizes_are_named() -> None:
    with pytest.raises(ValueError, match="2x1in at 203 dpi"):
        label_size("62", 203)


@pytest.mark.parametrize("label", ["62", "29x90"])
def test_brother_raster_read_back_by_brother_ql_decodes(decoder, tmp_path, label) -> None:
    printer = _open("brother_ql", label=label, address="tcp://127.0.0.1:9100")
    data = printer.job_bytes(draw_label(URL, TAG, "Example University IT", printer.size))
    pages = read_brother(data, tmp_path)
    assert len(pages) == 1
    page = pages[0]
    # The whole print head (720 dots on a QL-8xx), the label's printable dots on it.
    assert page.width == 720
    assert page.height == (342 if label == "62" else 991)
    _check_round_trip(decoder, page, URL, TAG)
    # Nothing but the artwork: as many printed dots as it has.
    artwork = draw_label(URL, TAG, "Example University IT", printer.size)
    assert (np.asarray(page) == 0).sum() == (np.asarray(artwork) == 0).sum()


def test_brother_raster_ends_with_the_print_command(tmp_path) -> None:
    printer = _open("brother_ql", label="62", address="tcp://127.0.0.1:9100")
    data = printer.job_bytes(draw_label(URL, TAG, "", printer.size))
    assert b"\x00" * 200 + b"\x1b@" in data  # invalidate, initialise: a half job is dropped
    assert data.endswith(b"\x1a")  # print, then feed and cut: without it nothing prints


@pytest.mark.parametrize("dpi", [203, 300])
def test_zpl_is_one_format_whose_graphic_is_the_artwork(decoder, dpi) -> None:
    printer = _open("zpl", label="2x1in", dpi=dpi, address="tcp://127.0.0.1")
    artwork = draw_label(URL, TAG, "Example University IT", printer.size)
    formats = read_zpl(printer.job_bytes(artwork))
    assert len(formats) == 1
    fmt = formats[0]
    assert int(fmt.value("PW")) == printer.size.width == (406 if dpi == 203 else 600)
    assert int(fmt.value("LL")) == printer.size.height
    assert fmt.value("PQ") == "1"
    assert fmt.commands[-1] == ("XZ", "")
    assert len(fmt.graphics) == 1
    x, y, graphic = fmt.graphics[0]
    assert (x, y) == (0, 0)
    assert graphic.height == artwork.height
    assert graphic.width == (artwork.width + 7) // 8 * 8  # rows padded to whole bytes
    assert (np.asarray(graphic)[:, artwork.width:] == 255).all()  # padded with white
    graphic = graphic.crop((0, 0, artwork.width, artwork.height))
    assert (np.asarray(graphic) == np.asarray(artwork)).all()
    _check_round_trip(decoder, graphic, URL, TAG)


def test_brother_refuses_zebra_stock_and_zpl_brother_stock() -> None:
    with pytest.raises(ValueError, match="Brother QL prints"):
        _open("brother_ql", label="2x1in", dpi=300, address="tcp://h")
    with pytest.raises(ValueError, match="2x1in"):
        _open("zpl", label="62", dpi=300, address="tcp://h")
    with pytest.raises(ValueError, match="not a printer address"):
        _open("zpl", label="2x1in", dpi=203, address="h:9100")
    with pytest.raises(ValueError, match="unknown printer backend"):
        _open("cups", label="62")


def test_no_printer_is_a_null_printer_that_keeps_every_job() -> None:
    """``none`` opens a null object: it draws nothing and says it is offline, so a job
    queued for it is kept, never dropped."""
    from hal.backends import fitted

    printer = _open("none")
    assert isinstance(printer, NullPrinter) and not fitted(printer)
    assert fitted(_open("file", folder="labels"))
    with pytest.raises(PrinterOffline, match="no label printer"):
        printer.send("job-1", printer.job_bytes(draw_label(URL, TAG, "", printer.size)))
