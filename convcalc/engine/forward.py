"""A real forward pass in NumPy that confirms every shape the analysis propagated.

``forward(analysis)`` draws He-initialised weights (uniform, variance 2/fan_in) and an input
batch from a seed, runs every row of the analysis in order (each row's inputs are earlier
rows), frees each array after its last reader, and compares every array's shape with the
row's output::

    >>> import convcalc
    >>> from convcalc.engine.forward import forward
    >>> result = forward(convcalc.analyze(convcalc.load("lenet5")), batch=2)
    >>> result.ok, result.layers[-1].actual
    (True, (1, 1, 10))

Before allocating anything it estimates the memory the pass needs (weights, live
activations, workspace) and raises :class:`MemoryLimitError` above ``max_memory`` (default:
half the available memory). A CONV or FC followed by batch norm, elementwise activations
and residual adds runs as one step: the batch norm folded into the weights, the rest applied
to each chunk of the GEMM's output while it is in cache; a batch norm and activations before
a 1×1 CONV whose input other rows read too (DenseNet's pre-activation), a squeeze-and-excitation
MUL before a 1×1 CONV, and a layer norm before a LINEAR (its γ and β folded into the LINEAR's
weights) run on each chunk of its input on the way into the GEMM; those rows report 0 s and
name the row they were fused into (``fuse=False`` runs every row on its own). Weights are prepared
with their initialisation, outside the timed pass: batch norms folded, and 3×3 convs that
Winograd F(4×4, 3×3) or F(2×2, 3×3) runs faster (see ``kernels.winograd_tile``)
transformed.

The pass runs in the spec's dtype (float32, float16 or float64); bfloat16 is not a NumPy
dtype, so it runs in float32 and ``ForwardResult.note`` says so. Times are
``time.perf_counter`` around each step: ``seconds``, their sum, leaves out drawing the weights,
folding batch norms, Winograd's weight transforms and a grouped conv's block-diagonal
weights (a framework's weights are ready before its pass too); ``call_seconds`` is the whole
call. The peak memory is tracemalloc's (NumPy reports its allocations to it), from before the
weights are drawn to the end of the pass.

This module is the entry; the pass's jobs have their own: ``plan`` (the fused steps and which
rows share an array), ``layout`` (the arena of layer outputs and the memory estimate),
``weights`` (drawing and preparing them), ``runner`` (the steps on arrays), ``kernels``.
"""

from __future__ import annotations

import time
import tracemalloc
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

# numpy.random's first import (secrets, hashlib, threading: some 0.9 MB of Python objects,
# which tracemalloc counts) happens here, not inside the first traced pass: the measured peak
# and the estimate both leave the process's fixed overhead out (the interpreter, the modules,
# NumPy's and BLAS's own buffers, which tracemalloc does not see)
import numpy.random

from ..analysis.analyzer import Analysis
from ..analysis.plan import plan
from ..errors import ConvcalcError
from ..layers.vocabulary import LAYERS
from ..records import Shape
from ..sizing import pinned_threads
from ..units import mb
from . import kernels as K
from . import weights
from .kernels.gemm import alone, own_threads
from .layout import (
    MemoryEstimate,
    MemoryLimitError,
    available_memory,
    blame,
    culprit,
    estimate_memory,
    layout,
)
from .runner import MERGE_KERNELS, Runner

__all__ = ["ForwardError", "ForwardResult", "LayerRecord", "MemoryLimitError", "forward"]

DTYPES = {"float32": np.float32, "float16": np.float16, "float64": np.float64}


class ForwardError(ConvcalcError):
    """The analysis cannot be run (it has errors, or a layer the pass cannot compute)."""


class LayerRecord(NamedTuple):
    name: str
    type: str
    expected: Shape
    actual: Shape | None  # (W, H, D) of the array, None if the batch axis was wrong too
    match: bool
    seconds: float
    gflops: float  # 2·MACs·batch / seconds / 1e9
    fused_into: str | None = None  # the row whose step computed this one


class ForwardResult(NamedTuple):
    layers: tuple[LayerRecord, ...]
    batch: int
    dtype: str  # the NumPy dtype the pass ran in
    seconds: float  # the sum of the step times (weights drawn and prepared outside them)
    measured_peak_bytes: int  # tracemalloc's peak during the pass, weights included
    estimate: MemoryEstimate
    ok: bool  # every shape matched
    note: str | None = None  # e.g. bfloat16 computed as float32
    output: Any = None  # the last row's array, (N, H, W, D)
    #: the whole call: also drawing the weights, folding batch norms, Winograd's transforms
    call_seconds: float = 0.0

    @property
    def estimated_peak_bytes(self) -> int:
        return self.estimate.total


