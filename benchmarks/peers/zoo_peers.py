"""One peer on one zoo split (run with the peers' Python): predictions and top-10 lists, scored by the caller.

usage: zoo_peers.py PEER TRAIN_TSV TEST_TSV LOW HIGH OUT_JSON
PEER: surprise-baseline | surprise-svd | surprise-svd-tuned | surprise-svdpp | cmfrec | myfm-mf | myfm-flipped.
TRAIN_TSV / TEST_TSV: "user item rating" separated by tabs, no header, ids as strings. The test file holds every
test row; the peer predicts every row whose user and item are both in train (warm pairs) and writes a top-10 for
every test user known in train: every item known in train that the user did not rate in train, ranked by the
peer's own score. Writes {"pred": {row index: estimate}, "lists": {user: [items]}, "fit_seconds": s}. Nothing is
scored here: bench_zoo.py puts every system's output through one metric function. One thread, seed 0.
"""

import json
import os
import sys
import time

for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = "1"

import numpy as np
import pandas as pd
import scipy.sparse as sps

peer, train_file, test_file, low, high, out_file = sys.argv[1:7]
low, high = float(low), float(high)
train = pd.read_csv(train_file, sep="\t", header=None, names=["user", "item", "rating"], dtype=str)
test = pd.read_csv(test_file, sep="\t", header=None, names=["user", "item", "rating"], dtype=str)
train["rating"] = train["rating"].astype(float)
users = pd.Index(train["user"].unique())
items = pd.Index(train["item"].unique())
u_tr, i_tr = users.get_indexer(train["user"]), items.get_indexer(train["item"])
u_te, i_te = users.get_indexer(test["user"]), items.get_indexer(test["item"])
warm = np.flatnonzero((u_te >= 0) & (i_te >= 0))
list_users = np.unique(u_te[u_te >= 0])
rated = sps.csr_matrix((np.ones(len(train)), (u_tr, i_tr)), shape=(len(users), len(items)))


def top10(score_rows) -> dict:
    """score_rows(user_rows) -> (len(rows), n_items) scores; train items removed, top 10 by score."""
    lists = {}
    for start in range(0, len(list_users), 512):
        rows = list_users[start : start + 512]
        scores = np.array(score_rows(rows), dtype=np.float64)
        sub = rated[rows]
        scores[sub.nonzero()] = -np.inf
        k = min(10, scores.shape[1])
        part = np.argpartition(-scores, k - 1, axis=1)[:, :k]
        for r, user in enumerate(rows):
            order = part[r][np.argsort(-scores[r, part[r]], kind="stable")]
            lists[str(users[user])] = [str(items[i]) for i in order if np.isfinite(scores[r, i])]
    return lists


started = time.perf_counter()
if peer.startswith("surprise"):
    from surprise import SVD, BaselineOnly, Dataset, Reader, SVDpp

    reader = Reader(rating_scale=(low, high))
    data = Dataset.load_from_df(train[["user", "item", "rating"]], reader)
    trainset = data.build_full_trainset()
    algo = {
        "surprise-baseline": lambda: BaselineOnly(verbose=False),
        "surprise-svd": lambda: SVD(random_state=0),
        "surprise-svd-tuned": lambda: SVD(n_factors=100, n_epochs=40, lr_all=0.01, reg_all=0.08, random_state=0),
        "surprise-svdpp": lambda: SVDpp(random_state=0, cache_ratings=True),
    }[peer]()
    algo.fit(trainset)
    fit_seconds = time.perf_counter() - started
    pred = {int(r): algo.predict(test["user"][r], test["item"][r]).est for r in warm}
    inner_u = np.array([trainset.to_inner_uid(u) for u in users])
    inner_i = np.array([trainset.to_inner_iid(i) for i in items])
    mu = trainset.global_mean

    def scores(rows):
        iu = inner_u[rows]
        out = mu + algo.bu[iu][:, None] + algo.bi[inner_i][None, :]
        if isinstance(algo, BaselineOnly):
            return out
        if isinstance(algo, SVDpp):
            pu = []
            for u in iu:
                rated_inner = [j for j, _ in trainset.ur[u]]
                pu.append(algo.pu[u] + algo.yj[rated_inner].sum(0) / np.sqrt(len(rated_inner)))
            return out + np.array(pu) @ algo.qi[inner_i].T
        return out + algo.pu[iu] @ algo.qi[inner_i].T

    lists = top10(scores)
