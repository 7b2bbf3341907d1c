"""Bayesian matrix factorization by Gibbs sampling (Salakhutdinov & Mnih 2008), with biases."""

from __future__ import annotations

import time

import numpy as np

from mfrec._threads import num_threads, resolve_threads
from mfrec.data.interactions import Interactions
from mfrec.exceptions import TrainingError
from mfrec.kernels.als import squared_error
from mfrec.kernels.bpmf import sample_rows
from mfrec.kernels.predict import score_pairs
from mfrec.kernels.sparse import csr_by_user
from mfrec.models.base import EpochCallback, Recommender
from mfrec.models.params import N_EPOCHS, N_FACTORS, N_THREADS, RANDOM_STATE, RANK_BY, Param
from mfrec.models.registry import registered


@registered
class BayesianMF(Recommender):
    r"""Bayesian biased MF: the posterior predictive mean, estimated by Gibbs sampling.

    Model: :math:`r_{ui} \sim N(\mu + b_u + b_i + p_u \cdot q_i, \alpha^{-1})`,
    :math:`p_u \sim N(\mu_U, \Lambda_U^{-1})`, :math:`q_i \sim N(\mu_V, \Lambda_V^{-1})`,
    :math:`b_u \sim N(0, \lambda_{bu}^{-1})`, :math:`b_i \sim N(0, \lambda_{bi}^{-1})`, with
    Normal-Wishart hyper-priors on :math:`(\mu_U, \Lambda_U)` and :math:`(\mu_V, \Lambda_V)`
    (:math:`\mu_0 = 0, \beta_0 = 2, W_0 = I, \nu_0 = k`) and Gamma priors on the
    precisions :math:`\alpha, \lambda_{bu}, \lambda_{bi}`. There is no learning rate and
    no regularisation weight to tune: the priors learn them from the data.

    Each sweep draws the hyper-parameters, then every user's ``(p_u, b_u)`` jointly
    (rows in parallel), then every item's. After ``burn_in`` sweeps every sample is
    kept; the prediction is their average. Because an average of dot products is the
    dot product of the concatenated samples scaled by :math:`1/\sqrt{S}`, the fitted
    model stores ``user_factors_`` of width ``n_factors * S`` and predicts, ranks and
    saves like any factor model. Random numbers come from one generator seeded by
    ``random_state`` and are drawn outside the kernels, so a seed gives the same
    model for any ``n_threads``.

    Parameters
    ----------
    n_factors : int, default=10
    n_epochs : int, default=200
        Gibbs sweeps in total, burn-in included.
    burn_in : int, default=50
    thin : int, default=1
        Keep every ``thin``-th sample after burn-in (fewer stored factors).
    n_threads : int, optional
    random_state : int, default=0
    rank_by : {"pick-like", "rating"}, default="pick-like"
        How ``recommend`` orders lists: "will pick" x "will like" (an implicit model fitted on
        the same log times the predicted rating; see :mod:`mfrec.ranking.pick`) or the predicted rating.

    Attributes
    ----------
    n_samples_ : int
        Samples averaged.
    noise_precision_ : float
        Posterior mean of alpha (1/alpha is the estimated rating noise variance).
    history_ : per sweep ``train_rmse`` of the current sample and, when a validation
        set is given, ``val_rmse`` of the running posterior mean.

    Examples
    --------
    >>> from mfrec.data import synthetic
    >>> model = BayesianMF(n_factors=4, n_epochs=6, burn_in=2).fit(synthetic(300, 200, 6_000, seed=0))
    >>> model.n_samples_, model.user_factors_.shape[1]
    (4, 16)
    """

    _saved_arrays = ("user_factors_", "item_factors_")

    param_spec = (
        N_FACTORS.but(search=[5, 10, 16, 24]),
        N_EPOCHS.but(doc="Gibbs sweeps in total, burn-in included.", search=[100, 200, 300]),
        Param("burn_in", int, "Sweeps discarded before samples are kept.", low=0, high="n_epochs", high_open=True),
        Param("thin", int, "Keep every thin-th sample after burn-in.", low=1),
        N_THREADS,
        RANDOM_STATE,
        RANK_BY,
    )

    def __init__(
        self,
        n_factors: int = 10,
        n_epochs: int = 200,
        burn_in: int = 50,
        *,
        thin: int = 1,
        n_threads: int | None = None,
        random_state: int | None = 0,
        rank_by: str = "pick-like",
    ) -> None:
        self.n_factors = n_factors
        self.n_epochs = n_epochs
        self.burn_in = burn_in
        self.thin = thin
        self.n_threads = n_threads
        self.random_state = random_state
        self.rank_by = rank_by

    @staticmethod
    def _draw_normal_wishart(X: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """(mean, precision) of the factor prior given the current factors X (n x k)."""
        from scipy.stats import wishart  # scipy.stats takes ~0.9 s to import; only sampling needs it

        n, k = X.shape
        beta0, nu0 = 2.0, float(k)
        x_bar = X.mean(axis=0)
        spread = np.cov(X, rowvar=False, bias=True).reshape(k, k) * n
        gap = x_bar[:, None] @ x_bar[None, :]  # mu0 = 0
        w_inv = np.eye(k) + spread + (beta0 * n / (beta0 + n)) * gap
        scale = np.linalg.inv(w_inv)
        scale = (scale + scale.T) / 2
        precision = np.atleast_2d(wishart(df=nu0 + n, scale=scale).rvs(random_state=rng))
        mean_of_mean = n * x_bar / (beta0 + n)
        covariance = np.linalg.inv((beta0 + n) * precision)
        mean = rng.multivariate_normal(mean_of_mean, (covariance + covariance.T) / 2)
        return mean, precision

    @staticmethod
    def _draw_precision(sum_sq: float, count: int, rng: np.random.Generator, a0: float = 1.0, b0: float = 1.0) -> float:
        """A Gamma(a0 + count/2, rate b0 + sum_sq/2) draw: the conjugate update of a Gaussian precision."""
        return float(rng.gamma(a0 + count / 2.0, 1.0 / (b0 + sum_sq / 2.0)))

    def _fit(self, train: Interactions, validation: Interactions | None, callback: EpochCallback | None) -> None:
        rng = np.random.default_rng(self.random_state)
        k = self.n_factors
        n_users, n_items = train.n_users, train.n_items
        by_user = train.user_csr()
        by_item = csr_by_user(train.item_idx, train.user_idx, train.ratings, n_items)
        mu = np.float32(train.ratings.mean())
        P = rng.normal(0.0, 0.1, (n_users, k)).astype(np.float32)
        Q = rng.normal(0.0, 0.1, (n_items, k)).astype(np.float32)
        b_u = np.zeros(n_users, np.float32)
        b_i = np.zeros(n_items, np.float32)
        alpha = 2.0
        kept_p, kept_q, sum_bu, sum_bi, alphas = [], [], np.zeros(n_users), np.zeros(n_items), []
        self.n_threads_ = resolve_threads(self.n_threads)
        if validation is not None:
            v_users, v_items = self._validation_rows(validation)
            v_sample = np.empty(len(validation), np.float32)
            v_sum = np.zeros(len(validation), np.float64)

        with num_threads(self.n_threads):
            for sweep in range(1, self.n_epochs + 1):
                started = time.perf_counter()
                for side in ("user", "item"):
                    X, x_bias, Y, y_bias, csr = (
                        (P, b_u, Q, b_i, by_user) if side == "user" else (Q, b_i, P, b_u, by_item)
                    )
                    prior_mean, prior_precision = self._draw_normal_wishart(X.astype(np.float64), rng)
                    bias_precision = self._draw_precision(float(x_bias @ x_bias), len(x_bias), rng)
                    noise = rng.standard_normal((X.shape[0], k + 1))
                    status = np.zeros(X.shape[0], np.int8)
                    sample_rows(
                        *csr,
                        Y,
                        y_bias,
                        mu,
                        prior_mean,
                        prior_precision,
                        bias_precision,
                        alpha,
                        noise,
                        X,
                        x_bias,
                        status,
                    )
                    if status.any():
                        raise TrainingError(
                            f"Gibbs sweep {sweep}: a {side} conditional was not positive definite "
                            f"(row {int(np.flatnonzero(status)[0])}); the sampler diverged"
                        )
                sse = squared_error(*by_user, P, b_u, Q, b_i, mu, True)
                alpha = self._draw_precision(sse, len(train), rng)
                row = {"epoch": sweep, "train_rmse": float(np.sqrt(sse / len(train)))}
                if sweep > self.burn_in and (sweep - self.burn_in) % self.thin == 0:
                    kept_p.append(P.copy())
                    kept_q.append(Q.copy())
                    sum_bu += b_u
                    sum_bi += b_i
                    alphas.append(alpha)
                    if validation is not None:
                        score_pairs(v_users, v_items, P, Q, b_u, b_i, mu, v_sample)
                        v_sum += v_sample
                        mean_pred = np.clip(v_sum / len(kept_p), *self.rating_scale_)
                        row["val_rmse"] = float(np.sqrt(np.mean((mean_pred - validation.ratings) ** 2)))
                row["seconds"] = time.perf_counter() - started
                self.history_.append(row)
                if callback:
                    callback(row)

        n_samples = len(kept_p)
        root = np.float32(1.0 / np.sqrt(n_samples))
        self.n_samples_ = n_samples
        self.noise_precision_ = float(np.mean(alphas))
        self.global_mean_ = float(mu)
        self.user_factors_ = np.ascontiguousarray(np.concatenate(kept_p, axis=1) * root)
        self.item_factors_ = np.ascontiguousarray(np.concatenate(kept_q, axis=1) * root)
        self.user_bias_ = (sum_bu / n_samples).astype(np.float32)
        self.item_bias_ = (sum_bi / n_samples).astype(np.float32)
