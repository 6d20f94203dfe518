"""The symbology names of the decoder libraries and stocktaker's own, one table each way.

Both the decoders (:mod:`hal.camera.decode`) and the passes of the pipeline
(:mod:`hal.camera.decode_passes`) read these tables.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Mapping

ZBAR_NAMES: Mapping[str, str] = MappingProxyType(
    {
        "QRCODE": "QR",
        "CODE128": "CODE128",
        "CODE39": "CODE39",
        "CODE93": "CODE93",
        "EAN13": "EAN13",
        "EAN8": "EAN8",
        "UPCA": "UPCA",
        "UPCE": "UPCE",
        "I25": "ITF",
        "CODABAR": "CODABAR",
        "DATABAR": "DATABAR",
        "DATABAR_EXP": "DATABAR_EXP",
        "PDF417": "PDF417",
        "SQCODE": "SQCODE",
    }
)
"""zbar's symbol type names -> stocktaker's symbology names."""

ZXING_NAMES: Mapping[str, str] = MappingProxyType(
    {
        "QRCode": "QR",
        "QRCodeModel1": "QR",
        "QRCodeModel2": "QR",
        "MicroQRCode": "MICROQR",
        "RMQRCode": "RMQR",
        "DataMatrix": "DATAMATRIX",
        "Aztec": "AZTEC",
        "AztecCode": "AZTEC",
        "PDF417": "PDF417",
        "CompactPDF417": "PDF417",
        "MicroPDF417": "MICROPDF417",
        "MaxiCode": "MAXICODE",
        "Code128": "CODE128",
        "Code39": "CODE39",
        "Code39Std": "CODE39",
        "Code39Ext": "CODE39",
        "Code32": "CODE32",
        "Code93": "CODE93",
        "Codabar": "CODABAR",
        "ITF": "ITF",
        "ITF14": "ITF",
        "EAN13": "EAN13",
        "EAN8": "EAN8",
        "UPCA": "UPCA",
        "UPCE": "UPCE",
        "DataBar": "DATABAR",
        "DataBarOmni": "DATABAR",
        "DataBarStk": "DATABAR",
        "DataBarStkOmni": "DATABAR",
        "DataBarLtd": "DATABAR_LTD",
        "DataBarExp": "DATABAR_EXP",
        "DataBarExpStk": "DATABAR_EXP",
    }
)
"""zxing-cpp's barcode format names -> stocktaker's symbology names."""

ZXING_FORMATS: Mapping[str, str] = MappingProxyType(
    {
        "QR": "QRCode",
        "MICROQR": "MicroQRCode",
        "RMQR": "RMQRCode",
        "DATAMATRIX": "DataMatrix",
        "AZTEC": "Aztec",
        "PDF417": "PDF417",
        "MICROPDF417": "MicroPDF417",
        "MAXICODE": "MaxiCode",
        "CODE128": "Code128",
        "CODE39": "Code39",
        "CODE93": "Code93",
        "CODABAR": "Codabar",
        "ITF": "ITF",
        "EAN13": "EAN13",
        "EAN8": "EAN8",
        "UPCA": "UPCA",
        "UPCE": "UPCE",
        "DATABAR": "DataBar",
        "DATABAR_LTD": "DataBarLtd",
        "DATABAR_EXP": "DataBarExp",
    }
)
"""stocktaker's symbology names -> the zxing-cpp format that reads them."""
