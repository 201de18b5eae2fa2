"""The depthwise kernel (groups = input channels) and the grouped GEMM kernel (every other
grouping, each block-diagonal merge) against the naive loops and torch: strides 1 to 3,
filters 1 to 7, dilation, asymmetric padding, depth multipliers, batches, bands of a few rows
(the chunk budget), one thread and two, and through ``conv2d`` with an epilogue."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from convcalc import sizing
from convcalc.engine import kernels as K

from .test_kernels import close, naive_conv, rand, torch_conv2d

DW_CASES = [
    # (N, H, W, C, m, FH, FW, stride, pad ((t, b), (l, r)), dilation)
    (2, 7, 6, 3, 1, 3, 3, (1, 1), ((1, 1), (1, 1)), (1, 1)),
    (2, 9, 8, 4, 1, 3, 3, (2, 2), ((1, 1), (1, 1)), (1, 1)),
    (1, 11, 12, 5, 2, 5, 5, (2, 3), ((2, 1), (0, 3)), (1, 2)),  # multiplier, odd strides
    (2, 8, 9, 4, 1, 3, 3, (1, 1), ((2, 2), (2, 2)), (2, 2)),  # dilation 2
    (1, 6, 9, 4, 1, 3, 3, (2, 2), ((0, 1), (1, 1)), (1, 1)),  # asymmetric "same"
    (3, 5, 5, 4, 3, 7, 7, (1, 1), ((3, 3), (3, 3)), (1, 1)),  # 7×7 on a 5×5 input
    (2, 10, 10, 6, 1, 5, 5, (2, 2), ((2, 2), (2, 2)), (1, 1)),  # 5×5 stride 2
    (1, 4, 4, 2, 1, 3, 3, (3, 3), ((5, 0), (0, 4)), (1, 1)),  # windows all in the padding
    (2, 6, 7, 3, 1, 1, 3, (1, 2), ((0, 0), (1, 1)), (1, 3)),  # 1×3, dilation 3 across
    (1, 13, 14, 8, 1, 3, 3, (2, 2), ((0, 0), (0, 0)), (1, 1)),  # unpadded, remainders
    (1, 7, 8, 130, 1, 5, 5, (2, 2), ((2, 2), (2, 2)), (1, 1)),  # K ≥ 128: summed along K
    (1, 8, 11, 66, 2, 3, 3, (1, 2), ((1, 1), (0, 2)), (2, 1)),  # K = 132 by a multiplier
]


def _case(case: Any) -> tuple[Any, ...]:
    N, H, W, C, m, FH, FW, s, pad, d = case
    return rand(N, H, W, C), rand(FH, FW, 1, C * m), rand(C * m), s, pad, d


# the rule takes each path in some case; each path forced on every case with --slow
FORCED = [pytest.param(p, marks=pytest.mark.slow) for p in (True, False)]


@pytest.mark.parametrize("case", DW_CASES)
@pytest.mark.parametrize("chunk", [None, 50])  # 50 bytes: one output row a band
@pytest.mark.parametrize("threads", ["1", "2", "2 held"])  # held: OpenBLAS keeps its threads
@pytest.mark.parametrize("strided", [None, *FORCED])  # the rule, along K, by phase
def test_depthwise_matches_loops(
    case: Any, chunk: int | None, threads: str, strided: bool | None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    from convcalc.engine.kernels import arrays, depthwise

    monkeypatch.setenv("CONVCALC_THREADS", threads.split()[0])
    held = threads.endswith("held")
    monkeypatch.setattr(depthwise, "blas_holds", lambda: held)
    if held:  # every band on the calling thread, none handed to the engine's threads
        monkeypatch.setattr(arrays, "pool", lambda *a: pytest.fail("handed out"))
    monkeypatch.setattr(sizing, "DEPTHWISE_THREADED_MACS", 0)  # these small convs, threaded
    x, w, b, s, pad, d = _case(case)
    C = x.shape[3]
    got = K.depthwise2d(x, w, b, stride=s, pad=pad, dilation=d, chunk_bytes=chunk,
                        arena=K.Arena(), strided=strided)  # fmt: skip
    close(got, naive_conv(x, w, b, s, pad, d, C))
    unbiased = K.depthwise2d(x, w, None, stride=s, pad=pad, dilation=d, chunk_bytes=chunk,
                             strided=strided)  # fmt: skip
    close(unbiased, naive_conv(x, w, None, s, pad, d, C))


@pytest.mark.parametrize("dtype", [np.float16, np.float64])
@pytest.mark.parametrize("strided", [True, False])
def test_depthwise_in_other_dtypes(dtype: Any, strided: bool) -> None:
    x, w, b, s, pad, d = _case(DW_CASES[-2])
    x, w, b = x.astype(dtype), w.astype(dtype), b.astype(dtype)
    got = K.depthwise2d(x, w, b, stride=s, pad=pad, dilation=d, strided=strided)
    assert got.dtype == dtype
    expected = naive_conv(x.astype(np.float64), w.astype(np.float64), b.astype(np.float64),
                          s, pad, d, x.shape[3])  # fmt: skip
    tol = 2e-2 if dtype == np.float16 else 1e-9
    np.testing.assert_allclose(got.astype(np.float64), expected, rtol=tol, atol=tol * 10)


@pytest.mark.parametrize("case", DW_CASES)
def test_depthwise_equals_torch(case: Any) -> None:
    x, w, b, s, pad, d = _case(case)
    C = x.shape[3]
    expected = torch_conv2d(x, w, b, s, pad, d, C)
    close(K.conv2d(x, w, b, stride=s, pad=pad, dilation=d, groups=C), expected)


def test_conv2d_runs_depthwise_with_its_epilogue_on_every_band() -> None:
    x, w, b, res = rand(3, 9, 8, 6), rand(3, 3, 1, 6), rand(6), rand(3, 9, 8, 6)
    pad = ((1, 1), (1, 1))
    ops = [lambda y, r: np.add(y, res[r], out=y), lambda y, r: np.maximum(y, 0, out=y)]
    arena = K.Arena()
    arena.reserve(1 << 16)
    got = K.conv2d(x, w, b, pad=pad, groups=6, epilogue=ops, chunk_bytes=200, arena=arena)
    close(got, np.maximum(naive_conv(x, w, b, (1, 1), pad, (1, 1), 6) + res, 0))


def test_a_small_depthwise_conv_runs_as_one_band_and_its_estimate_says_so(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Below DEPTHWISE_THREADED_MACS the kernel takes one band on the calling thread, above
    it one band a thread at least, and ``depthwise_scratch`` names the same buffers."""
    monkeypatch.setenv("CONVCALC_THREADS", "2")
    x, w, b = rand(1, 7, 7, 16), rand(3, 3, 1, 16), rand(16)
    pad = ((1, 1), (1, 1))
    for limit, bands in ((1 << 20, 1), (0, 2)):
        monkeypatch.setattr(sizing, "DEPTHWISE_THREADED_MACS", limit)
        arena = K.Arena()
        got = K.depthwise2d(x, w, b, pad=pad, arena=arena)
        close(got, naive_conv(x, w, b, (1, 1), pad, (1, 1), 16))
        taken = {name: buf.nbytes for name, buf in arena.used.items()}
        expected = K.depthwise_scratch(1, (7, 7), 16, (3, 3), (1, 1), (1, 1), x.itemsize)
        assert sorted(n for n in taken if n.startswith("dw_band")) == [
            f"dw_band{i}" for i in range(bands)
        ]
        assert {n: taken[n] for n in expected} == expected


