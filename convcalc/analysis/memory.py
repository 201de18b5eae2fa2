"""Memory (README, Memory): what training and inference hold, in exact bytes.

The notes name three sources: activations and their gradients (of equal size), parameters with
their gradients and the optimizer's step cache ("a factor of at least 3 or so"), and
miscellaneous memory. Everything here is a count of values turned into bytes by the dtype;
reports turn bytes into MB (1024² bytes, as the notes do).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import NamedTuple

from ..layers.vocabulary import LAYERS
from ..records import Row
from ..sizing import ALIGN, prologue_bytes, threads
from ..units import BYTES
from .plan import Step, bias_column, plan
from .training import (
    PLAIN,
    SLOTS,
    Checkpointing,
    ModelStates,
    Training,
    checkpointing,
    model_states,
)

__all__ = ["SLOTS", "SWITCH_BYTES", "Memory", "PerImage", "Training", "estimate", "workspace"]

SWITCH_BYTES = 8  # one int64 index per max-pool output value (the notes' "switches")


class PerImage(NamedTuple):
    """Bytes that scale with the batch, for one image."""

    activations: int
    activation_gradients: int
    pool_switches: int
    live_peak: int  # the most activation bytes alive at once in a forward pass

    @property
    def training(self) -> int:
        return self.activations + self.activation_gradients + self.pool_switches


class Memory(NamedTuple):
    """The memory estimate for one batch on one device; every figure is in bytes.

    The workspace is one buffer, not one per image: the largest any step of the forward pass
    allocates at this batch (see ``workspace``), or a framework's limit.
    """

    dtype: str  # of the parameters (float32 under --amp and --zero's master weights)
    batch: int  # per device
    optimizer: str
    per_image: PerImage
    states: ModelStates
    buffers: int
    rows: tuple[Row, ...]  # for the workspace at another batch
    activation_dtype: str
    training: Training = PLAIN
    checkpoint: Checkpointing | None = None

    @property
    def parameters(self) -> int:
        return self.states.parameters

    @property
    def parameter_gradients(self) -> int:
        return self.states.parameter_gradients

    @property
    def optimizer_state(self) -> int:
        return self.states.optimizer_state

    @property
    def weight_copies(self) -> int:
        return self.states.weight_copies

    @property
    def model_states(self) -> int:
        """Parameters, their gradients and the optimizer state: ZeRO's "model states"."""
        return self.parameters + self.parameter_gradients + self.optimizer_state

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
        return workspace(self.rows, self.batch, BYTES[self.activation_dtype], self.training)

    @property
    def overhead(self) -> int:
        return self.training.overhead

    @property
    def fixed(self) -> int:
        """What does not grow with the batch: model states, buffers, autocast's weight copies
        and the stated overhead."""
        return self.model_states + self.buffers + self.weight_copies + self.overhead

    @property
    def training_total(self) -> int:
        return self.batch * self.per_image.training + self.workspace + self.fixed

    @property
    def inference_peak(self) -> int:
        """Parameters, buffers, the most activations alive at once, the workspace, the
        overhead: what a forward pass without gradients holds."""
        return (
            self.parameters
            + self.buffers
            + self.batch * self.per_image.live_peak
            + self.workspace
            + self.overhead
        )

    @property
    def recompute_macs(self) -> int:
        """MACs of the forward pass run again for the checkpointed segments, for the batch."""
        return self.batch * self.checkpoint.extra_macs if self.checkpoint else 0

    def with_batch(self, batch: int) -> Memory:
        return self._replace(batch=batch)

    def max_batch(self, budget: int) -> int:
        """The largest batch whose training total fits the budget (0 when none does); the
        workspace grows with the batch until its chunks hold whole images, so search."""
        per_image = self.per_image.training
        if self.with_batch(1).training_total > budget:
            return 0
        if per_image == 0:
            return 1 << 62
        low, high = 1, max(1, (budget - self.fixed) // per_image) + 1
        while high - low > 1:  # training_total(low) fits, training_total(high) does not
            mid = (low + high) // 2
            low, high = (mid, high) if self.with_batch(mid).training_total <= budget else (low, mid)
        return low

    def as_dict(self) -> dict[str, object]:
        """The estimate keyed by name, in bytes (the JSON `memory` object) with the per-image
        parts under ``per_image``: ``json.dumps`` takes it."""
        return {**self.to_json(), "per_image": self.per_image._asdict()}

    def to_json(self) -> dict[str, object]:
        t = self.training
        return {
            "dtype": self.dtype,
            "activation_dtype": self.activation_dtype,
            "batch": self.batch,
            "optimizer": self.optimizer,
            "amp": t.amp,
            "gpus": t.gpus,
            "zero": t.zero,
            "activations": self.activations,
            "activation_gradients": self.activation_gradients,
            "pool_switches": self.pool_switches,
            "parameters": self.parameters,
            "buffers": self.buffers,
            "parameter_gradients": self.parameter_gradients,
            "optimizer_state": self.optimizer_state,
            "model_states": self.model_states,
            "weight_copies": self.weight_copies,
            "workspace": self.workspace,
            "workspace_limit": t.workspace_limit,
            "overhead": self.overhead,
            "training_total": self.training_total,
            "inference_peak": self.inference_peak,
            "checkpoint": None if self.checkpoint is None else {
                "segments": self.checkpoint.segments,
                "recompute_macs": self.recompute_macs,
            },
        }  # fmt: skip


#: output-sized temporaries of a merge's kernel (the layer types answer for their own): none,
#: since CAT concatenates into its arena buffer and ADD and MUL write into theirs
MERGE_TEMPORARIES: dict[str, int] = {}


#: (type, id of the arguments, input, output, batch, itemsize, threads) -> (the arguments,
#: the row's scratch): rows written alike share their arguments dict, and a 20,000-row
#: spec's workspace asks for every row's (the per-thread bands depend on the thread count)
_SCRATCH: dict[tuple[object, ...], tuple[object, dict[str, int]]] = {}


def scratch(row: Row, batch: int, itemsize: int, cores: int | None = None) -> dict[str, int]:
    """The scratch buffers one row's forward kernel uses on a batch, by arena slot
    (``"temp"``: what the kernel allocates for itself); see ``LayerType.scratch_bytes``.
    ``cores``: ``sizing.threads()``, which a caller asking for every row reads once."""
    layer = LAYERS.get(row.type)
    x = row.input_shapes[0] if row.input_shapes else row.output
    if layer is not None:
        key = (row.type, id(row.args), x, row.output, batch, itemsize, cores or threads())
        hit = _SCRATCH.get(key)
        if hit is not None and hit[0] is row.args:  # the dict is held: its id is not reused
            return dict(hit[1])
        found = layer.scratch_bytes(row.args, x, row.output, batch, itemsize)
        if len(_SCRATCH) > 4096:
            _SCRATCH.clear()
        _SCRATCH[key] = (row.args, found)
        return dict(found)
    temporaries = MERGE_TEMPORARIES.get(row.type, 0)
    w, h, d = row.output
    return {"temp": temporaries * batch * w * h * d * itemsize} if temporaries else {}


def step_buffers(
    rows: Sequence[Row], step: Step, batch: int, itemsize: int, cores: int | None = None
) -> dict[str, int]:
    """The scratch of one step of the pass (see ``plan``): its head's kernel's, and the chunk
    of input a prologue (pre-activation before a 1×1 CONV) is applied to. The rows fused into
    it run on chunks of its output and take none."""
    head = rows[step.rows[0]]
    buffers = scratch(head, batch, itemsize, cores)
    if step.before:
        w, h, c = head.input_shapes[0] if head.input_shapes else head.output
        ones = 1 if bias_column(rows, step) else 0  # a column of ones for the bias
        buffers["pre"] = prologue_bytes(batch, h, w, c, head.output[2], itemsize, ones)
    return buffers


def step_workspace(buffers: Mapping[str, int]) -> int:
    """Bytes of one step's scratch: its named buffers, each aligned in the arena, and what
    its kernel allocates for itself."""
    named = sum(n + ALIGN for name, n in buffers.items() if name != "temp")
    return named + buffers.get("temp", 0)


def workspace(rows: Sequence[Row], batch: int, itemsize: int, training: Training = PLAIN) -> int:
    """The largest workspace any row's kernel needs on the batch, as ``convcalc run``
    allocates it: one region reused by every step, its chunks of whole images while they fit
    a few MB, else bands of rows of one image, so it does not grow with the batch past that.
    ``training.workspace_limit`` caps it as a framework's limit does (0: none)."""
    if training.workspace_limit == 0:
        return 0
    used = _largest_step(rows, batch, itemsize)
    limit = training.workspace_limit
    return used if limit is None else min(used, limit)


#: (ids of the first and last rows, their count, batch, itemsize) -> (the rows, the largest
#: step's workspace): a report
#: asks a Memory for its workspace several times (the totals, the breakdown, the batch table),
#: and a 20,000-row spec's plan and scratch cost half a second each time. The rows are held,
#: so their id cannot be reused while the entry lives.
_STEPS: dict[tuple[int, int, int, int, int], tuple[Sequence[Row], int]] = {}


def _largest_step(rows: Sequence[Row], batch: int, itemsize: int) -> int:
    if not rows:
        return 0
    # the same Row objects, whichever sequence holds them (each estimate makes its own tuple)
    key = (id(rows[0]), id(rows[-1]), len(rows), batch, itemsize)
    hit = _STEPS.get(key)
    if hit is not None and hit[0][0] is rows[0] and hit[0][-1] is rows[-1]:
        return hit[1]
    steps = plan(rows).steps
    cores = threads()
    used = max(
        (step_workspace(step_buffers(rows, s, batch, itemsize, cores)) for s in steps), default=0
    )
    if len(_STEPS) >= 64:
        _STEPS.clear()
    _STEPS[key] = (rows, used)
    return used


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


def kept_values(rows: Sequence[Row]) -> tuple[list[int], list[int]]:
    """Each row's activations and max-pool switches kept for the backward pass, per image.

    A row with no parameters before it (a POOL on the network's input, as in a lone
    Inception module) computes nothing autograd will differentiate: it keeps no switches,
    and its output is kept only when a layer with parameters reads it (for its weights'
    gradient), as PyTorch does for an input that does not require a gradient.
    """
    grad = [False] * len(rows)
    readers: list[list[int]] = [[] for _ in rows]
    for i, r in enumerate(rows):
        grad[i] = r.params > 0 or any(grad[j] for j in r.inputs)
        for j in r.inputs:
            readers[j].append(i)
    values, switches = [], []
    for i, r in enumerate(rows):
        s = LAYERS[r.type].switch_values(r.args, r.output) if r.type in LAYERS else 0
        if grad[i] or any(rows[k].params for k in readers[i]) or i == len(rows) - 1:
            values.append(r.activations)
        else:
            values.append(0)
        switches.append(s if grad[i] else 0)
    return values, switches


def estimate(
    rows: Sequence[Row],
    *,
    dtype: str,
    batch: int,
    optimizer: str,
    training: Training = PLAIN,
) -> Memory:
    """The memory of a batch of ``batch`` images through these rows, on each device."""
    act_dtype = training.activation_dtype(dtype)
    width = BYTES[act_dtype]
    values, switches = kept_values(rows)
    checkpoint = None
    kept, kept_switches = sum(values), sum(switches)
    if training.checkpoint is not None and len(rows) > 1:
        checkpoint = checkpointing(rows, training.checkpoint, values, switches)
        kept = checkpoint.kept + checkpoint.recomputed
        kept_switches = checkpoint.kept_switches + checkpoint.recomputed_switches
    per_image = PerImage(
        activations=kept * width,
        activation_gradients=kept * width,
        pool_switches=kept_switches * SWITCH_BYTES,
        live_peak=live_peak(rows) * width,
    )
    param_width = 4 if training.mixed else BYTES[dtype]
    return Memory(
        dtype="float32" if training.mixed else dtype,
        batch=batch,
        optimizer=optimizer,
        per_image=per_image,
        states=model_states(rows, optimizer, BYTES[dtype], training),
        buffers=sum(r.buffers for r in rows) * param_width,
        rows=tuple(rows),
        activation_dtype=act_dtype,
        training=training,
        checkpoint=checkpoint,
    )
