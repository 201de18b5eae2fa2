"""Whole-process time of `convcalc check vgg16`, as a user at a shell sees it.

Runs the `convcalc` console script that sits next to this interpreter (stdout to a pipe) N times
after 3 warm-ups, for the text and the JSON format, and `python -c pass` in the same run as the
floor any Python CLI pays. Also checks, in a subprocess, that a check never imports numpy, and
times `python -c "import torch"` for comparison when torch is installed.

Target: median of `convcalc check vgg16` at most 0.3 s.

Run it with the interpreter of a venv where convcalc is installed non-editable (pip compiles the
.pyc files there), e.g. `/tmp/bench/bin/python benchmarks/check_speed.py --runs 30`.
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import subprocess
import sys
import time
from pathlib import Path

TARGET_S = 0.3
WARMUPS = 3
PY = sys.executable
CONVCALC = str(Path(PY).with_name("convcalc"))
NUMPY_PROBE = """
import sys, runpy
sys.argv = ["convcalc", "check", "vgg16"]
sys.stdout = open("/dev/null", "w")
code = None
try:
    runpy.run_module("convcalc", run_name="__main__", alter_sys=True)
except SystemExit as exc:
    code = exc.code
sys.stdout = sys.__stdout__
print(f"exit code {code}, numpy imported: {'numpy' in sys.modules}")
"""


def timed(commands: dict[str, list[str]], runs: int) -> dict[str, list[float]]:
    """Wall-clock seconds per command; the commands take turns, so drift hits all alike."""
    times: dict[str, list[float]] = {label: [] for label in commands}
    for i in range(WARMUPS + runs):
        for label, cmd in commands.items():
            start = time.perf_counter()
            done = subprocess.run(cmd, capture_output=True, check=False)
            if done.returncode != 0:
                sys.exit(f"{label} exited {done.returncode}: {done.stderr.decode()[-500:]}")
            if i >= WARMUPS:
                times[label].append(time.perf_counter() - start)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30, help="timed runs per command")
    runs = parser.parse_args().runs

    commands = {
        "python -c pass": [PY, "-c", "pass"],
        "convcalc check vgg16": [CONVCALC, "check", "vgg16"],
        "convcalc check vgg16 --format json": [CONVCALC, "check", "vgg16", "--format", "json"],
    }
    if importlib.util.find_spec("torch") is not None:
        commands['python -c "import torch"'] = [PY, "-c", "import torch"]

    print(f"interpreter: {PY}")
    print(f"{runs} runs each after {WARMUPS} warm-ups, same run, seconds\n")
    print(f"{'command':<36} {'median':>8} {'min':>8} {'max':>8}")
    medians = {}
    for label, t in timed(commands, runs).items():
        medians[label] = statistics.median(t)
        print(f"{label:<36} {medians[label]:8.3f} {min(t):8.3f} {max(t):8.3f}")
    if 'python -c "import torch"' not in commands:
        print('python -c "import torch"             skipped: torch is not importable here')

    probe = subprocess.run([PY, "-c", NUMPY_PROBE], capture_output=True, text=True, check=False)
    print(f"\ncheck vgg16 in one process -> {probe.stdout.strip() or probe.stderr.strip()}")

    for label in ("convcalc check vgg16", "convcalc check vgg16 --format json"):
        m = medians[label]
        verdict = "OK" if m <= TARGET_S else "OVER TARGET"
        print(
            f"{label}: median {m:.3f} s vs target {TARGET_S} s: {verdict} "
            f"({m - medians['python -c pass']:.3f} s above `python -c pass`)"
        )


if __name__ == "__main__":
    main()
