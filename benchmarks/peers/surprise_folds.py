"""Surprise on the ml-100k folds u1..u5 (run with the peers' Python). Prints JSON."""

import json
import sys
import time

import numpy as np
from surprise import NMF, SVD, BaselineOnly, Dataset, Reader, accuracy
from surprise.model_selection import PredefinedKFold

folder = sys.argv[1]
reader = Reader("ml-100k")
folds = [(f"{folder}/u{k}.base", f"{folder}/u{k}.test") for k in range(1, 6)]
data = Dataset.load_from_folds(folds, reader=reader)
results = {}
makers = {
    "surprise-svd": lambda: SVD(random_state=0),
    "surprise-nmf": lambda: NMF(random_state=0),
    "surprise-baseline": lambda: BaselineOnly(verbose=False),
}
for name, make in makers.items():
    rmse, mae, seconds = [], [], []
    for train, test in PredefinedKFold().split(data):
        started = time.perf_counter()
        algo = make().fit(train)
        seconds.append(time.perf_counter() - started)
        predictions = algo.test(test)
        rmse.append(accuracy.rmse(predictions, verbose=False))
        mae.append(accuracy.mae(predictions, verbose=False))
    results[name] = {"rmse": float(np.mean(rmse)), "mae": float(np.mean(mae)), "fit_seconds": float(np.mean(seconds))}
print(json.dumps(results))
