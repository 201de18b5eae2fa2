"""Limits on everything a hostile spec could blow up.

Each limit is refused with its own CC12x finding, long before it could cost a second or a
noticeable amount of memory; what the pattern will expand to is bounded before expanding it.
The numbers are far above any real architecture (ResNet-152 has about 500 layers after
expansion) and low enough that the largest spec they allow checks in a second or two.
"""

MAX_FILE_BYTES = 1 << 20  # CC120: a spec file, in bytes
MAX_LAYERS = 20_000  # CC121: layers after expansion
MAX_STEPS = 100_000  # CC121: expansion steps (repetitions that yield nothing count too)
MAX_REPEAT = 20_000  # CC122: one repetition count
MAX_NESTING = 64  # CC123: brackets, merges and parentheses inside one pattern; YAML nesting
MAX_RECURSION = 32  # CC124: nested block calls
MAX_YAML_NODES = 100_000  # CC125: YAML nodes once every alias is expanded
MAX_INT = 1 << 40  # CC126: any integer in arithmetic
MAX_SIZE = 1 << 24  # CC126: a size argument (K, F, S, P, input W/H/D ...)
MAX_INT_DIGITS = 30  # CC126: digits of an integer literal
MAX_ERRORS = 100  # errors of one pattern's grammar, or of its expansion, reported in one run
