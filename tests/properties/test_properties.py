"""Property tests: random valid architectures from the grammar (strategies.py), each drawn
with the rows the README's formulas give it, checked against oracles that share no code with
the analysis. The oracle of each property:

- test_rows_have_the_readme_shapes_and_counts: the strategy's rows, from the README's
  formulas written out in strategies.py (output W×H×D, weights, biases, buffers, MACs, the
  rows each row reads, the row order with merges and SKIP projections);
- test_totals_are_the_sums_of_the_readme_rows: the sums of the strategy's rows;
- test_strict_rounding_errs_exactly_where_a_stride_does_not_fit: the strategy's remainder
  (W1 + P_before + P_after − F_eff) mod S of every CONV, LOCAL, POOL and SKIP projection;
- test_strict_rounding_errs_on_a_ceil_pool_whose_stride_does_not_fit: the same remainder,
  for a ceil pool built not to fit (ceil or floor, strict refuses it);
- test_forward_pass_shapes_equal_the_readme_shapes: the arrays of the NumPy forward pass,
  against the strategy's shapes (and the analysis's);
- test_forward_pass_pads_same_pools_as_tensorflow: a direct NumPy sliding window over the
  input padded by TensorFlow's `same` (the odd pixel after), the input read back from the
  forward pass's own output (a CAT with ID), so no RNG or weights are replayed;
- test_torch_shapes_equal_the_readme_shapes: torch.nn.functional run on the rows
  (tests/torch_reference.py), against the strategy's shapes (and the analysis's);
- test_expand_then_check_gives_identical_rows: the analysis of the expanded spec;
- test_json_round_trips: json.loads(json.dumps(...)).

500 examples per property with --slow (the README's test command, .ci/run), 200 in a plain
`python -m pytest` (`--hypothesis-profile=thorough` for 5,000; `quick` for 50).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import convcalc
from convcalc.records import Row
from convcalc.report.data import result_json
from convcalc.report.expanded import expanded_yaml

from .strategies import Net, draw_pair, fits, nets, same_pads, show_pair, windows


def analysed(net: Net, *, ok: bool = True, rounding: str | None = None) -> convcalc.Analysis:
    spec = convcalc.load_text(net.text, "random.yaml")
    a = convcalc.analyze(spec, rounding=rounding or net.api_rounding)
    if ok:
        assert a.ok, [f.render() for f in a.findings if f.severity is convcalc.Severity.ERROR]
    return a


def facts(row: Row) -> tuple[object, ...]:
    """A row of the analysis as :meth:`Fact.key` gives the strategy's."""
    return (row.type, tuple(sorted(row.inputs)), row.output, row.weights, row.biases,
            row.buffers, row.macs)  # fmt: skip


# -- the README's formulas --------------------------------------------------------------------


@given(nets())
def test_rows_have_the_readme_shapes_and_counts(net: Net) -> None:
    """Every row, merges and SKIP projections included, in execution order: its type, the rows
    it reads, its output W×H×D, weights, biases, buffers and MACs."""
    a = analysed(net)
    assert a.rounding == net.rounding
    assert [facts(r) for r in a.rows] == [f.key() for f in net.rows]
    assert a.output == net.output


@given(nets())
def test_totals_are_the_sums_of_the_readme_rows(net: Net) -> None:
    totals = analysed(net).totals
    expected = {
        key: sum(getattr(f, key) for f in net.rows)
        for key in ("weights", "biases", "buffers", "macs")
    }
    expected["params"] = expected["weights"] + expected["biases"]
    assert {key: getattr(totals, key) for key in expected} == expected


@given(nets(roundings=("floor",), ceil_pools=False))
def test_strict_rounding_errs_exactly_where_a_stride_does_not_fit(net: Net) -> None:
    """The same spec under ``rounding="strict"``: CC201 as an error on exactly the CONV, LOCAL,
    POOL (and SKIP projection) rows whose stride doesn't fit, the shapes still floored."""
    a = analysed(net, ok=False, rounding="strict")
    assert [facts(r) for r in a.rows] == [f.key() for f in net.rows]
    # a SKIP projection's finding names the SKIP (its rows are skipN.conv and skipN.bn)
    misfits = [a.rows[i].name.removesuffix(".conv") for i, f in enumerate(net.rows) if f.misfit]
    errors = [f.layer for f in a.findings if f.severity is convcalc.Severity.ERROR]
    assert Counter(errors) == Counter(misfits)
    assert all(f.code == "CC201" for f in a.findings if f.severity is convcalc.Severity.ERROR)
    assert a.ok == (not misfits)


