"""``stocktaker decode`` and ``stocktaker bench decode`` through the real command line."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from firmware.cli import main
from hal.labels import code128_label, place_in_frame
from hal.camera.decode_sets import ImageSet, find_sets, generate_sets, judge

pytest.importorskip("zxingcpp", reason="zxing-cpp is not installed (stocktaker[zxing])")


def test_decode_uses_the_pipeline_and_its_symbologies(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    image = tmp_path / "bars.png"
    place_in_frame(code128_label("IT-004512"), angle=90, seed=1).save(image)
    assert main(["decode", str(image)]) == 0
    assert json.loads(capsys.readouterr().out)["reads"] == [
        {"payload": "IT-004512", "symbology": "CODE128"}]
    assert main(["decode", "--symbologies", "QR", str(image)]) == 0
    assert json.loads(capsys.readouterr().out)["reads"] == []
    assert main(["decode", "--symbologies", "QR,NOPE", str(image)]) == 2
    assert "NOPE" in capsys.readouterr().err


def test_generated_sets_are_laid_out_like_zxing_samples(tmp_path: Path) -> None:
    written = generate_sets(tmp_path, per_set=2, seed=3)
    names = {folder.name for folder in written}
    assert {"qrcode-gen", "code128-gen", "upca-gen", "falsepositives-gen"} <= names
    sets = {s.name: s for s in find_sets(tmp_path)}
    upca = sets["upca-gen"].images[0]
    assert len(upca.with_suffix(".txt").read_text()) == 13
    assert not sets["falsepositives-gen"].has_codes and len(sets["falsepositives-gen"].images) == 2


def test_a_wrong_1d_value_is_wrong_even_beside_the_right_one() -> None:
    assert judge([(b"IT-1", "CODE128")], b"IT-1\n") == (True, False)
    assert judge([(b"IT-1", "CODE128"), (b"IT-7", "CODE128")], b"IT-1") == (True, True)
    assert judge([(b"x", "QR"), (b"IT-1", "QR")], b"IT-1") == (True, False)
    assert judge([(b"x", "QR")], None) == (False, True)


def test_bench_decode_prints_a_table_and_json(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "code128-mine"
    folder.mkdir()
    for n in range(3):
        place_in_frame(code128_label(f"IT-00{n}"), seed=n).save(folder / f"{n}.png")
        (folder / f"{n}.txt").write_text(f"IT-00{n}")
    assert main(["bench", "decode", str(folder), "--json"]) == 0
    figures = json.loads(capsys.readouterr().out)
    (row,) = figures["sets"]
    assert row["images"] == 3 and row["stocktaker"] == 3 >= row["union"]
    assert row["wrong_stocktaker"] == 0 and row["ceiling"] == 3
    assert row["stream"] == 3 and row["wrong_stream"] == 0  # the camera held still over each
    assert 0 < figures["idle"]["ratio"] < 1
    assert main(["bench", "decode", str(folder)]) == 0
    out = capsys.readouterr().out
    assert "code128-mine" in out and "ratio" in out


def test_bench_decode_refuses_a_folder_without_sets(tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    Image.fromarray(np.zeros((8, 8), dtype=np.uint8)).save(tmp_path / "lonely.png")
    assert main(["bench", "decode", str(tmp_path / "missing")]) == 3
    assert "does not exist" in capsys.readouterr().err
    assert main(["bench", "scan", str(tmp_path)]) == 2


def test_image_set_knows_a_negative_set() -> None:
    assert not ImageSet("falsepositives-1", ()).has_codes and ImageSet("qr-1", ()).has_codes


def test_a_known_wrong_expected_file_is_judged_by_the_printed_value_and_said(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    import hashlib

    from hal.camera import decode_sets

    folder = tmp_path / "code128-mine"
    folder.mkdir()
    for n in range(2):
        place_in_frame(code128_label(f"IT-00{n}"), seed=n).save(folder / f"{n}.png")
    (folder / "0.txt").write_text("IT-000")
    (folder / "1.txt").write_text("IT-999")  # the label prints IT-001
    digest = hashlib.sha256((folder / "1.png").read_bytes()).hexdigest()
    assert decode_sets.expected(folder / "1.png") == b"IT-999"
    monkeypatch.setattr(decode_sets, "CORRECTIONS", {digest: (b"IT-001", "test sample 1.png")})
    assert decode_sets.expected(folder / "1.png") == b"IT-001"
    assert decode_sets.expected(folder / "0.png") == b"IT-000"
    assert main(["bench", "decode", str(folder), "--json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)["sets"]
    assert row["stocktaker"] == 2 and row["wrong_stocktaker"] == 0
    assert row["corrected"] == ["1.png"]
    assert main(["bench", "decode", str(folder)]) == 0
    assert "expected file being known wrong: 1.png" in capsys.readouterr().out


SAMPLES = Path(__file__).resolve().parents[2] / "shared" / "samples" / "zxing-blackbox"


@pytest.mark.skipif(not SAMPLES.is_dir(),
                    reason=f"sample photos not found at {SAMPLES} (they are not shipped)")
def test_the_listed_corrections_are_the_samples_printed_values() -> None:
    """Each correction names a sample whose bytes hash to its key, whose own .txt says
    something else, and from which the still pipeline reads the printed value that the
    set's other photographs of the same box expect."""
    from hal.camera import open_decoder
    from hal.camera.decode import decode_image_file
    from hal.camera.decode_sets import CORRECTIONS

    still = open_decoder("auto", still=True)
    for digest, (printed, sample) in CORRECTIONS.items():
        folder, name = sample.removeprefix("zxing-cpp sample ").split("/")
        image = SAMPLES / folder / name
        assert hashlib.sha256(image.read_bytes()).hexdigest() == digest
        assert image.with_suffix(".txt").read_bytes().strip() != printed
        assert printed in {p.read_bytes().strip() for p in (SAMPLES / folder).glob("*.txt")
                           if p.stem != image.stem}
        assert [r.payload for r in decode_image_file(image, still)] == [printed]


def test_one_seed_draws_the_same_sets_and_the_cli_passes_it_on(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    from hal.camera import decode_sets

    first = generate_sets(tmp_path / "a", per_set=2, seed=2026)
    again = generate_sets(tmp_path / "b", per_set=2, seed=2026)
    other = generate_sets(tmp_path / "c", per_set=2, seed=7)
    texts = [sorted(p.read_bytes() for p in folder.glob("*.txt")) for folder in first]
    assert texts == [sorted(p.read_bytes() for p in f.glob("*.txt")) for f in again]
    assert texts != [sorted(p.read_bytes() for p in f.glob("*.txt")) for f in other]

    real = decode_sets.generate_sets
    monkeypatch.setattr(decode_sets, "generate_sets",
                        lambda folder, seed=7: real(folder, per_set=2, seed=seed))
    assert main(["bench", "decode", "--generate", str(tmp_path / "d"), "--seed", "2026"]) == 0
    assert str(tmp_path / "d") in capsys.readouterr().out
    assert [sorted(p.read_bytes() for p in (tmp_path / "d" / f.name).glob("*.txt"))
            for f in first] == texts
