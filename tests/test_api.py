"""The Python API (README "Python API"): a wrong type or value of any argument of analyze and
forward is a TypeError or a ValueError that names the function and the argument, raised before
anything runs; never an AttributeError from deep inside, never a silently wrong result."""

from __future__ import annotations

import inspect
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import convcalc
from convcalc.rules.lint import LintConfig

from .support import ROOT


@pytest.fixture(scope="module")
def lenet() -> convcalc.Spec:
    return convcalc.load("lenet5")


class BytesPath(os.PathLike[bytes]):
    def __fspath__(self) -> bytes:
        return b"spec.yaml"


class Index:
    """An integer-like object (like numpy.int64): accepted where an integer is."""

    def __init__(self, value: int) -> None:
        self.value = value

    def __index__(self) -> int:
        return self.value


def test_analyze_names_a_wrong_spec() -> None:
    with pytest.raises(TypeError) as info:
        convcalc.analyze(3)  # type: ignore[arg-type]
    assert str(info.value) == (
        "analyze() argument 'spec' must be a Spec (from convcalc.load), a path (str or "
        "os.PathLike) or a bundled spec's name, not int"
    )
    with pytest.raises(TypeError, match=r"^analyze\(\) argument 'spec' must be a Spec \(from "
                       r"convcalc.load\), .*, not None$"):  # fmt: skip
        convcalc.analyze(None)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"^analyze\(\) argument 'spec' must be a path of str, "):
        convcalc.analyze(BytesPath())  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"^analyze\(\) argument 'spec' is YAML text, not a "):
        convcalc.analyze("name: t\ninput: 8x8x3\narch: INPUT -> FC(2)\n")
    with pytest.raises(TypeError, match=r"argument 'spec' must be a Spec .*, not Analysis"):
        convcalc.analyze(convcalc.analyze(convcalc.load("lenet5")))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("value", "error", "message"),
    [
        ((-1, 5, 5), ValueError, "sizes must be 1 to 16,777,216, not -1"),
        ((0, 5, 5), ValueError, "sizes must be 1 to 16,777,216, not 0"),
        ((5, 5, 2**24 + 1), ValueError, "sizes must be 1 to 16,777,216, not 16,777,217"),
        ((5, 5), ValueError, "must be (width, height, depth): 3 sizes, not 2"),
        ((5, 5, 5, 5), ValueError, "must be (width, height, depth): 3 sizes, not 4"),
        ("224x224x3", TypeError, "must be a (width, height, depth) tuple of integers, not str"),
        (224, TypeError, "must be a (width, height, depth) tuple of integers, not int"),
        ((5.0, 5, 5), TypeError, "sizes must be integers, not float"),
        ((True, 5, 5), TypeError, "sizes must be integers, not bool"),
    ],
)
def test_analyze_checks_input(
    lenet: convcalc.Spec, value: Any, error: type[Exception], message: str
) -> None:
    with pytest.raises(error) as info:
        convcalc.analyze(lenet, input=value)
    assert str(info.value) == f"analyze() argument 'input' {message}"


def test_analyze_accepts_input_as_a_list_or_integer_like(lenet: convcalc.Spec) -> None:
    a = convcalc.analyze(lenet, input=[36, 36, 1])  # type: ignore[arg-type]
    assert a.input == (36, 36, 1) and isinstance(a.input, tuple)
    b = convcalc.analyze(lenet, input=(Index(36), Index(36), Index(1)))  # type: ignore[arg-type]
    assert b.input == (36, 36, 1) and all(type(v) is int for v in b.input)
    assert b.totals == a.totals


