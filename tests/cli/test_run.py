"""`convcalc run`: the report, its JSON document, exit codes, the memory guard."""

from __future__ import annotations

import json
import tracemalloc
from pathlib import Path

import pytest

import convcalc.engine.forward

from ..support import run, unwrapped


def test_json_document() -> None:
    result = run("run", "lenet5", "--batch", "2", "--format", "json")
    assert result.exit_code == 0
    doc = json.loads(result.stdout)
    assert set(doc) == {"version", "ok", "batch", "layers", "seconds", "call_seconds",
                        "measured_peak_bytes", "estimated_inference_peak_bytes"}  # fmt: skip
    assert 0 < doc["seconds"] < doc["call_seconds"]
    assert doc["ok"] is True and doc["batch"] == 2
    assert [layer["name"] for layer in doc["layers"]][:3] == ["input", "C1", "tanh1"]
    assert all(layer["match"] and layer["expected"] == layer["actual"] for layer in doc["layers"])
    assert doc["measured_peak_bytes"] > 0 and doc["estimated_inference_peak_bytes"] > 0


def test_text_report() -> None:
    result = run("run", "cifar10-convnet")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[2].split() == ["layer", "type", "expected", "actual", "match", "ms", "GFLOP/s"]
    assert "CIFAR-10 ConvNet: every shape matches" in result.stdout
    assert "estimated inference peak" in result.stdout


def test_a_shape_mismatch_exits_1_and_names_the_layer(monkeypatch: pytest.MonkeyPatch) -> None:
    real = convcalc.engine.forward.forward

    def wrong(*args: object, **kwargs: object) -> convcalc.engine.forward.ForwardResult:
        result = real(*args, **kwargs)  # type: ignore[arg-type]
        layers = list(result.layers)
        layers[1] = layers[1]._replace(actual=(1, 1, 1), match=False)
        return result._replace(layers=tuple(layers), ok=False)

    monkeypatch.setattr(convcalc.engine.forward, "forward", wrong)
    result = run("run", "cifar10-convnet")
    assert result.exit_code == 1
    assert "1 shape differ, first at conv1: expected 32×32×12, got 1×1×1" in result.stdout


def test_the_memory_guard_refuses_before_allocating() -> None:
    tracemalloc.start()
    try:
        result = run("run", "vgg16", "--input", "4096x4096x3")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 64 << 20  # the pass would need about 100 GB; nothing near that was touched
    assert result.exit_code == 1
    stderr = unwrapped(result.stderr)
    assert "the forward pass needs about" in stderr and "the limit is" in stderr
    # the culprit: fc1 reads 128×128×512 at 4096×4096 (five 2× pools), to 4096 outputs
    assert f"culprit: fc1 alone holds {128 * 128 * 512 * 4096:,} weights (34.4 billion" in stderr
    # converted, it keeps the 7×7×512×4096 weights of VGG16's fc6 at 224×224 (the paper's)
    assert "`convcalc convert --fc-to-conv vgg16 --input 4096x4096x3 -o conv.yaml`" in stderr
    assert f"with the {7 * 7 * 512 * 4096:,} weights it has at the spec's own input" in stderr
    assert "raise the limit with --max-memory" in stderr
    assert max(map(len, result.stderr.splitlines())) <= 100  # the piped width
    small = run("run", "lenet5", "--max-memory", "1KiB")
    assert small.exit_code == 1 and "the limit is 0 MB" in unwrapped(small.stderr)
    assert "--fc-to-conv" not in small.stderr  # the spec's own input: converting would not help


def test_a_spec_with_errors_runs_nothing(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("name: b\ninput: 8x8x1\narch: INPUT -> CONV(4, F=9)\n", encoding="utf-8")
    result = run("run", str(path))
    assert result.exit_code == 1
    assert "CC203 error" in result.stderr and "nothing was run" in result.stderr
    assert run("run", "no-such-spec").exit_code == 2
