"""Saving and loading models: a folder with ``model.json`` (metadata) and ``arrays.npz`` (numbers).

No pickle anywhere: arrays are read with ``allow_pickle=False`` and the model
class is looked up by name in a fixed registry, so a model file cannot run code.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

import mfrec
from mfrec.data.attributes import AttributeEncoder
from mfrec.data.idmap import IdMap
from mfrec.exceptions import ModelFormatError
from mfrec.models.base import Recommender

FORMAT_NAME = "mfrec-model"
FORMAT_VERSION = 1
_COMMON_ARRAYS = ("user_bias_", "item_bias_", "seen_indptr_", "seen_indices_", "item_counts_")
# Written when present; a model saved without them still loads (it cannot partial_fit or use attributes).
_OPTIONAL_ARRAYS = ("seen_ratings_", "user_attribute_weights_", "item_attribute_weights_")


def _registry() -> dict[str, type[Recommender]]:
    from mfrec.models import MODELS

    return {cls.__name__: cls for cls in MODELS.values()}


def jsonable(value: Any) -> Any:
    """``value`` with numpy scalars made Python and non-finite floats made None, ready for JSON."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def save_model(model: Recommender, path: str | os.PathLike) -> Path:
    """Write ``model`` to the folder ``path`` (created, or replaced atomically file by file)."""
    model._require_fitted()
    if type(model).__name__ not in _registry():
        raise ModelFormatError(f"{type(model).__name__} is not a registered mfrec model and cannot be saved")
    folder = Path(path)
    folder.mkdir(parents=True, exist_ok=True)
    arrays = {name: getattr(model, name) for name in (*_COMMON_ARRAYS, *model._saved_arrays)}
    arrays.update({name: getattr(model, name) for name in _OPTIONAL_ARRAYS if hasattr(model, name)})
    arrays["user_ids"] = model.user_map_.to_storable()
    arrays["item_ids"] = model.item_map_.to_storable()
    if model.item_labels_ is not None:
        arrays["item_labels"] = model.item_labels_
    meta = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "mfrec_version": mfrec.__version__,
        "model": type(model).__name__,
        "params": jsonable(model.get_params()),
        "global_mean": float(model.global_mean_),
        "rating_scale": list(model.rating_scale_),
        "n_users": len(model.user_map_),
        "n_items": len(model.item_map_),
        "n_factors": model.n_factors_,
        "history": jsonable(model.history_),
        "fit_seconds": getattr(model, "fit_seconds_", None),
        "attribute_encoders": {side: encoder.to_json() for side, encoder in model._attribute_encoders.items()},
    }
    # Write to temporary names then rename, so a reader never sees half a model.
    with tempfile.NamedTemporaryFile(dir=folder, suffix=".npz", delete=False) as handle:
        np.savez(handle, **arrays)
    os.replace(handle.name, folder / "arrays.npz")
    tmp_meta = folder / "model.json.tmp"
    tmp_meta.write_text(json.dumps(meta, indent=2))
    os.replace(tmp_meta, folder / "model.json")
    return folder


def read_metadata(path: str | os.PathLike) -> dict[str, Any]:
    """The ``model.json`` of a saved model, checked for format and version."""
    folder = Path(path)
    meta_file = folder / "model.json"
    if not meta_file.is_file():
        raise ModelFormatError(f"{folder} is not a saved mfrec model (no model.json)")
    try:
        meta = json.loads(meta_file.read_text())
    except json.JSONDecodeError as exc:
        raise ModelFormatError(f"{meta_file} is not valid JSON: {exc}") from None
    if meta.get("format") != FORMAT_NAME:
        raise ModelFormatError(f"{meta_file} is not an mfrec model file")
    version = meta.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise ModelFormatError(
            f"{folder} uses model format version {version!r}; this mfrec ({mfrec.__version__}) reads up to "
            f"{FORMAT_VERSION}: upgrade mfrec"
        )
    return meta


def load_model(path: str | os.PathLike) -> Recommender:
    """Read a model written by :func:`save_model`; predictions are identical to the saved model's."""
    folder = Path(path)
    meta = read_metadata(folder)
    cls = _registry().get(meta["model"])
    if cls is None:
        raise ModelFormatError(f"{folder} holds an unknown model class {meta['model']!r}")
    try:
        with np.load(folder / "arrays.npz", allow_pickle=False) as stored:
            arrays = {name: stored[name] for name in stored.files}
    except (OSError, ValueError) as exc:
        raise ModelFormatError(f"cannot read {folder / 'arrays.npz'}: {exc}") from None
    needed = {*_COMMON_ARRAYS, *cls._saved_arrays, "user_ids", "item_ids"}
    missing = sorted(needed - arrays.keys())
    if missing:
        raise ModelFormatError(f"{folder / 'arrays.npz'} lacks {missing}")
    model = cls().set_params(**meta["params"])
    model.user_map_ = IdMap(arrays.pop("user_ids"))
    model.item_map_ = IdMap(arrays.pop("item_ids"))
    model.item_labels_ = arrays.pop("item_labels", None)
    for name, value in arrays.items():
        setattr(model, name, value)
    model.global_mean_ = meta["global_mean"]
    model.rating_scale_ = tuple(meta["rating_scale"])
    model.history_ = meta.get("history", [])
    model.fit_seconds_ = meta.get("fit_seconds")
    for side, columns in meta.get("attribute_encoders", {}).items():
        model._attribute_encoders[side] = AttributeEncoder.from_json(columns)
    return model
