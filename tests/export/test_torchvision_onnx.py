"""torchvision's models exported to ONNX by PyTorch check to exactly the parameters, buffers
and MACs of the matching bundled specs (the modern ones: of tests/data/modern).

Exported with the TorchScript exporter, unfolded (`dynamo=False, do_constant_folding=False`:
the BNs stay), in eval mode at the spec's input. Slow (seconds per model) and skipped
without torchvision.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import pytest

import convcalc

from ..support import DATA

torchvision = pytest.importorskip("torchvision")
pytest.importorskip("onnx")
import torch  # noqa: E402  (torchvision imports torch; only after the skip)

NO_AUX = {"aux_logits": False, "init_weights": False}
#: spec: torchvision builder and its arguments (every kind of network the zoo has)
MODELS: dict[str, tuple[str, dict[str, Any]]] = {
    "resnet50": ("resnet50", {}),
    "googlenet": ("googlenet", NO_AUX),
    "densenet121": ("densenet121", {}),
    "mobilenet-v2": ("mobilenet_v2", {}),
    "squeezenet1-0": ("squeezenet1_0", {}),
    "inception-v3": ("inception_v3", NO_AUX),
    "resnet18": ("resnet18", {}),
    "resnext50-32x4d": ("resnext50_32x4d", {}),
    "mnasnet1-0": ("mnasnet1_0", {}),
    "regnet-x-400mf": ("regnet_x_400mf", {}),
    "squeezenet1-1": ("squeezenet1_1", {}),
    "alexnet-torchvision": ("alexnet", {}),
    "vgg11": ("vgg11", {}),
    str(DATA / "modern" / "mobilenet-v3-small.yaml"): ("mobilenet_v3_small", {}),
    str(DATA / "modern" / "shufflenet-v2.yaml"): ("shufflenet_v2_x1_0", {}),
}


@pytest.mark.slow
@pytest.mark.parametrize("spec", MODELS, ids=lambda s: Path(s).stem)
def test_an_unfolded_export_checks_to_the_specs_numbers(spec: str, tmp_path: Path) -> None:
    builder, kwargs = MODELS[spec]
    expected = convcalc.analyze(convcalc.load(Path(spec) if "/" in spec else spec))
    model = getattr(torchvision.models, builder)(weights=None, **kwargs).eval()
    w, h, d = expected.input
    path = tmp_path / f"{builder}.onnx"
    with warnings.catch_warnings():  # the TorchScript exporter is deprecated, not gone
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (torch.zeros(1, d, h, w),), str(path), dynamo=False,
                          do_constant_folding=False)  # fmt: skip
    got = convcalc.analyze(convcalc.load(path))
    assert got.ok, [f.render() for f in got.findings if f.severity.name == "ERROR"]
    assert got.output == expected.output
    assert (got.totals.params, got.totals.buffers, got.totals.macs) == (
        expected.totals.params, expected.totals.buffers, expected.totals.macs,
    )  # fmt: skip
    torch_params = sum(p.numel() for p in model.parameters())
    assert got.totals.params == torch_params
