"""An ONNX file is a SPEC: the round trip through `export --to onnx` gives every spec's rows
back, `import` writes a spec that checks to the same numbers, models PyTorch exported read
like the specs they match, and a file that is not a model (empty, truncated, something else)
or an operator without a layer is a finding, never a traceback."""

from __future__ import annotations

import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import pytest

import convcalc
from convcalc import analyze, load, load_text
from convcalc.export.onnx_model import onnx_model
from convcalc.frontend import onnx_spec

from ..support import ROOT, run, spec, unwrapped
from .support import SPECS, analysis, sized

onnx = pytest.importorskip("onnx")
helper = onnx.helper


def _rows(a: Any) -> list[tuple[Any, ...]]:
    return [(r.name, r.type, dict(r.args), r.inputs, r.output, r.params, r.buffers, r.macs)
            for r in a.rows]  # fmt: skip


@pytest.mark.parametrize("spec_name", sized(SPECS))
def test_the_round_trip_gives_every_row_back(spec_name: str, tmp_path: Path) -> None:
    a = analysis(spec_name)
    path = tmp_path / "model.onnx"
    path.write_bytes(onnx_model(a, 0).SerializeToString())
    back = analyze(load(path))
    assert _rows(back) == _rows(a)
    assert back.totals == a.totals
    imported = analyze(load_text(onnx_spec.spec_text(str(path)), "imported.yaml"))
    assert _rows(imported) == _rows(a)


def _model(nodes: list[Any], inits: list[Any] = (), shape: list[Any] = (1, 3, 8, 8)) -> Any:  # type: ignore[assignment]
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, list(shape))],
        [helper.make_tensor_value_info(nodes[-1].output[0], onnx.TensorProto.FLOAT, None)],
        initializer=list(inits),
    )  # fmt: skip
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def _weights(name: str, *dims: int) -> Any:
    import numpy as np

    return onnx.numpy_helper.from_array(np.zeros(dims, np.float32), name)


def _save(tmp_path: Path, model: Any, name: str = "m.onnx") -> str:
    path = tmp_path / name
    path.write_bytes(model.SerializeToString())
    return str(path)


def test_a_hand_made_graph_with_every_kind_of_merge(tmp_path: Path) -> None:
    n = helper.make_node
    nodes = [
        n("Conv", ["x", "w1", "b1"], ["c1"], name="/stem/Conv", kernel_shape=[3, 3],
          pads=[1, 1, 1, 1]),
        n("Relu", ["c1"], ["r1"], name="/stem/Relu"),
        n("Conv", ["r1", "w2"], ["c2"], name="/a/Conv", kernel_shape=[1, 1]),
        n("Add", ["c2", "r1"], ["s"], name="/add"),
        n("Split", ["s", "split"], ["s1", "s2"], name="/split", axis=1),
        n("Sigmoid", ["s2"], ["g"], name="/gate"),
        n("Mul", ["s2", "g"], ["m"], name="/silu"),
        n("Concat", ["s1", "m"], ["cat"], name="/cat", axis=1),
        n("GlobalAveragePool", ["cat"], ["gap"], name="/gap"),
        n("Flatten", ["gap"], ["flat"], name="/flatten", axis=1),
        n("Gemm", ["flat", "w3", "b3"], ["y"], name="/fc", transB=1),
    ]  # fmt: skip
    import numpy as np

    split = onnx.numpy_helper.from_array(np.array([3, 5], np.int64), "split")
    inits = [_weights("w1", 8, 3, 3, 3), _weights("b1", 8), _weights("w2", 8, 8, 1, 1),
             split, _weights("w3", 10, 8), _weights("b3", 10)]  # fmt: skip
    path = _save(tmp_path, _model(nodes, inits))
    text = onnx_spec.spec_text(path)
    assert "ADD{ CONV(8, F=1, bias=false)@a | ID }@add" in text
    assert "CAT{ SLICE(0, 3)@split | SLICE(3, 8)@split_2 -> SILU@silu }@cat" in text
    a = analyze(load(Path(path)))
    assert a.ok and a.output == (1, 1, 10)
    assert a.totals.params == 8 * 27 + 8 + 64 + 80 + 10
    result = run("import", path, "-o", str(tmp_path / "m.yaml"))
    assert result.exit_code == 0, result.output
    assert analyze(load(tmp_path / "m.yaml")).totals == a.totals


