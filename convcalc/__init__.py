"""convcalc: check convolutional-network architectures before anyone trains them.

>>> import convcalc
>>> spec = convcalc.load("vgg16")
>>> result = convcalc.analyze(spec)
>>> result.totals.params
138357544
"""

from __future__ import annotations

from .analysis.analyzer import Analysis
from .api import analyze, forward  # their arguments checked; forward imports NumPy when called
from .errors import ConvcalcError, FileError, Finding, Severity, SpecError, SpecNotFound
from .frontend.spec import Spec, load, load_file, load_text
from .records import Row, Totals

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
    "forward",
    "load",
    "load_file",
    "load_text",
]
