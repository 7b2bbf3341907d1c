"""Data layer: reading, validating, splitting and summarising interactions."""

from mfrec.data.idmap import IdMap
from mfrec.data.interactions import Interactions, from_arrays
from mfrec.data.movielens import load_movielens, predefined_folds
from mfrec.data.readers import from_frame, read_csv, read_parquet
from mfrec.data.sources import load
from mfrec.data.split import kfold, leave_last_n, random_split, temporal_split
from mfrec.data.summary import summarize
from mfrec.data.synthetic import movies, synthetic

__all__ = [
    "IdMap",
    "Interactions",
    "from_arrays",
    "from_frame",
    "load",
    "read_csv",
    "read_parquet",
    "load_movielens",
    "predefined_folds",
    "random_split",
    "temporal_split",
    "leave_last_n",
    "kfold",
    "summarize",
    "synthetic",
    "movies",
]
