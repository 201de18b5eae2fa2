"""convcalc: check convolutional-network architectures before anyone trains them.

>>> import convcalc
>>> spec = convcalc.load("vgg16")
>>> result = convcalc.analyze(spec)
>>> result.totals.params
138357544
"""

from __future__ import annotations

from .analysis import Analysis, Row, Totals, analyze
from .errors import ConvcalcError, FileError, Finding, Severity, SpecError, SpecNotFound
from .spec import Spec, load, load_file, load_text

__version__ = "0.1.0"

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
    "load",
    "load_file",
    "load_text",
]