@pytest.mark.parametrize(
    ("name", "value", "error", "message"),
    [
        ("rounding", "bogus", ValueError,
         "must be one of 'floor', 'strict', 'caffe', not 'bogus'"),
        ("rounding", "Floor", ValueError,
         "must be one of 'floor', 'strict', 'caffe', not 'Floor' (did you mean 'floor'?)"),
        ("rounding", 1, TypeError, "must be a str or None, not int"),
        ("dtype", "int8", ValueError,
         "must be one of 'float32', 'float16', 'bfloat16', 'float64', not 'int8'"),
        ("optimizer", "adamm", ValueError, "must be one of 'sgd', 'momentum', 'nesterov', "
         "'adagrad', 'rmsprop', 'adam', 'adamw', not 'adamm' (did you mean 'adam'?)"),
        ("batch", 0, ValueError, "must be 1 to 1,073,741,824, not 0"),
        ("batch", -3, ValueError, "must be 1 to 1,073,741,824, not -3"),
        ("batch", 2**30 + 1, ValueError, "must be 1 to 1,073,741,824, not 1,073,741,825"),
        ("batch", True, TypeError, "must be an integer or None, not bool"),
        ("batch", "8", TypeError, "must be an integer or None, not str"),
        ("batch", 8.0, TypeError, "must be an integer or None, not float"),
        ("variables", [("N", 3)], TypeError, "must be a mapping of names to integers or "
         "booleans, not list"),
        ("variables", {3: 3}, TypeError, "keys must be variable names (str), not int"),
        ("variables", {"not a name": 3}, ValueError, "key 'not a name' is not a variable name"),
        ("variables", {"N": 2.5}, TypeError, "['N'] must be an integer or a bool, not float"),
        ("variables", {"N": None}, TypeError, "['N'] must be an integer or a bool, not None"),
        ("variables", {"N": 2**40 + 1}, ValueError,
         "['N'] must be within ±1,099,511,627,776 (2^40), not 1,099,511,627,777"),
        ("lint", {"ignore": ["CC504"]}, TypeError,
         "must be a convcalc.rules.lint.LintConfig or None, not dict"),
    ],
)  # fmt: skip
def test_analyze_checks_every_option(
    lenet: convcalc.Spec, name: str, value: Any, error: type[Exception], message: str
) -> None:
    with pytest.raises(error) as info:
        convcalc.analyze(lenet, **{name: value})
    assert str(info.value) == f"analyze() argument '{name}' {message}"


def test_analyze_with_good_arguments_is_the_analysis(lenet: convcalc.Spec) -> None:
    from convcalc.analysis.analyzer import analyze

    options: dict[str, Any] = {
        "input": (36, 36, 1), "variables": {}, "rounding": "strict", "batch": 4,
        "dtype": "float16", "optimizer": "adam", "lint": LintConfig(ignore=frozenset({"CC5"})),
    }  # fmt: skip

    def same(a: convcalc.Analysis, b: convcalc.Analysis) -> bool:
        return a._replace(graph=None) == b._replace(graph=None)  # graph nodes have no __eq__

    assert same(convcalc.analyze(lenet, **options), analyze(lenet, **options))
    assert same(convcalc.analyze(lenet), analyze(lenet))
    assert convcalc.analyze(lenet, batch=Index(2)).memory == analyze(lenet, batch=2).memory  # type: ignore[arg-type]
    pattern = convcalc.load("cs231n-pattern")
    assert (
        convcalc.analyze(pattern, variables={"N": 1, "M": Index(2)}).rows
        == analyze(  # type: ignore[dict-item]
            pattern, variables={"N": 1, "M": 2}
        ).rows
    )


def test_analyze_keeps_its_signature_and_documentation() -> None:
    from convcalc.analysis.analyzer import analyze

    public, inner = inspect.signature(convcalc.analyze), inspect.signature(analyze)
    assert public.parameters["spec"].annotation == "Spec | str | os.PathLike[str]"  # a path too
    spec = inner.parameters["spec"].replace(annotation=public.parameters["spec"].annotation)
    assert public == inner.replace(parameters=[spec, *list(inner.parameters.values())[1:]])
    assert convcalc.analyze.__doc__ and "TypeError" in convcalc.analyze.__doc__
    with pytest.raises(TypeError):
        convcalc.analyze(convcalc.load("lenet5"), (32, 32, 1))  # type: ignore[misc]
    with pytest.raises(TypeError, match="unexpected keyword argument 'shape'"):
        convcalc.analyze(convcalc.load("lenet5"), shape=(32, 32, 1))  # type: ignore[call-arg]


