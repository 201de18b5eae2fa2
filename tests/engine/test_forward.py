"""The forward pass: every bundled spec runs with all shapes matching, a small network with
every layer type equals a reference built from the naive loops, fusing changes nothing, and
the memory guard refuses a pass that would not fit before allocating anything."""

from __future__ import annotations

import subprocess
import sys
import tracemalloc
from typing import Any

import numpy as np
import pytest

import convcalc
from convcalc.analysis.plan import cat_views, plan
from convcalc.engine import kernels as K
from convcalc.engine import weights
from convcalc.engine.forward import ForwardError, MemoryLimitError, forward
from convcalc.engine.layout import available_memory, layout, lifetimes
from convcalc.frontend import bundled
from convcalc.layers.vocabulary import LAYERS

from ..support import check, paddings
from .test_kernels import (
    close,
    naive_adaptive_pool,
    naive_conv,
    naive_local,
    naive_lrn,
    naive_pool,
    naive_shuffle,
    naive_tconv,
)

#: run at their own input size; the other bundled specs run on a smaller input if they are big
FULL_SIZE = {"vgg16", "resnet18"}
MAX_MACS = 1_200_000_000


def small_enough(name: str) -> convcalc.Analysis:
    """The bundled spec, on halved inputs until its MACs fit the test's time."""
    spec = convcalc.load(name)
    analysis = convcalc.analyze(spec)
    w, h, d = spec.input
    while name not in FULL_SIZE and analysis.totals.macs > MAX_MACS and min(w, h) > 32:
        w, h = w // 2, h // 2
        smaller = convcalc.analyze(spec, input=(w, h, d))
        if not smaller.ok:
            break
        analysis = smaller
    return analysis


@pytest.mark.parametrize("name", bundled.names())
def test_every_bundled_spec_runs_with_matching_shapes(name: str) -> None:
    analysis = small_enough(name)
    assert analysis.ok
    for batch in (1, 2):
        # the shapes are under test, not the guard: a limit of its own, so that a busy
        # machine's available memory (the default limit is half of it) cannot refuse VGG
        result = forward(analysis, batch=batch, trace_memory=batch == 1, max_memory=4 << 30)
        bad = [(r.name, r.expected, r.actual) for r in result.layers if not r.match]
        assert result.ok and not bad, bad
        assert len(result.layers) == len(analysis.rows)
        assert result.output.shape == (batch, *analysis.output[1::-1], analysis.output[2])
        assert np.isfinite(result.output).all()


def test_the_biggest_ones_ran_at_full_size() -> None:
    assert small_enough("vgg16").input == (224, 224, 3)
    assert small_enough("resnet18").input == (224, 224, 3)


# -- a network with every layer type against the naive loops ------------------------------

EVERY_LAYER = """
name: every layer
input: 12x10x3
arch: |
  INPUT -> CONV(4, F=(3, 2), S=(1, 2), P=1) -> BN -> LRELU(0.1)
  -> ADD{ CONV(6, F=3, S=2, P=same) -> BN -> ELU(0.5) | SKIP }
  -> CAT{ CONV(4, F=3, P=2, dilation=2, groups=2) -> GELU | POOL(F=3, S=1, P=1, type=avg) | ID }
  -> LOCAL(4, F=2) -> SIGMOID -> BN
  -> TCONV(6, F=3, S=2, P=1, out_pad=1, groups=2) -> TANH
  -> POOL(F=3, S=2, ceil=true) -> POOL(F=2, S=1, type=l2) -> LRN(size=3)
  -> UP(2) -> DROPOUT(0.3) -> RES{ CONV(6, F=1) -> RELU(inplace=false) } -> RELU
  -> MUL{ ID | GAP -> CONV(3, F=1) -> RELU -> CONV(6, F=1) -> SIGMOID } -> APOOL((5, 3))
  -> CAT{ SLICE(0, 2) -> RELU | SLICE(2) -> CONV(4, F=1) -> BN -> RELU } -> SHUFFLE(3)
  -> APOOL(7, type=max)
  -> RES{ CONV(6, F=3, P=1, groups=6) -> LN -> LINEAR(12) -> HSWISH -> LINEAR(6, bias=false)
          -> SCALE -> DROPPATH(0.2) }
  -> CONV(6, F=1) -> RELU6 -> HSIGMOID -> SILU(inplace=false) -> SWISH -> SCALE -> LN(eps=1e-3)
  -> CAT{ ID | CONV(6, F=1) -> BN -> RELU } -> APOOL(2) -> POOL(F=3, S=3, type=avg, ceil=true)
  -> GAP -> FLATTEN -> FC(5) -> BN -> SOFTMAX
"""


