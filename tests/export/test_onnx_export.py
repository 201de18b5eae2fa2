"""`convcalc export --to onnx` against onnx and onnxruntime: for every bundled spec (and the
modern networks) the model passes onnx.checker, ONNX's own shape inference gives every row's
shape, and onnxruntime's output on the NumPy pass's input equals the NumPy pass's."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from convcalc import analyze, load_text
from convcalc.engine.forward import forward
from convcalc.export.onnx_model import ExportError, onnx_model
from convcalc.export.weights import draw

from ..support import run, spec
from .support import SPECS, analysis, busy_weights, sized
from .test_torch_export import EVERY_LAYER

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

__all__ = ["busy_weights"]


def _shapes(model: Any) -> dict[str, tuple[int | str, ...]]:
    """Every value's shape as ONNX's shape inference (strict) gives it."""
    inferred = onnx.shape_inference.infer_shapes(model, strict_mode=True, data_prop=True)
    shapes = {}
    graph = inferred.graph
    for info in [*graph.input, *graph.value_info, *graph.output]:
        dims = info.type.tensor_type.shape.dim
        shapes[info.name] = tuple(d.dim_value if d.HasField("dim_value") else d.dim_param
                                  for d in dims)  # fmt: skip
    return shapes


def _compare(a: Any, seed: int) -> None:
    model = onnx_model(a, seed)
    onnx.checker.check_model(model, full_check=True)
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    _, x = draw(a, seed)
    ours = session.run(None, {"input": x.transpose(0, 3, 1, 2).copy()})[0]
    expected = forward(a, seed=seed, trace_memory=False).output.transpose(0, 3, 1, 2)
    expected = expected.reshape(ours.shape)
    scale = np.abs(expected).max()
    assert scale > 0
    np.testing.assert_allclose(ours, expected, rtol=1e-4, atol=1e-4 * scale)


def _rows_have_their_shapes(a: Any) -> None:
    model = onnx_model(a, 0)
    onnx.checker.check_model(model, full_check=True)
    shapes = _shapes(model)
    for i, row in enumerate(a.rows):
        w, h, d = row.output
        shape = shapes["input" if i == 0 else row.name]
        # the batch stays symbolic (N, or a name of inference's own after Resize)
        assert isinstance(shape[0], str), (row.name, shape)
        assert shape[1:] in ((d, h, w), (d,) if (w, h) == (1, 1) else ()), (row.name, shape)


@pytest.mark.parametrize("spec_name", sized(SPECS))
def test_the_checker_passes_and_inference_gives_every_row_its_shape(spec_name: str) -> None:
    _rows_have_their_shapes(analysis(spec_name))


@pytest.mark.parametrize("spec_name", sized(SPECS))
@pytest.mark.usefixtures("busy_weights")
def test_onnxruntime_gives_the_numpy_output(spec_name: str) -> None:
    _compare(analysis(spec_name), 3)


@pytest.mark.usefixtures("busy_weights")
def test_every_layer_type_onnx_has() -> None:
    arch = EVERY_LAYER.replace("LOCAL(4, F=3, S=2)", "CONV(4, F=3, S=2)")
    a = analyze(load_text(spec(arch, "17x15x3"), "every.yaml"))
    assert {r.type for r in a.rows} >= {"APOOL", "SHUFFLE", "LN", "SCALE", "LINEAR", "MUL"}
    _rows_have_their_shapes(a)
    _compare(a, 1)


@pytest.mark.usefixtures("busy_weights")
@pytest.mark.parametrize(
    "arch",
    [
        "CONV(4, F=3, P=same, S=2) -> APOOL((3, 2)) -> FC(5) -> SCALE -> LN -> SILU",
        "POOL(F=3, S=2, P=1, type=avg, ceil=true) -> APOOL(4, type=max) -> RELU6",
        "CAT{ SLICE(1, 3) | ID | CONV(4, F=1) } -> SHUFFLE(3) -> UP(3) -> POOL(F=2, type=l2)",
        "FC(6) -> BN -> MUL{ ID | SIGMOID } -> ADD{ ID | RELU | TANH } -> SOFTMAX",
    ],
)
def test_small_networks(arch: str) -> None:
    a = analyze(load_text(spec(arch, "9x7x3"), "small.yaml"))
    assert a.ok, [f.render() for f in a.findings]
    _rows_have_their_shapes(a)
    _compare(a, 2)


def test_a_layer_onnx_lacks_is_named_not_a_crash(tmp_path: Path) -> None:
    a = analyze(load_text(spec("CONV(4) -> LOCAL(3, F=3)@lc -> FC(2)", "9x9x3"), "l.yaml"))
    with pytest.raises(ExportError, match="lc: ONNX has no locally connected operator"):
        onnx_model(a)
    (tmp_path / "l.yaml").write_text(spec("CONV(4) -> LOCAL(3, F=3)@lc -> FC(2)", "9x9x3"))
    out = tmp_path / "l.onnx"
    result = run("export", "--to", "onnx", str(tmp_path / "l.yaml"), "-o", str(out))
    assert result.exit_code == 1
    assert "lc: ONNX has no locally connected operator for LOCAL" in result.output
    assert not out.exists()


def test_cli_writes_a_model_onnxruntime_runs(tmp_path: Path) -> None:
    out = tmp_path / "lenet.onnx"
    result = run("export", "--to", "onnx", "lenet5", "--seed", "4", "-o", str(out))
    assert result.exit_code == 0, result.output
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    a = analysis("lenet5")
    _, x = draw(a, 4)
    ours = session.run(None, {"input": x.transpose(0, 3, 1, 2).copy()})[0]
    expected = forward(a, seed=4, trace_memory=False).output.reshape(ours.shape)
    np.testing.assert_allclose(ours, expected, rtol=1e-4, atol=1e-6)
    assert run("export", "--to", "onnx", "lenet5").exit_code == 2  # binary: -o is needed