def _nhwc_shape(a: Any, batch: int) -> Shape | None:
    if a.ndim != 4 or a.shape[0] != batch:
        return None
    return int(a.shape[2]), int(a.shape[1]), int(a.shape[3])


def _grouped(row: Any) -> bool:
    """Whether a row is a grouped conv, depthwise ones included."""
    return row.type == "CONV" and int(row.args.get("groups", 1)) > 1


def _depthwise(row: Any) -> bool:
    """Whether a row is a depthwise conv (a group for each input channel)."""
    return _grouped(row) and int(row.args["groups"]) == row.input_shapes[0][2]


#: activations fused into a step whose every value takes an exponential (NumPy's float32 exp,
#: some 2 ns a value on one thread here, against some 0.025 ns a multiply-add in a GEMM) ...
EXP_ACTIVATIONS = frozenset({"SILU", "SWISH", "SIGMOID", "GELU", "TANH", "ELU"})
#: ... and the multiply-adds each of their values counts for in ``_step_work``: EfficientNet's
#: expand convs with their SiLU (56×56×24 → 144, 10.8 million multiply-adds and 451,584
#: exponentials) then share their work. Processes alternating, median of 7, 2 threads, new ÷
#: old: efficientnet-b0 b1 0.93, 0.91, 0.94, 0.92 (b8 1.00: its steps are large); at 400 (the
#: 7×7×192 → 1152 expands shared too) ÷ 80: 1.03–1.16, median 1.06
EXP_EPILOGUE_MACS = 80


def _threaded(row: Any) -> bool:
    """Whether a row runs on the engine's own threads and loses a core to OpenBLAS's idle
    spinning workers (``kernels.gemm``): a depthwise or grouped conv (whose copies and small
    GEMMs the engine shares), a layer norm."""
    return row.type == "LN" or _grouped(row)


def _step_work(rows: Any, step: Any, batch: int) -> int:
    """The multiply-adds by which ``gemm.alone`` judges a step: its head's at this batch, and
    ``EXP_EPILOGUE_MACS`` for each value of a fused activation that takes an exponential
    (``EXP_ACTIVATIONS``); 0 (never alone) for a grouped or depthwise conv, whose kernels cut
    their work between the threads by measured thresholds of their own
    (``sizing.DEPTHWISE_THREADED_MACS``, ``grouped``)."""
    head = rows[step.rows[0]]
    if _grouped(head):
        return 0
    work = batch * int(head.macs)
    for i in step.rows[1:]:
        if rows[i].type in EXP_ACTIVATIONS:
            w, h, d = rows[i].output
            work += batch * w * h * d * EXP_EPILOGUE_MACS
    return work


