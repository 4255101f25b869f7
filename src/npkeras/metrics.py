"""Streaming metrics with Keras names.

A metric accumulates over batches with ``update_state(y_true, y_pred, sample_weight)``
and reports the exact value over every sample seen with ``result()``; ``reset_state()``
starts again. Epoch values are therefore exact, not averages of batch averages.

>>> import numpy as np
>>> m = BinaryAccuracy()
>>> m.update_state(np.array([[1], [0]]), np.array([[0.9], [0.8]]))
>>> m.result()
0.5
"""

from __future__ import annotations

import math

from npkeras import backend
from npkeras.backend import to_numpy, xp
from npkeras.ops.tape import value_of
from npkeras.utils.naming import unknown_name_error


def _array(x, dtype=None):
    """A backend array from targets, predictions or weights (tape tensors and variables
    give their array: no trip through the host)."""
    return xp.asarray(value_of(x), dtype=dtype)


class Metric:
    """Base class: subclasses define ``update_state``, ``result`` and ``reset_state``."""

    name = "metric"
    #: whether larger is better (used by callbacks in mode='auto')
    direction = "down"

    def __init__(self, name: str | None = None):
        if name is not None:
            self.name = name
        self.reset_state()

    def reset_state(self) -> None:
        raise NotImplementedError

    def update_state(self, y_true, y_pred, sample_weight=None) -> None:
        raise NotImplementedError

    def result(self) -> float:
        raise NotImplementedError

    def __call__(self, y_true, y_pred, sample_weight=None) -> float:
        """One-shot value on a single batch (does not disturb streaming state)."""
        fresh = type(self).from_config(self.get_config())
        fresh.update_state(y_true, y_pred, sample_weight)
        return fresh.result()

    def get_config(self) -> dict:
        return {"name": self.name}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def _weights_for(values, sample_weight):
    if sample_weight is None:
        return None
    w = _array(sample_weight, dtype="float64")
    while w.ndim < values.ndim:
        w = w[..., None]
    return xp.broadcast_to(w, values.shape)


class MeanMetricWrapper(Metric):
    """Weighted mean over all samples of a per-sample function ``fn(y_true, y_pred)``."""

    def __init__(self, fn, name: str | None = None):
        self.fn = fn
        super().__init__(name or getattr(fn, "__name__", "metric"))

    def reset_state(self):
        self.total = 0.0
        self.count = 0.0

    def update_state(self, y_true, y_pred, sample_weight=None):
        values = self.fn(y_true, y_pred)
        w = _weights_for(values, sample_weight)
        if w is None:
            self.total += backend.to_float(values.sum())
            self.count += values.size
        else:
            self.total += backend.to_float((values * w).sum())
            self.count += backend.to_float(w.sum())

    def result(self):
        return self.total / self.count if self.count else 0.0

    def get_config(self):
        return {"name": self.name}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def _match_targets(y_true, y_pred):
    y_true = _array(y_true)
    if y_true.ndim == y_pred.ndim - 1:
        y_true = y_true[..., None]
    return y_true


# -- per-sample functions ---------------------------------------------------------------

def binary_accuracy(y_true, y_pred, threshold=0.5):
    y_true = _match_targets(y_true, y_pred)
    return ((y_pred > threshold) == (y_true > 0.5)).astype("float64").mean(axis=-1)


def categorical_accuracy(y_true, y_pred):
    return (xp.argmax(y_true, axis=-1) == xp.argmax(y_pred, axis=-1)).astype("float64")


def sparse_categorical_accuracy(y_true, y_pred):
    labels = _array(y_true)
    if labels.ndim == y_pred.ndim:
        labels = labels[..., 0]
    return (labels.astype("int64") == xp.argmax(y_pred, axis=-1)).astype("float64")


def top_k_categorical_accuracy(y_true, y_pred, k=5):
    labels = xp.argmax(y_true, axis=-1)
    return _in_top_k(labels, y_pred, k)


def sparse_top_k_categorical_accuracy(y_true, y_pred, k=5):
    labels = _array(y_true)
    if labels.ndim == y_pred.ndim:
        labels = labels[..., 0]
    return _in_top_k(labels.astype("int64"), y_pred, k)


def _in_top_k(labels, y_pred, k):
    target_score = xp.take_along_axis(y_pred, labels[..., None], axis=-1)
    # in the top k when fewer than k classes score strictly higher
    return ((y_pred > target_score).sum(axis=-1) < k).astype("float64")


def mean_squared_error(y_true, y_pred):
    d = y_pred - _match_targets(y_true, y_pred)
    return (d * d).mean(axis=-1)


def mean_absolute_error(y_true, y_pred):
    return xp.abs(y_pred - _match_targets(y_true, y_pred)).mean(axis=-1)


def mean_absolute_percentage_error(y_true, y_pred):
    t = _match_targets(y_true, y_pred)
    return 100.0 * (xp.abs(t - y_pred) / xp.maximum(xp.abs(t), 1e-7)).mean(axis=-1)


