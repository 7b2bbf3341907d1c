"""Per-kernel opt-in to 512-bit vectors, for the loops that are bound by vector instructions.

LLVM's tuning for recent Intel cores (Skylake-SP through Emerald Rapids) prefers 256-bit vectors even where
AVX-512 is available, so numba's loops over a factor row run in ymm registers. A function that calls
:func:`prefer_wide_vectors` carries clang's ``-mprefer-vector-width=512`` function attributes instead, and only
that function (and what is inlined into it) is vectorised at 512 bits; every other kernel keeps the default.
On a CPU without AVX-512 the attribute asks for nothing it can give, and the code is what it was.

Measured on the CG tile (kernels/cg.py: 128 gathered neighbours in L1, one A p product, Emerald Rapids):
5.0-5.6 ns a neighbour at k = 64 against 6.0-6.5 with 256-bit vectors, 6.6 against 9.2 at k = 128, 3.6 against
4.4 at k = 32; at k = 16 (one vector a row either way) 3.6 against 3.3.
"""

from __future__ import annotations

from numba import types
from numba.extending import intrinsic

# The attributes clang sets for -mprefer-vector-width=512: the vectoriser's preferred width, and the width the
# backend must treat as legal (without it, 512-bit operations would be split back into two 256-bit halves).
_ATTRIBUTES = ('"prefer-vector-width"="512"', '"min-legal-vector-width"="512"')


@intrinsic
def prefer_wide_vectors(typingctx):
    """Mark the calling kernel to be vectorised with 512-bit registers; generates no instruction.

    A compile-time hint only: the caller's arithmetic is unchanged, but a reduction that FAST lets LLVM
    reassociate sums in a different order (16 lanes instead of 8), so the last bits can differ from a
    256-bit build, the same way they differ between CPUs.
    """

    def codegen(context, builder, signature, args):
        attributes = builder.function.attributes
        try:
            # llvmlite's AttributeSet only admits enum attributes by name; these are LLVM string attributes,
            # printed verbatim into the function's definition. If a future llvmlite stores attributes
            # differently, the hint is dropped and the kernel is compiled as before.
            for attribute in _ATTRIBUTES:
                set.add(attributes, attribute)
        except TypeError:
            pass
        return context.get_dummy_value()

    return types.void(), codegen
