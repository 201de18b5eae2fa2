from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from hypothesis import HealthCheck, settings

import convcalc
from convcalc.cli import cli

# 500 examples per property by default; `pytest --hypothesis-profile=thorough` for 5,000,
# `quick` for 50
_SLOW = [HealthCheck.too_slow, HealthCheck.data_too_large]
settings.register_profile("default", max_examples=500, deadline=None, suppress_health_check=_SLOW)
settings.register_profile("thorough", max_examples=5000, deadline=None, suppress_health_check=_SLOW)
settings.register_profile("quick", max_examples=50, deadline=None, suppress_health_check=_SLOW)
settings.load_profile("default")

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--regenerate",
        action="store_true",
        help="rewrite golden files and expected messages from the current output",
    )


@pytest.fixture
def regenerate(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--regenerate"))


def run(*args: str) -> Result:
    """Run the CLI in-process, like the console script (no traceback ever escapes)."""
    runner = CliRunner()
    return runner.invoke(cli, list(args), catch_exceptions=False, prog_name="convcalc")


def check(text: str, **options: object) -> convcalc.Analysis:
    """Analyse a spec given as YAML text."""
    return convcalc.analyze(convcalc.load_text(text, "spec.yaml"), **options)  # type: ignore[arg-type]


def spec(arch: str, shape: str = "32x32x3", extra: str = "") -> str:
    """A minimal spec around an arch pattern."""
    return f"name: t\ninput: {shape}\n{extra}arch: |\n  {arch}\n"
