"""Mutation check: does the test suite notice when convcalc is wrong?

Each mutation is one small change to one line of convcalc: a formula, a constant or a
convention. The script copies the working tree into a scratch directory, applies one mutation
at a time, runs the test suite there, and reports which mutations the suite *kills* (a test
fails) and which *survive* (every test passes: the suite cannot tell the wrong convcalc from
the right one). The goal is that none survives.

A mutation names the code it changes by an exact snippet, not by file and line, so it follows
the code when modules move; the snippet must occur exactly once in convcalc/.

    python benchmarks/mutations.py                 # every mutation, 2 at a time
    python benchmarks/mutations.py --jobs 1 tconv-groups same-odd-pixel
    python benchmarks/mutations.py --list

Each run uses the Python that runs this script (its convcalc install does not matter: the
scratch copy comes first on the path). Tests that need torch run when torch is installed.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import NamedTuple

ROOT = Path(__file__).resolve().parent.parent


class Mutation(NamedTuple):
    name: str
    area: str
    what: str
    before: str
    after: str


M = Mutation
MUTATIONS = [
    # layers: shapes and counts
    M(
        "tconv-groups",
        "layers",
        "TCONV weights ignore groups",
        "weights = fw * fh * (x[2] // groups) * k",
        "weights = fw * fh * x[2] * k",
    ),
    M(
        "tconv-macs-groups",
        "layers",
        "TCONV MACs ignore groups",
        "x[0] * x[1] * x[2] * fw * fh * k // groups",
        "x[0] * x[1] * x[2] * fw * fh * k",
    ),
    M(
        "tconv-padding",
        "layers",
        "TCONV removes P once instead of 2P",
        "(x[i] - 1) * s[i] - 2 * p[i] + d[i] * (f[i] - 1) + 1 + op[i]",
        "(x[i] - 1) * s[i] - p[i] + d[i] * (f[i] - 1) + 1 + op[i]",
    ),
    M(
        "conv-macs",
        "layers",
        "CONV MACs forget the filter count",
        "y[0] * y[1] * k * per_filter)",
        "y[0] * y[1] * per_filter)",
    ),
    M(
        "conv-groups",
        "layers",
        "CONV weights ignore groups",
        "per_filter = fw * fh * (x[2] // groups)",
        "per_filter = fw * fh * x[2]",
    ),
    M(
        "local-biases",
        "layers",
        "LOCAL has one bias per filter, not per position",
        "Counts(conv.weights * positions, conv.biases * positions, 0, conv.macs)",
        "Counts(conv.weights * positions, conv.biases, 0, conv.macs)",
    ),
    M(
        "bn-buffers",
        "layers",
        "BN keeps one running statistic, not two",
        "Counts(x[2], x[2], 2 * x[2], 0)",
        "Counts(x[2], x[2], x[2], 0)",
    ),
    M(
        "fc-bias",
        "layers",
        "FC never has biases",
        'Counts(inputs * k, k if flag(args, "bias") else 0, 0, inputs * k)',
        "Counts(inputs * k, 0, 0, inputs * k)",
    ),
    M(
        "up-height",
        "layers",
        "UP scales the width only",
        "return x[0] * n, x[1] * n, x[2]",
        "return x[0] * n, x[1], x[2]",
    ),
    M(
        "rf-jump",
        "layers",
        "the receptive field's jump adds strides instead of multiplying",
        "jump = tuple(rf.jump[i] * s[i] for i in (0, 1))",
        "jump = tuple(rf.jump[i] + s[i] - 1 for i in (0, 1))",
    ),
    # geometry: the notes' formula and its roundings
    M(
        "f-eff",
        "geometry",
        "dilation stretches the filter to d·F",
        "return self.dilation * (self.f - 1) + 1",
        "return self.dilation * self.f",
    ),
    M(
        "floor",
        "geometry",
        "the output size forgets the + 1",
        "return self.span // self.s + 1",
        "return self.span // self.s",
    ),
    M(
        "same-odd-pixel",
        "geometry",
        "`same` puts the odd pixel of padding before",
        "return total // 2, total - total // 2",
        "return total - total // 2, total // 2",
    ),
    M(
        "ceil-last-window",
        "geometry",
        "ceil keeps a last window that starts in the padding",
        "if (out - 1) * self.s >= self.size + self.before:",
        "if (out - 1) * self.s > self.size + self.before:",
    ),
    M(
        "lost-pixels",
        "geometry",
        "unread padding counted as lost input",
        "return max(0, self.remainder - self.after)",
        "return max(0, self.remainder)",
    ),
    M(
        "fix-prefers-larger",
        "geometry",
        "the suggested P prefers the larger of two equals",
        "key=lambda p: (abs(p - current), -p)",
        "key=lambda p: (abs(p - current), p)",
    ),
    # memory
    M(
        "adamw-slots",
        "memory",
        "AdamW keeps one value per parameter instead of two",
        '"adam": 2, "adamw": 2}',
        '"adam": 2, "adamw": 1}',
    ),
    M(
        "momentum-slots",
        "memory",
        "SGD with momentum keeps no velocity",
        '"sgd": 0, "momentum": 1,',
        '"sgd": 0, "momentum": 0,',
    ),
    M(
        "switch-bytes",
        "memory",
        "max-pool switches as int32",
        "SWITCH_BYTES = 8",
        "SWITCH_BYTES = 4",
    ),
    M(
        "float16-bytes",
        "memory",
        "float16 counted at 4 bytes",
        '"float32": 4, "float16": 2,',
        '"float32": 4, "float16": 4,',
    ),
    M(
        "parameter-gradients",
        "memory",
        "no gradients for the parameters",
        "    def parameter_gradients(self) -> int:\n        return self.parameters",
        "    def parameter_gradients(self) -> int:\n        return 0",
    ),
    M(
        "inference-workspace",
        "memory",
        "the inference peak leaves out the workspace",
        "self.batch * (self.per_image.live_peak + self.per_image.workspace)",
        "self.batch * self.per_image.live_peak",
    ),
    # units and reports
    M("mb-decimal", "reports", "MB = 1000² bytes", "MB = 1024 * 1024", "MB = 1000 * 1000"),
    M("gib-decimal", "units", "GiB in --budget read as 1000³", '"gib": 1024**3', '"gib": 1000**3'),
    M(
        "ci-memory-digits",
        "reports",
        "the markdown table's memory with two decimals",
        "mb(a.memory.training_total, 1)",
        "mb(a.memory.training_total, 2)",
    ),
    # rules
    M(
        "cc202-gap",
        "rules",
        "CC202 (info) only where fewer pixels are lost than the gap",
        "gaps = all(axes[i].lost <= axes[i].s - axes[i].f_eff for i in bad)",
        "gaps = all(axes[i].lost < axes[i].s - axes[i].f_eff for i in bad)",
    ),
    M(
        "cc204-equal",
        "rules",
        "CC204 fires when the stride equals the window",
        "if axes[i].s > axes[i].f_eff:",
        "if axes[i].s >= axes[i].f_eff:",
    ),
    M(
        "cc403-share",
        "rules",
        "CC403 from 60% of the parameters instead of 50%",
        "if share > 0.5:",
        "if share > 0.6:",
    ),
    M(
        "pool-pad-half",
        "rules",
        "pool padding may exceed half the window",
        '"""Half the window (PyTorch refuses more)."""\n        return axis.f // 2',
        '"""Half the window (PyTorch refuses more)."""\n        return axis.f',
    ),
    # kernels
    M(
        "lrn-alpha",
        "kernels",
        "LRN scales by alpha instead of alpha/size",
        "acc *= x.dtype.type(alpha / size)",
        "acc *= x.dtype.type(alpha)",
    ),
    M(
        "avg-pool-divisor",
        "kernels",
        "average pooling divides by the window, padding or not",
        "cy = np.minimum(np.arange(Ho) * sy + FH, hp) - np.arange(Ho) * sy",
        "cy = np.arange(Ho) * 0 + FH",
    ),
    M(
        "bn-eps",
        "kernels",
        "BN adds eps after the square root",
        "scale = gamma.astype(np.float64) / np.sqrt(var.astype(np.float64) + eps)",
        "scale = gamma.astype(np.float64) / (np.sqrt(var.astype(np.float64)) + eps)",
    ),
    M(
        "elu-alpha",
        "kernels",
        "ELU ignores alpha",
        "neg = np.expm1(np.minimum(x, 0)) * x.dtype.type(alpha)",
        "neg = np.expm1(np.minimum(x, 0))",
    ),
    M(
        "l2-pool-root",
        "kernels",
        "L2 pooling forgets the square root",
        "        np.sqrt(out, out=out)\n    return out",
        "        pass\n    return out",
    ),
]


def files() -> Iterator[Path]:
    listed = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard"],
        cwd=ROOT, capture_output=True, text=True, check=True,
    ).stdout.split("\n")  # fmt: skip
    for name in listed:
        if name and (ROOT / name).is_file():
            yield Path(name)


def locate(mutation: Mutation) -> Path:
    """The one file of convcalc/ holding the mutation's snippet, exactly once."""
    found = [
        path
        for path in (ROOT / "convcalc").rglob("*.py")
        for _ in range(path.read_text(encoding="utf-8").count(mutation.before))
    ]
    if len(found) != 1:
        where = ", ".join(str(p.relative_to(ROOT)) for p in found) or "nowhere"
        raise SystemExit(f"{mutation.name}: the snippet occurs {len(found)} times ({where})")
    return found[0].relative_to(ROOT)


