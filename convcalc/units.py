"""Units: bytes per value, MB as the notes count them (1024² bytes), sizes people type.

A leaf module: it imports nothing of the pipeline.
"""

from __future__ import annotations

import re

MB = 1024 * 1024
#: Bytes of one value of each dtype a spec can name.
BYTES = {"float32": 4, "float16": 2, "bfloat16": 2, "float64": 8}


def megabytes(value: float, digits: int = 2) -> str:
    """Bytes as a number of MB with thousands separators: ``1,234.56``."""
    return f"{value / MB:,.{digits}f}"


def mb(value: float, digits: int = 2) -> str:
    """Bytes as MB with the unit: ``58.13 MB``."""
    return f"{megabytes(value, digits)} MB"


_UNITS = {
    "": 1, "b": 1,
    "kb": 1000, "mb": 1000**2, "gb": 1000**3, "tb": 1000**4,
    "kib": 1024, "mib": 1024**2, "gib": 1024**3, "tib": 1024**4,
}  # fmt: skip
_SIZE = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*([a-zA-Z]*)\s*$")


def parse_size(text: str) -> int:
    """``12GiB`` → 12·1024³ bytes, ``16GB`` → 16·1000³, ``8000MiB``, ``512MB``, ``1000000``.

    Raises ValueError with the accepted forms.
    """
    m = _SIZE.match(text)
    unit = m.group(2).lower() if m else ""
    if m is None or unit not in _UNITS:
        raise ValueError(
            f"{text!r} is not a size: write a number with a unit, like 12GiB, 16GB, 8000MiB "
            "or 512MB (KiB/MiB/GiB/TiB are powers of 1024, KB/MB/GB/TB powers of 1000)"
        )
    return int(float(m.group(1)) * _UNITS[unit])
