"""How people train, for the memory estimate: mixed precision, activation checkpointing, data
parallelism with ZeRO's sharding, and a framework's workspace limit and fixed overhead.

Each is a convention of a named framework, so that the figures can be checked against it:
``--amp`` is PyTorch's autocast with a GradScaler, ``--checkpoint`` is
``torch.utils.checkpoint.checkpoint_sequential``, ``--zero`` is DeepSpeed's ZeRO with its
mixed-precision Adam (Rajbhandari et al. 2020, §3: 2Ψ half weights + 2Ψ half gradients + KΨ
optimizer states, K = 12 for Adam).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

from ..records import Row

#: Values the optimizer keeps per parameter: momentum's velocity, Adam's two moments, ...
SLOTS = {"sgd": 0, "momentum": 1, "nesterov": 1, "adagrad": 1, "rmsprop": 1, "adam": 2, "adamw": 2}
#: --amp's half types; --zero without --amp trains in DeepSpeed's default, fp16
AMP = {"fp16": "float16", "bf16": "bfloat16"}
#: Layer types whose weights autocast casts to half and autograd keeps for the backward pass
#: (conv2d, conv_transpose2d and linear are on autocast's lower-precision list).
AUTOCAST = frozenset({"CONV", "TCONV", "FC", "LINEAR"})
HALF, FULL = 2, 4


class Training(NamedTuple):
    """The options of ``convcalc memory`` beyond the notes' single-device fp32 estimate."""

    amp: str | None = None  # "fp16" | "bf16": autocast + GradScaler
    checkpoint: int | str | None = None  # K segments, or "sqrt" for √n
    gpus: int = 1  # data-parallel devices; the batch is per device
    zero: int | None = None  # DeepSpeed ZeRO stage 0 to 3 (mixed precision)
    overhead: int = 0  # bytes of framework or CUDA context, stated in the report
    workspace_limit: int | None = None  # a framework's limit on the workspace; 0: none

    @property
    def mixed(self) -> bool:
        return self.amp is not None or self.zero is not None

    def activation_dtype(self, dtype: str) -> str:
        """The dtype of the activations: the half type under --amp or --zero."""
        if self.amp is not None:
            return AMP[self.amp]
        return "float16" if self.zero is not None else dtype


class ModelStates(NamedTuple):
    """Bytes per device of what does not grow with the batch."""

    parameters: int
    parameter_gradients: int
    optimizer_state: int
    weight_copies: int  # autocast's half copies of the CONV/FC weights, kept for the backward


def shard(values: int, gpus: int) -> int:
    """Values one of ``gpus`` devices holds of a partitioned tensor (the last may be short)."""
    return -(-values // gpus)


def model_states(
    rows: Sequence[Row], optimizer: str, width: int, training: Training
) -> ModelStates:
    """Per device: parameters, their gradients and the optimizer state.

    Plain training keeps all three at the dtype's ``width``. Under --amp (autocast with a
    GradScaler) they stay float32, and autograd keeps a half copy of each CONV/FC weight.
    Under --zero they follow DeepSpeed's mixed precision: half parameters and gradients, and
    float32 master weights with the optimizer's slots (K = 4 + 4·slots bytes; Adam: 12);
    stage 1 shards the optimizer state over the devices, stage 2 the gradients too, stage 3
    the parameters too.
    """
    psi = sum(r.params for r in rows)
    slots = SLOTS[optimizer]
    n = training.gpus
    if training.zero is not None:
        stage = training.zero
        return ModelStates(
            HALF * (shard(psi, n) if stage >= 3 else psi),
            HALF * (shard(psi, n) if stage >= 2 else psi),
            (FULL + FULL * slots) * (shard(psi, n) if stage >= 1 else psi),
            0,
        )
    if training.amp is not None:
        copies = sum(r.weights for r in rows if r.type in AUTOCAST) * HALF
        return ModelStates(FULL * psi, FULL * psi, FULL * slots * psi, copies)
    return ModelStates(width * psi, width * psi, width * slots * psi, 0)


class Checkpointing(NamedTuple):
    """Activation checkpointing of K segments, as ``checkpoint_sequential`` runs it: every
    segment but the last keeps only its input during the forward pass and runs again in the
    backward pass; the last segment keeps its activations as usual."""

    segments: int
    kept: int  # values per image kept through the forward pass
    kept_switches: int  # max-pool switches per image kept through the forward pass
    recomputed: int  # values per image of the largest checkpointed segment, run again
    recomputed_switches: int  # its switches
    extra_macs: int  # MACs per image of running the checkpointed segments again


def pieces(rows: Sequence[Row]) -> list[range]:
    """The modules ``checkpoint_sequential`` would see: runs of rows between the points where
    one tensor alone crosses (in VGG every row, in ResNet a residual block). The INPUT row
    belongs to none."""
    last = list(range(len(rows)))  # the last row that reads each row's output
    for i, row in enumerate(rows):
        for j in row.inputs:
            last[j] = max(last[j], i)
    out, start, reach = [], 1, 0
    for i in range(1, len(rows)):
        if reach <= i or i == len(rows) - 1:  # only row i's output goes on
            out.append(range(start, i + 1))
            start = i + 1
        reach = max(reach, last[i])
    return out


def checkpointing(
    rows: Sequence[Row], segments: int | str, kept: Sequence[int], switches: Sequence[int]
) -> Checkpointing:
    """The activations of K segments (``"sqrt"``: √n of the n pieces, Chen et al. 2016).

    ``kept`` and ``switches`` are each row's own activations and switches per image. As
    ``checkpoint_sequential(pieces, K)``: runs of ⌊n/K⌋ pieces, the last run taking the rest.
    A checkpointed run keeps its input (the whole output of the row before it); the last run
    keeps its input and what its rows keep.
    """
    parts = pieces(rows)
    n = len(parts)
    k = max(1, round(math.sqrt(n))) if segments == "sqrt" else max(1, min(int(segments), n))
    size = n // k

    def volume(i: int) -> int:
        w, h, d = rows[i].output
        return w * h * d

    held = held_switches = again = again_switches = extra = 0
    for s in range(0, size * (k - 1), size):
        run = [i for p in parts[s : s + size] for i in p]
        held += volume(run[0] - 1)
        if sum(kept[i] for i in run) > again:
            again = sum(kept[i] for i in run)
            again_switches = sum(switches[i] for i in run)
        extra += sum(rows[i].macs for i in run)
    tail = [i for p in parts[size * (k - 1) :] for i in p]
    if tail:
        held += volume(tail[0] - 1) + sum(kept[i] for i in tail)
        held_switches = sum(switches[i] for i in tail)
    return Checkpointing(k, held, held_switches, again, again_switches, extra)


#: the single-device fp32 training of the notes, with the workspace as the pass allocates it
PLAIN = Training()
