"""Convs on few input channels (stems on RGB, LeNet's second conv): OpenBLAS threading the
GEMM, or the engine's threads sharing columns, GEMM and epilogues while a pass owns them
(OpenBLAS on one), against the naive loops and torch: odd sizes,
padding, stride, dilation, batch > 1, float64, a bias in the GEMM or not, and every way a
chunk is cut (one hand-off a share, or copies, GEMM and epilogues apart)."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

import numpy as np
import pytest

from convcalc.engine import kernels as K
from convcalc.engine.kernels import conv, sharing
from convcalc.engine.kernels import gemm as G
from convcalc.engine.kernels.arrays import solo

from .test_kernels import close, naive_conv, rand, torch_conv2d

STEMS = [
    # (N, H, W, C, K, F, stride, pad ((t, b), (l, r)), dilation)
    (1, 23, 21, 3, 8, 3, (2, 2), ((1, 1), (1, 1)), (1, 1)),  # 3×3 s2, one image: rows
    (2, 19, 17, 3, 6, 7, (2, 2), ((3, 3), (3, 3)), (1, 1)),  # 7×7 s2, images
    (2, 27, 27, 3, 5, 11, (4, 4), ((0, 0), (0, 0)), (1, 1)),  # 11×11 s4
    (3, 16, 20, 3, 7, 4, (4, 4), ((0, 0), (0, 0)), (1, 1)),  # 4×4 s4 (convnext)
    (2, 18, 18, 1, 6, 5, (1, 1), ((2, 1), (0, 2)), (2, 1)),  # one channel, dilation, odd pads
    (2, 14, 14, 6, 4, 5, (1, 1), ((0, 0), (0, 0)), (1, 1)),  # LeNet's second conv
    (2, 9, 11, 2, 5, 1, (1, 1), ((0, 0), (0, 0)), (1, 1)),  # 1×1: the GEMM on x itself
]


@cache
def _oracle(case: Any) -> tuple[Any, ...]:
    """x, w, b, the naive loops' V and a residual of V's shape, once for each case."""
    N, H, W, C, Kk, F, s, pad, d = case
    x, w, b = rand(N, H, W, C), rand(F, F, C, Kk), rand(Kk)
    want = naive_conv(x, w, b, s, pad, d, 1)
    return x, w, b, want, rand(*want.shape)


def _blas() -> tuple[Callable[[], int], Callable[[int], None]]:
    found = G.openblas()
    if found is None:
        pytest.skip("this NumPy's OpenBLAS cannot be found: the pass keeps BLAS's threads")
    return found


def _share_rows(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The positions of each share ``sharing.GemmShare`` runs from now on, as they run."""
    rows: list[int] = []
    real = sharing.GemmShare.run

    def counting(self: Any, part: Any) -> None:
        rows.append(part[2].stop - part[2].start)
        real(self, part)

    monkeypatch.setattr(sharing.GemmShare, "run", counting)
    return rows


