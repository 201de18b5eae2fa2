"""The Arrow+ grammar (README, The arrow grammar): each construct expands to its layers."""

from __future__ import annotations

import pytest

import convcalc
from convcalc.frontend.lexer import tokenize
from convcalc.frontend.parser import parse_pattern
from convcalc.source import Source, SourceFile

from ..support import check, spec


def types(a: convcalc.Analysis) -> list[str]:
    return [r.type for r in a.rows[1:]]


def names(a: convcalc.Analysis) -> list[str]:
    return [r.name for r in a.rows]


def errors(a: convcalc.Analysis) -> list[str]:
    return [f.code for f in a.findings if f.severity is convcalc.Severity.ERROR]


def test_the_notes_pattern_is_valid_as_written() -> None:
    text = spec(
        "INPUT -> [[CONV -> RELU]*N -> POOL?]*M -> [FC -> RELU]*K -> FC",
        extra="vars: {N: 2, M: 3, K: 2}\ndefaults:\n  CONV: {K: 16, P: 1}\n  FC: {K: 10}\n",
    )
    a = check(text)
    assert types(a) == ["CONV", "RELU", "CONV", "RELU", "POOL"] * 3 + ["FC", "RELU"] * 2 + ["FC"]
    assert [f.code for f in a.findings] == ["CC112"]  # one info for the bare POOL?, not three
    assert a.output == (1, 1, 10)


@pytest.mark.parametrize(
    ("n", "m", "k", "expected"),
    [
        (0, 0, 0, ["FC"]),  # INPUT -> FC, a linear classifier
        (1, 0, 0, ["FC"]),
        (1, 1, 0, ["CONV", "RELU", "POOL", "FC"]),
        (2, 1, 1, ["CONV", "RELU", "CONV", "RELU", "POOL", "FC", "RELU", "FC"]),
    ],
)
def test_set_overrides_vars(n: int, m: int, k: int, expected: list[str]) -> None:
    text = spec(
        "INPUT -> [[CONV -> RELU]*N -> POOL?pool]*M -> [FC -> RELU]*K -> FC",
        extra="vars: {N: 9, M: 9, K: 9, pool: true}\ndefaults: {CONV: {K: 8, P: 1}, FC: {K: 10}}\n",
    )
    a = check(text, variables={"N": n, "M": m, "K": k})
    assert types(a) == expected
    assert [f.code for f in a.findings if f.code != "CC403"] == []


def test_named_optional() -> None:
    text = spec("INPUT -> CONV(8) -> POOL?pool -> FC(2)", extra="vars: {pool: false}\n")
    assert types(check(text)) == ["CONV", "FC"]
    assert types(check(text, variables={"pool": True})) == ["CONV", "POOL", "FC"]
    assert types(check(text, variables={"pool": 2})) == ["CONV", "POOL", "FC"]


def test_repetition_forms() -> None:
    a = check(spec("INPUT -> [ID]*3 -> ID*N -> ID*(N * 2 - 1) -> [ID]*0", extra="vars: {N: 2}\n"))
    assert types(a) == ["ID"] * (3 + 2 + 3)


def test_over_gives_per_repetition_values() -> None:
    a = check(
        spec(
            "INPUT -> [ [CONV(c, P=1) -> RELU]*n -> POOL ]*3 over c=(16, 32, 64), n=(1, 2, 3)",
            "64x64x3",
        )
    )
    convs = [r.output for r in a.rows if r.type == "CONV"]
    assert convs == [(64, 64, 16), (32, 32, 32), (32, 32, 32), (16, 16, 64), (16, 16, 64),
                     (16, 16, 64)]  # fmt: skip


def test_merges() -> None:
    a = check(spec("INPUT -> CAT{ CONV(8, F=1) | CONV(16, F=3, P=1) | POOL(F=3, S=1, P=1) }"))
    assert a.output == (32, 32, 8 + 16 + 3)
    cat = a.rows[-1]
    assert cat.type == "CAT" and len(cat.inputs) == 3
    b = check(spec("INPUT -> CONV(8, P=1) -> ADD{ CONV(8, P=1) | ID } -> RES{ CONV(8, P=1) }"))
    assert [r.type for r in b.rows] == ["INPUT", "CONV", "CONV", "ID", "ADD", "CONV", "ID", "ADD"]
    add = b.rows[4]
    assert add.inputs == (2, 3) and add.output == (32, 32, 8)