# -- metric classes ---------------------------------------------------------------------

def _wrapper(class_name, fn, default_name, direction="up", **defaults):
    def __init__(self, name=None, **kwargs):
        options = {**defaults, **kwargs}
        self.options = options
        MeanMetricWrapper.__init__(self, lambda t, p: fn(t, p, **options), name or default_name)

    def get_config(self):
        return {"name": self.name, **self.options}

    return type(class_name, (MeanMetricWrapper,), {
        "__init__": __init__, "get_config": get_config, "direction": direction,
        "__doc__": f"Streaming mean of ``{fn.__name__}`` over all samples.",
    })


BinaryAccuracy = _wrapper("BinaryAccuracy", binary_accuracy, "binary_accuracy", threshold=0.5)
CategoricalAccuracy = _wrapper("CategoricalAccuracy", categorical_accuracy, "categorical_accuracy")
SparseCategoricalAccuracy = _wrapper("SparseCategoricalAccuracy", sparse_categorical_accuracy,
                                     "sparse_categorical_accuracy")
TopKCategoricalAccuracy = _wrapper("TopKCategoricalAccuracy", top_k_categorical_accuracy,
                                   "top_k_categorical_accuracy", k=5)
SparseTopKCategoricalAccuracy = _wrapper("SparseTopKCategoricalAccuracy",
                                         sparse_top_k_categorical_accuracy,
                                         "sparse_top_k_categorical_accuracy", k=5)
MeanSquaredError = _wrapper("MeanSquaredError", mean_squared_error, "mean_squared_error", "down")
MeanAbsoluteError = _wrapper("MeanAbsoluteError", mean_absolute_error, "mean_absolute_error", "down")
MeanAbsolutePercentageError = _wrapper("MeanAbsolutePercentageError", mean_absolute_percentage_error,
                                       "mean_absolute_percentage_error", "down")


class RootMeanSquaredError(MeanMetricWrapper):
    """sqrt of the mean squared error over all samples."""

    direction = "down"

    def __init__(self, name="root_mean_squared_error"):
        super().__init__(mean_squared_error, name)

    def result(self):
        return math.sqrt(super().result())


class Mean(Metric):
    """Weighted mean of the values passed to ``update_state(values, sample_weight=None)``."""

    def reset_state(self):
        self.total, self.count = 0.0, 0.0

    def update_state(self, values, sample_weight=None):
        values = _array(values, dtype="float64")
        w = 1.0 if sample_weight is None else backend.to_float(sample_weight)
        self.total += backend.to_float(values.sum()) * w
        self.count += values.size * w

    def result(self):
        return self.total / self.count if self.count else 0.0


class _ConfusionMetric(Metric):
    """Counts of true/false positives at ``thresholds`` for binary predictions."""

    direction = "up"

    def __init__(self, thresholds=None, name=None):
        self.thresholds = [0.5] if thresholds is None else (
            [float(thresholds)] if isinstance(thresholds, (int, float)) else [float(t) for t in thresholds])
        super().__init__(name)

    def reset_state(self):
        n = len(self.thresholds)
        self.tp = xp.zeros(n)
        self.fp = xp.zeros(n)
        self.fn = xp.zeros(n)
        self.tn = xp.zeros(n)

    def update_state(self, y_true, y_pred, sample_weight=None):
        t = (_match_targets(y_true, y_pred) > 0.5).reshape(-1)
        p = _array(y_pred).reshape(-1)
        w = xp.ones_like(p, dtype="float64") if sample_weight is None else xp.broadcast_to(
            _weights_for(_array(y_pred), sample_weight), y_pred.shape).reshape(-1)
        pred = p[None, :] > _array(self.thresholds)[:, None]
        self.tp += (pred & t) @ w
        self.fp += (pred & ~t) @ w
        self.fn += (~pred & t) @ w
        self.tn += (~pred & ~t) @ w

    def get_config(self):
        return {"name": self.name, "thresholds": self.thresholds}


class Precision(_ConfusionMetric):
    """tp / (tp + fp) at threshold 0.5 (or the first of ``thresholds``)."""

    name = "precision"

    def result(self):
        d = self.tp[0] + self.fp[0]
        return backend.to_float(self.tp[0] / d) if d else 0.0


class Recall(_ConfusionMetric):
    """tp / (tp + fn) at threshold 0.5 (or the first of ``thresholds``)."""

    name = "recall"

    def result(self):
        d = self.tp[0] + self.fn[0]
        return backend.to_float(self.tp[0] / d) if d else 0.0


