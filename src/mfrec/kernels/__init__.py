"""numba kernels: plain arrays in, arrays or scalars out; no I/O, no validation."""

from mfrec.kernels.compile_log import log_compilations

log_compilations()  # a first call that compiles (seconds, once per install) says so on the "mfrec" logger