def random_bn(monkeypatch: pytest.MonkeyPatch) -> None:
    """Batch norms with random statistics, layer norms and scales with random γ and β, so
    that folding them is really tested."""
    original = weights.init_params

    def init(row: Any, rng: np.random.Generator, dtype: Any) -> dict[str, Any]:
        params = original(row, rng, dtype)
        if row.type in ("LN", "SCALE"):
            for key in params:
                params[key] = rng.standard_normal(row.output[2]).astype(dtype)
        if row.type == "BN":
            d = row.output[2]
            params.update(
                gamma=rng.standard_normal(d).astype(dtype),
                beta=rng.standard_normal(d).astype(dtype),
                mean=rng.standard_normal(d).astype(dtype),
                var=(rng.random(d) + 0.5).astype(dtype),
            )
        if "b" in params:
            params["b"] = rng.standard_normal(params["b"].shape).astype(dtype)
        return params

    monkeypatch.setattr(weights, "init_params", init)


def fused_pass(
    monkeypatch: pytest.MonkeyPatch, spec: str, batch: int, seed: int
) -> tuple[convcalc.Analysis, dict[str, str]]:
    """``spec``'s pass with random statistics (``random_bn``), checked against the naive
    ``reference`` and against the same pass unfused; returns the analysis and, for each row
    fused into a step, the name of that step's head."""
    random_bn(monkeypatch)
    analysis = check(spec)
    result = forward(analysis, batch=batch, seed=seed)
    assert result.ok
    close(result.output, reference(analysis, batch, seed))
    unfused = forward(analysis, batch=batch, seed=seed, fuse=False)
    close(result.output, unfused.output, 1e-5)
    return analysis, {r.name: r.fused_into for r in result.layers if r.fused_into}


def reference(analysis: convcalc.Analysis, batch: int, seed: int) -> Any:
    """The same network, layer by layer, with the test's naive loops and plain formulas."""
    rows = analysis.rows
    rng = np.random.default_rng(seed)
    params = [weights.init_params(row, rng, np.float32) for row in rows]
    w0, h0, d0 = rows[0].output
    arrays: dict[int, Any] = {
        0: K.he_uniform(rng, (batch, h0, w0, d0), 2, np.float32).astype(np.float64)
    }
    for i, row in enumerate(rows[1:], 1):
        ins = [arrays[j] for j in row.inputs]
        x, p, a = ins[0], params[i], row.args

        def hw(key: str, a: Any = a) -> tuple[int, int]:
            v = a[key]
            return v[1], v[0]

        if row.type in ("CONV", "LOCAL", "POOL"):
            (left, right), (top, bottom) = paddings(a, row.input_shapes[0])
            pad = ((top, bottom), (left, right))
        if row.type == "CONV":
            y = naive_conv(x, p["w"], p.get("b"), hw("S"), pad, hw("dilation"), a["groups"])
        elif row.type == "LOCAL":
            y = naive_local(x, p["w"], p.get("b"), hw("S"), pad, a["groups"])
        elif row.type == "TCONV":
            y = naive_tconv(
                x, p["w"], p.get("b"), hw("S"), hw("P"), hw("out_pad"), hw("dilation"), a["groups"]
            )
        elif row.type == "POOL":
            y = naive_pool(x, hw("F"), hw("S"), pad, a["type"], a["ceil"])
        elif row.type == "BN":
            y = (x - p["mean"]) / np.sqrt(p["var"].astype(np.float64) + a["eps"]) * p["gamma"] + p[
                "beta"
            ]
        elif row.type == "RELU":
            y = np.maximum(x, 0)
        elif row.type == "LRELU":
            y = np.where(x > 0, x, a["slope"] * x)
        elif row.type == "ELU":
            y = np.where(x > 0, x, a["alpha"] * np.expm1(np.minimum(x, 0)))
        elif row.type == "GELU":
            import math

            y = np.vectorize(lambda v: 0.5 * v * (1 + math.erf(v / math.sqrt(2))))(x)
        elif row.type == "SIGMOID":
            y = 1 / (1 + np.exp(-x))
        elif row.type == "RELU6":
            y = np.minimum(np.maximum(x, 0), 6)
        elif row.type == "HSWISH":
            y = x * np.minimum(np.maximum(x + 3, 0), 6) / 6
        elif row.type == "HSIGMOID":
            y = np.minimum(np.maximum(x + 3, 0), 6) / 6
        elif row.type in ("SILU", "SWISH"):
            y = x / (1 + np.exp(-x))
        elif row.type == "LN":
            mean = x.mean(axis=-1, keepdims=True)
            var = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
            y = (x - mean) / np.sqrt(var + a["eps"]) * p["gamma"] + p["beta"]
        elif row.type == "SCALE":
            y = x * p["gamma"].astype(np.float64)
        elif row.type == "LINEAR":
            y = np.einsum("nhwc,kc->nhwk", x, p["w"].astype(np.float64)) + p.get("b", 0)
        elif row.type == "TANH":
            y = np.tanh(x)
        elif row.type == "SOFTMAX":
            e = np.exp(x - x.max(axis=-1, keepdims=True))
            y = e / e.sum(axis=-1, keepdims=True)
        elif row.type == "LRN":
            y = naive_lrn(x, a["size"], a["alpha"], a["beta"], a["k"])
        elif row.type == "APOOL":
            y = naive_adaptive_pool(x, hw("out"), a["type"])
        elif row.type == "SLICE":
            stop = row.input_shapes[0][2] if a["stop"] == "end" else a["stop"]
            y = x[..., a["start"] : stop]
        elif row.type == "SHUFFLE":
            y = naive_shuffle(x, a["groups"])
        elif row.type == "UP":
            y = x.repeat(a["n"], axis=1).repeat(a["n"], axis=2)
        elif row.type == "GAP":
            y = x.mean(axis=(1, 2), keepdims=True)
        elif row.type in ("FC", "FLATTEN"):
            flat = x.reshape(batch, -1)
            y = (
                flat
                if row.type == "FLATTEN"
                else flat @ p["w"].T.astype(np.float64) + p.get("b", 0)
            )
            y = y.reshape(batch, 1, 1, -1)
        elif row.type == "ADD":
            y = sum(ins)
        elif row.type == "CAT":
            y = np.concatenate(ins, axis=3)
        elif row.type == "MUL":  # a (N, 1, 1, D) operand broadcasts
            y = ins[0] * ins[1]
        else:  # ID, DROPOUT, DROPPATH, SKIP
            y = x
        arrays[i] = y
    return arrays[len(rows) - 1]


