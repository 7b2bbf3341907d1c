"""The saved-model format: safe, versioned, complete."""

import json
import os

import numpy as np
import pytest
from typer.testing import CliRunner

from mfrec.cli import app
from mfrec.exceptions import ModelFormatError, NotFittedError, ParameterError
from mfrec.models import Biases, MatrixFactorization, TruncatedSVD, persistence
from mfrec.models.persistence import FORMAT_VERSION, load_model, read_metadata


@pytest.fixture
def saved(planted, tmp_path):
    model = MatrixFactorization(n_factors=4, n_epochs=3).fit(planted)
    return model, model.save(tmp_path / "model")


def test_folder_holds_json_and_npz_without_pickle(saved):
    model, folder = saved
    meta = read_metadata(folder)
    assert meta["format_version"] == FORMAT_VERSION and meta["model"] == "MatrixFactorization"
    assert meta["params"]["n_factors"] == 4 and meta["history_columns"][0] == "epoch"
    with np.load(folder / "arrays.npz", allow_pickle=False) as arrays:
        assert arrays["user_factors_"].dtype == np.float32
        assert all(arrays[name].dtype != object for name in arrays.files)


def test_class_method_load_checks_the_type(saved):
    _, folder = saved
    assert isinstance(MatrixFactorization.load(folder), MatrixFactorization)
    with pytest.raises(ParameterError, match="holds a MatrixFactorization, not a Biases"):
        Biases.load(folder)


def test_newer_format_asks_for_an_upgrade(saved):
    _, folder = saved
    meta = json.loads((folder / "model.json").read_text())
    meta["format_version"] = FORMAT_VERSION + 1
    (folder / "model.json").write_text(json.dumps(meta))
    with pytest.raises(ModelFormatError, match="upgrade mfrec"):
        load_model(folder)


def test_unknown_class_is_refused(saved):
    _, folder = saved
    meta = json.loads((folder / "model.json").read_text())
    meta["model"] = "os.system"
    (folder / "model.json").write_text(json.dumps(meta))
    with pytest.raises(ModelFormatError, match="unknown model class 'os.system'"):
        load_model(folder)


def test_missing_and_corrupt_files(saved, tmp_path):
    _, folder = saved
    with pytest.raises(ModelFormatError, match="no model.json"):
        load_model(tmp_path / "elsewhere")
    (folder / "arrays.npz").write_bytes(b"not a zip")
    with pytest.raises(ModelFormatError, match="cannot read"):
        load_model(folder)


def test_unfitted_model_cannot_be_saved(tmp_path):
    with pytest.raises(NotFittedError):
        MatrixFactorization().save(tmp_path / "m")


def rewrite(folder, **changes):
    """Rewrite arrays.npz with some arrays replaced (None removes one)."""
    with np.load(folder / "arrays.npz") as stored:
        arrays = {name: stored[name] for name in stored.files}
    for name, value in changes.items():
        if value is None:
            arrays.pop(name)
        else:
            arrays[name] = value(arrays) if callable(value) else value
    np.savez(folder / "arrays.npz", **arrays)


def _swap_first_pointers(a):
    indptr = a["seen_indptr_"].copy()
    indptr[1], indptr[2] = indptr[2] + 5, indptr[1]
    return indptr


