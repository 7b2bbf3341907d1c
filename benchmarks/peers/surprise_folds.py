"""Surprise on given train/test files (run with the peers' Python): predictions and top-10 lists, scored by the caller.

usage: surprise_folds.py SPLITS_JSON CONFIGS_JSON
SPLITS_JSON: [[name, train_tsv, test_tsv], ...], each file "user item rating timestamp" separated by tabs.
CONFIGS_JSON: {label: {"algo": "svd" | "nmf" | "baseline", ...keyword arguments of Surprise's class}}.

Prints JSON {label: {split: {"pred": [estimate per test row, in file order], "lists": {user: [top-10 items]},
"fit_seconds": s}}}. Nothing is scored here: the caller puts Surprise's numbers through the same mfrec metric
functions as mfrec's own (issue 11 #3). The top-10 of a user ranks every item known in train that the user did
not rate in train by Surprise's unclipped estimate (mu + b_u + b_i + p_u . q_i for SVD; p_u . q_i for NMF, whose
default is unbiased; mu + b_u + b_i for BaselineOnly).
"""

import json
import sys
import time

import numpy as np
from surprise import NMF, SVD, BaselineOnly, Dataset, Reader
from surprise.model_selection import PredefinedKFold

ALGOS = {"svd": SVD, "nmf": NMF, "baseline": BaselineOnly}
splits, configs = json.loads(sys.argv[1]), json.loads(sys.argv[2])
reader = Reader(line_format="user item rating timestamp", sep="\t", rating_scale=(1, 5))


def item_scores(algo, trainset) -> np.ndarray:
    """Users x items matrix of unclipped estimates, in Surprise's inner ids."""
    mu = trainset.global_mean
    if isinstance(algo, BaselineOnly):
        return mu + algo.bu[:, None] + algo.bi[None, :]
    scores = algo.pu @ algo.qi.T
    if getattr(algo, "biased", False):
        scores += mu + algo.bu[:, None] + algo.bi[None, :]
    return scores


results = {label: {} for label in configs}
for name, train_file, test_file in splits:
    data = Dataset.load_from_folds([(train_file, test_file)], reader=reader)
    trainset, testset = next(iter(PredefinedKFold().split(data)))
    test_users = sorted({u for u, _, _ in testset})
    for label, config in configs.items():
        params = {key: value for key, value in config.items() if key != "algo"}
        if config["algo"] != "baseline":
            params.setdefault("random_state", 0)
        else:
            params.setdefault("verbose", False)
        algo = ALGOS[config["algo"]](**params)
        started = time.perf_counter()
        algo.fit(trainset)
        seconds = time.perf_counter() - started
        predictions = [algo.predict(u, i).est for u, i, _ in testset]
        scores = item_scores(algo, trainset)
        lists = {}
        for user in test_users:
            try:
                inner = trainset.to_inner_uid(user)
            except ValueError:  # not in train: no list, as for mfrec
                continue
            row = scores[inner].copy()
            row[[iid for iid, _ in trainset.ur[inner]]] = -np.inf
            top = np.argsort(-row, kind="stable")[:10]
            lists[str(user)] = [int(trainset.to_raw_iid(int(i))) for i in top]
        results[label][name] = {"pred": predictions, "lists": lists, "fit_seconds": seconds}
print(json.dumps(results))
