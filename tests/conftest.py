"""pytest set-up: hypothesis profiles and the --regenerate option (helpers live in support.py)."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, settings

# 500 examples per property by default; `pytest --hypothesis-profile=thorough` for 5,000,
# `quick` for 50
_SLOW = [HealthCheck.too_slow, HealthCheck.data_too_large]
settings.register_profile("default", max_examples=500, deadline=None, suppress_health_check=_SLOW)
settings.register_profile("thorough", max_examples=5000, deadline=None, suppress_health_check=_SLOW)
settings.register_profile("quick", max_examples=50, deadline=None, suppress_health_check=_SLOW)
settings.load_profile("default")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--regenerate",
        action="store_true",
        help="rewrite golden files and expected messages from the current output",
    )


@pytest.fixture
def regenerate(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--regenerate"))
