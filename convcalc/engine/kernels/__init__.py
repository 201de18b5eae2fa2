"""NumPy kernels for a forward pass: one small function per layer type, a module per family.

Arrays are NHWC, ``N, H, W, C = x.shape``, and every pair here is (height, width), the order
of the array axes (specs write (width, height); the layer classes swap them when they call
a kernel). Convolution weights are HWIO, ``FH, FW, C // groups, K = w.shape``. Each kernel
computes its output size from its own arithmetic, so that the forward pass checks the analysis
instead of copying it.

Convolutions are im2col + GEMM, CS231n style, with two twists for speed: the patch matrix is
a strided view of the (padded) input, copied a chunk of output rows at a time into a reused
buffer, so that the buffer stays a few MB whatever the batch or image size; and what follows
the GEMM (bias, a folded batch norm, an activation, a residual add) runs on each chunk while
it is still in cache (``epilogue``).

- ``arrays``: the :class:`Arena` of reused buffers, ``he_uniform``, the engine's threads
  (``spread``) and whether this thread runs a step alone (``solo``, see ``gemm.alone``)
- ``chunks``: window counts, padding, the im2col view, chunks, epilogues (their sizes,
  with Winograd's, pooling's and the direct kernels', are ``convcalc.sizing``'s, which the
  memory estimate shares)
- ``conv``: ``conv2d`` (im2col), ``local2d``, ``conv_transpose2d``
- ``depthwise``: ``depthwise2d``, the direct kernel ``conv2d`` runs for one channel a group,
  on ``threads()`` threads
- ``grouped``: ``grouped_gemm2d``, other grouped convolutions as one batched GEMM
- ``sharing``: a chunk's copies, epilogues and small GEMMs shared between the engine's threads
- ``winograd``: F(4×4, 3×3) and F(2×2, 3×3), and when each pays
- ``pooling``: ``pool2d`` (max, avg, l2), ``adaptive_pool2d`` (avg, max)
- ``elementwise``: batch norm, layer norm (``normalise``: without its γ and β), the
  per-channel scale, the activations but GELU, LRN, ``multiply`` (MUL) and its ``Gate``
- ``gaussian``: ``gelu`` (float32 from ``gelu_tables``) and ``erf``
- ``resizing``: ``global_avg_pool``, ``fully_connected``, ``linear``, ``upsample_nearest``,
  ``channel_slice``, ``channel_shuffle``

This package re-exports every public name, so ``kernels.conv2d`` is the way to reach one.
"""

from __future__ import annotations

from ...sizing import (
    CACHE_BYTES,
    CHUNK_BYTES,
    GEMM_ROWS,
    POOL_BAND_BYTES,
    WINOGRAD_BYTES,
    WINOGRAD_MIN_TILES,
    WINOGRAD_TILES,
    im2col_budget,
    largest_chunk,
    prologue_bytes,
    winograd_chunk_bytes,
    winograd_pays,
    winograd_tile,
)
from .arrays import Arena, Array, he_uniform
from .chunks import (
    FOLD_RATIO,
    RELU,
    Epilogue,
    Pads,
    Pair,
    chunks,
    pad_nhwc,
    patches,
    window_count,
)
from .conv import conv2d, conv_transpose2d, local2d
from .depthwise import DEPTHWISE_BYTES, depthwise2d, depthwise_scratch, threads
from .elementwise import (
    Gate,
    batchnorm,
    bn_affine,
    elu,
    hardsigmoid,
    hardswish,
    layernorm,
    leaky_relu,
    lrn,
    multiply,
    normalise,
    relu,
    relu6,
    scale_channels,
    sigmoid,
    silu,
    silu_of_negated,
    softmax,
    tanh,
)
from .gaussian import erf, gelu, gelu_tables
from .grouped import block_diagonal, grouped_gemm2d, grouped_gemm_scratch, grouped_merge
from .pooling import adaptive_bins, adaptive_pool2d, pool2d
from .resizing import (
    channel_shuffle,
    channel_slice,
    fully_connected,
    global_avg_pool,
    linear,
    upsample_nearest,
)
from .winograd import (
    WINOGRAD,
    conv3x3_winograd,
    winograd_weights,
)

__all__ = [
    "CACHE_BYTES",
    "CHUNK_BYTES",
    "DEPTHWISE_BYTES",
    "FOLD_RATIO",
    "GEMM_ROWS",
    "POOL_BAND_BYTES",
    "RELU",
    "WINOGRAD",
    "WINOGRAD_BYTES",
    "WINOGRAD_MIN_TILES",
    "WINOGRAD_TILES",
    "Arena",
    "Array",
    "Epilogue",
    "Gate",
    "Pads",
    "Pair",
    "adaptive_bins",
    "adaptive_pool2d",
    "batchnorm",
    "block_diagonal",
    "bn_affine",
    "channel_shuffle",
    "channel_slice",
    "chunks",
    "conv2d",
    "conv3x3_winograd",
    "conv_transpose2d",
    "depthwise2d",
    "depthwise_scratch",
    "elu",
    "erf",
    "fully_connected",
    "gelu",
    "gelu_tables",
    "global_avg_pool",
    "grouped_gemm2d",
    "grouped_gemm_scratch",
    "grouped_merge",
    "hardsigmoid",
    "hardswish",
    "he_uniform",
    "im2col_budget",
    "largest_chunk",
    "layernorm",
    "leaky_relu",
    "linear",
    "local2d",
    "lrn",
    "multiply",
    "normalise",
    "pad_nhwc",
    "patches",
    "pool2d",
    "prologue_bytes",
    "relu",
    "relu6",
    "scale_channels",
    "sigmoid",
    "silu",
    "silu_of_negated",
    "softmax",
    "tanh",
    "threads",
    "upsample_nearest",
    "window_count",
    "winograd_chunk_bytes",
    "winograd_pays",
    "winograd_tile",
    "winograd_weights",
]
