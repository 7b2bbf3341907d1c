"""Models, all following the :class:`~mfrec.models.base.Recommender` contract."""

from pathlib import Path
from typing import Any

from mfrec.exceptions import ParameterError
from mfrec.models.adam import EmbeddingAdam
from mfrec.models.als import ALS
from mfrec.models.base import Recommender
from mfrec.models.baselines import Biases, GlobalMean, Popularity
from mfrec.models.bayesian import BayesianMF
from mfrec.models.bpr import BPR
from mfrec.models.implicit import ImplicitALS
from mfrec.models.mf import MatrixFactorization
from mfrec.models.nmf import NMF
from mfrec.models.params import parameters_markdown
from mfrec.models.svd import TruncatedSVD
from mfrec.models.svdpp import SVDpp

#: Command-line names of the models.
MODELS: dict[str, type[Recommender]] = {
    "sgd": MatrixFactorization,
    "svdpp": SVDpp,
    "als": ALS,
    "nmf": NMF,
    "svd": TruncatedSVD,
    "adam": EmbeddingAdam,
    "bayesian": BayesianMF,
    "implicit-als": ImplicitALS,
    "bpr": BPR,
    "baseline": Biases,
    "popularity": Popularity,
    "global-mean": GlobalMean,
}


def make_model(name: str, **params: Any) -> Recommender:
    """A model by its command-line name, e.g. ``make_model("sgd", n_factors=64)``."""
    if name not in MODELS:
        raise ParameterError(f"unknown model {name!r}; choose one of {sorted(MODELS)}")
    cls = MODELS[name]
    model = cls()
    return model.set_params(**params)


def write_parameters_doc(path: str | Path = "docs/PARAMETERS.md") -> Path:
    """Regenerate ``docs/PARAMETERS.md`` from every model's ``param_spec``."""
    path = Path(path)
    path.write_text(parameters_markdown(MODELS), encoding="utf-8")
    return path


__all__ = [
    "Recommender",
    "MatrixFactorization",
    "ALS",
    "NMF",
    "TruncatedSVD",
    "SVDpp",
    "EmbeddingAdam",
    "BayesianMF",
    "ImplicitALS",
    "BPR",
    "Biases",
    "GlobalMean",
    "Popularity",
    "MODELS",
    "make_model",
]
