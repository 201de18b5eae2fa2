"""convcalc: check convolutional-network architectures before anyone trains them.

>>> import convcalc
>>> spec = convcalc.load("vgg16")
>>> result = convcalc.analyze(spec)
>>> result.totals.params
138357544
"""

from __future__ import annotations

from typing import Any

from .analysis.analyzer import Analysis, analyze
from .errors import ConvcalcError, FileError, Finding, Severity, SpecError, SpecNotFound
from .frontend.spec import Spec, load, load_file, load_text
from .records import Row, Totals

__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    """``convcalc.forward``: imported on first use, so that a check never loads NumPy."""
    if name == "forward":
        from .engine.forward import forward

        return forward
    raise AttributeError(f"module 'convcalc' has no attribute {name!r}")


__all__ = [
    "Analysis",
    "ConvcalcError",
    "FileError",
    "Finding",
    "Row",
    "Severity",
    "Spec",
    "SpecError",
    "SpecNotFound",
    "Totals",
    "__version__",
    "analyze",
    "forward",
    "load",
    "load_file",
    "load_text",
]
