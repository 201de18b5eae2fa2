"""Memory (README, Memory): what training and inference hold, in exact bytes.

The notes name three sources: activations and their gradients (of equal size), parameters with
their gradients and the optimizer's step cache ("a factor of at least 3 or so"), and
miscellaneous memory. Everything here is a count of values turned into bytes by the dtype;
reports turn bytes into MB (1024² bytes, as the notes do).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from ..layers.vocabulary import LAYERS
from ..records import Row
from ..units import BYTES

SWITCH_BYTES = 8  # one int64 index per max-pool output value (the notes' "switches")
#: Values the optimizer keeps per parameter: momentum's velocity, Adam's two moments, ...
SLOTS = {"sgd": 0, "momentum": 1, "nesterov": 1, "adagrad": 1, "rmsprop": 1, "adam": 2, "adamw": 2}


class PerImage(NamedTuple):
    """Bytes that scale with the batch, for one image."""

    activations: int
    activation_gradients: int
    pool_switches: int
    workspace: int
    live_peak: int  # the most activation bytes alive at once in a forward pass

    @property
    def training(self) -> int:
        return self.activations + self.activation_gradients + self.pool_switches + self.workspace


class Memory(NamedTuple):
    """The memory estimate for one batch; every field is in bytes, scaled by the batch."""

    dtype: str
    batch: int
    optimizer: str
    per_image: PerImage
    parameters: int
    buffers: int

    @property
    def activations(self) -> int:
        return self.batch * self.per_image.activations

    @property
    def activation_gradients(self) -> int:
        return self.batch * self.per_image.activation_gradients

    @property
    def pool_switches(self) -> int:
        return self.batch * self.per_image.pool_switches

    @property
    def workspace(self) -> int:
        return self.batch * self.per_image.workspace

    @property
    def parameter_gradients(self) -> int:
        return self.parameters

    @property
    def optimizer_state(self) -> int:
        return self.parameters * SLOTS[self.optimizer]

    @property
    def fixed(self) -> int:
        """What does not grow with the batch: parameters, buffers, gradients, optimizer state."""
        return self.parameters + self.buffers + self.parameter_gradients + self.optimizer_state

    @property
    def training_total(self) -> int:
        return self.batch * self.per_image.training + self.fixed

    @property
    def inference_peak(self) -> int:
        return (
            self.parameters
            + self.buffers
            + self.batch * (self.per_image.live_peak + self.per_image.workspace)
        )

    def with_batch(self, batch: int) -> Memory:
        return self._replace(batch=batch)

    def max_batch(self, budget: int) -> int:
        """The largest batch whose training total fits the budget (0 when none does)."""
        per_image = self.per_image.training
        if per_image == 0:
            return 0 if self.fixed > budget else 1 << 62
        return max(0, (budget - self.fixed) // per_image)

    def as_dict(self) -> dict[str, object]:
        """The estimate keyed by name, in bytes (the JSON `memory` object) with the per-image
        parts under ``per_image``: ``json.dumps`` takes it."""
        return {**self.to_json(), "per_image": self.per_image._asdict()}

    def to_json(self) -> dict[str, object]:
        return {
            "dtype": self.dtype,
            "batch": self.batch,
            "optimizer": self.optimizer,
            "activations": self.activations,
            "activation_gradients": self.activation_gradients,
            "pool_switches": self.pool_switches,
            "parameters": self.parameters,
            "buffers": self.buffers,
            "parameter_gradients": self.parameter_gradients,
            "optimizer_state": self.optimizer_state,
            "workspace": self.workspace,
            "training_total": self.training_total,
            "inference_peak": self.inference_peak,
        }


def workspace_values(row: Row) -> int:
    """The im2col buffer of a convolution, per image: (F·F·D1/groups) × (W2·H2) values.

    TCONV's is its column buffer, (F·F·K/groups) × (W1·H1). Other layers need none (each
    layer type answers, see ``LayerType.workspace_values``).
    """
    layer = LAYERS.get(row.type)
    if layer is None:  # ADD, CAT
        return 0
    x = row.input_shapes[0] if row.input_shapes else row.output
    return layer.workspace_values(row.args, x, row.output)


def live_peak(rows: Sequence[Row]) -> int:
    """The most activation values alive at once when every tensor is freed after its last use.

    In-place layers write into their input's storage, so a storage lives until the last
    reader of any row that shares it. While row t runs, its inputs and its output are alive,
    so the branches of an ADD or CAT stay alive until the merge.
    """
    storage = list(range(len(rows)))
    for t, row in enumerate(rows):
        if row.in_place and row.inputs:
            storage[t] = storage[row.inputs[0]]
    last = list(range(len(rows)))
    for t, row in enumerate(rows):
        for i in row.inputs:
            last[storage[i]] = max(last[storage[i]], t)
        last[storage[t]] = max(last[storage[t]], t)
    if rows:
        last[storage[-1]] = len(rows) - 1  # the network's output is kept
    size = [0 if row.in_place else row.output[0] * row.output[1] * row.output[2] for row in rows]
    # sweep: +size when a storage is created, -size after its last use
    change = [0] * (len(rows) + 1)
    for s in set(storage):
        change[s] += size[s]
        change[last[s] + 1] -= size[s]
    peak = alive = 0
    for t in range(len(rows)):
        alive += change[t]
        peak = max(peak, alive)
    return peak


def estimate(rows: Sequence[Row], *, dtype: str, batch: int, optimizer: str) -> Memory:
    """The memory of a batch of ``batch`` images through these rows."""
    width = BYTES[dtype]
    activations = sum(r.activations for r in rows) * width
    switches = sum(LAYERS[r.type].switch_values(r.args, r.output) for r in rows if r.type in LAYERS)
    per_image = PerImage(
        activations=activations,
        activation_gradients=activations,
        pool_switches=switches * SWITCH_BYTES,
        workspace=max((workspace_values(r) for r in rows), default=0) * width,
        live_peak=live_peak(rows) * width,
    )
    return Memory(
        dtype=dtype,
        batch=batch,
        optimizer=optimizer,
        per_image=per_image,
        parameters=sum(r.params for r in rows) * width,
        buffers=sum(r.buffers for r in rows) * width,
    )
