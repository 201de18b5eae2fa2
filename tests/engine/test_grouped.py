"""The grouped GEMM kernel's threaded paths and its prepared weights: the GEMMs shared between
the engine's threads (each below BLAS's threading size) or left to BLAS, against the naive
loops and torch; the forward pass's block-diagonal weights prepared outside the clock, and
counted by the memory estimate."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import convcalc
from convcalc.engine import kernels as K
from convcalc.engine import weights
from convcalc.engine.forward import forward
from convcalc.engine.kernels import grouped
from convcalc.engine.weights import grouped as groups_of
from convcalc.layers.vocabulary import LAYERS

from .test_kernels import close, naive_conv, rand, torch_conv2d

CASES = [
    # (N, H, W, C, K, F, stride, pad ((t, b), (l, r)), dilation, groups)
    (2, 9, 8, 16, 16, 3, (1, 1), ((1, 1), (1, 1)), (1, 1), 4),  # Cg 4: two groups a GEMM
    (3, 7, 7, 24, 12, 3, (2, 2), ((1, 0), (0, 1)), (1, 1), 3),  # stride 2, asymmetric pad
    (1, 11, 10, 32, 64, 5, (1, 1), ((4, 4), (4, 4)), (2, 2), 2),  # dilation 2, Cg 16
    (2, 6, 6, 64, 64, 3, (1, 1), ((1, 1), (1, 1)), (1, 1), 2),  # Cg 32: no planes
]


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("single", [0, 1 << 40])  # every GEMM left to BLAS / on our threads
@pytest.mark.parametrize("chunk", [None, 400])
def test_threaded_gemms_match_loops_and_torch(
    case: Any, single: int, chunk: int | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CONVCALC_THREADS", "2")
    monkeypatch.setattr(grouped, "THREADED_BYTES", 0)  # the threads take every chunk
    monkeypatch.setattr(grouped, "BLAS_SINGLE", single)
    N, H, W, C, Kk, F, s, pad, d, g = case
    x, w, b = rand(N, H, W, C), rand(F, F, C // g, Kk), rand(Kk)
    expected = naive_conv(x, w, b, s, pad, d, g)
    arena = K.Arena()
    for merge in [m for m in range(1, g + 1) if g % m == 0]:
        stacked = K.block_diagonal(w, g, merge)
        got = K.grouped_gemm2d(x, w, b, groups=g, stride=s, pad=pad, dilation=d,
                               chunk_bytes=chunk, arena=arena, stacked=stacked)  # fmt: skip
        close(got, expected)
    want = torch_conv2d(x, w, b, s, pad, d, g)
    got = K.conv2d(x, w, b, stride=s, pad=pad, dilation=d, groups=g, chunk_bytes=chunk)
    close(got, want)


def test_the_threaded_path_runs_an_epilogue_on_every_chunk(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONVCALC_THREADS", "2")
    monkeypatch.setattr(grouped, "THREADED_BYTES", 0)
    monkeypatch.setattr(grouped, "SHARED_BYTES", 0)  # the epilogues shared too
    x, w, b, res = rand(3, 9, 8, 16), rand(3, 3, 4, 16), rand(16), rand(3, 9, 8, 16)
    pad = ((1, 1), (1, 1))
    ops = [lambda y, r: np.add(y, res[r], out=y), lambda y, r: np.maximum(y, 0, out=y)]
    want = np.maximum(naive_conv(x, w, b, (1, 1), pad, (1, 1), 4) + res, 0)
    for chunk in (700, None):  # bands of rows of one image; all three images
        got = K.conv2d(x, w, b, pad=pad, groups=4, epilogue=ops, chunk_bytes=chunk,
                       arena=K.Arena())  # fmt: skip
        close(got, want)


ROWS_CASES = [
    # (N, H, W, C, K, (FH, FW), stride, pad ((t, b), (l, r)), dilation, groups, runs as)
    (2, 13, 11, 24, 24, (3, 3), (1, 1), ((1, 1), (1, 1)), (1, 1), 3, "_Rows"),  # Cg 8
    (3, 12, 9, 16, 32, (3, 3), (1, 1), ((1, 0), (0, 2)), (1, 1), 4, "_Rows"),  # asymmetric
    (1, 15, 13, 32, 16, (5, 3), (1, 2), ((2, 2), (1, 1)), (1, 1), 2, "_Rows"),  # 5×3, across 2
    (2, 14, 10, 16, 16, (3, 3), (1, 1), ((1, 1), (1, 1)), (1, 1), 8, "_Rows"),  # Cg 2, merged
    (2, 13, 11, 24, 24, (3, 3), (2, 2), ((1, 1), (1, 1)), (1, 1), 3, "_Patches"),  # stride 2
    (2, 13, 12, 24, 12, (3, 3), (1, 1), ((2, 2), (2, 2)), (2, 2), 3, "_Patches"),  # dilated
    (1, 12, 12, 8, 8, (1, 1), (1, 1), ((0, 0), (0, 0)), (1, 1), 2, "_Patches"),  # 1×1
]


@pytest.mark.parametrize("case", ROWS_CASES)
@pytest.mark.parametrize("threads", ["1", "2"])
@pytest.mark.parametrize("band", [0, 3])  # whole images; bands of 3 rows (of columns)
@pytest.mark.parametrize(
    "dtype", [pytest.param(np.float16, marks=pytest.mark.slow), np.float32, np.float64]
)
def test_whole_layer_paths_match_loops_and_torch(
    case: Any, threads: str, band: int, dtype: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Row patches (``_Rows``) and whole patches (``_Patches``) a super-group at a time over
    every chunk of the layer, on one thread or cut between two, with a bias and epilogues,
    from an input that is channels of a wider array in float16."""
    monkeypatch.setenv("CONVCALC_THREADS", threads)
    monkeypatch.setattr(grouped, "WHOLE_BYTES", 0)
    monkeypatch.setattr(grouped, "ROWS_FROM", 2)
    N, H, W, C, Kk, (FH, FW), s, pad, d, g, path = case
    x, w, b, res = (a.astype(dtype) for a in (rand(N, H, W, C + 8), rand(FH, FW, C // g, Kk),
                                              rand(Kk), rand(N, 64, 64, Kk)))  # fmt: skip
    x = x[..., 8:] if dtype == np.float16 else np.ascontiguousarray(x[..., 8:])
    used: list[str] = []
    whole = grouped._whole

    def spy(*args: Any) -> Any:
        job = whole(*args)
        used.append(type(job).__name__)
        return job

    monkeypatch.setattr(grouped, "_whole", spy)
    want = naive_conv(x, w, b, s, pad, d, g)
    crop = res[:, : want.shape[1], : want.shape[2]]
    # bytes of an output row of the chunk's columns and outputs (``grouped_gemm2d``)
    chunk = band * want.shape[2] * (FH * FW * C + Kk) * x.itemsize or None
    ops = [lambda y, r: np.add(y, crop[r], out=y), lambda y, r: np.maximum(y, 0, out=y)]
    for merge in [m for m in range(1, g + 1) if g % m == 0]:
        got = K.grouped_gemm2d(x, w, b, groups=g, merge=merge, stride=s, pad=pad, dilation=d,
                               chunk_bytes=chunk, arena=K.Arena(), epilogue=ops)  # fmt: skip
        assert got.dtype == dtype
        rtol = {np.float16: 2e-2, np.float32: 1e-4, np.float64: 1e-10}[dtype]
        close(got.astype(np.float64), np.maximum(want + crop, 0), rtol=rtol)
    assert set(used) == {path}
    if dtype == np.float16:
        return
    want = torch_conv2d(x, w, b, s, pad, d, g)
    got = K.conv2d(x, w, b, stride=s, pad=pad, dilation=d, groups=g, chunk_bytes=chunk)
    close(got, want)


def test_rows_takes_taller_bands_than_the_patches_and_skips_short_outputs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """In a band of one image, ``_Rows`` takes as many rows as its slot holds (it copies a
    third of ``_Patches``'); an output of fewer than ``ROWS_FROM`` rows goes to
    ``_Patches``, whose rows overhang less."""
    monkeypatch.setenv("CONVCALC_THREADS", "1")
    pieces: list[Any] = []
    whole = grouped._whole

    def spy(*args: Any) -> Any:
        job = whole(*args)
        pieces.append((type(job).__name__, job.pieces))
        return job

    monkeypatch.setattr(grouped, "_whole", spy)
    x, w = rand(1, 40, 20, 32), rand(3, 3, 8, 32)
    pad = ((1, 1), (1, 1))
    row = 20 * (9 * 32 + 32) * 4  # bytes of an output row of columns and outputs
    got = K.grouped_gemm2d(x, w, None, groups=4, pad=pad, chunk_bytes=8 * row)
    close(got, naive_conv(x, w, None, (1, 1), pad, (1, 1), 4))
    kind, bands = pieces[-1]
    assert kind == "_Rows" and bands[0][1].stop > 12  # 8 rows a band for the patches
    small = rand(2, 7, 7, 32)
    K.grouped_gemm2d(small, w, None, groups=4, pad=pad)
    assert pieces[-1][0] == "_Patches"


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
@pytest.mark.parametrize("view", ["contiguous", "channels of a wider array", "every other"])
def test_planes_and_patches_copied_as_runs_from_any_input(dtype: Any, view: str) -> None:
    """The split into planes and the patch copy move runs of a super-group's channels as one
    element (``arrays.runs``) where the input's channels are contiguous, value by value
    where they are not; the same result either way, in every float type."""
    wide = rand(2, 7, 9, 48).astype(dtype)
    x = {"contiguous": wide[..., :24].copy(), "channels of a wider array": wide[..., 8:32],
         "every other": wide[..., ::2]}[view]  # fmt: skip
    w, b = rand(3, 3, 8, 12).astype(dtype), rand(12).astype(dtype)
    for s in ((1, 1), (2, 2)):
        want = naive_conv(x.astype(np.float64), w.astype(np.float64), b.astype(np.float64), s,
                          ((1, 1), (1, 1)), (1, 1), 3)  # fmt: skip
        got = K.conv2d(x, w, b, stride=s, pad=((1, 1), (1, 1)), groups=3, arena=K.Arena())
        assert got.dtype == dtype
        close(got.astype(np.float64), want, rtol=2e-2 if dtype == np.float16 else 1e-4)


SPEC = """
name: grouped
input: 12x10x16
arch: |
  INPUT -> CONV(16, F=3, P=1, groups=4) -> BN -> RELU -> CONV(32, F=3, S=2, P=1, groups=8)
  -> CONV(32, F=3, P=1, groups=32) -> GAP
"""


def test_forward_prepares_the_block_diagonal_weights_and_counts_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    analysis = convcalc.analyze(convcalc.load_text(SPEC))
    rows = analysis.rows
    assert [groups_of(r) for r in rows] == [1, 4, 1, 1, 8, 1, 1]  # depthwise: its own kernel
    result = forward(analysis, batch=2)
    assert result.ok
    # the block-diagonal copies live in their step alone: its workspace, outside the arena
    assert result.estimate.weights == (analysis.totals.params + analysis.totals.buffers) * 4
    for i, shape, g in ((1, (3, 3, 4, 16), 4), (4, (3, 3, 2, 32), 8)):
        copy = K.block_diagonal(np.zeros(shape, np.float32), g, K.grouped_merge(g, shape[2]))
        row = rows[i]
        scratch = LAYERS["CONV"].scratch_bytes(row.args, row.input_shapes[0], row.output, 2, 4)
        assert scratch["temp"] == copy.nbytes
    # the kernel building its block-diagonal weights itself: the same output
    monkeypatch.setattr(weights, "grouped", lambda row: 1)
    unprepared = forward(analysis, batch=2)
    close(result.output, unprepared.output)
