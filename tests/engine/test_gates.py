"""Squeeze-and-excitation's MUL: its gates (N, 1, 1, C) multiply rows of W·C values, and a MUL
read by a 1×1 CONV alone runs as that CONV's prologue, on each chunk of its input, never making
an array; both against loops, the naive reference network and the unfused pass."""

from __future__ import annotations

import numpy as np
import pytest

from convcalc.analysis.plan import plan
from convcalc.engine import kernels as K
from convcalc.engine.layout import lifetimes

from ..support import check
from .test_forward import fused_pass
from .test_kernels import close, naive_conv, naive_multiply, rand

SE = """
name: squeeze-excitation
input: 9x7x6
arch: |
  INPUT -> CONV(12, F=3, P=1) -> RELU
  -> MUL{ ID | GAP -> CONV(3, F=1) -> RELU -> CONV(12, F=1) -> HSIGMOID }
  -> CONV(5, F=1, bias=false) -> BN
  -> RES{ CONV(5, F=3, P=1, groups=5) -> MUL{ ID | GAP -> CONV(2, F=1) -> SILU -> CONV(5, F=1)
          -> SIGMOID } -> CONV(5, F=1) }
  -> MUL{ ID | GAP -> CONV(5, F=1) -> SIGMOID } -> POOL(F=2, S=2) -> GAP -> FC(3)
"""


def test_the_plan_makes_a_mul_read_by_a_1x1_conv_its_prologue() -> None:
    analysis = check(SE)
    assert analysis.ok, [f.render() for f in analysis.findings]
    rows = analysis.rows
    p = plan(rows)
    heads = [(rows[s.rows[0]].type, [rows[i].type for i in s.before]) for s in p.steps]
    assert [h for h in heads if h[1]] == [("CONV", ["MUL"]), ("CONV", ["MUL"])]
    assert sum(1 for h in heads if h[0] == "MUL") == 1  # the last one, before a POOL
    before = {i for s in p.steps for i in s.before}
    assert not before & {value for value, *_ in lifetimes(rows, p, 2, 4)}
    # the gates live until the CONV that multiplies by them has run
    step_of = {i: n for n, s in enumerate(p.steps) for i in s.rows}
    for n, s in enumerate(p.steps):
        for i in s.before:
            for j in rows[i].inputs:
                assert p.last_read[p.value[j]] == n and step_of.get(j, -1) < n


@pytest.mark.parametrize("batch", [1, 3])
def test_a_squeeze_excitation_network_equals_the_naive_reference(
    monkeypatch: pytest.MonkeyPatch, batch: int
) -> None:
    analysis, fused = fused_pass(monkeypatch, SE, batch, 7)
    assert sum(1 for r in analysis.rows if r.type == "MUL" and r.name in fused) == 2


@pytest.mark.parametrize("contiguous", [True, False])
def test_conv2d_with_a_gate_prologue_runs_on_every_chunk(contiguous: bool) -> None:
    x = rand(3, 5, 6, 8) if contiguous else rand(3, 5, 6, 10)[..., 1:9]
    g1, g2 = rand(3, 1, 1, 8), rand(3, 1, 1, 8)
    w, b = rand(1, 1, 8, 4), rand(4)
    expected = naive_conv(naive_multiply([x, g1, g2]), w, b, (1, 1), ((0, 0), (0, 0)), (1, 1), 1)
    for chunk in (100, 700, 2000, K.CHUNK_BYTES):  # bands of rows, 2 images, all 3
        got = K.conv2d(x, w, b, prologue=[K.Gate([g1, g2])], chunk_bytes=chunk, arena=K.Arena())
        close(got, expected)
    relu = [K.Gate([g1]), lambda y, r: np.maximum(y, 0, out=y)]  # a gate, then more
    got = K.conv2d(x, w, b, prologue=relu, chunk_bytes=300, arena=K.Arena())
    pre = np.maximum(naive_multiply([x, g1]), 0)
    close(got, naive_conv(pre, w, b, (1, 1), ((0, 0), (0, 0)), (1, 1), 1))


def test_a_gate_in_place_and_on_strided_chunks_matches_a_loop() -> None:
    x, g = rand(2, 3, 4, 5), rand(2, 1, 1, 5)
    expected = naive_multiply([x, g])
    y = x.reshape(24, 5).copy()
    K.Gate([g])(y, (slice(0, 2), slice(0, 3)))  # in place, contiguous
    close(y.reshape(x.shape), expected, 1e-6)
    wide = np.zeros((24, 7), np.float32)
    chunk = wide[:, :5]  # a strided chunk (a conv's columns beside its bias column)
    chunk[...] = x.reshape(24, 5)
    K.Gate([g])(chunk, (slice(0, 2), slice(0, 3)))
    close(chunk.reshape(x.shape), expected, 1e-6)
    assert not wide[:, 5:].any()
    part = x[1:, 1:3].reshape(8, 5).copy()  # image 1, rows 1..2
    K.Gate([g])(part, (slice(1, 2), slice(1, 3)))
    close(part.reshape(1, 2, 4, 5), expected[1:, 1:3], 1e-6)


def test_multiply_gates_strided_inputs_and_several_full_arrays() -> None:
    x, y, g = rand(2, 3, 4, 9)[..., ::2], rand(2, 3, 4, 5), rand(2, 1, 1, 5)
    for arrays in ([x, g], [g, x], [x, y, g], [x, g, g]):
        close(K.multiply(arrays), naive_multiply(arrays), 1e-6)
