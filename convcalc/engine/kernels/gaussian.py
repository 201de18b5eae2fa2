"""GELU and erf, the Gaussian's kernels: float32 GELU from tables, other dtypes (and blocks
with infinities or NaNs) from Abramowitz & Stegun's erf, a block of values at a time on
``threads()`` threads."""

from __future__ import annotations

import math
from functools import cache

import numpy as np

from .arrays import Array, clip, positive
from .elementwise import _spread

#: elements of one block of GELU. Each of a block's NumPy calls takes the GIL back at its end,
#: and a thread that finds the other holding it sleeps until it is released: two threads
#: making short calls wait on each other, and as many calls take as long as on one thread
#: (2 threads, each 150528 values in blocks, its two gathers and four passes, ns a value:
#: blocks of 16384 3.84, 65536 1.86, 262144 1.50, one thread 2.5–2.8). So a block is long:
#: one or two a thread for ConvNeXt's MLPs at batch 1. Its table path has one temporary the
#: size of a block and its formula's path three; they stay in the 16 MiB L3. 2 threads,
#: owning them, 301056 values: 0.72 → 0.51 ms from 65536; convnext-tiny, processes
#: alternating: batch 8 0.99 in each of three pairs, batch 1 0.99–1.01
BLOCK = 262144


#: Abramowitz & Stegun 7.1.26's a1 .. a5 and p (``erf``), for GELU's erfc(|x|/√2)
_AS = (0.254829592, -0.284496736, 1.421413741, -1.453152027, 1.061405429)
_AS_P = 0.3275911


def erf(x: Array) -> Array:
    """Abramowitz & Stegun 7.1.26 (error below 1.5e-7, float32 precision), no SciPy needed."""
    one = x.dtype.type(1)
    a = np.abs(x)
    t = one / (one + x.dtype.type(_AS_P) * a)
    poly: Array = np.full_like(t, _AS[4])
    for c in _AS[3::-1]:  # Horner, a4 .. a1 after a5
        poly *= t
        poly += x.dtype.type(c)
    poly *= t
    np.square(a, out=a)
    np.negative(a, out=a)
    np.exp(a, out=a)
    poly *= a
    np.subtract(one, poly, out=poly)
    np.copysign(poly, x, out=poly)
    return poly


#: GELU reads |x| as at most this in its erfc term: |x|·erfc(|x|/√2)/2 is 7.6e-23 here and
#: less beyond, far under a float32 ulp of x on the positive side; on the negative side GELU
#: stays about −7.6e-23 past the cap, where the exact value is smaller still (PyTorch's
#: float32 GELU gives −0 there): no weight against any tolerance. Without the cap, e^(−x²/2)
#: and the products after it are subnormal from |x| ≈ 13.2, and subnormal arithmetic is
#: slow: one thread, 2²⁰ values, ms, values of standard deviation 1/5/10/20:
#: 2.07/2.78/7.26/11.09 uncapped (a GEMM's output before its GELU can be that wide)
GELU_TAIL = 10.0


#: float32 GELU by table: the index of a value is its top 32 − GELU_SHIFT bits (sign, exponent
#: and the mantissa's first 10 bits), its abscissa x₀ those bits with the rest zeroed
GELU_SHIFT = 13


@cache
def gelu_tables() -> tuple[Array, Array]:
    """The intercept GELU(x₀) − x₀·GELU'(x₀) and the slope GELU'(x₀) = Φ(x₀) + x₀·φ(x₀) of
    GELU's tangent at every abscissa x₀ of the float32 table (``GELU_SHIFT``): 2¹⁹ values
    each, 4 MiB in all, from ``math.erf`` in float64 (0.1 s, once a process; a pass builds
    them before its clock and its memory trace start). Non-finite abscissas hold NaN:
    ``gelu`` never reads them (a block with an infinity or a NaN takes the formula)."""
    top = np.arange(1 << (32 - GELU_SHIFT), dtype=np.uint64) << np.uint64(GELU_SHIFT)
    with np.errstate(invalid="ignore", over="ignore"):
        x0 = top.astype(np.uint32).view(np.float32).astype(np.float64)
    finite = np.isfinite(x0)
    v = x0[finite]
    erf = np.asarray(np.frompyfunc(math.erf, 1, 1)(v * (1 / math.sqrt(2))), np.float64)
    cdf = 0.5 + 0.5 * erf
    pdf = np.exp(-0.5 * v * v) * (1 / math.sqrt(2 * math.pi))
    intercept = np.full(x0.shape, np.nan, np.float32)
    slope = np.full(x0.shape, np.nan, np.float32)
    intercept[finite] = -v * v * pdf  # x₀·Φ(x₀) − x₀·(Φ(x₀) + x₀·φ(x₀))
    slope[finite] = cdf + v * pdf
    return intercept, slope


