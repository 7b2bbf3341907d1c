"""A software prefetch for numba kernels that read rows of a matrix in random order.

numba has no prefetch builtin; this intrinsic emits LLVM's ``llvm.prefetch``, a hint
that cannot fault and returns nothing. Gathers of factor rows that live in DRAM are
latency-bound: asking for the row needed a few iterations ahead keeps several
loads in flight (measured: 1.75x faster gathering 20M rows of a 51 MB matrix).
"""

from __future__ import annotations

from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

#: How many neighbours ahead to prefetch; 8 was best of 4/8/16 on this machine.
PREFETCH_AHEAD = 8


@intrinsic
def prefetch_row(typingctx, matrix, row):
    """Hint the CPU to start loading ``matrix[row, 0]`` into cache (read, high locality)."""

    def codegen(context, builder, signature, args):
        matrix_type = signature.args[0]
        array = context.make_array(matrix_type)(context, builder, args[0])
        zero = context.get_constant(types.intp, 0)
        pointer = cgutils.get_item_pointer(context, builder, matrix_type, array, [args[1], zero])
        byte_pointer = builder.bitcast(pointer, ir.IntType(8).as_pointer())
        int32 = ir.IntType(32)
        function = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(ir.VoidType(), [byte_pointer.type, int32, int32, int32]), "llvm.prefetch.p0i8"
        )
        # (address, rw = read, locality = keep in all levels, cache type = data)
        builder.call(function, [byte_pointer, ir.Constant(int32, 0), ir.Constant(int32, 3), ir.Constant(int32, 1)])
        return context.get_dummy_value()

    return types.void(matrix, types.intp), codegen