class AUC(_ConfusionMetric):
    """Area under the ROC curve, by the trapezoid rule over ``num_thresholds`` thresholds."""

    name = "auc"

    def __init__(self, num_thresholds: int = 200, name=None):
        self.num_thresholds = int(num_thresholds)
        eps = 1e-7
        inner = [(i + 1) / (num_thresholds - 1) for i in range(num_thresholds - 2)]
        super().__init__([-eps] + inner + [1.0 + eps], name)

    def result(self):
        tpr = self.tp / xp.maximum(self.tp + self.fn, 1e-12)
        fpr = self.fp / xp.maximum(self.fp + self.tn, 1e-12)
        # thresholds ascend, so fpr descends: integrate tpr over fpr
        return backend.to_float(((fpr[:-1] - fpr[1:]) * (tpr[:-1] + tpr[1:]) / 2).sum())

    def get_config(self):
        return {"name": self.name, "num_thresholds": self.num_thresholds}


class R2Score(Metric):
    """Coefficient of determination 1 - SS_res / SS_tot over all samples (per output, averaged)."""

    name = "r2_score"
    direction = "up"

    def reset_state(self):
        self.n = 0.0
        self.sum_t = self.sum_t2 = self.ss_res = None

    def update_state(self, y_true, y_pred, sample_weight=None):
        p = _array(y_pred, dtype="float64").reshape(len(y_pred), -1)
        t = _match_targets(y_true, y_pred).astype("float64").reshape(p.shape)
        w = xp.ones((len(p), 1)) if sample_weight is None else _array(sample_weight, dtype="float64").reshape(-1, 1)
        if self.sum_t is None:
            self.sum_t = xp.zeros(p.shape[1])
            self.sum_t2 = xp.zeros(p.shape[1])
            self.ss_res = xp.zeros(p.shape[1])
        self.n += backend.to_float(w.sum())
        self.sum_t += (w * t).sum(axis=0)
        self.sum_t2 += (w * t * t).sum(axis=0)
        self.ss_res += (w * (t - p) ** 2).sum(axis=0)

    def result(self):
        if not self.n:
            return 0.0
        ss_tot = self.sum_t2 - self.sum_t**2 / self.n
        r2 = 1.0 - self.ss_res / xp.maximum(ss_tot, 1e-12)
        return float(to_numpy(r2).mean())


_CLASSES = {
    "accuracy": None,  # resolved from the targets and predictions, see resolve()
    "binary_accuracy": BinaryAccuracy,
    "categorical_accuracy": CategoricalAccuracy,
    "sparse_categorical_accuracy": SparseCategoricalAccuracy,
    "top_k_categorical_accuracy": TopKCategoricalAccuracy,
    "sparse_top_k_categorical_accuracy": SparseTopKCategoricalAccuracy,
    "mean_squared_error": MeanSquaredError,
    "mean_absolute_error": MeanAbsoluteError,
    "mean_absolute_percentage_error": MeanAbsolutePercentageError,
    "root_mean_squared_error": RootMeanSquaredError,
    "auc": AUC,
    "precision": Precision,
    "recall": Recall,
    "r2_score": R2Score,
}
_ALIASES = {"acc": "accuracy", "mse": "mean_squared_error", "mae": "mean_absolute_error",
            "mape": "mean_absolute_percentage_error", "rmse": "root_mean_squared_error"}


def resolve(identifier, y_true_shape, y_pred_shape) -> Metric:
    """A metric object from ``identifier``, choosing the accuracy as Keras does.

    'accuracy' becomes binary when predictions have one column, sparse categorical when
    the targets have lower rank or one column against several, else categorical. The
    metric keeps the name it was asked by ('accuracy', 'mae', ...).
    """
    if isinstance(identifier, Metric):
        return identifier
    if isinstance(identifier, str):
        key = _ALIASES.get(identifier.lower(), identifier.lower())
        if key not in _CLASSES:
            raise unknown_name_error("metric", identifier, list(_CLASSES) + list(_ALIASES))
        if key == "accuracy":
            is_binary = y_pred_shape[-1] == 1
            is_sparse = len(y_true_shape) < len(y_pred_shape) or (
                y_true_shape[-1] == 1 and y_pred_shape[-1] > 1)
            cls = BinaryAccuracy if is_binary else (
                SparseCategoricalAccuracy if is_sparse else CategoricalAccuracy)
        else:
            cls = _CLASSES[key]
        return cls(name=identifier)
    if isinstance(identifier, dict):
        from npkeras.saving.registry import deserialize_registered

        return deserialize_registered(identifier, "metric",
                                      {k: v for k, v in _CLASSES.items() if v}, Metric)
    if callable(identifier):
        return MeanMetricWrapper(identifier)
    raise TypeError(f"Could not interpret metric identifier: {identifier!r}")


def get(identifier) -> Metric:
    """A metric by name or object (use :func:`resolve` for 'accuracy')."""
    if isinstance(identifier, str) and _ALIASES.get(identifier.lower(), identifier.lower()) == "accuracy":
        raise ValueError("'accuracy' depends on the data; use BinaryAccuracy, CategoricalAccuracy or "
                         "SparseCategoricalAccuracy, or pass 'accuracy' to compile().")
    return resolve(identifier, (1,), (1,))
