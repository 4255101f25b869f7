"""Streaming metrics with Keras names.

A metric accumulates over batches with ``update_state(y_true, y_pred, sample_weight)``
and reports the exact value over every sample seen with ``result()``; ``reset_state()``
starts again. Epoch values are therefore exact, not averages of batch averages. The
lower-case functions (``sparse_categorical_accuracy``...) give per-sample values.

>>> import numpy as np
>>> m = BinaryAccuracy()
>>> m.update_state(np.array([[1], [0]]), np.array([[0.9], [0.8]]))
>>> m.result()
0.5
"""

from __future__ import annotations

from npkeras.losses import (
    binary_crossentropy,
    categorical_crossentropy,
    hinge,
    kl_divergence,
    poisson,
    sparse_categorical_crossentropy,
    squared_hinge,
)
from npkeras.metrics.accuracy import (
    BinaryAccuracy,
    CategoricalAccuracy,
    SparseCategoricalAccuracy,
    SparseTopKCategoricalAccuracy,
    TopKCategoricalAccuracy,
    binary_accuracy,
    categorical_accuracy,
    sparse_categorical_accuracy,
    sparse_top_k_categorical_accuracy,
    top_k_categorical_accuracy,
)
from npkeras.metrics.base import Mean, MeanMetricWrapper, Metric, Sum
from npkeras.metrics.confusion import (
    AUC,
    FalseNegatives,
    FalsePositives,
    Precision,
    PrecisionAtRecall,
    Recall,
    RecallAtPrecision,
    SensitivityAtSpecificity,
    SpecificityAtSensitivity,
    TrueNegatives,
    TruePositives,
)
from npkeras.metrics.fscore import F1Score, FBetaScore
from npkeras.metrics.iou import MeanIoU
from npkeras.metrics.probabilistic import (
    BinaryCrossentropy,
    CategoricalCrossentropy,
    Hinge,
    KLDivergence,
    Poisson,
    SparseCategoricalCrossentropy,
    SquaredHinge,
)
from npkeras.metrics.regression import (
    CosineSimilarity,
    LogCoshError,
    MeanAbsoluteError,
    MeanAbsolutePercentageError,
    MeanSquaredError,
    MeanSquaredLogarithmicError,
    R2Score,
    RootMeanSquaredError,
    cosine_similarity,
    log_cosh,
    mean_absolute_error,
    mean_absolute_percentage_error,
    mean_squared_error,
    mean_squared_logarithmic_error,
)
from npkeras.naming import unknown_name_error
from npkeras.registry import custom_object_scope, deserialize_registered, serialize_object

mse = mean_squared_error
mae = mean_absolute_error
mape = mean_absolute_percentage_error
msle = mean_squared_logarithmic_error
logcosh = log_cosh

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
    "mean_squared_logarithmic_error": MeanSquaredLogarithmicError,
    "root_mean_squared_error": RootMeanSquaredError,
    "cosine_similarity": CosineSimilarity,
    "logcosh": LogCoshError,
    "log_cosh_error": LogCoshError,
    "binary_crossentropy": BinaryCrossentropy,
    "categorical_crossentropy": CategoricalCrossentropy,
    "sparse_categorical_crossentropy": SparseCategoricalCrossentropy,
    "kl_divergence": KLDivergence,
    "poisson": Poisson,
    "hinge": Hinge,
    "squared_hinge": SquaredHinge,
    "auc": AUC,
    "precision": Precision,
    "recall": Recall,
    "true_positives": TruePositives,
    "true_negatives": TrueNegatives,
    "false_positives": FalsePositives,
    "false_negatives": FalseNegatives,
    "f1_score": F1Score,
    "fbeta_score": FBetaScore,
    "r2_score": R2Score,
    "mean": Mean,
    "sum": Sum,
}
#: classes that need arguments: loadable from configs, not creatable by name
_CONFIG_ONLY = {
    cls.__name__: cls
    for cls in (
        PrecisionAtRecall,
        RecallAtPrecision,
        SensitivityAtSpecificity,
        SpecificityAtSensitivity,
        MeanIoU,
    )
}
_ALIASES = {
    "acc": "accuracy",
    "mse": "mean_squared_error",
    "mae": "mean_absolute_error",
    "mape": "mean_absolute_percentage_error",
    "msle": "mean_squared_logarithmic_error",
    "rmse": "root_mean_squared_error",
    "kld": "kl_divergence",
}


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
                y_true_shape[-1] == 1 and y_pred_shape[-1] > 1
            )
            cls = (
                BinaryAccuracy
                if is_binary
                else (SparseCategoricalAccuracy if is_sparse else CategoricalAccuracy)
            )
        else:
            cls = _CLASSES[key]
        return cls(name=identifier)
    if isinstance(identifier, dict):
        builtins = {k: v for k, v in _CLASSES.items() if v}
        builtins.update(_CONFIG_ONLY)
        return deserialize_registered(identifier, "metric", builtins, Metric)
    if isinstance(identifier, type) and issubclass(identifier, Metric):
        return identifier()
    if callable(identifier):
        return MeanMetricWrapper(identifier)
    raise TypeError(f"Could not interpret metric identifier: {identifier!r}")


