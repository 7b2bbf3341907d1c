"""Settings shared by the numba kernels: one fastmath flag set and the scratch-layout constants."""

from __future__ import annotations

# LLVM fast-math flags for every kernel. No "nnan"/"ninf": pivot and curvature tests must see NaN and inf.
# "reassoc" lets reductions vectorise, so a reduction's order is fixed only by the loop's shape; see SCRATCH_PAD.
FAST = {"nsz", "arcp", "contract", "afn", "reassoc"}

# Floats of padding after each small per-row vector a kernel allocates together. A loop that both writes
# vectors and sums a reduction is vectorised behind a runtime check that the vectors lie at least
# (vector width x unroll) bytes apart, and otherwise runs a scalar twin that sums in another order. Separate
# small allocations land at distances that vary between processes, so the same fit gave different bits
# from run to run (issue 12 #8); vectors kept in one padded block are always far enough apart.
SCRATCH_PAD = 64
