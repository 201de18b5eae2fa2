"""pytest set-up: hypothesis profiles, the --regenerate and --slow options (helpers live in
support.py).

`python -m pytest` skips the tests marked slow, so that it stays under 3 minutes on two cores;
`python -m pytest --slow` (the README's test command, and .ci/run) runs every test."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, settings

# 500 examples per property with --slow (.ci/run), 200 without (`everyday`, so that the
# plain run stays under 3 minutes); `pytest --hypothesis-profile=thorough` for 5,000,
# `quick` for 50
_SLOW = [HealthCheck.too_slow, HealthCheck.data_too_large]
settings.register_profile("default", max_examples=500, deadline=None, suppress_health_check=_SLOW)
settings.register_profile("everyday", max_examples=200, deadline=None, suppress_health_check=_SLOW)
settings.register_profile("thorough", max_examples=5000, deadline=None, suppress_health_check=_SLOW)
settings.register_profile("quick", max_examples=50, deadline=None, suppress_health_check=_SLOW)
settings.load_profile("default")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--regenerate",
        action="store_true",
        help="rewrite golden files and expected messages from the current output",
    )
    parser.addoption(
        "--slow",
        action="store_true",
        help="also run the tests marked slow (the whole suite, as .ci/run does)",
    )


def pytest_configure(config: pytest.Config) -> None:
    """Without --slow and without a profile asked for: 200 examples a property."""
    if not config.getoption("--slow") and not config.getoption("hypothesis_profile", None):
        settings.load_profile("everyday")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--slow"):
        return
    skip = pytest.mark.skip(reason="marked slow: `python -m pytest --slow` runs it")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def regenerate(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--regenerate"))
