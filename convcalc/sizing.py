"""How big the forward pass's pieces of work are: im2col chunks, Winograd tiles, pooling bands.

A leaf module, free of NumPy: the kernels cut their work with it, and the memory estimate
(which a `check` computes, never importing NumPy) sizes the workspace with the same figures,
so that the workspace it reports is the one `convcalc run` allocates.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager

Pair = tuple[int, int]

#: An im2col chunk: its columns and its output in about CACHE_BYTES, so that the epilogue
#: finds the output in cache (VGG16 conv1, 27 columns: 0.75× the time of one 16 MiB chunk),
#: but not fewer than GEMM_ROWS positions while the columns alone fit in CHUNK_BYTES (a GEMM
#: of 4608 columns runs at 130 GFLOP/s on 256 rows, 160 on 1024, here).
CACHE_BYTES, CHUNK_BYTES, GEMM_ROWS = 4 << 20, 16 << 20, 1024
#: a pooling's band of window rows, reduced before its columns are
POOL_BAND_BYTES = 512 << 10
#: Tiles a chunk: 3·C, at least 192 and at most 2048, and bytes at most. A chunk makes
#: α² + 2 BLAS calls and each call costs a hand-off between BLAS threads (a lot of it on a busy
#: machine), so chunks are not small; but a few C-sized chunks stay in cache. Measured here
#: (2 threads, 224×224×64 → 64): 192 tiles 42 ms, 2048 tiles 48 ms; at 112×112×128 the two
#: are within noise.
WINOGRAD_TILES, WINOGRAD_MIN_TILES, WINOGRAD_BYTES = 2048, 192, 64 << 20
#: the alignment of every named buffer in the arena's scratch region
ALIGN = 64
#: OpenBLAS runs a GEMM of at most this many multiply-adds (M·N·K) on the thread that calls
#: it (interface/gemm.c: SMP_THRESHOLD_MIN 65536 × GEMM_MULTITHREAD_THRESHOLD 4 and more;
#: NumPy 2.4's OpenBLAS 0.3.31 kept calls on one thread up to some 900,000 here): a kernel's
#: own threads share such GEMMs, else they all run on one core
BLAS_SINGLE = 1 << 19
#: ... from this many multiply-adds in all: handing work to a thread and back costs some
#: 30 µs (60 on a busy machine), the time of about a million multiply-adds in small GEMMs
SHARED_MIN = 1 << 21


def im2col_budget(j: int, k: int, itemsize: int) -> int:
    """Bytes of one im2col chunk, counting j columns (FH·FW·C/groups) and k outputs for each
    output position: CACHE_BYTES, or GEMM_ROWS positions if those fit in CHUNK_BYTES."""
    row = (j + k) * itemsize
    positions = max(1, CACHE_BYTES // row, min(CHUNK_BYTES // (j * itemsize), GEMM_ROWS))
    return positions * row


#: an ungrouped stride-1 conv whose filter rows hold at most this many values (FW·C: 15 for a
#: 5×5 on RGB, 5 for LeNet's 5×5 on one channel) copies its im2col columns channel-major
#: (see ``channel_major``)
CHANNEL_RUN = 16


def channel_major(fw: int, c: int, groups: int, stride: Pair, pointwise: bool) -> bool:
    """Whether conv2d copies its columns channel-major: from a (C, N, H, W) copy of the
    padded input, column (c, fy, fx) a run of Wo values at a time, rather than each position's
    FW·C values at a time from the (N, H, W, C) input; the GEMM then reads them transposed
    (10–30% slower than straight). NumPy's copy costs some 10 ns a run, so short filter rows
    make the usual copy mostly overhead: one thread, ReLU included, ms, usual / channel-major:
    5×5 on 8×32×32×1 → 6 0.46 / 0.24, 3×3 on 8×32×32×3 → 32 0.61 / 0.50, 5×5 on 8×32×32×3
    → 32 1.06 / 0.97. A strided conv reads every S-th value of those runs and gains nothing
    (3×3 s2 on 8×224×224×3 → 32 6.6 / 6.0 on one thread, 8.5 / 8.4 on two) or loses (4×4
    s4 on 224×224×3 → 96 0.51 / 0.57 at batch 1, 4.5 / 5.0 at batch 8)."""
    return groups == 1 and stride == (1, 1) and not pointwise and fw * c <= CHANNEL_RUN


def largest_chunk(n: int, rows: int, row_bytes: int, budget: int) -> tuple[int, int]:
    """(images, rows) of the biggest piece ``chunks`` yields: whole images while one fits in
    ``budget``, else a band of rows of one image."""
    per_image = rows * row_bytes
    if per_image <= budget:
        return min(n, max(1, budget // max(per_image, 1))), rows
    return 1, min(rows, max(1, budget // max(row_bytes, 1)))


#: Winograd needs at least this many input channels: below it the transforms cost more than
#: the multiplications they save. 2 threads, outside a pass, im2col ÷ F(4×4), three runs each,
#: ReLU fused: 8×32×32×32 → 32 0.72–0.87, 4×32×32×32 0.68–0.72, 1×64×64×32 0.69,
#: 1×112×112×32 0.67–0.73, inception-v3's 1×149×149×32 → 32 0.60–0.73 and 1×147×147×32 → 64
#: 0.67–0.72, googlenet's 8×28×28×16 → 32 0.54–0.59 and 8×28×28×32 → 64 0.70–0.72,
#: squeezenet's 1×54×54×16 → 64 0.47–0.52 and 1×54×54×32 → 128 0.80–0.94; at 48 channels
#: mixed (8×32×32×48 → 48 0.84–0.86, 8×27×27×48 → 192 1.02–1.08); from 64 mostly Winograd
#: (8×32×32×64 1.07–1.12, 1×56×56×64 0.89–0.98, 2×56×56×64 0.93–0.99). Whole passes,
#: processes alternating, this threshold ÷ 16: cs231n-pattern b8 0.77, 0.74, 0.92, 0.94, 0.90,
#: 0.99, 1.01; squeezenet1-0 b1 0.90, 0.83, 0.97, b8 0.98, 0.95, 0.98; squeezenet1-1 b1 0.95,
#: 0.96, 0.95; pattern-3x-conv-conv-pool b8 0.97, 0.94, 0.77
WINOGRAD_MIN_CHANNELS = 64


def winograd_pays(n: int, h: int, w: int, c: int, m: int = 4) -> bool:
    """Whether F(m×m, 3×3) beats im2col for this input, as measured here (2 threads): it
    needs some 150 tiles to keep its small GEMMs efficient (56×56 at batch 1: yes, 1.5× faster;
    28×28 at batch 1, 49 tiles: no, 1.6× slower; at batch 4: yes), ``WINOGRAD_MIN_CHANNELS``
    channels, and tiles that do not overhang the output much."""
    ty, tx = -(-h // m), -(-w // m)
    return c >= WINOGRAD_MIN_CHANNELS and n * ty * tx >= 150 and ty * tx * m * m <= 1.6 * h * w


def winograd_tile(n: int, h: int, w: int, c: int) -> int:
    """The m of the Winograd F(m×m, 3×3) that runs a 3×3 stride-1 conv on n images of h×w×c
    fastest here, 0 for im2col: 4 where it pays; else 2 (2.25× fewer multiplications, tiles a
    quarter the size, so four times as many) for wide inputs where that gives 150 tiles,
    measured (2 threads) on 28×28×512 at batch 1 (30 ms, im2col 35, F(4×4) 48) and 14×14×512
    at batch 8 (53 ms, im2col 77); on 28×28×256 the three are within noise."""
    if winograd_pays(n, h, w, c, 4):
        return 4
    if c >= 384 and winograd_pays(n, h, w, c, 2):
        return 2
    return 0


def winograd_chunk_bytes(c: int, k: int, itemsize: int, m: int = 4) -> int:
    """The bytes one chunk of ``conv3x3_winograd`` aims at, C input and K output channels."""
    tiles = min(WINOGRAD_TILES, max(WINOGRAD_MIN_TILES, 3 * c))
    return min(tiles * (m + 2) ** 2 * (2 * c + k) * itemsize, WINOGRAD_BYTES)


# -- a stride-1 conv with few outputs: one GEMM over its taps, then shifted sums -----------

#: the taps' products (Z) of one unit of ``kernels.conv_taps`` hold about this many values
#: (1 MiB in float32, a core's L2 here)
TAPS_UNIT_VALUES = 1 << 18
#: ``conv_taps`` takes ungrouped stride-1 convs of at most this many outputs ...
TAPS_MAX_OUT = 64
#: ... on at least this many inputs: the taps' GEMM multiplies C columns, and on 32 it lost
#: to im2col (2 threads, the engine owning them, ms: 8×32×32×32 → 32 4.6 against 3.2,
#: 8×16×16×32 → 32 1.4 against 0.9)
TAPS_MIN_IN = 64


def taps_conv(hw: Pair, c: int, k: int, size: Pair, stride: Pair, groups: int, pads: Pair) -> bool:
    """Whether a conv on h×w×c inputs runs through ``kernels.conv_taps``: ungrouped, stride 1,
    more than one tap, at most ``TAPS_MAX_OUT`` outputs on at least ``TAPS_MIN_IN`` inputs,
    padding (``pads``: top + bottom, left + right) that keeps the output as large as the input
    (so that the taps' products are computed at as many positions as the output has), and
    one image's products within ``TAPS_UNIT_VALUES``: in bands of rows, each computing the
    products of the rows its neighbours' taps also read, it lost to Winograd (DenseNet-121's
    3×3 128 → 32 convs at 56×56 in a pass, 2 threads, ms for its six: batch 1 24.8 against
    16.8, batch 8 169 against 104)."""
    return (
        hw[0] * hw[1] * size[0] * size[1] * k <= TAPS_UNIT_VALUES
        and groups == 1
        and stride == (1, 1)
        and size[0] * size[1] > 1
        and k <= TAPS_MAX_OUT
        and c >= TAPS_MIN_IN
        and pads[0] >= size[0] - 1
        and pads[1] >= size[1] - 1
    )


def taps_units(n: int, h: int, w: int, taps: int, k: int) -> int:
    """Images in one unit of ``conv_taps``: as many as their products (h·w·taps·k values an
    image) fit in ``TAPS_UNIT_VALUES``, at least one, and no more than leave a unit to each
    of the engine's threads."""
    per_image = h * w * taps * k
    return max(1, min(TAPS_UNIT_VALUES // per_image, -(-n // threads())))


def taps_scratch(n: int, h: int, w: int, ho: int, wo: int, taps: int, k: int, itemsize: int) -> int:
    """Bytes of ``conv_taps``'s scratch: one unit's products for each thread, and its sums
    (used when the output is channels of a CAT's)."""
    images = taps_units(n, h, w, taps, k)
    per_thread = images * (h * w * taps + ho * wo) * k * itemsize
    return min(threads(), -(-n // images)) * per_thread


# -- the direct depthwise and grouped kernels, and a 1×1 CONV's prologue --------------------

#: output bytes of one band: with its input it about fills a core's 1 MiB L2. CPU time here,
#: one thread, 64/192/512 KiB: 112×112×32 at batch 8 10.0/7.6/7.5 ms, 56×56×144 11.8/8.5/6.8
#: ms, 14×14×576 2.8/2.3/1.8 ms (the im2col kernel before: 22.3, 15.2, 3.5 ms)
DEPTHWISE_BYTES = 512 << 10


def threads() -> int:
    """Threads for kernels that NumPy runs on one core (CONVCALC_THREADS, else the BLAS
    thread count the environment sets, else the cores); while a pass runs, the count it read
    at its start (``pinned_threads``)."""
    if _PINNED[1]:
        return _PINNED[0]
    for var in ("CONVCALC_THREADS", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"):
        value = os.environ.get(var, "")
        if value.isdigit() and int(value) > 0:
            return int(value)
    return _CORES


#: os.cpu_count() reads /proc each call, and the workspace estimate asks once per row
_CORES = os.cpu_count() or 1
#: [the count ``threads()`` gives while passes run, how many run]
_PINNED = [0, 0]
_PIN_LOCK = threading.Lock()


@contextmanager
def pinned_threads() -> Iterator[int]:
    """``threads()`` read once for a pass and given from memory until it ends: the kernels
    ask it several times a step, and reading the environment costs 1.3 µs a time with
    CONVCALC_THREADS set and 4.4 µs with none of the three set, and a pass of
    mobilenet-v3-large asks 184 times. Passes running together share the count the first
    one read."""
    with _PIN_LOCK:
        if not _PINNED[1]:
            _PINNED[0] = threads()
        _PINNED[1] += 1
        count = _PINNED[0]
    try:
        yield count
    finally:
        with _PIN_LOCK:
            _PINNED[1] -= 1


def depthwise_budget(n: int, ho: int, row_bytes: int, workers: int) -> int:
    """Bytes of a band of ``depthwise2d``: at most DEPTHWISE_BYTES, in a number of bands that
    ``workers`` threads share evenly (a 14×14×384 output, 301 KiB at batch 1, was one band,
    on one thread; 56×56×96, 1.2 MiB, three, two for one thread and one for the other)."""
    total = n * ho * row_bytes
    bands = -(-total // DEPTHWISE_BYTES)
    bands = -(-bands // workers) * workers
    return max(row_bytes, -(-total // bands))


#: a depthwise conv of fewer multiply-adds runs as one band on the calling thread: each band
#: costs some 30 µs of Python (its copy, view and sums), a hand-off to another thread 15–25
#: µs more, and the bands' Python parts hold the GIL. CPU time here, batch 1, one band
#: against two (2 threads): 7×7×16 3×3 42/74 µs, 7×7×960 3×3 136/177 µs, 14×14×384 3×3
#: 186/214 µs
DEPTHWISE_THREADED_MACS = 1 << 20


def depthwise_threads(n: int, ho: int, wo: int, k: int, size: Pair) -> int:
    """Threads (and at least as many bands) a depthwise conv is cut for: ``threads()``, or 1
    below DEPTHWISE_THREADED_MACS."""
    macs = n * ho * wo * k * size[0] * size[1]
    return threads() if macs >= DEPTHWISE_THREADED_MACS else 1


#: the least output channels for which a strided depthwise conv sums along K (see below)
DEPTHWISE_STRIDED_K = 128
#: ... and the widest output of a stride-1 one that does
DEPTHWISE_NARROW = 7


def depthwise_strided(sx: int, k: int, wo: int) -> bool:
    """Whether ``depthwise2d`` copies a strided conv's band as it is and sums along K (the
    taps Sx columns apart), rather than split by stride phase (each tap then a contiguous
    run of Wo·K). The phase copies gather K values at a time, 4× slower than a plain copy
    here; sums along K are slower than along Wo·K, the more so the fewer channels. CPU time,
    one thread, phases / along K, batch 8: 56×56×144 5×5 s2 7.9/6.5 ms, 3×3 4.4/3.5,
    28×28×240 3×3 1.60/1.09, 14×14×576 3×3 0.70/0.53; but 112×112×96 3×3 (batch 1)
    1.49/1.74, 56×56×72 5×5 4.3/6.1, 112×112×16 3×3 2.5/5.5. Stride 1 needs no phase copy:
    along K there is 0.62× (56×56×96 7×7) to 1.05× (7×7×768 7×7) as fast, and on outputs at
    most ``DEPTHWISE_NARROW`` wide of that many channels it wins by not tiling the weights
    along Wo (one thread, batch 1, ms, phases / along K: 7×7×768 7×7 0.51/0.45, 7×7×1152 5×5
    0.36/0.30; 14×14×384 7×7 0.94/0.90 is a tie, 28×28×240 5×5 0.95/1.13 is not)."""
    return k >= DEPTHWISE_STRIDED_K and (sx > 1 or wo <= DEPTHWISE_NARROW)


#: values a row of a stride-1 ``depthwise2d``'s tiled weights holds, about: the einsum's inner
#: loop runs over that many, the output columns in blocks of Wb (a divisor of Wo) times K,
#: where the whole Wo·K runs past the L1 cache and the tiled weights read for each band grow
#: to F·F·Wo·K values. One thread, GFLOP/s of the einsum on one band, inner 384/768/1344/
#: 2688/5376 values: 7×7 at 28×28×192 12.4/14.2/14.0/13.5/–, 56×56×96 12.5/14.0/14.0/–/12.5
#: (672: 13.8), 14×14×384 12.0/13.8/–/12.4/12.2; 3×3 at 28×28×192 10.2/11.6/12.4/12.4/11.6,
#: at 56×56×144 (576/1152/2016/4032/8064) 11.1/12.3/12.4/11.1/11.2. The kernel, one thread,
#: ms, Wo·K → this: 7×7 at 56×56×96 2.62 → 2.36, 28×28×192 1.34 → 1.20, 14×14×384 0.70 →
#: 0.63; 5×5 at 14×14×672 0.71 → 0.61; 3×3 at 112×112×32 0.86 → 0.80 (batch 1). A strided
#: conv keeps Wo·K: its phases' einsums sum fewer taps each, and 3×3 stride 2 at 112×112×96
#: went from 1.03 to 1.23–1.32 ms in blocks (benchmarks/depthwise_limits.py)
DEPTHWISE_INNER = 1536


def depthwise_block(wo: int, k: int, sx: int) -> int:
    """The output columns (Wb, a divisor of ``wo``) one row of ``depthwise2d``'s tiled weights
    spans: at stride 1, Wb·K closest to DEPTHWISE_INNER (the larger on a tie); else ``wo``."""
    if sx > 1:
        return wo
    divisors = [d for d in range(1, wo + 1) if wo % d == 0]
    return min(divisors, key=lambda d: (abs(d * k - DEPTHWISE_INNER), -d))


def depthwise_band(n: int, ho: int, wo: int, k: int, itemsize: int, workers: int) -> Pair:
    """(images, output rows) of the largest band (see ``chunks.largest_chunk``)."""
    row_bytes = wo * k * itemsize
    return largest_chunk(n, ho, row_bytes, depthwise_budget(n, ho, row_bytes, workers))


def depthwise_scratch(
    n: int, out_hw: Pair, k: int, size: Pair, stride: Pair, dilation: Pair, itemsize: int
) -> dict[str, int]:
    """Bytes of the arena slots ``depthwise2d`` takes: for each thread, its band of the
    input by phase and a partial sum; and the tiled weights (``depthwise_block``)."""
    (ho, wo), (fh, fw), (sy, sx), (dy, dx) = out_hw, size, stride, dilation
    workers = depthwise_threads(n, ho, wo, k, size)
    images, rows = depthwise_band(n, ho, wo, k, itemsize, workers)
    rows_in = (rows - 1) * sy + dy * (fh - 1) + 1
    if depthwise_strided(sx, k, wo):  # one band of padded columns, no tiled weights, no sum
        q, phases, out = (wo - 1) * sx + dx * (fw - 1) + 1, 1, {}
    else:
        q, phases = wo + (fw - 1) * dx // sx, min(sx, fw)
        out = {"dw_w": (fh * fw + 1) * depthwise_block(wo, k, sx) * k * itemsize}
    band = images * rows_in * q * k * phases * itemsize
    tmp = images * rows * wo * k * itemsize if phases > 1 else 0
    for t in range(min(workers, n * ho)):
        out[f"dw_band{t}"] = band
        if tmp:
            out[f"dw_sum{t}"] = tmp
    return out


def prologue_bytes(n: int, h: int, w: int, c: int, k: int, itemsize: int, ones: int = 0) -> int:
    """Bytes of the chunk a 1×1 conv or a LINEAR transforms its input in (see ``conv2d``'s
    and ``linear``'s prologue), ``ones`` more columns (a LINEAR's column of ones for its
    bias) after the input's ``c``."""
    row_bytes = w * max(c, k) * itemsize
    images, rows = largest_chunk(n, h, row_bytes, im2col_budget(c, k, itemsize))
    return images * rows * w * (c + ones) * itemsize


# -- grouped convolutions of more than one channel a group: one batched GEMM -----------------

#: the least positions a chunk of ``grouped_gemm2d`` holds, however wide its columns
GROUPED_MIN_ROWS = 64


def grouped_merge(groups: int, cg: int) -> int:
    """Groups merged into one block-diagonal GEMM (B): 1 from 8 channels a group on, else the
    largest divisor of ``groups`` up to 8 / Cg. CPU time here, one thread, ResNeXt's 3×3 at
    56×56×128, Cg 4, batch 8: B 1/2/4/8 36/29/28/40 ms; at 28×28×256, Cg 8: 10/15/25/34 ms
    (B× the multiplications buy larger GEMMs, which pays only while they are tiny)."""
    b = max(1, 8 // cg)
    while groups % b:
        b -= 1
    return b


def grouped_gemm_budget(j: int, k: int, itemsize: int) -> int:
    """Bytes of one chunk of ``grouped_gemm2d``, j the columns of every group together
    (FH·FW·C), k the outputs: its columns and outputs in CACHE_BYTES (with 1024-position
    chunks, 7×7×1024 Cg 32 at batch 8 took 6.2 ms, 4.2 with these), GROUPED_MIN_ROWS at
    least."""
    row = (j + k) * itemsize
    return max(GROUPED_MIN_ROWS, CACHE_BYTES // row) * row


def grouped_gemm_scratch(
    n: int, in_hw: Pair, pads: Pair, out_hw: Pair, c: int, k: int, groups: int,
    size: Pair, itemsize: int,
) -> dict[str, int]:  # fmt: skip
    """Bytes of the arena slots ``grouped_gemm2d`` takes: the padded images of a chunk split
    by super-group ("planes") and a chunk of columns; and the block-diagonal weights, which
    the forward pass prepares outside the arena for the layer's step alone ("temp")."""
    (h, w), (ph, pw), (ho, wo), (fh, fw) = in_hw, pads, out_hw, size
    b = grouped_merge(groups, c // groups)
    j = fh * fw * c
    budget = grouped_gemm_budget(j, k, itemsize)
    images, rows = largest_chunk(n, ho, wo * (j + k) * itemsize, budget)
    return {
        "planes": images * (h + ph) * (w + pw) * c * itemsize,
        "cols": images * rows * wo * j * itemsize,
        "temp": fh * fw * c * b * (k // groups) * itemsize,
    }
