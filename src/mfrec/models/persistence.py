"""Saving and loading models: a folder with ``model.json`` (metadata) and ``arrays.npz`` (numbers).

No pickle anywhere: arrays are read with ``allow_pickle=False`` and the model
class is looked up by name in a fixed registry (:mod:`mfrec.models.registry`), so a model file cannot run code.
"""

from __future__ import annotations

import ctypes
import json
import math
import os
import secrets
import shutil
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

import mfrec
from mfrec.data.attributes import AttributeEncoder
from mfrec.data.idmap import IdMap
from mfrec.exceptions import MfrecError, ModelFormatError, ParameterError
from mfrec.models.history import history_arrays, history_rows
from mfrec.models.params import upgrade_params
from mfrec.models.registry import registered_class, registered_names

if TYPE_CHECKING:
    from mfrec.models.base import Recommender

FORMAT_NAME = "mfrec-model"
#: 2: per-epoch history moved from model.json to ``history.<column>`` arrays. Version 1 still loads.
FORMAT_VERSION = 2
_COMMON_ARRAYS = ("user_bias_", "item_bias_", "seen_indptr_", "seen_indices_", "item_counts_")
# Written when present; a model saved without them still loads (it cannot partial_fit or use attributes).
# The pick x like ranker's arrays (mfrec.models.pick): without them a model ranks by predicted rating.
_OPTIONAL_ARRAYS = (
    "seen_ratings_",
    "user_attribute_weights_",
    "item_attribute_weights_",
    "pick_user_factors_",
    "pick_item_factors_",
    "bias_regularization_",
)
_HISTORY_PREFIX = "history."


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
    """Write ``model`` to the folder ``path``, replacing a model saved there before as a whole.

    Both files are written into a temporary sibling folder that is then renamed into
    place, so a crash mid-save leaves the previous model and a reader never sees a
    new ``model.json`` beside an old ``arrays.npz``. A folder holding anything but a
    saved model is refused rather than replaced.
    """
    model._require_fitted()
    if type(model).__name__ not in registered_names():
        raise ModelFormatError(f"{type(model).__name__} is not a registered mfrec model and cannot be saved")
    folder = Path(path)
    if folder.exists() and (not folder.is_dir() or set(os.listdir(folder)) - {"model.json", "arrays.npz"}):
        raise ParameterError(f"{folder} exists and is not a saved mfrec model; save to a new or empty folder")
    arrays = {name: getattr(model, name) for name in (*_COMMON_ARRAYS, *model._saved_arrays)}
    optional = (*_OPTIONAL_ARRAYS, *model._optional_saved_arrays)
    arrays.update({name: getattr(model, name) for name in optional if getattr(model, name, None) is not None})
    arrays["user_ids"] = model.user_map_.to_storable()
    arrays["item_ids"] = model.item_map_.to_storable()
    if model.item_labels_ is not None:
        arrays["item_labels"] = model.item_labels_
    history = history_arrays(model.history_)
    meta = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "mfrec_version": mfrec.__version__,
        "model": type(model).__name__,
        "params": jsonable(model.get_params()),
        "global_mean": float(model.global_mean_),
        "rating_scale": list(model.rating_scale_),
        "rating_scale_source": getattr(model, "rating_scale_source_", None),
        "n_users": len(model.user_map_),
        "n_items": len(model.item_map_),
        "n_factors": model.n_factors_,
        "history_columns": list(history),
        "fit_seconds": getattr(model, "fit_seconds_", None),
        "ratings_log_id": getattr(model, "ratings_log_id_", None),
        # The "will pick" regularisation chosen at fit (None: the popularity chart): fold-in solves with it.
        "pick_regularization": getattr(model, "pick_regularization_", None),
        "pick_like": getattr(model, "pick_like_", True),  # False: the plain chart, "will like" ignored
        "auto": jsonable(
            {"params": getattr(model, "auto_params_", None), "held_out": getattr(model, "held_out_", None)}
        ),
        "attribute_encoders": {side: encoder.to_json() for side, encoder in model._attribute_encoders.items()},
    }
    arrays.update({_HISTORY_PREFIX + column: values for column, values in history.items()})
    # Every array's shape and dtype, checked on load: a cut or retyped array is refused, not served.
    meta["arrays"] = {
        name: {"shape": list(np.shape(value)), "dtype": np.asarray(value).dtype.str} for name, value in arrays.items()
    }
    # What load would refuse is not written: a bug shows here, not when the model is needed.
    check_arrays(type(model), meta, arrays, folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = folder.parent / f".{folder.name}.saving-{secrets.token_hex(4)}"
    staging.mkdir()  # plain mkdir and open(): the umask decides permissions, the same for both files
    try:
        with (staging / "arrays.npz").open("wb") as handle:
            np.savez(handle, **arrays)
            handle.flush()
            os.fsync(handle.fileno())
        with (staging / "model.json").open("w") as handle:
            handle.write(json.dumps(meta, indent=1))
            handle.flush()
            os.fsync(handle.fileno())
        _move_into_place(staging, folder)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return folder


def _move_into_place(staging: Path, folder: Path) -> None:
    """Rename ``staging`` to ``folder``; an existing ``folder`` is swapped out in one step where the OS can."""
    if not folder.exists():
        os.rename(staging, folder)
        return
    if _exchange(staging, folder):
        return  # staging now holds the old model, removed by the caller
    # No atomic exchange here: for a moment there is no folder (a reader gets "no model.json", never a mix).
    retired = folder.parent / f".{folder.name}.old-{secrets.token_hex(4)}"
    os.rename(folder, retired)
    try:
        os.rename(staging, folder)
    except OSError:
        os.rename(retired, folder)
        raise
    shutil.rmtree(retired, ignore_errors=True)


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths atomically with Linux's renameat2(RENAME_EXCHANGE); False where unsupported."""
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    return renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0


def read_metadata(path: str | os.PathLike) -> dict[str, Any]:
    """The ``model.json`` of a saved model, checked for format and version."""
    folder = Path(path)
    meta_file = folder / "model.json"
    if not meta_file.is_file():
        raise ModelFormatError(f"{folder} is not a saved mfrec model (no model.json)")
    try:
        meta = json.loads(meta_file.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ModelFormatError(f"{meta_file} is not valid JSON: {exc}") from None
    if not isinstance(meta, dict):
        raise ModelFormatError(f"{meta_file} must hold a JSON object, got a JSON {type(meta).__name__}")
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
    """Read a model written by :func:`save_model`; predictions are identical to the saved model's.

    Nothing in the file is trusted: only the arrays this model class saves are read,
    and each is checked for dtype, shape and index range (see :func:`check_arrays`)
    before any kernel can see it, so a corrupt or crafted file is a
    :class:`ModelFormatError`, never an out-of-bounds read or write.
    """
    folder = Path(path)
    meta = read_metadata(folder)
    cls = registered_class(meta.get("model"))
    if cls is None:
        raise ModelFormatError(f"{folder} holds an unknown model class {meta.get('model')!r}")
    file = folder / "arrays.npz"
    try:
        with np.load(file, allow_pickle=False) as stored:
            allowed = _allowed_names(cls, meta)
            unexpected = sorted(set(stored.files) - allowed)
            if unexpected:
                raise ModelFormatError(
                    f"{file} holds arrays a {cls.__name__} does not save: {unexpected}; "
                    "the file is corrupt or not written by mfrec"
                )
            arrays = {name: stored[name] for name in stored.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        if isinstance(exc, MfrecError):
            raise
        raise ModelFormatError(f"cannot read {file}: {exc}") from None
    check_arrays(cls, meta, arrays, folder)
    try:
        # Parameters renamed since the model was saved load under their new names.
        model = cls().set_params(**upgrade_params(cls, meta.get("params", {})))
    except (MfrecError, TypeError) as exc:
        raise ModelFormatError(f"{folder / 'model.json'} has invalid params: {exc}") from None
    model.user_map_ = IdMap(arrays.pop("user_ids"))
    model.item_map_ = IdMap(arrays.pop("item_ids"))
    model.item_labels_ = arrays.pop("item_labels", None)
    history = {
        name[len(_HISTORY_PREFIX) :]: arrays.pop(name) for name in list(arrays) if name.startswith(_HISTORY_PREFIX)
    }
    for name, value in arrays.items():
        setattr(model, name, value)
    model.global_mean_ = float(meta["global_mean"])
    model.rating_scale_ = tuple(float(v) for v in meta["rating_scale"])
    source = meta.get("rating_scale_source")
    model.rating_scale_source_ = source if isinstance(source, str) else None
    model.history_ = history_rows(history) if history else list(meta.get("history", []))  # version 1 kept it in JSON
    model.fit_seconds_ = meta.get("fit_seconds")
    model.ratings_log_id_ = meta.get("ratings_log_id")
    auto = meta.get("auto") if isinstance(meta.get("auto"), dict) else {}
    model.held_out_ = auto.get("held_out")  # what a held-out fit scored, and auto's choice when it chose
    if auto.get("params") is not None:
        model.auto_params_ = auto["params"]
    if "pick_regularization" in meta and hasattr(model, "pick_item_factors_"):
        pick = meta["pick_regularization"]
        model.pick_regularization_ = float(pick) if isinstance(pick, (int, float)) else None
        model.pick_like_ = meta.get("pick_like") is not False  # files from before it always multiplied by like
    for side, columns in meta.get("attribute_encoders", {}).items():
        model._attribute_encoders[side] = AttributeEncoder.from_json(columns)
    return model


def _allowed_names(cls: type[Recommender], meta: dict[str, Any]) -> set[str]:
    history = meta.get("history_columns", [])
    if not isinstance(history, list):
        history = []
    return {
        *_COMMON_ARRAYS,
        *cls._saved_arrays,
        *cls._optional_saved_arrays,
        *_OPTIONAL_ARRAYS,
        "user_ids",
        "item_ids",
        "item_labels",
        *(_HISTORY_PREFIX + str(column) for column in history),
    }


def _check_recorded(meta: dict[str, Any], arrays: dict[str, np.ndarray], fail: Any) -> None:
    """Each array against the shape and dtype ``model.json`` recorded for it (models saved since issue 28)."""
    recorded = meta.get("arrays")
    if recorded is None or meta.get("format_version") != FORMAT_VERSION:
        return  # written before the list existed (a version 1 file has none)
    if not isinstance(recorded, dict):
        fail("model.json 'arrays' must be an object")
    for name in sorted(set(recorded) ^ set(arrays)):
        fail(f"{name} is {'missing' if name in recorded else 'not listed in model.json'}")
    for name, value in arrays.items():
        want = recorded[name]
        shape, dtype = (want.get("shape"), want.get("dtype")) if isinstance(want, dict) else (None, None)
        if shape != list(np.shape(value)):
            fail(f"{name} has shape {tuple(np.shape(value))}, model.json says {shape}")
        if dtype != np.asarray(value).dtype.str:
            fail(f"{name} has dtype {np.asarray(value).dtype.str}, model.json says {dtype}")


def check_arrays(cls: type[Recommender], meta: dict[str, Any], arrays: dict[str, np.ndarray], folder: Path) -> None:
    """Refuse arrays that do not make a sound ``cls`` model: names, dtypes, shapes and index ranges.

    The kernels run without bounds checks, so every index they will follow is checked
    here: the seen-items CSR (pointers start at 0, never decrease, end at the number of
    entries; every item index names an item), and factor, bias and count rows match the
    id maps.
    """
    where = folder / "arrays.npz"

    def fail(message: str) -> None:
        raise ModelFormatError(f"{where}: {message}; the model file is corrupt, re-save or retrain it")

    missing = sorted({*_COMMON_ARRAYS, *cls._saved_arrays, "user_ids", "item_ids"} - arrays.keys())
    if missing:
        fail(f"lacks {missing}")
    unexpected = sorted(set(arrays) - _allowed_names(cls, meta))
    if unexpected:
        fail(f"holds arrays a {cls.__name__} does not save: {unexpected}")

    def need(name: str, kinds: str, ndim: int, shape: tuple[int | None, ...] | None = None) -> np.ndarray:
        value = arrays[name]
        if not isinstance(value, np.ndarray) or value.dtype.kind not in kinds or value.ndim != ndim:
            fail(
                f"{name} must be a {ndim}-d array of kind {kinds!r}, got {getattr(value, 'dtype', type(value))} "
                f"with {getattr(value, 'ndim', '?')} dimensions"
            )
        if shape is not None and any(want is not None and got != want for got, want in zip(value.shape, shape)):
            fail(f"{name} has shape {value.shape}, expected {tuple('*' if w is None else w for w in shape)}")
        if value.dtype.kind == "f" and value.dtype != np.float32 and not name.startswith(_HISTORY_PREFIX):
            fail(f"{name} must be float32, got {value.dtype}")
        if value.dtype.kind == "f" and not name.startswith(_HISTORY_PREFIX) and not np.isfinite(value).all():
            fail(f"{name} holds non-finite values")
        return value

    for name in ("user_ids", "item_ids"):
        ids = need(name, "iU", 1)
        if len(np.unique(ids)) != len(ids):
            fail(f"{name} has duplicate ids")
    n_users, n_items = len(arrays["user_ids"]), len(arrays["item_ids"])
    if (meta.get("n_users"), meta.get("n_items")) != (n_users, n_items):
        fail(
            f"model.json says {meta.get('n_users')} users x {meta.get('n_items')} items, the arrays hold "
            f"{n_users} x {n_items}"
        )
    need("user_bias_", "f", 1, (n_users,))
    need("item_bias_", "f", 1, (n_items,))
    counts = need("item_counts_", "i", 1, (n_items,))
    if counts.size and counts.min() < 0:
        fail("item_counts_ has negative counts")
    indptr = need("seen_indptr_", "i", 1, (n_users + 1,))
    indices = need("seen_indices_", "i", 1)
    if indptr[0] != 0 or indptr[-1] != len(indices) or (np.diff(indptr) < 0).any():
        fail("seen_indptr_ must start at 0, never decrease and end at the length of seen_indices_")
    if indices.size and (indices.min() < 0 or indices.max() >= n_items):
        fail(f"seen_indices_ holds item rows outside 0..{n_items - 1}")
    if "seen_ratings_" in arrays:
        need("seen_ratings_", "f", 1, (len(indices),))
    k = None
    if "user_factors_" in arrays or "item_factors_" in arrays:
        k = need("user_factors_", "f", 2, (n_users, None)).shape[1]
        need("item_factors_", "f", 2, (n_items, k))
        stated = meta.get("n_factors")
        if isinstance(stated, int) and not isinstance(stated, bool) and stated != k:
            fail(f"user_factors_ has {k} factors, model.json says n_factors {stated}")
    if "singular_values_" in arrays:
        need("singular_values_", "f", 1, (k,))
    for side in ("user", "item"):
        name = f"{side}_attribute_weights_"
        if name in arrays:
            need(name, "f", 2, (None, (k or 0) + 1))
    if "item_labels" in arrays:
        need("item_labels", "U", 1, (n_items,))
    if ("pick_user_factors_" in arrays) != ("pick_item_factors_" in arrays):
        fail("holds one of pick_user_factors_ / pick_item_factors_ without the other")
    if "pick_user_factors_" in arrays:
        pick_k = need("pick_user_factors_", "f", 2, (n_users, None)).shape[1]
        need("pick_item_factors_", "f", 2, (n_items, pick_k))
    checked = {
        *_COMMON_ARRAYS,
        *_OPTIONAL_ARRAYS,
        "user_ids",
        "item_ids",
        "item_labels",
        "user_factors_",
        "item_factors_",
        "singular_values_",
    }
    history = [name for name in arrays if name.startswith(_HISTORY_PREFIX)]
    for name in history:
        need(name, "if", 1, (len(arrays[history[0]]),))
    for name in set(arrays) - checked - set(history):  # a model's own arrays: float32 and finite
        need(name, "f", arrays[name].ndim)
    _check_recorded(meta, arrays, fail)
    scale = meta.get("rating_scale")
    if not (
        isinstance(scale, list)
        and len(scale) == 2
        and all(isinstance(v, (int, float)) for v in scale)
        and math.isfinite(scale[0])
        and math.isfinite(scale[1])
        and scale[0] <= scale[1]
    ):
        raise ModelFormatError(f"{folder / 'model.json'}: rating_scale must be [low, high], got {scale!r}")
    if not isinstance(meta.get("global_mean"), (int, float)) or not math.isfinite(meta["global_mean"]):
        raise ModelFormatError(f"{folder / 'model.json'}: global_mean must be a finite number")
