"""Confusion-matrix metrics for binary predictions: counts at thresholds, precision,
recall, ROC AUC, and the best value of one rate where another reaches a target."""

from __future__ import annotations

from npkeras.backend import to_float, xp
from npkeras.metrics.base import Metric, match_targets, weights_for

_EPSILON = 1e-7


def _check_thresholds(thresholds, owner):
    values = (
        [0.5]
        if thresholds is None
        else ([thresholds] if isinstance(thresholds, (int, float)) else list(thresholds))
    )
    for t in values:
        if isinstance(t, bool) or not isinstance(t, (int, float)) or not 0.0 <= t <= 1.0:
            raise ValueError(
                f"Invalid value for `thresholds` of {owner}, expected values in [0, 1]. "
                f"Received: thresholds={thresholds!r}"
            )
    return [float(t) for t in values]


def _even_thresholds(num_thresholds, owner):
    """``num_thresholds`` thresholds spread over [0, 1], the ends nudged past 0 and 1 so
    predictions of exactly 0 or 1 fall inside (Keras's layout)."""
    if (
        isinstance(num_thresholds, bool)
        or not isinstance(num_thresholds, int)
        or num_thresholds < 1
    ):
        raise ValueError(
            f"Invalid value for `num_thresholds` of {owner}, expected a positive integer. "
            f"Received: num_thresholds={num_thresholds!r}"
        )
    if num_thresholds == 1:
        return [0.5]
    inner = [(i + 1) / (num_thresholds - 1) for i in range(num_thresholds - 2)]
    return [-_EPSILON] + inner + [1.0 + _EPSILON]


class _ConfusionMetric(Metric):
    """True/false positives/negatives of ``y_pred > threshold`` for every threshold."""

    direction = "up"

    def __init__(self, thresholds, class_id=None, name=None, dtype=None):
        super().__init__(name, dtype)
        self.thresholds = thresholds
        self.class_id = class_id
        n = len(thresholds)
        self.true_positives = self.add_variable((n,), "zeros", name="true_positives")
        self.false_positives = self.add_variable((n,), "zeros", name="false_positives")
        self.true_negatives = self.add_variable((n,), "zeros", name="true_negatives")
        self.false_negatives = self.add_variable((n,), "zeros", name="false_negatives")

    def update_state(self, y_true, y_pred, sample_weight=None):
        p = xp.asarray(y_pred, dtype="float64")
        t = match_targets(y_true, p)
        if self.class_id is not None:
            p, t = p[..., self.class_id], t[..., self.class_id]
        w = weights_for(p, sample_weight)
        t = (xp.broadcast_to(t, p.shape) > 0.5).reshape(-1)
        w = xp.ones(t.shape) if w is None else w.reshape(-1)
        predicted = p.reshape(1, -1) > xp.asarray(self.thresholds)[:, None]  # (thresholds, n)
        positive_weight = w * t
        negative_weight = w * ~t
        tp = predicted @ positive_weight
        fp = predicted @ negative_weight
        self.true_positives.assign_add(tp)
        self.false_positives.assign_add(fp)
        self.false_negatives.assign_add(positive_weight.sum() - tp)
        self.true_negatives.assign_add(negative_weight.sum() - fp)

    def _counts(self):
        return (
            self.true_positives.value,
            self.false_positives.value,
            self.true_negatives.value,
            self.false_negatives.value,
        )


def _scalar_if_single(values):
    return to_float(values[0]) if values.shape == (1,) else values.copy()


def _ratio(numerator, denominator):
    """numerator / denominator, 0 where the denominator is 0 (Keras's divide_no_nan)."""
    return xp.where(denominator > 0, numerator / xp.where(denominator > 0, denominator, 1.0), 0.0)


def _count_metric(class_name, state, doc, direction):
    def __init__(self, thresholds=None, name=None, dtype=None):
        _ConfusionMetric.__init__(
            self, _check_thresholds(thresholds, class_name), None, name, dtype
        )

    def result(self):
        return _scalar_if_single(getattr(self, state).value)

    def get_config(self):
        return {**Metric.get_config(self), "thresholds": self.thresholds}

    return type(
        class_name,
        (_ConfusionMetric,),
        {
            "__init__": __init__,
            "result": result,
            "get_config": get_config,
            "__doc__": doc,
            "direction": direction,
            "__module__": "npkeras.metrics",
        },
    )


