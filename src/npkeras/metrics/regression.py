"""Regression metrics: errors, R², cosine similarity and log-cosh, in float64."""

from __future__ import annotations

import math

from npkeras.backend import to_float, to_numpy, xp
from npkeras.metrics.base import MeanMetricWrapper, Metric, match_targets, mean_metric


def _difference(y_true, y_pred):
    y_pred = xp.asarray(y_pred, dtype="float64")
    return y_pred - match_targets(y_true, y_pred).astype("float64")


def mean_squared_error(y_true, y_pred):
    """Per-sample mean of (y_pred - y_true)**2 over the last axis."""
    d = _difference(y_true, y_pred)
    return (d * d).mean(axis=-1)


def mean_absolute_error(y_true, y_pred):
    """Per-sample mean of |y_pred - y_true| over the last axis."""
    return xp.abs(_difference(y_true, y_pred)).mean(axis=-1)


def mean_absolute_percentage_error(y_true, y_pred):
    """Per-sample 100 * mean(|y_true - y_pred| / max(|y_true|, 1e-7)) over the last axis."""
    y_pred = xp.asarray(y_pred, dtype="float64")
    t = match_targets(y_true, y_pred).astype("float64")
    return 100.0 * (xp.abs(t - y_pred) / xp.maximum(xp.abs(t), 1e-7)).mean(axis=-1)


def mean_squared_logarithmic_error(y_true, y_pred):
    """Per-sample mean of (log1p(y_true) - log1p(y_pred))**2 (values clipped at 1e-7)."""
    y_pred = xp.asarray(y_pred, dtype="float64")
    t = match_targets(y_true, y_pred).astype("float64")
    d = xp.log1p(xp.maximum(y_pred, 1e-7)) - xp.log1p(xp.maximum(t, 1e-7))
    return (d * d).mean(axis=-1)


def log_cosh(y_true, y_pred):
    """Per-sample mean of log(cosh(y_pred - y_true)) over the last axis.

    >>> round(float(log_cosh([[0.0]], [[1.0]])[0]), 6)
    0.433781
    """
    e = _difference(y_true, y_pred)
    # log(cosh(e)) = e + softplus(-2e) - log(2), finite for any e
    return (e + xp.logaddexp(0.0, -2.0 * e) - math.log(2.0)).mean(axis=-1)


def cosine_similarity(y_true, y_pred, axis=-1):
    """Per-sample cosine of the angle between y_true and y_pred along ``axis``.

    >>> cosine_similarity([[1.0, 0.0]], [[1.0, 1.0]]).round(6).tolist()
    [0.707107]
    """
    y_pred = xp.asarray(y_pred, dtype="float64")
    t = match_targets(y_true, y_pred).astype("float64")

    def l2_normalize(v):  # Keras's l2_normalize: the squared norm is floored at 1e-12
        return v / xp.sqrt(xp.maximum((v * v).sum(axis=axis, keepdims=True), 1e-12))

    return (l2_normalize(t) * l2_normalize(y_pred)).sum(axis=axis)


MeanSquaredError = mean_metric("MeanSquaredError", mean_squared_error, "mean_squared_error", "down")
MeanAbsoluteError = mean_metric(
    "MeanAbsoluteError", mean_absolute_error, "mean_absolute_error", "down"
)
MeanAbsolutePercentageError = mean_metric(
    "MeanAbsolutePercentageError",
    mean_absolute_percentage_error,
    "mean_absolute_percentage_error",
    "down",
)
MeanSquaredLogarithmicError = mean_metric(
    "MeanSquaredLogarithmicError",
    mean_squared_logarithmic_error,
    "mean_squared_logarithmic_error",
    "down",
)
LogCoshError = mean_metric(
    "LogCoshError",
    log_cosh,
    "logcosh",
    "down",
    doc="Streaming mean of log(cosh(y_pred - y_true)) over all samples.",
)
CosineSimilarity = mean_metric(
    "CosineSimilarity",
    cosine_similarity,
    "cosine_similarity",
    "up",
    doc="Streaming mean cosine similarity along ``axis``.",
    axis=-1,
)


class RootMeanSquaredError(MeanMetricWrapper):
    """sqrt of the mean squared error over all samples.

    >>> m = RootMeanSquaredError()
    >>> m.update_state([[0.0], [0.0]], [[3.0], [4.0]])
    >>> round(m.result(), 6)
    3.535534
    """

    direction = "down"

    def __init__(self, name="root_mean_squared_error", dtype=None):
        super().__init__(mean_squared_error, name, dtype)

    def result(self):
        return math.sqrt(super().result())

    def get_config(self):
        return Metric.get_config(self)


class R2Score(Metric):
    """Coefficient of determination 1 - SS_res / SS_tot over all samples, averaged over
    outputs (``class_aggregation="uniform_average"``, Keras's default).

    >>> m = R2Score()
    >>> m.update_state([[1.0], [2.0], [3.0]], [[1.0], [2.0], [4.0]])
    >>> m.result()
    0.5
    """

    direction = "up"

    def __init__(
        self, class_aggregation="uniform_average", num_regressors=0, name="r2_score", dtype=None
    ):
        super().__init__(name, dtype)
        if class_aggregation not in ("uniform_average", "variance_weighted_average", None):
            raise ValueError(
                "Invalid value for `class_aggregation`, expected one of 'uniform_average', "
                f"'variance_weighted_average' or None. Received: "
                f"class_aggregation={class_aggregation!r}"
            )
        self.class_aggregation = class_aggregation
        self.num_regressors = int(num_regressors)
        self.num_samples = self.add_variable((), "zeros", name="num_samples")
        self._sums = None  # (sum_t, sum_t2, ss_res), created on the first batch

    def update_state(self, y_true, y_pred, sample_weight=None):
        p = xp.asarray(y_pred, dtype="float64").reshape(len(y_pred), -1)
        t = match_targets(y_true, y_pred).astype("float64").reshape(p.shape)
        w = (
            xp.ones((len(p), 1))
            if sample_weight is None
            else xp.asarray(sample_weight, dtype="float64").reshape(-1, 1)
        )
        if self._sums is None:
            self._sums = [
                self.add_variable((p.shape[1],), "zeros", name=n)
                for n in ("sum", "squared_sum", "residual")
            ]
        sum_t, sum_t2, ss_res = self._sums
        self.num_samples.assign_add(w.sum())
        sum_t.assign_add((w * t).sum(axis=0))
        sum_t2.assign_add((w * t * t).sum(axis=0))
        ss_res.assign_add((w * (t - p) ** 2).sum(axis=0))

    def result(self):
        n = to_float(self.num_samples.value)
        if not n or self._sums is None:
            return 0.0
        sum_t, sum_t2, ss_res = (v.value for v in self._sums)
        ss_tot = sum_t2 - sum_t**2 / n
        r2 = 1.0 - ss_res / xp.maximum(ss_tot, 1e-12)
        if self.class_aggregation == "variance_weighted_average":
            r2 = (r2 * ss_tot).sum() / ss_tot.sum()
        elif self.class_aggregation == "uniform_average":
            r2 = r2.mean()
        if self.num_regressors:
            r2 = 1.0 - (1.0 - r2) * (n - 1) / (n - self.num_regressors - 1)
        return to_float(r2) if r2.ndim == 0 else to_numpy(r2)

    def get_config(self):
        return {
            **super().get_config(),
            "class_aggregation": self.class_aggregation,
            "num_regressors": self.num_regressors,
        }