@pytest.mark.parametrize("fuse", [True, False])
def test_every_layer_type_equals_the_naive_reference(
    monkeypatch: pytest.MonkeyPatch, fuse: bool
) -> None:
    random_bn(monkeypatch)
    analysis = check(EVERY_LAYER)
    assert analysis.ok, [f.render() for f in analysis.findings]
    types = {r.type for r in analysis.rows}
    assert types >= set(LAYERS) - {"SKIP"} | {"ADD", "CAT", "MUL"}, set(LAYERS) - types
    result = forward(analysis, batch=2, seed=3, fuse=fuse)
    assert result.ok
    close(result.output, reference(analysis, 2, 3))
    fused = [r.name for r in result.layers if r.fused_into]
    assert bool(fused) == fuse
    if fuse:  # BN folded, ELU after it, the skip projection's ADD and the final RELU; a
        # SCALE folded into a LINEAR, another after activations, DROPPATH and the ADD after it
        assert {"bn1", "lrelu1", "add1", "elu1"} <= set(fused)
        assert {"hswish1", "scale1", "droppath1", "add3", "relu6_1", "hsigmoid1",
                "silu1", "swish1", "scale2"} <= set(fused)  # fmt: skip


@pytest.mark.parametrize(
    ("arch", "shape"),
    [
        ("INPUT -> CONV(2, F=1) -> ADD{ SLICE(0, 1) | SKIP }", "3x3x2"),
        ("INPUT -> CONV(1, F=1) -> ADD{ FLATTEN | FC(4) -> BN }", "2x2x1"),
        ("INPUT -> CONV(4, F=1) -> ADD{ SLICE(2) | SLICE(0, 2) -> CONV(2, F=1) -> RELU }", "3x2x1"),
    ],
)
def test_an_add_fused_into_a_step_reads_a_view_s_own_array(
    monkeypatch: pytest.MonkeyPatch, arch: str, shape: str
) -> None:
    """A SLICE or FLATTEN shares its input's storage through a view of another shape: an ADD
    fused into a CONV's or FC's step must add that view, not its input's array."""
    random_bn(monkeypatch)
    analysis = check(f"name: t\ninput: {shape}\narch: {arch}\n")
    assert analysis.ok
    result = forward(analysis, batch=2, seed=1)
    assert result.ok and any(r.fused_into for r in result.layers)
    close(result.output, reference(analysis, 2, 1))


