"""Which network input sizes make every stride fit?

One axis at a time, the rows are replayed with a candidate input size; a candidate fits when
no floor-rounded window leaves a remainder, no size drops below 1, and every merge sees equal
sizes. The nearest fitting sizes below and above the given one are the suggestion.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..layers.geometry import MINUS
from ..layers.merges import MERGES
from ..layers.vocabulary import LAYERS
from ..records import Row

SEARCH = 64  # how far from the given size to look, each way
WORK = 200_000  # rows replayed at most per direction and axis: big networks look less far


def reach(rows: Sequence[Row]) -> int:
    """How far from the given size to look for this many rows."""
    return max(4, min(SEARCH, WORK // max(len(rows), 1)))


def fits(rows: Sequence[Row], axis: int, size: int, rounding: str) -> bool:
    sizes: list[int] = []
    for row in rows:
        if not row.inputs:
            sizes.append(size)
            continue
        merge = MERGES.get(row.type)
        if merge is not None:
            out = merge.size_along([sizes[i] for i in row.inputs])
        else:
            out = LAYERS[row.type].size_along(row.args, axis, sizes[row.inputs[0]], rounding)
        if out is None:
            return False
        sizes.append(out)
    return True


def nearest(rows: Sequence[Row], axis: int, size: int, rounding: str) -> tuple[int | None, ...]:
    """The nearest fitting input sizes (above, below) along one axis."""
    far = reach(rows)
    above = next(
        (c for c in range(size + 1, size + far + 1) if fits(rows, axis, c, rounding)), None
    )
    below = next(
        (c for c in range(size - 1, max(0, size - far), -1) if fits(rows, axis, c, rounding)),
        None,
    )
    return above, below


def network_fits(
    rows: Sequence[Row], shape: tuple[int, int, int], axes: tuple[int, ...], rounding: str
) -> str | None:
    """``the whole network fits an input of 227×227×3 (+3) or 199×199×3 (−25)``"""
    found = {axis: nearest(rows, axis, shape[axis], rounding) for axis in (0, 1)}
    square = shape[0] == shape[1] and found[0] == found[1]
    options = []
    for value in found[axes[0]] if square else ():
        if value is not None:
            delta = value - shape[0]
            sign = "+" if delta > 0 else MINUS
            options.append(f"{value}×{value}×{shape[2]} ({sign}{abs(delta)})")
    if square:
        if not options:
            return f"no input within ±{reach(rows)} of {shape[0]}×{shape[1]} makes every stride fit"
        return "the whole network fits an input of " + " or ".join(options)
    parts = []
    for axis in axes:
        name = ("width", "height")[axis]
        sizes = [
            f"{v} ({'+' if v > shape[axis] else MINUS}{abs(v - shape[axis])})"
            for v in found[axis]
            if v is not None
        ]
        parts.append(
            f"an input {name} of {' or '.join(sizes)}"
            if sizes
            else f"no input {name} within ±{reach(rows)} of {shape[axis]}"
        )
    return "the whole network fits " + "; ".join(parts)
