"""Small steps on the calling thread alone (``kernels.gemm.alone``): OpenBLAS's thread count set
to one for the step and given back, with or without a pass owning the threads; nothing handed
to the engine's threads meanwhile; the kernels against their naive loops that way; a 1×1 conv
on a few positions (squeeze-and-excitation's) as one GEMM, against its loops, also into the
channels of a wider array; and whole passes alike whichever way their steps run."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest

import convcalc
from convcalc.engine.forward import forward
from convcalc.engine.kernels import arrays, conv
from convcalc.engine.kernels import gemm as G

from . import test_kernels
from .test_kernels import CONV_CASES, K, close, naive_conv, rand

DTYPES = [np.float16, np.float32, np.float64]


def _blas() -> tuple[Callable[[], int], Callable[[int], None]]:
    found = G.openblas()
    if found is None:
        pytest.skip("this NumPy's OpenBLAS cannot be found: steps keep BLAS's threads")
    return found


@pytest.fixture
def three(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Callable[[], int], Any]]:
    """OpenBLAS on 3 threads (given back after), 2 for the engine, CONVCALC_BLAS unset."""
    get, put = _blas()
    before = get()
    put(3)
    monkeypatch.setenv("CONVCALC_THREADS", "2")
    monkeypatch.delenv("CONVCALC_BLAS", raising=False)
    try:
        yield get, put
    finally:
        put(before)


def test_a_small_step_runs_openblas_on_one_thread_and_gives_the_count_back(
    three: tuple[Callable[[], int], Any],
) -> None:
    get, _ = three
    end = G.alone(G.SOLO_MACS - 1)
    assert get() == 1 and arrays.solo() and arrays.workers() == 1
    end()
    assert get() == 3 and not arrays.solo() and arrays.workers() == 2
    end = G.alone(G.BLAS_SINGLE - 1)  # OpenBLAS keeps such GEMMs on one thread itself
    assert get() == 3 and arrays.solo()
    end()
    assert not arrays.solo()
    for macs in (0, G.SOLO_MACS):  # no multiply-adds, or enough to share
        G.alone(macs)()
        assert get() == 3 and not arrays.solo()


@pytest.mark.parametrize("alone_first", [True, False])
@pytest.mark.parametrize("alone_last", [True, False])
def test_a_step_alone_and_a_pass_owning_the_threads_give_the_count_back(
    three: tuple[Callable[[], int], Any],
    monkeypatch: pytest.MonkeyPatch,
    alone_first: bool,
    alone_last: bool,
) -> None:
    """Both set OpenBLAS to one thread: whichever starts or ends first, the count is one
    while either runs and three once both ended (a pass on another thread, say)."""
    get, _ = three
    monkeypatch.setenv("CONVCALC_BLAS", "engine")
    ends = []
    for first in (alone_first, not alone_first):
        ends.append(G.alone(G.SOLO_OWNED_MACS - 1) if first else G.own_threads(0))
        assert get() == 1
    ends[0 if alone_first == alone_last else 1]()
    assert get() == 1
    ends[1 if alone_first == alone_last else 0]()
    assert get() == 3 and not G.owning()


def test_one_engine_thread_leaves_openblas_alone(
    three: tuple[Callable[[], int], Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    get, _ = three
    monkeypatch.setenv("CONVCALC_THREADS", "1")
    end = G.alone(G.SOLO_MACS - 1)
    assert get() == 3
    end()


def test_spread_runs_every_share_here_in_a_step_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONVCALC_THREADS", "3")
    seen: list[str] = []
    end = G.alone(1)
    try:
        arrays.spread(lambda i: seen.append(threading.current_thread().name), 3)
    finally:
        end()
    assert seen == [threading.current_thread().name] * 3
    arrays.spread(lambda i: seen.append(threading.current_thread().name), 3)
    assert any(name.startswith("convcalc") for name in seen[3:])  # after it: the pool's


def test_a_share_on_the_calling_thread_keeps_its_inner_work(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The calling thread runs share 0 of a spread while the pool runs the others: work that
    share would spread again (a blocked activation in a GemmShare's epilogue) runs there, not
    queued behind the pool's own share; after the spread it is shared again."""
    monkeypatch.setenv("CONVCALC_THREADS", "2")
    here = threading.current_thread().name
    inner: dict[int, list[str]] = {0: [], 1: []}
    flags: list[bool] = []

    def share(i: int) -> None:
        flags.append(arrays.engine_thread())
        arrays.spread(lambda j: inner[i].append(threading.current_thread().name), 2)

    assert not arrays.engine_thread()
    arrays.spread(share, 2)
    assert flags == [True, True]
    assert inner[0] == [here, here]  # share 0's inner pieces: both on the calling thread
    assert len(set(inner[1])) == 1 and inner[1][0].startswith("convcalc")
    assert not arrays.engine_thread()  # the mark ends with the spread
    seen: list[str] = []
    arrays.spread(lambda i: seen.append(threading.current_thread().name), 2)
    assert any(name.startswith("convcalc") for name in seen)