def get(identifier) -> Metric:
    """A metric by name, config or object (use :func:`resolve` for 'accuracy')."""
    if (
        isinstance(identifier, str)
        and _ALIASES.get(identifier.lower(), identifier.lower()) == "accuracy"
    ):
        raise ValueError(
            "'accuracy' depends on the data; use BinaryAccuracy, CategoricalAccuracy or "
            "SparseCategoricalAccuracy, or pass 'accuracy' to compile()."
        )
    return resolve(identifier, (1,), (1,))


def serialize(metric: Metric) -> dict:
    """``{"class_name", "config"}`` for a metric."""

    return serialize_object(metric)


def deserialize(config: dict, custom_objects: dict | None = None) -> Metric:
    """A metric from :func:`serialize` output."""

    with custom_object_scope(custom_objects):
        return resolve(config, (1,), (1,))


__all__ = [
    "AUC",
    "BinaryAccuracy",
    "BinaryCrossentropy",
    "CategoricalAccuracy",
    "CategoricalCrossentropy",
    "CosineSimilarity",
    "F1Score",
    "FBetaScore",
    "FalseNegatives",
    "FalsePositives",
    "Hinge",
    "KLDivergence",
    "LogCoshError",
    "Mean",
    "MeanAbsoluteError",
    "MeanAbsolutePercentageError",
    "MeanIoU",
    "MeanMetricWrapper",
    "MeanSquaredError",
    "MeanSquaredLogarithmicError",
    "Metric",
    "Poisson",
    "Precision",
    "PrecisionAtRecall",
    "R2Score",
    "Recall",
    "RecallAtPrecision",
    "RootMeanSquaredError",
    "SensitivityAtSpecificity",
    "SparseCategoricalAccuracy",
    "SparseCategoricalCrossentropy",
    "SparseTopKCategoricalAccuracy",
    "SpecificityAtSensitivity",
    "SquaredHinge",
    "Sum",
    "TopKCategoricalAccuracy",
    "TrueNegatives",
    "TruePositives",
    "binary_accuracy",
    "binary_crossentropy",
    "categorical_accuracy",
    "categorical_crossentropy",
    "cosine_similarity",
    "deserialize",
    "get",
    "hinge",
    "kl_divergence",
    "log_cosh",
    "logcosh",
    "mae",
    "mape",
    "mean_absolute_error",
    "mean_absolute_percentage_error",
    "mean_squared_error",
    "mean_squared_logarithmic_error",
    "mse",
    "msle",
    "poisson",
    "resolve",
    "serialize",
    "sparse_categorical_accuracy",
    "sparse_categorical_crossentropy",
    "sparse_top_k_categorical_accuracy",
    "squared_hinge",
    "top_k_categorical_accuracy",
]
