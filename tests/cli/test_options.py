"""Numeric options of every command: a value out of range is a usage error (exit 2) that names
the option and the accepted range, never an internal error; a huge value is not echoed whole."""

from __future__ import annotations

import pytest

from convcalc.cli import main

HUGE = "1" + "0" * 5000


def usage_error(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    with pytest.raises(SystemExit) as info:
        main(list(args))
    out, err = capsys.readouterr()
    assert info.value.code == 2, out + err
    assert out == "" and "Traceback" not in err and "internal error" not in err
    assert len(err) < 1000, "the error echoes a huge value whole"
    return err


@pytest.mark.parametrize("value", ["-1", str(2**64), HUGE, "1.5", "x"])
def test_seed_out_of_range(capsys: pytest.CaptureFixture[str], value: str) -> None:
    err = usage_error(capsys, "run", "lenet5", "--seed", value)
    assert "'--seed'" in err
    if value not in ("1.5", "x"):
        assert "0<=x<=18446744073709551615" in err


@pytest.mark.parametrize("command", ["check", "memory", "run"])
@pytest.mark.parametrize("value", ["0", "-1", str(2**30 + 1), HUGE])
def test_batch_out_of_range(capsys: pytest.CaptureFixture[str], command: str, value: str) -> None:
    err = usage_error(capsys, command, "lenet5", "--batch", value)
    assert "'--batch'" in err and "1<=x<=" in err


@pytest.mark.parametrize(("command", "option"), [("run", "--max-memory"), ("memory", "--budget")])
@pytest.mark.parametrize("value", ["0", "0.4", "0B", "-1GiB", f"{HUGE}TiB", "2000000TiB"])
def test_sizes_out_of_range(
    capsys: pytest.CaptureFixture[str], command: str, option: str, value: str
) -> None:
    err = usage_error(capsys, command, "lenet5", option, value)
    assert f"'{option}'" in err
    if value != "-1GiB":
        assert "from 1 byte to 2^60 bytes (1,048,576 TiB)" in err


@pytest.mark.parametrize("value", ["0x5x5", "-1x5x5", f"{2**24 + 1}x5x5", f"{HUGE}x5x5"])
def test_input_out_of_range(capsys: pytest.CaptureFixture[str], value: str) -> None:
    err = usage_error(capsys, "check", "lenet5", "--input", value)
    assert "'--input'" in err


@pytest.mark.parametrize("value", [f"N={HUGE}", f"N={2**40 + 1}", f"N=-{2**40 + 1}"])
def test_set_out_of_range(capsys: pytest.CaptureFixture[str], value: str) -> None:
    err = usage_error(capsys, "check", "cs231n-pattern", "--set", value)
    assert "'--set'" in err and "integers are limited to ±2^40" in err


@pytest.mark.parametrize(
    "args",
    [
        ["run", "lenet5", "--seed", str(2**64 - 1)],
        ["run", "lenet5", "--seed", "0", "--max-memory", "1GiB"],
        ["memory", "lenet5", "--budget", "1048576TiB"],
        ["check", "cs231n-pattern", "--set", f"N={2**40}"],  # a finding (CC122), not a usage error
    ],
)
def test_values_at_the_limits_are_accepted(
    capsys: pytest.CaptureFixture[str], args: list[str]
) -> None:
    with pytest.raises(SystemExit) as info:
        main(args)
    err = capsys.readouterr().err
    assert info.value.code in (0, 1), err
    assert "Error" not in err and "internal error" not in err
