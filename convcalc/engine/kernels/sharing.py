"""Work of a conv's chunk shared between the engine's threads (``threads()``): NumPy copies and
element-wise passes run on one core, and a GEMM too small for BLAS to thread does too, so a
kernel cuts such work into shares, runs one on the calling thread and the others on the
engine's pool, and waits for them. A chunk's shares are whole images when it holds several,
else bands of output rows; each carries its region of the output, so that an epilogue reading
another array (a residual ADD) reads the same region."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from itertools import pairwise
from typing import NamedTuple, TypeVar

import numpy as np

from .arrays import Array, spread
from .chunks import Epilogue, finish

#: a chunk's column copies and epilogues (or a 1×1 conv's epilogues: its output bytes) are
#: shared between the engine's threads from this many bytes of columns on: BLAS threads the
#: GEMM, and these would otherwise run on one core (a 3×3 stride-2 stem at batch 8, one
#: thread: 1.6 ms of copies and 2.0 of epilogues around 2.6 of GEMM); below, handing the work
#: over costs about what it saves
SHARED_BYTES = 256 << 10

T = TypeVar("T")

#: one thread's share of a chunk: its images, output rows and positions (rows of columns)
Share = tuple[slice, slice, slice]


def shares(n: int, rows: int, wo: int, workers: int) -> list[Share]:
    """A chunk of n images × ``rows`` output rows cut into ``workers`` shares: whole images
    when it holds several, else bands of rows (the chunk is one image's band then)."""
    if n > 1:
        k = min(workers, n)
        cuts = [n * i // k for i in range(k + 1)]
        return [(slice(a, c), slice(0, rows), slice(a * rows * wo, c * rows * wo))
                for a, c in pairwise(cuts)]  # fmt: skip
    k = min(workers, rows)
    cuts = [rows * i // k for i in range(k + 1)]
    return [(slice(0, 1), slice(a, c), slice(a * wo, c * wo))
            for a, c in pairwise(cuts)]  # fmt: skip


def shared(job: Callable[[T], None], parts: Sequence[T]) -> None:
    """job(part) for every part: the first on this thread, the others on the engine's."""
    spread(lambda i: job(parts[i]), len(parts))


def within(outer: slice, inner: slice) -> slice:
    """A share's images or rows (``inner``, counted from the chunk's first) in the whole
    output, the chunk's being ``outer``."""
    return slice(outer.start + inner.start, outer.start + inner.stop)


class Finish(NamedTuple):
    """A chunk's bias and epilogues, a share at a time."""

    y: Array  # (n, rows, Wo, K)
    images: slice
    rows: slice
    b: Array | None
    epilogue: Sequence[Epilogue]

    def run(self, part: Share) -> None:
        i, r, _ = part
        region = (within(self.images, i), within(self.rows, r))
        finish(self.y[i, r], region, self.b, self.epilogue)


class GemmShare(NamedTuple):
    """A share of a chunk in one hand-off while the engine owns the threads (``gemm``): its
    columns (``before``), its rows of the GEMM, then its epilogues (``after``), while they are
    in cache; three hand-offs and joins otherwise (copies, the GEMM cut by ``gemm``, the
    epilogues)."""

    before: Callable[[Share], None] | None
    a: Array  # (positions, J), the chunk's columns
    w: Array  # (J, K)
    y: Array  # (positions, K), the chunk's output
    after: Callable[[Share], None]

    def run(self, part: Share) -> None:
        if self.before is not None:
            self.before(part)
        m = part[2]
        np.matmul(self.a[m], self.w, out=self.y[m])
        self.after(part)
