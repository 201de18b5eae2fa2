"""The engine's own GEMM threads (``kernels.gemm``): a GEMM cut by rows, columns or its stack
against plain np.matmul (odd sizes, out= views, float16/32/64); OpenBLAS's thread count set
to one for a pass and given back; and every kernel that goes through ``gemm`` against its
naive loops while a pass owns the threads, with every GEMM shared."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest

import convcalc
from convcalc.engine.forward import forward
from convcalc.engine.kernels import conv
from convcalc.engine.kernels import gemm as G

from ..support import check, spec
from . import test_grouped, test_kernels
from .test_kernels import CONV_CASES

DTYPES = [np.float16, np.float32, np.float64]


@pytest.fixture(params=["2", "3"])  # 3: shares that are no halves
def owned(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """A pass owning 2 or 3 threads (whether or not this NumPy's OpenBLAS can be found), every
    GEMM big enough to share, every chunk of conv2d shared; yields the cuts
    ``gemm`` made."""
    monkeypatch.setenv("CONVCALC_THREADS", request.param)
    monkeypatch.setattr(G, "_depth", 1)
    monkeypatch.setattr(G, "GEMM_SHARED_MACS", 0)
    monkeypatch.setattr(
        conv, "SHARED_BYTES", 0
    )  # every chunk in shares of columns, GEMM, epilogues
    cuts: list[str] = []
    spread = G.spread

    def spy(run: Callable[[int], None], workers: int) -> None:
        cuts.append(str(workers))
        spread(run, workers)

    monkeypatch.setattr(G, "spread", spy)
    yield cuts


def _rand(shape: tuple[int, ...], dtype: Any) -> Any:
    return np.random.default_rng(sum(shape)).standard_normal(shape).astype(dtype)


def _check(a: Any, b: Any, out: Any) -> None:
    want = np.matmul(a, b)
    assert G.gemm(a, b, out) is out
    tol = 2e-2 if out.dtype == np.float16 else 1e-5
    np.testing.assert_allclose(out.astype(np.float64), want, rtol=tol, atol=tol * 10)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    ("m", "k", "n"),
    [(1000, 7, 13), (301, 33, 5), (17, 40, 700), (9, 3, 200), (5, 5, 5)],  # rows, cols, none
)
def test_a_shared_gemm_equals_matmul(owned: list[str], dtype: Any, m: int, k: int, n: int) -> None:
    a, b = _rand((m, k), dtype), _rand((k, n), dtype)
    _check(a, b, np.empty((m, n), dtype))
    wide = np.zeros((m, n + 6), dtype)  # a view of a wider array: strided rows
    _check(a, b, wide[:, 3 : 3 + n])
    assert not wide[:, :3].any() and not wide[:, 3 + n :].any()
    _check(a.T.copy().T, b.T.copy().T, np.empty((n, m), dtype).T)  # Fortran-ordered views
    assert bool(owned) == ((m, n) != (5, 5))  # 5×5: too few rows and columns to cut


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("s", "m", "k", "n"), [(16, 50, 7, 9), (3, 300, 5, 8), (1, 20, 9, 400)])
def test_a_shared_stack_of_gemms_equals_matmul(
    owned: list[str], dtype: Any, s: int, m: int, k: int, n: int
) -> None:
    a, b = _rand((s, m, k), dtype), _rand((s, k, n), dtype)
    _check(a, b, np.empty((s, m, n), dtype))
    _check(a, b[0], np.empty((s, m, n), dtype))  # one matrix for the whole stack
    _check(a[0], b, np.empty((s, m, n), dtype))
    y = np.empty((m, s, n), dtype)  # the stack strided in the output, as grouped writes it
    _check(a, b, y.transpose(1, 0, 2))
    assert owned


def test_small_gemms_and_gemvs_stay_on_the_calling_thread(
    owned: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    a, vec = _rand((30, 40), np.float32), _rand((40,), np.float32)
    _check(a, vec, np.empty(30, np.float32))
    monkeypatch.setattr(G, "GEMM_SHARED_MACS", 64**3 + 1)
    _check(_rand((64, 64), np.float32), _rand((64, 64), np.float32), np.empty((64, 64), np.float32))
    assert owned == []


def test_without_a_pass_gemm_is_matmul(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONVCALC_THREADS", "2")
    monkeypatch.setattr(G, "GEMM_SHARED_MACS", 0)
    monkeypatch.setattr(G, "spread", None)  # would fail if called
    _check(
        _rand((300, 20), np.float32), _rand((20, 300), np.float32), np.empty((300, 300), np.float32)
    )


def _blas() -> tuple[Callable[[], int], Callable[[int], None]]:
    found = G.openblas()
    if found is None:
        pytest.skip("this NumPy's OpenBLAS cannot be found: the pass keeps BLAS's threads")
    return found


def test_a_pass_runs_openblas_on_one_thread_and_gives_the_count_back(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    get, put = _blas()
    before = get()
    put(3)
    try:
        monkeypatch.setenv("CONVCALC_THREADS", "2")
        monkeypatch.delenv("CONVCALC_BLAS", raising=False)
        G.own_threads(G.OWN_THREADS_MACS - 1)()  # auto, the default: a small pass keeps BLAS's
        assert get() == 3
        restore = G.own_threads(G.OWN_THREADS_MACS)  # ... a big one owns the threads
        assert get() == 1
        restore()
        assert get() == 3
        G.own_threads(G.OWN_THREADS_MACS, threaded=False)()  # ... unless it is GEMMs alone
        assert get() == 3
        G.own_threads(G.OWN_THREADS_DEPTHWISE_MACS)()  # ... a smaller one: not through grouped
        assert get() == 3
        restore = G.own_threads(G.OWN_THREADS_DEPTHWISE_MACS, depthwise=True)  # depthwise: yes
        assert get() == 1
        restore()
        G.own_threads(G.OWN_THREADS_DEPTHWISE_MACS - 1, depthwise=True)()
        assert get() == 3
        monkeypatch.setenv("CONVCALC_BLAS", "engine")  # whatever the size
        outer = G.own_threads(0)
        assert get() == 1 and G.owning()
        inner = G.own_threads(0)  # nested (or a second pass at once): the first count stays
        inner()
        assert get() == 1
        outer()
        assert get() == 3 and not G.owning()
        for env, value in (("CONVCALC_BLAS", "blas"), ("CONVCALC_THREADS", "1")):
            monkeypatch.setenv(env, value)
            G.own_threads(G.OWN_THREADS_MACS)()
            assert get() == 3
    finally:
        put(before)


def test_forward_is_the_same_with_the_engines_threads_or_blass(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    get, _ = _blas()
    before = get()
    monkeypatch.setenv("CONVCALC_THREADS", "2")
    monkeypatch.setattr(G, "GEMM_SHARED_MACS", 0)
    analysis = convcalc.analyze(convcalc.load("mobilenet-v3-small"))
    outputs = []
    for mode in ("blas", "engine"):
        monkeypatch.setenv("CONVCALC_BLAS", mode)
        result = forward(analysis, batch=2, trace_memory=False)
        assert result.ok and get() == before
        outputs.append(result.output)
    test_kernels.close(outputs[1], outputs[0])


# -- every kernel that calls gemm, against its naive loops, with every GEMM shared ---------


@pytest.fixture(params=[1, G.GEMM_ROWS])
def rows(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Shares of a chunk by rows from 1 row a share (the columns, GEMM and epilogues of a
    share in one hand-off), or as in a pass (small chunks then cut their GEMM's columns)."""
    monkeypatch.setattr(G, "GEMM_ROWS", request.param)


@pytest.mark.parametrize("case", CONV_CASES)
@pytest.mark.usefixtures("rows")
def test_conv2d_with_shared_gemms(owned: list[str], case: Any) -> None:
    for chunk in (test_kernels.K.CHUNK_BYTES, 300):
        test_kernels.test_conv2d_matches_loops(case, chunk)


@pytest.mark.usefixtures("rows")
def test_other_kernels_with_shared_gemms(owned: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    test_kernels.test_conv2d_on_a_view_and_with_an_epilogue()
    for m in (2, 4):
        for chunk in (None, 1):
            case = (2, 9, 7, 5, 6, ((1, 1), (1, 1)))
            test_kernels.test_winograd_matches_loops(m, case, chunk, "relu add")
    for chunk in (test_kernels.K.CACHE_BYTES, 100):
        test_kernels.test_linear_matches_loops(chunk)
    test_kernels.test_global_avg_pool_and_fc()
    test_kernels.test_conv_transpose2d_matches_loops((2, 3, 4, 3, 2, 3, 3, (2, 2), (1, 1),
                                                      (1, 0), (1, 1), 1))  # fmt: skip
    test_kernels.test_conv_transpose2d_matches_loops((1, 4, 3, 4, 6, 2, 3, (3, 2), (0, 1),
                                                      (2, 1), (1, 1), 2))  # fmt: skip
    assert owned


@pytest.mark.parametrize("case", test_grouped.CASES)
def test_grouped_with_shared_gemms(
    owned: list[str], case: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    for single in (0, 1 << 40):  # the naive loops first, then torch (skipped without it)
        test_grouped.test_threaded_gemms_match_loops_and_torch(case, single, 400, monkeypatch)


def test_networks_with_depthwise_or_grouped_convs_or_layer_norms_own_the_threads() -> None:
    from convcalc.engine.forward import _threaded

    def owns(name: str) -> bool:
        return any(map(_threaded, convcalc.analyze(convcalc.load(name)).rows))

    assert owns("mobilenet-v3-small") and owns("convnext-tiny")
    assert owns("resnext50-32x4d") and owns("regnet-x-400mf")  # grouped convs
    assert not owns("resnet18") and not owns("vgg16")  # GEMMs alone


@pytest.mark.parametrize(("groups", "depthwise"), [(8, True), (2, False), (1, False)])
def test_a_pass_tells_whether_it_has_depthwise_convs(
    monkeypatch: pytest.MonkeyPatch, groups: int, depthwise: bool
) -> None:
    """The pass owns the threads from ``OWN_THREADS_DEPTHWISE_MACS`` when a conv has a group
    for each input channel, from ``OWN_THREADS_MACS`` when its groups are wider."""
    from convcalc.engine import forward as F

    seen: list[tuple[bool, bool]] = []
    real = F.own_threads

    def spy(macs: int, threaded: bool = True, force: bool = False, depthwise: bool = False) -> Any:
        seen.append((threaded, depthwise))
        return real(macs, threaded, force, depthwise)

    monkeypatch.setattr(F, "own_threads", spy)
    F.forward(check(spec(f"INPUT -> CONV(8, F=3, P=1, groups={groups}) -> FC(2)", "8x8x8")))
    assert seen == [(groups > 1, depthwise)]
