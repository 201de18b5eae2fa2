"""The test helpers themselves: a golden file never writes itself."""

from __future__ import annotations

import pytest

from .support import ROOT, matches_golden


def test_a_missing_golden_fails_and_is_not_written() -> None:
    path = ROOT / "tests" / "golden" / "no-such-golden.txt"
    with pytest.raises(pytest.fail.Exception, match="no golden file"):
        matches_golden(path, "output\n", regenerate=False)
    assert not path.exists()


def test_a_different_golden_fails() -> None:
    path = ROOT / "tests" / "golden" / "vgg16.txt"
    with pytest.raises(AssertionError):
        matches_golden(path, "not the report\n", regenerate=False)
