"""The specs shipped inside the package (``convcalc check vgg16`` from any directory).

Plain ``os.path``: pathlib costs a check 7 ms of imports.
"""

from __future__ import annotations

import os

DIRECTORY = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "specs")


def names() -> list[str]:
    return sorted(f[:-5] for f in os.listdir(DIRECTORY) if f.endswith(".yaml"))


def path(name: str) -> str | None:
    """The file of a bundled spec, or None."""
    name = name.removesuffix(".yaml")
    candidate = os.path.join(DIRECTORY, f"{name}.yaml")
    if "/" in name or "\\" in name or not os.path.isfile(candidate):
        return None
    return candidate


def display(name: str) -> str:
    """How a bundled spec's file is shown in reports: stable on every machine."""
    return f"specs/{name.removesuffix('.yaml')}.yaml"
