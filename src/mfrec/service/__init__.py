"""The HTTP service: recommendations, durable rating ingestion, live fold-in, hot model swap.

Needs the optional extra ``serve`` (``pip install 'mfrec[serve]'``); importing
:func:`create_app` pulls in FastAPI, nothing else in mfrec does.
"""

from __future__ import annotations

from typing import Any


def create_app(*args: Any, **kwargs: Any) -> Any:
    """See :func:`mfrec.service.app.create_app` (imported lazily so mfrec works without FastAPI)."""
    from mfrec.service.app import create_app as _create_app

    return _create_app(*args, **kwargs)


__all__ = ["create_app"]
