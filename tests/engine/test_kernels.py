"""The NumPy kernels against naive loops written from the notes' formula, and against torch.

V[x, y, d] = sum(X[window] * W_d) + b_d, one output value at a time: six nested loops over
image, output row, output column, filter, filter row and filter column (the depth sum is the
innermost dot product). Small random cases: non-square kernels, zero padding (asymmetric
too), strides that leave a remainder, groups, dilation, ceil pools, TCONV with out_pad.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
import pytest

from convcalc.engine import kernels as K

Array = Any
RNG = np.random.default_rng(1234)


def rand(*shape: int) -> Array:
    return RNG.standard_normal(shape).astype(np.float32)


def close(a: Array, b: Array, rtol: float = 1e-4) -> None:
    """Equal to ``rtol`` relative to the larger of the value and the array's scale."""
    assert a.shape == b.shape
    scale = max(float(np.abs(b).max()), 1e-6)
    np.testing.assert_allclose(a, b, rtol=rtol, atol=rtol * scale)


# -- naive oracles ------------------------------------------------------------------------


def naive_conv(x: Array, w: Array, b: Array | None, s: Any, pad: Any, d: Any, groups: int) -> Array:
    N, H, W, C = x.shape
    FH, FW, Cg, Kk = w.shape
    Kg = Kk // groups
    (t, bt), (lf, rt) = pad
    xp = np.zeros((N, H + t + bt, W + lf + rt, C), np.float64)
    xp[:, t : t + H, lf : lf + W] = x
    Ho = (H + t + bt - d[0] * (FH - 1) - 1) // s[0] + 1
    Wo = (W + lf + rt - d[1] * (FW - 1) - 1) // s[1] + 1
    out = np.zeros((N, Ho, Wo, Kk))
    for n in range(N):
        for y in range(Ho):
            for x_ in range(Wo):
                for k in range(Kk):
                    g = k // Kg
                    acc = 0.0 if b is None else float(b[k])
                    for fy in range(FH):
                        for fx in range(FW):
                            px = xp[n, y * s[0] + fy * d[0], x_ * s[1] + fx * d[1]]
                            acc += float(px[g * Cg : (g + 1) * Cg] @ w[fy, fx, :, k])
                    out[n, y, x_, k] = acc
    return out


def naive_local(x: Array, w: Array, b: Array | None, s: Any, pad: Any, groups: int) -> Array:
    N, H, W, C = x.shape
    Ho, Wo, FH, FW, Cg, Kk = w.shape
    Kg = Kk // groups
    (t, bt), (lf, rt) = pad
    xp = np.zeros((N, H + t + bt, W + lf + rt, C), np.float64)
    xp[:, t : t + H, lf : lf + W] = x
    out = np.zeros((N, Ho, Wo, Kk))
    for n in range(N):
        for y in range(Ho):
            for x_ in range(Wo):
                for k in range(Kk):
                    g = k // Kg
                    acc = 0.0 if b is None else float(b[y, x_, k])
                    for fy in range(FH):
                        for fx in range(FW):
                            px = xp[n, y * s[0] + fy, x_ * s[1] + fx, g * Cg : (g + 1) * Cg]
                            acc += float(px @ w[y, x_, fy, fx, :, k])
                    out[n, y, x_, k] = acc
    return out


def naive_tconv(
    x: Array, w: Array, b: Array | None, s: Any, p: Any, op: Any, d: Any, groups: int
) -> Array:
    """Every input value scatters x·W into its window: the transpose of naive_conv."""
    N, H, W, C = x.shape
    _, FH, FW, Kg = w.shape
    Cg = C // groups
    Hf = (H - 1) * s[0] + d[0] * (FH - 1) + 1 + op[0]
    Wf = (W - 1) * s[1] + d[1] * (FW - 1) + 1 + op[1]
    full = np.zeros((N, Hf, Wf, Kg * groups))
    for n in range(N):
        for y in range(H):
            for x_ in range(W):
                for c in range(C):
                    g = c // Cg
                    for fy in range(FH):
                        for fx in range(FW):
                            oy, ox = y * s[0] + fy * d[0], x_ * s[1] + fx * d[1]
                            full[n, oy, ox, g * Kg : (g + 1) * Kg] += x[n, y, x_, c] * w[c, fy, fx]
    out = full[:, p[0] : Hf - p[0], p[1] : Wf - p[1]]
    return out + (0 if b is None else b)