CORRUPTIONS = {
    "an array the model does not save": ({"payload": np.zeros(3)}, "does not save: \\['payload'\\]"),
    "item index past the end": ({"seen_indices_": lambda a: a["seen_indices_"] + 10_000}, "outside 0.."),
    "negative item index": ({"seen_indices_": lambda a: -a["seen_indices_"] - 1}, "outside 0.."),
    "pointers that decrease": ({"seen_indptr_": _swap_first_pointers}, "never decrease"),
    "pointers past the entries": ({"seen_indptr_": lambda a: a["seen_indptr_"] * 2}, "end at the length"),
    "short pointer array": ({"seen_indptr_": lambda a: a["seen_indptr_"][:-5]}, "seen_indptr_ has shape"),
    "float64 factors": ({"user_factors_": lambda a: a["user_factors_"].astype(np.float64)}, "must be float32"),
    "fewer factor rows than users": ({"user_factors_": lambda a: a["user_factors_"][:-1]}, "user_factors_ has shape"),
    "factor widths that differ": ({"item_factors_": lambda a: a["item_factors_"][:, :2]}, "item_factors_ has shape"),
    "integer biases": ({"item_bias_": lambda a: a["item_bias_"].astype(np.int32)}, "item_bias_ must be"),
    "NaN factors": ({"item_factors_": lambda a: a["item_factors_"] * np.nan}, "non-finite"),
    "duplicate ids": ({"user_ids": lambda a: np.zeros_like(a["user_ids"])}, "duplicate ids"),
    "more ids than model.json says": ({"item_ids": lambda a: np.arange(len(a["item_ids"]) + 1)}, "model.json says"),
    "missing factors": ({"item_factors_": None}, "lacks \\['item_factors_'\\]"),
    "string pointers": ({"seen_indptr_": lambda a: a["seen_indptr_"].astype(str)}, "seen_indptr_ must be"),
}


@pytest.mark.parametrize("case", CORRUPTIONS)
def test_a_corrupt_or_crafted_array_file_is_refused_before_any_kernel(saved, case):
    _, folder = saved
    changes, message = CORRUPTIONS[case]
    rewrite(folder, **changes)
    with pytest.raises(ModelFormatError, match=message):
        load_model(folder)


def test_bad_metadata_is_refused(saved):
    _, folder = saved
    meta = json.loads((folder / "model.json").read_text())
    meta["rating_scale"] = ["1", 5]
    (folder / "model.json").write_text(json.dumps(meta))
    with pytest.raises(ModelFormatError, match="rating_scale"):
        load_model(folder)
    meta["rating_scale"], meta["params"] = [1, 5], {"n_factors": "many"}
    (folder / "model.json").write_text(json.dumps(meta))
    with pytest.raises(ModelFormatError, match="invalid params"):
        load_model(folder)


def test_the_cli_reports_a_crafted_model_in_one_line(saved):
    model, folder = saved
    rewrite(folder, seen_indices_=lambda a: a["seen_indices_"] + 10_000)
    user = str(model.user_map_.ids[0])
    result = CliRunner().invoke(app, ["recommend", str(folder), "-u", user])
    assert result.exit_code == 2
    assert "outside 0.." in result.output and "Traceback" not in result.output


def test_model_specific_arrays_are_checked(planted, tmp_path):
    folder = TruncatedSVD(n_factors=3).fit(planted).save(tmp_path / "svd")
    rewrite(folder, singular_values_=np.ones(7, np.float32))
    with pytest.raises(ModelFormatError, match="singular_values_ has shape"):
        load_model(folder)


def test_history_round_trips_and_model_json_stays_small(tutorial, tmp_path):
    model = MatrixFactorization(n_factors=2, n_epochs=400, early_stopping=False).fit(tutorial)
    folder = model.save(tmp_path / "m")
    assert (folder / "model.json").stat().st_size < 4_000  # 113 KB when the history was in it
    assert "history" not in read_metadata(folder)
    loaded = load_model(folder)
    assert loaded.history_ == model.history_
    assert isinstance(loaded.history_[0]["epoch"], int)


def test_both_files_get_the_same_ordinary_permissions(saved):
    _, folder = saved
    umask = os.umask(0)
    os.umask(umask)
    modes = {(folder / name).stat().st_mode & 0o777 for name in ("model.json", "arrays.npz")}
    assert modes == {0o666 & ~umask}
    assert folder.stat().st_mode & 0o777 == 0o777 & ~umask


