"""Fresh-process CPU and wall time of the largest hostile specs the README's Limits allow.

Generates five specs, each at or near a documented limit (README, "Limits"), writes them to a
temporary directory, and runs the CLI on each in a new Python process (`python -m convcalc ...`),
--runs times, printing the median user+system CPU time and wall time of the child:

- defaults: 20,000 unknown `defaults:` types (about 330 KB, under the 1 MiB file limit);
- warnings: `[CONV(1, F=3, S=2, P=1) -> UP(2)]*6000`, a valid spec with 12,000 warnings,
  checked in the text format (where the findings printed per code are capped);
- conv: `[CONV(8, F=1, P=1)]*19990`, under the 20,000-layer limit;
- fc: `convert --fc-to-conv` of `[FC(1)]*19999`;
- blocks: 30,000 unused blocks (about 440 KB);
- labelled: 19,990 layers written out one by one, each with its own label (about 450 KB);
- pools: `[POOL(F=2, S=1, P=1)]*19990`, even windows (half-pixel centres), 19,990 infos;
- calls: a block called 9,990 times (`[b(8)]*9990`, CONV -> RELU each);
- cat: `[CAT{CONV(4, F=1) | ID} -> CONV(8, F=1)]*4900`, 19,600 rows with merges;
- over: `[CONV(k, F=1)]*19000 over k=(...)`, 19,000 values (about 70 KB);
- padding: `CONV(1, F=3, dilation=5, P=8000000)` on 8×8, 16 million windows an axis (CC507
  counts the taps in the padding);
- bins: `APOOL(out=(15999999, 1))` on a 16,000,000-wide input (the widest adaptive bin);
- skip: a SKIP beside a 16,000,000-wide pool (the inferred stride of its projection).

Target: each under 2 s of CPU in a fresh process. The CPU time (not wall) is what to compare on a
loaded machine. The package's bytecode is compiled first, as pip compiles it when it installs:
an editable install under PYTHONDONTWRITEBYTECODE would otherwise time the compiler on every
run (0.1 s).

Run: `python benchmarks/hostile_specs.py [--runs N] [--keep DIR] [--format FMT]`.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET_S = 2.0


def defaults_spec() -> str:
    types = "".join(f"  T{i}: {{K: 1}}\n" for i in range(20_000))
    return f"name: s\ninput: 32x32x3\ndefaults:\n{types}arch: INPUT -> FC(2)\n"


def blocks_spec() -> str:
    blocks = "".join(f'  b{i}: "ID"\n' for i in range(30_000))
    return f"name: b\ninput: 8x8x1\nblocks:\n{blocks}arch: INPUT -> FC(2)\n"


def labelled_spec() -> str:
    layers = " -> ".join(f"CONV({1 + i % 7}, F=1)@c{i}" for i in range(19_990))
    return f"name: l\ninput: 8x8x4\narch: INPUT -> {layers}\n"


def over_spec() -> str:
    values = ", ".join(str(1 + i % 64) for i in range(19_000))
    return f"name: o\ninput: 16x16x8\narch: INPUT -> [CONV(k, F=1)]*19000 over k=({values})\n"


CASES: dict[str, tuple[str, list[str]]] = {
    "defaults": (defaults_spec(), ["check"]),
    "warnings": (
        "name: w\ninput: 10x10x1\narch: INPUT -> [CONV(1, F=3, S=2, P=1) -> UP(2)]*6000\n",
        ["check"],
    ),
    "conv": ("name: c\ninput: 8x8x1\narch: INPUT -> [CONV(8, F=1, P=1)]*19990\n", ["check"]),
    "fc": ("name: f\ninput: 8x8x1\narch: INPUT -> [FC(1)]*19999\n", ["convert", "--fc-to-conv"]),
    "blocks": (blocks_spec(), ["check"]),
    "labelled": (labelled_spec(), ["check"]),
    "pools": ("name: p\ninput: 8x8x4\narch: INPUT -> [POOL(F=2, S=1, P=1)]*19990\n", ["check"]),
    "calls": (
        "name: c\ninput: 16x16x8\nblocks:\n  b(k): CONV(k, F=3, P=1) -> RELU\n"
        "arch: INPUT -> [b(8)]*9990\n",
        ["check"],
    ),
    "cat": (
        "name: c\ninput: 16x16x8\narch: INPUT -> [CAT{CONV(4, F=1) | ID} -> CONV(8, F=1)]*4900\n",
        ["check"],
    ),
    "over": (over_spec(), ["check"]),
    "padding": (
        "name: p\ninput: 8x8x1\narch: INPUT -> CONV(1, F=3, dilation=5, P=8000000)\n",
        ["check"],
    ),
    "bins": (
        "name: b\ninput: 16000000x1x1\narch: INPUT -> APOOL(out=(15999999, 1)) -> FC(2)\n",
        ["check"],
    ),
    "skip": (
        "name: s\ninput: 16000000x1x1\narch: INPUT -> "
        "ADD{ POOL(F=(16000000, 1), S=1) -> CONV(1, F=1) | SKIP } -> FC(2)\n",
        ["check"],
    ),
}


def run_once(command: list[str]) -> tuple[float, float, int]:
    """(user+system CPU s of the child, wall s, exit code)."""
    before = os.times()
    start = time.perf_counter()
    proc = subprocess.run(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False
    )
    wall = time.perf_counter() - start
    after = os.times()
    cpu = (after.children_user - before.children_user) + (
        after.children_system - before.children_system
    )
    return cpu, wall, proc.returncode


def compile_package() -> None:
    """The bytecode of the convcalc the children import, written next to its sources."""
    code = (
        "import compileall, os, convcalc\n"
        "compileall.compile_dir(os.path.dirname(convcalc.__file__), quiet=1)"
    )
    subprocess.run([sys.executable, "-c", code], check=True, stdout=subprocess.DEVNULL)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--keep", help="write the specs to this directory and keep them")
    parser.add_argument("--format", default="text", help="--format of check (default: text)")
    parser.add_argument("cases", nargs="*", help=f"a subset of {', '.join(CASES)}")
    args = parser.parse_args()
    names = args.cases or list(CASES)
    compile_package()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(args.keep or tmp)
        folder.mkdir(parents=True, exist_ok=True)
        print(
            f"{'case':<10} {'bytes':>8} {'cpu s':>7} {'wall s':>7} {'exit':>4}  target {TARGET_S} s"
        )
        for name in names:
            text, subcommand = CASES[name]
            path = folder / f"{name}.yaml"
            path.write_text(text, encoding="utf-8")
            command = [sys.executable, "-m", "convcalc", *subcommand, str(path)]
            if subcommand == ["check"]:
                command += ["--format", args.format]
            results = [run_once(command) for _ in range(args.runs)]
            cpu = statistics.median(r[0] for r in results)
            wall = statistics.median(r[1] for r in results)
            flag = "" if cpu < TARGET_S else "  SLOW"
            print(f"{name:<10} {len(text):>8} {cpu:>7.2f} {wall:>7.2f} {results[0][2]:>4}{flag}")


if __name__ == "__main__":
    main()
