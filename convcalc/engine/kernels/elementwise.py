"""Kernels that keep the volume's shape: batch norm, layer norm, the per-channel scale, the
activations, LRN, the product of a MUL merge.

Activations, batch norm, layer norm and the scale take an ``out``, which may be ``x`` itself
(in place).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from functools import cache

import numpy as np

from ...sizing import threads
from .arrays import Array, clip, engine_thread, positive, spread
from .gemm import blas_holds

#: elements of one block of GELU: the block and its three temporaries fill a core's L2 (1 MB),
#: so the eighteen passes over it never reach memory (one thread, 8×28×28×768: 16384 13% slower,
#: 131072 no faster)
BLOCK = 65536
#: elements of one block of the other blocked activations (``_blockwise``), on arrays of more
#: than EW_WHOLE_BYTES; smaller ones (a fused step's chunk) go whole to each of the engine's
#: threads, in blocks on the calling thread. CPU time here, one thread, hardswish in place:
#: 8×112×112×96 5.5 ms in blocks of 65536, 8.9 of 32768, 12.3 whole; 1×112×112×96 0.75 ms in
#: blocks, 0.51 whole, in a loop that reuses the freed memory. In a pass the calling thread's
#: array-sized temporaries came fresh from the system (glibc gives the top of the main heap
#: back), a page fault every 4 KiB at some 2.4 µs each: efficientnet-b0's stem SiLU at batch
#: 1, 112×112×32, took 1.18 ms (392 faults) against 0.23 in that loop, and its pass faulted
#: 1018 times inside the steps, 65 in blocks; the engine's threads showed no such faults
EW_BLOCK, EW_WHOLE_BYTES = 65536, 8 << 20
#: elements of one block of layer norm (its input, output and squares)
LN_BLOCK = 65536
#: a blocked kernel gives each thread at least this many elements (fewer: fewer threads)
THREADED_MIN = 1 << 16


def _spread(n: int, unit: int, work: Callable[[int, int], None]) -> None:
    """work(start, stop) over [0, n) in up to ``threads()`` contiguous pieces of at least
    THREADED_MIN elements (``unit`` elements an index), on as many threads: NumPy releases
    the GIL inside its loops, and unlike a GEMM an elementwise pass gets no BLAS threads of
    its own. Small arrays stay on this thread, and so does everything while OpenBLAS keeps
    its threads, whose spinning workers hold the other cores (``gemm.blas_holds``)."""
    k = 1 if blas_holds() else max(1, min(threads(), n * unit // THREADED_MIN))
    if k == 1 or engine_thread():  # a share of a chunk (``sharing``): its own core already
        work(0, n)
        return
    step = -(-n // k)
    bounds = [(a, min(n, a + step)) for a in range(0, n, step)]
    spread(lambda i: work(*bounds[i]), len(bounds))  # the first piece on this thread


def batchnorm(
    x: Array, gamma: Array, beta: Array, mean: Array, var: Array, eps: float, out: Array | None
) -> Array:
    """Inference batch norm: (x − mean)/sqrt(var + eps)·gamma + beta, per channel."""
    scale, shift = bn_affine(gamma, beta, mean, var, eps)
    out = np.multiply(x, scale.astype(x.dtype), out=out)
    np.add(out, shift.astype(x.dtype), out=out)
    return out


def bn_affine(
    gamma: Array, beta: Array, mean: Array, var: Array, eps: float
) -> tuple[Array, Array]:
    """Batch norm as y = x·scale + shift (computed in float64)."""
    scale = gamma.astype(np.float64) / np.sqrt(var.astype(np.float64) + eps)
    return scale, beta.astype(np.float64) - mean.astype(np.float64) * scale


def layernorm(x: Array, gamma: Array, beta: Array, eps: float, out: Array | None = None) -> Array:
    """Layer norm over the depth at each position, as ConvNeXt's LayerNorm2d:
    (x − mean)/sqrt(var + eps)·gamma + beta, mean and (biased) variance over the last axis.

    A block of positions at a time, on ``threads()`` threads: the means are GEMVs against
    a vector of 1/C (BLAS, not NumPy's reduction, whose inner loop is only C long), and the
    block's centred values and their squares stay in cache for the variance (convnext-tiny's
    ln at 8×56×56×96: 3.8 ms of CPU instead of 4.8 on one thread, on a busy machine)."""
    if out is None:
        out = np.empty_like(x)
    if not (x.flags.c_contiguous and out.flags.c_contiguous) or x.size == 0:
        return _layernorm_passes(x, gamma, beta, eps, out)
    _normalise_rows(x.reshape(-1, x.shape[-1]), out.reshape(-1, x.shape[-1]), eps, gamma, beta)
    return out


def normalise(x: Array, eps: float, out: Array | None = None) -> Array:
    """Layer norm without its γ and β, (x − mean)/sqrt(var + eps) over the last axis: what a
    LINEAR's prologue does to each chunk of its input when the LN's γ and β are folded into
    the LINEAR's weights (see ``LN.prologue``); ``out`` may be ``x`` (in place)."""
    if out is None:
        out = np.empty_like(x)
    if not (x.flags.c_contiguous and out.flags.c_contiguous) or x.size == 0:
        C = x.shape[-1]
        return _layernorm_passes(x, np.ones(C, x.dtype), np.zeros(C, x.dtype), eps, out)
    _normalise_rows(x.reshape(-1, x.shape[-1]), out.reshape(-1, x.shape[-1]), eps)
    return out


