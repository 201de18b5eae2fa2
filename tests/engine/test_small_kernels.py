"""The blocked and threaded paths of the small kernels (GELU, layer norm, global average
pooling, a split FC, the channel shuffle) against naive loops and scalar formulas: sizes that
span several blocks and threads with a remainder, in place, strided inputs, float16/float64.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from convcalc.engine import kernels as K
from convcalc.engine.kernels import elementwise, gaussian, resizing

Array = Any
RNG = np.random.default_rng(18)


def rand(*shape: int, dtype: Any = np.float32) -> Array:
    return RNG.standard_normal(shape).astype(dtype)


def scalar_gelu(v: float) -> float:
    return 0.5 * v * (1 + math.erf(v / math.sqrt(2)))


@pytest.fixture(params=["1", "3", "3 held"])
def threads(request: Any, monkeypatch: pytest.MonkeyPatch) -> int:
    """Run with one thread and with three (more pieces than the machine's cores), shared
    between the engine's threads as in a pass that owns them, or all on the calling thread
    while OpenBLAS keeps its threads ("held", ``gemm.blas_holds``)."""
    count, *held = request.param.split()
    monkeypatch.setenv("CONVCALC_THREADS", count)
    monkeypatch.setattr(elementwise, "blas_holds", lambda: bool(held))
    if held:
        monkeypatch.setattr(elementwise, "spread", lambda *a: pytest.fail("handed out"))
    return int(count)


def test_gelu_blocks_and_threads_match_the_scalar_formula(threads: int) -> None:
    n = 3 * elementwise.THREADED_MIN + gaussian.BLOCK + 37  # several blocks, a remainder
    x = rand(n) * 5
    x[:5] = [-30, -8, 0, 8, 30]
    expected = np.array([scalar_gelu(float(v)) for v in x])
    got = K.gelu(x)
    np.testing.assert_allclose(got, expected, rtol=2e-6, atol=5e-7)  # A&S: |erf error| < 1.5e-7
    y = x.copy()
    assert K.gelu(y, out=y) is y  # in place
    np.testing.assert_array_equal(y, got)


def test_gelu_of_wide_values_matches_the_scalar_formula_in_its_tail(threads: int) -> None:
    """|x| is capped in the erfc term (no subnormal arithmetic): past the cap GELU is max(x, 0)
    to within 1e-20, and near it, on both sides, it matches the formula as anywhere else."""
    n = 3 * elementwise.THREADED_MIN + 37
    x = rand(n) * 15  # a GEMM's output can be this wide
    edges = [9.5, 9.99, 10.0, 10.01, 13.2, 13.3, 40.0, 1e3, 1e30]
    x[: 2 * len(edges)] = edges + [-e for e in edges]
    expected = np.array([scalar_gelu(float(v)) for v in x])
    got = K.gelu(x)
    np.testing.assert_allclose(got, expected, rtol=2e-6, atol=5e-7)
    tail = np.abs(x) >= gaussian.GELU_TAIL
    assert tail.sum() > n // 3
    np.testing.assert_allclose(got[tail], np.maximum(x[tail], 0), rtol=1e-7, atol=1e-20)
    assert np.isnan(K.gelu(np.array([np.nan] * 9, np.float32))).all()


SCALAR = {
    "sigmoid": lambda v: 1 / (1 + math.exp(-v)) if v > -700 else 0.0,
    "silu": lambda v: v / (1 + math.exp(-v)) if v > -700 else 0.0,
    "hardswish": lambda v: v * min(max(v + 3, 0.0), 6.0) / 6,
    "hardsigmoid": lambda v: min(max(v + 3, 0.0), 6.0) / 6,
}


@pytest.mark.parametrize("blocks", [False, True])
@pytest.mark.parametrize("name", sorted(SCALAR))
def test_blocked_activations_match_their_scalar_formulas(
    threads: int, name: str, blocks: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    if blocks:  # as on a large array: blocks of EW_BLOCK values
        monkeypatch.setattr(elementwise, "EW_WHOLE_BYTES", 0)
    n = 3 * elementwise.THREADED_MIN + elementwise.EW_BLOCK + 37  # several blocks, a remainder
    x = rand(n) * 5
    x[:7] = [-90, -8, -3, 0, 3, 8, 90]
    f = getattr(K, name)
    expected = np.array([SCALAR[name](float(v)) for v in x])
    got = f(x)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6, err_msg=name)
    y = x.copy()
    assert f(y, out=y) is y  # in place: the same values
    np.testing.assert_array_equal(y, got)
    view = x.reshape(-1, 7)[:, 1:5] if n % 7 == 0 else x[1::3]  # strided: the plain path
    np.testing.assert_allclose(f(view), np.vectorize(SCALAR[name])(view.astype(np.float64)),
                               rtol=1e-5, atol=1e-6, err_msg=name)  # fmt: skip
    for dtype in (np.float16, np.float64):
        a = x[:999].astype(dtype)
        tol = 3e-3 if dtype == np.float16 else 1e-12
        got = f(a)
        assert got.dtype == dtype
        np.testing.assert_allclose(got.astype(np.float64),
                                   np.vectorize(SCALAR[name])(a.astype(np.float64)),
                                   rtol=tol, atol=tol, err_msg=name)  # fmt: skip


@pytest.mark.parametrize("dtype", [np.float16, np.float64])
def test_gelu_in_other_dtypes_and_on_strided_inputs(dtype: Any) -> None:
    x = (rand(3, 5, 7, 9) * 3).astype(dtype)
    tol = 2e-3 if dtype == np.float16 else 1e-6
    for a in (x, x[:, ::2, :, 1:]):  # contiguous, then a strided view (the plain path)
        got = K.gelu(a)
        assert got.dtype == dtype and got.shape == a.shape
        expected = np.vectorize(scalar_gelu)(a.astype(np.float64))
        np.testing.assert_allclose(got.astype(np.float64), expected, rtol=tol, atol=tol)


def test_gelu_of_strided_arrays_gives_the_dense_values(threads: int) -> None:
    """A strided input (a view), a strided output (a CAT's channels) or both: the values of
    the dense path, bit for bit, its tail cap included; the input is not written."""
    x = rand(2, 9, 11, 2 * gaussian.BLOCK // 99 + 7) * 15  # wide: the cap matters
    x[0, 0, 1, :8:2] = [np.nan, 40.0, -40.0, 0.0]  # a[0, 0, 0, :4]
    a = x[:, :, 1:, ::2]
    before = a.copy()
    dense = K.gelu(np.ascontiguousarray(a))
    assert np.isnan(dense[0, 0, 0, 0])
    np.testing.assert_array_equal(K.gelu(a), dense)
    np.testing.assert_array_equal(a, before)
    wide = np.zeros((*a.shape[:3], a.shape[3] + 5), a.dtype)
    out = wide[..., 2 : 2 + a.shape[3]]
    assert K.gelu(a, out=out) is out
    np.testing.assert_array_equal(out, dense)
    assert not wide[..., :2].any() and not wide[..., 2 + a.shape[3] :].any()
    b = np.ascontiguousarray(a)
    np.testing.assert_array_equal(K.gelu(b, out=wide[..., 1 : 1 + a.shape[3]]), dense)
    np.testing.assert_array_equal(b, before)
    c = a.copy(order="F")  # in place on a strided array
    assert K.gelu(c, out=c) is c
    np.testing.assert_array_equal(c, dense)


def naive_layernorm(x: Array, gamma: Array, beta: Array, eps: float) -> Array:
    """One position at a time, in float64: (v − mean)/sqrt(var + eps)·γ + β."""
    out = np.zeros(x.shape)
    for idx in np.ndindex(*x.shape[:-1]):
        v = [float(c) for c in x[idx]]
        mean = sum(v) / len(v)
        var = sum((c - mean) ** 2 for c in v) / len(v)
        scale = 1 / math.sqrt(var + eps)
        out[idx] = [(c - mean) * scale * g + b for c, g, b in zip(v, gamma, beta, strict=True)]
    return out


def test_layernorm_blocks_and_threads_match_loops(threads: int) -> None:
    c = 67  # LN_BLOCK // 67 rows a block: blocks with a remainder
    rows = 3 * elementwise.THREADED_MIN // c + 3 * (elementwise.LN_BLOCK // c) + 5
    x = rand(1, rows, 1, c) * 2 + 3
    g, b = rand(c), rand(c)
    expected = naive_layernorm(x, g, b, 1e-6)
    got = K.layernorm(x, g, b, 1e-6)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)
    y = x.copy()
    assert K.layernorm(y, g, b, 1e-6, out=y) is y  # in place
    np.testing.assert_array_equal(y, got)


@pytest.mark.parametrize("dtype", [np.float16, np.float64])
def test_layernorm_in_other_dtypes_and_on_strided_inputs(dtype: Any) -> None:
    x = (rand(2, 3, 5, 24) + 1).astype(dtype)
    g, b = rand(24).astype(dtype), rand(24).astype(dtype)
    tol = 3e-2 if dtype == np.float16 else 1e-10
    got = K.layernorm(x, g, b, 1e-5)
    assert got.dtype == dtype
    np.testing.assert_allclose(got.astype(np.float64), naive_layernorm(x, g, b, 1e-5),
                               rtol=tol, atol=tol)  # fmt: skip
    view = x[:, :, ::2, :]
    np.testing.assert_allclose(K.layernorm(view, g, b, 1e-5).astype(np.float64),
                               naive_layernorm(view, g, b, 1e-5), rtol=tol, atol=tol)  # fmt: skip


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16])
def test_global_avg_pool_matches_a_loop(dtype: Any) -> None:
    x = (rand(3, 9, 7, 5) + 2).astype(dtype)
    expected = np.zeros((3, 5))
    for n, c in np.ndindex(3, 5):
        expected[n, c] = sum(float(v) for v in x[n, :, :, c].ravel()) / 63
    for a in (x, x[:, :, :, ::-1]):  # contiguous, then a strided view
        got = K.global_avg_pool(a)
        assert got.shape == (3, 1, 1, a.shape[3]) and got.dtype == dtype
        want = expected if a is x else expected[:, ::-1]
        tol = 1e-3 if dtype == np.float16 else 1e-6
        np.testing.assert_allclose(got[:, 0, 0].astype(np.float64), want, rtol=tol)


@pytest.mark.parametrize("n, k, d", [(8, 10, 3 * resizing.FC_SPLIT + 123), (2, 3, 10000),
                                     (1, 10, 9000), (8, 65, 9000)])  # fmt: skip
def test_fc_split_over_long_inputs_matches_a_loop(n: int, k: int, d: int) -> None:
    x, w, b = rand(n, 1, 1, d), rand(k, d), rand(k)
    x64, w64 = x.reshape(n, d).astype(np.float64), w.astype(np.float64)
    expected = np.array([[float(x64[i] @ w64[j]) + float(b[j]) for j in range(k)]
                         for i in range(n)])  # fmt: skip
    got = K.fully_connected(x, w, b, epilogue=(K.RELU,))
    assert got.shape == (n, 1, 1, k)
    np.testing.assert_allclose(got[:, 0, 0], np.maximum(expected, 0), rtol=1e-4, atol=1e-3)


@pytest.mark.parametrize("groups", [2, 3, 4])
def test_channel_shuffle_by_groups_matches_a_loop(groups: int) -> None:
    x = rand(2, 3, 4, 6 * groups)
    got = K.channel_shuffle(x, groups)
    per = x.shape[3] // groups
    for i, g in np.ndindex(per, groups):  # output i·groups + g is input g·per + i
        np.testing.assert_array_equal(got[..., i * groups + g], x[..., g * per + i])


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_relu_on_arrays_and_strided_views_is_max_with_zero(dtype: Any) -> None:
    from convcalc.engine.kernels.arrays import positive

    x = rand(150000, dtype=dtype)
    x[:6] = [np.nan, -0.0, np.inf, -np.inf, 0, -1e-30]

    def naive(a: Any) -> Any:
        flat = [max(float(v), 0.0) if not math.isnan(v) else math.nan for v in a.reshape(-1)]
        return np.array(flat, dtype).reshape(a.shape)

    expected = naive(x)
    np.testing.assert_array_equal(positive(x), expected)
    for view in (x[::3], x[: 300 * 400].reshape(300, 400)[:, :250], x[:100]):
        np.testing.assert_array_equal(positive(view), naive(view))
    y = x.copy()
    assert positive(y, y) is y  # in place
    np.testing.assert_array_equal(y, expected)


def test_strided_view_is_as_strided_read_only_on_any_base() -> None:
    """The im2col and tap views: the same elements as NumPy's as_strided, read-only, from a
    C-contiguous root array (the arena's region, at an offset), a view of one, and a
    Fortran-ordered root (through as_strided)."""
    from numpy.lib.stride_tricks import as_strided

    from convcalc.engine.kernels.arrays import Arena, strided_view

    arena = Arena()
    arena.reserve(1 << 16)
    arena.scratch("first", (13,), np.float32)  # the next buffer starts past an offset
    region = arena.scratch("x", (2, 6, 7, 3), np.float32)
    region[...] = rand(2, 6, 7, 3)
    fortran = np.asfortranarray(rand(2, 6, 7, 3))
    for x in (region, region[:, 1:], rand(2, 6, 7, 3)[1:], fortran):
        s0, s1, s2, s3 = x.strides
        shape = (x.shape[0], x.shape[1] - 2, x.shape[2] - 2, 3, 3, 3)
        strides = (s0, s1, s2, s1, s2, s3)
        got = strided_view(x, shape, strides)
        np.testing.assert_array_equal(got, as_strided(x, shape, strides))
        assert not got.flags.writeable and got.shape == shape and got.strides == strides
    before = strided_view(region, (2,), (4,))
    region.flat[:2] = [5, 6]
    assert before.tolist() == [5, 6]  # a view, not a copy


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_clip_gives_np_clips_values_without_its_wrapper(dtype: Any) -> None:
    """``arrays.clip``, the ReLU's, ReLU6's, hardswish's and GELU's: NumPy's clip ufunc, the
    same values as ``np.clip`` (NaN, ±0, ±∞, bounds of Python numbers), in place and on a
    strided view, in the array's dtype."""
    from convcalc.engine.kernels.arrays import clip

    assert isinstance(clip, np.ufunc)  # this NumPy has it: the fast path is the one tested
    x = rand(5000, dtype=dtype) * 8
    x[:7] = [np.nan, -0.0, 0.0, np.inf, -np.inf, 6.0, -1e-30]
    for lo, hi in ((0, np.inf), (0, 6), (0, 10.0)):
        expected = np.clip(x, lo, hi)
        got = clip(x, lo, hi)
        assert got.dtype == x.dtype
        np.testing.assert_array_equal(got, expected)
        np.testing.assert_array_equal(clip(x[::3], lo, hi), np.clip(x[::3], lo, hi))
        y = x.copy()
        assert clip(y, lo, hi, out=y) is y
        np.testing.assert_array_equal(y, expected)


@pytest.mark.parametrize("fill_bytes", [0, 1 << 30])  # the four border fills; one whole fill
@pytest.mark.parametrize("value", [0.0, -np.inf])
def test_pad_nhwc_is_np_pad_either_way(
    fill_bytes: int, value: float, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``chunks.pad_nhwc`` fills a small buffer whole before copying the input in, and writes
    only the border of a larger one (``PAD_FILL_BYTES``): np.pad's values either way, into a
    reused dirty buffer, a strided (channel-major) one, asymmetric pads, one side unpadded."""
    import importlib

    chunks = importlib.import_module("convcalc.engine.kernels.chunks")  # not the function
    monkeypatch.setattr(chunks, "PAD_FILL_BYTES", fill_bytes)
    x = rand(2, 5, 6, 3)
    for pads in (((1, 1), (1, 1)), ((0, 2), (3, 0)), ((2, 0), (0, 0))):
        (t, b), (lf, rt) = pads
        want = np.pad(x, ((0, 0), (t, b), (lf, rt), (0, 0)), constant_values=value)
        dirty = np.full(want.shape, 7.0, np.float32)
        np.testing.assert_array_equal(chunks.pad_nhwc(x, pads, value, out=dirty), want)
        n, h, w, c = want.shape
        major = np.full((c, n, h, w), 7.0, np.float32).transpose(1, 2, 3, 0)  # conv's (C, N, H, W)
        np.testing.assert_array_equal(chunks.pad_nhwc(x, pads, value, out=major), want)


# -- float32 GELU by table (``gaussian.gelu_tables``) ------------------------------------


def test_gelu_tables_hold_the_tangent_of_gelu_at_each_abscissa() -> None:
    """Entry i is at the float32 whose top bits are i (the last GELU_SHIFT zero): the slope
    GELU'(x₀) = Φ + x₀·φ and the intercept GELU(x₀) − x₀·GELU'(x₀) of the tangent there, from
    math.erf; NaN at the infinities and NaNs."""
    intercept, slope = K.gelu_tables()
    assert intercept.dtype == slope.dtype == np.float32 and intercept.shape == (1 << 19,)
    for x0 in (1.0, -1.0, 0.5, -2.75, 3.0, 1e-30, -1e-30, 1e-40, 0.0, -0.0, 1e30, -30.0):
        i = int(np.array(x0, np.float32).view(np.uint32)) >> gaussian.GELU_SHIFT
        v = float(np.array(i << gaussian.GELU_SHIFT, np.uint32).view(np.float32))
        if abs(x0) > 1e-37:  # a normal number: its abscissa is within 2⁻¹⁰ of it, towards 0
            assert 0 <= (float(np.float32(x0)) - v) / x0 < 2**-10 or v == x0 == 0
        cdf = 0.5 * (1 + math.erf(v / math.sqrt(2)))
        pdf = math.exp(-v * v / 2) / math.sqrt(2 * math.pi) if abs(v) < 1e10 else 0.0
        tangent = cdf + v * pdf
        assert slope[i] == np.float32(tangent), x0
        assert math.isclose(intercept[i], v * cdf - v * tangent, rel_tol=1e-6, abs_tol=1e-30), x0
    for special in (np.inf, -np.inf, np.nan):
        i = int(np.array(special, np.float32).view(np.uint32)) >> gaussian.GELU_SHIFT
        assert np.isnan(intercept[i]) and np.isnan(slope[i])


def test_float32_gelu_by_table_is_as_close_to_erf_as_the_formula_on_a_dense_grid(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """2·10⁵ points of [−12, 12] and the values around the mantissa cuts: within 5e-7 and
    2e-6 relative of the float64 formula (the A&S formula's tolerance), within 3e-5 relative
    where |GELU| > 1e-3, where the A&S formula in float32 is further off."""
    x = np.linspace(-12, 12, 200_001, dtype=np.float32)
    cuts = np.array([1.0, 1.5, -2.0, 3.999, 4.1, -0.3], np.float32)
    half = 1 << (gaussian.GELU_SHIFT - 1)  # half a table step, in the bits
    bits = cuts.view(np.uint32).astype(np.int64)[:, None] + np.arange(-2, 3) * half
    x = np.concatenate([x, bits.reshape(-1).astype(np.uint32).view(np.float32)])
    exact = np.array([scalar_gelu(float(v)) for v in x])
    got = K.gelu(x).astype(np.float64)
    np.testing.assert_allclose(got, exact, rtol=2e-6, atol=5e-7)
    big = np.abs(exact) > 1e-3
    table_error = np.max(np.abs(got - exact)[big] / np.abs(exact[big]))
    assert table_error < 3e-5
    monkeypatch.setattr(gaussian, "gelu_tables", lambda: None)  # the formula's path
    formula = K.gelu(x).astype(np.float64)
    assert np.max(np.abs(formula - exact)[big] / np.abs(exact[big])) > 3 * table_error


def test_float32_gelu_takes_the_formula_in_blocks_with_infinities_or_nans(threads: int) -> None:
    """+∞ gives +∞, −∞ about −1e-22 (the capped formula), NaN NaN; the finite values of such
    a block are the formula's, and the other blocks keep the table's."""
    n = 3 * gaussian.BLOCK + 37  # a first block of BLOCK values on one thread or two
    x = rand(n) * 4
    clean = K.gelu(x)
    x[5:8] = [np.inf, -np.inf, np.nan]
    got = K.gelu(x)
    assert got[5] == np.inf and -1e-20 < got[6] <= 0 and np.isnan(got[7])
    np.testing.assert_array_equal(got[gaussian.BLOCK :], clean[gaussian.BLOCK :])
    assert not np.array_equal(got[8 : gaussian.BLOCK], clean[8 : gaussian.BLOCK])
    exact = np.array([scalar_gelu(float(v)) for v in x[8 : gaussian.BLOCK]])
    np.testing.assert_allclose(got[8 : gaussian.BLOCK], exact, rtol=2e-6, atol=5e-7)


GELU_SPEC = """
name: gelu
input: 8x8x4
arch: |
  INPUT -> CONV(16, F=3, P=1) -> GELU -> LINEAR(8) -> GELU(inplace=true) -> GAP
"""


def test_a_pass_builds_the_gelu_tables_before_its_clock_and_its_trace(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The tables (4 MiB) come before the first step and stay out of the measured peak: a
    pass that builds them measures the same peak as one that finds them built."""
    import convcalc
    from convcalc.engine.forward import forward

    analysis = convcalc.analyze(convcalc.load_text(GELU_SPEC))
    order: list[str] = []
    real_tables, real_gelu = gaussian.gelu_tables, K.gelu

    def tables() -> Any:
        order.append("tables")
        return real_tables()

    def gelu(x: Any, out: Any = None) -> Any:
        order.append("gelu")
        return real_gelu(x, out)

    monkeypatch.setattr(K, "gelu_tables", tables)
    monkeypatch.setattr(K, "gelu", gelu)
    real_tables.cache_clear()
    first = forward(analysis, batch=2)
    assert first.ok and order[0] == "tables" and "gelu" in order
    second = forward(analysis, batch=2)
    assert second.output is not None and first.output is not None
    np.testing.assert_array_equal(second.output, first.output)
    assert abs(first.measured_peak_bytes - second.measured_peak_bytes) < 1 << 20