def test_skip_projection_is_inferred() -> None:
    a = check(spec("INPUT -> ADD{ CONV(16, S=2, P=1) | SKIP }", "32x32x8"))
    assert [r.name for r in a.rows] == ["input", "conv1", "skip1.conv", "skip1.bn", "add1"]
    proj = a.rows[2]
    assert proj.type == "CONV" and proj.output == (16, 16, 16)
    assert proj.args["S"] == (2, 2) and proj.args["F"] == (1, 1) and proj.args["bias"] is False
    assert proj.params == 8 * 16 and a.rows[3].params == 2 * 16 and a.rows[3].buffers == 2 * 16
    # the textbook projection (stride 2, more channels) is silent: CC304 is for unusual ones
    assert [f.code for f in a.findings if f.code in ("CC202", "CC204", "CC304")] == []


def test_a_skip_written_first_runs_first() -> None:
    # torchvision's RegNet computes proj(x) + f(x): the rows come in written order even
    # though the projection is inferred from the branch after it
    a = check(spec("INPUT -> ADD{ SKIP | CONV(64, F=3, S=2, P=1) -> BN } -> RELU", "32x32x32"))
    names = [r.name for r in a.rows]
    assert names == ["input", "skip1.conv", "skip1.bn", "conv1", "bn1", "add1", "relu1"]
    assert [r.inputs for r in a.rows] == [(), (0,), (1,), (0,), (3,), (2, 4), (5,)]
    assert a.rows[5].input_shapes == ((16, 16, 64), (16, 16, 64))
    # a nested merge in the branch after the SKIP keeps its own inputs right
    b = check(spec("INPUT -> ADD{ SKIP | CAT{ CONV(4, S=2, P=1) | POOL(3, S=2, P=1) } }"))
    assert [r.name for r in b.rows] == [
        "input",
        "skip1.conv",
        "skip1.bn",
        "conv1",
        "pool1",
        "cat1",
        "add1",
    ]
    assert [r.inputs for r in b.rows] == [(), (0,), (1,), (0,), (0,), (3, 4), (2, 5)]
    assert b.output == (16, 16, 7)


def test_skip_is_identity_when_shapes_match() -> None:
    a = check(spec("INPUT -> ADD{ CONV(3, P=1) | SKIP }"))
    skip = a.rows[2]
    assert skip.type == "SKIP" and skip.params == 0 and skip.activations == 0
    assert a.findings == ()


def test_blocks_with_defaults_and_keywords() -> None:
    text = spec(
        "INPUT -> unit(8) -> unit(16, n=2) -> unit(c=4, n=0)",
        extra='blocks:\n  unit(c, n=1): "[CONV(c, P=1) -> RELU]*n"\n',
    )
    a = check(text)
    assert [r.output[2] for r in a.rows if r.type == "CONV"] == [8, 16, 16]


def test_block_recursion_with_a_stopping_condition() -> None:
    text = spec(
        "INPUT -> down(3)",
        extra='blocks:\n  down(n): "CONV(8, F=2, S=2) -> down(n - 1)?n"\n',
    )
    a = check(text)
    # down(3) -> down(2) -> down(1) -> down(0), whose down(-1)?0 is absent: four CONVs
    assert [r.output for r in a.rows[1:]] == [(16, 16, 8), (8, 8, 8), (4, 4, 8), (2, 2, 8)]


def test_sugar() -> None:
    a = check(spec("INPUT -> CONV3-64 -> POOL2 -> FC-10 -> CONV5-8(S=2)", "8x8x3"))
    conv, pool, fc = a.rows[1], a.rows[2], a.rows[3]
    assert conv.args["F"] == (3, 3) and conv.args["P"] == (1, 1) and conv.output == (8, 8, 64)
    assert pool.args["F"] == (2, 2) and pool.args["S"] == (2, 2) and pool.output == (4, 4, 64)
    assert fc.output == (1, 1, 10)
    assert a.rows[4].args["S"] == (2, 2) and a.rows[4].args["P"] == (2, 2)


def test_labels_name_layers() -> None:
    a = check(spec("INPUT -> CONV(8)@stem -> [CONV(8, P=1)@body]*2 -> CONV(8)@conv1 -> CONV(8)"))
    assert names(a) == ["input", "stem", "body.1", "body.2", "conv1", "conv2"]


def test_auto_names_skip_labels() -> None:
    a = check(spec("INPUT -> CONV(8, P=1) -> CONV(8, P=1)@conv1"))
    assert names(a) == ["input", "conv2", "conv1"]


def test_implicit_input() -> None:
    a = check(spec("CONV(8) -> FC(2)"))
    assert types(a) == ["CONV", "FC"] and a.rows[0].type == "INPUT"


