"""The saved-model format: safe, versioned, complete."""

import json

import numpy as np
import pytest

from mfrec.exceptions import ModelFormatError, NotFittedError, ParameterError
from mfrec.models import Biases, MatrixFactorization
from mfrec.persistence import FORMAT_VERSION, load_model, read_metadata


@pytest.fixture
def saved(planted, tmp_path):
    model = MatrixFactorization(n_factors=4, n_epochs=3).fit(planted)
    return model, model.save(tmp_path / "model")


def test_folder_holds_json_and_npz_without_pickle(saved):
    model, folder = saved
    meta = read_metadata(folder)
    assert meta["format_version"] == FORMAT_VERSION and meta["model"] == "MatrixFactorization"
    assert meta["params"]["n_factors"] == 4 and len(meta["history"]) == 3
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
