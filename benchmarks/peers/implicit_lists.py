"""The `implicit` library on one train/test split of interactions (run with the peers' Python).

usage: implicit_lists.py TRAIN_TSV USERS_TXT CONFIGS_JSON
TRAIN_TSV: tab-separated ``user item value`` rows, no header (the training interactions; value 1 for binary).
USERS_TXT: the users to recommend for, one a line (all must be in TRAIN_TSV). CONFIGS_JSON: {label: {"model":
"als"|"bpr", ...keyword arguments of implicit's class}}. The matrix holds each row's value as given. Prints the
top-10 of every listed user, excluding the user's training items, as JSON {label: {user: [items...]}}; the caller
scores every library's lists with one function.
"""

import json
import sys

import numpy as np
import pandas as pd
import scipy.sparse as sp
from implicit.cpu.als import AlternatingLeastSquares
from implicit.cpu.bpr import BayesianPersonalizedRanking
from threadpoolctl import threadpool_limits

train_path, users_path, configs = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
classes = {"als": AlternatingLeastSquares, "bpr": BayesianPersonalizedRanking}
train = pd.read_csv(train_path, sep="\t", names=["user", "item", "value"], dtype={"user": str, "item": str})
wanted = np.array(open(users_path).read().split(), dtype=object)
users, items = np.unique(train["user"]), np.unique(train["item"])
user_row = pd.Series(np.arange(len(users)), index=users)
item_row = pd.Series(np.arange(len(items)), index=items)
matrix = sp.csr_matrix(
    (
        train["value"].to_numpy(np.float32),
        (user_row[train["user"]].to_numpy(), item_row[train["item"]].to_numpy()),
    ),
    shape=(len(users), len(items)),
)
rows = user_row[wanted].to_numpy()
results = {}
for label, config in configs.items():
    params = {key: value for key, value in config.items() if key != "model"}
    params.setdefault("random_state", 0)
    model = classes[config["model"]](**params, num_threads=2)
    with threadpool_limits(1, "blas"):
        model.fit(matrix, show_progress=False)
    ids, _ = model.recommend(rows, matrix[rows], N=10, filter_already_liked_items=True)
    results[label] = {str(u): items[r].tolist() for u, r in zip(wanted, ids)}
print(json.dumps(results))
