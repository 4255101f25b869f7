"""F-scores over classes: FBetaScore and F1Score (Keras 3's definitions)."""

from __future__ import annotations

from npkeras.backend import to_float, xp
from npkeras.metrics.base import Metric

_EPSILON = 1e-7
_AVERAGES = (None, "micro", "macro", "weighted")


class FBetaScore(Metric):
    """F-beta score (1 + beta**2) * P * R / (beta**2 * P + R) per class, or averaged.

    Inputs are ``(batch, num_classes)`` one-hot (or multi-hot) targets and scores.

    Args:
        average: None (one score per class), "micro" (from totals over all classes),
            "macro" (unweighted mean of the class scores) or "weighted" (mean weighted by
            each class's number of true instances).
        beta: weight of recall against precision (> 0).
        threshold: a prediction above it counts as positive; None (default) takes each
            row's arg-max instead.
        name, dtype: as for every metric.

    >>> import numpy as np
    >>> m = FBetaScore(average="macro", beta=1.0)
    >>> m.update_state(np.eye(3)[[0, 1, 2, 2]], np.eye(3)[[0, 2, 2, 2]])
    >>> round(m.result(), 4)
    0.6
    """

    direction = "up"

    def __init__(self, average=None, beta=1.0, threshold=None, name="fbeta_score", dtype=None):
        super().__init__(name, dtype)
        if average not in _AVERAGES:
            raise ValueError(
                "Invalid `average` argument value. Expected one of: "
                f"{{None, 'micro', 'macro', 'weighted'}}. Received: average={average!r}"
            )
        if isinstance(beta, bool) or not isinstance(beta, (int, float)) or beta <= 0:
            raise ValueError(
                "Invalid `beta` argument value. It should be a Python float greater than 0. "
                f"Received: beta={beta!r}"
            )
        if threshold is not None and (
            isinstance(threshold, bool)
            or not isinstance(threshold, (int, float))
            or not 0.0 < threshold <= 1.0
        ):
            raise ValueError(
                "Invalid `threshold` argument value. It should be a Python float in the "
                f"range ]0, 1]. Received: threshold={threshold!r}"
            )
        self.average = average
        self.beta = float(beta)
        self.threshold = threshold
        self._state = None  # tp, fp, fn, true count: created when the class count is known

    def _build(self, num_classes):
        shape = () if self.average == "micro" else (num_classes,)
        self._state = [
            self.add_variable(shape, "zeros", name=n)
            for n in (
                "true_positives",
                "false_positives",
                "false_negatives",
                "intermediate_weights",
            )
        ]

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_pred = xp.asarray(y_pred, dtype="float64")
        y_true = xp.asarray(y_true, dtype="float64")
        if y_pred.ndim != 2 or y_true.shape != y_pred.shape:
            raise ValueError(
                f"{type(self).__name__} expects y_true and y_pred of the same shape "
                f"(batch_size, num_classes); received y_true.shape={y_true.shape}, "
                f"y_pred.shape={y_pred.shape}."
            )
        if self._state is None:
            self._build(y_pred.shape[-1])
        elif self.average != "micro" and self._state[0].shape[0] != y_pred.shape[-1]:
            raise ValueError(
                f"{type(self).__name__} was built for {self._state[0].shape[0]} classes; "
                f"received y_pred with {y_pred.shape[-1]}."
            )
        if self.threshold is None:
            # the arg-max of each row; an all-zero row predicts nothing
            predicted = (y_pred >= y_pred.max(axis=-1, keepdims=True)) & (xp.abs(y_pred) > 1e-9)
        else:
            predicted = y_pred > self.threshold
        predicted = predicted.astype("float64")
        w = (
            xp.ones((len(y_pred), 1))
            if sample_weight is None
            else xp.asarray(sample_weight, dtype="float64").reshape(-1, 1)
        )
        axis = None if self.average == "micro" else 0
        tp, fp, fn, support = self._state
        tp.assign_add((w * predicted * y_true).sum(axis=axis))
        fp.assign_add((w * predicted * (1.0 - y_true)).sum(axis=axis))
        fn.assign_add((w * (1.0 - predicted) * y_true).sum(axis=axis))
        support.assign_add((w * y_true).sum(axis=axis))

    def result(self):
        if self._state is None:
            return 0.0
        tp, fp, fn, support = (v.value for v in self._state)
        precision = tp / (tp + fp + _EPSILON)
        recall = tp / (tp + fn + _EPSILON)
        b2 = self.beta**2
        score = (1.0 + b2) * precision * recall / (b2 * precision + recall + _EPSILON)
        if self.average == "weighted":
            return to_float((score * support / (support.sum() + _EPSILON)).sum())
        if self.average is not None:
            return to_float(xp.mean(score))
        return score.copy()

    def get_config(self):
        return {
            **super().get_config(),
            "average": self.average,
            "beta": self.beta,
            "threshold": self.threshold,
        }


class F1Score(FBetaScore):
    """F1 score: :class:`FBetaScore` with beta=1.

    >>> import numpy as np
    >>> m = F1Score(average="micro")
    >>> m.update_state(np.eye(2)[[0, 1, 1]], np.eye(2)[[0, 1, 0]])
    >>> round(m.result(), 4)
    0.6667
    """

    def __init__(self, average=None, threshold=None, name="f1_score", dtype=None):
        super().__init__(average=average, beta=1.0, threshold=threshold, name=name, dtype=dtype)

    def get_config(self):
        config = super().get_config()
        del config["beta"]
        return config
