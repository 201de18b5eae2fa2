"""The rule catalogue: every rule documented, and each design rule firing and not firing."""

from __future__ import annotations

import json

import pytest

import convcalc
from convcalc.rules.catalogue import RULES
from convcalc.rules.explanations import EXPLANATIONS

from ..support import check, run, spec, unwrapped


def codes(a: convcalc.Analysis) -> list[str]:
    return [f.code for f in a.findings]


def test_every_rule_is_explained_with_an_example() -> None:
    assert set(EXPLANATIONS) == set(RULES)
    for code, text in EXPLANATIONS.items():
        assert "Example" in text or code in ("CC120", "CC123", "CC125"), code
        assert "Fix" in text, code


def test_rules_command_lists_and_explains() -> None:
    listing = run("rules")
    assert listing.exit_code == 0
    shown = unwrapped(listing.output)  # a long summary wraps inside its column
    for code, rule in RULES.items():
        assert code in shown and rule.summary in shown
    one = run("rules", "CC201")
    assert one.exit_code == 0
    assert one.output.startswith("CC201 (warning): stride doesn't fit")
    assert "(224 − 11)/4 + 1 = 54.25" in one.output
    prefix = run("rules", "CC5", "--format", "json")
    assert [r["code"] for r in json.loads(prefix.output)["rules"]] == [
        c for c in RULES if c.startswith("CC5")
    ]
    assert run("rules", "CC999").exit_code == 2


# (pattern, input, code): fires — and a twin that does not
FIRING = [
    ("CC501", "INPUT -> [CONV(8, F=3, P=1) -> POOL]*3", "36x36x3",
     "INPUT -> [CONV(8, F=3, P=1) -> POOL]*3", "32x32x3"),
    ("CC502", "INPUT -> CONV(8, F=3, P=1) -> CONV(8, F=7, P=3)", "32x32x3",
     "INPUT -> CONV(8, F=7, P=3) -> CONV(8, F=3, P=1)", "32x32x3"),
    ("CC503", "INPUT -> CONV(64, F=3, P=1) -> CONV(64, F=7, P=3)", "32x32x64",
     "INPUT -> CONV(64, F=3, P=1) -> [CONV(64, F=3, P=1) -> RELU]*3", "32x32x64"),
    ("CC504", "INPUT -> CONV(8, F=5)", "32x32x3",
     "INPUT -> CONV(8, F=5, P=2)", "32x32x3"),
    ("CC505", "INPUT -> POOL(F=4, S=4)", "32x32x3",
     "INPUT -> POOL(F=2, S=2) -> POOL(F=2, S=2)", "32x32x3"),
    ("CC506", "INPUT -> POOL(F=3, S=2, P=1)", "32x32x3",
     "INPUT -> POOL(F=3, S=2)", "33x33x3"),
    ("CC507", "INPUT -> [CONV(8, F=3, P=1) -> POOL]*5 -> CONV(8, F=3, P=1)", "32x32x3",
     "INPUT -> [CONV(8, F=3, P=1) -> POOL]*3 -> CONV(8, F=3, P=1)", "32x32x3"),
    ("CC508", "INPUT -> FC(4096)", "7x7x512",
     "INPUT -> GAP -> FC(4096)", "7x7x512"),
    ("CC303", "INPUT -> ADD{ CONV(8, F=3, S=2, P=1) | CONV(8, F=2, S=2) }", "32x32x3",
     "INPUT -> ADD{ CONV(8, F=3, S=2, P=1) | CONV(8, F=1, S=2) }", "32x32x3"),
    ("CC204", "INPUT -> POOL(F=1, S=2)", "7x7x3",
     "INPUT -> POOL(F=2, S=2)", "8x8x3"),
    ("CC206", "INPUT -> CONV(8, F=4, P=same)", "32x32x3",
     "INPUT -> CONV(8, F=3, P=same)", "32x32x3"),
    ("CC205", "INPUT -> POOL(F=3, S=2, ceil=true)", "32x32x3",
     "INPUT -> POOL(F=3, S=2, ceil=true)", "33x33x3"),
    ("CC403", "INPUT -> CONV(4, F=1) -> CONV(4, F=1) -> FC(100)", "8x8x3",
     "INPUT -> CONV(16, F=3, P=1) -> CONV(16, F=3, P=1) -> FC(2)", "8x8x3"),
    ("CC509", "INPUT -> CONV(8, F=3, P=1) -> DROPPATH(0.1) -> CONV(8, F=3, P=1)", "8x8x8",
     "INPUT -> RES{ CONV(8, F=3, P=1) -> BN -> DROPPATH(0.1) } -> CONV(8, F=3, P=1)", "8x8x8"),
    ("CC510", "INPUT -> CONV(1, F=3, P=1) -> LN", "8x8x3",
     "INPUT -> CONV(2, F=3, P=1) -> LN", "8x8x3"),
]  # fmt: skip