def forward(
    analysis: Analysis,
    *,
    batch: int = 1,
    seed: int = 0,
    max_memory: int | None = None,
    progress: Callable[[int, int, str], None] | None = None,
    fuse: bool = True,
    trace_memory: bool = True,
    setup: Callable[[str, int, int], None] | None = None,
) -> ForwardResult:
    """Run the analysed network on a random batch and compare every shape.

    ``progress(done, total, layer_name)`` is called after each row. ``setup(phase, done,
    total)`` reports the work before the first row: ``planning`` (0 of 1, then 1 of 1), then
    ``weights`` after each row's weights are drawn. ``trace_memory=False`` skips tracemalloc
    (its bookkeeping slows the pass a little; measured_peak_bytes is then 0).
    """
    called = time.perf_counter()
    announce = setup or (lambda phase, done, total: None)
    if not analysis.ok or analysis.output is None or not analysis.rows:
        raise ForwardError("the analysis has errors: fix them before running the network")
    if batch < 1:
        raise ForwardError(f"batch must be at least 1, not {batch}")
    for row in analysis.rows[1:]:
        if row.type not in LAYERS and row.type not in MERGE_KERNELS:
            raise ForwardError(f"{row.name}: the forward pass cannot compute {row.type} layers")
    note = None
    name = analysis.spec.dtype
    if name not in DTYPES:
        note = f"{name} is not a NumPy dtype: computed in float32"
    dtype = np.dtype(DTYPES.get(name, np.float32))
    rows = analysis.rows
    announce("planning", 0, 1)
    the_plan = plan(rows, fuse=fuse)
    planned = layout(analysis, batch, dtype.itemsize, the_plan)
    estimate = estimate_memory(analysis, batch, dtype.itemsize, the_plan, planned)
    limit = max_memory if max_memory is not None else available_memory() // 2
    if estimate.total > limit:
        worst = culprit(rows, estimate)
        why = blame(worst, estimate, dtype.itemsize) if worst is not None else None
        raise MemoryLimitError(estimate, limit, max_memory is None, why)
    announce("planning", 1, 1)
    for kind in sorted({row.type for row in rows}):  # kernels' tables, before clock and trace
        layer = LAYERS.get(kind)
        if layer is not None:
            layer.warm(dtype)

    tracing = trace_memory and not tracemalloc.is_tracing()
    if tracing:
        tracemalloc.start()
    if trace_memory:
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
    # OpenBLAS on one thread, the engine's sharing each GEMM (big passes of networks whose
    # depthwise convs and layer norms run on the engine's threads)
    macs = batch * sum(row.macs for row in rows)
    restore = own_threads(macs, any(map(_threaded, rows)), depthwise=any(map(_depthwise, rows)))
    try:
        rng = np.random.default_rng(seed)
        x0 = rows[0].output
        params = []
        for i, row in enumerate(rows):
            params.append(weights.init_params(row, rng, dtype))
            announce("weights", i + 1, len(rows))
        runner = Runner(analysis, the_plan, params)
        runner.arrays[0] = K.he_uniform(rng, (batch, x0[1], x0[0], x0[2]), 2, dtype)
        runner.arena.reserve(estimate.arena)
        runner.arena.place(planned.slots, planned.size, planned.views)
        if trace_memory:
            # the peak of the pass itself: the weights and the input count, the temporaries
            # of drawing the weights do not
            tracemalloc.reset_peak()
        seconds = [0.0] * len(rows)
        shapes: dict[int, Shape | None] = {}
        fused_into: dict[int, str] = {}
        # which steps run alone (``gemm.alone``), found before the clock starts
        solo = [_step_work(rows, step, batch) for step in the_plan.steps]
        with pinned_threads():  # the thread count read once, not at every kernel's call
            for s, step in enumerate(the_plan.steps):
                head = step.rows[0]
                runner.arena.begin(s)
                # folding BN and transforming for Winograd happen before the clock starts, one
                # layer at a time, so only that layer's weights exist twice
                layer = LAYERS.get(rows[head].type)
                prepared = None
                if layer is not None and layer.takes_epilogue:
                    prepared = weights.prepare(rows, runner.params, step, batch)
                start = time.perf_counter()
                end = alone(solo[s])  # a small step: on this thread alone
                try:
                    if head == 0:
                        result = runner.arrays[0]
                    elif prepared is not None:
                        result = runner.fused(step, prepared)
                        prepared = None
                    else:
                        result = runner.layer(head)
                finally:
                    end()
                seconds[head] = time.perf_counter() - start
                for i in step.rows:
                    runner.arrays[i] = result
                    shapes[i] = _nhwc_shape(result, batch)
                for i in step.rows[1:]:
                    fused_into[i] = rows[head].name
                for i in step.before:  # applied to the head's input on its way in: its shape
                    shapes[i] = _nhwc_shape(runner.source(step), batch)
                    fused_into[i] = rows[head].name
                runner.release(s)
                if progress is not None:
                    for i in step.rows:
                        progress(i + 1, len(rows), rows[i].name)
        output = runner.arrays[len(rows) - 1]
    except MemoryError:
        raise ForwardError(
            f"out of memory: the system refused an allocation while the pass needs about "
            f"{mb(estimate.total, 0)} at batch {batch} (the limit was {mb(limit, 0)}); "
            "use a smaller input or batch, or a --max-memory this machine has"
        ) from None
    finally:
        restore()
        peak = tracemalloc.get_traced_memory()[1] - base if trace_memory else 0
        if tracing:
            tracemalloc.stop()
    records = []
    for i, row in enumerate(rows):
        actual = shapes.get(i)
        sec = seconds[i]
        gflops = 2 * row.macs * batch / sec / 1e9 if sec > 0 else 0.0
        match = actual == row.output
        record = LayerRecord(row.name, row.type, row.output, actual, match, sec, gflops)
        records.append(record._replace(fused_into=fused_into.get(i)))
    return ForwardResult(
        tuple(records),
        batch,
        str(dtype),
        sum(seconds),
        max(peak, 0),
        estimate,
        all(r.match for r in records),
        note,
        output,
        time.perf_counter() - called,
    )