def test_fusing_changes_nothing_on_resnet18(monkeypatch: pytest.MonkeyPatch) -> None:
    random_bn(monkeypatch)
    analysis = convcalc.analyze(convcalc.load("resnet18"), input=(64, 64, 3))
    a = forward(analysis, batch=2, fuse=True)
    b = forward(analysis, batch=2, fuse=False)
    close(a.output, b.output, 1e-4)
    assert sum(r.fused_into is not None for r in a.layers) > 30
    assert all(r.fused_into is None for r in b.layers)


def test_records_and_progress() -> None:
    analysis = convcalc.analyze(convcalc.load("lenet5"))
    seen: list[tuple[int, int, str]] = []
    result = forward(analysis, batch=3, progress=lambda i, n, name: seen.append((i, n, name)))
    assert [s[2] for s in seen] == [r.name for r in analysis.rows]
    assert seen[-1][:2] == (len(analysis.rows), len(analysis.rows))
    conv = next(r for r in result.layers if r.type == "CONV")
    assert conv.expected == conv.actual and conv.match and conv.seconds > 0
    row = next(r for r in analysis.rows if r.name == conv.name)
    assert row.macs == 28 * 28 * 6 * 5 * 5 * 1  # LeNet-5's C1: 6 filters of 5×5 on 28×28
    assert result.batch == 3 and result.dtype == "float32" and result.note is None
    assert result.measured_peak_bytes > 0


def test_a_wrong_expected_shape_is_reported() -> None:
    analysis = convcalc.analyze(convcalc.load("lenet5"))
    rows = list(analysis.rows)
    rows[1] = rows[1]._replace(output=(27, 28, 6))
    result = forward(analysis._replace(rows=tuple(rows)), trace_memory=False)
    assert not result.ok
    bad = [r for r in result.layers if not r.match]
    assert [(r.name, r.expected, r.actual) for r in bad] == [
        (rows[1].name, (27, 28, 6), (28, 28, 6))
    ]


def test_dtypes() -> None:
    arch = "INPUT -> CONV(4, P=1) -> RELU -> POOL -> FC(3)"
    for dtype, expected, note in (
        ("float64", "float64", None),
        ("float16", "float16", None),
        ("bfloat16", "float32", "bfloat16 is not a NumPy dtype: computed in float32"),
    ):
        analysis = check(f"name: t\ninput: 8x8x3\ndtype: {dtype}\narch: {arch}\n")
        result = forward(analysis, batch=2)
        assert result.ok and result.dtype == expected and result.note == note
        assert str(result.output.dtype) == expected


def test_an_analysis_with_errors_is_refused() -> None:
    analysis = check("name: t\ninput: 8x8x3\narch: INPUT -> CONV(4, F=11)\n")
    assert not analysis.ok
    with pytest.raises(ForwardError, match="errors"):
        forward(analysis)
    with pytest.raises(ForwardError, match="batch"):
        forward(convcalc.analyze(convcalc.load("lenet5")), batch=0)


def test_error_a_row_without_a_kernel_is_refused_before_the_pass() -> None:
    analysis = convcalc.analyze(convcalc.load("lenet5"))
    rows = list(analysis.rows)
    rows[2] = rows[2]._replace(type="WARP")
    with pytest.raises(ForwardError) as info:
        forward(analysis._replace(rows=tuple(rows)), progress=lambda *_: pytest.fail("ran"))
    assert str(info.value) == f"{rows[2].name}: the forward pass cannot compute WARP layers"


# -- memory -------------------------------------------------------------------------------


def test_the_guard_refuses_a_4096_input_without_allocating() -> None:
    analysis = convcalc.analyze(convcalc.load("vgg16"), input=(4096, 4096, 3))
    tracemalloc.start()
    try:
        with pytest.raises(MemoryLimitError) as info:
            forward(analysis)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 16 << 20
    message = str(info.value)
    assert "MB" in message and "limit" in message and "half the available memory" in message
    assert info.value.estimate.total > info.value.limit
    assert isinstance(info.value, convcalc.ConvcalcError)


