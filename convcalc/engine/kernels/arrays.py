"""Where the arrays of a pass come from: an :class:`Arena` of reused buffers, and He-initialised
random weights. ``alloc`` and ``scratch`` fall back to fresh arrays when a kernel runs without an
arena (as the tests call them).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import cache
from typing import Any

import numpy as np
import numpy.typing as npt
from numpy.lib.stride_tricks import as_strided

from ...sizing import ALIGN, threads

Array = npt.NDArray[Any]


class Arena:
    """Reusable buffers, so that a pass pages its big temporaries in once.

    ``scratch(name, ...)`` is a named workspace of the current step (the padded input, the
    im2col chunk), carved from one region that every step reuses: the workspace of a pass is
    that of its largest step, not the sum of every buffer it ever needed. ``begin(step)``
    starts a step; ``reserve()`` sizes the region from the plan. ``take``/``give`` recycle
    activation buffers by size; ``place()`` gives steps planned slots of one more region
    (see ``engine.layout``), which ``take`` hands out first. ``reserve`` and ``place``
    page their regions in at once, before any step runs.
    """

    ALIGN = ALIGN  # every named buffer starts at a multiple of this

    def __init__(self) -> None:
        self.region = np.empty(0, np.uint8)
        self.used: dict[str, Array] = {}
        self.offset = 0
        self.free: list[Array] = []
        self.owned: set[int] = set()
        self.outputs = np.empty(0, np.uint8)
        self.slots: dict[int, tuple[int, int]] = {}
        self.views: dict[int, tuple[int, int, int]] = {}
        self.step = -1

    @staticmethod
    def _paged(nbytes: int) -> Array:
        """A region paged in now, not in the first step that writes it."""
        region = np.empty(nbytes, np.uint8)
        region.fill(0)
        return region

    def reserve(self, nbytes: int) -> None:
        if nbytes > self.region.nbytes:
            self.region = self._paged(nbytes)

    def place(
        self,
        slots: Mapping[int, tuple[int, int]],
        nbytes: int,
        views: Mapping[int, tuple[int, int, int]] | None = None,
    ) -> None:
        """Step -> (offset, bytes) of its output in a region of ``nbytes``; ``views``: step
        -> (offset, bytes, first channel) of an output that is channels of a wider array
        there (a CAT's, whose inputs are computed into it)."""
        self.outputs = self._paged(nbytes)
        self.slots = dict(slots)
        self.views = dict(views or {})

    def begin(self, step: int = -1) -> None:
        """A new step: its scratch may reuse everything the previous steps used."""
        self.used.clear()
        self.offset = 0
        self.step = step

    def scratch(self, name: str, shape: Sequence[int], dtype: npt.DTypeLike) -> Array:
        dt = np.dtype(dtype)
        nbytes = math.prod(shape) * dt.itemsize
        buf = self.used.get(name)
        if buf is None or buf.nbytes < nbytes:
            start = -(-self.offset // self.ALIGN) * self.ALIGN
            if start + nbytes <= self.region.nbytes:
                buf = self.region[start : start + nbytes]
                self.offset = start + nbytes
            else:  # beyond the reservation: a buffer of its own, for this step
                buf = np.empty(max(nbytes, 64), np.uint8)
            self.used[name] = buf
        return buf[:nbytes].view(dt).reshape(shape)

    def take(self, shape: Sequence[int], dtype: npt.DTypeLike) -> Array:
        dt = np.dtype(dtype)
        nbytes = math.prod(shape) * dt.itemsize
        slot = self.slots.get(self.step)
        if slot is not None and slot[1] == nbytes:  # the step's planned output
            del self.slots[self.step]
            return self.outputs[slot[0] : slot[0] + nbytes].view(dt).reshape(shape)
        view = self.views.get(self.step)
        if view is not None and len(shape) == 4:  # channels of a wider planned array
            offset, size, channel = view
            positions = math.prod(shape[:3]) * dt.itemsize
            depth = size // positions if positions else 0
            if depth * positions == size and channel + shape[3] <= depth:
                del self.views[self.step]
                whole = self.outputs[offset : offset + size].view(dt)
                return whole.reshape(*shape[:3], depth)[..., channel : channel + shape[3]]
        fits = [b for b in self.free if nbytes <= b.nbytes <= 2 * nbytes + (1 << 16)]
        if fits:
            buf = min(fits, key=lambda b: b.nbytes)
            self.free = [b for b in self.free if b is not buf]
        else:
            buf = np.empty(max(nbytes, 64), np.uint8)
            self.owned.add(id(buf))
        return buf[:nbytes].view(dt).reshape(shape)

    def give(self, x: Array) -> None:
        """Return the buffer under ``x`` (if it came from ``take``) for reuse."""
        base = x
        while isinstance(base.base, np.ndarray):
            base = base.base
        if id(base) in self.owned and all(b is not base for b in self.free):
            self.free.append(base)


def alloc(arena: Arena | None, shape: Sequence[int], dtype: npt.DTypeLike) -> Array:
    return arena.take(shape, dtype) if arena is not None else np.empty(shape, dtype)


def scratch(arena: Arena | None, name: str, shape: Sequence[int], dtype: npt.DTypeLike) -> Array:
    return arena.scratch(name, shape, dtype) if arena is not None else np.empty(shape, dtype)


def he_uniform(rng: np.random.Generator, shape: Sequence[int], fan_in: int, dtype: Any) -> Array:
    """He/Kaiming initialisation, uniform: U(−a, a) with a = sqrt(6/fan_in), so the variance
    is 2/fan_in; drawn in float32 from ``rng`` (three times faster than normal draws)."""
    a = np.float32(math.sqrt(6.0 / max(fan_in, 1)))
    w = rng.random(tuple(shape), dtype=np.float32)
    w *= 2 * a
    w -= a
    return w.astype(dtype, copy=False)


#: per thread: whether it runs a step alone (``gemm.alone``)
_state = threading.local()


def solo() -> bool:
    """Whether this thread runs a step alone (``gemm.alone``: a step too small to pay a
    hand-off): its kernels share nothing with the engine's threads then."""
    return bool(getattr(_state, "solo", False))


def set_solo(on: bool) -> bool:
    """Mark this thread as running a step alone, or not; returns what it was."""
    was = solo()
    _state.solo = on
    return was


def workers() -> int:
    """The threads a kernel may share its work between: ``threads()``, or 1 while this
    thread runs a step alone."""
    return 1 if solo() else threads()


def pool_thread() -> bool:
    """Whether this is one of the engine's pool threads (named ``convcalc…``), whose
    temporaries come from an allocator arena of their own (see ``elementwise.EW_WHOLE_BYTES``)."""
    return threading.current_thread().name.startswith("convcalc")


def engine_thread() -> bool:
    """Whether this thread runs a share of some work (``spread``): one of the engine's pool
    threads (named ``convcalc…``), or the calling thread while it runs its own share. Work
    that would share itself out again (a GEMM, a blocked activation in an epilogue) runs
    inline there, as the share it is part of already has a core: handed to a pool thread, it
    would wait for that thread's own share to end first."""
    return bool(getattr(_state, "share", False)) or pool_thread()


@cache
def pool(n: int) -> ThreadPoolExecutor:
    """The engine's own threads, n of them, for the work BLAS does not thread."""
    return ThreadPoolExecutor(n, thread_name_prefix="convcalc")


def spread(run: Callable[[int], None], workers: int, here: bool = False) -> None:
    """run(0) … run(workers − 1): run(0) on the calling thread and each other on one of the
    engine's threads, one hand-off apiece (``Executor.map`` costs two, and its calling thread
    sits idle meanwhile: 96 µs median here for two no-ops, against 24). Inside a share (on
    one of the engine's threads, or on the calling thread while it runs run(0):
    ``engine_thread``), all of them run there: the share already has its core, and a piece
    handed on would wait for the other shares to end (a 1×1 conv's GEMM shares with a SiLU
    after them, 2 threads, the pass owning them: 112×112×16 → 96 3.3 → 2.5 ms a call, 56×56×24
    → 144 1.34 → 0.97); so they do in a step run alone (``solo``), and when the caller says
    ``here``."""
    if workers == 1 or here or solo() or engine_thread():
        for i in range(workers):
            run(i)
        return
    futures = [pool(workers - 1).submit(run, i) for i in range(1, workers)]
    _state.share = True
    try:
        run(0)
    finally:
        _state.share = False
    for f in futures:
        f.result()


def _clip_ufunc() -> Callable[..., Array]:
    """NumPy's clip ufunc where this NumPy has one (``numpy._core.umath.clip``, since 1.17),
    else ``np.clip``, which wraps it in Python that costs some 3 µs a call: 5.4 µs against
    2.6 on 960 float32 values here, and a fused step calls it once per chunk of its output
    for its ReLU, and again in its ReLU6 or hardswish. Same values, NaN kept."""
    found = getattr(getattr(getattr(np, "_core", None), "umath", None), "clip", None)
    return found if isinstance(found, np.ufunc) else np.clip


#: clip(x, lo, hi, out=...): ``np.clip``'s values without its Python wrapper (``_clip_ufunc``)
clip = _clip_ufunc()


def positive(x: Array, out: Array | None = None) -> Array:
    """max(x, 0), the ReLU; ``out`` may be ``x``.

    As clip(x, 0, ∞): NumPy's maximum against a scalar takes a slow loop (the 0 broadcast
    with stride 0), and clip with two bounds has fast loops of its own. One thread, ns a
    value, maximum / clip: 0.46 / 0.19 on 65536 float32, 0.46 / 0.13 on 2²⁰, 0.40 / 0.15 in
    place on 8×56×56×384; on Winograd's strided tiles (4×14×4×14×4×64) 679 / 91 µs, where a
    copy takes 73. NaN stays NaN."""
    return clip(x, 0, np.inf, out=out)


def runs(a: Array) -> Array:
    """``a`` (its last axis contiguous) with that axis read as one element of raw bytes: the
    same memory, shape (..., 1). NumPy copies a strided array a run of its last axis at a
    time, at a cost per run; the patch and split copies move runs of a few to a few hundred
    values, which as single elements copy up to 2× faster (13 planes of 8 channels from
    8×28×28×104: 0.41 -> 0.21 ms; a grouped patch copy of 26 super-groups at 2×14×14: 0.23 ->
    0.15 ms; im2col patches a filter row an element, ms, plain / as runs: 3×3 s2 on
    8×224×224×3 2.78 / 2.01, 7×7 s2 on 1×224×224×3 0.70 / 0.34, 3×3 on 8×32×32×32 0.38 /
    0.34, on 8×14×14×256 0.74 / 0.74; one thread)."""
    return a.view(np.dtype((np.void, a.shape[-1] * a.itemsize)))


def strided_view(x: Array, shape: Sequence[int], strides: Sequence[int]) -> Array:
    """A read-only view of x's memory with this shape and these strides, as NumPy's
    ``as_strided(x, shape, strides, writeable=False)`` makes it, in a third of its time (µs,
    an im2col view of 34×34×32: 1.5–2.5 against 6.4): built on the buffer of the array that
    owns the memory, at x's offset in it; through ``as_strided`` when that array has no
    buffer of one piece. A C-contiguous x is that buffer itself: 0.6 µs instead of 6.7."""
    if x.flags.c_contiguous:
        try:
            view: Array = np.ndarray(tuple(shape), x.dtype, x, 0, tuple(strides))
        except (TypeError, ValueError):  # no buffer NumPy can take (or not all of the view)
            pass
        else:
            view.flags.writeable = False
            return view
    base = x
    while isinstance(base.base, np.ndarray):
        base = base.base
    if not base.flags.c_contiguous:
        view = as_strided(x, shape, strides, writeable=False)
        return view
    offset = x.__array_interface__["data"][0] - base.__array_interface__["data"][0]
    view = np.ndarray(tuple(shape), x.dtype, base, offset, tuple(strides))
    view.flags.writeable = False
    return view
