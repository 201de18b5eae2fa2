"""Units: bytes per value, MB as the notes count them (1024² bytes), sizes people type.

A leaf module: it imports nothing of the pipeline.
"""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal

MB = 1024 * 1024
#: Bytes of one value of each dtype a spec can name.
BYTES = {"float32": 4, "float16": 2, "bfloat16": 2, "float64": 8}


def rounded(value: float | Decimal, digits: int) -> Decimal:
    """``value`` to ``digits`` decimals, halves away from zero (6.125 → 6.13), computed in
    decimal: every report rounds through here, so one value always prints the same."""
    return Decimal(value).quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP)


def megabytes(value: float, digits: int = 2) -> str:
    """Bytes as a number of MB with thousands separators: ``1,234.56`` (see :func:`rounded`).
    A whole number of bytes is rounded in integers, as exactly and 10 times faster (a table
    of 20,000 rows has a cell each)."""
    if type(value) is int and value >= 0 and digits > 0:
        scale = 10**digits
        units = (2 * value * scale + MB) // (2 * MB)  # value/MB in 10^-digits, halves up
        return f"{units // scale:,}.{units % scale:0{digits}d}"
    return f"{rounded(Decimal(value) / MB, digits):,.{digits}f}"


def mb(value: float, digits: int = 2) -> str:
    """Bytes as MB with the unit: ``58.13 MB``."""
    return f"{megabytes(value, digits)} MB"


#: The unit of a count of multiply-accumulates by its magnitude (the largest that gives >= 1).
MAC_UNITS = ((10**9, "GMACs"), (10**6, "MMACs"), (10**3, "kMACs"))


def macs(value: int) -> str:
    """A count of multiply-accumulates in the largest unit it reaches, three decimals and
    thousands separators: ``5,165.793 GMACs``, ``39.293 MMACs``, ``416.520 kMACs``, ``12 MACs``."""
    for scale, unit in MAC_UNITS:
        if value >= scale:
            return f"{rounded(Decimal(value) / scale, 3):,.3f} {unit}"
    return f"{value:,} MACs"


_WORDS = ((10**12, "trillion"), (10**9, "billion"), (10**6, "million"))


def in_words(value: int) -> str:
    """A large count as people say it, three significant digits: ``34.4 billion``; below a
    million with thousands separators."""
    for scale, word in _WORDS:
        if value >= scale:
            number = value / scale
            digits = 1 if number < 100 else 0
            return f"{rounded(number, digits):,} {word}"
    return f"{value:,}"


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
