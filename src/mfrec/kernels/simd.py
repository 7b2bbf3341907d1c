"""Explicit SIMD for the CG loops over factor rows: 512-bit vectors, written as LLVM vector operations.

Two tools, both compile-time only (they generate code, they do no I/O and hold no Python objects):

:func:`prefer_wide_vectors` lets LLVM auto-vectorise the calling kernel with 512-bit registers. LLVM's tuning
for recent Intel cores (Skylake-SP through Emerald Rapids) prefers 256-bit vectors even where AVX-512 is
available; a function that calls it carries clang's ``-mprefer-vector-width=512`` attributes instead, and only
that function (with what is inlined into it) changes. On a CPU without AVX-512 the attribute asks for nothing
it can give. Measured on the CG tile (kernels/cg_tiles.py: 128 gathered neighbours in L1, one A p product, Emerald
Rapids): 5.0-5.6 ns a neighbour at k = 64 against 6.0-6.5 with 256-bit vectors, 6.6 against 9.2 at k = 128.

:func:`dot4_rows`, :func:`axpy4_rows` and :func:`copy4_rows` are the CG inner loops for four rows of a matrix at
a time, for widths that are a multiple of 16 (the padded CG layout, kernels/rows.py), as explicit
``<16 x float>`` operations. numba's loops over a runtime width are vectorised behind a trip-count check, an
alias check and a remainder loop, entered once per four neighbours; the four dot products then each reduce
four partial-sum vectors across lanes. Here there is one loop of whole vectors and one joint reduction of the
four sums (three levels of shuffles and adds instead of four separate reductions): measured 4.3-4.5 ns a
neighbour for the A p tile at k = 64 against 5.1-6.1 for the auto-vectorised loops, in the same process.

Every operation is an explicit IR instruction whose only fast-math flag is "arcp", which changes no sum (fused
multiply-adds are the llvm.fma intrinsic), so the summation order is fixed by this code, not by the caller's
flags (see _IN_ORDER): the same in a process that compiles the kernel and one that loads it from numba's cache,
whatever the vector width the CPU prefers (tested by tests/test_als_kernels.py in fresh processes; a variant
with "contract"-flagged multiply-adds, which would spare a CPU without FMA a call to fmaf, was dropped: it gave
different bits in a fresh and a cached process).
numba's cache keys a kernel on its own file only: after editing this module, clear the callers' caches.
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

#: float32 lanes of one 512-bit vector; the row widths these loops take are multiples of it.
LANES = 16

#: Bytes of one vector, and of one cache line.
VECTOR_BYTES = 64

_F32 = ir.FloatType()
_I32 = ir.IntType(32)
_VEC = ir.VectorType(_F32, LANES)

# The attributes clang sets for -mprefer-vector-width=512: the vectoriser's preferred width, and the width the
# backend must treat as legal (without it, 512-bit operations would be split back into two 256-bit halves).
_WIDE_ATTRIBUTES = ('"prefer-vector-width"="512"', '"min-legal-vector-width"="512"')


def _mark_wide(builder):
    attributes = builder.function.attributes
    try:
        # llvmlite's AttributeSet only admits enum attributes by name; these are LLVM string attributes,
        # printed verbatim into the function's definition. If a future llvmlite stores attributes
        # differently, the hint is dropped and the kernel is compiled as before.
        for attribute in _WIDE_ATTRIBUTES:
            set.add(attributes, attribute)
    except TypeError:
        pass


@intrinsic
def prefer_wide_vectors(typingctx):
    """Mark the calling kernel to be vectorised with 512-bit registers; generates no instruction.

    A hint only: the arithmetic is unchanged, but a reduction that FAST lets LLVM reassociate sums in a
    different order (16 lanes instead of 8), so the last bits can differ from a 256-bit build, as they do
    between CPUs.
    """

    def codegen(context, builder, signature, args):
        _mark_wide(builder)
        return context.get_dummy_value()

    return types.void(), codegen


# numba's fastmath pass gives every float operation that has no flags of its own the calling kernel's flags
# (FAST: "reassoc" and "contract" among them), which let LLVM reorder these sums as it sees fit, differently
# for each caller, loop shape and constant width. The operations here carry "arcp" (reciprocals may be
# approximated: it changes no addition or multiplication), so the pass leaves them alone and they are summed
# in the order written, whoever calls them.
_IN_ORDER = ("arcp",)


def _add(builder, a, b):
    return builder.fadd(a, b, flags=_IN_ORDER)


def _mul(builder, a, b):
    return builder.fmul(a, b, flags=_IN_ORDER)


def _mask(lanes):
    return ir.Constant(ir.VectorType(_I32, len(lanes)), [ir.Constant(_I32, lane) for lane in lanes])


def _fma(builder, a, b, c):
    function = cgutils.get_or_insert_function(builder.module, ir.FunctionType(_VEC, [_VEC] * 3), "llvm.fma.v16f32")
    return builder.call(function, [a, b, c])


def _broadcast(context, builder, value, value_type):
    scalar = context.cast(builder, value, value_type, types.float32)
    vector = builder.insert_element(ir.Constant(_VEC, ir.Undefined), scalar, ir.Constant(_I32, 0))
    return builder.shuffle_vector(vector, vector, _mask([0] * LANES))


class _Rows:
    """Pointers to vector ``chunk`` of rows of a C-contiguous float32 matrix (or of a vector)."""

    def __init__(self, context, builder, array_type, array_value):
        self.builder = builder
        array = context.make_array(array_type)(context, builder, array_value)
        self.data = builder.bitcast(array.data, ir.IntType(8).as_pointer())
        self.stride = cgutils.unpack_tuple(builder, array.strides, array_type.ndim)[0] if array_type.ndim == 2 else None

    def pointer(self, row, chunk):
        """Row ``row`` (an intp value; ignored for a vector), floats ``chunk * LANES`` onwards."""
        builder = self.builder
        offset = builder.mul(chunk, ir.Constant(chunk.type, LANES * 4))
        if self.stride is not None:
            offset = builder.add(offset, builder.mul(row, self.stride))
        return builder.bitcast(builder.gep(self.data, [offset]), _VEC.as_pointer())

    def load(self, row, chunk):
        return self.builder.load(self.pointer(row, chunk), align=4)

    def store(self, value, row, chunk):
        self.builder.store(value, self.pointer(row, chunk), align=4)


def _rows(context, builder, signature, args, first):
    """The four row indices at ``args[first:first + 4]`` as intp values."""
    return [context.cast(builder, args[first + j], signature.args[first + j], types.intp) for j in range(4)]


def _chunks(context, builder, width, width_type):
    width = context.cast(builder, width, width_type, types.intp)
    return builder.sdiv(width, ir.Constant(width.type, LANES))


def _reduce4(builder, sums):
    """The four horizontal sums of four vectors: halves added pairwise, three levels (lanes 16 -> 8 -> 4 -> 1)."""
    low = list(range(0, 8)) + list(range(16, 24))
    high = list(range(8, 16)) + list(range(24, 32))
    a = _add(
        builder,
        builder.shuffle_vector(sums[0], sums[1], _mask(low)),
        builder.shuffle_vector(sums[0], sums[1], _mask(high)),
    )
    b = _add(
        builder,
        builder.shuffle_vector(sums[2], sums[3], _mask(low)),
        builder.shuffle_vector(sums[2], sums[3], _mask(high)),
    )
    # a = [row 0: 8 lanes, row 1: 8 lanes], b = [row 2, row 3]
    low = [0, 1, 2, 3, 8, 9, 10, 11, 16, 17, 18, 19, 24, 25, 26, 27]
    high = [4, 5, 6, 7, 12, 13, 14, 15, 20, 21, 22, 23, 28, 29, 30, 31]
    c = _add(builder, builder.shuffle_vector(a, b, _mask(low)), builder.shuffle_vector(a, b, _mask(high)))
    # c = [row 0: 4 lanes, row 1: 4, row 2: 4, row 3: 4]
    c = _add(
        builder,
        builder.shuffle_vector(c, c, _mask([0, 1, 4, 5, 8, 9, 12, 13])),
        builder.shuffle_vector(c, c, _mask([2, 3, 6, 7, 10, 11, 14, 15])),
    )
    c = _add(
        builder, builder.shuffle_vector(c, c, _mask([0, 2, 4, 6])), builder.shuffle_vector(c, c, _mask([1, 3, 5, 7]))
    )
    return [builder.extract_element(c, ir.Constant(_I32, j)) for j in range(4)]


@intrinsic
def dot4_rows(typingctx, A, r0, r1, r2, r3, x, width):
    """(A[r0] . x, A[r1] . x, A[r2] . x, A[r3] . x) over [:width], width a multiple of LANES.

    A float32[:, :] C-contiguous, x float32[:] with at least ``width`` values. Each row sums lane-wise over the
    vectors of the row, then the four lane vectors are reduced together (:func:`_reduce4`).
    """

    def codegen(context, builder, signature, args):
        _mark_wide(builder)
        rows = _Rows(context, builder, signature.args[0], args[0])
        vector = _Rows(context, builder, signature.args[5], args[5])
        index = _rows(context, builder, signature, args, 1)
        sums = [cgutils.alloca_once_value(builder, ir.Constant(_VEC, None)) for _ in range(4)]
        with cgutils.for_range(builder, _chunks(context, builder, args[6], signature.args[6])) as loop:
            xv = vector.load(None, loop.index)
            for j in range(4):
                builder.store(_fma(builder, rows.load(index[j], loop.index), xv, builder.load(sums[j])), sums[j])
        values = _reduce4(builder, [builder.load(s) for s in sums])
        return context.make_tuple(builder, signature.return_type, values)

    return types.UniTuple(types.float32, 4)(A, r0, r1, r2, r3, x, width), codegen


@intrinsic
def axpy4_rows(typingctx, out, A, r0, r1, r2, r3, c0, c1, c2, c3, width):
    """out[:width] += (c0 A[r0] + c1 A[r1]) + (c2 A[r2] + c3 A[r3]), width a multiple of LANES.

    The products pair as written: c1 A[r1] + c0 A[r0] and c3 A[r3] + c2 A[r2] are each one multiply and one
    fused multiply-add, and out takes their sum with one add (one load and one store of out per vector).
    """

    def codegen(context, builder, signature, args):
        _mark_wide(builder)
        target = _Rows(context, builder, signature.args[0], args[0])
        rows = _Rows(context, builder, signature.args[1], args[1])
        index = _rows(context, builder, signature, args, 2)
        c = [_broadcast(context, builder, args[6 + j], signature.args[6 + j]) for j in range(4)]
        with cgutils.for_range(builder, _chunks(context, builder, args[10], signature.args[10])) as loop:
            g = [rows.load(index[j], loop.index) for j in range(4)]
            first = _fma(builder, c[1], g[1], _mul(builder, c[0], g[0]))
            second = _fma(builder, c[3], g[3], _mul(builder, c[2], g[2]))
            total = _add(builder, target.load(None, loop.index), _add(builder, first, second))
            target.store(total, None, loop.index)
        return context.get_dummy_value()

    return types.void(out, A, r0, r1, r2, r3, c0, c1, c2, c3, width), codegen


@intrinsic
def copy4_rows(typingctx, G, g0, A, r0, r1, r2, r3, width):
    """G[g0 + j, :width] = A[r_j, :width] for j = 0..3, width a multiple of LANES (a gather of four rows)."""

    def codegen(context, builder, signature, args):
        _mark_wide(builder)
        target = _Rows(context, builder, signature.args[0], args[0])
        first = context.cast(builder, args[1], signature.args[1], types.intp)
        rows = _Rows(context, builder, signature.args[2], args[2])
        index = _rows(context, builder, signature, args, 3)
        with cgutils.for_range(builder, _chunks(context, builder, args[7], signature.args[7])) as loop:
            for j in range(4):
                value = rows.load(index[j], loop.index)
                target.store(value, builder.add(first, ir.Constant(first.type, j)), loop.index)
        return context.get_dummy_value()

    return types.void(G, g0, A, r0, r1, r2, r3, width), codegen


@njit(cache=True, nogil=True)
def aligned_empty(n):
    """float32[n], uninitialised, starting on a 64-byte boundary (numba's own arrays start on 32 bytes).

    A 512-bit load from an address that is not a multiple of 64 spans two cache lines and costs two loads:
    scratch that the CG loops read a vector at a time (gathered rows, the per-row vectors) is laid out on
    64-byte boundaries, rows of a multiple of ``LANES`` floats apart.
    """
    buffer = np.empty(n + LANES, dtype=np.float32)
    offset = (-buffer.ctypes.data % VECTOR_BYTES) // 4
    return buffer[offset : offset + n]
