"""How people train: one workspace as `convcalc run` allocates it, mixed precision against
torch's autocast, checkpointing against checkpoint_sequential, ZeRO against DeepSpeed's
formulas (Rajbhandari et al. 2020, §3), and the budget's batch search."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

import convcalc
from convcalc.analysis.memory import estimate, workspace
from convcalc.analysis.training import Training, pieces
from convcalc.frontend.bundled import names

ROOT = Path(__file__).resolve().parents[2]


def analysis(name: str, **options: Any) -> convcalc.Analysis:
    return convcalc.analyze(convcalc.load(name), **options)


def trained(name: str, training: Training, **options: Any) -> convcalc.Memory:
    a = analysis(name, **{k: v for k, v in options.items() if k == "input"})
    rest = {k: v for k, v in options.items() if k != "input"}
    return estimate(
        a.rows,
        dtype=rest.get("dtype", "float32"),
        batch=rest.get("batch", 1),
        optimizer=rest.get("optimizer", "momentum"),
        training=training,
    )


# -- one workspace ------------------------------------------------------------------------


@pytest.mark.parametrize("name", names())
@pytest.mark.parametrize("batch", [1, 8])
def test_the_workspace_is_the_one_the_pass_plans(name: str, batch: int) -> None:
    """The engine's own estimate walks the fused steps of its plan; the analysis has no plan
    and takes every row: the two agree for every bundled spec."""
    from convcalc.engine.layout import estimate_memory

    a = analysis(name)
    assert a.memory is not None
    engine = estimate_memory(a, batch, 4).workspace
    assert a.memory.with_batch(batch).workspace == engine


@pytest.mark.slow
def test_the_workspace_is_what_the_kernels_ask_the_arena_for(monkeypatch: Any) -> None:
    """Record every named scratch buffer the kernels take in a real pass: the largest step's
    sum is the named part of the estimate (to the alignment), and does not grow 8× at batch
    8: conv1's im2col chunk stays a few MB (whole images only while they fit)."""
    pytest.importorskip("numpy")
    from convcalc.engine import kernels as K
    from convcalc.engine.forward import forward

    steps: dict[int, dict[str, int]] = {}
    original = K.Arena.scratch

    def scratch(self: Any, name: str, shape: Any, dtype: Any) -> Any:
        out = original(self, name, shape, dtype)
        used = steps.setdefault(self.step, {})
        used[name] = max(used.get(name, 0), out.nbytes)
        return out

    monkeypatch.setattr(K.Arena, "scratch", scratch)
    a = analysis("vgg11", input=(64, 64, 3))
    named = {}
    for batch in (1, 8):
        steps.clear()
        forward(a, batch=batch, trace_memory=False)
        named[batch] = max(sum(n + 64 for n in used.values()) for used in steps.values())
        assert named[batch] <= a.memory.with_batch(batch).workspace  # type: ignore[union-attr]
    assert named[8] < 8 * named[1]


def test_workspace_limit_and_none() -> None:
    free = trained("vgg16", Training(), batch=8)
    capped = trained("vgg16", Training(workspace_limit=64 << 20), batch=8)
    none = trained("vgg16", Training(workspace_limit=0), batch=8)
    assert free.workspace > 64 << 20
    assert capped.workspace == 64 << 20 and none.workspace == 0
    assert free.training_total - none.training_total == free.workspace


def test_the_workspace_is_counted_once_not_per_image() -> None:
    one, many = trained("resnet50", Training()), trained("resnet50", Training(), batch=64)
    assert many.training_total - one.training_total == (
        63 * one.per_image.training + many.workspace - one.workspace
    )
    a = analysis("resnet50")
    assert many.workspace == workspace(a.rows, 64, 4)


# -- ZeRO: DeepSpeed's formulas -----------------------------------------------------------


@pytest.mark.parametrize("gpus", [1, 4, 64])
def test_zero_model_states_are_deepspeeds(gpus: int) -> None:
    """Mixed-precision Adam, Ψ parameters: 16Ψ; 4Ψ + 12Ψ/N; 2Ψ + 14Ψ/N; 16Ψ/N."""
    psi = analysis("resnet50").totals.params
    assert psi == 25_557_032  # torchvision's count
    expected = [16 * psi, 4 * psi + 12 * psi / gpus, 2 * psi + 14 * psi / gpus, 16 * psi / gpus]
    for stage, want in enumerate(expected):
        m = trained("resnet50", Training(gpus=gpus, zero=stage), optimizer="adam")
        assert abs(m.model_states - want) < 16  # Ψ/N rounds up to whole values
        doc = m.to_json()
        assert doc["model_states"] == (
            doc["parameters"] + doc["parameter_gradients"] + doc["optimizer_state"]
        )


