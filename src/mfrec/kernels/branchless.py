"""A conditional move that LLVM keeps a conditional move, for data-dependent choices in hot loops.

LLVM's x86 back end turns a ``select`` inside a loop into a branch when it guesses the branch is
cheaper; for a condition that goes either way at random (the steps of a binary search) every
misprediction then costs a pipeline flush. The ``!unpredictable`` metadata tells it the condition has
no pattern, and the select stays a ``cmov`` (checked with ``inspect_asm``: without it, numba's
``a if c else b`` in BPR's search compiled to a branch).
"""

from __future__ import annotations

from numba import types
from numba.extending import intrinsic


@intrinsic
def select(typingctx, condition, if_true, if_false):
    """``if_true if condition else if_false`` without a branch; both values are computed first.

    >>> from numba import njit
    >>> njit(lambda c: select(c, 1, 2))(False)
    2
    """
    if not isinstance(condition, types.Boolean) or if_true != if_false:
        return None

    def codegen(context, builder, signature, args):
        chosen = builder.select(args[0], args[1], args[2])
        chosen.set_metadata("unpredictable", builder.module.add_metadata([]))
        return chosen

    return if_true(condition, if_true, if_false), codegen
