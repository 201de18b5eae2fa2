"""Arguments, resolved: a block call's matched to its parameters, a layer's checked and
completed with the spec's defaults and the built-in ones."""

from __future__ import annotations

from collections.abc import Mapping

from ..errors import FindingError, did_you_mean, excerpt
from ..frontend.evaluate import Env, check_arg, evaluate_value, fail
from ..frontend.keywords import WORDS
from ..frontend.spec import Block
from ..frontend.syntax import Arg, Arith, Call, Layer, Name, Neg, Pair, ValueExpr, operators
from ..layers.base import ParamSpec
from ..layers.vocabulary import LAYERS, argument_hint
from ..records import ArgValue
from ..source import Span


def call_operators(block: Block, call: Call) -> int:
    """The arithmetic operators binding a call applies: its arguments' and the block's
    defaults' (counted whether used or not, as expansion and its bound both do)."""
    given = sum(operators(arg.value) for arg in call.args)
    return given + sum(operators(p.default) for p in block.header.params)


def bind_call(block: Block, call: Call, env: Env) -> dict[str, ArgValue]:
    """Match a call's arguments to the block's parameters."""
    params = block.header.params
    names = [p.name for p in params]
    bound: dict[str, ArgValue] = {}
    positional = True
    for i, arg in enumerate(call.args):
        if arg.key is None:
            if not positional:
                raise fail("CC113", "a positional argument follows a named one", arg.span)
            if i >= len(params):
                raise fail(
                    "CC113",
                    f"`{call.name}` takes {len(params)} argument"
                    f"{'s' if len(params) != 1 else ''}, got {len(call.args)}",
                    arg.span,
                    help=_signature(block),
                )
            key = names[i]
        else:
            positional = False
            key = arg.key
            if key not in names:
                raise fail(
                    "CC113",
                    f"`{call.name}` has no parameter `{key}`{did_you_mean(key, names)}",
                    arg.key_span or arg.span,
                    help=_signature(block),
                )
        if key in bound:
            raise fail("CC113", f"parameter `{key}` of `{call.name}` is given twice", arg.span)
        value = evaluate_value(arg.value, env)
        bound[key] = value
    for param in params:
        if param.name not in bound:
            if param.default is None:
                raise fail(
                    "CC113",
                    f"`{call.name}` needs a value for `{param.name}`",
                    call.span,
                    help=_signature(block),
                )
            bound[param.name] = evaluate_value(param.default, {**env, **bound})
    return bound


def _signature(block: Block) -> str:
    """``the block is stage(c, n=2)``: the help of a wrong call, made only for one."""
    params = ", ".join(
        p.name if p.default is None else f"{p.name}={excerpt(p.default.span.text)}"
        for p in block.header.params
    )
    return f"the block is {block.header.name}({params})"


def resolve_args(
    type_name: str,
    given: tuple[Arg, ...],
    env: Env,
    defaults: Mapping[str, ArgValue],
    span: Span,
) -> dict[str, ArgValue]:
    """Explicit arguments, then the spec's defaults, then the built-in ones."""
    layer = LAYERS[type_name]
    declared = {p.name: p for p in layer.params}
    args: dict[str, ArgValue] = {}
    for i, arg in enumerate(given):
        key = arg.key
        if key is None:
            n = layer.positionals
            if i >= n or layer.positional is None or any(g.key for g in given[:i]):
                first = layer.positional
                which = "the first argument" if n == 1 else f"the first {n} arguments"
                raise fail(
                    "CC111",
                    f"{type_name} takes no arguments"
                    if first is None
                    else f"only {which} of {type_name} may be positional"
                    if i >= n
                    else "a positional argument follows a named one",
                    arg.span,
                    help=None
                    if first is None
                    else f"name it: {type_name}(..., {_next_param(layer.params, args)}=...)",
                )
            key = layer.params[i].name
        spec = declared.get(key)
        if spec is None:
            raise fail(
                "CC111",
                f"{type_name} has no argument `{key}`{argument_hint(key, declared)}",
                arg.key_span or arg.span,
                help=f"{type_name} takes: {', '.join(declared) or 'no arguments'}",
            )
        if key in args:
            raise fail("CC111", f"{type_name} argument {key} is given twice", arg.span)
        if (
            isinstance(arg.value, Name)
            and arg.value.name not in env
            and arg.value.name not in WORDS
            and spec.kind in ("pad", "choice", "bool")
        ):
            # a misspelt word (P=smae, type=maxx), not a missing variable
            check_arg(type_name, spec, arg.value.name, arg.value.span)
        value = evaluate_value(arg.value, env, words=True)
        if isinstance(value, str) and value not in WORDS:
            raise fail("CC111", f"{type_name} argument {key}={value}: not a known word", arg.span)
        args[key] = check_arg(type_name, spec, value, arg.value.span)
    for spec in layer.params:
        if spec.name in args:
            continue
        if spec.name in defaults:
            args[spec.name] = defaults[spec.name]
        elif spec.default == "F":
            args[spec.name] = args["F"]
        elif spec.default is not None:
            args[spec.name] = _builtin(spec)
        else:
            raise _missing(type_name, spec, span)
    return args