def gelu(x: Array, out: Array | None = None) -> Array:
    """x·Φ(x) with the exact erf form (PyTorch's default).

    float32: from ``gelu_tables`` to first order, the tangent at x₀, x₀ being x with its last
    ``GELU_SHIFT`` mantissa bits zeroed: intercept(x₀) + x·GELU'(x₀), the same line as
    GELU(x₀) + (x − x₀)·GELU'(x₀) without computing x₀ or x − x₀ (0 ≤ (x − x₀)/x < 2⁻¹⁰, so
    the interpolation is off by at most |GELU''|·x²·2⁻²¹, and |GELU''(x)|·x² =
    φ(x)·|2 − x²|·x² stays under 0.5: 2.4e-7). Against 0.5·x·(1 + erf(x/√2)) in float64 on
    2·10⁶ points of [−12, 12]: at most 7.0e-7 off (float32 rounding of values near 4) and
    2.1e-5 relative where |GELU| > 1e-3, where the formula below is 3.3e-7 and 1.7e-4 off.
    Six passes over a block, two of them gathers from the tables (``np.take``, 0.6 ns a
    value, the rest 0.1–0.2), and its min and max: one thread, a block of 2¹⁶ values, 2.6 ns
    a value (2.0 ns less the call's fixed costs) against 3.0 for x₀ + (x − x₀)·slope's eight
    passes and 5.0–5.6 by the formula. A block that holds an infinity or a NaN (its min and
    max say so) takes the formula, as do other dtypes.

    The formula: max(x, 0) − |x|·erfc(|x|/√2)/2 (the same value on either side of 0), with
    erfc from ``erf``'s A&S 7.1.26 (half its coefficients, so no pass halves it), as
    PyTorch's own vectorised erf computes it, |x| capped at ``GELU_TAIL`` in the erfc term
    (no subnormal values, whose arithmetic is several times slower, however wide the input):
    twenty-one passes over a block of ``BLOCK`` values that stays in cache with its three
    temporaries, no array-sized temporary, blocks spread over ``threads()`` threads. The
    passes are NumPy's cheapest: e^(−x²/2) with exp, not as 2^(x²·(−log₂e/2)) (float32 exp
    and exp2 take 1.7 and 2.7 ns a value on this AMD EPYC host; an earlier host took half as
    long for exp2), 1/t as a division (reciprocal is not vectorised), max(x, 0) and the cap
    as clips (fmax checks for NaN: five times a multiply's time). One thread, 8×28×28×768 in
    place: 13.1 ms before the first three, 11.1 after; the cap costs 4–7% more on values of
    standard deviation 1.5 and saves 3–4× on those of 10 and 20. A strided input or output
    (a chunk of a CAT's channels) goes through a dense copy: the same values as a dense one,
    in 2.6–3.2 ms for 2²⁰ values every other one (one thread), where ``erf``'s formula took
    4.0–4.7."""
    if out is None:
        out = np.empty_like(x)
    if x.size == 0:
        return out
    if not (x.flags.c_contiguous and out.flags.c_contiguous):  # a dense copy, the same values
        dense = np.array(x, order="C")  # a copy even of a dense x (out is not)
        np.copyto(out, gelu(dense, out=dense))
        return out
    xf, of = x.reshape(-1), out.reshape(-1)
    t = x.dtype.type
    coef = [t(0.5 * a) for a in _AS]
    p, one = t(_AS_P / math.sqrt(2)), t(1)
    k = t(-0.5)  # e^(−x²/2) = e^(k·x²)
    tables = gelu_tables() if x.dtype == np.float32 else None

    def formula(xs: Array, o: Array, a: Array, tt: Array, pp: Array) -> None:
        np.abs(xs, out=a)
        clip(a, 0, GELU_TAIL, out=a)  # no subnormal below: e^(−x²/2) ≥ 2^−73
        np.multiply(a, p, out=tt)  # t = 1/(1 + p·|x|/√2)
        tt += one
        np.divide(one, tt, out=tt)
        np.multiply(tt, coef[4], out=pp)  # Horner: (a1·t + … + a5·t⁵)/2
        for c in coef[3::-1]:
            pp += c
            pp *= tt
        np.square(a, out=tt)  # e^(−x²/2)
        tt *= k
        np.exp(tt, out=tt)
        pp *= tt
        pp *= a
        positive(xs, o)  # max(x, 0); o may be x itself: xs is not read after this
        o -= pp

    def work(start: int, stop: int) -> None:
        n = min(BLOCK, stop - start)
        a_, t_, p_ = (np.empty(n, x.dtype) for _ in range(3))
        at = np.empty(n, np.intp) if tables is not None else None
        for s in range(start, stop, BLOCK):
            e = min(stop, s + BLOCK)
            xs, o, a, tt, pp = xf[s:e], of[s:e], a_[: e - s], t_[: e - s], p_[: e - s]
            if tables is None or at is None or not -np.inf < xs.min() <= xs.max() < np.inf:
                formula(xs, o, a, tt, pp)
                continue
            top, index = a.view(np.uint32), at[: e - s]
            np.right_shift(xs.view(np.uint32), GELU_SHIFT, out=top)
            np.copyto(index, top, casting="unsafe")
            np.take(tables[1], index, out=tt, mode="wrap")  # the slope
            tt *= xs
            np.take(tables[0], index, out=o, mode="wrap")  # o may be x: read it all before
            o += tt

    _spread(xf.size, 1, work)
    return out
