"""`convcalc export --to torch` against torch itself: for every bundled spec (and the modern
networks), the generated module's parameters, buffers and every layer's output shape equal
convcalc's rows, and with the weights of the same seed its output equals the NumPy pass."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from convcalc.engine.forward import forward
from convcalc.export.torch_source import attribute_names, class_name, torch_source
from convcalc.export.weights import draw, npz_bytes, torch_state

from ..support import ROOT, run, spec
from .support import SPECS, analysis, busy_weights, load_module, sized, spec_id

torch = pytest.importorskip("torch")

__all__ = ["busy_weights"]


def _module(spec_name: str, tmp_path: Path) -> tuple[Any, Any]:
    a = analysis(spec_name)
    generated = load_module(torch_source(a), tmp_path)
    return a, getattr(generated, class_name(a.spec.name))


def _outputs(model: Any, a: Any, x: Any, seed: int) -> tuple[Any, Any]:
    """The module's output on the NumPy pass's input, and the NumPy pass's: (N, values)."""
    with torch.no_grad():
        ours = model(torch.from_numpy(x.transpose(0, 3, 1, 2).copy())).numpy()
    expected = forward(a, seed=seed, trace_memory=False).output.transpose(0, 3, 1, 2)
    return ours.reshape(len(x), -1), expected.reshape(len(x), -1)


@pytest.mark.parametrize("spec_name", SPECS, ids=spec_id)
def test_counts_and_every_shape_equal_the_rows(spec_name: str, tmp_path: Path) -> None:
    a, cls = _module(spec_name, tmp_path)
    with torch.device("meta"):
        model = cls().eval()
        params = sum(p.numel() for p in model.parameters())
        # BatchNorm2d's num_batches_tracked is a step counter, not a statistic of the data
        buffers = sum(b.numel() for n, b in model.named_buffers()
                      if not n.endswith("num_batches_tracked"))  # fmt: skip
        assert (params, buffers) == (a.totals.params, a.totals.buffers)
        names = attribute_names(a.rows)
        seen: dict[str, tuple[int, ...]] = {}
        for name, sub in model.named_children():
            sub.register_forward_hook(
                lambda m, i, o, name=name: seen.__setitem__(name, tuple(o.shape))
            )
        w, h, d = a.rows[0].output
        out = model(torch.empty(2, d, h, w))
    for row, name in zip(a.rows[1:], names[1:], strict=True):
        if row.type in ("ADD", "CAT", "MUL", "SLICE"):
            continue  # written out in forward: the next layer and the output check them
        shape = seen[name]
        w, h, d = row.output
        assert shape in ((2, d, h, w), (2, d) if (w, h) == (1, 1) else ()), (row.name, shape)
        own = sum(p.numel() for p in getattr(model, name).parameters())
        assert own == row.params, row.name
    w, h, d = a.output
    assert tuple(out.shape) in ((2, d, h, w), (2, d) if (w, h) == (1, 1) else ())


@pytest.mark.parametrize("spec_name", sized(SPECS))
@pytest.mark.usefixtures("busy_weights")
def test_same_weights_same_output_as_the_numpy_pass(spec_name: str, tmp_path: Path) -> None:
    a, cls = _module(spec_name, tmp_path)
    params, x = draw(a, seed=3)
    state = torch_state(a, params, attribute_names(a.rows))
    (tmp_path / "w.npz").write_bytes(npz_bytes(state))
    model = cls().eval()
    sys.modules[cls.__module__].load_npz(model, str(tmp_path / "w.npz"))
    ours, expected = _outputs(model, a, x, 3)
    scale = np.abs(expected).max()
    assert scale > 0
    np.testing.assert_allclose(ours, expected, rtol=1e-4, atol=1e-4 * scale)


def test_the_generated_files_pass_ruff(tmp_path: Path) -> None:
    for name in SPECS:
        (tmp_path / f"{spec_id(name).replace('-', '_')}.py").write_text(
            torch_source(analysis(name)), encoding="utf-8"
        )
    done = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--no-cache", "--config",
         str(ROOT / "pyproject.toml"), str(tmp_path)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr


def test_cli_writes_the_module_and_run_writes_its_weights(tmp_path: Path) -> None:
    model_py, weights = tmp_path / "lenet.py", tmp_path / "w.npz"
    assert run("export", "--to", "torch", "lenet5", "-o", str(model_py)).exit_code == 0
    result = run("run", "lenet5", "--seed", "5", "--save-weights", str(weights))
    assert result.exit_code == 0, result.output
    generated = load_module(model_py.read_text(encoding="utf-8"), tmp_path, "lenet_cli")
    model = generated.LeNet5().eval()
    generated.load_npz(model, str(weights))
    a = analysis("lenet5")
    _, x = draw(a, seed=5)
    ours, expected = _outputs(model, a, x, 5)
    np.testing.assert_allclose(ours, expected, rtol=1e-4, atol=1e-6)


EVERY_LAYER = (
    "CONV(8, F=3, P=1) -> BN -> RELU -> LOCAL(4, F=3, S=2) -> ELU -> TCONV(6, F=2, S=2) "
    "-> LRELU(0.1) -> POOL(F=3, S=2, P=1, type=avg) -> GELU -> UP(2) -> SIGMOID "
    "-> POOL(F=2, type=l2) -> TANH -> LRN(size=3) -> CONV(8, F=1) -> RELU6 -> HSWISH "
    "-> HSIGMOID -> SILU -> SWISH -> LN -> SCALE -> LINEAR(12) -> SHUFFLE(3) "
    "-> APOOL(3, type=max) -> CAT{ SLICE(0, 4) | SLICE(4) -> ID } -> DROPPATH(0.1) "
    "-> MUL{ ID | GAP -> CONV(12, F=1) -> SIGMOID } -> RES{ CONV(12, F=3, P=same) -> DROPOUT } "
    "-> POOL(F=2, S=2, ceil=true) -> FLATTEN -> FC(10) -> BN -> SOFTMAX"
)


@pytest.mark.usefixtures("busy_weights")
def test_every_layer_type(tmp_path: Path) -> None:
    from convcalc import analyze, load_text

    a = analyze(load_text(spec(EVERY_LAYER, "17x15x3"), "every.yaml"))
    assert a.ok, [f.render() for f in a.findings]
    generated = load_module(torch_source(a), tmp_path, "every")
    model = generated.T().eval()
    params, x = draw(a, seed=1)
    (tmp_path / "w.npz").write_bytes(npz_bytes(torch_state(a, params, attribute_names(a.rows))))
    generated.load_npz(model, str(tmp_path / "w.npz"))
    ours, expected = _outputs(model, a, x, 1)
    np.testing.assert_allclose(ours, expected, rtol=1e-4, atol=1e-6)
