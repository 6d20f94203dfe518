"""UPC-A and UPC-E symbols drawn module by module, then made small, blurred and noisy.

The pictures of ``tests/upca-small`` were drawn with :func:`picture` and the parameters of
:data:`UPCA_SMALL` (``python -m tests.barcode_pictures tests/upca-small``): UPC-A symbols
of about two pixels per module in which zbar reads a UPC-E made of part of the bars.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter

_L = ("0001101", "0011001", "0010011", "0111101", "0100011",
      "0110001", "0101111", "0111011", "0110111", "0001011")
_R = tuple("".join("1" if m == "0" else "0" for m in code) for code in _L)
_G = tuple(code[::-1] for code in _R)
# UPC-E: which of the six digits take the even (G) set, by check digit, number system 0.
_UPCE_PARITY = ("EEEOOO", "EEOEOO", "EEOOEO", "EEOOOE", "EOEEOO",
                "EOOEEO", "EOOOEE", "EOEOEO", "EOEOOE", "EOOEOE")

UPCA_SMALL = (
    ("307144097928", 1.99, 1.196, 0.3, 880115172),
    ("913428095582", 1.61, 0.915, 2.45, 827163868),
    ("595215547520", 2.007, 1.191, 1.91, 1057786636),
    ("886937939862", 1.566, 0.882, 0.4, 83631295),
)
"""UPC-A (12 digits), pixels per module, blur radius, noise (grey levels), noise seed."""


def check_digit(body: str) -> str:
    """The GS1 mod-10 check digit of ``body``."""
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return str((10 - total % 10) % 10)


def upca_modules(digits: str) -> str:
    """The 95 modules of a UPC-A (``1`` a bar) from its 12 digits."""
    return ("101" + "".join(_L[int(d)] for d in digits[:6]) + "01010"
            + "".join(_R[int(d)] for d in digits[6:]) + "101")


def upce_modules(digits: str) -> str:
    """The 51 modules of a UPC-E from its 8 digits (number system 0 or 1, six, check)."""
    parity = _UPCE_PARITY[int(digits[7])]
    if digits[0] == "1":
        parity = parity.translate(str.maketrans("EO", "OE"))
    return ("101" + "".join((_G if p == "E" else _L)[int(d)]
                            for p, d in zip(parity, digits[1:7])) + "010101")


def picture(modules: str, per_module: float, blur: float, noise: float, seed: int,
            height: int = 40, quiet: int = 12) -> np.ndarray:
    """The symbol with ``quiet`` blank modules each side, ``per_module`` pixels a module,
    Gaussian blur of radius ``blur`` and normal noise of ``noise`` grey levels."""
    full = "0" * quiet + modules + "0" * quiet
    line = np.repeat(np.array([0 if m == "1" else 255 for m in full], dtype=np.uint8), 16)
    image = Image.fromarray(np.tile(line, (height * 4, 1))).resize(
        (int(len(full) * per_module), height), Image.Resampling.BOX)
    image = image.filter(ImageFilter.GaussianBlur(blur))
    pixels = np.asarray(image, dtype=np.float32) + np.random.default_rng(seed).normal(
        0, noise, (height, image.width))
    return np.clip(pixels, 0, 255).astype(np.uint8)


def main(folder: str) -> None:
    """Write the pictures of :data:`UPCA_SMALL`, each beside the ``.txt`` of its value."""
    target = Path(folder)
    target.mkdir(parents=True, exist_ok=True)
    for n, (digits, per_module, blur, noise, seed) in enumerate(UPCA_SMALL, 1):
        gray = picture(upca_modules(digits), per_module, blur, noise, seed)
        Image.fromarray(gray).save(target / f"{n:02d}.png")
        (target / f"{n:02d}.txt").write_text("0" + digits)


if __name__ == "__main__":
    main(sys.argv[1])