def _normalise_rows(
    xf: Array, of: Array, eps: float, gamma: Array | None = None, beta: Array | None = None
) -> None:
    """Each row of the (M, C) ``xf`` normalised into ``of`` (which may be ``xf``), then times
    gamma plus beta if given, ``LN_BLOCK`` values at a time on ``threads()`` threads."""
    C = xf.shape[1]
    dt = xf.dtype
    rows = max(1, LN_BLOCK // C)
    inv = np.full(C, 1.0 / C, dt)
    g = gamma.astype(dt, copy=False) if gamma is not None else None
    b = beta.astype(dt, copy=False) if beta is not None else None
    e = dt.type(eps)

    def work(start: int, stop: int) -> None:
        sq = np.empty((min(rows, stop - start), C), dt)
        mu = np.empty(sq.shape[0], dt)
        var = np.empty(sq.shape[0], dt)
        for r0 in range(start, stop, rows):
            r1 = min(stop, r0 + rows)
            m, o, q, v = r1 - r0, of[r0:r1], sq[: r1 - r0], var[: r1 - r0]
            np.matmul(xf[r0:r1], inv, out=mu[:m])
            np.subtract(xf[r0:r1], mu[:m, None], out=o)  # o may be x itself: read first
            np.square(o, out=q)
            np.matmul(q, inv, out=v)
            v += e
            np.sqrt(v, out=v)
            np.reciprocal(v, out=v)
            o *= v[:, None]
            if g is not None:
                o *= g
            if b is not None:
                o += b

    _spread(xf.shape[0], C, work)


def _layernorm_passes(x: Array, gamma: Array, beta: Array, eps: float, out: Array) -> Array:
    """Layer norm in whole-array passes, for arrays that are not contiguous."""
    mean = x.mean(axis=-1, keepdims=True)
    out = np.subtract(x, mean, out=out)
    var = np.square(out).mean(axis=-1, keepdims=True)
    var += x.dtype.type(eps)
    np.sqrt(var, out=var)
    out /= var
    out *= gamma.astype(x.dtype, copy=False)
    out += beta.astype(x.dtype, copy=False)
    return out


def scale_channels(x: Array, gamma: Array, out: Array | None = None) -> Array:
    """x·gamma[d]: one learned factor per channel (ConvNeXt's layer scale)."""
    y: Array = np.multiply(x, gamma.astype(x.dtype, copy=False), out=out)
    return y


# -- activations: elementwise, shape unchanged, ``out`` may be ``x`` (in place) ----------


def relu(x: Array, out: Array | None = None) -> Array:
    return positive(x, out)


def leaky_relu(x: Array, slope: float, out: Array | None = None) -> Array:
    if 0 <= slope <= 1:  # then max(x, slope·x) is x or slope·x, whichever applies
        y: Array = np.maximum(x, np.multiply(x, x.dtype.type(slope)), out=out)
        return y
    return _select(x > 0, x, np.multiply(x, x.dtype.type(slope)), out)


def elu(x: Array, alpha: float, out: Array | None = None) -> Array:
    neg = np.expm1(np.minimum(x, 0)) * x.dtype.type(alpha)
    return _select(x > 0, x, neg, out)


def _select(mask: Array, a: Array, b: Array, out: Array | None) -> Array:
    """np.where with an ``out`` (which may be ``a`` itself)."""
    np.copyto(b, a, where=mask)
    if out is None:
        return b
    np.copyto(out, b)
    return out


def erf(x: Array) -> Array:
    """Abramowitz & Stegun 7.1.26 (error below 1.5e-7, float32 precision), no SciPy needed."""
    one = x.dtype.type(1)
    a = np.abs(x)
    t = one / (one + x.dtype.type(0.3275911) * a)
    poly: Array = np.full_like(t, 1.061405429)
    for c in (-1.453152027, 1.421413741, -0.284496736, 0.254829592):  # Horner, a5 .. a1
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
#: Abramowitz & Stegun 7.1.26's a1 .. a5 and p (``erf``), for GELU's erfc(|x|/√2)
_AS = (0.254829592, -0.284496736, 1.421413741, -1.453152027, 1.061405429)
_AS_P = 0.3275911


#: float32 GELU by table: the index of a value is its top 32 − GELU_SHIFT bits (sign, exponent
#: and the mantissa's first 10 bits), its abscissa x₀ those bits with the rest zeroed
GELU_SHIFT = 13
_GELU_MASK = (0xFFFFFFFF >> GELU_SHIFT) << GELU_SHIFT


@cache
def gelu_tables() -> tuple[Array, Array]:
    """GELU(x₀) and its derivative Φ(x₀) + x₀·φ(x₀) at every abscissa of the float32 table
    (``GELU_SHIFT``): 2¹⁹ values each, 4 MiB in all, from ``math.erf`` in float64 (0.1 s, once
    a process; a pass builds them before its clock and its memory trace start). Non-finite
    abscissas hold NaN: ``gelu`` never reads them (a block with an infinity or a NaN takes
    the formula)."""
    top = np.arange(1 << (32 - GELU_SHIFT), dtype=np.uint64) << np.uint64(GELU_SHIFT)
    with np.errstate(invalid="ignore", over="ignore"):
        x0 = top.astype(np.uint32).view(np.float32).astype(np.float64)
    finite = np.isfinite(x0)
    v = x0[finite]
    erf = np.asarray(np.frompyfunc(math.erf, 1, 1)(v * (1 / math.sqrt(2))), np.float64)
    cdf = 0.5 + 0.5 * erf
    pdf = np.exp(-0.5 * v * v) * (1 / math.sqrt(2 * math.pi))
    value = np.full(x0.shape, np.nan, np.float32)
    slope = np.full(x0.shape, np.nan, np.float32)
    value[finite] = v * cdf
    slope[finite] = cdf + v * pdf
    return value, slope


def gelu(x: Array, out: Array | None = None) -> Array:
    """x·Φ(x) with the exact erf form (PyTorch's default).

    float32: from ``gelu_tables`` to first order, GELU(x₀) + (x − x₀)·GELU'(x₀), x₀ being x
    with its last ``GELU_SHIFT`` mantissa bits zeroed (0 ≤ (x − x₀)/x < 2⁻¹⁰, so the
    interpolation is off by at most |GELU''|·x²·2⁻²¹, and |GELU''(x)|·x² = φ(x)·|2 − x²|·x²
    stays under 0.5: 2.4e-7). Against
    0.5·x·(1 + erf(x/√2)) in float64 on 2·10⁶ points of [−12, 12]: at most 4.8e-7 off (float32
    rounding of values near 4) and 2e-5 relative where |GELU| > 1e-3, where the formula below
    is 3.3e-7 and 1.7e-4 off. Eight passes over a block, two of them gathers from the tables
    (``np.take``); one thread, 2²⁰ values: 2.8–3.7 ns a value against 5.0–5.6 by the
    formula. A block that holds an infinity or a NaN (its min and max say so) takes the
    formula, as do other dtypes.

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
    mask = np.uint32(_GELU_MASK)

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
            bits, top, d = xs.view(np.uint32), a.view(np.uint32), tt
            np.right_shift(bits, GELU_SHIFT, out=top)
            index = at[: e - s]
            np.copyto(index, top, casting="unsafe")
            np.bitwise_and(bits, mask, out=top)  # x₀
            np.subtract(xs, a, out=d)  # x − x₀, exact
            np.take(tables[1], index, out=pp, mode="wrap")
            d *= pp
            np.take(tables[0], index, out=o, mode="wrap")  # o may be x: read it all before
            o += d

    _spread(xf.size, 1, work)
    return out


def _blockwise(x: Array, out: Array | None, temps: int, body: Callable[..., None]) -> Array:
    """out = body's function of x, ``body(xs, o, *temporaries)`` run on pieces spread over
    ``threads()`` threads (``_spread``), in blocks of ``EW_BLOCK`` values on a large array or
    on the calling thread (see ``EW_WHOLE_BYTES``), each thread with its own temporaries that
    stay in cache; the whole array at once, with array-sized temporaries, when ``x`` or
    ``out`` is not contiguous or too small to share (squeeze-and-excitation's 1×1×C gates: no
    per-call cost beyond the passes). ``out`` may be ``x`` (in place): body reads a value
    before writing it. An activation fused into a CONV's step runs on each chunk of its
    output this way, on both cores while the pass owns the threads (``gemm.blas_holds``)."""
    if out is None:
        out = np.empty_like(x)
    if x.size < 2 * THREADED_MIN or not (x.flags.c_contiguous and out.flags.c_contiguous):
        body(x, out, *(np.empty_like(x) for _ in range(temps)))  # one thread: as it is
        return out
    xf, of = x.reshape(-1), out.reshape(-1)
    whole = x.nbytes <= EW_WHOLE_BYTES

    def work(start: int, stop: int) -> None:
        block = stop - start if whole and engine_thread() else EW_BLOCK
        n = min(block, stop - start)
        scratch = [np.empty(n, x.dtype) for _ in range(temps)]
        for s in range(start, stop, block):
            e = min(stop, s + block)
            body(xf[s:e], of[s:e], *(t[: e - s] for t in scratch))

    _spread(xf.size, 1, work)
    return out


def sigmoid(x: Array, out: Array | None = None) -> Array:
    """1/(1 + e^−x), in four passes. e^−x overflows to infinity below −88, where 1/∞ gives
    the 0 it should (the overflow is not reported)."""

    def body(xs: Array, o: Array) -> None:
        np.negative(xs, out=o)
        with np.errstate(over="ignore"):  # per block: the engine's threads have their own
            np.exp(o, out=o)
        o += 1
        np.divide(1, o, out=o)

    return _blockwise(x, out, 0, body)


def tanh(x: Array, out: Array | None = None) -> Array:
    return np.tanh(x, out=out)


def relu6(x: Array, out: Array | None = None) -> Array:
    """min(max(x, 0), 6)."""
    return clip(x, 0, 6, out=out)


def hardsigmoid(x: Array, out: Array | None = None) -> Array:
    """relu6(x + 3)/6, PyTorch's hardsigmoid."""
    three, sixth = x.dtype.type(3), x.dtype.type(1 / 6)

    def body(xs: Array, o: Array) -> None:
        np.add(xs, three, out=o)
        clip(o, 0, 6, out=o)
        o *= sixth

    return _blockwise(x, out, 0, body)


def hardswish(x: Array, out: Array | None = None) -> Array:
    """x·relu6(x + 3)/6, PyTorch's hardswish (MobileNetV3's h-swish)."""
    three, sixth = x.dtype.type(3), x.dtype.type(1 / 6)

    def body(xs: Array, o: Array, gate: Array) -> None:
        np.add(xs, three, out=gate)
        clip(gate, 0, 6, out=gate)
        gate *= sixth
        np.multiply(xs, gate, out=o)

    return _blockwise(x, out, 1, body)


def silu(x: Array, out: Array | None = None) -> Array:
    """x·σ(x) = x/(1 + e^−x), the SiLU (swish), in four passes. e^−x overflows to infinity
    below −88, where x/∞ gives the −0 that x·σ(x) is (the overflow is not reported). NumPy's
    float32 exp takes 60% of its tanh's time here (AMD EPYC, AVX2: 1.7 and 2.9 ns a value),
    and x/(1 + e^−x) stays within 3 ulp of the exact value, where (x/2)·(1 + tanh(x/2)) was
    off by up to 0.4% below −10 (1 + tanh cancels): 2.2 ns a value against 3.2."""

    def body(xs: Array, o: Array, t: Array) -> None:
        np.negative(xs, out=t)
        with np.errstate(over="ignore"):  # per block: the engine's threads have their own
            np.exp(t, out=t)
        t += 1
        np.divide(xs, t, out=o)

    return _blockwise(x, out, 1, body)


def silu_of_negated(y: Array, out: Array | None = None) -> Array:
    """The SiLU of x = −y, y/(−1 − e^y), for a step whose weights and bias were negated so
    that its output is y (``LayerType.epilogue_of_negated``): three passes where ``silu``
    takes four, bit for bit the same (negation is exact and rounding symmetric)."""

    def body(ys: Array, o: Array, t: Array) -> None:
        with np.errstate(over="ignore"):
            np.exp(ys, out=t)
        np.subtract(-1, t, out=t)
        np.divide(ys, t, out=o)

    return _blockwise(y, out, 1, body)


def softmax(x: Array, out: Array | None = None) -> Array:
    """Softmax over depth (the last axis), shifted by the max for stability."""
    out = np.subtract(x, x.max(axis=-1, keepdims=True), out=out)
    np.exp(out, out=out)
    out /= out.sum(axis=-1, keepdims=True)
    return out


def multiply(arrays: Sequence[Array], out: Array | None = None) -> Array:
    """The elementwise product of (N, H, W, C) arrays, where a (N, 1, 1, C) one broadcasts
    over the others' height and width (squeeze-and-excitation's channel weights): such
    gates multiply each image as rows of W·C values (``Gate``), not C at a time."""
    N, H, W, C = np.broadcast_shapes(*(a.shape for a in arrays))
    if out is None:
        out = np.empty((N, H, W, C), np.result_type(*arrays))
    gates = [a for a in arrays if a.shape == (N, 1, 1, C)]
    full = [a for a in arrays if a.shape != (N, 1, 1, C)]
    if not full or H * W == 1 or not out.flags.c_contiguous:
        result: Array = np.multiply(arrays[0], arrays[1], out=out)
        for a in arrays[2:]:
            np.multiply(result, a, out=result)
        return result
    source = full[0]
    for a in full[1:]:
        source = np.multiply(source, a, out=out)
    m = N * H * W
    Gate(gates).into(source.reshape(m, C), out.reshape(m, C), (slice(0, N), slice(0, H)))
    return out


class Gate:
    """Multiplication by squeeze-and-excitation gates, (N, 1, 1, C) each, of a chunk of
    positions (n·rows·W, C) of the images and rows ``region`` names: as a prologue of the
    1×1 CONV that reads the MUL (``into`` reads the input itself, no copy first), or in place.

    Each image's gates are tiled W times, so that a row of W·C values is multiplied at a time:
    NumPy's broadcast over C alone runs an inner loop C long (1.03 ms for 8×112×112×16, 0.43
    tiled; 1.36 and 0.99 ms at 8×56×56×144)."""

    def __init__(self, gates: Sequence[Array]) -> None:
        self.gates = list(gates)
        self.tiled: dict[int, list[Array]] = {}  # W -> the gates tiled W times, (N, 1, W·C)

    def __call__(self, y: Array, region: tuple[slice, slice]) -> None:
        self.into(y, y, region)

    def into(self, a: Array, y: Array, region: tuple[slice, slice]) -> None:
        images, rows = region
        n, r = images.stop - images.start, rows.stop - rows.start
        m, c = y.shape
        w = m // (n * r)
        if not (a.flags.c_contiguous and y.flags.c_contiguous):  # one image at a time
            per = m // n
            for k in range(n):
                src, dst = a[k * per : (k + 1) * per], y[k * per : (k + 1) * per]
                for g in self.gates:
                    np.multiply(src, g[images.start + k, 0, 0], out=dst)
                    src = dst
            return
        if w not in self.tiled:
            self.tiled[w] = [np.tile(g.reshape(g.shape[0], 1, c), (1, 1, w)) for g in self.gates]
        src, dst = a.reshape(n, r, w * c), y.reshape(n, r, w * c)
        for g in self.tiled[w]:
            np.multiply(src, g[images], out=dst)
            src = dst


def lrn(x: Array, size: int, alpha: float, beta: float, k: float) -> Array:
    """Local response norm across channels, as PyTorch's LocalResponseNorm (and Caffe):
    b_c = a_c / (k + alpha/size · sum of a² over channels c − size//2 .. c + (size−1)//2)^beta.
    """
    N, H, W, C = x.shape
    sq = np.zeros((N, H, W, C + size - 1), x.dtype)
    np.square(x, out=sq[..., size // 2 : size // 2 + C])
    acc = sq[..., :C].copy()
    for i in range(1, size):
        acc += sq[..., i : i + C]
    acc *= x.dtype.type(alpha / size)
    acc += x.dtype.type(k)
    np.power(acc, x.dtype.type(-beta), out=acc)
    return np.multiply(x, acc, out=acc)
