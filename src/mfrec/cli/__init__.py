"""The ``mfrec`` command line."""

from mfrec.cli.app import app, main

__all__ = ["app", "main"]