def test_saving_again_replaces_the_whole_model(saved, planted):
    _, folder = saved
    other = MatrixFactorization(n_factors=6, n_epochs=2, random_state=5).fit(planted)
    other.save(folder)
    loaded = load_model(folder)
    assert loaded.n_factors_ == 6
    np.testing.assert_array_equal(loaded.user_factors_, other.user_factors_)
    assert sorted(p.name for p in folder.parent.iterdir()) == ["model"]  # no staging folder left behind


@pytest.mark.parametrize("step", ["_move_into_place", "history_arrays"])
def test_a_crash_mid_save_leaves_the_old_model(saved, planted, monkeypatch, step):
    model, folder = saved
    before = model.predict(model.user_map_.ids[:5], model.item_map_.ids[:5])

    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(persistence, step, crash)
    with pytest.raises(OSError, match="disk full"):
        MatrixFactorization(n_factors=6, n_epochs=2).fit(planted).save(folder)
    loaded = load_model(folder)
    np.testing.assert_array_equal(loaded.predict(model.user_map_.ids[:5], model.item_map_.ids[:5]), before)
    assert sorted(p.name for p in folder.parent.iterdir()) == ["model"]


def test_a_folder_with_other_files_is_not_replaced(planted, tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(ParameterError, match="not a saved mfrec model"):
        MatrixFactorization(n_factors=2, n_epochs=1).fit(planted).save(tmp_path)
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_version_1_files_with_history_in_json_still_load(saved):
    model, folder = saved
    meta = json.loads((folder / "model.json").read_text())
    meta["format_version"], meta["history"] = 1, [{"epoch": 1, "train_rmse": 1.5}]
    history_columns = meta.pop("history_columns")
    rewrite(folder, **{f"history.{c}": None for c in history_columns})
    meta["history_columns"] = []
    (folder / "model.json").write_text(json.dumps(meta))
    assert load_model(folder).history_ == [{"epoch": 1, "train_rmse": 1.5}]


def test_the_classes_a_saved_model_may_name_are_the_models():
    from mfrec.models import MODELS
    from mfrec.models.registry import registered_names

    assert registered_names() == {cls.__name__ for cls in MODELS.values()}


@pytest.mark.parametrize("content", ["[1, 2]", '"model"', "3"])
def test_a_model_json_that_is_not_an_object_is_one_clear_error(saved, content):
    _, folder = saved
    (folder / "model.json").write_text(content)
    with pytest.raises(ModelFormatError, match="must hold a JSON object"):
        load_model(folder)
    result = CliRunner().invoke(app, ["recommend", str(folder), "-u", "1"])
    assert result.exit_code == 2 and "JSON object" in result.output and "Traceback" not in result.output


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            {
                "user_factors_": lambda a: a["user_factors_"][:, :2],
                "item_factors_": lambda a: a["item_factors_"][:, :2],
            },
            "n_factors 4",
        ),
        ({"item_counts_": lambda a: a["item_counts_"].astype(np.int32)}, "item_counts_ has dtype"),
        ({"seen_ratings_": lambda a: a["seen_ratings_"][:0]}, "seen_ratings_ has shape"),
    ],
)
def test_every_array_is_checked_against_the_shape_and_dtype_model_json_records(saved, changes, message):
    _, folder = saved
    rewrite(folder, **changes)
    with pytest.raises(ModelFormatError, match=message):
        load_model(folder)


def test_an_auto_fit_saves_what_it_chose_and_scored(planted, tmp_path):
    model = MatrixFactorization(n_factors=4, n_epochs=3, auto=True).fit(planted, auto_budget=2)
    model.save(tmp_path / "m")
    loaded = load_model(tmp_path / "m")
    assert loaded.auto_params_ == pytest.approx(model.auto_params_)
    assert loaded.held_out_["ndcg@10"] == pytest.approx(model.held_out_["ndcg@10"])
    plain = MatrixFactorization(n_factors=4, n_epochs=3).fit(planted)
    plain.save(tmp_path / "p")
    assert load_model(tmp_path / "p").held_out_ is None and not hasattr(load_model(tmp_path / "p"), "auto_params_")