def test_data_parallel_batch_is_per_device() -> None:
    one = trained("resnet18", Training(), batch=32)
    eight = trained("resnet18", Training(gpus=8), batch=32)
    assert eight.training_total == one.training_total  # replicated: the same on each device


# -- the budget -----------------------------------------------------------------------------


@pytest.mark.parametrize("budget", [4 << 30, 12 << 30, 80 << 30])
def test_max_batch_is_the_largest_that_fits(budget: int) -> None:
    m = trained("vgg16", Training(amp="bf16"), optimizer="adam")
    best = m.max_batch(budget)
    assert best >= 1
    assert m.with_batch(best).training_total <= budget < m.with_batch(best + 1).training_total


# -- mixed precision against torch's CPU autocast (bfloat16) ------------------------------


def torch_saved(a: convcalc.Analysis, batch: int, autocast: bool) -> tuple[int, int]:
    """(bytes of activations and switches, bytes of half weight copies) autograd saves, as
    benchmarks/memory_vs_torch.py counts them."""
    torch = pytest.importorskip("torch")
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from memory_vs_torch import build, saved_bytes  # type: ignore[import-not-found]

    torch.manual_seed(0)
    acts, copies = saved_bytes(build(a.rows, a.rounding), batch, a.input, autocast)
    return int(acts), int(copies)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["vgg16", "resnet50"])
def test_amp_activations_are_autocasts_within_5_percent(name: str) -> None:
    """bf16 autocast on the CPU: what autograd keeps, against --amp bf16. VGG16's ratio does not
    depend on the input size (every row scales with it), so 64×64 stands for 224×224;
    ResNet-50's batch norms keep a float32 mean and 1/σ per channel whatever the size (not
    counted), 5.6% of the rest at 64×64, 0.5% at 224×224: it runs at full size."""
    size = (64, 64, 3) if name == "vgg16" else (224, 224, 3)
    a = analysis(name, input=size)
    m = trained(name, Training(amp="bf16"), input=size, batch=2)
    acts, copies = torch_saved(a, 2, autocast=True)
    ours = m.activations + m.pool_switches
    assert abs(ours / acts - 1) <= 0.05, (ours, acts)
    assert abs(m.weight_copies / copies - 1) <= 0.05, (m.weight_copies, copies)


# -- checkpointing against checkpoint_sequential ------------------------------------------


def test_pieces_are_rows_in_vgg_and_blocks_in_resnet() -> None:
    vgg = analysis("vgg16")
    assert len(pieces(vgg.rows)) == len(vgg.rows) - 1
    resnet = analysis("resnet18")
    sizes = [len(p) for p in pieces(resnet.rows)]
    assert max(sizes) > 1 and sum(sizes) == len(resnet.rows) - 1


@pytest.mark.slow
@pytest.mark.parametrize("segments", [2, 4, 6, "sqrt"])
def test_checkpoint_kept_bytes_are_checkpoint_sequentials(segments: int | str) -> None:
    torch = pytest.importorskip("torch")
    from torch.utils.checkpoint import checkpoint_sequential

    sys.path.insert(0, str(ROOT / "benchmarks"))
    from memory_vs_torch import build

    a = analysis("vgg16", input=(64, 64, 3))
    m = trained("vgg16", Training(checkpoint=segments), input=(64, 64, 3), batch=2)
    assert m.checkpoint is not None
    seq = torch.nn.Sequential(*build(a.rows).layers[1:])
    params = {p.untyped_storage().data_ptr() for p in seq.parameters()}
    seen: dict[int, int] = {}

    def pack(t: Any) -> Any:
        if t.untyped_storage().data_ptr() not in params:
            seen[t.untyped_storage().data_ptr()] = t.untyped_storage().nbytes()
        return t

    x = torch.randn(2, 3, 64, 64, requires_grad=True)
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        checkpoint_sequential(seq, m.checkpoint.segments, x, use_reentrant=False)  # type: ignore[no-untyped-call]
    kept = 2 * (4 * m.checkpoint.kept + 8 * m.checkpoint.kept_switches)
    assert abs(kept / sum(seen.values()) - 1) <= 0.05, (kept, sum(seen.values()))


def test_checkpoint_recomputes_all_but_the_last_segment() -> None:
    a = analysis("vgg16")
    m = trained("vgg16", Training(checkpoint=2), batch=4)
    assert m.checkpoint is not None
    first = pieces(a.rows)[: (len(a.rows) - 1) // 2]
    assert m.recompute_macs == 4 * sum(a.rows[i].macs for p in first for i in p)
    plain = trained("vgg16", Training(), batch=4)
    assert m.checkpoint.kept < plain.per_image.activations / 4 / 8  # in values, not bytes
    # the first half holds conv1 and conv2: running it again needs about as much as before
    assert m.activations >= plain.activations