@pytest.mark.parametrize("case", STEMS)
@pytest.mark.parametrize("threads", ["2", "3"])
@pytest.mark.parametrize("shared", [0, 1 << 30])  # every chunk shared, or none
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_few_channel_convs_share_their_gemms_and_match_loops(
    case: Any, threads: str, shared: int, dtype: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    get, put = _blas()
    before = get()
    put(2)
    try:
        monkeypatch.setenv("CONVCALC_THREADS", threads)
        monkeypatch.delenv("CONVCALC_BLAS", raising=False)
        monkeypatch.setattr(conv, "SHARED_BYTES", shared)
        _, _, _, _, _, _, s, pad, d = case
        x, w, b, want, res = (a.astype(dtype) for a in _oracle(case))
        held: list[tuple[int, bool, bool]] = []
        shares = _share_rows(monkeypatch)

        def add(y: Any, r: tuple[slice, slice]) -> None:  # a residual: reads its own region
            held.append((get(), G.owning(), solo()))
            np.add(y, res[r], out=y)

        for owned in (False, True):  # a pass that owns the threads, or not
            restore = G.own_threads(0, force=True) if owned else lambda: None
            try:
                for chunk in (None, 600):  # one chunk, or a few rows a chunk
                    got = K.conv2d(x, w, b, stride=s, pad=pad, dilation=d, chunk_bytes=chunk,
                                   epilogue=[add, K.RELU], arena=K.Arena())  # fmt: skip
                    assert got.dtype == dtype
                    close(got, np.maximum(want + res, 0), 1e-4 if dtype == np.float32 else 1e-9)
                    got = K.conv2d(x, w, None, stride=s, pad=pad, dilation=d, chunk_bytes=chunk)
                    close(got, want - b, 1e-4 if dtype == np.float32 else 1e-9)
            finally:
                restore()
            # OpenBLAS on one thread while a pass owns the threads, its own two otherwise
            # (its GEMM threaded, the rest on this thread), never a step alone ...
            assert held and set(held) == {(1, True, False) if owned else (2, False, False)}
            assert not shares or owned  # nothing handed to the engine's threads unless owned
            assert get() == 2 and not G.owning() and not solo()  # ... and as before after
            held.clear()
        want = torch_conv2d(x, w, b, s, pad, d)
        got = K.conv2d(x, w, b, stride=s, pad=pad, dilation=d, arena=K.Arena())
        close(got, want, 1e-4)
    finally:
        put(before)


def test_a_big_stem_shares_each_chunk_in_one_hand_off(monkeypatch: pytest.MonkeyPatch) -> None:
    """96×96 at stride 2, 3 channels, in a pass that owns the threads: chunks of thousands of
    positions, each share's rows of the GEMM on its own thread (``sharing.GemmShare``);
    equal to one float64 GEMM."""
    _blas()
    monkeypatch.setenv("CONVCALC_THREADS", "2")
    monkeypatch.delenv("CONVCALC_BLAS", raising=False)
    runs = _share_rows(monkeypatch)
    x, w, b = rand(2, 96, 96, 3), rand(3, 3, 3, 16), rand(16)
    restore = G.own_threads(0, force=True)  # as in a pass that owns the threads
    try:
        got = K.conv2d(x, w, b, stride=(2, 2), pad=((1, 1), (1, 1)), epilogue=[K.RELU],
                       arena=K.Arena())  # fmt: skip
    finally:
        restore()
    xp = np.pad(x.astype(np.float64), ((0, 0), (1, 1), (1, 1), (0, 0)))
    cols = np.stack([xp[:, fy : fy + 96 : 2, fx : fx + 96 : 2] for fy in range(3)
                     for fx in range(3)], axis=3)  # fmt: skip
    want = cols.reshape(-1, 27) @ w.reshape(27, 16).astype(np.float64) + b
    close(got, np.maximum(want, 0).reshape(2, 48, 48, 16))
    assert runs and sum(runs) == 2 * 48 * 48 and min(runs) >= G.GEMM_ROWS


def test_blas_mode_and_wider_convs_keep_blass_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    get, put = _blas()
    before = get()
    put(2)
    try:
        monkeypatch.setenv("CONVCALC_THREADS", "2")
        seen: list[int] = []

        def look(y: Any, r: tuple[slice, slice]) -> None:
            seen.append(get())

        cases = [  # (CONVCALC_BLAS, input channels, bytes of columns from which they are shared)
            ("blas", 3, 0),
            ("auto", 9, 0),
            ("auto", 3, 9 * 9 * 28 * 4 + 1),  # too few columns to share
        ]
        for env, c, least in cases:
            monkeypatch.setenv("CONVCALC_BLAS", env)
            monkeypatch.setattr(conv, "SHARED_BYTES", least)
            x, w = rand(1, 9, 9, c), rand(3, 3, c, 4)
            got = K.conv2d(x, w, None, pad=((1, 1), (1, 1)), epilogue=[look])
            close(got, naive_conv(x, w, None, (1, 1), ((1, 1), (1, 1)), (1, 1), 1))
        assert len(seen) >= 3 and set(seen) == {2}
        seen.clear()
        monkeypatch.setenv("CONVCALC_THREADS", "1")  # one thread: nothing to share
        monkeypatch.setenv("CONVCALC_BLAS", "auto")
        monkeypatch.setattr(conv, "SHARED_BYTES", 0)
        K.conv2d(rand(1, 9, 9, 3), rand(3, 3, 3, 4), None, epilogue=[look])
        assert seen == [2]
    finally:
        put(before)


MAJOR_SPEC = """
name: short-filter-rows
input: 40x36x3
arch: |
  INPUT -> CONV(8, F=5, P=2) -> RELU -> CONV(4, F=1, S=2) -> CONV(6, F=3, P=2, dilation=2)
  -> CONV(2, F=5) -> CONV(5, F=3, P=1) -> CONV(3, F=7, P=3) -> CONV(4, F=3, S=2, P=1) -> GAP
"""


@pytest.mark.parametrize("batch", [1, pytest.param(3, marks=pytest.mark.slow)])  # 3: 3.4 s
def test_short_filter_rows_copy_their_columns_channel_major_as_the_estimate_says(
    batch: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Channel-major columns exactly where ``sizing.channel_major`` says (FW·C ≤ 16, stride 1,
    not a 1×1 unpadded conv), the layer's estimate naming the buffers the kernel takes, padded
    or not, dilated or not; the pass against the naive reference."""
    from convcalc.layers.vocabulary import LAYERS

    from .test_forward import fused_pass

    seen: list[tuple[int, ...]] = []
    pad_nhwc = conv.pad_nhwc

    def spy(x: Any, pads: Any, out: Any = None) -> Any:
        if out is not None and not out.flags.c_contiguous:  # a (C, n, Hp, Wp) buffer's view
            seen.append(x.shape)
        return pad_nhwc(x, pads, out=out)

    monkeypatch.setattr(conv, "pad_nhwc", spy)
    analysis, _ = fused_pass(monkeypatch, MAJOR_SPEC, batch, 4)
    rows = [r for r in analysis.rows if r.type == "CONV"]
    # 5×5 on 3 (15), 3×3 on 4 (12), 2 (6); not 1×1 s2 on 8, 5×5 on 6 (30), 7×7 on 5 (35),
    # 3×3 s2 on 3
    assert {shape[3] for shape in seen} == {3, 4, 2}
    for row in rows:
        w, h, c = row.input_shapes[0]
        x = rand(batch, h, w, c)
        arena = K.Arena()
        a = row.args
        layer = LAYERS["CONV"]
        pads = ((a["P"][1], a["P"][1]), (a["P"][0], a["P"][0]))
        K.conv2d(x, rand(a["F"][1], a["F"][0], c, a["K"]), rand(a["K"]), stride=a["S"],
                 pad=pads, dilation=a["dilation"], arena=arena)  # fmt: skip
        taken = {n: buf.nbytes for n, buf in arena.used.items()}
        expected = layer.scratch_bytes(a, row.input_shapes[0], row.output, batch, 4)
        assert {n for n, v in expected.items() if v} == set(taken), row.name
        assert taken.get("pad") == expected["pad"] or not expected["pad"], row.name
        # the estimate counts a column of ones for the bias, which small convs go without
        assert taken["cols"] <= expected["cols"] <= taken["cols"] * 1.1, row.name