def test_an_explicit_limit() -> None:
    analysis = convcalc.analyze(convcalc.load("lenet5"))
    with pytest.raises(MemoryLimitError, match=r"limit is 0 MB"):
        forward(analysis, max_memory=1000)
    assert forward(analysis, max_memory=1 << 30).ok


@pytest.mark.parametrize("name", ["vgg16", "resnet18", "resnet50"])
def test_measured_peak_is_near_the_estimate(name: str) -> None:
    analysis = convcalc.analyze(convcalc.load(name))
    result = forward(analysis, batch=1)
    estimate = result.estimate.total
    weights = analysis.totals.params * 4
    # Winograd's 6×6 weights replace some 3×3 ones; the estimate counts them
    assert result.estimate.weights >= (analysis.totals.params + analysis.totals.buffers) * 4
    assert weights < result.measured_peak_bytes
    assert 0.85 * estimate < result.measured_peak_bytes < 1.15 * estimate  # the issue's ±15%


@pytest.mark.parametrize("name", bundled.names())
def test_the_layout_never_puts_two_live_arrays_in_the_same_bytes(name: str) -> None:
    analysis = convcalc.analyze(convcalc.load(name))
    for batch in (1, 3):
        p = plan(analysis.rows)
        views = cat_views(analysis.rows, p)
        items = [x for x in lifetimes(analysis.rows, p, batch, 4, views) if x[4]]
        lay = layout(analysis, batch, 4, p)
        step_of = {step.rows[0]: s for s, step in enumerate(p.steps)}
        assert sorted(lay.slots) == sorted(step_of[v] for v, *_ in items)
        assert sorted(lay.views) == sorted(step_of[v] for v in views)
        placed = [(lay.slots[step_of[v]], f, last) for v, f, last, _, _ in items]
        for (o, n), _, _ in placed:
            assert o % K.Arena.ALIGN == 0 and o + n <= lay.size
        for i, ((o1, n1), f1, l1) in enumerate(placed):  # every pair, the naive way
            for (o2, n2), f2, l2 in placed[:i]:
                if f1 <= l2 and f2 <= l1:  # alive at the same step
                    assert o1 + n1 <= o2 or o2 + n2 <= o1, (f1, f2)
        steps = range(len(p.steps))
        live = max(sum(n for _, f, last, n, _ in items if f <= s <= last) for s in steps)
        assert live <= lay.size <= sum(x[3] for x in items)
        assert lay.size <= 1.25 * live  # the greedy packing wastes little


def test_every_planned_slot_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    arenas: list[K.Arena] = []
    place = K.Arena.place

    def spy(self: K.Arena, *args: Any) -> None:
        arenas.append(self)
        place(self, *args)

    monkeypatch.setattr(K.Arena, "place", spy)
    for name in ("resnet18", "densenet121", "googlenet", "unet"):
        analysis = small_enough(name)
        planned = layout(analysis, 2, 4)
        forward(analysis, batch=2, trace_memory=False)
        assert planned.slots and arenas[-1].slots == {}, name  # each one was taken
        assert arenas[-1].views == {}, name


def test_available_memory_is_positive() -> None:
    assert available_memory() > 0


def test_forward_imports_no_cli_code() -> None:
    code = (
        "import sys, convcalc, convcalc.engine.forward\n"
        "print(sorted(m for m in ('click', 'rich', 'convcalc.report', 'convcalc.cli') "
        "if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_a_value_added_to_itself_is_not_overwritten_first() -> None:
    analysis = check("name: t\ninput: 4x4x2\narch: INPUT -> RELU -> ADD{ ID | ID | DROPOUT }\n")
    result = forward(analysis, batch=2, seed=1)
    x = K.he_uniform(np.random.default_rng(1), (2, 4, 4, 2), 2, np.float32)
    close(result.output, 3 * np.maximum(x, 0))


def test_an_allocation_the_system_refuses_is_a_forward_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # --max-memory can promise more than the machine has: NumPy's MemoryError becomes a
    # ForwardError that says so (the CLI prints it and exits 1), never an internal error
    from convcalc.engine import weights

    def refuse(*args: object, **kwargs: object) -> None:
        raise MemoryError

    monkeypatch.setattr(weights, "init_params", refuse)
    with pytest.raises(ForwardError, match="out of memory: the system refused an allocation"):
        forward(convcalc.analyze(convcalc.load("lenet5")), max_memory=1 << 60)
