"""The `implicit` library on the ml-100k folds u1..u5, read as implicit feedback (run with the peers' Python).

usage: implicit_folds.py ML100K_FOLDER
Every training rating is an interaction (value 1). For each configuration and fold, prints the top-10 of every
test user, excluding the user's training items, as JSON {config: [{user: [items...]}, ...per fold]}; the
caller scores them with mfrec's metrics so both libraries are measured by the same code.
"""

import json
import sys

import numpy as np
import pandas as pd
import scipy.sparse as sp
from implicit.cpu.als import AlternatingLeastSquares
from implicit.cpu.bpr import BayesianPersonalizedRanking
from threadpoolctl import threadpool_limits

folder = sys.argv[1]
configs = {
    "implicit ALS (32 f, reg 1, alpha 1, 15 it)": lambda: AlternatingLeastSquares(
        factors=32, regularization=1.0, alpha=1.0, iterations=15, random_state=0, num_threads=2),
    "implicit ALS (64 f, reg 1, alpha 1, 15 it)": lambda: AlternatingLeastSquares(
        factors=64, regularization=1.0, alpha=1.0, iterations=15, random_state=0, num_threads=2),
    "implicit BPR (defaults: 100 f, 100 it)": lambda: BayesianPersonalizedRanking(random_state=0, num_threads=2),
}
columns = ["user", "item", "rating", "timestamp"]
results = {name: [] for name in configs}
for fold in range(1, 6):
    train = pd.read_csv(f"{folder}/u{fold}.base", sep="\t", names=columns)
    test = pd.read_csv(f"{folder}/u{fold}.test", sep="\t", names=columns)
    users = np.unique(train["user"])
    items = np.unique(train["item"])
    user_row = pd.Series(np.arange(len(users)), index=users)
    item_row = pd.Series(np.arange(len(items)), index=items)
    matrix = sp.csr_matrix((np.ones(len(train), np.float32),
                            (user_row[train["user"]].to_numpy(), item_row[train["item"]].to_numpy())),
                           shape=(len(users), len(items)))
    test_users = np.unique(test["user"][test["user"].isin(users)])
    rows = user_row[test_users].to_numpy()
    for name, make in configs.items():
        model = make()
        with threadpool_limits(1, "blas"):
            model.fit(matrix, show_progress=False)
        ids, _ = model.recommend(rows, matrix[rows], N=10, filter_already_liked_items=True)
        results[name].append({str(u): items[r].tolist() for u, r in zip(test_users, ids)})
print(json.dumps(results))