@pytest.mark.parametrize(
    ("name", "value", "error", "message"),
    [
        ("batch", 0, ValueError, "must be 1 to 65,536, not 0"),
        ("batch", "2", TypeError, "must be an integer, not str"),
        ("seed", -1, ValueError, "must be 0 to 18,446,744,073,709,551,615 (2^64 − 1), not -1"),
        ("seed", 2**64, ValueError, "must be 0 to 18,446,744,073,709,551,615 (2^64 − 1), not "
         "18,446,744,073,709,551,616"),
        ("seed", 1.5, TypeError, "must be an integer, not float"),
        ("max_memory", 0, ValueError, "must be at least 1 (bytes), not 0"),
        ("max_memory", "4GiB", TypeError, "must be an integer (bytes) or None, not str"),
        ("progress", 3, TypeError, "must be callable or None, not int"),
        ("fuse", "yes", TypeError, "must be a bool, not str"),
        ("trace_memory", None, TypeError, "must be a bool, not None"),
    ],
)  # fmt: skip
def test_forward_checks_every_argument(name: str, value: Any, error: type[Exception],
                                       message: str) -> None:  # fmt: skip
    analysis = convcalc.analyze(convcalc.load("lenet5"))
    with pytest.raises(error) as info:
        convcalc.forward(analysis, **{name: value})
    assert str(info.value) == f"forward() argument '{name}' {message}"


def test_forward_names_a_wrong_analysis() -> None:
    with pytest.raises(TypeError) as info:
        convcalc.forward(convcalc.load("lenet5"))
    assert str(info.value) == (
        "forward() argument 'analysis' must be an Analysis (from convcalc.analyze), not Spec"
    )


def test_forward_runs_with_good_arguments() -> None:
    analysis = convcalc.analyze(convcalc.load("lenet5"))
    result = convcalc.forward(analysis, batch=2, seed=2**64 - 1, trace_memory=False)
    assert result.ok and result.batch == 2


def test_forward_is_imported_without_numpy() -> None:
    code = (
        "import sys, inspect\n"
        "import convcalc\n"
        "from convcalc import forward\n"
        "print('numpy' in sys.modules, list(inspect.signature(forward).parameters)[:3])\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=ROOT, check=True)  # fmt: skip
    assert done.stdout.strip() == "False ['analysis', 'batch', 'seed']"


def test_every_public_function_refuses_a_wrong_first_argument() -> None:
    """Of __all__, what is defined outside frontend/ (load, load_file and load_text check
    their own arguments there)."""
    checked = {"analyze", "forward"}
    functions = {
        name for name in convcalc.__all__
        if inspect.isfunction(getattr(convcalc, name))
        and not getattr(convcalc, name).__module__.startswith("convcalc.frontend")
    }  # fmt: skip
    assert functions == checked
    for name in sorted(checked):
        with pytest.raises(TypeError, match=rf"^{name}\(\) argument '\w+' must be "):
            getattr(convcalc, name)(object())


VGG16_PARAMS = 138_357_544  # Simonyan & Zisserman 2014, configuration D


def test_analyze_takes_a_path_or_a_bundled_name(tmp_path: Path) -> None:
    by_name = convcalc.analyze("vgg16")
    assert by_name.totals.params == VGG16_PARAMS and by_name.spec.path == "vgg16 (bundled)"
    copy = tmp_path / "net.yaml"
    copy.write_text((ROOT / "specs" / "vgg16.yaml").read_text(encoding="utf-8"), "utf-8")
    for given in (copy, str(copy)):
        result = convcalc.analyze(given, input=(227, 227, 3))
        assert result.spec.path == str(copy) and result.input == (227, 227, 3)
        assert result.totals.params == VGG16_PARAMS
    with pytest.raises(convcalc.SpecNotFound, match="did you mean `vgg16`"):
        convcalc.analyze("vgg-16")
    with pytest.raises(convcalc.FileError, match="is a directory"):
        convcalc.analyze(tmp_path)
    (tmp_path / "bad.yaml").write_text("name: b\ninput: 8x8x3\narch: INPUT -> CONV(\n", "utf-8")
    with pytest.raises(convcalc.SpecError):
        convcalc.analyze(tmp_path / "bad.yaml")