def names(value: ValueExpr) -> set[str]:
    """The names an argument's value reads (variables, or words such as ``same``). Only
    parentheses nest, at most ``limits.MAX_NESTING`` deep, so the walk may recurse."""
    if isinstance(value, Name):
        return {value.name}
    if isinstance(value, Neg):
        return names(value.operand)
    if isinstance(value, Pair):
        return names(value.w) | names(value.h)
    if isinstance(value, Arith):
        found = names(value.first)
        for step in value.steps:
            found |= names(step.operand)
        return found
    return set()


#: what a name the environment does not hold reads as, in a resolved-arguments key
_UNSET = object()


class Resolver:
    """A layer's arguments resolved once for each distinct text and value of the names they
    read: ``[CONV(8, F=1, P=1)]*19990`` checks its arguments once, not 19,990 times, and so
    does a pattern that writes ``CONV(8, F=1)`` 19,990 times; those layers share one dict
    (nothing changes a layer's arguments after expansion). A failure is not kept: it is
    raised again, with its own location, at each use."""

    def __init__(self) -> None:
        #: id of a layer -> (the layer, what its arguments say: their keys and texts, and
        #: the names they read)
        self._reads: dict[int, tuple[Layer, tuple[object, ...], tuple[str, ...]]] = {}
        self._resolved: dict[tuple[object, ...], dict[str, ArgValue]] = {}

    def __call__(
        self, layer: Layer, env: Env, defaults: Mapping[str, ArgValue]
    ) -> dict[str, ArgValue]:
        entry = self._reads.get(id(layer))
        if entry is None or entry[0] is not layer:
            read: set[str] = set()
            for arg in layer.args:
                read |= names(arg.value)
            said = (layer.type, *((a.key, a.value.span.text) for a in layer.args))
            entry = (layer, said, tuple(sorted(read)))
            self._reads[id(layer)] = entry  # the layer is held, so its id is not reused
        values = [env.get(name, _UNSET) for name in entry[2]]
        # True == 1 as dict keys, but a flag and a count are different arguments
        key = (entry[1], *((type(v), v) for v in values))
        args = self._resolved.get(key)
        if args is None:
            args = resolve_args(layer.type, layer.args, env, defaults, layer.span)
            self._resolved[key] = args
        return args


def _next_param(params: tuple[ParamSpec, ...], args: Mapping[str, ArgValue]) -> str:
    return next((p.name for p in params[1:] if p.name not in args), params[-1].name)


def _builtin(spec: ParamSpec) -> ArgValue:
    value = spec.default
    assert value is not None
    if spec.kind in ("pair", "pad") and isinstance(value, int):
        return (value, value)
    return value


def _missing(type_name: str, spec: ParamSpec, span: Span) -> FindingError:
    example = "0.1" if spec.kind == "float" else "64"  # DROPPATH's p, CONV's K
    return fail(
        "CC111",
        f"{type_name} needs {spec.name} ({spec.doc})",
        span,
        help=f"write {type_name}({spec.name}={example}), or set it for every {type_name} in the "
        f"spec: defaults: {{{type_name}: {{{spec.name}: {example}}}}}",
    )
