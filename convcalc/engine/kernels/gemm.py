"""Every GEMM of the pass, on the engine's own threads.

OpenBLAS's worker threads keep spinning for a while after each GEMM and take the second core
from the engine's threads (depthwise bands, shared copies and epilogues, LN): a 7×7 depthwise
conv at 8×56×56×96, on two threads, took 23.1 ms right after a GEMM and 18.2 ms after a pause
or with OpenBLAS on one thread. So while a pass runs on T > 1 threads (``own_threads``),
OpenBLAS runs on one, and ``gemm`` cuts each GEMM big enough to pay a hand-off into T shares
on the engine's threads (np.matmul releases the GIL): the output's rows when there are many,
else its columns (49×768×3072 split by rows: 2.26 ms against OpenBLAS's own 1.58; by rows of
25088×96×384, 1568×384×1536 or 392×768×3072 as fast as OpenBLAS's two threads), or the stack
of a batched product. The hand-off costs more than OpenBLAS's, so small passes keep
OpenBLAS's threads (``OWN_THREADS_MACS``). ``CONVCALC_BLAS=engine`` or ``blas`` forces either
(the switch is read at each pass); a NumPy whose OpenBLAS cannot be found keeps BLAS's.
"""

from __future__ import annotations

import ctypes
import glob
import os
import threading
from collections.abc import Callable
from functools import cache
from typing import Any

import numpy as np

from ...sizing import BLAS_SINGLE, threads
from .arrays import Array, engine_thread, set_solo, solo, spread

#: a GEMM of fewer multiply-adds runs on the calling thread: a hand-off to a pool thread and
#: back costs 60–90 µs here (OpenBLAS's spinning workers some 10), so that shares pay from
#: about 8 million (one thread / shared / OpenBLAS's two, µs: 196×80×480 158/207/106,
#: 3136×24×144 247/204/138, 12544×16×96 512/338/279, 49×320×1280 480/347/259)
GEMM_SHARED_MACS = 1 << 23
#: ``CONVCALC_BLAS=auto`` owns the threads for passes of at least this many multiply-adds
#: that have depthwise or grouped convs or layer norms: batch 8 of the small networks gained
#: (A/B in one process, 2 threads, engine ÷ blas: efficientnet-b0 0.79, mobilenet-v2 0.82, -v3-large
#: 0.84; convnext-tiny 0.97 at batch 8 and its 7×7 depthwise and LN kinds 0.76 and 0.85 of
#: torch's ratio), at batch 1 their many GEMMs of a few million multiply-adds lost more to
#: the hand-offs than those kernels won (shufflenet-v2 1.50, mobilenet-v2 and -v3-large 1.20,
#: efficientnet-b0 1.11); networks of GEMMs alone won nothing sure (resnet50 and densenet121:
#: 0.76–1.2 between runs, their Winograd and few-output 3×3 kinds 1.16 and 1.06× slower).
#: benchmarks/forward_vs_torch.py, 2 threads, CONVCALC_BLAS=blas then auto, NumPy ÷ torch:
#: efficientnet-b0 batch 8 0.90 → 0.75, mobilenet-v2 0.91 → 0.66, -v3-large 1.17 → 0.95,
#: shufflenet-v2 1.12 → 1.14, convnext-tiny 1.50 → 1.52 (1.64 → 1.78 at batch 1); by kind,
#: depthwise 7×7 6.82 → 5.05, 3×3 1.56 → 1.31, 5×5 3.54 → 3.21, but LINEAR 1.35 → 1.51
#: (then with a chunk's GEMM and GELU in one hand-off a share; apart, as now, 9% faster).
#: Grouped convs count too (their copies and small GEMMs run on the engine's threads): on a
#: loaded machine (load average 4.5-6), alternating rounds, 2 threads, engine ÷ blas, minimum
#: and median of 7: regnet-x-400mf b8 0.88/0.22, regnet-y-400mf b8 0.40/0.35, resnext50 b8
#: 1.03/0.50, b1 0.23/0.15 (OpenBLAS's threads wait on each other while the other core is
#: taken; the engine's block)
OWN_THREADS_MACS = 1 << 30
#: ... and from this many when the pass has depthwise convs: their bands and the activations
#: fused into them (SiLU, hardswish) then run on both cores. On an AMD EPYC host (2 vCPUs,
#: a float32 exp of 1.7 ns a value), processes alternating, 2 threads, median of 7, owning ÷
#: not: mobilenet-v3-small b8 (0.45 G) 0.81, 0.80; efficientnet-b0 b1 (0.39 G) 0.91, 0.92;
#: mnasnet1-0 b1 (0.31 G) 0.96, 0.95; mobilenet-v2 b1 (0.30 G) 0.96, 0.99; but -v3-large b1
#: (0.22 G) 1.09, 1.09, and regnet-x-400mf b1 (0.40 G, grouped, no depthwise) 1.04, 1.06
OWN_THREADS_DEPTHWISE_MACS = 1 << 28
#: ... and it is cut by rows when each share gets at least this many, else by columns when
#: each gets at least ``GEMM_COLS`` (fewer make the packed panels too short to pay)
GEMM_ROWS = 128
GEMM_COLS = 64