@pytest.mark.parametrize(("code", "fires", "shape", "quiet", "quiet_shape"), FIRING,
                         ids=[row[0] for row in FIRING])  # fmt: skip
def test_rule_fires_and_does_not(code: str, fires: str, shape: str, quiet: str,
                                 quiet_shape: str) -> None:  # fmt: skip
    assert code in codes(check(spec(fires, shape)))
    assert code not in codes(check(spec(quiet, quiet_shape)))


@pytest.mark.parametrize(
    ("arch", "fires"),
    [
        ("CONV(64, F=7, P=3)", True),
        ("CONV(64, F=(7, 6), P=3)", True),  # 42 weights a channel pair
        ("CONV(64, F=(7, 5), P=(3, 2))", True),  # 35: more than a 5×5's 25
        ("CONV(64, F=7, P=3, groups=32)", True),  # grouped, but not depthwise
        # Inception v3's factorised 1×7 and 7×1: 7 weights a channel pair, fewer than 3×3
        ("CONV(64, F=(7, 1), P=(3, 0)) -> CONV(64, F=(1, 7), P=(0, 3))", False),
        ("CONV(64, F=(7, 3), P=(3, 1))", False),  # 21
        ("CONV(64, F=7, P=3, groups=64)", False),  # ConvNeXt's depthwise 7×7
        ("CONV(128, F=7, P=3, groups=64)", False),  # depthwise with a multiplier
    ],
)
def test_cc502_spares_factorised_and_depthwise_filters(arch: str, fires: bool) -> None:
    a = check(spec(f"INPUT -> CONV(64, F=3, P=1) -> {arch}", "17x17x3"))
    assert ("CC502" in codes(a)) is fires


def test_cc502_quiet_on_inception_v3_and_convnext_and_its_help_names_both() -> None:
    for name in ("inception-v3", "convnext-tiny"):
        assert "CC502" not in codes(convcalc.analyze(convcalc.load(name))), name
    (f,) = [f for f in check(spec("INPUT -> CONV(8, F=1) -> CONV(8, F=7, P=3)", "9x9x3")).findings
            if f.code == "CC502"]  # fmt: skip
    assert f.help is not None and "a 1×7 and a 7×1 CONV, or make it depthwise" in f.help


def test_cc503_counts_the_notes_parameters() -> None:
    (f,) = [f for f in check(spec("INPUT -> CONV(64, F=7, P=3)", "32x32x64")).findings
            if f.code == "CC503"]  # fmt: skip
    assert "200,704 weights" in f.message  # 49 · 64²
    assert "110,592" in f.message  # 27 · 64²


def test_cc507_mentions_the_whole_input() -> None:
    a = check(spec("INPUT -> [CONV(8, F=3, P=1) -> POOL]*5 -> CONV(8, F=3, P=1)", "32x32x3"))
    on_2x2, on_1x1 = [f for f in a.findings if f.code == "CC507"]
    assert "on a 2×2 map read 56% padding" in on_2x2.message
    f = on_1x1
    assert "on a 1×1 map read 89% padding" in f.message
    assert "already covers the whole input" in f.message


def test_vgg16_is_clean_of_warnings() -> None:
    a = convcalc.analyze(convcalc.load("vgg16"))
    assert [f.severity for f in a.findings if f.severity >= convcalc.Severity.WARNING] == []


def test_zfnet_first_layer_gets_its_non_integer_finding() -> None:
    a = convcalc.analyze(convcalc.load("zfnet"))
    first = [f for f in a.findings if f.layer == "conv1" and f.code in ("CC201", "CC202")]
    assert first and "(224 − 7 + 2)/2 + 1 = 110.5" in first[0].message


def test_cc509_names_the_reader_and_spares_p_0() -> None:
    a = check(spec("INPUT -> CONV(8, F=1) -> DROPPATH(0.3) -> CONV(8, F=1)@head", "4x4x8"))
    (f,) = [f for f in a.findings if f.code == "CC509"]
    assert f.layer == "droppath1" and "is read by head" in f.message and "0.3" in f.message
    assert f.help is not None and "RES{ ... -> DROPPATH(p) }" in f.help
    last = check(spec("INPUT -> DROPPATH(0.1)", "4x4x8"))
    assert "ends the network" in next(f.message for f in last.findings if f.code == "CC509")
    # p=0 drops nothing; an ADD{ .. | .. } with DROPPATH in both branches is a residual sum
    assert "CC509" not in codes(check(spec("INPUT -> DROPPATH(0) -> CONV(8, F=1)", "4x4x8")))
    quiet = "INPUT -> ADD{ CONV(8, F=1) -> DROPPATH(0.1) | CONV(8, F=1) -> DROPPATH(0.2) }"
    assert "CC509" not in codes(check(spec(quiet, "4x4x8")))
