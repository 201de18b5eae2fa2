"""The merges: ADD, CAT and MUL join the outputs of their branches into one volume.

A merge is not a layer type of the vocabulary (it has branches, not arguments), but like one
it is a small class that answers for itself: the volume its branches make, or None when their
volumes do not combine. Adding a merge means adding its class to ``MERGES``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from ..records import Shape


class MergeType:
    name: ClassVar[str]
    doc: ClassVar[str] = ""
    needs: ClassVar[str] = ""  # what the branches must share: "the same shape"
    keeps_output: ClassVar[bool] = False  # its backward pass copies or splits the gradient
    frees_input: ClassVar[bool] = False  # its backward pass keeps nothing of its inputs
    windowed: ClassVar[bool] = False
    sums_in_place: ClassVar[bool] = False  # may write its result over a branch's output
    takes_skip: ClassVar[bool] = False  # a branch may end in SKIP, projected to its sibling's

    def output(self, shapes: Sequence[Shape]) -> Shape | None:
        """The merged volume, or None when the branches' volumes do not combine."""
        raise NotImplementedError

    def size_along(self, sizes: Sequence[int]) -> int | None:
        """The merged size along one spatial axis, or None when the branches disagree."""
        first = sizes[0]
        return first if all(size == first for size in sizes) else None

    def describe(self, branches: int) -> str:
        """``ADD ×2``"""
        return f"{self.name} ×{branches}"


class Add(MergeType):
    name = "ADD"
    doc = "elementwise sum of branches of one shape (RES{...} adds the identity)"
    needs = "the same shape"
    sums_in_place = True  # PyTorch's `out += identity`
    takes_skip = True

    def output(self, shapes: Sequence[Shape]) -> Shape | None:
        return shapes[0] if len(set(shapes)) == 1 else None


class Cat(MergeType):
    name = "CAT"
    doc = "depth concatenation of branches of one width and height"
    needs = "the same width and height"
    frees_input = True  # torch.cat's backward splits the gradient: it keeps no input

    def output(self, shapes: Sequence[Shape]) -> Shape | None:
        if len({shape[:2] for shape in shapes}) > 1:
            return None
        return shapes[0][0], shapes[0][1], sum(shape[2] for shape in shapes)


class Mul(MergeType):
    name = "MUL"
    doc = "elementwise product; a 1×1×D branch broadcasts over W×H×D (squeeze-and-excitation)"
    needs = "one shape, or 1×1×D branches that broadcast over W×H×D"

    def output(self, shapes: Sequence[Shape]) -> Shape | None:
        if len({shape[2] for shape in shapes}) > 1:
            return None
        full = {shape[:2] for shape in shapes if shape[:2] != (1, 1)}
        if len(full) > 1:
            return None
        w, h = next(iter(full), (1, 1))
        return w, h, shapes[0][2]

    def size_along(self, sizes: Sequence[int]) -> int | None:
        full = {size for size in sizes if size != 1}
        return None if len(full) > 1 else max(sizes)


MERGES: dict[str, MergeType] = {merge.name: merge for merge in (Add(), Cat(), Mul())}
