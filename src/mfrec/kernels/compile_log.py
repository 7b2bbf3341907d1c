"""Every compilation of an mfrec kernel, logged at INFO on the ``mfrec`` logger (a disk-cache hit logs nothing).

:mod:`mfrec.kernels` registers :func:`log_compilations` when it is imported; the CLI's notice and
warm-up are :mod:`mfrec.cli.compile`.
"""

from __future__ import annotations

import logging

from numba.core import event

log = logging.getLogger("mfrec")


class _LogCompiles(event.Listener):
    """Logs each compilation of an mfrec kernel (not of other packages' numba functions) on the ``mfrec`` logger."""

    def on_start(self, event_: event.Event) -> None:
        function = getattr(event_.data.get("dispatcher"), "py_func", None)
        module = getattr(function, "__module__", "") or ""
        if module.startswith("mfrec."):
            log.info(
                "compiling numba kernel %s.%s (first use after an install only: cached on disk after)",
                module,
                function.__qualname__,
            )

    def on_end(self, event_: event.Event) -> None:
        pass


_LOGGER: _LogCompiles | None = None


def log_compilations() -> None:
    """Log mfrec's kernel compilations from now on (at INFO, logger ``mfrec``); calling it again does nothing."""
    global _LOGGER
    if _LOGGER is None:
        _LOGGER = _LogCompiles()
        event.register("numba:compile", _LOGGER)
