"""The generated labels read back with zbar, straight and as the demo room shows them."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from hal.labels import (
    DEMO_DISTORTIONS, blank_frame, code128_label, place_in_frame, qr_label, serial_label,
)
from hal.camera.decode import ZbarDecoder

SEEDS = range(5)

LABELS = {
    "qr": (lambda: qr_label("https://assets.example.com/hardware/4512", caption="IT-004512"),
           b"https://assets.example.com/hardware/4512", "QR"),
    "code128": (lambda: code128_label("IT-004512"), b"IT-004512", "CODE128"),
    "serial": (lambda: serial_label("5CG1234XYZ", maker="HP", model="EliteBook 840 G8"),
               b"5CG1234XYZ", "CODE128"),
}


@pytest.fixture(scope="module")
def zbar() -> ZbarDecoder:
    return ZbarDecoder()


def decoded(decoder: ZbarDecoder, image: Image.Image) -> list[tuple[bytes, str]]:
    assert image.mode == "L"
    return decoder.decode(np.asarray(image))


@pytest.mark.parametrize("kind", sorted(LABELS))
def test_label_decodes_straight(zbar: ZbarDecoder, kind: str) -> None:
    make, payload, symbology = LABELS[kind]
    assert decoded(zbar, make()) == [(payload, symbology)]


@pytest.mark.parametrize("kind", sorted(LABELS))
def test_label_decodes_in_a_plain_frame(zbar: ZbarDecoder, kind: str) -> None:
    make, payload, symbology = LABELS[kind]
    frame = place_in_frame(make(), seed=3)
    assert frame.size == (640, 480)
    assert decoded(zbar, frame) == [(payload, symbology)]


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("kind", sorted(LABELS))
def test_label_decodes_with_demo_distortions(zbar: ZbarDecoder, kind: str, seed: int) -> None:
    make, payload, symbology = LABELS[kind]
    frame = place_in_frame(make(), **DEMO_DISTORTIONS[kind], seed=seed)
    assert decoded(zbar, frame) == [(payload, symbology)]


def test_demo_distortions_are_those_documented() -> None:
    assert 20 <= DEMO_DISTORTIONS["qr"]["angle"] <= 30
    assert DEMO_DISTORTIONS["code128"]["angle"] % 180 == 90
    for levels in DEMO_DISTORTIONS.values():
        assert 0 < levels["blur"] <= 1.5
        assert 0 < levels["noise"] <= 10


def test_short_qr_payload_is_a_full_qr_zbar_reads(zbar: ZbarDecoder) -> None:
    # A short payload is where a Micro QR would be chosen if one were allowed.
    assert decoded(zbar, qr_label("A1")) == [(b"A1", "QR")]


@pytest.mark.parametrize("payload", ["IT-00\x0712", b"IT-00\x0712"])
def test_qr_with_a_control_character_keeps_its_exact_bytes(
    zbar: ZbarDecoder, payload: str | bytes
) -> None:
    frame = place_in_frame(qr_label(payload, caption="IT-0012"), **DEMO_DISTORTIONS["qr"], seed=1)
    assert decoded(zbar, frame) == [(b"IT-00\x0712", "QR")]


def test_code128_caption_replaces_the_human_readable_line(zbar: ZbarDecoder) -> None:
    plain = code128_label("IT-004512")
    captioned = code128_label("IT-004512", caption="Asset IT-004512")
    assert plain.tobytes() != captioned.tobytes()
    assert decoded(zbar, captioned) == [(b"IT-004512", "CODE128")]


def test_qr_caption_adds_text_under_the_code() -> None:
    bare = qr_label("IT-004512")
    captioned = qr_label("IT-004512", caption="IT-004512")
    assert captioned.width >= bare.width
    assert captioned.height > bare.height


@pytest.mark.parametrize("seed", SEEDS)
def test_blank_frames_decode_to_nothing(zbar: ZbarDecoder, seed: int) -> None:
    frame = blank_frame(seed=seed)
    assert frame.size == (640, 480)
    assert decoded(zbar, frame) == []


def test_frames_are_deterministic_for_a_seed() -> None:
    label = code128_label("IT-004512")
    first = place_in_frame(label, **DEMO_DISTORTIONS["code128"], seed=7)
    again = place_in_frame(label, **DEMO_DISTORTIONS["code128"], seed=7)
    other = place_in_frame(label, **DEMO_DISTORTIONS["code128"], seed=8)
    assert first.tobytes() == again.tobytes()
    assert first.tobytes() != other.tobytes()
    assert blank_frame(seed=2).tobytes() == blank_frame(seed=2).tobytes()
    assert blank_frame(seed=2).tobytes() != blank_frame(seed=3).tobytes()


def test_place_in_frame_honours_size_and_scale(zbar: ZbarDecoder) -> None:
    frame = place_in_frame(qr_label("IT-004512"), size=(320, 240), scale=0.8, seed=0)
    assert (frame.mode, frame.size) == ("L", (320, 240))
    assert decoded(zbar, frame) == [(b"IT-004512", "QR")]


def test_place_in_frame_refuses_a_label_that_does_not_fit() -> None:
    with pytest.raises(ValueError, match="does not fit"):
        place_in_frame(code128_label("IT-004512"), size=(120, 90))


@pytest.mark.parametrize("bad", [{"blur": -1.0}, {"noise": -0.5}, {"scale": 0.0}])
def test_place_in_frame_rejects_bad_levels(bad: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        place_in_frame(qr_label("IT-004512"), **bad)
