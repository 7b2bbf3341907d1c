"""Print the service's OpenAPI schema: ``python -m mfrec.service.openapi > docs/openapi.json``.

The schema does not depend on the model served, so a throw-away three-rating
model stands in for one.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd


def schema() -> dict[str, Any]:
    """The OpenAPI document of :func:`mfrec.service.app.create_app`."""
    from mfrec.models import Biases
    from mfrec.service.app import create_app

    frame = pd.DataFrame({"user": [1, 1, 2], "item": [1, 2, 1], "rating": [5.0, 3.0, 4.0]})
    with tempfile.TemporaryDirectory() as folder:
        model_dir = Biases().fit(frame).save(Path(folder) / "model")
        return create_app(model_dir, Path(folder) / "log.sqlite").openapi()


if __name__ == "__main__":
    print(json.dumps(schema(), indent=2, sort_keys=True))