def test_a_blocked_activation_in_a_share_takes_blocks_on_the_calling_thread(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Inside a share, a blocked activation (``elementwise._blockwise``) runs inline on either
    thread, whole on a pool thread but in blocks of EW_BLOCK on the calling thread, whose
    share-sized temporaries would come fresh from the system (``EW_WHOLE_BYTES``)."""
    from convcalc.engine.kernels import elementwise

    monkeypatch.setenv("CONVCALC_THREADS", "2")
    monkeypatch.setattr(elementwise, "blas_holds", lambda: False)
    block = elementwise.EW_BLOCK
    n = 3 * elementwise.THREADED_MIN + 5
    xs = [rand(n) for _ in range(2)]
    calls: dict[int, list[tuple[str, int]]] = {0: [], 1: []}

    def share(i: int) -> None:
        def body(x: Any, o: Any, t: Any) -> None:
            calls[i].append((threading.current_thread().name, x.size))
            np.negative(x, out=o)

        out = elementwise._blockwise(xs[i], None, 1, body)
        np.testing.assert_array_equal(out, -xs[i])

    arrays.spread(share, 2)
    here = threading.current_thread().name
    assert {name for name, _ in calls[0]} == {here}
    assert [size for _, size in calls[0]] == [block] * (n // block) + [n % block]
    assert len(calls[1]) == 1 and calls[1][0][0].startswith("convcalc") and calls[1][0][1] == n


@pytest.mark.parametrize("case", CONV_CASES)
def test_conv2d_alone_matches_loops_and_shares_nothing(
    case: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CONVCALC_THREADS", "2")
    monkeypatch.setattr(conv, "SHARED_BYTES", 0)  # every chunk would be shared ...
    monkeypatch.setattr(conv, "SHARE_UNDER_BLAS", True)
    monkeypatch.setattr(arrays, "pool", None)  # ... but nothing may reach the pool
    end = G.alone(1)
    try:
        for chunk in (K.CHUNK_BYTES, 300):
            test_kernels.test_conv2d_matches_loops(case, chunk)
        test_kernels.test_conv2d_on_a_view_and_with_an_epilogue()
    finally:
        end()


POINTWISE = [(1, 1, 1, 96, 24), (3, 1, 1, 7, 5), (2, 4, 8, 5, 3), (1, 8, 8, 16, 40)]


@pytest.mark.parametrize("case", POINTWISE)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("bias", [True, False])
def test_a_pointwise_conv_on_few_positions_is_one_gemm_and_matches_loops(
    case: Any, dtype: Any, bias: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    N, H, W, C, Kk = case
    assert N * H * W <= conv.WHOLE_POSITIONS
    monkeypatch.setattr(conv, "chunks", None)  # the chunked path would fail
    x, w = rand(N, H, W, C).astype(dtype), rand(1, 1, C, Kk).astype(dtype)
    b = rand(Kk).astype(dtype) if bias else None
    res = rand(N, H, W, Kk).astype(dtype)
    regions: list[tuple[slice, slice]] = []

    def add(y: Any, region: tuple[slice, slice]) -> None:  # a residual ADD reads its region
        regions.append(region)
        np.add(y, res[region], out=y)

    got = K.conv2d(x, w, b, epilogue=[add, K.RELU], arena=K.Arena())
    assert got.dtype == dtype and regions == [(slice(0, N), slice(0, H))]
    want = np.maximum(naive_conv(x, w, b, (1, 1), ((0, 0), (0, 0)), (1, 1), 1) + res, 0)
    close(got.astype(np.float64), want, 2e-2 if dtype == np.float16 else 1e-4)


def test_a_pointwise_conv_on_few_positions_writes_into_a_wider_array(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Its output may be channels of a CAT's output (``plan.cat_views``)."""
    wide = np.zeros((2, 3, 4, 11), np.float32)
    monkeypatch.setattr(conv, "alloc", lambda arena, shape, dtype: wide[..., 4 : 4 + shape[3]])
    x, w, b = rand(2, 3, 4, 6), rand(1, 1, 6, 5), rand(5)
    got = K.conv2d(x, w, b)
    assert np.shares_memory(got, wide)
    close(wide[..., 4:9], naive_conv(x, w, b, (1, 1), ((0, 0), (0, 0)), (1, 1), 1))
    assert not wide[..., :4].any() and not wide[..., 9:].any()


@pytest.mark.parametrize("name", ["cs231n-pattern", "efficientnet-b0"])
def test_a_pass_is_the_same_whichever_way_its_steps_run(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every step alone, none alone with every conv shared, and the thresholds as they are:
    the same output, and OpenBLAS's count given back."""
    monkeypatch.setenv("CONVCALC_THREADS", "2")
    found = G.openblas()
    before = found[0]() if found is not None else 0
    analysis = convcalc.analyze(convcalc.load(name))
    outputs = []
    for solo, share in ((1 << 62, True), (0, True), (G.SOLO_MACS, conv.SHARE_UNDER_BLAS)):
        monkeypatch.setattr(G, "SOLO_MACS", solo)
        monkeypatch.setattr(conv, "SHARE_UNDER_BLAS", share)
        result = forward(analysis, batch=2, trace_memory=False)
        assert result.ok and not arrays.solo()
        if found is not None:
            assert found[0]() == before
        outputs.append(result.output)
    close(outputs[1], outputs[0])
    close(outputs[2], outputs[0])


def test_a_small_pass_hands_nothing_to_the_engines_threads(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The CIFAR pattern at batch 1: its steps of up to 9.4 million multiply-adds run on the
    calling thread (alone, ``SOLO_MACS``; and a conv's chunks are not shared while OpenBLAS
    threads the GEMMs anyway, ``conv.SHARE_UNDER_BLAS``)."""
    monkeypatch.setenv("CONVCALC_THREADS", "2")
    monkeypatch.delenv("CONVCALC_BLAS", raising=False)
    analysis = convcalc.analyze(convcalc.load("cs231n-pattern"))
    assert not conv.SHARE_UNDER_BLAS
    monkeypatch.setattr(arrays, "pool", None)  # a hand-off would fail
    assert forward(analysis, batch=1, trace_memory=False).ok


def test_a_pass_reads_the_thread_count_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """``sizing.pinned_threads``: while a pass runs, ``threads()`` gives the count read at its
    start, whatever the environment says meanwhile; nested passes share it; after the last
    one ends the environment is read again. A pass pins it around its steps."""
    from convcalc import sizing

    monkeypatch.setenv("CONVCALC_THREADS", "3")
    with sizing.pinned_threads() as count:
        assert count == 3
        monkeypatch.setenv("CONVCALC_THREADS", "5")
        assert sizing.threads() == 3
        with sizing.pinned_threads() as inner:
            assert inner == 3
        assert sizing.threads() == 3
    assert sizing.threads() == 5
    seen: list[int] = []
    real = G.alone

    def spy(macs: int) -> Callable[[], None]:
        seen.append(sizing.threads())
        monkeypatch.setenv("CONVCALC_THREADS", "7")  # ignored until the pass ends
        return real(macs)

    monkeypatch.setattr("convcalc.engine.forward.alone", spy)
    monkeypatch.setenv("CONVCALC_THREADS", "2")
    forward(convcalc.analyze(convcalc.load("lenet5")), batch=2, trace_memory=False)
    assert seen and set(seen) == {2}
    assert sizing.threads() == 7


@pytest.mark.parametrize(("activation", "alone"), [("RELU", True), ("SILU", False)])
def test_a_fused_exponential_counts_towards_a_steps_work(
    activation: str, alone: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A 1×1 conv of 56×56×24 → 144 (10.8 million multiply-adds, under ``SOLO_MACS``) runs
    alone with a ReLU after it; with a SiLU, its 451,584 exponentials count
    ``EXP_EPILOGUE_MACS`` each, and it shares its work. The output is the same either way
    (``test_a_pass_is_the_same_whichever_way_its_steps_run``)."""
    from convcalc.engine import forward as F

    spec = f"""
name: expand
input: 56x56x24
arch: |
  INPUT -> CONV(144, F=1) -> {activation}
"""
    analysis = convcalc.analyze(convcalc.load_text(spec))
    works: list[int] = []
    real = F.alone

    def recorded(macs: int) -> Callable[[], None]:
        works.append(macs)
        return real(macs)

    monkeypatch.setattr(F, "alone", recorded)
    assert forward(analysis, batch=1, trace_memory=False).ok
    macs = 56 * 56 * 24 * 144
    assert macs < G.SOLO_MACS
    extra = 0 if alone else 56 * 56 * 144 * F.EXP_EPILOGUE_MACS
    assert works[-1] == macs + extra
    assert (0 < works[-1] < G.SOLO_MACS) == alone


def test_a_pass_owning_the_threads_runs_only_smaller_steps_alone(
    three: tuple[Callable[[], int], Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """While a pass owns the threads (OpenBLAS on one), a step runs alone below
    ``SOLO_OWNED_MACS``, not up to ``SOLO_MACS``."""
    monkeypatch.setenv("CONVCALC_BLAS", "engine")
    assert G.SOLO_OWNED_MACS < G.SOLO_MACS
    restore = G.own_threads(0)
    try:
        assert G.owning()
        G.alone(G.SOLO_OWNED_MACS)()
        end = G.alone(G.SOLO_OWNED_MACS)
        assert not arrays.solo()
        end()
        end = G.alone(G.SOLO_OWNED_MACS - 1)
        assert arrays.solo()
        end()
    finally:
        restore()
    end = G.alone(G.SOLO_OWNED_MACS)  # no pass owns them: alone up to SOLO_MACS
    assert arrays.solo()
    end()
