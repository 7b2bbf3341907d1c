"""Declarative hyper-parameters (issue 13): one spec per model drives checks, get/set_params, -p, tune and the docs."""

import copy
import json
import warnings
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mfrec.cli import app
from mfrec.data import synthetic
from mfrec.evaluation import SEARCH_SPACES
from mfrec.exceptions import ParameterError
from mfrec.models import MODELS, NMF, BayesianMF, Biases, MatrixFactorization, Recommender
from mfrec.models.params import Param, parameters_markdown, parse_assignments, search_space
from mfrec.models.persistence import load_model

DOCS = Path(__file__).resolve().parents[1] / "docs" / "PARAMETERS.md"


@pytest.mark.parametrize("name", sorted(MODELS))
def test_every_model_has_one_spec_matching_its_constructor(name):
    cls = MODELS[name]
    model = cls()
    assert list(model.get_params()) == cls.param_names() == [p.name for p in cls.param_spec]
    assert model.get_params() == {p.name: p.default for p in cls.param_spec}
    assert all(p.doc and p.kind in (int, float, bool, str) for p in cls.param_spec)


def test_a_spec_that_disagrees_with_the_constructor_fails_at_class_definition():
    with pytest.raises(TypeError, match=r"not in the spec: \['b'\]"):

        class Broken(Recommender):
            param_spec = (Param("a", int, "a"),)

            def __init__(self, a: int = 1, b: int = 2) -> None:
                self.a, self.b = a, b

    with pytest.raises(TypeError, match="spec default 3 != __init__ default 1"):

        class Drifted(Recommender):
            param_spec = (Param("a", int, "a", default=3),)

            def __init__(self, a: int = 1) -> None:
                self.a = a


@pytest.mark.parametrize(
    "make,message",
    [
        (lambda: MatrixFactorization(n_factors=0), "MatrixFactorization: n_factors must be an int >= 1, got 0"),
        (lambda: MatrixFactorization(n_factors=True), "n_factors must be an int >= 1, got True"),
        (lambda: MatrixFactorization(biased="yes"), "biased must be True or False, got 'yes'"),
        (lambda: MatrixFactorization(random_state=-1), r"random_state must be an int >= 0 or None, got -1"),
        (
            lambda: MatrixFactorization(user_regularization=-0.1),
            "user_regularization must be a finite number >= 0 or None",
        ),
        (lambda: MODELS["svd"](impute="mean"), "impute must be one of 'item', 'user', got 'mean'"),
        (lambda: NMF(init_low=0.5, init_high=0.5), r"init_high must be a finite number > init_low \(0.5\), got 0.5"),
        (lambda: BayesianMF(n_epochs=5, burn_in=7), r"burn_in must be an int >= 0 and < n_epochs \(5\), got 7"),
    ],
)
def test_constructor_names_the_parameter_the_value_and_the_allowed_range(make, message):
    with pytest.raises(ParameterError, match=message):
        make()


def test_set_params_checks_atomically_and_fit_rechecks_attributes(tutorial):
    model = MatrixFactorization(n_factors=4)
    with pytest.raises(ParameterError, match="lr_decay must be"):
        model.set_params(n_factors=8, lr_decay=2.0)
    assert model.n_factors == 4 and model.lr_decay == 1.0  # nothing changed
    with pytest.raises(ParameterError, match=r"has no parameter 'n_factor' \(did you mean 'n_factors'\?\); valid: n_"):
        model.set_params(n_factor=3)
    model.n_epochs = 0  # attributes can be assigned directly; fit still refuses
    with pytest.raises(ParameterError, match="n_epochs must be an int >= 1, got 0"):
        model.fit(tutorial)


def _sklearn_style_clone(estimator):
    """scikit-learn's documented clone contract (sklearn.base.clone), without depending on scikit-learn."""
    given = {name: copy.deepcopy(value) for name, value in estimator.get_params(deep=False).items()}
    new = type(estimator)(**given)
    stored = new.get_params(deep=False)
    for name, value in given.items():
        assert stored[name] is value, f"__init__ changed {name}: clone would raise"
    return new


@pytest.mark.parametrize("name", sorted(MODELS))
def test_get_and_set_params_follow_the_sklearn_contract(name):
    cls = MODELS[name]
    model = cls()
    assert model.get_params(deep=True) == model.get_params(deep=False)
    assert model.set_params() is model
    twin = _sklearn_style_clone(model)
    assert type(twin) is cls and twin is not model and twin.get_params() == model.get_params()
    assert repr(twin) == repr(model)


