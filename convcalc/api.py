"""The public functions' argument checks: ``convcalc.analyze`` and ``convcalc.forward``.

The pipeline trusts its arguments (the CLI checks its options, and the library calls itself
with good values). A library user's wrong type or value would otherwise surface as an
AttributeError deep inside, or pass unnoticed (an input of -1 analysed without a finding):
these wrappers refuse it first with a TypeError or a ValueError that names the function and
the argument, then call the real function.
"""

from __future__ import annotations

import operator
import os
import re
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, NoReturn

from . import limits
from .analysis.analyzer import Analysis
from .analysis.analyzer import analyze as _analyze
from .errors import suggest
from .frontend.spec import Spec, load_spec
from .frontend.spec_schema import DTYPES, OPTIMIZERS, ROUNDINGS
from .records import Shape
from .rules.lint import LintConfig

if TYPE_CHECKING:
    from .engine.forward import ForwardResult

#: The largest batch of the memory estimate (as `check --batch`) and of a forward pass (as
#: `run --batch`); the largest seed (NumPy's default_rng takes any, 64 bits is plenty).
MAX_BATCH = 1 << 30
MAX_FORWARD_BATCH = 1 << 16
MAX_SEED = (1 << 64) - 1
_NAME = re.compile(r"[A-Za-z_]\w*")


def _type(value: object) -> str:
    return "None" if value is None else type(value).__name__


class _Arguments:
    """The errors of one function's arguments: ``analyze() argument 'input' ...``."""

    def __init__(self, function: str) -> None:
        self.function = function

    def wrong_type(self, name: str, problem: str) -> NoReturn:
        raise TypeError(f"{self.function}() argument '{name}' {problem}")

    def wrong_value(self, name: str, problem: str) -> NoReturn:
        raise ValueError(f"{self.function}() argument '{name}' {problem}")

    def integer(self, name: str, value: object, what: str, verb: str = "must be") -> int:
        """``value`` as an int (anything with __index__, like numpy.int64), never a bool."""
        if isinstance(value, bool) or not hasattr(type(value), "__index__"):
            self.wrong_type(name, f"{verb} {what}, not {_type(value)}")
        return operator.index(value)  # type: ignore[arg-type]

    def choice(self, name: str, value: object, choices: Iterable[str]) -> str | None:
        if value is None:
            return None
        if not isinstance(value, str):
            self.wrong_type(name, f"must be a str or None, not {_type(value)}")
        options = tuple(choices)
        if value not in options:
            best = suggest(value, options)
            hint = f" (did you mean {best!r}?)" if best else ""
            allowed = ", ".join(repr(o) for o in options)
            self.wrong_value(name, f"must be one of {allowed}, not {value!r}{hint}")
        return value

    def flag(self, name: str, value: object) -> bool:
        if not isinstance(value, bool):
            self.wrong_type(name, f"must be a bool, not {_type(value)}")
        return value


_A = _Arguments("analyze")
_F = _Arguments("forward")


def _shape(value: object) -> Shape | None:
    if value is None:
        return None
    if not isinstance(value, (tuple, list)):
        _A.wrong_type("input", f"must be a (width, height, depth) tuple of integers, not "
                      f"{_type(value)}")  # fmt: skip
    if len(value) != 3:
        _A.wrong_value("input", f"must be (width, height, depth): 3 sizes, not {len(value)}")
    sizes = [_A.integer("input", v, "integers", "sizes must be") for v in value]
    for size in sizes:
        if not 1 <= size <= limits.MAX_SIZE:
            _A.wrong_value("input", f"sizes must be 1 to {limits.MAX_SIZE:,}, not {size:,}")
    return sizes[0], sizes[1], sizes[2]


def _variables(value: object) -> dict[str, int | bool] | None:
    if value is None:
        return None
    if not isinstance(value, Mapping):
        _A.wrong_type("variables", "must be a mapping of names to integers or booleans, not "
                      f"{_type(value)}")  # fmt: skip
    result: dict[str, int | bool] = {}
    for key, item in value.items():
        if not isinstance(key, str):
            _A.wrong_type("variables", f"keys must be variable names (str), not {_type(key)}")
        if not _NAME.fullmatch(key):
            _A.wrong_value("variables", f"key {key!r} is not a variable name")
        if isinstance(item, bool):
            result[key] = item
            continue
        number = _A.integer("variables", item, "an integer or a bool", f"[{key!r}] must be")
        if abs(number) > limits.MAX_INT:
            _A.wrong_value("variables", f"[{key!r}] must be within ±{limits.MAX_INT:,} (2^40), "
                           f"not {number:,}")  # fmt: skip
        result[key] = number
    return result


