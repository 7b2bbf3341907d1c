"""mfrec: matrix-factorization recommenders."""

__version__ = "0.1.0"
