"""The records every stage passes on: volumes, layer arguments, one row per layer, totals.

A leaf module: it imports nothing of the pipeline, only the locations findings carry.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

from .errors import Location

Shape = tuple[int, int, int]  # (W, H, D)
IntPair = tuple[int, int]
ArgValue = bool | int | float | str | IntPair
Args = Mapping[str, ArgValue]


def show_shape(shape: Shape) -> str:
    return "×".join(str(v) for v in shape)


class Row(NamedTuple):
    """One layer's facts; ``inputs`` are the positions of the rows it reads."""

    name: str
    type: str
    args: Mapping[str, ArgValue]
    inputs: tuple[int, ...]
    input_shapes: tuple[Shape, ...]
    output: Shape
    weights: int
    biases: int
    buffers: int
    macs: int
    activations: int
    receptive_field: tuple[int, int]
    location: Location
    in_place: bool = False

    @property
    def params(self) -> int:
        return self.weights + self.biases


class Totals(NamedTuple):
    params: int
    weights: int
    biases: int
    buffers: int
    macs: int
    activations: int

    @classmethod
    def of(cls, rows: tuple[Row, ...]) -> Totals:
        return cls(
            params=sum(r.params for r in rows),
            weights=sum(r.weights for r in rows),
            biases=sum(r.biases for r in rows),
            buffers=sum(r.buffers for r in rows),
            macs=sum(r.macs for r in rows),
            activations=sum(r.activations for r in rows),
        )
