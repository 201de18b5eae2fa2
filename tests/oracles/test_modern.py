"""torchvision's modern CNNs written with MUL, APOOL, SLICE and SHUFFLE (tests/data/modern/):
their published parameter counts, and a forward pass whose every shape matches.

torchvision publishes 2,278,604 parameters and 0.14 "GFLOPS" (MACs) for shufflenet_v2_x1_0,
2,542,856 and 0.06 for mobilenet_v3_small, 61,100,840 for alexnet at every input size (its
adaptive pool gives the classifier 6×6×256). test_torch_parity.py compares them layer by
layer with the same networks in plain torch.
"""

from __future__ import annotations

import pytest

import convcalc
from convcalc.engine.forward import forward

from ..support import DATA

PUBLISHED = {
    "shufflenet-v2": (2_278_604, 0.14),
    "mobilenet-v3-small": (2_542_856, 0.06),
    "alexnet-adaptive": (61_100_840, 0.71),
}


def load(name: str) -> convcalc.Spec:
    return convcalc.load(str(DATA / "modern" / f"{name}.yaml"))


@pytest.mark.parametrize("name", list(PUBLISHED))
def test_published_counts(name: str) -> None:
    params, gmacs = PUBLISHED[name]
    a = convcalc.analyze(load(name))
    assert a.ok and a.output == (1, 1, 1000)
    assert a.totals.params == params
    assert round(a.totals.macs / 1e9, 2) == gmacs


def test_the_new_parts_are_used() -> None:
    types = {name: {row.type for row in convcalc.analyze(load(name)).rows} for name in PUBLISHED}
    assert {"SLICE", "SHUFFLE", "CAT"} <= types["shufflenet-v2"]
    assert {"MUL", "APOOL", "ADD"} <= types["mobilenet-v3-small"]
    assert "APOOL" in types["alexnet-adaptive"]


@pytest.mark.parametrize("size", [224, 256, 160, 97, 63])
def test_an_adaptive_pool_keeps_alexnet_s_classifier_at_every_input(size: int) -> None:
    a = convcalc.analyze(load("alexnet-adaptive"), input=(size, size, 3))
    avgpool = next(r for r in a.rows if r.name == "avgpool")
    assert a.ok and avgpool.output == (6, 6, 256) and a.totals.params == 61_100_840
    assert any(f.code == "CC208" for f in a.findings) == (avgpool.input_shapes[0][0] < 6)


@pytest.mark.parametrize("name", ["shufflenet-v2", "mobilenet-v3-small"])
def test_they_run(name: str) -> None:
    a = convcalc.analyze(load(name), input=(64, 64, 3))
    result = forward(a, batch=2, trace_memory=False)
    assert result.ok, [(r.name, r.expected, r.actual) for r in result.layers if not r.match]