elif peer == "cmfrec":
    from cmfrec import CMF

    model = CMF(k=50, lambda_=10, method="als", nthreads=1, random_state=0, verbose=False)
    frame = pd.DataFrame({"UserId": u_tr, "ItemId": i_tr, "Rating": train["rating"].to_numpy()})
    model.fit(frame)
    fit_seconds = time.perf_counter() - started
    pred = dict(zip(map(int, warm), map(float, model.predict(u_te[warm], i_te[warm]))))
    # ranking scores for every (user, item) of train, through cmfrec's own batch predict
    all_items = np.arange(len(items))

    def scores(rows):
        return np.vstack([model.predict(np.full(len(items), u), all_items) for u in rows])

    lists = top10(scores)
elif peer.startswith("myfm"):
    import myfm

    def normalize(matrix):  # each row scaled to unit length: 1/sqrt(n) on each of a row's n ones
        matrix = sps.csr_matrix(matrix, dtype=np.float64)
        norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(1)).ravel())
        return sps.diags(1.0 / np.maximum(norms, 1e-12)) @ matrix

    flipped = peer == "myfm-flipped"
    n_u, n_i = len(users), len(items)
    if flipped:  # SVD++ "flipped": user = one-hot + items the user rated; item = one-hot + users who rated it
        user_block = sps.hstack([sps.identity(n_u, format="csr"), normalize(rated)], format="csr")
        item_block = sps.hstack([sps.identity(n_i, format="csr"), normalize(rated.T.tocsr())], format="csr")
    else:
        user_block, item_block = sps.identity(n_u, format="csr"), sps.identity(n_i, format="csr")
    user_block, item_block = user_block.astype(np.float64).tocsr(), item_block.astype(np.float64).tocsr()
    # one hyper-prior group per kind of column: user one-hot, [user's items,] item one-hot[, item's raters]
    shapes = [n_u, n_i, n_i, n_u] if flipped else [n_u, n_i]

    def relations(u_rows, i_rows):
        return [
            myfm.RelationBlock(list(map(int, u_rows)), user_block),
            myfm.RelationBlock(list(map(int, i_rows)), item_block),
        ]

    model = myfm.MyFMRegressor(rank=10, random_seed=0)
    y = train["rating"].to_numpy()
    model.fit(
        sps.csr_matrix((len(train), 0)),
        y,
        X_rel=relations(u_tr, i_tr),
        n_iter=200,
        n_kept_samples=150,
        group_shapes=shapes,
    )
    fit_seconds = time.perf_counter() - started
    estimate = model.predict(sps.csr_matrix((len(warm), 0)), relations(u_te[warm], i_te[warm]))
    pred = dict(zip(map(int, warm), map(float, estimate)))
    samples = model.predictor_.samples
    # Ranking: per sample, score(u, i) = a_u . b_i + c_i (+ a term constant per user), with a_u = V_u^T x_u,
    # b_i = V_i^T x_i, c_i = w.x_i + 1/2(|b_i|^2 - sum_j v_j^2 x_j^2); averaged over the kept samples.
    cut = user_block.shape[1]
    sq_item = item_block.multiply(item_block).tocsr()
    user_V, item_b, item_c = [], [], np.zeros(n_i)
    for s in samples:
        V, w = np.asarray(s.V), np.asarray(s.w)
        b = item_block @ V[cut:]
        item_c += item_block @ w[cut:] + 0.5 * ((b**2).sum(1) - sq_item @ (V[cut:] ** 2).sum(1))
        user_V.append(V[:cut])
        item_b.append(b)
    # all samples at once: sum_s a_u,s . b_i,s is one product of the side-by-side factor matrices
    item_b = np.hstack(item_b) / len(samples)
    item_c /= len(samples)

    def scores(rows):
        xu = user_block[rows]
        return np.hstack([xu @ Vu for Vu in user_V]) @ item_b.T + item_c[None, :]

    lists = top10(scores)
else:
    sys.exit(f"unknown peer {peer!r}")

with open(out_file, "w") as out:
    json.dump({"pred": pred, "lists": lists, "fit_seconds": fit_seconds}, out)

if peer.startswith("myfm") and os.environ.get("ZOO_CHECK_MYFM"):  # self-check: ranking scores == predict - const
    user = list_users[:1]
    direct = model.predict(
        sps.csr_matrix((len(items), 0)), relations(np.repeat(user, len(items)), np.arange(len(items)))
    )
    mine = scores(user)[0]
    print("myfm ranking check, max |(predict - score) - const|:", np.ptp(direct - mine), file=sys.stderr)
