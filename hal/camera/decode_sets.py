"""Image sets for measuring decoders: each image beside the ``.txt`` holding what it encodes.

The layout is zxing-cpp's black-box sample sets (``<set>/<image>`` and ``<set>/<image>.txt``,
or ``.bin`` for raw bytes); a set named ``falsepositives-*`` holds images with no code in
them. :func:`generate_sets` draws held-out sets in that layout from scratch (segno,
python-barcode and, when installed, zxing-cpp's writer for DataMatrix), under blur,
rotation, noise, perspective, glare and low contrast.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

import numpy as np
from PIL import Image, ImageFilter

from hal.camera.decode_checks import LINEAR
from hal.camera.files import IMAGE_SUFFIXES
from hal.errors import DeviceError


@dataclass(frozen=True)
class ImageSet:
    """A folder of images with their expected content.

    Attributes:
        name: the folder's name.
        images: the image files that have an expected content (all of them in a
            ``falsepositives-*`` set), in name order.
    """

    name: str
    images: tuple[Path, ...]

    @property
    def has_codes(self) -> bool:
        """``False`` for a set of images that show no code at all."""
        return not self.name.startswith("falsepositives")


CORRECTIONS: Mapping[str, tuple[bytes, str]] = MappingProxyType({
    "00db7d736e49b332c4537bda814ee0766b77fa066570451b086c75361136d86b": (
        b"9784872348880", "zxing-cpp sample ean13-2/23.webp"),
    "42dbf068b4954c9ae159f2a1f2d508a61d7fee0b6d08d7ac571cd7916988f7af": (
        b"9784872348880", "zxing-cpp sample ean13-2/28.webp"),
})
"""Published sample images whose expected file is wrong, by the SHA-256 of the image: the
value the label prints, and which sample it is. Both photographs show EAN-13 9784872348880
printed under the bars (as the set's images 21, 22, 25 and 26, which expect it), while their
``.txt`` holds 9780804816632, the code of the set's images 01 and 02. Only an image with
exactly these bytes is corrected, and the figures say so."""


def correction(image: Path) -> bytes | None:
    """The printed value of an image listed in :data:`CORRECTIONS`, else ``None``."""
    try:
        digest = hashlib.sha256(image.read_bytes()).hexdigest()
    except OSError:
        return None
    fixed = CORRECTIONS.get(digest)
    return fixed[0] if fixed else None


def expected(image: Path) -> bytes | None:
    """What an image encodes: its ``.txt`` (or else ``.bin``) file's bytes, or the printed
    value when the image is a known wrong sample (:data:`CORRECTIONS`); ``None`` if
    neither file exists."""
    fixed = correction(image)
    if fixed is not None:
        return fixed
    for suffix in (".txt", ".bin"):
        path = image.with_suffix(suffix)
        if path.is_file():
            return path.read_bytes()
    return None


def matches(found: bytes, wanted: bytes) -> bool:
    """Exact, or equal once trailing line ends are dropped (some ``.txt`` files end in one)."""
    return found == wanted or found.rstrip(b"\r\n") == wanted.rstrip(b"\r\n")


def judge(reads: list[tuple[bytes, str]], wanted: bytes | None) -> tuple[bool, bool]:
    """Whether an image's reads hold the expected value, and whether any of them is wrong.

    A 1D value other than the expected one is wrong even beside the right one; for 2D codes
    (which may share an image with other 2D codes) reads are wrong when none of them is
    right. In an image without a code (``wanted`` is ``None``) every read is wrong.
    """
    if wanted is None:
        return False, bool(reads)
    right = any(matches(payload, wanted) for payload, _ in reads)
    wrong_linear = any(kind in LINEAR and not matches(payload, wanted) for payload, kind in reads)
    return right, wrong_linear or (bool(reads) and not right)


def find_sets(folder: Path) -> list[ImageSet]:
    """The image sets in a folder: the folder itself if it holds images, else its subfolders.

    Raises:
        DeviceError: the folder is missing or cannot be listed, or holds no set.
    """
    try:
        if not folder.is_dir():
            raise DeviceError(f"image set folder {folder} does not exist or is not a folder")
        own = _load_set(folder)
        sets = [own] if own.images else [s for s in (_load_set(sub) for sub in sorted(
            folder.iterdir()) if sub.is_dir()) if s.images]
    except OSError as exc:
        raise DeviceError(f"cannot list image set folder {folder}: {exc}") from exc
    if not sets:
        raise DeviceError(f"no image set in {folder}: expected images each beside a .txt file")
    return sets


def _load_set(folder: Path) -> ImageSet:
    images = sorted(p for p in folder.iterdir()
                    if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
    if not folder.name.startswith("falsepositives"):
        images = [p for p in images if expected(p) is not None]
    return ImageSet(folder.name, tuple(images))


# --- held-out sets, drawn here ----------------------------------------------------------------

GENERATED_KINDS = ("qrcode", "microqrcode", "datamatrix", "code128", "code39", "ean13", "upca")
"""The symbologies :func:`generate_sets` draws, one set each."""


def _payload(kind: str, rng: np.random.Generator) -> str:
    digits = "".join(str(d) for d in rng.integers(0, 10, 12))
    if kind == "ean13":
        return digits + _check_digit(digits)
    if kind == "upca":
        return digits[:11] + _check_digit(digits[:11])
    number = int(rng.integers(0, 999_999))
    if kind == "microqrcode":
        return f"IT{number:06d}"
    if kind in ("code39",):
        return f"IT-{number:06d}"
    if kind == "qrcode" and rng.random() < 0.5:
        return f"https://assets.example.com/hardware/{number}"
    return f"IT-{number:06d}" if rng.random() < 0.5 else f"SN{number:08d}X"


def _check_digit(body: str) -> str:
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return str((10 - total % 10) % 10)


def _symbol(kind: str, payload: str, rng: np.random.Generator) -> Image.Image | None:
    """The code drawn as a clean label, or ``None`` when nothing here can draw it."""
    import barcode
    import segno
    from barcode.writer import ImageWriter

    if kind in ("qrcode", "microqrcode"):
        code = segno.make_micro(payload) if kind == "microqrcode" else segno.make_qr(payload)
        rows = list(code.matrix_iter(scale=int(rng.integers(3, 7)), border=4 if kind ==
                                     "qrcode" else 2))
        return Image.fromarray(np.where(np.array(rows, dtype=bool), 0, 255).astype(np.uint8))
    if kind == "datamatrix":
        try:
            import zxingcpp
        except ImportError:
            return None
        made = zxingcpp.create_barcode(payload, zxingcpp.BarcodeFormat.DataMatrix)
        image = np.asarray(zxingcpp.write_barcode_to_image(made, scale=int(rng.integers(4, 8))))
        return Image.fromarray(image.astype(np.uint8)).convert("L")
    names = {"code128": "code128", "code39": "code39", "ean13": "ean13", "upca": "upca"}
    options = {"add_checksum": False} if kind == "code39" else {}
    if kind in ("ean13", "upca"):
        payload = payload[:-1]  # python-barcode adds the check digit itself
    writer = ImageWriter(mode="L", dpi=254)
    symbol = barcode.get_barcode_class(names[kind])(payload, writer=writer, **options)
    module = float(rng.choice([0.2, 0.3]))
    return symbol.render({"module_width": module, "module_height": 12.0, "quiet_zone": 4.0,
                          "font_size": 8, "text_distance": 3.0})


def _distorted(label: Image.Image, rng: np.random.Generator, seed: int) -> Image.Image:
    """The label photographed badly: perspective, rotation, blur, noise, glare, low contrast."""
    from hal.labels import place_in_frame

    if rng.random() < 0.5:  # perspective: one side of the label farther away
        width, height = label.size
        squeeze = rng.uniform(0.05, 0.25) * height
        coeffs = _perspective_coeffs(
            [(0, 0), (width, squeeze), (width, height - squeeze), (0, height)],
            [(0, 0), (width, 0), (width, height), (0, height)])
        label = label.transform(label.size, Image.Transform.PERSPECTIVE, coeffs,
                                Image.Resampling.BICUBIC, fillcolor=255)
    fit = min(1.0, 600 / max(label.size) * 0.9)
    scale = fit * rng.uniform(0.55, 1.0)
    angle = float(rng.choice([0.0, 90.0, 180.0, rng.uniform(-30, 30), rng.uniform(0, 360)]))
    radians = np.deg2rad(angle)
    turned = (abs(np.cos(radians)) * label.width + abs(np.sin(radians)) * label.height,
              abs(np.sin(radians)) * label.width + abs(np.cos(radians)) * label.height)
    scale = min(scale, 620 / max(turned[0], 1) * 0.95, 460 / max(turned[1], 1) * 0.95)
    frame = place_in_frame(label, angle=angle, blur=float(rng.uniform(0, 1.8)),
                           noise=float(rng.uniform(0, 9)), scale=scale, seed=seed)
    pixels = np.asarray(frame, dtype=np.float32)
    if rng.random() < 0.4:  # low contrast: a dim, washed-out picture
        low = rng.uniform(40, 90)
        pixels = low + pixels * rng.uniform(0.35, 0.6)
    if rng.random() < 0.4:  # glare: a bright spot of reflected light
        height, width = pixels.shape
        cy, cx = rng.uniform(0, height), rng.uniform(0, width)
        radius = rng.uniform(40, 140)
        ys, xs = np.mgrid[0:height, 0:width]
        spot = np.exp(-((ys - cy) ** 2 + (xs - cx) ** 2) / (2 * radius ** 2))
        pixels = pixels + spot * rng.uniform(80, 200)
    image = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))
    return image.filter(ImageFilter.GaussianBlur(0.4)) if rng.random() < 0.3 else image


def _perspective_coeffs(source: list[tuple[float, float]],
                        target: list[tuple[float, float]]) -> list[float]:
    rows = []
    for (x, y), (u, v) in zip(target, source):
        rows.append([x, y, 1, 0, 0, 0, -u * x, -u * y])
        rows.append([0, 0, 0, x, y, 1, -v * x, -v * y])
    rhs = np.array([c for point in source for c in point], dtype=np.float64)
    return list(np.linalg.solve(np.array(rows, dtype=np.float64), rhs))


def generate_sets(folder: Path, per_set: int = 30, seed: int = 7) -> list[Path]:
    """Draw held-out image sets into ``folder``, one per symbology plus ``falsepositives-gen``.

    Args:
        folder: where the sets go (created; existing files of the same names are replaced).
        per_set: images per set.
        seed: seed of every random choice: one seed always draws the same sets.

    Returns:
        The set folders written (DataMatrix only when zxing-cpp is installed).
    """
    from hal.labels import blank_frame

    rng = np.random.default_rng(seed)
    written = []
    for kind in GENERATED_KINDS:
        target = folder / f"{kind}-gen"
        made = 0
        for n in range(per_set):
            payload = _payload(kind, rng)
            label = _symbol(kind, payload, rng)
            if label is None:
                break
            target.mkdir(parents=True, exist_ok=True)
            _distorted(label, rng, seed * 1000 + n).save(target / f"{n:03d}.png")
            # A UPC-A is written as its 13-digit GTIN, as zxing-cpp's sample sets do.
            (target / f"{n:03d}.txt").write_text("0" + payload if kind == "upca" else payload)
            made += 1
        if made:
            written.append(target)
    negatives = folder / "falsepositives-gen"
    negatives.mkdir(parents=True, exist_ok=True)
    for n in range(per_set):
        frame = np.asarray(blank_frame(seed=seed * 1000 + n), dtype=np.float32)
        lines = rng.integers(0, 2, size=(frame.shape[1],)) * rng.uniform(0, 25)  # wood grain
        frame = np.clip(frame - lines[None, :] * (rng.random() < 0.5), 0, 255)
        Image.fromarray(frame.astype(np.uint8)).save(negatives / f"{n:03d}.png")
    written.append(negatives)
    return written
