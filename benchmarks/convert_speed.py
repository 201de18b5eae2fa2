"""CPU time of `convcalc convert --fc-to-conv` on the largest spec within the Limits: an FC
repeated 19,999 times, whose first repetition converts to CONV(F=32) and the others to F=1.

Before issue 14 the spec was analysed three times (the original, the converted text parsed
again, and that analysed) and written out fully expanded: 2.1 s CPU. Now the converted graph is
analysed once, and the text keeps `[...]*19998`. Target: under 2 s of CPU time for the whole
process, interpreter start-up included.

Run: `python benchmarks/convert_speed.py` (prints the CPU seconds of each of 3 runs).
"""

from __future__ import annotations

import resource
import subprocess
import sys
import tempfile
from pathlib import Path

TARGET_S = 2.0
SPEC = "name: big\ninput: 32x32x3\narch: INPUT -> [FC(1)]*19999\n"


def cpu_of_child(args: list[str]) -> float:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(args, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "big.yaml"
        path.write_text(SPEC, encoding="utf-8")
        args = [sys.executable, "-m", "convcalc", "convert", "--fc-to-conv", str(path)]
        times = [cpu_of_child(args) for _ in range(3)]
    best = min(times)
    print("convert --fc-to-conv, [FC(1)]*19999: " + ", ".join(f"{t:.2f}" for t in times)
          + f" s CPU; best {best:.2f} s (target < {TARGET_S} s)")  # fmt: skip


if __name__ == "__main__":
    main()
