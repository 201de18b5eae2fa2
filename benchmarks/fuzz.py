"""Mutation fuzzer: bundled specs, mutated, through `convcalc check`, in-process.

Every case takes a bundled spec (specs/*.yaml), applies one to four random mutations
(character edits, swapped tokens, extreme numbers, truncation, line edits, random bytes, YAML
tricks, grammar-aware edits), writes it to a temporary file and runs
`convcalc check CASE --format json` through convcalc.cli.main with the output captured. About
one case in eight uses another format, another command (memory, expand, convert), extra options
or an inline `-e` pattern instead.

Each case must end in exit 0, 1 or 2 with no traceback in its output (and, for JSON, output that
parses). Anything else -- exit 3, an exception escaping main, "Traceback" in the output, another
exit code, unparsable JSON, a worker killed by the hard timeout or dying -- is a bug: the input
is minimised (greedily deleting lines, then characters, while the same failure reproduces) and
saved to --out (raw inputs under raw/, slow ones under slow/), and printed. Cases slower than
--timeout are flagged and minimised the same way.

A case is a pure function of (--seed, its index): `--show I` prints case I's input and command.

Run: `python benchmarks/fuzz.py [--cases N] [--seed S] [--timeout SECONDS] [--workers N]`
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import multiprocessing as mp
import os
import queue
import random
import re
import resource
import shutil
import signal
import string
import sys
import tempfile
import time
import traceback
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from convcalc.cli import main as cli_main
from convcalc.frontend import bundled

SEEDS = {
    p.name: p.read_text(encoding="utf-8") for p in sorted(Path(bundled.DIRECTORY).glob("*.yaml"))
}
SEED_NAMES = sorted(SEEDS)

# ---------------------------------------------------------------------------------------------
# The material mutations draw from

GRAMMAR = "[]{}()*?@|,=->#:'\""
UNICODE = "→×—–−·²³½٣４⑤ℌﬁİßẞ\u00a0\u200b\u2028\u0085\u0301\ufeff全🙂"
OTHER = "\t\0 \n\r_.!&%$^~\\<>"
ALPHABET = GRAMMAR * 3 + string.digits * 2 + string.ascii_letters + UNICODE + OTHER
NUMBERS = (
    "0",
    "-1",
    "1",
    "2",
    "3",
    "-0",
    "00",
    "007",
    "+5",
    "1.5",
    "0.5",
    "1e3",
    "1e400",
    "-1e400",
    "0x10",
    "0o17",
    "1_000",
    "1:30",
    ".inf",
    "-.inf",
    ".nan",
    str(10**12),
    str(10**40),
    "99999999999999999999",
    str(2**24),
    str(2**24 + 1),
    str(2**40),
    str(2**40 + 1),
    str(2**63),
    "2147483648",
    "9" * 29,
    "9" * 31,
    "9" * 400,
    "١٢",
    "４",
    "²",
)
SMALL_COUNTS = (
    "0",
    "1",
    "2",
    "3",
    "7",
    "64",
    "65",
    "1000",
    "100000",
    "100001",
    "N",
    "(N + 1)",
    "(0 - 1)",
    "(2 ** 3)",
    "(10 // 0)",
    "(7 % 0)",
    "x",
    "-1",
    "(" * 70 + "1" + ")" * 70,
)
LAYERS = (
    "CONV",
    "LOCAL",
    "TCONV",
    "POOL",
    "GAP",
    "FC",
    "RELU",
    "LRELU",
    "ELU",
    "GELU",
    "SIGMOID",
    "TANH",
    "SOFTMAX",
    "BN",
    "LRN",
    "DROPOUT",
    "FLATTEN",
    "UP",
    "ID",
    "SKIP",
    "INPUT",
    "CONV3-64",
    "CONV1-0",
    "CONV99999999999-1",
    "POOL2",
    "POOL0",
    "FC-4096",
    "FC-0",
    "conv",
    "Conv",
)
ARGS = (
    "16",
    "64",
    "0",
    "-1",
    "K=8",
    "K=0",
    "F=3",
    "F=1",
    "F=0",
    "F=7",
    "S=1",
    "S=2",
    "S=0",
    "P=1",
    "P=0",
    "P=-1",
    "P=same",
    "P=valid",
    "P=(1, 2)",
    "F=(3, 5)",
    "F=(0, 3)",
    "S=(2, 1)",
    "groups=2",
    "groups=0",
    "groups=3",
    "groups=-1",
    "groups=64",
    "dilation=2",
    "dilation=0",
    "dilation=99999",
    "ceil=true",
    "ceil=false",
    "ceil=1",
    "type=avg",
    "type=l2",
    "type=max",
    "type=min",
    "bias=false",
    "bias=true",
    "bias=2",
    "inplace=false",
    "out_pad=1",
    "out_pad=5",
    "p=0.5",
    "p=1.5",
    "p=-0",
    "n=2",
    "n=0",
    "K=2*3",
    "K=(N+1)",
    "F=N//0",
    "K=10**12",
    "S=2**40",
    "K=" + "9" * 30,
    "F=same",
    "X=1",
    "F=",
    "=3",
    "K=K",
    "(1, 2, 3)",
    "(3, 3)",
)
LABELS = ("@a", "@b", "@conv1", "@input", "@x y", "@[bold]", "@", "@1", "@é")
MARKUP = ("[/]", "[bold]", "[red]x[/red]", "[link=http://x]", "[/foo]", "\\[", "%s", "{0}", "{}")
YAML_VALUES = (
    "null",
    "~",
    "[]",
    "{}",
    "true",
    "no",
    "1.5",
    "-1",
    "0",
    str(10**40),
    ".inf",
    ".nan",
    "[1, 2]",
    "{a: 1}",
    "''",
    '""',
    "!!binary aGVsbG8=",
    "!!timestamp 2001-12-14",
    "!!set {a}",
    "!!python/object/apply:os.system ['echo pwned']",
    "!!python/name:os.system",
    "!foo bar",
    "!!str 3",
    "!!int '7'",
    "!!float 1",
    "*undefined",
    "&a",
    "|",
    ">",
    "- x",
    "? x",
    "@x",
    "`x`",
    "%YAML 1.1",
    "1:30",
    "0o17",
    "2001-12-14",
    "[224, 224, 3]",
    "224x224x3",
    "0x0x0",
    "224x224",
    "224x224x3x1",
    "-224x224x3",
    "99999999999x1x1",
    "224×224×3",
    "[224, 224, .inf]",
    "[224, 224, .nan]",
    "[1e400, 1, 1]",
    "[true, 1, 1]",
    "[[1], 1, 1]",
)
TOP_KEYS = (
    "name",
    "description",
    "input",
    "dtype",
    "rounding",
    "vars",
    "defaults",
    "blocks",
    "memory",
    "budgets",
    "lint",
    "arch",
    "Arch",
    "arhc",
    "<<",
    "x",
    "",
)
TOKEN = re.compile(r"[A-Za-z_][A-Za-z_0-9]*|\d+|->|[^\s\w]")
NUMBER = re.compile(r"(?<![\w.])\d+(?![\w.])")
ARROW = re.compile(r"->")
LAYER_CALL = re.compile(r"\b(CONV|LOCAL|TCONV|POOL|FC|DROPOUT|UP|SKIP)\b(\([^()\n]*\))?")
REPEAT = re.compile(r"\*\s*(\d+|[A-Za-z_]\w*|\([^()\n]*\))")
TOP_LINE = re.compile(r"^([A-Za-z_<][\w<]*):[ \t]*(.*)$", re.M)


def pick(rng: random.Random, seq: tuple[str, ...] | list[str] | str) -> str:
    return seq[rng.randrange(len(seq))]


def random_args(rng: random.Random) -> str:
    return "(" + ", ".join(pick(rng, ARGS) for _ in range(rng.choice((0, 1, 1, 2, 3, 5)))) + ")"


def random_layer(rng: random.Random) -> str:
    text = pick(rng, LAYERS)
    if rng.random() < 0.6:
        text += random_args(rng)
    if rng.random() < 0.15:
        text += pick(rng, LABELS)
    return text


def random_chain(rng: random.Random, depth: int = 0) -> str:
    """A random pattern in the arrow grammar (mostly well formed, sometimes not)."""
    stages = []
    for _ in range(rng.randint(1, 3)):
        roll = rng.random() if depth < 3 else 0.0
        if roll < 0.55:
            stage = random_layer(rng)
        elif roll < 0.7:
            stage = f"[{random_chain(rng, depth + 1)}]*{pick(rng, SMALL_COUNTS)}"
        elif roll < 0.8:
            branches = " | ".join(random_chain(rng, depth + 1) for _ in range(rng.randint(1, 3)))
            stage = f"{rng.choice(('ADD', 'CAT'))}{{ {branches} }}"
        elif roll < 0.9:
            stage = f"RES{{ {random_chain(rng, depth + 1)} }}"
        else:
            stage = f"[{random_chain(rng, depth + 1)}]?{rng.choice(('', 'N', 'x', 'K'))}"
        stages.append(stage)
    return " -> ".join(stages)


def span(rng: random.Random, pattern: re.Pattern[str], text: str) -> re.Match[str] | None:
    matches = list(pattern.finditer(text))
    return rng.choice(matches) if matches else None


# ---------------------------------------------------------------------------------------------
# Mutations: each takes (rng, text) and returns the new text


def m_insert_chars(rng: random.Random, text: str) -> str:
    for _ in range(rng.randint(1, 5)):
        at = rng.randint(0, len(text))
        chars = "".join(pick(rng, ALPHABET) for _ in range(rng.randint(1, 3)))
        text = text[:at] + chars + text[at:]
    return text


def m_delete_chars(rng: random.Random, text: str) -> str:
    for _ in range(rng.randint(1, 4)):
        at = rng.randint(0, len(text))
        text = text[:at] + text[at + rng.randint(1, 4) :]
    return text


def m_replace_chars(rng: random.Random, text: str) -> str:
    for _ in range(rng.randint(1, 5)):
        at = rng.randrange(len(text) or 1)
        text = text[:at] + pick(rng, ALPHABET) + text[at + 1 :]
    return text


def m_swap_tokens(rng: random.Random, text: str) -> str:
    tokens = list(TOKEN.finditer(text))
    if len(tokens) < 2:
        return text
    a, b = sorted(rng.sample(tokens, 2), key=lambda m: m.start())
    return text[: a.start()] + b.group() + text[a.end() : b.start()] + a.group() + text[b.end() :]


def m_copy_token(rng: random.Random, text: str) -> str:
    tokens = list(TOKEN.finditer(text))
    if not tokens:
        return text
    source, target = rng.choice(tokens), rng.choice(tokens)
    return text[: target.start()] + source.group() + text[target.end() :]


def m_number(rng: random.Random, text: str) -> str:
    match = span(rng, NUMBER, text)
    if match is None:
        return text
    return text[: match.start()] + pick(rng, NUMBERS) + text[match.end() :]


def m_truncate(rng: random.Random, text: str) -> str:
    return text[: rng.randint(0, len(text))]


def m_lines(rng: random.Random, text: str) -> str:
    lines = text.splitlines(keepends=True)
    if not lines:
        return text
    i = rng.randrange(len(lines))
    j = min(len(lines), i + rng.choice((1, 1, 1, 2, 3)))
    kind = rng.randrange(5)
    if kind == 0:  # duplicate
        lines[j:j] = lines[i:j] * rng.choice((1, 1, 2, 50))
    elif kind == 1:  # delete
        del lines[i:j]
    elif kind == 2:  # swap with another line
        k = rng.randrange(len(lines))
        lines[i], lines[k] = lines[k], lines[i]
    elif kind == 3:  # re-indent
        stripped = lines[i].lstrip(" \t")
        lines[i] = pick(rng, ("", " ", "  ", "    ", "\t", " \t", " " * 40)) + stripped
    else:  # line endings
        ending = pick(rng, ("\r\n", "\r", "\x85", "\u2028", "\x0c\n", ""))
        lines = [line.rstrip("\n") + ending for line in lines]
    return "".join(lines)


def m_random_bytes(rng: random.Random, text: str) -> str:
    """Raw bytes, carried through str as surrogate escapes (written back with surrogateescape)."""
    blob = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
    at = rng.randint(0, len(text))
    return text[:at] + blob.decode("utf-8", "surrogateescape") + text[at:]


def m_yaml(rng: random.Random, text: str) -> str:
    tops = list(TOP_LINE.finditer(text))
    kind = rng.randrange(10)
    if kind == 0 and tops:  # duplicate a top-level key (single line)
        line = rng.choice(tops).group()
        return text + ("" if text.endswith("\n") else "\n") + line + "\n"
    if kind == 1 and len(tops) >= 2:  # anchor one value, alias it from another key
        a, b = rng.sample(tops, 2)
        value = f"&v {a.group(2)}" if a.group(2) else "&v"
        edits = {a: f"{a.group(1)}: {value}", b: f"{b.group(1)}: *v"}
        for match in sorted(edits, key=lambda m: m.start(), reverse=True):
            text = text[: match.start()] + edits[match] + text[match.end() :]
        return text
    if kind == 2 and tops:  # a tag or a strange value
        match = rng.choice(tops)
        value = pick(rng, YAML_VALUES)
        if rng.random() < 0.5 and match.group(2):
            value = f"{pick(rng, ('!!str', '!!int', '!!map', '!!seq', '!x', '!!binary'))} "
            value += match.group(2)
        return text[: match.start()] + f"{match.group(1)}: {value}" + text[match.end() :]
    if kind == 3:  # billion laughs
        levels = rng.randint(3, 12)
        bomb = ["x0: &a0 [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]"]
        bomb += [f"x{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, levels)]
        key = pick(rng, ("vars", "description", "bomb", "defaults"))
        bomb_text = f"{key}:\n" + "".join(f"  {line}\n" for line in bomb)
        return bomb_text + text
    if kind == 4:  # merge key
        return (
            text.replace("defaults:\n", "base: &b {K: 3}\ndefaults:\n  <<: *b\n", 1)
            if "defaults:\n" in text
            else "x: &b {a: 1}\nvars: {<<: *b}\n" + text
        )
    if kind == 5:  # arch style: | -> > / |- / |+ / |2 / quoted / plain
        style = pick(rng, (">", "|-", "|+", "|2", ">-", "|1", "|0", "|" + "9", "'", '"', ""))
        return text.replace("arch: |", f"arch: {style}", 1)
    if kind == 6:  # flow <-> block
        block = re.search(r"^(\w+):\n((?:  .*\n)+)", text, re.M)
        flow = re.search(r"^(\w+): \{(.*)\}$", text, re.M)
        if flow and (rng.random() < 0.5 or not block):
            items = "".join(f"  {item.strip()}\n" for item in flow.group(2).split(","))
            return text[: flow.start()] + f"{flow.group(1)}:\n{items}" + text[flow.end() + 1 :]
        if block:
            entries = [line.strip() for line in block.group(2).splitlines() if line.strip()]
            return (
                text[: block.start()]
                + f"{block.group(1)}: {{{', '.join(entries)}}}\n"
                + text[block.end() :]
            )
        return text
    if kind == 7:  # documents and directives
        extra = pick(
            rng,
            (
                "---\n",
                "...\n",
                "%YAML 1.2\n---\n",
                "%TAG ! tag:x,2000:\n---\n",
                "--- !!map\n",
                "\ufeff",
                "# " + "x" * 5000 + "\n",
            ),
        )
        return extra + text if rng.random() < 0.6 else text + "\n---\n" + text
    if kind == 8:  # a new key (unknown, misspelt or duplicate)
        return text + f"\n{pick(rng, TOP_KEYS)}: {pick(rng, YAML_VALUES)}\n"
    # deep YAML nesting
    depth = rng.choice((10, 63, 64, 65, 200, 2000))
    return text + "\nvars: " + "[" * depth + "1" + "]" * depth + "\n"


def m_wrap(rng: random.Random, text: str) -> str:
    """Wrap the text between two arrows in [..]*N (or ..? / ..*N over ...)."""
    arrows = list(ARROW.finditer(text))
    if len(arrows) < 2:
        return text
    a, b = sorted(rng.sample(arrows, 2), key=lambda m: m.start())
    suffix = pick(
        rng,
        (
            "*" + pick(rng, SMALL_COUNTS),
            "?",
            "?N",
            "*2 over c=(1, 2)",
            "*3 over c=(1, 2)",
            "*0",
            "*1?x",
            "* ",
            "**2",
        ),
    )
    return (
        text[: a.end()] + " [" + text[a.end() : b.start()] + "]" + suffix + " " + text[b.start() :]
    )


def m_nest(rng: random.Random, text: str) -> str:
    arrows = list(ARROW.finditer(text))
    if len(arrows) < 2:
        return text
    a, b = sorted(rng.sample(arrows, 2), key=lambda m: m.start())
    depth = rng.choice((2, 5, 30, 63, 64, 65, 100, 1000, 5000))
    opener, closer = rng.choice((("[", "]"), ("[", "]*1"), ("RES{", "}"), ("ADD{", "|ID}")))
    return (
        text[: a.end()]
        + " "
        + opener * depth
        + text[a.end() : b.start()]
        + closer * depth
        + " "
        + text[b.start() :]
    )


def m_insert_stage(rng: random.Random, text: str) -> str:
    """After a random arrow: a merge, SKIP, a random layer or a random chain."""
    match = span(rng, ARROW, text)
    if match is None:
        return text
    kind = rng.randrange(5)
    if kind == 0:
        stage = f"ADD{{ {random_chain(rng)} | {pick(rng, ('SKIP', 'ID', random_chain(rng)))} }}"
    elif kind == 1:
        stage = f"CAT{{ {random_chain(rng)} | {random_chain(rng)} }}"
    elif kind == 2:
        stage = f"RES{{ {random_chain(rng)} }}"
    elif kind == 3:
        stage = pick(rng, ("SKIP", "SKIP(8)", "SKIP(S=2)", "SKIP(0)", random_layer(rng)))
    else:
        stage = random_chain(rng)
    return text[: match.end()] + f" {stage} ->" + text[match.end() :]


def m_layer_args(rng: random.Random, text: str) -> str:
    match = span(rng, LAYER_CALL, text)
    if match is None:
        return text
    args = match.group(2)
    if args and args != "()" and rng.random() < 0.6:
        new = args[:-1] + ", " + ", ".join(pick(rng, ARGS) for _ in range(rng.randint(1, 3))) + ")"
    else:
        new = random_args(rng)
    if rng.random() < 0.1:
        new += pick(rng, LABELS)
    return text[: match.start()] + match.group(1) + new + text[match.end() :]


def m_repeat(rng: random.Random, text: str) -> str:
    match = span(rng, REPEAT, text)
    if match is None:
        return text
    return text[: match.start()] + "*" + pick(rng, SMALL_COUNTS) + text[match.end() :]


def m_blocks(rng: random.Random, text: str) -> str:
    """Recursive, exponential or broken blocks, called from the arch."""
    kind = rng.randrange(5)
    if kind == 0:
        body = {"r(n)": '"CONV(8) -> r(n - 1)?n"', "r": '"r"'}
        header = rng.choice(list(body))
        blocks, call = [f"  {header}: {body[header]}"], pick(rng, ("r(3)", "r(40)", "r", "r(N)"))
    elif kind == 1:  # a(n) -> b -> b ... : 2**k layers
        k = rng.choice((5, 20, 40))
        blocks = [f'  b{i}: "b{i + 1} -> b{i + 1}"' for i in range(k)] + [f'  b{k}: "RELU"']
        call = "b0"
    elif kind == 2:
        blocks, call = ['  m(a, b=2, a): "CONV(a)"', '  m: "RELU"'], "m(1, 2, 3)"
    elif kind == 3:
        blocks = [
            f"  {pick(rng, ('x(', 'CONV(c)', 'x(c=)', 'y(c, d=c)', 'z()', '9(x)'))}: "
            f'"{random_chain(rng)}"'
        ]
        call = rng.choice(("x", "y(1)", "z()", "CONV(c)", "y(d=1)"))
    else:
        blocks = [f'  w(c): "[CONV(c) -> RELU]*{pick(rng, SMALL_COUNTS)}"']
        call = f"w({pick(rng, NUMBERS)})*{pick(rng, SMALL_COUNTS)}"
    if "\nblocks:\n" in text:
        text = text.replace("\nblocks:\n", "\nblocks:\n" + "\n".join(blocks) + "\n", 1)
    else:
        text = text + "\nblocks:\n" + "\n".join(blocks) + "\n"
    match = span(rng, ARROW, text)
    if match is None:
        return text
    return text[: match.end()] + f" {call} ->" + text[match.end() :]


def m_vars(rng: random.Random, text: str) -> str:
    line = (
        f"vars: {{{pick(rng, ('N', 'M', 'K', 'x', 'c', 'CONV', 'INPUT', 'over'))}: "
        f"{pick(rng, NUMBERS + YAML_VALUES)}}}\n"
    )
    if re.search(r"^vars:.*$", text, re.M) and rng.random() < 0.7:
        return re.sub(r"^vars:.*$", line.rstrip("\n"), text, count=1, flags=re.M)
    return line + text


def m_markup(rng: random.Random, text: str) -> str:
    """Rich markup and format strings where names and labels go."""
    roll = rng.randrange(3)
    if roll == 0:
        return re.sub(r"^name:.*$", f"name: {pick(rng, MARKUP)}", text, count=1, flags=re.M)
    if roll == 1:
        match = span(rng, LAYER_CALL, text)
        if match is None:
            return text
        return text[: match.end()] + "@" + pick(rng, MARKUP) + text[match.end() :]
    at = rng.randint(0, len(text))
    return text[:at] + pick(rng, MARKUP) + text[at:]


MUTATIONS: dict[str, Callable[[random.Random, str], str]] = {
    "insert": m_insert_chars,
    "delete": m_delete_chars,
    "replace": m_replace_chars,
    "swap": m_swap_tokens,
    "copy-token": m_copy_token,
    "number": m_number,
    "truncate": m_truncate,
    "lines": m_lines,
    "bytes": m_random_bytes,
    "yaml": m_yaml,
    "wrap": m_wrap,
    "nest": m_nest,
    "stage": m_insert_stage,
    "args": m_layer_args,
    "repeat": m_repeat,
    "blocks": m_blocks,
    "vars": m_vars,
    "markup": m_markup,
}
WEIGHTS = {"truncate": 0.4, "bytes": 0.5, "nest": 0.6, "markup": 0.5, "blocks": 0.8}
EXTRA_OPTIONS = (
    ["--set", "N=0"],
    ["--set", "N=100000"],
    ["--set", "N=-1"],
    ["--set", "N=99999999999999"],
    ["--set", "x=true"],
    ["--set", "N=abc"],
    ["--set", "=1"],
    ["--set", "CONV=1"],
    ["--input", "1x1x1"],
    ["--input", "0x0x0"],
    ["--input", "99999999x99999999x3"],
    ["--input", "224x224"],
    ["--input", "-3x3x3"],
    ["--rounding", "strict"],
    ["--rounding", "caffe"],
    ["--dtype", "float16"],
    ["--optimizer", "adam"],
    ["--batch", "1073741824"],
    ["--select", "CC5"],
    ["--select", "XX,,"],
    ["--ignore", "CC,"],
    ["--severity", "CC5=error"],
    ["--severity", "CC201=garbage"],
    ["--severity", "=="],
    ["--strict"],
    ["--exit-zero"],
    ["--fail-on", "info"],
    ["--fail-on", "never"],
)
OTHER_FORMATS = ("text", "text", "markdown", "github", "sarif", "junit")


@dataclass
class Case:
    index: int
    text: str  # may carry raw bytes as surrogate escapes
    argv: list[str]  # with "{path}" where the file goes
    recipe: str  # seed spec and mutations, for the report


def make_case(seed: int, index: int) -> Case:
    """Case `index` of run `seed`: deterministic, so any case can be regenerated."""
    rng = random.Random(f"{seed}:{index}")
    name = pick(rng, SEED_NAMES)
    text = SEEDS[name]
    names = list(MUTATIONS)
    weights = [WEIGHTS.get(n, 1.0) for n in names]
    steps = rng.choices(names, weights, k=rng.choice((1, 1, 2, 2, 3, 4)))
    for step in steps:
        text = MUTATIONS[step](rng, text)
    recipe = f"{name} + {' + '.join(steps)}"
    argv = ["check", "{path}", "--format", "json"]
    roll = rng.random()
    if roll < 0.04:
        argv = [
            "check",
            "--format",
            "json",
            "-e",
            "INPUT -> " + random_chain(rng),
            "--input",
            pick(rng, ("32x32x3", "1x1x1", "224x224x3", "7x7x99999")),
        ]
        recipe = "inline pattern"
    elif roll < 0.10:
        argv = ["check", "{path}", "--format", pick(rng, OTHER_FORMATS)]
    elif roll < 0.14:
        argv = [*rng.choice((["memory"], ["expand"], ["convert", "--fc-to-conv"])), "{path}"]
    if rng.random() < 0.08 and argv[0] in ("check", "memory") and "-e" not in argv:
        argv += rng.choice(EXTRA_OPTIONS)
    return Case(index, text, argv, recipe)


# ---------------------------------------------------------------------------------------------
# Running one case


class CaseTimeout(BaseException):
    """Raised by SIGALRM inside a case that runs past the hard limit (not an Exception, so
    convcalc's own handlers don't swallow it)."""


def on_alarm(signum: int, frame: object) -> None:
    raise CaseTimeout


@dataclass
class Result:
    index: int
    code: int | str  # exit code, or "hang" / "crash" / "exception"
    seconds: float
    finding_codes: list[str] = field(default_factory=list)
    bug: str | None = None  # kind of failure
    signature: str | None = None  # kind + exception + innermost convcalc frame
    details: str = ""  # traceback or output excerpt


def innermost(trace: str) -> str:
    """`path:line in func` of the innermost convcalc frame of a traceback, and the exception."""
    frames = re.findall(r'File "([^"]*convcalc[^"]*)", line (\d+), in (\S+)', trace)
    last_line = trace.strip().splitlines()[-1] if trace.strip() else ""
    where = ""
    if frames:
        path, line, func = frames[-1]
        where = f"{path.split('convcalc/', 1)[-1]}:{line} in {func}"
    return f"{last_line.split(':', 1)[0]} at {where}"


def invoke(argv: list[str], hard_timeout: float) -> tuple[int | str, str, str]:
    """convcalc.cli.main(argv) with output captured: (exit code, output, escaped traceback)."""
    sink = io.StringIO()
    code: int | str = 0
    escaped = ""
    signal.setitimer(signal.ITIMER_REAL, hard_timeout)
    try:
        with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
            try:
                cli_main(argv)
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else 1 if exc.code else 0
    except CaseTimeout:
        code = "hang"
    except Exception:
        code, escaped = "exception", traceback.format_exc()
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
    return code, sink.getvalue(), escaped


def run_case(case: Case, workdir: Path, timeout: float, hard_timeout: float) -> Result:
    path = workdir / f"case-{case.index}.yaml"
    path.write_bytes(case.text.encode("utf-8", "surrogateescape"))
    argv = [str(path) if a == "{path}" else a for a in case.argv]
    try:
        start = time.perf_counter()
        code, output, escaped = invoke(argv, hard_timeout)
        seconds = time.perf_counter() - start
        result = Result(case.index, code, seconds)
        fmt = argv[argv.index("--format") + 1] if "--format" in argv else "text"
        if fmt == "json":
            result.finding_codes = sorted(set(re.findall(r'"code": "(CC\d+)"', output)))
        if code == 3:
            _, debug_output, _ = invoke([*argv, "--debug"], hard_timeout)
            result.bug, result.details = "exit 3", debug_output
        elif code == "exception":
            result.bug, result.details = "exception escaped main", escaped
        elif code == "hang":
            result.bug, result.details = f"hang (> {hard_timeout:g} s)", output[-2000:]
        elif code not in (0, 1, 2):
            result.bug, result.details = f"exit {code}", output[-2000:]
        elif "Traceback" in output:
            result.bug, result.details = "traceback in output", output
        elif fmt == "json" and code in (0, 1) and "-o" not in argv:
            try:
                json.loads(output)
            except ValueError as exc:
                result.bug, result.details = "invalid JSON", f"{exc}\n{output[:2000]}"
        if result.bug:
            result.signature = f"{result.bug}: {innermost(result.details)}"
        elif seconds > timeout:
            errors = sorted(set(re.findall(r'"code": "(CC\d+)",\s*"severity": "error"', output)))
            result.bug = "slow"
            result.signature = f"slow (> {timeout:g} s): exit {code} {' '.join(errors)}".strip()
        return result
    finally:
        path.unlink(missing_ok=True)


def setup_worker(memory_mb: int) -> None:
    os.environ.pop("GITHUB_STEP_SUMMARY", None)
    os.environ["NO_COLOR"] = "1"
    limit = memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    signal.signal(signal.SIGALRM, on_alarm)


def worker(
    slot: int,
    start: int,
    args: argparse.Namespace,
    workdir: Path,
    results: mp.Queue,
    current: Any,
    started: Any,
) -> None:  # type: ignore[type-arg]
    """Run cases start, start + workers, ...; `current` and `started` (shared arrays) say which
    case this worker is in and since when, for the parent's watchdog."""
    setup_worker(args.memory_mb)
    for index in range(start, args.cases, args.workers):
        current[slot], started[slot] = index, time.monotonic()
        try:
            result = run_case(make_case(args.seed, index), workdir, args.timeout, args.hard_timeout)
        except Exception:  # a bug in the fuzzer itself: report, don't die
            result = Result(
                index,
                "fuzzer",
                0.0,
                bug="fuzzer error",
                signature="fuzzer error",
                details=traceback.format_exc(),
            )
        results.put(result)
    current[slot] = -1


