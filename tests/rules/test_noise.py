"""Issue 14: fewer info findings on sound designs, and fixes that do not break a merge; each
with the twin where the finding still fires."""

from __future__ import annotations

import pytest

import convcalc

from ..support import check, spec

CIFAR_RESNET = """\
name: cifar-resnet
input: 32x32x3
blocks:
  basic(c, s): "ADD{ CONV(c, S=s, P=1) -> BN -> RELU -> CONV(c, P=1) -> BN | SKIP } -> RELU"
arch: |
  INPUT -> CONV(16, P=1) -> BN -> RELU
  -> [basic(16, 1)]*3 -> basic(32, 2) -> [basic(32, 1)]*2
  -> basic(64, 2) -> [basic(64, 1)]*2 -> GAP -> FC(10)
"""


def infos(a: convcalc.Analysis) -> list[str]:
    return [f"{f.code} {f.layer}" for f in a.findings if f.severity is convcalc.Severity.INFO]


@pytest.mark.parametrize("name", ["resnet18", "resnet34", "resnet50", "resnet101", "resnet152"])
def test_a_torchvision_resnet_has_at_most_two_infos(name: str) -> None:
    a = convcalc.analyze(convcalc.load(name))
    assert len(infos(a)) <= 2, infos(a)


def test_a_cifar_resnet_with_skip_projections_has_no_finding() -> None:
    a = check(CIFAR_RESNET)
    assert a.ok and a.output == (1, 1, 10)
    assert sum(r.name.endswith(".conv") for r in a.rows) == 2  # two inferred projections
    assert a.findings == ()


def test_stride_2_with_half_the_filter_as_padding_is_sound() -> None:
    """(10 − 3 + 2)/2 + 1 = 5.5: P=(F − 1)/2 reads every pixel and gives ⌈10/2⌉, as 'same'."""
    assert infos(check(spec("INPUT -> CONV(4, F=3, S=2, P=1)", "10x10x1"))) == []
    # more padding than that: only padding is left unread, which is worth a note
    assert infos(check(spec("INPUT -> CONV(4, F=3, S=2, P=2)", "10x10x1"))) == ["CC202 conv1"]
    # strict rounding still refuses any remainder
    strict = check(spec("INPUT -> CONV(4, F=3, S=2, P=1)", "10x10x1"), rounding="strict")
    assert [f.code for f in strict.findings] == ["CC201"]


def test_a_textbook_projection_is_silent_and_an_unusual_one_is_not() -> None:
    usual = check(spec("INPUT -> ADD{ CONV(16, S=2, P=1) | SKIP }", "32x32x8"))
    assert [f.code for f in usual.findings] == ["CC403"]  # conv1 holds most parameters
    odd = check(spec("INPUT -> ADD{ CONV(16, S=3, P=1) | SKIP }", "31x31x8"))
    assert [f.code for f in odd.findings if f.code not in ("CC403", "CC501")] == ["CC304"]
    narrower = check(spec("INPUT -> ADD{ CONV(4, P=1) | SKIP }", "8x8x8"))
    assert [f.code for f in narrower.findings if f.code != "CC403"] == ["CC304"]


def test_a_fix_inside_a_branch_keeps_the_size_its_sibling_gives() -> None:
    """The 1×1 stride-2 branch floors 32 to 16, as its sibling does: padding it to 17, or
    another input for it alone, would break the ADD."""
    arch = "INPUT -> ADD{ CONV(8, F=3, S=2, P=1) | CONV(8, F=1, S=2) }"
    a = check(spec(arch))
    (cc202,) = [f for f in a.findings if f.code == "CC202"]
    assert cc202.layer == "conv2" and cc202.help is not None
    assert "17" not in cc202.help and "this layer fits an input" not in cc202.help
    assert cc202.help.splitlines()[0] == (
        "its output (16) must match the other branches of the merge: a fix here changes them too"
    )


def test_a_fix_outside_a_branch_still_proposes_padding_and_input_sizes() -> None:
    a = check(spec("INPUT -> CONV(8, F=1, S=2)"))
    (cc202,) = [f for f in a.findings if f.code == "CC202"]
    assert cc202.help is not None
    assert "this layer fits an input of 31 or 33 instead of 32" in cc202.help
