"""The records every stage passes on: volumes, layer arguments, one row per layer, totals.

A leaf module: it imports nothing of the pipeline, only the locations findings carry.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import NamedTuple

from .errors import Location

Shape = tuple[int, int, int]  # (W, H, D)
IntPair = tuple[int, int]
ArgValue = bool | int | float | str | IntPair
Args = Mapping[str, ArgValue]


def show_shape(shape: Shape) -> str:
    return f"{shape[0]}×{shape[1]}×{shape[2]}"


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


#: One layer as a flat record (``Analysis.to_records``): str, int, None or a list of str.
Record = dict[str, str | int | list[str] | None]


def records(rows: Sequence[Row]) -> list[Record]:
    """The rows as flat, JSON-ready dicts, one column per value, for ``pandas.DataFrame``.

    The fields of the JSON layer objects, with every shape split into ``_w``, ``_h`` and
    ``_d`` columns and the location into ``file``, ``line`` and ``column``. ``input_layers``
    names the layers a row reads; ``input_w/h/d`` is the first one's volume (None for INPUT),
    since a merge's inputs are rows of their own.
    """
    out: list[Record] = []
    for row in rows:
        first = row.input_shapes[0] if row.input_shapes else None
        out.append({
            "name": row.name,
            "type": row.type,
            "input_layers": [rows[i].name for i in row.inputs],
            "input_w": first[0] if first else None,
            "input_h": first[1] if first else None,
            "input_d": first[2] if first else None,
            "output_w": row.output[0],
            "output_h": row.output[1],
            "output_d": row.output[2],
            "weights": row.weights,
            "biases": row.biases,
            "params": row.params,
            "buffers": row.buffers,
            "macs": row.macs,
            "activations": row.activations,
            "receptive_field_w": row.receptive_field[0],
            "receptive_field_h": row.receptive_field[1],
            "file": row.location.file,
            "line": row.location.line,
            "column": row.location.column,
        })  # fmt: skip
    return out


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

    def as_dict(self) -> dict[str, int]:
        """The totals keyed by name, as the JSON `totals` object (``json.dumps`` of the tuple
        itself gives a list without keys)."""
        return dict(self._asdict())