def naive_pool(x: Array, f: Any, s: Any, pad: Any, kind: str, ceil: bool) -> Array:
    N, H, W, C = x.shape
    (t, bt), (lf, rt) = pad

    def count(size: int, f_: int, s_: int, before: int, after: int) -> int:
        span = size + before + after - f_
        out = (-(-span // s_) if ceil else span // s_) + 1
        if ceil and (out - 1) * s_ >= size + before:
            out -= 1
        return out

    Ho, Wo = count(H, f[0], s[0], t, bt), count(W, f[1], s[1], lf, rt)
    out = np.zeros((N, Ho, Wo, C))
    for n in range(N):
        for y in range(Ho):
            for x_ in range(Wo):
                for c in range(C):
                    vals, cells = [], 0
                    for fy in range(f[0]):
                        for fx in range(f[1]):
                            iy, ix = y * s[0] + fy - t, x_ * s[1] + fx - lf
                            if iy < H + bt and ix < W + rt:
                                cells += 1  # inside the padded input
                            if 0 <= iy < H and 0 <= ix < W:
                                vals.append(float(x[n, iy, ix, c]))
                            elif kind != "max":
                                vals.append(0.0)
                    if kind == "max":
                        out[n, y, x_, c] = max(vals)
                    elif kind == "avg":
                        out[n, y, x_, c] = sum(vals) / cells
                    else:
                        out[n, y, x_, c] = math.sqrt(sum(v * v for v in vals))
    return out


# -- convolutions -------------------------------------------------------------------------

CONV_CASES = [
    # (N, H, W, C, K, FH, FW, stride, pad ((t, b), (l, r)), dilation, groups)
    (2, 7, 6, 3, 4, 3, 3, (1, 1), ((1, 1), (1, 1)), (1, 1), 1),
    (2, 9, 8, 3, 5, 3, 2, (2, 3), ((0, 0), (0, 0)), (1, 1), 1),  # non-square, remainders
    (1, 11, 11, 2, 3, 5, 5, (4, 4), ((0, 0), (0, 0)), (1, 1), 1),  # stride 4, remainder 2
    (2, 8, 7, 4, 6, 3, 3, (1, 1), ((1, 1), (2, 2)), (2, 2), 2),  # dilation and groups
    (1, 6, 9, 4, 4, 3, 3, (2, 2), ((0, 1), (1, 1)), (1, 1), 4),  # asymmetric same, depthwise
    (2, 5, 5, 4, 8, 3, 3, (1, 1), ((1, 1), (1, 1)), (1, 1), 4),  # depthwise multiplier 2
    (3, 4, 5, 6, 4, 1, 1, (1, 1), ((0, 0), (0, 0)), (1, 1), 1),  # 1×1: one GEMM
    (2, 6, 6, 4, 4, 1, 1, (2, 2), ((0, 0), (0, 0)), (1, 1), 1),  # 1×1 stride 2
    (2, 7, 5, 3, 2, 2, 4, (1, 2), ((2, 1), (0, 3)), (3, 1), 1),
]


@pytest.mark.parametrize("case", CONV_CASES)
# None: the pass's way (``conv._small`` for these sizes); 300 bytes: a band of rows a chunk
@pytest.mark.parametrize("chunk", [None, K.CHUNK_BYTES, 300])
def test_conv2d_matches_loops(case: Any, chunk: int | None) -> None:
    N, H, W, C, Kk, FH, FW, s, pad, d, g = case
    x, w, b = rand(N, H, W, C), rand(FH, FW, C // g, Kk), rand(Kk)
    got = K.conv2d(x, w, b, stride=s, pad=pad, dilation=d, groups=g, chunk_bytes=chunk)
    close(got, naive_conv(x, w, b, s, pad, d, g))


def test_conv2d_on_a_view_and_with_an_epilogue() -> None:
    x = rand(2, 6, 8, 3)[:, :, 1:7]  # not contiguous
    w, b, res = rand(1, 1, 3, 4), rand(4), rand(2, 6, 6, 4)
    ops = [lambda y, r: np.add(y, res[r], out=y), lambda y, r: np.maximum(y, 0, out=y)]
    got = K.conv2d(x, w, b, epilogue=ops, chunk_bytes=100, arena=K.Arena())
    close(got, np.maximum(naive_conv(x, w, b, (1, 1), ((0, 0), (0, 0)), (1, 1), 1) + res, 0))


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_a_small_conv_copies_its_columns_once_and_matches_loops(
    dtype: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A conv whose columns fit in ``SMALL_COLS_BYTES`` runs through ``conv._small`` (one
    copy, one GEMM, then bias and epilogues): on a strided input, padded or not, strided and
    dilated, with epilogues, into the channels of a wider array (a CAT's output), in each
    dtype; one a byte bigger takes the chunked path and gives the same values."""
    from convcalc.engine.kernels import conv as conv_module

    calls: list[int] = []
    real = conv_module._small

    def spy(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(conv_module, "_small", spy)
    rtol = 1e-2 if dtype == np.float16 else 1e-4
    x = rand(2, 7, 9, 6)[:, :, 1:8].astype(dtype)  # not contiguous
    w, b, res = rand(3, 3, 6, 5).astype(dtype), rand(5).astype(dtype), rand(2, 7, 7, 5)
    f64 = np.float64
    for s, pad, d in [((1, 1), ((1, 1), (1, 1)), (1, 1)), ((2, 1), ((0, 0), (0, 0)), (1, 2))]:
        plain = naive_conv(x.astype(f64), w.astype(f64), b.astype(f64), s, pad, d, 1)
        ho, wo = plain.shape[1:3]
        r = res[:, :ho, :wo]
        expected = np.maximum(plain + r, 0)
        ops = [lambda y, reg, r=r: np.add(y, r[reg].astype(y.dtype), out=y), K.RELU]
        calls.clear()
        got = K.conv2d(x, w, b, stride=s, pad=pad, dilation=d, epilogue=ops, arena=K.Arena())
        assert calls and got.dtype == dtype
        close(got, expected, rtol)
        size = 2 * ho * wo * 9 * x.itemsize  # the output: channels 4..8 of 9
        arena = K.Arena()
        arena.place({}, size, {1: (0, size, 4)})
        arena.begin(1)
        wide = arena.outputs.view(dtype).reshape(2, ho, wo, 9)
        wide[...] = 7
        calls.clear()
        part = K.conv2d(x, w, b, stride=s, pad=pad, dilation=d, epilogue=ops, arena=arena)
        assert calls and np.shares_memory(part, wide)
        close(wide[..., 4:], expected, rtol)
        assert (wide[..., :4] == 7).all()
    monkeypatch.setattr(conv_module, "SMALL_COLS_BYTES", 2 * 7 * 7 * 54 * x.itemsize - 1)
    calls.clear()
    pad = ((1, 1), (1, 1))
    got = K.conv2d(x, w, b, pad=pad)
    assert not calls
    close(got, naive_conv(x.astype(f64), w.astype(f64), b.astype(f64), pad=pad, s=(1, 1),
                          d=(1, 1), groups=1), rtol)  # fmt: skip


PATCH_ROW_CASES = [
    # (input, pad, stride, dilation, whether a patch's rows are copied as runs)
    ("dense", ((0, 0), (0, 0)), (2, 2), (1, 1), True),
    ("channels of a wider array", ((0, 0), (0, 0)), (2, 2), (1, 1), False),  # rows not one run
    ("channels of a wider array", ((1, 1), (1, 1)), (2, 2), (1, 1), True),  # padded: a copy
    ("dense", ((1, 0), (0, 2)), (1, 2), (1, 2), False),  # dilated across: gaps in the rows
    ("dense", ((1, 1), (1, 1)), (2, 1), (2, 1), True),  # dilated down: rows still runs
    ("float64", ((1, 1), (1, 1)), (2, 2), (1, 1), True),
]


@pytest.mark.parametrize("case", PATCH_ROW_CASES)
@pytest.mark.parametrize("chunk", [None, 300])  # 300 bytes: a band of rows a chunk
def test_conv2d_copies_each_patch_row_as_one_element_where_it_is_one_run(
    case: Any, chunk: int | None
) -> None:
    """im2col copies a patch's FW·C values of a row as one element where they are one run of
    the (padded) input, and value by value where they are not: the same results either way."""
    from convcalc.engine.kernels import conv as conv_module

    kind, pad, s, d, as_runs = case
    wide = rand(2, 9, 10, 9)
    x = wide[..., 2:7] if kind.startswith("channels") else np.ascontiguousarray(wide[..., :5])
    if kind == "float64":
        x = x.astype(np.float64)
    w, b = rand(3, 3, 5, 4).astype(x.dtype), rand(4).astype(x.dtype)
    (t, bt), (lf, rt) = pad
    xp = K.pad_nhwc(x, pad) if t or bt or lf or rt else x
    Ho = (9 + t + bt - d[0] * 2 - 1) // s[0] + 1
    Wo = (10 + lf + rt - d[1] * 2 - 1) // s[1] + 1
    view = conv_module._patch_rows(xp, (3, 3), s, d, (Ho, Wo))
    assert (view.dtype.kind == "V") == as_runs
    assert view.shape == ((2, Ho, Wo, 3, 1) if as_runs else (2, Ho, Wo, 3, 3, 5))
    got = K.conv2d(x, w, b, stride=s, pad=pad, dilation=d, chunk_bytes=chunk, arena=K.Arena())
    assert got.dtype == x.dtype
    close(got, naive_conv(x, w, b, s, pad, d, 1))


@pytest.mark.parametrize("m", [2, 4])
@pytest.mark.parametrize(
    "case",
    [
        (2, 9, 7, 5, 6, ((1, 1), (1, 1))),  # sizes that are no multiple of the tile
        (1, 8, 8, 3, 4, ((0, 0), (0, 0))),
        (3, 6, 11, 4, 2, ((0, 1), (2, 1))),  # asymmetric padding
    ],
)
@pytest.mark.parametrize("chunk", [None, 1])  # 1 byte: one row of tiles a chunk
@pytest.mark.parametrize("after", ["", "relu", "relu add", "add relu", "no bias, relu"])
def test_winograd_matches_loops(m: int, case: Any, chunk: int | None, after: str) -> None:
    N, H, W, C, Kk, pad = case
    x, w, b = rand(N, H, W, C), rand(3, 3, C, Kk), rand(Kk)
    b = None if "no bias" in after else b
    U = K.winograd_weights(w, m)
    assert U.shape == (m + 2, m + 2, C, Kk)
    want = naive_conv(x, w, b, (1, 1), pad, (1, 1), 1)
    res = rand(*want.shape)
    ops: list[K.Epilogue] = []
    for op in after.replace("no bias,", "").split():  # K.RELU is applied as tiles are copied
        ops.append(K.RELU if op == "relu" else lambda y, r: np.add(y, res[r], out=y))
        want = np.maximum(want, 0) if op == "relu" else want + res
    got = K.conv3x3_winograd(x, U, b, pad=pad, epilogue=ops, chunk_bytes=chunk, arena=K.Arena())
    close(got, want)
    if m == 4:
        close(K.conv2d(x, w[:0], b, pad=pad, winograd=U, epilogue=ops), got)
        with pytest.raises(ValueError):
            K.conv2d(x, w, b, stride=(2, 2), winograd=U)


def test_winograd_pays_for_big_inputs_only() -> None:
    assert K.winograd_pays(1, 224, 224, 64)
    assert K.winograd_pays(4, 28, 28, 256)  # 196 tiles: 0.66× the im2col time here
    assert not K.winograd_pays(1, 28, 28, 512)  # 49 tiles: 1.76× the im2col time here
    assert not K.winograd_pays(1, 14, 14, 256)  # 16 tiles: too few for good GEMMs
    assert not K.winograd_pays(8, 5, 5, 256)  # 8×8 tiles for 5×5: too much overhang
    assert not K.winograd_pays(1, 224, 224, 3)  # three channels: im2col is better
    assert not K.winograd_pays(8, 32, 32, 32)  # 512 tiles, but 32 channels: im2col, 0.72–0.87×
    assert K.winograd_pays(8, 32, 32, 64)  # 64 channels: Winograd, im2col 1.07–1.12×


def test_winograd_tile_picks_the_measured_fastest() -> None:
    assert K.winograd_tile(1, 224, 224, 64) == 4
    assert K.winograd_tile(1, 28, 28, 512) == 2  # 196 2×2 tiles: 30 ms, im2col 35, 4×4 48
    assert K.winograd_tile(8, 14, 14, 512) == 2  # 392 tiles: 53 ms, im2col 77
    assert K.winograd_tile(1, 28, 28, 256) == 0  # all three within noise: im2col
    assert K.winograd_tile(1, 14, 14, 512) == 0  # 49 tiles: im2col 10 ms, 2×2 17
    assert K.winograd_tile(8, 7, 7, 512) == 0  # 128 tiles: im2col 19 ms, 2×2 27


@pytest.mark.parametrize(
    "case",
    [
        (2, 5, 6, 3, 4, 3, 2, (1, 1), ((0, 0), (0, 0)), 1),
        (1, 7, 7, 4, 2, 3, 3, (2, 2), ((1, 1), (1, 1)), 2),
        (2, 6, 5, 2, 3, 2, 3, (2, 1), ((0, 1), (1, 0)), 1),
    ],
)
def test_local2d_matches_loops(case: Any) -> None:
    N, H, W, C, Kk, FH, FW, s, pad, g = case
    Ho = (H + sum(pad[0]) - FH) // s[0] + 1
    Wo = (W + sum(pad[1]) - FW) // s[1] + 1
    x, w, b = rand(N, H, W, C), rand(Ho, Wo, FH, FW, C // g, Kk), rand(Ho, Wo, Kk)
    got = K.local2d(x, w, b, stride=s, pad=pad, groups=g, chunk_bytes=200)
    close(got, naive_local(x, w, b, s, pad, g))


@pytest.mark.parametrize(
    "case",
    [
        # (N, H, W, C, K, FH, FW, stride, pad, out_pad, dilation, groups)
        (2, 3, 4, 3, 2, 3, 3, (2, 2), (1, 1), (1, 0), (1, 1), 1),
        (1, 4, 3, 4, 6, 2, 3, (3, 2), (0, 1), (2, 1), (1, 1), 2),
        (2, 3, 3, 2, 2, 3, 2, (1, 1), (0, 0), (0, 1), (2, 2), 1),
        (1, 5, 5, 2, 4, 2, 2, (2, 2), (0, 0), (0, 0), (1, 1), 1),
    ],
)
def test_conv_transpose2d_matches_loops(case: Any) -> None:
    N, H, W, C, Kk, FH, FW, s, p, op, d, g = case
    x, w, b = rand(N, H, W, C), rand(C, FH, FW, Kk // g), rand(Kk)
    got = K.conv_transpose2d(x, w, b, stride=s, pad=p, out_pad=op, dilation=d, groups=g)
    close(got, naive_tconv(x, w, b, s, p, op, d, g))


# -- pools and the rest -------------------------------------------------------------------

POOL_CASES = [
    ((2, 2), (2, 2), ((0, 0), (0, 0)), False),
    ((3, 3), (2, 2), ((1, 1), (1, 1)), False),
    ((3, 3), (2, 2), ((0, 0), (0, 0)), True),  # ceil: a last window hanging over
    ((3, 2), (2, 3), ((1, 0), (0, 1)), True),
    ((3, 3), (2, 2), ((1, 1), (1, 1)), True),
    ((2, 3), (1, 2), ((1, 1), (0, 1)), False),
    ((9, 3), (9, 3), ((0, 0), (1, 1)), True),  # ceil: a window taller than the input (7)
]


@pytest.mark.parametrize("kind", ["max", "avg", "l2"])
@pytest.mark.parametrize("case", POOL_CASES)
def test_pool2d_matches_loops(kind: str, case: Any) -> None:
    f, s, pad, ceil = case
    x = rand(2, 7, 8, 3)
    got = K.pool2d(x, f, stride=s, pad=pad, kind=kind, ceil=ceil, arena=K.Arena())
    close(got, naive_pool(x, f, s, pad, kind, ceil))


def test_ceil_pools_on_inputs_smaller_than_the_window_equal_torch() -> None:
    """PyTorch's ceil_mode keeps a window that starts inside the input and hangs over it by
    less than the stride, even when the input is smaller than the window."""
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    for (h, w), f, s, p in [((2, 2), 3, 3, 0), ((2, 3), 3, 2, 1), ((1, 2), 4, 4, 2),
                            ((3, 1), 5, 3, 1), ((2, 2), 4, 3, 0)]:  # fmt: skip
        x = rand(2, h, w, 3)
        pad = ((p, p), (p, p))
        for kind, pool in (("max", F.max_pool2d), ("avg", F.avg_pool2d)):
            want = nhwc(pool(nchw(x), f, s, p, ceil_mode=True))
            got = K.pool2d(x, (f, f), stride=(s, s), pad=pad, kind=kind, ceil=True)
            close(got, want, 1e-5)
            close(got, naive_pool(x, (f, f), (s, s), pad, kind, True), 1e-5)


def naive_adaptive_pool(x: Array, out: Any, kind: str) -> Array:
    """One output value at a time, over its bin: rows floor(i·H/OH) .. ceil((i + 1)·H/OH) − 1,
    columns alike (integer arithmetic written out: i·H // OH and −(−(i + 1)·H // OH))."""
    N, H, W, C = x.shape
    OH, OW = out
    y = np.zeros((N, OH, OW, C))
    for n, i, j, c in np.ndindex(N, OH, OW, C):
        r0, r1 = (i * H) // OH, -(-((i + 1) * H) // OH)
        c0, c1 = (j * W) // OW, -(-((j + 1) * W) // OW)
        vals = [float(x[n, r, s, c]) for r in range(r0, r1) for s in range(c0, c1)]
        y[n, i, j, c] = max(vals) if kind == "max" else sum(vals) / len(vals)
    return y


#: (H, W) of the input, (OH, OW) of the output: even bins, uneven ones, larger than the input
ADAPTIVE_CASES = [((6, 6), (3, 3)), ((13, 13), (6, 6)), ((7, 5), (3, 2)), ((2, 3), (5, 4)),
                  ((5, 7), (1, 1)), ((4, 4), (4, 4)), ((9, 3), (4, 6))]  # fmt: skip


@pytest.mark.parametrize("kind", ["avg", "max"])
@pytest.mark.parametrize("case", ADAPTIVE_CASES)
def test_adaptive_pool2d_matches_loops(kind: str, case: Any) -> None:
    (h, w), out = case
    x = rand(2, h, w, 3)
    got = K.adaptive_pool2d(x, out, kind, arena=K.Arena())
    close(got, naive_adaptive_pool(x, out, kind), 1e-6)


def test_global_avg_pool_and_fc() -> None:
    x = rand(3, 4, 5, 6)
    got = K.global_avg_pool(x)
    assert got.shape == (3, 1, 1, 6)
    close(got[:, 0, 0], x.astype(np.float64).mean(axis=(1, 2)))
    w, b = rand(7, 4 * 5 * 6), rand(7)
    out = K.fully_connected(x, w, b)
    expected = np.array(
        [[float(x[n].reshape(-1) @ w[k]) + b[k] for k in range(7)] for n in range(3)]
    )
    assert out.shape == (3, 1, 1, 7)
    close(out[:, 0, 0], expected)
    big = rand(40, 2, 2, 3)  # the other GEMM orientation
    close(
        K.fully_connected(big, rand(5, 12) * 0 + 1)[:, 0, 0],
        big.reshape(40, -1).sum(1)[:, None].repeat(5, 1),
    )


def test_activations_against_scalar_formulas() -> None:
    x = np.concatenate([rand(200) * 4, np.array([-80, -20, 0, 20, 80], np.float32)])
    cases = {
        "relu": (K.relu(x), lambda v: max(v, 0.0)),
        "lrelu": (K.leaky_relu(x, 0.1), lambda v: v if v > 0 else 0.1 * v),
        "elu": (K.elu(x, 1.5), lambda v: v if v > 0 else 1.5 * math.expm1(v)),
        "gelu": (K.gelu(x), lambda v: 0.5 * v * (1 + math.erf(v / math.sqrt(2)))),
        "sigmoid": (K.sigmoid(x), lambda v: 1 / (1 + math.exp(-v)) if v > -700 else 0.0),
        "tanh": (K.tanh(x), math.tanh),
        "relu6": (K.relu6(x), lambda v: min(max(v, 0.0), 6.0)),
        "hardswish": (K.hardswish(x), lambda v: v * min(max(v + 3, 0.0), 6.0) / 6),
        "hardsigmoid": (K.hardsigmoid(x), lambda v: min(max(v + 3, 0.0), 6.0) / 6),
        "silu": (K.silu(x), lambda v: v / (1 + math.exp(-v)) if v > -700 else 0.0),
        "silu_of_negated": (
            K.silu_of_negated(-x), lambda v: v / (1 + math.exp(-v)) if v > -700 else 0.0
        ),
    }
    for name, (got, f) in cases.items():
        assert got.dtype == np.float32, name
        np.testing.assert_allclose(
            got, [f(float(v)) for v in x], rtol=1e-5, atol=1e-6, err_msg=name
        )
    y = x.copy()
    assert K.relu(y, out=y) is y and (y >= 0).all()  # in place
    for f in (K.relu6, K.hardswish, K.hardsigmoid, K.silu):  # in place: the same values
        y = x.copy()
        assert f(y, out=y) is y
        np.testing.assert_array_equal(y, f(x), err_msg=f.__name__)
    big = rand(3, 40, 50, 64) * 4  # blocked and spread, as in a pass: the same bits as silu
    np.testing.assert_array_equal(K.silu_of_negated(-big), K.silu(big))


def test_sigmoid_and_silu_stay_within_a_few_ulp_where_they_are_tiny() -> None:
    """Relative accuracy over the whole range, the far negative side included, where the
    values are tiny and 1 + tanh(x/2) would cancel (off by 0.4% at −10); past −88, where
    float32's e^−x overflows, 0 (as PyTorch's x·sigmoid(x)) and no warning."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        far = np.array([-100, -1e30, -np.inf], np.float32)
        assert (K.sigmoid(far) == 0).all() and (K.silu(far[:2]) == 0).all()
    x = np.linspace(-88, 88, 20001, dtype=np.float32)
    exact = 1 / (1 + np.exp(-x.astype(np.float64)))
    for name, got, want in (("sigmoid", K.sigmoid(x), exact), ("silu", K.silu(x), x * exact)):
        ulp = np.spacing(np.abs(want).astype(np.float32)).astype(np.float64)
        tiny = np.abs(want) < np.finfo(np.float32).tiny  # flushed past float32's range
        err = np.where(tiny, 0, np.abs(got - want) / ulp)
        assert err.max() <= 4, (name, float(x[err.argmax()]), float(err.max()))


def test_softmax_over_depth() -> None:
    x = rand(2, 3, 4, 5) * 30
    got = K.softmax(x)
    e = np.exp(x.astype(np.float64) - x.max(axis=-1, keepdims=True))
    close(got, e / e.sum(axis=-1, keepdims=True), 1e-5)
    np.testing.assert_allclose(got.sum(axis=-1), 1, rtol=1e-5)


def test_batchnorm_inference() -> None:
    x = rand(2, 3, 4, 5)
    g, beta, mean, var = rand(5), rand(5), rand(5), np.abs(rand(5)) + 0.1
    got = K.batchnorm(x, g, beta, mean, var, 1e-3, None)
    close(got, (x - mean) / np.sqrt(var + 1e-3) * g + beta, 1e-5)


def naive_layernorm(x: Array, gamma: Array, beta: Array, eps: float) -> Array:
    """Each position's channels, one position at a time: (v − mean)/sqrt(var + eps)·γ + β
    with the biased variance (in float64)."""
    out = np.zeros_like(x, dtype=np.float64)
    for n, y, x_ in np.ndindex(*x.shape[:3]):
        v = [float(c) for c in x[n, y, x_]]
        mean = sum(v) / len(v)
        var = sum((c - mean) ** 2 for c in v) / len(v)
        for d, c in enumerate(v):
            out[n, y, x_, d] = (c - mean) / math.sqrt(var + eps) * gamma[d] + beta[d]
    return out


def naive_linear(x: Array, w: Array, b: Array | None) -> Array:
    """out[n, y, x, k] = Σ_c x[n, y, x, c]·w[k, c] + b[k], one output value at a time."""
    N, H, W, C = x.shape
    Kk = w.shape[0]
    out = np.zeros((N, H, W, Kk))
    for n, y, x_, k in np.ndindex(N, H, W, Kk):
        acc = 0.0 if b is None else float(b[k])
        for c in range(C):
            acc += float(x[n, y, x_, c]) * float(w[k, c])
        out[n, y, x_, k] = acc
    return out


def test_layernorm_matches_loops() -> None:
    x, g, beta = rand(2, 3, 4, 6) * 3 + 1, rand(6), rand(6)
    close(K.layernorm(x, g, beta, 1e-6), naive_layernorm(x, g, beta, 1e-6), 1e-5)
    y = x.copy()
    assert K.layernorm(y, g, beta, 1e-3, out=y) is y  # in place
    close(y, naive_layernorm(x, g, beta, 1e-3), 1e-5)


def test_scale_channels_matches_the_formula() -> None:
    x, g = rand(2, 3, 4, 5), rand(5)
    expected = np.array([[[[x[n, i, j, d] * g[d] for d in range(5)] for j in range(4)]
                          for i in range(3)] for n in range(2)])  # fmt: skip
    close(K.scale_channels(x, g), expected, 1e-6)
    y = x.copy()
    assert K.scale_channels(y, g, out=y) is y


@pytest.mark.parametrize("chunk", [K.CACHE_BYTES, 100])  # 100 bytes: a band of rows a chunk
def test_linear_matches_loops(chunk: int) -> None:
    x, w, b = rand(2, 5, 3, 4), rand(7, 4), rand(7)
    close(K.linear(x, w, b, chunk_bytes=chunk, arena=K.Arena()), naive_linear(x, w, b))
    close(K.linear(x, w, None, chunk_bytes=chunk), naive_linear(x, w, None))
    res = rand(2, 5, 3, 7)
    ops = [lambda y, r: np.add(y, res[r], out=y), lambda y, r: np.maximum(y, 0, out=y)]
    got = K.linear(x, w, b, epilogue=ops, chunk_bytes=chunk)
    close(got, np.maximum(naive_linear(x, w, b) + res, 0))
    with pytest.raises(ValueError, match="take 4 channels"):
        K.linear(rand(1, 2, 2, 3), w)


def naive_lrn(x: Any, size: int, alpha: float, beta: float, k: float) -> Any:
    """PyTorch's LocalResponseNorm, one value at a time: a_c / (k + alpha/size · Σ a²)^beta
    over channels c − size//2 … c + (size − 1)//2 (in float64)."""
    expected = np.zeros_like(x, dtype=np.float64)
    C = x.shape[3]
    for n, y, x_, c in np.ndindex(*x.shape):
        lo, hi = max(0, c - size // 2), min(C, c + (size - 1) // 2 + 1)
        sq = float((x[n, y, x_, lo:hi].astype(np.float64) ** 2).sum())
        expected[n, y, x_, c] = x[n, y, x_, c] / (k + alpha / size * sq) ** beta
    return expected


def test_lrn_matches_loops() -> None:
    x = rand(2, 3, 3, 7)
    size, alpha, beta, k = 5, 1e-2, 0.75, 2.0
    close(K.lrn(x, size, alpha, beta, k), naive_lrn(x, size, alpha, beta, k), 1e-5)


def naive_multiply(arrays: list[Array]) -> Array:
    """One value at a time; a (N, 1, 1, C) array gives its value at every position."""
    N, C = arrays[0].shape[0], arrays[0].shape[3]
    H, W = max(a.shape[1] for a in arrays), max(a.shape[2] for a in arrays)
    out = np.ones((N, H, W, C))
    for n, y, x_, c in np.ndindex(N, H, W, C):
        for a in arrays:
            out[n, y, x_, c] *= float(a[n, y % a.shape[1], x_ % a.shape[2], c])
    return out


MUL_CASES = [[(2, 3, 4, 5), (2, 1, 1, 5)], [(2, 1, 1, 5), (2, 3, 4, 5)],
             [(1, 2, 3, 4), (1, 2, 3, 4), (1, 1, 1, 4)], [(2, 1, 1, 3), (2, 1, 1, 3)]]  # fmt: skip


@pytest.mark.parametrize("shapes", MUL_CASES)
def test_multiply_broadcasts_like_loops(shapes: list[tuple[int, ...]]) -> None:
    arrays = [rand(*s) for s in shapes]
    close(K.multiply(arrays), naive_multiply(arrays), 1e-6)
    out = np.empty(naive_multiply(arrays).shape, np.float32)
    assert K.multiply(arrays, out=out) is out


def naive_shuffle(x: Array, groups: int) -> Array:
    """ShuffleNet's shuffle, one channel at a time: the C channels are `groups` groups of
    C/groups; output channel i·groups + g is channel i of group g."""
    C = x.shape[3]
    per = C // groups
    out = np.zeros(x.shape)
    for g in range(groups):
        for i in range(per):
            out[..., i * groups + g] = x[..., g * per + i]
    return out


SHUFFLE_CASES = [(6, 2), (6, 3), (12, 4), (5, 5), (4, 1)]  # (channels, groups)


@pytest.mark.parametrize(("c", "groups"), SHUFFLE_CASES)
def test_channel_shuffle_and_slice_match_loops(c: int, groups: int) -> None:
    x = rand(2, 3, 4, c)
    got = K.channel_shuffle(x, groups, arena=K.Arena())
    assert got.flags.c_contiguous and not np.shares_memory(got, x)
    close(got, naive_shuffle(x, groups), 1e-7)
    view = K.channel_slice(x, 1, c - 1)
    assert np.shares_memory(view, x)  # a view, as PyTorch's x[:, 1:c - 1]
    expected = np.stack([x[..., k] for k in range(1, c - 1)], axis=3) if c > 2 else x[..., 1:1]
    close(view, expected, 1e-7)
    close(K.channel_shuffle(view, 1), expected, 1e-7)  # a strided input is read right


def test_upsample_nearest() -> None:
    x = rand(2, 3, 4, 5)
    got = K.upsample_nearest(x, 3)
    assert got.shape == (2, 9, 12, 5)
    for y, x_ in np.ndindex(9, 12):
        assert (got[:, y, x_] == x[:, y // 3, x_ // 3]).all()


def test_window_count_follows_pytorch_ceil_mode() -> None:
    assert K.window_count(224, 11, 4, 0, 0, False) == 54
    assert K.window_count(112, 3, 2, 0, 0, True) == 56  # 55.5 rounds up
    assert K.window_count(5, 2, 2, 1, 1, True) == 3  # a 4th window would start in the padding
    assert K.window_count(2, 3, 3, 0, 0, True) == 1  # hangs over a 2-pixel input by 1 < S
    with pytest.raises(ValueError):
        K.window_count(2, 5, 1, 0, 0, False)
    with pytest.raises(ValueError):
        K.window_count(2, 5, 3, 0, 0, True)  # would hang over by 3: not even one window


def test_arena_reuses_buffers() -> None:
    arena = K.Arena()
    a = arena.take((100, 100), np.float32)
    arena.give(a[:, 1:])  # a view finds its buffer
    b = arena.take((90, 100), np.float32)
    assert np.shares_memory(a, b)
    c = arena.take((10, 10), np.float32)  # much smaller: a new buffer, not a 4× waste
    assert not np.shares_memory(b, c)


def test_he_uniform_is_seeded_and_scaled() -> None:
    a = K.he_uniform(np.random.default_rng(5), (64, 3, 3, 64), 576, np.float32)
    b = K.he_uniform(np.random.default_rng(5), (64, 3, 3, 64), 576, np.float32)
    assert (a == b).all() and a.dtype == np.float32
    assert abs(float(a.std()) - math.sqrt(2 / 576)) < 0.002


# -- torch.nn.functional ------------------------------------------------------------------


def nchw(x: Array) -> Any:
    torch = pytest.importorskip("torch")
    return torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2)))


def nhwc(t: Any) -> Array:
    return t.numpy().transpose(0, 2, 3, 1)


def torch_conv2d(
    x: Array, w: Array, b: Array | None, stride: Any, pad: Any, dilation: Any, groups: int = 1
) -> Array:
    """torch.nn.functional.conv2d's result for conv2d's arguments: NHWC x, HWIO w, pads
    ((top, bottom), (left, right)); skips the test without torch."""
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    xt = F.pad(nchw(x), (pad[1][0], pad[1][1], pad[0][0], pad[0][1]))
    wt = torch.from_numpy(np.ascontiguousarray(w.transpose(3, 2, 0, 1)))
    bt = torch.from_numpy(b) if b is not None else None
    return nhwc(F.conv2d(xt, wt, bt, stride, 0, dilation, groups))


@pytest.mark.parametrize("case", CONV_CASES)
def test_conv2d_equals_torch(case: Any) -> None:
    N, H, W, C, Kk, FH, FW, s, pad, d, g = case
    x, w, b = rand(N, H, W, C), rand(FH, FW, C // g, Kk), rand(Kk)
    expected = torch_conv2d(x, w, b, s, pad, d, g)
    close(K.conv2d(x, w, b, stride=s, pad=pad, dilation=d, groups=g), expected)


def test_conv_transpose2d_equals_torch() -> None:
    torch = pytest.importorskip("torch")
    x, w, b = rand(2, 5, 4, 4), rand(4, 3, 2, 3), rand(6)
    wt = torch.from_numpy(np.ascontiguousarray(w.transpose(0, 3, 1, 2)))  # (C, K/g, FH, FW)
    y = torch.nn.functional.conv_transpose2d(nchw(x), wt, torch.from_numpy(b), (2, 3), (1, 0),
                                             (1, 2), 2, (1, 2))  # fmt: skip
    got = K.conv_transpose2d(x, w, b, stride=(2, 3), pad=(1, 0), out_pad=(1, 2), groups=2,
                             dilation=(1, 2))  # fmt: skip
    close(got, nhwc(y))


@pytest.mark.parametrize("case", POOL_CASES)
def test_pools_equal_torch(case: Any) -> None:
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    f, s, pad, ceil = case
    if pad[0][0] != pad[0][1] or pad[1][0] != pad[1][1]:
        pytest.skip("torch pools pad symmetrically")
    x = rand(2, 7, 8, 3)
    p = (pad[0][0], pad[1][0])
    close(K.pool2d(x, f, stride=s, pad=pad, kind="max", ceil=ceil),
          nhwc(F.max_pool2d(nchw(x), f, s, p, ceil_mode=ceil)))  # fmt: skip
    close(K.pool2d(x, f, stride=s, pad=pad, kind="avg", ceil=ceil),
          nhwc(F.avg_pool2d(nchw(x), f, s, p, ceil_mode=ceil)))  # fmt: skip
    if p == (0, 0) and not ceil:  # lp_pool2d scales ceil windows by F·F / cells: a quirk
        close(K.pool2d(x, f, stride=s, kind="l2", ceil=ceil),
              nhwc(F.lp_pool2d(nchw(x), 2, f, s, ceil_mode=ceil)))  # fmt: skip


@pytest.mark.parametrize("shapes", MUL_CASES)
def test_multiply_equals_torch(shapes: list[tuple[int, ...]]) -> None:
    pytest.importorskip("torch")
    arrays = [rand(*s) for s in shapes]
    product = nchw(arrays[0])
    for a in arrays[1:]:
        product = product * nchw(a)  # torchvision's SqueezeExcitation: scale * input
    close(K.multiply(arrays), nhwc(product), 1e-5)


@pytest.mark.parametrize("case", ADAPTIVE_CASES)
def test_adaptive_pool2d_equals_torch(case: Any) -> None:
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    (h, w), out = case
    x = rand(2, h, w, 3)
    close(K.adaptive_pool2d(x, out, "avg"), nhwc(F.adaptive_avg_pool2d(nchw(x), out)), 1e-5)
    close(K.adaptive_pool2d(x, out, "max"), nhwc(F.adaptive_max_pool2d(nchw(x), out)), 1e-5)


@pytest.mark.parametrize(("c", "groups"), SHUFFLE_CASES)
def test_channel_shuffle_and_slice_equal_torch(c: int, groups: int) -> None:
    torch = pytest.importorskip("torch")
    x = rand(2, 3, 4, c)
    t = nchw(x)
    n, _, h, w = t.shape
    # torchvision's shufflenetv2.channel_shuffle, and torch's own
    shuffled = t.view(n, groups, c // groups, h, w).transpose(1, 2).contiguous().view(n, c, h, w)
    close(K.channel_shuffle(x, groups), nhwc(shuffled), 1e-5)
    close(K.channel_shuffle(x, groups), nhwc(torch.nn.functional.channel_shuffle(t, groups)), 1e-5)
    for start, stop in ((0, c // 2), (c // 2, c), (1, c)):
        close(K.channel_slice(x, start, stop), nhwc(t[:, start:stop]), 1e-5)


def test_elementwise_layers_equal_torch() -> None:
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    x = rand(2, 4, 5, 7) * 3
    t = nchw(x)
    close(K.gelu(x), nhwc(F.gelu(t)))
    close(K.elu(x, 0.7), nhwc(F.elu(t, 0.7)))
    close(K.leaky_relu(x, 0.2), nhwc(F.leaky_relu(t, 0.2)))
    close(K.sigmoid(x), nhwc(torch.sigmoid(t)))
    close(K.tanh(x), nhwc(torch.tanh(t)))
    close(K.softmax(x), nhwc(F.softmax(t, dim=1)))
    close(K.lrn(x, 5, 1e-2, 0.75, 2.0), nhwc(F.local_response_norm(t, 5, 1e-2, 0.75, 2.0)))
    g, beta, mean, var = rand(7), rand(7), rand(7), np.abs(rand(7)) + 0.5
    tt = [torch.from_numpy(a) for a in (mean, var, g, beta)]
    close(
        K.batchnorm(x, g, beta, mean, var, 1e-5, None), nhwc(F.batch_norm(t, *tt, False, 0, 1e-5))
    )
    w, b = rand(9, 4 * 5 * 7), rand(9)
    # convcalc flattens (H, W, C); torch flattens (C, H, W): the same weights, permuted
    wt = w.reshape(9, 4, 5, 7).transpose(0, 3, 1, 2).reshape(9, -1)
    y = F.linear(t.flatten(1), torch.from_numpy(np.ascontiguousarray(wt)), torch.from_numpy(b))
    close(K.fully_connected(x, w, b)[:, 0, 0], y.numpy())
    close(K.upsample_nearest(x, 2), nhwc(F.interpolate(t, scale_factor=2, mode="nearest")))


def test_modern_layers_equal_torch() -> None:
    """RELU6, HSWISH, HSIGMOID, SILU, LN, SCALE and LINEAR against torch.nn.functional, within
    1e-5 of the output's scale."""
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    x = rand(2, 4, 5, 7) * 4  # both sides of ±3 and of 6
    t = nchw(x)
    close(K.relu6(x), nhwc(F.relu6(t)), 1e-5)
    close(K.hardswish(x), nhwc(F.hardswish(t)), 1e-5)
    close(K.hardsigmoid(x), nhwc(F.hardsigmoid(t)), 1e-5)
    close(K.silu(x), nhwc(F.silu(t)), 1e-5)
    g, beta = rand(7), rand(7)
    xt = torch.from_numpy(x)  # NHWC: torch's layer_norm and linear act on the last axis
    y = F.layer_norm(xt + 2, (7,), torch.from_numpy(g), torch.from_numpy(beta), 1e-6)
    close(K.layernorm(x + 2, g, beta, 1e-6), y.numpy(), 1e-5)
    # ConvNeXt's LayerNorm2d: permute to NHWC, layer_norm, permute back
    y2 = F.layer_norm(t.permute(0, 2, 3, 1), (7,), torch.from_numpy(g), None, 1e-5)
    close(K.layernorm(x, g, np.zeros(7, np.float32), 1e-5), y2.numpy(), 1e-5)
    close(K.scale_channels(x, g), nhwc(t * torch.from_numpy(g).reshape(1, 7, 1, 1)), 1e-5)
    w, b = rand(9, 7), rand(9)
    y3 = F.linear(xt, torch.from_numpy(w), torch.from_numpy(b))
    close(K.linear(x, w, b), y3.numpy(), 1e-5)
    close(K.linear(x, w, None), F.linear(xt, torch.from_numpy(w)).numpy(), 1e-5)