def _spec(value: object) -> Spec:
    """A Spec as given, or loaded from a path or a bundled spec's name (as `convcalc check
    SPEC` does: a file that exists, else a bundled name)."""
    if isinstance(value, Spec):
        return value
    if isinstance(value, (str, os.PathLike)):
        path = os.fspath(value)
        if isinstance(path, bytes):
            _A.wrong_type("spec", "must be a path of str, not of bytes")
        if "\n" in path:
            _A.wrong_value("spec", "is YAML text, not a path: use convcalc.load_text(text)")
        return load_spec(path)
    _A.wrong_type("spec", "must be a Spec (from convcalc.load), a path (str or os.PathLike) "
                  f"or a bundled spec's name, not {_type(value)}")  # fmt: skip


def analyze(
    spec: Spec | str | os.PathLike[str],
    *,
    input: Shape | None = None,
    variables: Mapping[str, int | bool] | None = None,
    rounding: str | None = None,
    batch: int | None = None,
    dtype: str | None = None,
    optimizer: str | None = None,
    lint: LintConfig | None = None,
) -> Analysis:
    """Expand a spec and propagate shapes, counts, memory and findings through it.

    ``spec`` is a Spec (from ``convcalc.load``), a path (str or os.PathLike) or the name of a
    bundled spec; a path or name is loaded first, raising as ``convcalc.load`` does
    (SpecError, SpecNotFound, FileError) when it cannot be. ``input`` overrides the spec's
    input volume (width, height, depth: 1 to 2^24 each),
    ``variables`` its ``vars`` (like --set), ``rounding`` its rounding mode (floor, strict,
    caffe); ``batch`` (1 to 2^30), ``dtype`` and ``optimizer`` the memory estimate's;
    ``lint`` (a LintConfig) selects and re-grades rules over the spec's own `lint:`.
    Problems in a loaded spec are findings in the result, never exceptions; a wrong argument is a
    TypeError (its type) or a ValueError (its value) that names it.
    """
    loaded = _spec(spec)
    shape = _shape(input)
    chosen = _variables(variables)
    rounding = _A.choice("rounding", rounding, ROUNDINGS)
    dtype = _A.choice("dtype", dtype, DTYPES)
    optimizer = _A.choice("optimizer", optimizer, OPTIMIZERS)
    if batch is not None:
        batch = _A.integer("batch", batch, "an integer or None")
        if not 1 <= batch <= MAX_BATCH:
            _A.wrong_value("batch", f"must be 1 to {MAX_BATCH:,}, not {batch:,}")
    if lint is not None and not isinstance(lint, LintConfig):
        _A.wrong_type(
            "lint", f"must be a convcalc.rules.lint.LintConfig or None, not {_type(lint)}"
        )
    return _analyze(loaded, input=shape, variables=chosen, rounding=rounding, batch=batch,
                    dtype=dtype, optimizer=optimizer, lint=lint)  # fmt: skip


def forward(
    analysis: Analysis,
    *,
    batch: int = 1,
    seed: int = 0,
    max_memory: int | None = None,
    progress: Callable[[int, int, str], None] | None = None,
    fuse: bool = True,
    trace_memory: bool = True,
) -> ForwardResult:
    """Run the analysed network in NumPy on a random batch and compare every shape.

    ``batch`` is 1 to 65,536 images, ``seed`` (0 to 2^64 − 1) seeds the He-initialised
    weights and the input; above ``max_memory`` bytes (default: half the available memory)
    the pass refuses to start. ``progress(done, total, layer_name)`` is called after each
    layer; ``trace_memory=False`` skips tracemalloc. A wrong argument is a TypeError or a
    ValueError that names it; NumPy is imported on the first call.
    """
    if not isinstance(analysis, Analysis):
        _F.wrong_type("analysis", "must be an Analysis (from convcalc.analyze), not "
                      f"{_type(analysis)}")  # fmt: skip
    batch = _F.integer("batch", batch, "an integer")
    if not 1 <= batch <= MAX_FORWARD_BATCH:
        _F.wrong_value("batch", f"must be 1 to {MAX_FORWARD_BATCH:,}, not {batch:,}")
    seed = _F.integer("seed", seed, "an integer")
    if not 0 <= seed <= MAX_SEED:
        _F.wrong_value("seed", f"must be 0 to {MAX_SEED:,} (2^64 − 1), not {seed:,}")
    if max_memory is not None:
        max_memory = _F.integer("max_memory", max_memory, "an integer (bytes) or None")
        if max_memory < 1:
            _F.wrong_value("max_memory", f"must be at least 1 (bytes), not {max_memory:,}")
    if progress is not None and not callable(progress):
        _F.wrong_type("progress", f"must be callable or None, not {_type(progress)}")
    fuse = _F.flag("fuse", fuse)
    trace_memory = _F.flag("trace_memory", trace_memory)
    from .engine.forward import forward as _forward

    return _forward(
        analysis,
        batch=batch,
        seed=seed,
        max_memory=max_memory,
        progress=progress,
        fuse=fuse,
        trace_memory=trace_memory,
    )
