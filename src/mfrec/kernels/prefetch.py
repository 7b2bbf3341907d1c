"""Software prefetches for numba kernels that read rows of a matrix in random order.

numba has no prefetch builtin; these intrinsics emit LLVM's ``llvm.prefetch``, a
hint that cannot fault and returns nothing. Gathers of factor rows that live in
DRAM are latency-bound: asking for the row needed a few iterations ahead keeps
several loads in flight (measured: 1.75x faster gathering 20M rows of a 51 MB
matrix). A 64-factor float32 row spans four cache lines; asking for each of them,
not just the first, and for the row's bias saved another 10-20% of an explicit
ALS iteration on 20M ratings. The ``_l2`` variants ask for lines wanted later,
without evicting what L1 holds now: CG uses them to fetch the next rows'
neighbours while it computes on the current row (kernels/cg_tiles.py).
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

#: How many neighbours ahead to prefetch; 8 was best of 4/8/16/32 on this machine.
PREFETCH_AHEAD = 8

#: float32 values per 64-byte cache line.
_LINE = 16


def _emit_prefetch(context, builder, array_type, array_value, indices, locality: int = 3) -> None:
    array = context.make_array(array_type)(context, builder, array_value)
    pointer = cgutils.get_item_pointer(context, builder, array_type, array, indices)
    byte_pointer = builder.bitcast(pointer, ir.IntType(8).as_pointer())
    int32 = ir.IntType(32)
    function = cgutils.get_or_insert_function(
        builder.module, ir.FunctionType(ir.VoidType(), [byte_pointer.type, int32, int32, int32]), "llvm.prefetch.p0i8"
    )
    # (address, rw = read, locality: 3 = keep in all levels, 2 = not in L1; cache type = data)
    builder.call(function, [byte_pointer, ir.Constant(int32, 0), ir.Constant(int32, locality), ir.Constant(int32, 1)])


@intrinsic
def prefetch_element(typingctx, matrix, row, col):
    """Hint the CPU to start loading the cache line holding ``matrix[row, col]``."""

    def codegen(context, builder, signature, args):
        _emit_prefetch(context, builder, signature.args[0], args[0], [args[1], args[2]])
        return context.get_dummy_value()

    return types.void(matrix, types.intp, types.intp), codegen


@intrinsic
def prefetch_element_l2(typingctx, matrix, row, col):
    """Like :func:`prefetch_element`, into L2 but not L1 (for data needed later than the next few loads)."""

    def codegen(context, builder, signature, args):
        _emit_prefetch(context, builder, signature.args[0], args[0], [args[1], args[2]], locality=2)
        return context.get_dummy_value()

    return types.void(matrix, types.intp, types.intp), codegen


@intrinsic
def prefetch_value_l2(typingctx, vector, index):
    """Like :func:`prefetch_value`, into L2 but not L1."""

    def codegen(context, builder, signature, args):
        _emit_prefetch(context, builder, signature.args[0], args[0], [args[1]], locality=2)
        return context.get_dummy_value()

    return types.void(vector, types.intp), codegen


@intrinsic
def prefetch_value(typingctx, vector, index):
    """Hint the CPU to start loading the cache line holding ``vector[index]``."""

    def codegen(context, builder, signature, args):
        _emit_prefetch(context, builder, signature.args[0], args[0], [args[1]])
        return context.get_dummy_value()

    return types.void(vector, types.intp), codegen


@njit(inline="always")
def prefetch_row(matrix, row):
    """Hint the CPU to start loading every cache line of ``matrix[row]``."""
    for col in range(0, matrix.shape[1], _LINE):
        prefetch_element(matrix, row, np.intp(col))


@njit(inline="always")
def prefetch_neighbour(indices, Y, y_bias, position, biased, width):
    """Hint the CPU to load the factor row's first ``width`` columns (and, ``biased``, the bias) of the neighbour
    at ``indices[position]``; ``width``: as in :func:`prefetch_lines`."""
    ahead = np.intp(indices[position])
    prefetch_lines(Y, ahead, width)
    if biased:
        prefetch_value(y_bias, ahead)


@njit(inline="always")
def prefetch_lines(matrix, row, width):
    """Like :func:`prefetch_row` for the first ``width`` columns; a constant ``width`` unrolls the loop."""
    for col in range(0, width, _LINE):
        prefetch_element(matrix, row, np.intp(col))


@njit(inline="always")
def prefetch_lines_l2(matrix, row, width):
    """Like :func:`prefetch_lines`, into L2 but not L1."""
    for col in range(0, width, _LINE):
        prefetch_element_l2(matrix, row, np.intp(col))
