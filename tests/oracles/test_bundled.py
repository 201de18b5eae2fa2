"""Every bundled spec against published figures (the papers, torchvision, the notes)."""

from __future__ import annotations

import pytest

import convcalc
from convcalc.frontend import bundled

from .test_zoo import PUBLISHED as ZOO

# name: (output, parameters, MACs or None); the source of each figure is in the spec's description
PUBLISHED = {
    "vgg16": ((1, 1, 1000), 138_357_544, 15_470_264_320),
    "alexnet": ((1, 1, 1000), 62_378_344, None),
    "resnet18": ((1, 1, 1000), 11_689_512, 1_814_073_344),
    "inception-3a": ((28, 28, 256), None, 128_049_152),
    "lenet5": ((1, 1, 10), 61_706, None),
    "cifar10-convnet": ((1, 1, 10), None, None),
    "cs231n-pattern": ((1, 1, 10), None, None),
    "alexnet-224": ((1, 1, 1000), None, None),
}


def analysis(name: str) -> convcalc.Analysis:
    return convcalc.analyze(convcalc.load(name))


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_published_figures(name: str) -> None:
    output, params, macs = PUBLISHED[name]
    a = analysis(name)
    assert a.output == output
    if params is not None:
        assert a.totals.params == params
    if macs is not None:
        assert a.totals.macs == macs


def test_every_bundled_spec_has_published_figures_here_or_in_the_zoo_test() -> None:
    covered = set(PUBLISHED) | set(ZOO)
    assert not set(PUBLISHED) & set(ZOO)
    assert set(bundled.names()) == covered


def test_every_bundled_spec_checks_without_errors_and_has_a_description() -> None:
    for name in bundled.names():
        a = analysis(name)
        assert a.ok, (name, [f.render() for f in a.findings])
        assert a.spec.description, name


def test_alexnet_224_gets_cc201_with_the_227_fix() -> None:
    a = analysis("alexnet-224")
    conv1 = a.findings[0]
    assert (conv1.code, conv1.layer) == ("CC201", "conv1")
    assert conv1.help is not None and "227×227×3 (+3)" in conv1.help


def test_inception_3a_branches() -> None:
    a = analysis("inception-3a")
    cat = a.rows[-1]
    assert cat.type == "CAT" and cat.name == "inception_3a"
    assert [a.rows[i].output[2] for i in cat.inputs] == [64, 128, 32, 32]


def test_resnet18_projections_come_from_skip() -> None:
    a = analysis("resnet18")
    projections = [r for r in a.rows if r.name.endswith(".conv")]
    assert [(r.input_shapes[0], r.output) for r in projections] == [
        ((56, 56, 64), (28, 28, 128)),
        ((28, 28, 128), (14, 14, 256)),
        ((14, 14, 256), (7, 7, 512)),
    ]
    assert sum(r.type == "ADD" for r in a.rows) == 8


def test_lenet5_layers() -> None:
    a = analysis("lenet5")
    shapes = {r.name: r.output for r in a.rows}
    assert shapes["C1"] == (28, 28, 6) and shapes["S2"] == (14, 14, 6)
    assert shapes["C3"] == (10, 10, 16) and shapes["S4"] == (5, 5, 16)
    assert shapes["C5"] == (1, 1, 120) and shapes["F6"] == (1, 1, 84)
    params = {r.name: r.params for r in a.rows if r.params}
    assert params == {"C1": 156, "C3": 2_416, "C5": 48_120, "F6": 10_164, "output": 850}
