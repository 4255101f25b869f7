"""Every built-in metric: Keras's default name, a config round-trip through JSON, and the
same result after the trip."""

import json

import numpy as np
import pytest

from npkeras import metrics

y_true = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0], [0.0, 1.0]])
y_pred = np.array([[0.8, 0.2], [0.3, 0.7], [0.4, 0.6], [0.1, 0.9]])

CASES = [
    (metrics.TruePositives, {}, "true_positives"),
    (metrics.FalseNegatives, {"thresholds": [0.3, 0.6]}, "false_negatives"),
    (metrics.Precision, {}, "precision"),
    (metrics.AUC, {"num_thresholds": 50}, "auc"),
    (metrics.PrecisionAtRecall, {"recall": 0.5}, "precision_at_recall"),
    (metrics.SensitivityAtSpecificity, {"specificity": 0.5}, "sensitivity_at_specificity"),
    (metrics.F1Score, {"average": "macro"}, "f1_score"),
    (metrics.FBetaScore, {"beta": 2.0, "threshold": 0.5}, "fbeta_score"),
    (
        metrics.MeanIoU,
        {"num_classes": 2, "sparse_y_true": False, "sparse_y_pred": False},
        "mean_io_u",
    ),
    (metrics.CosineSimilarity, {}, "cosine_similarity"),
    (metrics.LogCoshError, {}, "logcosh"),
    (metrics.BinaryAccuracy, {"threshold": 0.6}, "binary_accuracy"),
    (metrics.CategoricalCrossentropy, {"label_smoothing": 0.1}, "categorical_crossentropy"),
    (metrics.R2Score, {}, "r2_score"),
    (metrics.RootMeanSquaredError, {}, "root_mean_squared_error"),
]


@pytest.mark.parametrize("cls, kwargs, name", CASES, ids=[c[0].__name__ for c in CASES])
def test_default_name_and_config_round_trip(cls, kwargs, name):
    metric = cls(**kwargs)
    assert metric.name == name
    metric.update_state(y_true, y_pred)
    twin = metrics.deserialize(json.loads(json.dumps(metrics.serialize(metric))))
    assert type(twin) is cls and twin.get_config() == metric.get_config()
    twin.update_state(y_true, y_pred)
    np.testing.assert_allclose(twin.result(), metric.result())
    metric.reset_state()
    metric.update_state(y_true, y_pred)
    np.testing.assert_allclose(metric.result(), twin.result())  # reset really restarts