@pytest.mark.parametrize(
    "channels", [16, pytest.param(130, marks=pytest.mark.slow)]
)  # by stride phase, and along K (1.6–2.2 s each)
@pytest.mark.parametrize("width", [10, 7, 8])  # stride 1: along K on 7 outputs across or fewer
def test_a_depthwise_conv_takes_the_buffers_its_estimate_names(channels: int, width: int) -> None:
    x, w, b = rand(2, 9, width, channels), rand(5, 5, 1, channels), rand(channels)
    pad = ((2, 2), (2, 2))
    for s in (1, 2):
        arena = K.Arena()
        got = K.depthwise2d(x, w, b, stride=(s, s), pad=pad, arena=arena)
        close(got, naive_conv(x, w, b, (s, s), pad, (1, 1), channels))
        taken = {name: buf.nbytes for name, buf in arena.used.items()}
        out_hw = got.shape[1:3]
        expected = K.depthwise_scratch(2, out_hw, channels, (5, 5), (s, s), (1, 1), x.itemsize)
        assert taken == expected
        along_k = channels >= 128 and (s == 2 or out_hw[1] <= 7)
        assert ("dw_w" not in taken) == along_k, (s, out_hw)


@pytest.mark.parametrize("case", [c for c in DW_CASES if c[7][1] == 1])  # stride 1 across
@pytest.mark.parametrize("inner", [1, 12, 20])
def test_stride_1_depthwise_sums_blocks_of_columns_against_weights_tiled_over_a_block(
    case: Any, inner: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The weights tiled over Wb output columns (Wb·K about DEPTHWISE_INNER), read again for
    each block: the loops' values, and the tiled weights' buffer that long."""
    monkeypatch.setattr(sizing, "DEPTHWISE_INNER", inner)
    x, w, b, s, pad, d = _case(case)
    C, K_ = x.shape[3], w.shape[3]
    arena = K.Arena()
    got = K.depthwise2d(x, w, b, stride=s, pad=pad, dilation=d, arena=arena, strided=False)
    close(got, naive_conv(x, w, b, s, pad, d, C))
    Wo = got.shape[2]
    Wb = sizing.depthwise_block(Wo, K_, 1)
    assert Wo % Wb == 0
    assert arena.used["dw_w"].nbytes == (w.shape[0] * w.shape[1] + 1) * Wb * K_ * 4
    assert Wb == 1 or inner > 1  # inner 1: one column a block, Wo blocks


def test_the_depthwise_block_is_the_divisor_of_the_width_nearest_the_inner_length() -> None:
    inner = sizing.DEPTHWISE_INNER
    assert sizing.depthwise_block(56, 96, 1) * 96 == 1344  # 14 columns; 16 does not divide 56
    assert sizing.depthwise_block(14, 384, 1) == 2  # 768 of 768, 2688 and 5376
    assert sizing.depthwise_block(7, 768, 1) == 1 and sizing.depthwise_block(56, 96, 2) == 56
    for wo, k in ((112, 32), (28, 240), (14, 480), (9, 1000)):
        wb = sizing.depthwise_block(wo, k, 1)
        best = min(abs(d * k - inner) for d in range(1, wo + 1) if wo % d == 0)
        assert wo % wb == 0 and abs(wb * k - inner) == best


def test_depthwise_refuses_grouped_weights() -> None:
    with pytest.raises(ValueError, match="depthwise"):
        K.depthwise2d(rand(1, 4, 4, 4), rand(3, 3, 2, 4))


GROUPED_CASES = [
    # (N, H, W, C, K, FH, FW, stride, pad, dilation, groups): Cg 2 to 16, merged or not
    (2, 7, 6, 8, 8, 3, 3, (1, 1), ((1, 1), (1, 1)), (1, 1), 2),
    (2, 9, 8, 8, 16, 3, 3, (2, 2), ((1, 1), (1, 1)), (1, 1), 4),
    (1, 11, 12, 12, 6, 5, 5, (2, 3), ((2, 1), (0, 3)), (1, 2), 3),
    (2, 8, 9, 16, 8, 3, 3, (1, 1), ((2, 2), (2, 2)), (2, 2), 4),
    (3, 6, 9, 6, 6, 3, 3, (2, 2), ((0, 1), (1, 1)), (1, 1), 2),
    (1, 5, 5, 32, 32, 3, 3, (1, 1), ((1, 1), (1, 1)), (1, 1), 4),  # Cg 8: one group a GEMM
    (2, 7, 7, 48, 24, 3, 3, (1, 1), ((1, 1), (1, 1)), (1, 1), 3),  # Cg 16, Kg 8
    (2, 10, 9, 12, 12, 3, 3, (2, 2), ((1, 1), (1, 1)), (1, 1), 6),  # Cg 2: merged by 3
    (1, 6, 6, 8, 8, 1, 1, (1, 1), ((0, 0), (0, 0)), (1, 1), 2),  # 1×1, unpadded
    (2, 9, 9, 96, 64, 5, 5, (1, 1), ((2, 2), (2, 2)), (1, 1), 2),  # Cg 48: no planes
    (1, 9, 10, 64, 32, 3, 3, (2, 2), ((1, 0), (1, 1)), (1, 1), 2),  # Cg 32, stride 2
]


@pytest.mark.parametrize("case", GROUPED_CASES)
@pytest.mark.parametrize("chunk", [None, 50])  # 50 bytes: one output row a chunk
@pytest.mark.parametrize("threads", ["1", "2"])  # the super-groups split between threads
def test_grouped_matches_loops_and_torch(
    case: Any, chunk: int | None, threads: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CONVCALC_THREADS", threads)
    N, H, W, C, Kk, FH, FW, s, pad, d, g = case
    x, w, b = rand(N, H, W, C), rand(FH, FW, C // g, Kk), rand(Kk)
    expected = naive_conv(x, w, b, s, pad, d, g)
    for merge in [m for m in range(1, g + 1) if g % m == 0]:  # every block-diagonal merge
        got = K.grouped_gemm2d(x, w, b, groups=g, merge=merge, stride=s, pad=pad, dilation=d,
                               chunk_bytes=chunk, arena=K.Arena())  # fmt: skip
        close(got, expected)
    close(K.conv2d(x, w, b, stride=s, pad=pad, dilation=d, groups=g, chunk_bytes=chunk), expected)
    close(K.conv2d(x, w, b, stride=s, pad=pad, dilation=d, groups=g),
          torch_conv2d(x, w, b, s, pad, d, g))  # fmt: skip


@pytest.mark.parametrize(("dtype", "rtol"), [(np.float64, 1e-10), (np.float16, 2e-2)])
def test_grouped_runs_its_epilogue_on_every_chunk_in_its_dtype(dtype: Any, rtol: float) -> None:
    x, w, b, res = rand(2, 9, 8, 12), rand(3, 3, 3, 12), rand(12), rand(2, 9, 8, 12)
    x, w, b, res = (a.astype(dtype) for a in (x, w, b, res))
    pad = ((1, 1), (1, 1))
    ops = [lambda y, r: np.add(y, res[r], out=y), lambda y, r: np.maximum(y, 0, out=y)]
    got = K.conv2d(x, w, b, pad=pad, groups=4, epilogue=ops, chunk_bytes=300, arena=K.Arena())
    assert got.dtype == dtype
    expected = np.maximum(naive_conv(x, w, b, (1, 1), pad, (1, 1), 4) + res, 0)
    close(got.astype(np.float64), expected, rtol=rtol)


def test_block_diagonal_puts_each_group_on_its_diagonal() -> None:
    w = rand(3, 3, 2, 8)  # 4 groups of 2 inputs and 2 outputs
    bd = K.block_diagonal(w, 4, 2).reshape(2, 3, 3, 2, 2, 2, 2)  # (S, FH, FW, B, Cg, B, Kg)
    for g in range(4):
        s, i = divmod(g, 2)
        np.testing.assert_array_equal(bd[s, :, :, i, :, i], w[..., 2 * g : 2 * g + 2])
        np.testing.assert_array_equal(bd[s, :, :, i, :, 1 - i], 0)


def test_grouped_merge_divides_the_groups() -> None:
    assert [K.grouped_merge(32, c) for c in (1, 2, 4, 8, 16)] == [8, 4, 2, 1, 1]
    assert K.grouped_merge(13, 4) == 1 and K.grouped_merge(6, 2) == 3
    with pytest.raises(ValueError, match="divide"):
        K.block_diagonal(rand(3, 3, 2, 8), 4, 3)