def run_all(args: argparse.Namespace, workdir: Path) -> list[Result]:
    """Run every case in --workers processes; kill and replace a worker stuck past the hard
    limit (e.g. inside one C call the alarm cannot interrupt) or one that died."""
    ctx = mp.get_context("fork")
    results_q: mp.Queue = ctx.Queue()  # type: ignore[type-arg]
    current = ctx.Array("q", [-2] * args.workers)
    started = ctx.Array("d", [0.0] * args.workers)

    def spawn(slot: int, start: int) -> Any:
        current[slot], started[slot] = -2, time.monotonic()
        proc = ctx.Process(
            target=worker,
            daemon=True,
            args=(slot, start, args, workdir, results_q, current, started),
        )
        proc.start()
        return proc

    procs = [spawn(slot, slot) for slot in range(args.workers)]
    results: dict[int, Result] = {}
    next_report = args.progress
    while True:
        try:
            while True:
                result = results_q.get(timeout=0.2)
                results[result.index] = result
        except queue.Empty:
            pass
        if len(results) >= next_report:
            print(f"  {len(results):,} cases ...", file=sys.stderr, flush=True)
            next_report += args.progress
        alive = False
        for slot, proc in enumerate(procs):
            index = current[slot]
            stuck = (
                proc.is_alive()
                and index >= 0
                and time.monotonic() - started[slot] > args.hard_timeout + 5
            )
            dead = not proc.is_alive() and index != -1
            if stuck or dead:
                proc.kill()
                proc.join()
                if index >= 0 and index not in results:
                    kind = "hang" if stuck else f"crash (exit {proc.exitcode})"
                    results[index] = Result(
                        index, kind.split()[0], args.hard_timeout, bug=kind, signature=kind
                    )
                start = index + args.workers  # a worker that died before any case: gone
                if index >= 0 and start < args.cases:
                    procs[slot] = spawn(slot, start)
            alive = alive or procs[slot].is_alive()
        if not alive and results_q.empty():
            break
    return [results[i] for i in sorted(results)]


