"""Issue 14: an analysis that stops at an error still reports what it found before the stop,
and the help of the error names the layers that led to it."""

from __future__ import annotations

from click.testing import CliRunner

from convcalc.cli import cli

from ..support import ROOT, check, spec

THREE_STAGES = "INPUT -> [[CONV(32) -> RELU]*2 -> POOL]*3 -> [FC(256) -> RELU]*2 -> FC(10)"


def test_error_keeps_the_design_advice_of_the_rows_before_it() -> None:
    a = check(spec(THREE_STAGES))
    assert a.output is None
    assert [(f.code, f.layer) for f in a.findings if f.code == "CC504"] == [
        ("CC504", f"conv{i}")
        for i in range(1, 6)  # conv6 covers its 3×3 input
    ]
    (error,) = [f for f in a.findings if f.severity.name == "ERROR"]
    assert error.code == "CC203" and error.layer == "pool3"


def test_error_help_names_the_layers_that_shrank_the_volume() -> None:
    a = check(spec(THREE_STAGES))
    (error,) = [f for f in a.findings if f.code == "CC203"]
    assert error.help is not None
    assert error.help.splitlines()[0] == ("conv1–conv6 shrink the volume by 2 each; P=1 keeps it")


def test_error_help_lists_scattered_shrinking_layers() -> None:
    text = "INPUT -> CONV(8, F=5) -> CONV(8, F=3, P=1) -> CONV(8, F=3) -> POOL(F=8, S=8)"
    a = check(spec(text, "10x10x3"))
    (error,) = [f for f in a.findings if f.code == "CC203"]
    assert error.help is not None
    assert error.help.splitlines()[0] == (
        "conv1 and conv3 shrink the volume by 4 and 2; P=2 and P=1 keep it"
    )


def test_error_help_without_shrinking_layers_is_the_generic_one() -> None:
    a = check(spec("INPUT -> CONV(8, F=3, P=1) -> POOL(F=8, S=8)", "4x4x3"))
    (error,) = [f for f in a.findings if f.code == "CC203"]
    assert error.help == "pad more, use a smaller filter, or remove a pooling layer before this"


def test_error_inside_a_branch_names_only_the_layers_on_its_path() -> None:
    text = "INPUT -> CONV(8, F=3) -> ADD{ CONV(8, F=3, P=1) | CONV(8, F=5) -> POOL(F=8, S=8) }"
    a = check(spec(text, "10x10x3"))
    (error,) = [f for f in a.findings if f.code == "CC203"]
    assert error.help is not None
    assert error.help.splitlines()[0].startswith("conv1 and conv3 shrink the volume")


def test_no_citation_of_a_file_users_do_not_have() -> None:
    """The design contract is the developers' file: code, messages and README cite the
    README's own sections instead."""
    paths = [
        ROOT / "README.md",
        *(ROOT / "convcalc").rglob("*.py"),
        *(ROOT / "tests").rglob("*.py"),
    ]
    cited = [p.name for p in paths if "CONTRACT §" in p.read_text(encoding="utf-8")]
    assert cited == ["test_errors_at_once.py"]


def test_readme_cc201_example_is_what_the_tool_prints() -> None:
    """The README's first example (`convcalc check alexnet-224`): each line of its CC201
    help is a line the tool prints, TensorFlow's 'same' padding (7) included."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = readme[readme.index("$ convcalc check alexnet-224") :]
    block = block[: block.index("```")]
    start = block.index("  help: ")
    shown = [line.strip() for line in block[start:].splitlines() if line.strip()]
    assert any("padding='same' pads 7" in line for line in shown)
    # the README shows an 80-column terminal; "..." stands for the lines it leaves out
    out = CliRunner().invoke(cli, ["check", "alexnet-224"], env={"COLUMNS": "80"}).output
    printed = {line.strip() for line in out.splitlines()}
    assert [line for line in shown if line not in printed and line != "..."] == []


def test_cat_mismatch_points_at_the_branch_that_differs_and_says_how_to_fix_it() -> None:
    arch = "INPUT -> CAT{ CONV(16, P=1) | CONV(16) } -> FC(10)"
    a = check(spec(arch))
    (error,) = [f for f in a.findings if f.code == "CC302"]
    column = 3 + arch.index("CONV(16) }")  # the second branch, in the indented block
    assert (error.location.column, error.location.end_column) == (column, column + 8)
    assert error.help == (
        "conv2 shrinks the volume by 2; P=1 keeps it\n"
        "CAT joins volumes of the same width and height along the depth: branch 2 is 30×30, "
        "branch 1 is 32×32"
    )


def test_add_mismatch_points_at_the_branch_that_differs() -> None:
    arch = "INPUT -> CONV(16, P=1) -> ADD{ CONV(16, P=1) | CONV(32, P=1) -> BN }"
    a = check(spec(arch))
    (error,) = [f for f in a.findings if f.code == "CC301"]
    start, end = 3 + arch.index("CONV(32"), 3 + arch.index(" }")
    assert (error.location.column, error.location.end_column) == (start, end)
    assert error.help == "end a branch with SKIP to project it to its sibling's shape"


def test_a_section_key_at_the_top_level_is_moved_and_a_misspelt_key_is_not() -> None:
    import convcalc

    text = "name: t\ninput: 32x32x3\noptimiser: adam\nnmae: x\nwarn_at: 3\narch: INPUT -> FC(2)\n"
    try:
        convcalc.load_text(text, "spec.yaml")
    except convcalc.SpecError as exc:
        messages = [f.message for f in exc.findings]
    assert messages == [
        "unknown key `optimiser`; did you mean `memory: {optimizer: adam}`?",
        "unknown key `nmae`; did you mean `name`?",
        "unknown key `warn_at`",
    ]
