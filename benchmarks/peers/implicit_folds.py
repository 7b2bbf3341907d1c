"""The `implicit` library on ml-100k splits read as implicit feedback (run with the peers' Python).

usage: implicit_folds.py ML100K_FOLDER SPLITS CONFIGS_JSON
SPLITS: comma-separated ml-100k split names (u1,...,u5 or ua,ub). CONFIGS_JSON: {label: {"model": "als"|"bpr",
...keyword arguments of implicit's class}}. Every training rating is an interaction (value 1). For each
configuration and split, prints the top-10 of every test user known in train, excluding the user's training
items, as JSON {label: [{user: [items...]}, ...per split]}; the caller scores them with the same mfrec function
that scores mfrec's lists.
"""

import json
import sys

import numpy as np
import pandas as pd
import scipy.sparse as sp
from implicit.cpu.als import AlternatingLeastSquares
from implicit.cpu.bpr import BayesianPersonalizedRanking
from threadpoolctl import threadpool_limits

folder, splits, configs = sys.argv[1], sys.argv[2].split(","), json.loads(sys.argv[3])
classes = {"als": AlternatingLeastSquares, "bpr": BayesianPersonalizedRanking}
columns = ["user", "item", "rating", "timestamp"]
results = {label: [] for label in configs}
for split in splits:
    train = pd.read_csv(f"{folder}/{split}.base", sep="\t", names=columns)
    test = pd.read_csv(f"{folder}/{split}.test", sep="\t", names=columns)
    users = np.unique(train["user"])
    items = np.unique(train["item"])
    user_row = pd.Series(np.arange(len(users)), index=users)
    item_row = pd.Series(np.arange(len(items)), index=items)
    matrix = sp.csr_matrix(
        (np.ones(len(train), np.float32), (user_row[train["user"]].to_numpy(), item_row[train["item"]].to_numpy())),
        shape=(len(users), len(items)),
    )
    test_users = np.unique(test["user"][test["user"].isin(users)])
    rows = user_row[test_users].to_numpy()
    for label, config in configs.items():
        params = {key: value for key, value in config.items() if key != "model"}
        model = classes[config["model"]](**params, random_state=0, num_threads=2)
        with threadpool_limits(1, "blas"):
            model.fit(matrix, show_progress=False)
        ids, _ = model.recommend(rows, matrix[rows], N=10, filter_already_liked_items=True)
        results[label].append({str(u): items[r].tolist() for u, r in zip(test_users, ids)})
print(json.dumps(results))
