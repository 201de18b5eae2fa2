"""What the export tests share: every spec to export, weights that make each parameter count,
and the generated module loaded from its source."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import convcalc
from convcalc.engine import weights as engine_weights
from convcalc.frontend import bundled

from ..support import DATA

#: every bundled spec, from the bundled-spec API, and the modern networks of the tests
SPECS = [*bundled.names(), *(str(p) for p in sorted((DATA / "modern").glob("*.yaml")))]
#: above this many MACs or parameters the comparisons run only in the slow tier
LARGE_MACS = 1_000_000_000
LARGE_PARAMS = 10_000_000


def spec_id(spec: str) -> str:
    return Path(spec).stem


def analysis(spec: str) -> convcalc.Analysis:
    return convcalc.analyze(convcalc.load(spec if spec in bundled.names() else Path(spec)))


def sized(specs: list[str]) -> list[Any]:
    """The specs as parameters, the large ones marked slow."""
    out = []
    for s in specs:
        totals = analysis(s).totals
        large = totals.macs > LARGE_MACS or totals.params > LARGE_PARAMS
        marks = [pytest.mark.slow] if large else []
        out.append(pytest.param(s, id=spec_id(s), marks=marks))
    return out


@pytest.fixture
def busy_weights(monkeypatch: pytest.MonkeyPatch) -> None:
    """He weights as `run` draws them, plus non-zero biases, β, running means and variances
    and γ near 1, so that a bias or a statistic in the wrong place changes the output."""
    original = engine_weights.init_params

    def init(row: Any, rng: Any, dtype: Any) -> dict[str, Any]:
        params = original(row, rng, dtype)
        extra = np.random.default_rng(len(row.name) * 7919 + sum(map(ord, row.name)))
        for key, value in params.items():
            if key in ("b", "beta", "mean"):
                value[...] = extra.uniform(-0.1, 0.1, value.shape)
            elif key == "var":
                value[...] = extra.uniform(0.5, 1.5, value.shape)
            elif key == "gamma":
                value[...] = extra.uniform(0.8, 1.2, value.shape)
        return params

    monkeypatch.setattr(engine_weights, "init_params", init)


def load_module(source: str, directory: Path, name: str = "generated") -> Any:
    """The generated file imported as a module."""
    path = directory / f"{name}.py"
    path.write_text(source, encoding="utf-8")
    spec = importlib.util.spec_from_file_location(f"convcalc_export_{name}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module