def test_sklearn_clone_works_when_scikit_learn_is_installed():
    base = pytest.importorskip("sklearn.base")
    model = MatrixFactorization(n_factors=7, regularization=0.2)
    twin = base.clone(model)
    assert twin is not model and twin.get_params() == model.get_params()


def test_old_names_still_work_with_a_deprecation_warning():
    with pytest.warns(DeprecationWarning, match="'user_reg' is now 'user_regularization'"):
        model = MatrixFactorization(user_reg=0.3)
    assert model.user_regularization == 0.3
    with pytest.warns(DeprecationWarning, match="'reg_item' is now 'item_bias_regularization'"):
        baseline = Biases().set_params(reg_item=7.0)
    assert baseline.item_bias_regularization == 7.0
    with pytest.raises(ParameterError, match="same parameter"), pytest.warns(DeprecationWarning):
        Biases().set_params(reg_user=1.0, user_bias_regularization=2.0)


def test_a_model_saved_under_the_old_names_loads_silently(tmp_path):
    model = MatrixFactorization(n_factors=4, n_epochs=2, user_regularization=0.3).fit(synthetic(60, 40, 800, seed=1))
    model.save(tmp_path / "m")
    meta_path = tmp_path / "m" / "model.json"
    meta = json.loads(meta_path.read_text())
    assert meta["format_version"] == 2
    meta["params"]["user_reg"] = meta["params"].pop("user_regularization")  # as written before the rename
    meta["params"]["item_reg"] = meta["params"].pop("item_regularization")
    meta_path.write_text(json.dumps(meta))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loaded = load_model(tmp_path / "m")
    assert loaded.user_regularization == 0.3 and loaded.item_regularization is None


def test_cli_assignments_are_typed_by_the_spec():
    parsed = parse_assignments(
        MatrixFactorization, ["n_factors=16", "learning_rate=1e-3", "biased=false", "n_threads=none", "user_reg=0.2"]
    )
    assert parsed == {"n_factors": 16, "learning_rate": 0.001, "biased": False, "n_threads": None, "user_reg": 0.2}
    assert type(parsed["n_factors"]) is int and type(parsed["learning_rate"]) is float
    assert parse_assignments(MODELS["svd"], ["impute=user"]) == {"impute": "user"}
    with pytest.raises(ParameterError, match=r"-p n_factors=abc: n_factors must be an int >= 1"):
        parse_assignments(MatrixFactorization, ["n_factors=abc"])
    with pytest.raises(ParameterError, match="Biases has no parameter 'damping'; valid: user_bias_regularization"):
        parse_assignments(Biases, ["damping=3"])


def test_cli_rejects_an_unknown_parameter_listing_the_valid_ones(tmp_path):
    data = tmp_path / "r.csv"
    synthetic(60, 40, 800, seed=1).to_frame().to_csv(data, index=False)
    result = CliRunner().invoke(app, ["train", str(data), "-m", "als", "-p", "n_factor=3", "-o", str(tmp_path / "m")])
    assert result.exit_code == 2
    assert "ALS has no parameter 'n_factor' (did you mean 'n_factors'?); valid: n_factors, n_epochs" in result.output
    result = CliRunner().invoke(app, ["train", str(data), "-m", "als", "-p", "solver=lu", "-o", str(tmp_path / "m")])
    assert result.exit_code == 2 and "solver must be one of 'auto', 'cholesky', 'cg', got 'lu'" in result.output


@pytest.mark.parametrize("name", sorted(MODELS))
def test_tune_space_comes_from_the_spec_and_stays_inside_the_allowed_range(name):
    cls = MODELS[name]
    assert SEARCH_SPACES.get(name, {}) == search_space(cls)
    defaults = cls().get_params()
    for param in cls.param_spec:
        if param.search is None:
            continue
        values = param.search[:2] if isinstance(param.search, tuple) else param.search
        for value in values:
            param.check(value, defaults)


def test_parameters_doc_is_generated_from_the_specs():
    expected = parameters_markdown(MODELS)
    assert DOCS.read_text(encoding="utf-8") == expected, (
        "docs/PARAMETERS.md is stale; regenerate it with "
        'PYTHONPATH=src python -c "from mfrec.models import write_parameters_doc; write_parameters_doc()"'
    )
    assert "| `user_regularization` | float | `None` |" in expected