def scratch_copy() -> Path:
    target = Path(tempfile.mkdtemp(prefix="convcalc-mutant-"))
    for name in files():
        (target / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, target / name)
    return target


class Outcome(NamedTuple):
    mutation: Mutation
    path: Path
    killed: bool
    by: str
    seconds: float


def run_suite(copy: Path, timeout: float) -> tuple[int, str]:
    env = {**os.environ, "PYTHONPATH": str(copy), "PYTHONDONTWRITEBYTECODE": "1"}
    command = [
        sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider",
        "--deselect", "tests/test_quality.py", "-W", "ignore::pytest.PytestUnknownMarkWarning",
    ]  # fmt: skip
    try:
        done = subprocess.run(
            command, cwd=copy, env=env, capture_output=True, text=True, timeout=timeout
        )
    except subprocess.TimeoutExpired:
        return -1, "timeout"
    failed = [line for line in done.stdout.splitlines() if line.startswith(("FAILED", "ERROR"))]
    return done.returncode, failed[0].split(" - ")[0] if failed else done.stdout[-200:]


def attempt(mutation: Mutation, timeout: float) -> Outcome:
    path = locate(mutation)
    copy = scratch_copy()
    try:
        target = copy / path
        text = target.read_text(encoding="utf-8")
        target.write_text(text.replace(mutation.before, mutation.after), encoding="utf-8")
        start = time.perf_counter()
        code, by = run_suite(copy, timeout)
        return Outcome(mutation, path, code != 0, by, time.perf_counter() - start)
    finally:
        shutil.rmtree(copy, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="*", help="only these mutations (default: all)")
    parser.add_argument("--jobs", type=int, default=2, help="suites run side by side")
    parser.add_argument("--timeout", type=float, default=900, help="seconds per suite")
    parser.add_argument("--list", action="store_true", help="list the mutations and exit")
    options = parser.parse_args()
    chosen = [m for m in MUTATIONS if not options.names or m.name in options.names]
    for m in chosen:
        locate(m)  # every snippet is found once before anything runs
    if options.list:
        for m in chosen:
            print(f"{m.name:22} {m.area:9} {locate(m)}: {m.what}")
        return 0
    print("baseline: the unmutated suite must pass ...", flush=True)
    copy = scratch_copy()
    code, by = run_suite(copy, options.timeout)
    shutil.rmtree(copy, ignore_errors=True)
    if code != 0:
        print(f"the unmutated suite fails ({by}); fix that first", file=sys.stderr)
        return 2
    outcomes = []
    with ThreadPoolExecutor(max_workers=options.jobs) as pool:
        futures = [pool.submit(attempt, m, options.timeout) for m in chosen]
        for future in futures:
            outcome = future.result()
            outcomes.append(outcome)
            verdict = "killed" if outcome.killed else "SURVIVED"
            print(f"{verdict:8} {outcome.mutation.name:22} {outcome.seconds:6.1f} s  {outcome.by}",
                  flush=True)  # fmt: skip
    print("\n| mutation | area | file | what | result |\n| --- | --- | --- | --- | --- |")
    for o in outcomes:
        result = f"killed by `{o.by}`" if o.killed else "**survived**"
        print(
            f"| {o.mutation.name} | {o.mutation.area} | {o.path} | {o.mutation.what} | {result} |"
        )
    survived = [o for o in outcomes if not o.killed]
    print(f"\n{len(outcomes) - len(survived)} of {len(outcomes)} mutations killed, "
          f"{len(survived)} survived")  # fmt: skip
    return 1 if survived else 0


if __name__ == "__main__":
    sys.exit(main())
