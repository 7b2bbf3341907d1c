"""Per-fold accuracy of ALS / implicit ALS on the ml-100k folds u1-u5, for solver and step choices.

usage: PYTHONPATH=src python benchmarks/als_folds.py als|implicit-als [NAME=VALUE ...]
Prints one JSON line: RMSE per fold (als) or NDCG@10 per fold (implicit-als) and their mean, scored by
mfrec.evaluation.score (the same code `mfrec evaluate --protocol ml100k-folds` uses).
"""

from __future__ import annotations

import json
import sys
import time

from _common import ML100K

from mfrec.data.movielens import predefined_folds
from mfrec.evaluation import score
from mfrec.models import ALS, ImplicitALS

name = sys.argv[1]
params: dict = {}
for item in sys.argv[2:]:
    key, value = item.split("=", 1)
    try:
        params[key] = json.loads(value)
    except json.JSONDecodeError:
        params[key] = value
model_class, metric = (ALS, "rmse") if name == "als" else (ImplicitALS, "ndcg@10")
values, started = [], time.perf_counter()
for train, test in predefined_folds(ML100K):
    values.append(score(model_class(**params).fit(train), train, test)[metric])
summary = {"model": name, "params": params, metric: [round(v, 5) for v in values]}
summary["mean"] = round(sum(values) / len(values), 5)
summary["seconds"] = round(time.perf_counter() - started, 1)
print(json.dumps(summary))
