"""zbar, and the pipeline, on real photos of barcodes: zxing-cpp's black-box samples.

The samples are not part of the repository (Apache-2.0, see their SOURCE.txt); they are read
from ``../shared/samples/zxing-blackbox`` when present. The minimum counts are what pyzbar read
when zbar and zxing-cpp were compared on these sets (zbar 0.23.92): a lower count means a
regression in our loading or decoding, not in the photos. The pipeline must read every image
either library reads alone, and never a wrong value.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from hal.camera.bench_decode import measure_set
from hal.camera.decode import ZbarDecoder, decode_image_file
from hal.camera.decode_sets import find_sets
from hal.camera.files import IMAGE_SUFFIXES

SAMPLES = Path(__file__).resolve().parents[2] / "shared" / "samples" / "zxing-blackbox"

pytestmark = pytest.mark.skipif(
    not SAMPLES.is_dir(), reason=f"sample photos not found at {SAMPLES} (they are not shipped)"
)

# set name -> (images in the set, images pyzbar reads correctly)
ZBAR_MINIMUMS = {
    "qrcode-1": (8, 8),
    "code128-1": (6, 5),  # zbar mangles the FNC4 extended characters of 6.png
    "ean13-1": (16, 10),
}


def expected_payload(image: Path) -> bytes:
    """The expected content of a sample: the ``.txt`` next to it, as UTF-8 bytes."""
    return image.with_suffix(".txt").read_bytes()


def matches(found: bytes, expected: bytes) -> bool:
    """Exact, or equal once trailing line ends are dropped (some ``.txt`` files end in one)."""
    return found == expected or found.rstrip(b"\r\n") == expected.rstrip(b"\r\n")


@pytest.mark.parametrize("set_name", sorted(ZBAR_MINIMUMS))
def test_zbar_reads_at_least_as_many_samples_as_measured(set_name: str) -> None:
    images = sorted(
        path
        for path in (SAMPLES / set_name).iterdir()
        if path.suffix.lower() in IMAGE_SUFFIXES and path.with_suffix(".txt").is_file()
    )
    count, minimum = ZBAR_MINIMUMS[set_name]
    assert len(images) == count, f"{set_name}: expected {count} sample images"

    decoder = ZbarDecoder()
    correct = [
        image.name
        for image in images
        if any(matches(read.payload, expected_payload(image))
               for read in decode_image_file(image, decoder, source="sample"))
    ]
    assert len(correct) >= minimum, f"{set_name}: zbar read only {sorted(correct)}"


def test_matching_tolerates_only_a_trailing_line_end() -> None:
    assert matches(b"IT-004512", b"IT-004512\n")
    assert matches(b"IT-004512\r\n", b"IT-004512")
    assert not matches(b"IT-004512", b"IT-00451")
    assert not matches(b"IT-004512", b"\nIT-004512")


# Sets with photos the pipeline must read at least as well as pyzbar and zxing-cpp each alone.
PIPELINE_SETS = ("code128-1", "code39-1", "ean13-1", "ean13-2", "upca-1", "upca-2", "qrcode-1",
                 "datamatrix-2", "itf-1")


@pytest.mark.parametrize("set_name", PIPELINE_SETS)
def test_the_pipeline_reads_the_union_of_both_libraries_without_a_wrong_read(
        set_name: str) -> None:
    pytest.importorskip("zxingcpp", reason="zxing-cpp is not installed (stocktaker[zxing])")
    (image_set,) = find_sets(SAMPLES / set_name)
    figures = measure_set(image_set)
    assert figures.stocktaker >= figures.union, figures
    assert figures.wrong_stocktaker == 0, figures
    assert figures.wrong_stream == 0, figures  # the camera held still over each photo


def test_a_code_zbar_reads_one_way_only_as_another_value_is_not_reported() -> None:
    # upca-2/38: a UPC-A about two pixels per module; zbar scanning its lines one way reads
    # 0022121000066 (valid check digit), the label prints 0012546619592.
    pytest.importorskip("zxingcpp", reason="zxing-cpp is not installed (stocktaker[zxing])")
    from hal.camera.decode import open_decoder
    from hal.camera.files import load_gray

    gray = load_gray(SAMPLES / "upca-2" / "38.webp")
    assert open_decoder("auto", ["UPCA"], still=True).decode(gray) == []
    # A camera held still over it: every frame misreads alike, so agreement across frames
    # alone would report it from the second frame.
    frame = np.full((480, 640), int(np.median(gray)), np.uint8)
    frame[200:200 + gray.shape[0], 200:200 + gray.shape[1]] = gray
    stream = open_decoder("auto", ["UPCA", "QR"], redundancy=2)
    assert [stream.decode(frame) for _ in range(4)] == [[], [], [], []]