def test_an_unsupported_operator_names_the_operator_and_the_node(tmp_path: Path) -> None:
    nodes = [helper.make_node("Einsum", ["x", "x"], ["y"], name="/mix/Einsum", equation="ij")]
    path = _save(tmp_path, _model(nodes))
    result = run("check", path)
    assert result.exit_code == 1
    out = unwrapped(result.output)
    assert "CC130 error: operator Einsum (node /mix/Einsum) has no convcalc layer" in out
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "the file is empty: not an ONNX model"),
        (b"name: t\ninput: 8x8x3\narch: CONV(4)\n", "not an ONNX model"),
        (bytes(range(256)) * 4, "not an ONNX model"),
    ],
)
def test_a_file_that_is_not_a_model_is_a_finding(
    tmp_path: Path, content: bytes, message: str
) -> None:
    path = tmp_path / "bad.onnx"
    path.write_bytes(content)
    for command in ("check", "memory", "run", "import"):
        result = run(command, str(path))
        assert result.exit_code == 1, (command, result.output)
        assert "CC131 error" in unwrapped(result.output) and message in unwrapped(result.output)
        assert "Traceback" not in result.output


def test_a_truncated_model_is_a_finding(tmp_path: Path) -> None:
    whole = onnx_model(analysis("lenet5"), 0).SerializeToString()
    for cut in (len(whole) // 2, len(whole) - 7, 10):
        path = tmp_path / "cut.onnx"
        path.write_bytes(whole[:cut])
        result = run("check", str(path))
        assert result.exit_code == 1, cut
        assert "CC131 error" in unwrapped(result.output), cut


def test_the_import_is_bounded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _save(tmp_path, onnx_model(analysis("lenet5"), 0))
    monkeypatch.setattr(onnx_spec, "MAX_ONNX_BYTES", 1000)
    result = run("check", path)
    assert result.exit_code == 1 and "CC120 error: the file is" in unwrapped(result.output)
    monkeypatch.undo()
    nodes = [helper.make_node("Relu", ["x" if i == 0 else f"v{i - 1}"], [f"v{i}"])
             for i in range(80_001)]  # fmt: skip
    result = run("check", _save(tmp_path, _model(nodes), "long.onnx"))
    assert result.exit_code == 1
    assert "CC121 error: the graph has 80,001 nodes" in unwrapped(result.output)


def test_a_model_with_a_dynamic_size_says_how_to_export_it(tmp_path: Path) -> None:
    nodes = [helper.make_node("Relu", ["x"], ["y"], name="r")]
    result = run("check", _save(tmp_path, _model(nodes, shape=["N", 3, "H", "W"])))
    assert result.exit_code == 1
    assert "is not an NCHW image of fixed size" in unwrapped(result.output)


def test_without_onnx_the_message_says_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _save(tmp_path, _model([helper.make_node("Relu", ["x"], ["y"], name="r")]))
    monkeypatch.setitem(sys.modules, "onnx", None)  # import onnx raises ImportError
    result = run("check", path)
    assert result.exit_code == 2
    assert "pip install 'convcalc[onnx]'" in unwrapped(result.output)


def test_folded_batch_norms_are_noted(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4),
                              torch.nn.ReLU()).eval()  # fmt: skip
    folded, kept = tmp_path / "folded.onnx", tmp_path / "kept.onnx"
    x = torch.zeros(1, 3, 8, 8)
    with warnings.catch_warnings():  # the TorchScript exporter is deprecated, not gone
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(net, (x,), str(folded), dynamo=False)
        torch.onnx.export(net, (x,), str(kept), dynamo=False, do_constant_folding=False)
    a, b = analyze(load(folded)), analyze(load(kept))
    assert "CC132" in [f.code for f in a.findings]
    assert (a.totals.params, [r.type for r in a.rows]) == (112, ["INPUT", "CONV", "RELU"])
    assert "CC132" not in [f.code for f in b.findings]
    assert (b.totals.params, b.totals.buffers) == (112 + 8, 8)


def test_check_of_a_yaml_spec_imports_neither_onnx_nor_numpy() -> None:
    code = (
        "import sys\n"
        "from convcalc.cli import main\n"
        "try:\n    main(['check', 'resnet18', '--format', 'json'])\n"
        "except SystemExit as exc:\n    print('exit', exc.code)\n"
        "print('onnx' in sys.modules, 'numpy' in sys.modules)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True, cwd=ROOT)  # fmt: skip
    assert result.stdout.splitlines()[-2:] == ["exit 0", "False False"]
    assert convcalc.__name__ == "convcalc"


def test_an_inline_spec_is_untouched_by_the_reader() -> None:
    assert analyze(load_text(spec("CONV(4) -> RELU"), "x.yaml")).ok