#: (get, set) of the thread count, the names NumPy's OpenBLAS builds export
_NAMES = (
    ("scipy_openblas_get_num_threads64_", "scipy_openblas_set_num_threads64_"),
    ("scipy_openblas_get_num_threads", "scipy_openblas_set_num_threads"),
    ("openblas_get_num_threads64_", "openblas_set_num_threads64_"),
    ("openblas_get_num_threads", "openblas_set_num_threads"),
)

#: a step of fewer multiply-adds (its whole batch's) runs alone on the calling thread
#: (``alone``): OpenBLAS on one thread, no hand-off to the engine's threads. Median µs of
#: 150 calls after 1 ms idle, a quiet machine, alone / OpenBLAS's threads (no engine
#: share) / both as before (benchmarks/small_steps.py): 3×3 32 → 32 at 16×16, batch 1
#: (2.4 million) 159/198/374, at 8×8, batch 8 (4.7 million) 242/198/304, at 32×32, batch 1
#: (9.4 million) 412/325/459; but after 0.3 s idle (a small pass's first threaded step, as
#: between benchmark rounds) 761/912/4186 at 9.4 million, and on a busy machine the threaded
#: medians grow tenfold (a worker that waits for a core), alone's barely
SOLO_MACS = 1 << 24
#: ... and this many while a pass owns the threads (``own_threads``): OpenBLAS is on one thread
#: then, no workers of its own to wake, and a step's shares go to the engine's pool, so that
#: steps of 4 to 16 million (MobileNet's and EfficientNet's 1×1 convs at 14×14 and 7×7,
#: batch 1) pay their hand-off. Processes alternating, 2 threads, median of 7, 2²² ÷ 2²⁴:
#: efficientnet-b0 b1 0.92–0.97 (median 0.92), mobilenet-v2 b1 0.94, mnasnet1-0 b1 0.98,
#: mobilenet-v3-small b8 0.93, shufflenet-v2 b8 0.98, convnext-tiny b1 0.98,
#: mobilenet-v3-large b8 1.01, regnet-y-400mf b8 0.99; 2²⁰ ÷ 2²²: 0.97–1.02
SOLO_OWNED_MACS = 1 << 22

_lock = threading.Lock()
_depth = 0  # passes running with the engine's threads (nested or concurrent)
_saved = 0  # OpenBLAS's thread count before the first of them
_alone = 0  # steps running alone while no pass owns the threads
_alone_saved = 0  # OpenBLAS's thread count before the first of them


