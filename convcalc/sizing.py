"""How big the forward pass's pieces of work are: im2col chunks, Winograd tiles, pooling bands.

A leaf module, free of NumPy: the kernels cut their work with it, and the memory estimate
(which a `check` computes, never importing NumPy) sizes the workspace with the same figures,
so that the workspace it reports is the one `convcalc run` allocates.
"""

from __future__ import annotations

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


def im2col_budget(j: int, k: int, itemsize: int) -> int:
    """Bytes of one im2col chunk, counting j columns (FH·FW·C/groups) and k outputs for each
    output position: CACHE_BYTES, or GEMM_ROWS positions if those fit in CHUNK_BYTES."""
    row = (j + k) * itemsize
    positions = max(1, CACHE_BYTES // row, min(CHUNK_BYTES // (j * itemsize), GEMM_ROWS))
    return positions * row


def largest_chunk(n: int, rows: int, row_bytes: int, budget: int) -> tuple[int, int]:
    """(images, rows) of the biggest piece ``chunks`` yields: whole images while one fits in
    ``budget``, else a band of rows of one image."""
    per_image = rows * row_bytes
    if per_image <= budget:
        return min(n, max(1, budget // max(per_image, 1))), rows
    return 1, min(rows, max(1, budget // max(row_bytes, 1)))


def winograd_pays(n: int, h: int, w: int, c: int, m: int = 4) -> bool:
    """Whether F(m×m, 3×3) beats im2col for this input, as measured here (2 threads): it
    needs some 150 tiles to keep its small GEMMs efficient (56×56 at batch 1: yes, 1.5× faster;
    28×28 at batch 1, 49 tiles: no, 1.6× slower; at batch 4: yes), more than a few channels,
    and tiles that do not overhang the output much."""
    ty, tx = -(-h // m), -(-w // m)
    return c >= 16 and n * ty * tx >= 150 and ty * tx * m * m <= 1.6 * h * w


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