_COUNT_DOC = """The (weighted) number of {what}: {rule}.

    Args:
        thresholds: a float or a list of floats in [0, 1] (default 0.5); a prediction
            is positive when it is above the threshold. With a list, ``result()`` is an
            array with one count per threshold.
        name: the metric's name.
        dtype: accepted for Keras compatibility.

    >>> m = {cls}()
    >>> m.update_state([0, 1, 1, 1], [1, 0, 1, 1])
    >>> m.result()
    {example}
    """

TruePositives = _count_metric(
    "TruePositives",
    "true_positives",
    _COUNT_DOC.format(
        what="true positives",
        rule="label 1 predicted above the threshold",
        cls="TruePositives",
        example="2.0",
    ),
    "up",
)
FalsePositives = _count_metric(
    "FalsePositives",
    "false_positives",
    _COUNT_DOC.format(
        what="false positives",
        rule="label 0 predicted above the threshold",
        cls="FalsePositives",
        example="1.0",
    ),
    "down",
)
TrueNegatives = _count_metric(
    "TrueNegatives",
    "true_negatives",
    _COUNT_DOC.format(
        what="true negatives",
        rule="label 0 predicted at or below the threshold",
        cls="TrueNegatives",
        example="0.0",
    ),
    "up",
)
FalseNegatives = _count_metric(
    "FalseNegatives",
    "false_negatives",
    _COUNT_DOC.format(
        what="false negatives",
        rule="label 1 predicted at or below the threshold",
        cls="FalseNegatives",
        example="1.0",
    ),
    "down",
)


class Precision(_ConfusionMetric):
    """tp / (tp + fp) at each of ``thresholds`` (default 0.5).

    Args:
        thresholds: a float or list of floats in [0, 1].
        top_k: not supported (must be None).
        class_id: compute the metric for this column of multi-label predictions only.
        name, dtype: as for every metric.

    >>> m = Precision()
    >>> m.update_state([0, 1, 1, 1], [1, 0, 1, 1])
    >>> round(m.result(), 6)
    0.666667
    """

    def __init__(self, thresholds=None, top_k=None, class_id=None, name=None, dtype=None):
        if top_k is not None:
            raise ValueError(
                f"{type(self).__name__} does not support `top_k` yet; received "
                f"top_k={top_k}. Use thresholds or class_id."
            )
        super().__init__(_check_thresholds(thresholds, type(self).__name__), class_id, name, dtype)

    def result(self):
        tp, fp, _, _ = self._counts()
        return _scalar_if_single(_ratio(tp, tp + fp))

    def get_config(self):
        return {**super().get_config(), "thresholds": self.thresholds, "class_id": self.class_id}


class Recall(Precision):
    """tp / (tp + fn) at each of ``thresholds`` (default 0.5); arguments as :class:`Precision`.

    >>> m = Recall()
    >>> m.update_state([0, 1, 1, 1], [1, 0, 1, 1])
    >>> round(m.result(), 6)
    0.666667
    """

    def result(self):
        tp, _, _, fn = self._counts()
        return _scalar_if_single(_ratio(tp, tp + fn))


class AUC(_ConfusionMetric):
    """Area under the ROC curve, by the trapezoid rule over ``num_thresholds`` thresholds.

    >>> m = AUC()
    >>> m.update_state([0, 0, 1, 1], [0.0, 0.5, 0.3, 0.9])
    >>> m.result()
    0.75
    """

    def __init__(self, num_thresholds: int = 200, name=None, dtype=None):
        self.num_thresholds = num_thresholds
        super().__init__(_even_thresholds(num_thresholds, "AUC"), None, name, dtype)

    def result(self):
        tp, fp, tn, fn = self._counts()
        tpr = _ratio(tp, tp + fn)
        fpr = _ratio(fp, fp + tn)
        # thresholds ascend, so fpr descends: integrate tpr over fpr
        return to_float(((fpr[:-1] - fpr[1:]) * (tpr[:-1] + tpr[1:]) / 2).sum())

    def get_config(self):
        return {**Metric.get_config(self), "num_thresholds": self.num_thresholds}


