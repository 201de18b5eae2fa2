"""Kernels that keep the volume's shape: batch norm, layer norm, the per-channel scale, the
activations (GELU's are in ``gaussian``), LRN, the product of a MUL merge.

Activations, batch norm, layer norm and the scale take an ``out``, which may be ``x`` itself
(in place).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from ...sizing import threads
from .arrays import Array, clip, engine_thread, pool_thread, positive, spread
from .gemm import blas_holds

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
    the LINEAR's weights (see ``LN.prologue``); ``out`` may be ``x`` (in place), or (M, C)
    rows of a wider array (a LINEAR's chunk with its column of ones after them)."""
    if out is None:
        out = np.empty_like(x)
    rows = out.ndim == 2 and out.strides[1] == out.itemsize  # rows of C, any row stride
    if not (x.flags.c_contiguous and (out.flags.c_contiguous or rows)) or x.size == 0:
        C = x.shape[-1]
        return _layernorm_passes(x, np.ones(C, x.dtype), np.zeros(C, x.dtype), eps, out)
    of = out if out.ndim == 2 else out.reshape(-1, x.shape[-1])
    _normalise_rows(x.reshape(-1, x.shape[-1]), of, eps)
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
        block = stop - start if whole and pool_thread() else EW_BLOCK  # see EW_WHOLE_BYTES
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