def engine_blas(macs: int, threaded: bool = True, depthwise: bool = False) -> bool:
    """Whether a pass of ``macs`` multiply-adds should own its threads: ``CONVCALC_BLAS`` is
    ``auto`` (the default: from ``OWN_THREADS_MACS`` on, if kernels of the engine's own
    threads (``threaded``: depthwise and grouped convs, layer norms) lose a core to
    OpenBLAS's spinning, from ``OWN_THREADS_DEPTHWISE_MACS`` if it has ``depthwise`` convs),
    ``engine`` (always) or ``blas`` (never: OpenBLAS threads each GEMM itself)."""
    mode = _mode()
    limit = OWN_THREADS_DEPTHWISE_MACS if depthwise else OWN_THREADS_MACS
    return mode == "engine" or (mode != "blas" and threaded and macs >= limit)


def _mode() -> str:
    return os.environ.get("CONVCALC_BLAS", "auto").strip().lower()


def _candidates() -> list[str]:
    """Paths of the OpenBLAS libraries this process loaded (Linux), else NumPy's bundled ones."""
    found: list[str] = []
    try:
        with open("/proc/self/maps", encoding="utf-8", errors="replace") as maps:
            for line in maps:
                path = line.rstrip("\n").split(" ")[-1]
                if "openblas" in os.path.basename(path).lower() and path not in found:
                    found.append(path)
    except OSError:
        pass
    root = os.path.dirname(np.__file__)
    for folder in (os.path.join(root, "..", "numpy.libs"), os.path.join(root, ".dylibs")):
        found += [p for p in sorted(glob.glob(os.path.join(folder, "*openblas*")))
                  if p not in found]  # fmt: skip
    return found


@cache
def openblas() -> tuple[Callable[[], int], Callable[[int], None]] | None:
    """(get, set) of the thread count of NumPy's OpenBLAS, or None where none is found (another
    BLAS, a static build): found as threadpoolctl does, among the loaded libraries."""
    for path in _candidates():
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for get_name, set_name in _NAMES:
            get, put = getattr(lib, get_name, None), getattr(lib, set_name, None)
            if get is not None and put is not None:
                get.restype, get.argtypes = ctypes.c_int, []
                put.restype, put.argtypes = None, [ctypes.c_int]
                return _calls(get, put)
    return None


def _calls(get: Any, put: Any) -> tuple[Callable[[], int], Callable[[int], None]]:
    """The C functions as typed Python calls."""
    return (lambda: int(get())), (lambda n: put(n))


def own_threads(
    macs: int, threaded: bool = True, force: bool = False, depthwise: bool = False
) -> Callable[[], None]:
    """OpenBLAS on one thread while a pass of ``macs`` multiply-adds runs, if it runs on
    several and ``engine_blas`` says so, the engine's threads sharing its GEMMs (``gemm``);
    returns what restores the previous count. Nothing changes with ``CONVCALC_BLAS=blas``,
    one thread, a small pass or one of GEMMs alone (``auto``), or no OpenBLAS found.
    ``force``: whatever the size and kernels, as ``CONVCALC_BLAS=engine`` (unless it is
    ``blas``)."""
    global _depth, _saved
    wanted = engine_blas(macs, threaded, depthwise) or (force and _mode() != "blas")
    found = openblas() if threads() > 1 and wanted else None
    if found is None:
        return lambda: None
    get, put = found
    with _lock:
        if _depth == 0:
            _saved = _alone_saved if _alone else get()
            put(1)
        _depth += 1

    def restore() -> None:
        global _depth, _alone_saved
        with _lock:
            _depth -= 1
            if _depth == 0 and _alone:  # a step running alone keeps one; it restores
                _alone_saved = _saved
            elif _depth == 0:
                put(_saved)

    return restore