def test_comments_and_line_breaks_in_arch() -> None:
    a = check("name: t\ninput: 8x8x3\narch: |\n  INPUT   # the image\n  -> CONV(4)\n  # done\n")
    assert types(a) == ["CONV"]


def test_defaults_apply_and_explicit_args_win() -> None:
    text = spec("INPUT -> CONV -> CONV(F=1) -> POOL", extra="defaults:\n  CONV: {K: 4, F: 5}\n")
    a = check(text)
    assert [r.args["F"] for r in a.rows[1:3]] == [(5, 5), (1, 1)]
    assert a.rows[3].args["S"] == (2, 2)  # POOL's S defaults to its F


def test_rectangular_arguments() -> None:
    a = check(spec("INPUT -> CONV(4, F=(5, 3), S=(2, 1), P=(2, 1))", "32x16x3"))
    assert a.output == (16, 16, 4)
    assert a.rows[1].weights == 5 * 3 * 3 * 4


def test_positions_survive_expansion() -> None:
    text = "name: t\ninput: 12x12x3\narch: |\n  INPUT\n  -> [CONV(4, F=5)]*3\n"
    a = check(text)
    (f,) = [f for f in a.findings if f.code == "CC203"]
    assert (f.location.line, f.location.column) == (5, 7)
    assert f.note == "in repetition 3/3 of [CONV(4, F=5)]"
    assert f.render().splitlines()[1:3] == [
        "   5 |   -> [CONV(4, F=5)]*3",
        "     |       ^~~~~~~~~~~~",
    ]


def test_positions_inside_blocks() -> None:
    text = (
        "name: t\ninput: 8x8x3\nblocks:\n  stage(c): |\n    CONV(c, F=3)\n"
        "    -> POOLL\narch: INPUT -> stage(4)\n"
    )
    a = check(text)
    (f,) = a.findings
    assert f.code == "CC108" and (f.location.line, f.location.column) == (6, 8)
    assert f.note == "in stage(4) called at line 7"


def test_tokens_keep_word_boundaries() -> None:
    source = Source.whole(SourceFile("<t>", "CONVX -> CONV3-64 -> FC-10 -> FC->RELU"))
    kinds = [(t.kind, t.text) for t in tokenize(source)]
    assert kinds[:3] == [("NAME", "CONVX"), ("ARROW", "->"), ("SUGAR", "CONV3-64")]
    assert ("SUGAR", "FC-10") in kinds and ("NAME", "FC") in kinds


def test_parse_keeps_structure() -> None:
    source = Source.whole(SourceFile("<t>", "INPUT -> [CONV(8)]*2 over c=(1, 2)? -> FC(2)"))
    chain = parse_pattern(source)
    stage = chain.stages[1]
    assert stage.repeat is not None and stage.repeat.bindings[0].name == "c"
    assert stage.optional is not None and stage.optional.name is None


def test_inline_pattern() -> None:
    from convcalc.frontend.spec import inline

    a = convcalc.analyze(inline("INPUT -> CONV(4, F=3) -> FC(2)", (8, 8, 1)))
    assert a.output == (1, 1, 2) and a.rows[1].location.column == 10


def test_optional_with_a_condition() -> None:
    # MobileNetV2's expansion: the 1x1 CONV exists only when t != 1
    a = check(
        spec("INPUT -> [CONV(8 * t, F=1)?(t - 1) -> CONV(8, F=3, P=1)]*2 over t=(1, 6)", "8x8x8")
    )
    assert [r.output[2] for r in a.rows[1:]] == [8, 48, 8]
    assert [f.code for f in a.findings if f.code != "CC403"] == []


def test_a_tokens_kind_is_the_group_that_matched() -> None:
    """The tokenizer reads a token's kind off the number of the group that matched: every
    group of the pattern is a named one, and each kind is found. Oracle: the group's name."""
    from convcalc.frontend.lexer import _KINDS, _TOKEN, Token

    assert _TOKEN.groups == len(_TOKEN.groupindex) == len(_KINDS) - 1
    text = "CONV3-64 -> [FC(2.5e1, x=7)@a.b]*2 // 3 % ?{|} CONV"
    got = tokenize(Source.whole(SourceFile("<t>", text)))
    by_name = []
    for m in _TOKEN.finditer(text):
        if m.lastgroup == "END":
            break
        token = m.group(m.lastgroup or "")
        by_name.append(Token(token if m.lastgroup == "OP" else m.lastgroup or "", token,
                             *m.span(m.lastgroup or "")))
    assert got[:-1] == by_name and type(got[0]) is Token
    assert {t.kind for t in got} >= {"SUGAR", "ARROW", "FLOAT", "INT", "NAME", "LABEL", "END"}
