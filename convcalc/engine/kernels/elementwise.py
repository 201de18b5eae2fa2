"""Kernels that keep the volume's shape: batch norm, layer norm, the per-channel scale, the
activations, LRN, the product of a MUL merge.

Activations, batch norm, layer norm and the scale take an ``out``, which may be ``x`` itself
(in place).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import cache

import numpy as np

from ...sizing import threads
from .arrays import Array, engine_thread

#: elements of one block of GELU: the block and its three temporaries stay in a core's L2,
#: so the twenty passes over it never reach memory
BLOCK = 32768
#: elements of one block of layer norm (its input, output and squares)
LN_BLOCK = 65536
#: a blocked kernel gives each thread at least this many elements (fewer: fewer threads)
THREADED_MIN = 1 << 16


@cache
def _pool(n: int) -> ThreadPoolExecutor:
    return ThreadPoolExecutor(n, thread_name_prefix="convcalc-ew")


def _spread(n: int, unit: int, work: Callable[[int, int], None]) -> None:
    """work(start, stop) over [0, n) in up to ``threads()`` contiguous pieces of at least
    THREADED_MIN elements (``unit`` elements an index), on as many threads: NumPy releases
    the GIL inside its loops, and unlike a GEMM an elementwise pass gets no BLAS threads of
    its own. Small arrays stay on this thread."""
    k = max(1, min(threads(), n * unit // THREADED_MIN))
    if k == 1 or engine_thread():  # a share of a chunk (``sharing``): its own core already
        work(0, n)
        return
    step = -(-n // k)
    bounds = [(a, min(n, a + step)) for a in range(step, n, step)]
    pending = [_pool(threads()).submit(work, a, b) for a, b in bounds]
    work(0, step)  # the first piece on this thread, while the pool runs the others
    for future in pending:
        future.result()


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
    C = x.shape[-1]
    if out is None:
        out = np.empty_like(x)
    if not (x.flags.c_contiguous and out.flags.c_contiguous) or x.size == 0:
        return _layernorm_passes(x, gamma, beta, eps, out)
    dt = x.dtype
    xf, of = x.reshape(-1, C), out.reshape(-1, C)
    rows = max(1, LN_BLOCK // C)
    inv = np.full(C, 1.0 / C, dt)
    g, b = gamma.astype(dt, copy=False), beta.astype(dt, copy=False)
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
            o *= g
            o += b

    _spread(xf.shape[0], C, work)
    return out


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
    return np.maximum(x, 0, out=out)


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


#: Abramowitz & Stegun 7.1.26's a1 .. a5 and p (``erf``), for GELU's erfc(|x|/√2)
_AS = (0.254829592, -0.284496736, 1.421413741, -1.453152027, 1.061405429)
_AS_P = 0.3275911


def gelu(x: Array, out: Array | None = None) -> Array:
    """x·Φ(x) with the exact erf form (PyTorch's default).

    As max(x, 0) − |x|·erfc(|x|/√2)/2 (the same value on either side of 0), with erfc from
    ``erf``'s A&S 7.1.26 (half its coefficients, so no pass halves it): twenty passes over a
    block of ``BLOCK`` values that stays in cache with its three temporaries, no array-sized
    temporary, blocks spread over ``threads()`` threads (8×14×14×1536: 8.6 ms of CPU instead
    of 28 on a busy machine; on a chunk that already fits in cache, as LINEAR's epilogue
    runs it, about as fast as before on one thread, and then on two)."""
    if out is None:
        out = np.empty_like(x)
    if not (x.flags.c_contiguous and out.flags.c_contiguous) or x.size == 0:
        phi = 0.5 * (1.0 + erf(x * x.dtype.type(1 / math.sqrt(2))))
        return np.multiply(x, phi, out=out)
    xf, of = x.reshape(-1), out.reshape(-1)
    t = x.dtype.type
    coef = [t(0.5 * a) for a in _AS]
    p, one, zero, half = t(_AS_P / math.sqrt(2)), t(1), t(0), t(-0.5)

    def work(start: int, stop: int) -> None:
        n = min(BLOCK, stop - start)
        a_, t_, p_ = (np.empty(n, x.dtype) for _ in range(3))
        for s in range(start, stop, BLOCK):
            e = min(stop, s + BLOCK)
            xs, o, a, tt, pp = xf[s:e], of[s:e], a_[: e - s], t_[: e - s], p_[: e - s]
            np.abs(xs, out=a)
            np.multiply(a, p, out=tt)  # t = 1/(1 + p·|x|/√2)
            tt += one
            np.reciprocal(tt, out=tt)
            np.multiply(tt, coef[4], out=pp)  # Horner: (a1·t + … + a5·t⁵)/2
            for c in coef[3::-1]:
                pp += c
                pp *= tt
            np.square(a, out=tt)  # e^(−x²/2)
            tt *= half
            np.exp(tt, out=tt)
            pp *= tt
            pp *= a
            np.fmax(xs, zero, out=o)  # o may be x itself: xs is not read after this
            o -= pp

    _spread(xf.size, 1, work)
    return out


def sigmoid(x: Array, out: Array | None = None) -> Array:
    """1/(1 + e^−x), as 0.5·(1 + tanh(x/2)) so that it never overflows."""
    out = np.multiply(x, x.dtype.type(0.5), out=out)
    np.tanh(out, out=out)
    out += 1
    out *= 0.5
    return out


def tanh(x: Array, out: Array | None = None) -> Array:
    return np.tanh(x, out=out)


def relu6(x: Array, out: Array | None = None) -> Array:
    """min(max(x, 0), 6)."""
    return np.clip(x, 0, 6, out=out)


def hardsigmoid(x: Array, out: Array | None = None) -> Array:
    """relu6(x + 3)/6, PyTorch's hardsigmoid."""
    out = np.add(x, x.dtype.type(3), out=out)
    np.clip(out, 0, 6, out=out)
    out /= x.dtype.type(6)
    return out


def hardswish(x: Array, out: Array | None = None) -> Array:
    """x·relu6(x + 3)/6, PyTorch's hardswish (MobileNetV3's h-swish)."""
    gate = np.add(x, x.dtype.type(3))
    np.clip(gate, 0, 6, out=gate)
    gate /= x.dtype.type(6)
    y: Array = np.multiply(x, gate, out=out)
    return y


def silu(x: Array, out: Array | None = None) -> Array:
    """x·σ(x), the SiLU (swish), with the sigmoid that never overflows."""
    return np.multiply(x, sigmoid(x), out=out)


def softmax(x: Array, out: Array | None = None) -> Array:
    """Softmax over depth (the last axis), shifted by the max for stability."""
    out = np.subtract(x, x.max(axis=-1, keepdims=True), out=out)
    np.exp(out, out=out)
    out /= out.sum(axis=-1, keepdims=True)
    return out


def multiply(arrays: Sequence[Array], out: Array | None = None) -> Array:
    """The elementwise product of (N, H, W, C) arrays, where a (N, 1, 1, C) one broadcasts
    over the others' height and width (squeeze-and-excitation's channel weights)."""
    result: Array = np.multiply(arrays[0], arrays[1], out=out)
    for a in arrays[2:]:
        np.multiply(result, a, out=result)
    return result


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
