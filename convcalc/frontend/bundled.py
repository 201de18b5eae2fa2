"""The specs shipped with convcalc (``convcalc check vgg16`` from any directory).

They live in the repository's top-level ``specs/`` folder; the wheel ships them as
``convcalc/specs/`` (pyproject.toml maps the one onto the other). An installed package finds
them inside itself, a source checkout (or an editable install) next to the package.

Plain ``os.path``: pathlib costs a check 7 ms of imports.
"""

from __future__ import annotations

import os

from ..source import BUNDLED

_PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _directory() -> str:
    """``convcalc/specs`` when it holds specs (an installed wheel), else the checkout's
    ``specs/`` (a leftover ``convcalc/specs/__pycache__`` after the move does not count)."""
    inside = os.path.join(_PACKAGE, "specs")
    try:
        if any(f.endswith(".yaml") for f in os.listdir(inside)):
            return inside
    except OSError:
        pass
    return os.path.join(os.path.dirname(_PACKAGE), "specs")


DIRECTORY = _directory()


def names() -> list[str]:
    return sorted(f[:-5] for f in os.listdir(DIRECTORY) if f.endswith(".yaml"))


def path(name: str) -> str | None:
    """The file of a bundled spec, or None."""
    name = name.removesuffix(".yaml")
    candidate = os.path.join(DIRECTORY, f"{name}.yaml")
    if not name or "/" in name or "\\" in name or not os.path.isfile(candidate):
        return None
    return candidate


def display(name: str) -> str:
    """How a bundled spec is shown in reports: ``vgg16 (bundled)``, the name the user can
    give again (and `convcalc show vgg16` prints its source), not a path that does not exist
    where the user stands."""
    return f"{name.removesuffix('.yaml')}{BUNDLED}"
