"""`convcalc memory`: the answer first, the batch table, the heaviest layers, 80 columns, the
new options and their errors, and the JSON's figures in bytes."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

import convcalc
from convcalc.analysis.memory import estimate
from convcalc.analysis.training import Training
from convcalc.cli import cli
from convcalc.frontend.bundled import names

from ..support import run

EVERYTHING = ["--budget", "16GiB", "--amp", "bf16", "--checkpoint", "sqrt", "--gpus", "8",
              "--zero", "3", "--overhead", "1GiB", "--workspace", "64MiB",
              "--layers", "all"]  # fmt: skip


@pytest.mark.parametrize("columns", ["80", "120"])
@pytest.mark.parametrize("options", [[], EVERYTHING, ["--budget", "1KB"]])
def test_every_line_fits_80_columns(columns: str, options: list[str]) -> None:
    for name in ("vgg16", "resnet50", "inception-v3", "unet", "lenet5"):
        result = CliRunner().invoke(cli, ["memory", name, *options], env={"COLUMNS": columns})
        for line in result.output.splitlines():
            assert len(line) <= 80 and line == line.rstrip(), (name, line)


def test_the_answer_comes_first_and_the_table_is_at_that_batch() -> None:
    out = run("memory", "resnet50", "--budget", "16GiB", "--optimizer", "adam").output
    lines = out.splitlines()
    m = convcalc.analyze(convcalc.load("resnet50"), optimizer="adam").memory
    assert m is not None
    best = m.max_batch(16 << 30)
    assert lines[0].startswith(f"largest batch in 16,384.00 MB: {best} (")
    assert f"{best + 1} needs" in lines[0]
    assert lines[0].endswith(f"{m.with_batch(best + 1).training_total / 1024**2:,.2f} MB)")
    assert f"batch {best}  " in out  # the breakdown's header
    assert f"· batch {best} ·" in out


def test_the_batch_table_doubles_up_to_the_budget() -> None:
    out = run("memory", "vgg16", "--budget", "12GiB").output
    table = out[out.index("batch  activations MB") :].split("\n\n")[0].splitlines()[2:]
    assert [row.split()[0] for row in table] == ["1", "2", "4", "8", "16", "32", "64", "70", "71"]
    assert table[-1].endswith("over") and not table[-2].endswith("over")


def test_the_heaviest_layers_and_all() -> None:
    short = run("memory", "resnet50").output
    assert "the 10 heaviest of" in short and "more (--layers all shows every layer)" in short
    full = run("memory", "resnet50", "--layers", "all").output
    assert "every layer" in full and "more (--layers all" not in full
    assert len(full.splitlines()) > len(short.splitlines()) + 50


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--checkpoint", "0"], "'0': expected a number of segments (1 or more) or sqrt"),
        (["--layers", "some"], "'some': expected a number of layers or all"),
        (["--workspace", "lots"], "'lots'"),
        (["--zero", "4"], "4 is not in the range 0<=x<=3"),
        (["--gpus", "0"], "0 is not in the range 1<=x<=1048576"),
    ],
)
def test_error_options(options: list[str], message: str) -> None:
    result = run("memory", "vgg16", *options)
    assert result.exit_code == 2 and message in result.output
    assert "Traceback" not in result.output


def test_overhead_is_stated_and_added() -> None:
    plain = run("memory", "vgg16").output
    more = run("memory", "vgg16", "--overhead", "500MiB").output
    assert "overhead 0.00 MB" in plain and "overhead 500.00 MB" in more
    assert "overhead (--overhead)                    500.00   22.3%" in more


def test_json_carries_every_figure_in_bytes() -> None:
    doc = json.loads(run("memory", "resnet50", *EVERYTHING, "--format", "json").output)
    a = convcalc.analyze(convcalc.load("resnet50"))
    m = estimate(a.rows, dtype="float32", batch=doc["max_batch"], optimizer="momentum",
                 training=Training(amp="bf16", checkpoint="sqrt", gpus=8, zero=3,
                                   overhead=1 << 30, workspace_limit=64 << 20))  # fmt: skip
    assert doc["training_total"] == m.training_total == doc["at_max_batch"]
    assert (
        doc["model_states"]
        == doc["parameters"] + doc["parameter_gradients"] + (doc["optimizer_state"])
    )
    assert doc["overhead"] == 1 << 30 and doc["workspace"] == 64 << 20
    assert doc["checkpoint"]["recompute_macs"] == m.recompute_macs > 0
    assert [b["batch"] for b in doc["batches"]][:3] == [1, 2, 4]
    parts = ("activations", "activation_gradients", "pool_switches", "workspace", "parameters",
             "buffers", "parameter_gradients", "optimizer_state", "weight_copies",
             "overhead")  # fmt: skip
    assert sum(doc[p] for p in parts) == doc["training_total"]


@pytest.mark.parametrize("name", names())
def test_every_bundled_spec_reports(name: str) -> None:
    result = run("memory", name, "--budget", "16GiB", "--amp", "fp16", "--checkpoint", "sqrt")
    assert result.exit_code == 0, result.output