class _RateAtRate(_ConfusionMetric):
    """The best ``dependent`` rate over the thresholds whose ``constrained`` rate is at
    least the target ``value`` (0 when no threshold reaches it)."""

    target_name = "value"

    def __init__(self, value, num_thresholds=200, class_id=None, name=None, dtype=None):
        owner = type(self).__name__
        if (
            isinstance(value, bool)
            or not isinstance(value, (int, float))
            or not 0.0 <= value <= 1.0
        ):
            raise ValueError(
                f"Invalid value for `{self.target_name}` of {owner}, expected a "
                f"value in [0, 1]. Received: {self.target_name}={value!r}"
            )
        self.value = float(value)
        self.num_thresholds = num_thresholds
        super().__init__(_even_thresholds(num_thresholds, owner), class_id, name, dtype)

    def _rates(self):
        """(constrained, dependent) rate per threshold."""
        raise NotImplementedError

    def result(self):
        constrained, dependent = self._rates()
        feasible = constrained >= self.value
        return to_float(dependent[feasible].max()) if feasible.any() else 0.0

    def get_config(self):
        return {
            **Metric.get_config(self),
            self.target_name: self.value,
            "num_thresholds": self.num_thresholds,
            "class_id": self.class_id,
        }


def _sensitivity(tp, fp, tn, fn):
    return _ratio(tp, tp + fn)


def _specificity(tp, fp, tn, fn):
    return _ratio(tn, tn + fp)


def _precision(tp, fp, tn, fn):
    return _ratio(tp, tp + fp)


def _rate_at_rate(class_name, target_name, constrained, dependent, doc):
    def __init__(self, *args, **kwargs):
        if target_name in kwargs:
            args = (kwargs.pop(target_name),) + args
        _RateAtRate.__init__(self, *args, **kwargs)

    def _rates(self):
        counts = self._counts()
        return constrained(*counts), dependent(*counts)

    return type(
        class_name,
        (_RateAtRate,),
        {
            "__init__": __init__,
            "_rates": _rates,
            "target_name": target_name,
            "__doc__": doc,
            "__module__": "npkeras.metrics",
        },
    )


_RATE_DOC = """The best {dependent} over the thresholds where {constrained} >= ``{arg}``.

    Args:
        {arg}: the target {constrained}, in [0, 1].
        num_thresholds: how many thresholds to try, spread over [0, 1] (default 200).
        class_id: compute the metric for this column of multi-label predictions only.
        name, dtype: as for every metric.

    >>> m = {cls}(0.5)
    >>> m.update_state([0, 0, 0, 1, 1], [0, 0.3, 0.8, 0.3, 0.8])
    >>> m.result()
    {example}
    """

SensitivityAtSpecificity = _rate_at_rate(
    "SensitivityAtSpecificity",
    "specificity",
    _specificity,
    _sensitivity,
    _RATE_DOC.format(
        dependent="sensitivity (recall)",
        constrained="specificity",
        arg="specificity",
        cls="SensitivityAtSpecificity",
        example="0.5",
    ),
)
SpecificityAtSensitivity = _rate_at_rate(
    "SpecificityAtSensitivity",
    "sensitivity",
    _sensitivity,
    _specificity,
    _RATE_DOC.format(
        dependent="specificity",
        constrained="sensitivity",
        arg="sensitivity",
        cls="SpecificityAtSensitivity",
        example="0.6666666666666666",
    ),
)
PrecisionAtRecall = _rate_at_rate(
    "PrecisionAtRecall",
    "recall",
    _sensitivity,
    _precision,
    _RATE_DOC.format(
        dependent="precision",
        constrained="recall",
        arg="recall",
        cls="PrecisionAtRecall",
        example="0.5",
    ),
)
RecallAtPrecision = _rate_at_rate(
    "RecallAtPrecision",
    "precision",
    _precision,
    _sensitivity,
    _RATE_DOC.format(
        dependent="recall",
        constrained="precision",
        arg="precision",
        cls="RecallAtPrecision",
        example="1.0",
    ),
)