# ---------------------------------------------------------------------------------------------
# Minimising a failing input


def shrink(units: list[str], test: Callable[[list[str]], bool]) -> list[str]:
    """Greedy deletion: chunks of halving size, then single units until nothing goes."""
    chunk = max(1, len(units) // 2)
    while True:
        progress, i = False, 0
        while i < len(units):
            candidate = units[:i] + units[i + chunk :]
            if candidate and test(candidate):
                units, progress = candidate, True
            else:
                i += chunk
        if chunk > 1:
            chunk //= 2
        elif not progress:
            return units


def minimise_worker(
    case: Case, signature: str, args: argparse.Namespace, workdir: Path, out: mp.Queue
) -> None:  # type: ignore[type-arg]
    """Runs in a child process (a C-level hang can only be stopped by killing it); puts every
    smaller input that still fails the same way on `out`."""
    setup_worker(args.memory_mb)
    slow = signature.startswith(("slow", "hang"))
    hard = min(args.hard_timeout, args.timeout * 3) if slow else args.hard_timeout

    def same_failure(text: str) -> bool:
        result = run_case(Case(case.index, text, case.argv, ""), workdir, args.timeout, hard)
        if signature.startswith("hang"):
            return result.code == "hang" or result.seconds > args.timeout
        return result.signature == signature or (slow and result.code == "hang")

    def test_lines(lines: list[str]) -> bool:
        if same_failure("".join(lines)):
            out.put("".join(lines))
            return True
        return False

    text = "".join(shrink(case.text.splitlines(keepends=True), test_lines))
    shrink(list(text), test_lines)
    out.put(None)


def minimise(
    case: Case, signature: str, args: argparse.Namespace, workdir: Path, budget: float
) -> str:
    ctx = mp.get_context("fork")
    out: mp.Queue = ctx.Queue()  # type: ignore[type-arg]
    proc = ctx.Process(
        target=minimise_worker, args=(case, signature, args, workdir, out), daemon=True
    )
    proc.start()
    best, deadline = case.text, time.monotonic() + budget
    while time.monotonic() < deadline:
        try:
            item = out.get(timeout=max(0.1, min(1.0, deadline - time.monotonic())))
        except queue.Empty:
            if not proc.is_alive() and out.empty():
                break
            continue
        if item is None:
            break
        best = item
    proc.kill()
    proc.join()
    return best


# ---------------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=20_000, help="how many cases (20000)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (0)")
    parser.add_argument(
        "--timeout", type=float, default=1.0, help="flag cases slower than this, in seconds (1)"
    )
    parser.add_argument(
        "--hard-timeout",
        type=float,
        default=20.0,
        help="stop a case after this many seconds and call it a hang (20)",
    )
    parser.add_argument("--workers", type=int, default=2, help="processes (2)")
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("/tmp/convcalc-fuzz"),
        help="where failing inputs go (/tmp/convcalc-fuzz)",
    )
    parser.add_argument(
        "--memory-mb", type=int, default=3072, help="address-space limit per worker, MiB (3072)"
    )
    parser.add_argument(
        "--minimise-budget",
        type=float,
        default=120.0,
        help="seconds to spend minimising one input (120; a quarter for a slow one)",
    )
    parser.add_argument(
        "--minimise-per-bug",
        type=int,
        default=2,
        help="inputs minimised per distinct failure (one per distinct slow "
        "outcome); all are saved raw (2)",
    )
    parser.add_argument("--progress", type=int, default=2000, help="report every N cases")
    parser.add_argument("--show", type=int, metavar="I", help="print case I and exit")
    args = parser.parse_args()

    if args.show is not None:
        case = make_case(args.seed, args.show)
        print(f"# case {case.index} (seed {args.seed}): {case.recipe}\n# argv: {case.argv}")
        sys.stdout.write(case.text.encode("utf-8", "surrogateescape").decode("utf-8", "replace"))
        return

    workdir = Path(tempfile.mkdtemp(prefix="convcalc-fuzz-work-"))
    try:
        began = time.perf_counter()
        results = run_all(args, workdir)
        elapsed = time.perf_counter() - began
        report(args, results, elapsed, workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def report(args: argparse.Namespace, results: list[Result], elapsed: float, workdir: Path) -> None:
    outcomes = Counter(str(r.code) for r in results)
    codes = sorted({c for r in results for c in r.finding_codes})
    bugs = [r for r in results if r.bug and r.bug != "slow"]
    slow = [r for r in results if r.bug == "slow" or r.code == "hang"]

    failing = [*bugs, *(r for r in slow if r not in bugs)]
    for result in failing:  # every failing input as generated, before the slow part
        raw = args.out / "raw" / f"seed{args.seed}-case{result.index}.yaml"
        raw.parent.mkdir(parents=True, exist_ok=True)
        raw.write_bytes(make_case(args.seed, result.index).text.encode("utf-8", "surrogateescape"))
    saved: list[tuple[Result, Path, str]] = []
    per_signature: Counter[str] = Counter()
    for result in failing:
        is_slow = result.bug == "slow"
        per_signature[result.signature or ""] += 1
        if per_signature[result.signature or ""] > (1 if is_slow else args.minimise_per_bug):
            continue
        print(
            f"  minimising case {result.index} ({result.signature}) ...",
            file=sys.stderr,
            flush=True,
        )
        budget = args.minimise_budget / (4 if is_slow else 1)
        case = make_case(args.seed, result.index)
        small = minimise(case, result.signature or "", args, workdir, budget)
        name = f"seed{args.seed}-case{result.index}.min.yaml"
        path = args.out / ("slow" if is_slow else "") / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(small.encode("utf-8", "surrogateescape"))
        saved.append((result, path, small))

    print(
        f"\nconvcalc fuzz: seed {args.seed}, {len(results):,} cases in {elapsed:.1f} s "
        f"({len(results) / elapsed:.0f} cases/s, {args.workers} workers)"
    )
    print(
        "outcomes: "
        + ", ".join(
            f"exit {k}: {v:,}" if k.isdigit() else f"{k}: {v:,}"
            for k, v in sorted(outcomes.items())
        )
    )
    print(f"distinct finding codes ({len(codes)}): {' '.join(codes)}")
    print("slowest 5:")
    for r in sorted(results, key=lambda r: r.seconds, reverse=True)[:5]:
        case = make_case(args.seed, r.index)
        print(
            f"  case {r.index:>6}  {r.seconds * 1e3:8.1f} ms  exit {r.code}  "
            f"{' '.join(case.argv[:1])}: {case.recipe}"
        )
    print(f"cases slower than {args.timeout:g} s: {len(slow)}")
    for result, path, small in saved:
        case = make_case(args.seed, result.index)
        print(f"\n--- case {result.index}: {result.signature}")
        print(f"    argv: {case.argv}  recipe: {case.recipe}")
        print(f"    minimised ({len(small)} chars) -> {path}")
        shown = small.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
        print("    " + shown[:1500].replace("\n", "\n    "))
        if result.details:
            print("    " + result.details.strip()[-2500:].replace("\n", "\n    "))
    signatures = Counter(r.signature for r in bugs)
    print(f"\ninternal errors: {len(bugs)} ({len(signatures)} distinct)")
    for signature, count in signatures.most_common():
        print(f"  {count:>5} x {signature}")
    if bugs or slow:
        print(f"inputs saved under {args.out} (raw/: as generated)")


if __name__ == "__main__":
    main()
