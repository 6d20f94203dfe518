"""A UPC-E zbar reads inside a wider barcode is not believed; a whole UPC-E still is.

The pictures of ``tests/upca-small`` are UPC-A symbols of about two pixels per module in
which zbar, at two scales and both ways, reads a UPC-E made of part of the bars (a valid
value, as the UPC-A it expands to), where zxing-cpp reads nothing: the class of upca-2/38
of zxing-cpp's samples.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from hal.camera.decode import open_decoder
from hal.camera.decode_checks import upce_to_upca
from hal.camera.decode_quiet import upce_is_whole
from hal.camera.files import load_gray
from tests.barcode_pictures import (
    UPCA_SMALL,
    check_digit,
    picture,
    upca_modules,
    upce_modules,
)

SMALL = sorted((Path(__file__).parent / "upca-small").glob("*.png"))

pytest.importorskip("zxingcpp", reason="zxing-cpp is not installed (stocktaker[zxing])")


def test_the_pictures_are_those_drawn() -> None:
    assert len(SMALL) == len(UPCA_SMALL)
    for path, (digits, *drawn) in zip(SMALL, UPCA_SMALL):
        assert np.array_equal(load_gray(path), picture(upca_modules(digits), *drawn))


@pytest.mark.parametrize("path", SMALL, ids=[p.stem for p in SMALL])
def test_a_upce_read_inside_a_small_upca_is_not_reported(path: Path) -> None:
    printed = path.with_suffix(".txt").read_bytes()
    gray = load_gray(path)
    for symbologies in (["UPCA"], None):
        reads = open_decoder("auto", symbologies, still=True).decode(gray)
        assert all(payload == printed for payload, _ in reads), (symbologies, reads)
    stream = open_decoder("auto", ["UPCA"], redundancy=2)  # a camera held still over it
    for _ in range(4):
        assert all(payload == printed for payload, _ in stream.decode(gray))


def test_the_bars_through_a_upce_s_points_are_its_own_or_a_wider_code_s() -> None:
    upce = picture(upce_modules("04252614"), 2.0, 0.8, 0.0, 1)  # 12 blank modules, 51, 12
    assert upce_is_whole(upce, [(24, 20), (125, 20)], "UP")
    assert upce_is_whole(upce.T.copy(), [(20, 24), (20, 125)], "LEFT")  # a turned code
    upca = picture(upca_modules("036000291452"), 2.0, 0.8, 0.0, 1)  # 12, 95, 12
    assert not upce_is_whole(upca, [(118, 20)], "DOWN")  # at the UPC-A's centre guard
    assert not upce_is_whole(upca, [(213, 20)], "UP")  # at its end: its bars run on
    assert upce_is_whole(np.full((40, 200), 128, np.uint8), [(100, 20)], "UP")  # cannot tell


def test_one_line_with_blank_margins_is_enough_as_for_a_scanner() -> None:
    modules = upce_modules("04252614")
    cluttered = picture(modules + "0" * 32, 2.0, 0.8, 0.0, 1)
    # Print 2 modules beside the end of the top half's lines.
    cluttered[:20] = picture(modules + "00" + "1011001101" * 3, 2.0, 0.8, 0.0, 1)[:20]
    assert not upce_is_whole(cluttered, [(125, 5), (125, 15)], "UP")
    assert upce_is_whole(cluttered, [(125, 5), (125, 15), (125, 30)], "UP")


@pytest.mark.parametrize(("six", "per_module", "blur"), [
    ("425261", 2.0, 0.8), ("123457", 1.7, 0.6), ("654320", 2.6, 1.1), ("199990", 3.2, 0.5),
])
def test_a_whole_upce_is_still_read(six: str, per_module: float, blur: float) -> None:
    expanded = upce_to_upca(("0" + six + "0").encode())
    assert expanded is not None
    digits = "0" + six + check_digit(expanded[:11].decode())
    gray = picture(upce_modules(digits), per_module, blur, 1.0, 7)
    upca = b"0" + upce_to_upca(digits.encode())  # type: ignore[operator]
    assert open_decoder("auto", ["UPCE"], still=True).decode(gray) == [(digits.encode(), "UPCE")]
    # Where only UPC-A is configured, zbar gives a UPC-E as the UPC-A it stands for.
    assert open_decoder("auto", ["UPCA"], still=True).decode(gray) == [(upca, "UPCA")]
