"""numba kernels: plain arrays in, arrays or scalars out; no I/O, no validation."""