def alone(macs: int) -> Callable[[], None]:
    """Run the step of ``macs`` multiply-adds that follows on this thread alone if it is
    smaller than ``SOLO_MACS`` (``SOLO_OWNED_MACS`` while a pass owns the threads; and more
    than none: a step without multiply-adds keeps its kernels' own thresholds): its kernels
    hand nothing to the engine's threads (``arrays.solo``) and OpenBLAS runs its GEMMs on one
    thread (waking OpenBLAS's threads and joining them cost more than such a GEMM gains, and a
    lot more when the other core is busy); returns what ends it. OpenBLAS's count is left
    alone below ``BLAS_SINGLE``, where it keeps a GEMM on one thread itself (setting it and
    back costs some 2 µs)."""
    global _alone, _alone_saved
    if not 0 < macs < (SOLO_OWNED_MACS if _depth else SOLO_MACS):
        return _nothing
    was = set_solo(True)
    found = openblas() if macs >= BLAS_SINGLE and threads() > 1 else None
    if found is not None:
        with _lock:
            if _depth == 0 and _alone == 0:  # while a pass owns the threads OpenBLAS has one
                _alone_saved = found[0]()
                found[1](1)
            _alone += 1

    def end() -> None:
        global _alone
        set_solo(was)
        if found is not None:
            with _lock:
                _alone -= 1
                if _depth == 0 and _alone == 0:
                    found[1](_alone_saved)

    return end


def _nothing() -> None:
    """What ends a step that does not run alone."""


def owning() -> bool:
    """Whether a pass owns the threads now (OpenBLAS on one)."""
    return _depth > 0


def blas_holds() -> bool:
    """Whether OpenBLAS keeps its own threads now (no pass owns them, OpenBLAS found, more
    than one thread): its workers spin for a while after each GEMM on the cores the engine's
    threads would take, so the depthwise bands and blocked activations stay on the calling
    thread (alternating runs, 2 threads, quiet, batch 1, NumPy's seconds summed over
    efficientnet-b0, mobilenet-v2/-v3-large/-v3-small and shufflenet-v2: 99.8 ms with the
    activations on two threads, 92.5 on one)."""
    return _depth == 0 and threads() > 1 and openblas() is not None


def by_rows(rows: int, workers: int) -> bool:
    """Whether a GEMM of ``rows`` output rows is shared by rows (each share's columns, GEMM
    and epilogues in one hand-off: ``sharing.GemmShare``); fewer go through ``gemm``, which
    cuts the columns then."""
    return owning() and rows // workers >= GEMM_ROWS


def gemm(a: Array, b: Array, out: Array) -> Array:
    """out = a @ b (np.matmul's shapes and broadcasting over a stack), shared between the
    engine's threads while a pass owns them, else one np.matmul (which BLAS may thread)."""
    workers = threads()
    if not _depth or workers == 1 or a.ndim < 2 or b.ndim < 2 or solo() or engine_thread():
        return np.matmul(a, b, out=out)
    M, K = a.shape[-2:]
    N = b.shape[-1]
    stack = out.size // max(1, M * N)
    if stack * M * N * K < GEMM_SHARED_MACS:
        return np.matmul(a, b, out=out)
    if out.ndim == 3 and stack >= workers and (stack % workers == 0 or stack >= 4 * workers):
        cuts = [stack * i // workers for i in range(workers + 1)]

        def run(i: int) -> None:
            p = slice(cuts[i], cuts[i + 1])
            np.matmul(a[p] if a.ndim == 3 else a, b[p] if b.ndim == 3 else b, out=out[p])

    elif by_rows(M, workers) or (N // workers < GEMM_COLS and M // workers >= 8):
        cuts = [M * i // workers for i in range(workers + 1)]

        def run(i: int) -> None:
            r = slice(cuts[i], cuts[i + 1])
            np.matmul(a[..., r, :], b, out=out[..., r, :])

    elif N // workers >= GEMM_COLS:
        cuts = [N * i // workers for i in range(workers + 1)]

        def run(i: int) -> None:
            c = slice(cuts[i], cuts[i + 1])
            np.matmul(a, b[..., c], out=out[..., c])

    else:
        return np.matmul(a, b, out=out)
    spread(run, workers)
    return out
