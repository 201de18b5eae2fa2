"""Property tests: random valid architectures from the grammar, built so every shape stays
at least 1×1, checked against independent computations.

- the analysed shapes equal the NumPy forward pass's, layer by layer (and torch's, when it
  is installed);
- every CONV row's parameters equal the notes' formula, and the totals are the row sums;
- `expand` gives a spec that checks to identical rows;
- the JSON document round-trips.

500 examples per property by default (`--hypothesis-profile=thorough` for 5,000; `quick`
for 50).
"""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

import convcalc
from convcalc.report.data import result_json
from convcalc.report.expanded import expanded_yaml

Shape = tuple[int, int, int]


def _pair(draw: st.DrawFn, low: int, high: int) -> tuple[int, int]:
    a = draw(st.integers(low, high))
    return (a, a) if draw(st.booleans()) else (a, draw(st.integers(low, high)))


def _fmt(p: tuple[int, int]) -> str:
    return str(p[0]) if p[0] == p[1] else f"({p[0]}, {p[1]})"


@st.composite
def layer(draw: st.DrawFn, shape: Shape) -> tuple[str, Shape]:
    """One layer that keeps the volume at least 1×1, and the shape after it."""
    w, h, d = shape
    kind = draw(st.sampled_from(["CONV", "CONV", "POOL", "TCONV", "ACT", "BN", "UP", "DROP"]))
    if kind == "CONV":
        f, s = _pair(draw, 1, 4), _pair(draw, 1, 3)
        dil = _pair(draw, 1, 2)
        groups = draw(st.sampled_from([g for g in (1, 2, 3) if d % g == 0]))
        k = groups * draw(st.integers(1, 4))
        same = draw(st.booleans())
        pad = "same" if same else _pair(draw, 0, 2)
        out = []
        for i, size in enumerate((w, h)):
            f_eff = dil[i] * (f[i] - 1) + 1
            if same:
                out.append(-(-size // s[i]))
                continue
            assert not isinstance(pad, str)
            span = size + 2 * pad[i] - f_eff
            if span < 0:
                return "ID", shape
            out.append(span // s[i] + 1)
        p = "same" if same else _fmt(pad)  # type: ignore[arg-type]
        text = (f"CONV({k}, F={_fmt(f)}, S={_fmt(s)}, P={p}, dilation={_fmt(dil)}, "
                f"groups={groups}, bias={draw(st.sampled_from(['true', 'false']))})")  # fmt: skip
        return text, (out[0], out[1], k)
    if kind == "POOL":
        f = draw(st.integers(1, 3))
        s = draw(st.integers(1, 3))
        p = draw(st.integers(0, f // 2))
        ceil = draw(st.booleans())
        if min(w, h) + 2 * p < f:
            return "ID", shape
        out = []
        for size in (w, h):
            span = size + 2 * p - f
            n = (-(-span // s) + 1) if ceil else span // s + 1
            if ceil and (n - 1) * s >= size + p:
                n -= 1
            out.append(n)
        kind_ = draw(st.sampled_from(["max", "avg"]))
        text = f"POOL(F={f}, S={s}, P={p}, type={kind_}, ceil={'true' if ceil else 'false'})"
        return text, (out[0], out[1], d)
    if kind == "TCONV":
        f, s = draw(st.integers(1, 3)), draw(st.integers(1, 2))
        p, op = draw(st.integers(0, 1)), draw(st.integers(0, s - 1))
        out = [(size - 1) * s - 2 * p + f + op for size in (w, h)]
        if min(out) < 1 or max(out) > 48:
            return "ID", shape
        k = draw(st.integers(1, 4))
        return f"TCONV({k}, F={f}, S={s}, P={p}, out_pad={op})", (out[0], out[1], k)
    if kind == "UP":
        return ("UP(2)", (w * 2, h * 2, d)) if max(w, h) <= 20 else ("ID", shape)
    if kind == "ACT":
        return draw(st.sampled_from(["RELU", "LRELU(0.1)", "ELU", "GELU", "SIGMOID", "TANH",
                                     "RELU(inplace=false)"])), shape  # fmt: skip
    if kind == "BN":
        return "BN", shape
    return "DROPOUT(0.3)", shape


@st.composite
def chain(draw: st.DrawFn, shape: Shape, depth: int = 0) -> tuple[str, Shape]:
    """Stages joined by ->, with a residual block or a concatenation now and then."""
    stages = []
    for _ in range(draw(st.integers(1, 4))):
        choice = draw(st.integers(0, 9)) if depth < 2 else 0
        inner, out = draw(chain(shape, depth + 1)) if choice == 8 else ("", shape)
        if choice == 8 and _projectable(shape, out):
            # a residual block, projected by SKIP (a 1×1 CONV at some stride) where it must
            stages.append(f"ADD{{ {inner} | SKIP }}")
            shape = out
        elif choice == 9:  # branches of the same width and height
            k1, k2 = draw(st.integers(1, 4)), draw(st.integers(1, 4))
            stages.append(f"CAT{{ CONV({k1}, F=1) | CONV({k2}, F=3, P=same) -> RELU | ID }}")
            shape = (shape[0], shape[1], k1 + k2 + shape[2])
        else:
            text, shape = draw(layer(shape))
            stages.append(text)
    return " -> ".join(stages), shape


def _projectable(before: Shape, after: Shape) -> bool:
    """Some 1×1 stride takes ``before`` to the width and height of ``after``."""
    return all(
        any((before[i] - 1) // s + 1 == after[i] for s in range(1, before[i] + 1)) for i in (0, 1)
    )


@st.composite
def spec_text(draw: st.DrawFn) -> str:
    shape = (draw(st.integers(4, 24)), draw(st.integers(4, 24)), draw(st.integers(1, 6)))
    body, _ = draw(chain(shape))
    return f"name: random\ninput: {shape[0]}x{shape[1]}x{shape[2]}\narch: |\n  INPUT -> {body}\n"


def analysed(text: str) -> convcalc.Analysis:
    a = convcalc.analyze(convcalc.load_text(text, "random.yaml"))
    assert a.ok, [f.render() for f in a.findings if f.severity is convcalc.Severity.ERROR]
    return a


@given(spec_text())
def test_forward_pass_shapes_equal_the_analysis(text: str) -> None:
    from convcalc.engine.forward import forward

    a = analysed(text)
    result = forward(a, batch=1, trace_memory=False)
    assert result.ok, [(r.name, r.expected, r.actual) for r in result.layers if not r.match]


@given(spec_text())
def test_counts_follow_the_formulas_and_totals_are_row_sums(text: str) -> None:
    a = analysed(text)
    for row in a.rows:
        if row.type == "CONV":
            (fw, fh), g = row.args["F"], row.args["groups"]  # type: ignore[misc]
            d1, k = row.input_shapes[0][2], row.output[2]
            assert row.weights == fw * fh * (d1 // g) * k  # type: ignore[operator]
            assert row.macs == row.output[0] * row.output[1] * row.weights
    doc = result_json(a)
    for key, total in doc["totals"].items():
        assert total == sum(layer[key] for layer in doc["layers"])


@given(spec_text())
def test_expand_then_check_gives_identical_rows(text: str) -> None:
    a = analysed(text)
    again = convcalc.analyze(convcalc.load_text(expanded_yaml(a), "expanded.yaml"))
    strip = ("line", "column")

    def rows(x: convcalc.Analysis) -> list[dict[str, object]]:
        return [{k: v for k, v in r.items() if k not in strip} for r in result_json(x)["layers"]]

    assert rows(again) == rows(a)
    assert again.totals == a.totals and again.output == a.output


@given(spec_text())
def test_json_round_trips(text: str) -> None:
    doc = result_json(analysed(text))
    assert json.loads(json.dumps(doc)) == doc


@given(spec_text())
def test_torch_agrees_on_every_shape(text: str) -> None:
    pytest.importorskip("torch")
    from ..torch_reference import shapes

    a = analysed(text)
    assert shapes(a.rows) == [r.output for r in a.rows]