@st.composite
def misfit_ceil_pools(draw: st.DrawFn) -> str:
    """``INPUT -> POOL(F, S, P, ceil=true)`` whose stride doesn't fit the width:
    W + 2P − F = S·m + r with 0 < r < S."""
    f, s = draw(st.integers(1, 3)), draw(st.integers(2, 3))
    p = draw(st.integers(0, f // 2))
    m, r = draw(st.integers(0, 6)), draw(st.integers(1, s - 1))
    w = s * m + r + f - 2 * p
    h, d = draw(st.integers(max(f - 2 * p, 1), 20)), draw(st.integers(1, 3))
    assert w >= 1 and windows(w, f, s, p, p) is not None and not fits(w, f, s, p, p)
    pool = f"POOL(F={f}, S={s}, P={p}, ceil=true)"
    return f"name: t\ninput: {w}x{h}x{d}\narch: |\n  INPUT -> {pool}\n"


@given(misfit_ceil_pools())
def test_strict_rounding_errs_on_a_ceil_pool_whose_stride_does_not_fit(text: str) -> None:
    a = convcalc.analyze(convcalc.load_text(text, "t.yaml"), rounding="strict")
    assert any(f.code == "CC201" and f.severity is convcalc.Severity.ERROR for f in a.findings)
    assert not a.ok


# -- the forward pass ---------------------------------------------------------------------------


@given(nets())
def test_forward_pass_shapes_equal_the_readme_shapes(net: Net) -> None:
    from convcalc.engine.forward import forward

    a = analysed(net)
    result = forward(a, batch=1, trace_memory=False)
    assert [r.actual for r in result.layers] == [f.output for f in net.rows]
    assert result.ok, [(r.name, r.expected, r.actual) for r in result.layers if not r.match]


@st.composite
def same_pools(draw: st.DrawFn) -> tuple[str, int, tuple[int, int], str]:
    """``INPUT -> CAT{ ID | POOL(F, S, P=same, type) -> UP(S) }`` on a W×H that S divides: the
    output holds the input itself and the pool's result, each at the input's W×H."""
    s = draw(st.integers(1, 2))
    w, h, d = s * draw(st.integers(1, 8)), s * draw(st.integers(1, 8)), draw(st.integers(1, 3))
    f = draw_pair(draw, 1, 4)
    kind = draw(st.sampled_from(["max", "avg", "l2"]))
    f_text = show_pair(f)
    up = f" -> UP({s})" if s > 1 else ""
    arch = f"INPUT -> CAT{{ ID | POOL(F={f_text}, S={s}, P=same, type={kind}){up} }}"
    return f"name: t\ninput: {w}x{h}x{d}\narch: |\n  {arch}\n", s, f, kind


@given(same_pools())
def test_forward_pass_pads_same_pools_as_tensorflow(
    case: tuple[str, int, tuple[int, int], str],
) -> None:
    """``same``: ceil(W/S) outputs, total padding max((out − 1)·S + F − W, 0), the odd pixel
    after (TensorFlow); padding is never a max, counts as 0 in avg (divided by F·F, PyTorch's
    count_include_pad) and l2."""
    from convcalc.engine.forward import forward

    text, s, (fw, fh), kind = case
    a = convcalc.analyze(convcalc.load_text(text, "t.yaml"))
    assert a.ok
    out = forward(a, batch=1, trace_memory=False).output.astype(np.float64)  # N, H, W, C
    d = a.input[2]
    x, pooled = out[..., :d], out[:, ::s, ::s, d:]
    (top, bottom), (left, right) = same_pads(x.shape[1], fh, s), same_pads(x.shape[2], fw, s)
    fill = -np.inf if kind == "max" else 0.0
    padded = np.pad(x, ((0, 0), (top, bottom), (left, right), (0, 0)), constant_values=fill)
    if kind == "l2":
        padded = padded**2
    views = np.lib.stride_tricks.sliding_window_view(padded, (fh, fw), axis=(1, 2))[:, ::s, ::s]
    if kind == "max":
        expected = views.max(axis=(-2, -1))
    else:
        expected = views.sum(axis=(-2, -1))
        expected = np.sqrt(expected) if kind == "l2" else expected / (fh * fw)
    assert expected.shape == pooled.shape
    np.testing.assert_allclose(pooled, expected, rtol=1e-5, atol=1e-6)


# -- torch ----------------------------------------------------------------------------------------


def as_torch_runs(row: Row, rounding: str) -> Row:
    """What torch runs for a row: LOCAL has CONV's shape rule (README: "as CONV") and torch has
    no locally connected layer; under caffe rounding every POOL is ceil_mode."""
    if row.type == "LOCAL":
        return row._replace(type="CONV")
    if row.type == "POOL" and rounding == "caffe":
        return row._replace(args={**row.args, "ceil": True})
    return row


@pytest.fixture(scope="module")
def torch_one_thread() -> Iterator[None]:
    """torch on one thread: on a shared machine its thread pool makes these tiny ops 100×
    slower."""
    torch = pytest.importorskip("torch")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@given(net=nets())
def test_torch_shapes_equal_the_readme_shapes(torch_one_thread: None, net: Net) -> None:
    from ..torch_reference import shapes

    a = analysed(net)
    torch_shapes = shapes([as_torch_runs(r, a.rounding) for r in a.rows])
    assert torch_shapes == [f.output for f in net.rows]
    assert torch_shapes == [r.output for r in a.rows]


# -- round trips ----------------------------------------------------------------------------------


@given(nets())
def test_expand_then_check_gives_identical_rows(net: Net) -> None:
    a = analysed(net)
    again = convcalc.analyze(convcalc.load_text(expanded_yaml(a), "expanded.yaml"))
    strip = ("line", "column")

    def rows(x: convcalc.Analysis) -> list[dict[str, object]]:
        return [{k: v for k, v in r.items() if k not in strip} for r in result_json(x)["layers"]]

    assert rows(again) == rows(a)
    assert again.totals == a.totals and again.output == a.output


@given(nets())
def test_json_round_trips(net: Net) -> None:
    doc = result_json(analysed(net))
    assert json.loads(json.dumps(doc)) == doc
