"""Accuracy metrics: per-sample functions (``keras.metrics.binary_accuracy``...) and the
streaming classes built on them."""

from __future__ import annotations

from npkeras.backend import xp
from npkeras.metrics.base import match_targets, mean_metric


def _sparse_labels(y_true, y_pred):
    labels = xp.asarray(y_true)
    if labels.ndim == y_pred.ndim and labels.shape[-1] == 1:
        labels = labels[..., 0]
    return labels.astype("int64", copy=False)


def binary_accuracy(y_true, y_pred, threshold=0.5):
    """Per-sample share of outputs on the right side of ``threshold``.

    >>> binary_accuracy([[1.0], [0.0]], [[0.9], [0.8]]).tolist()
    [1.0, 0.0]
    """
    y_pred = xp.asarray(y_pred)
    y_true = match_targets(y_true, y_pred)
    return ((y_pred > threshold) == (y_true > 0.5)).astype("float64").mean(axis=-1)


def categorical_accuracy(y_true, y_pred):
    """1.0 where the arg-max of one-hot ``y_true`` and of ``y_pred`` agree."""
    return (
        xp.argmax(xp.asarray(y_true), axis=-1) == xp.argmax(xp.asarray(y_pred), axis=-1)
    ).astype("float64")


def sparse_categorical_accuracy(y_true, y_pred):
    """1.0 where the integer label equals the arg-max of ``y_pred``.

    >>> sparse_categorical_accuracy([2, 1], [[0.1, 0.2, 0.7], [0.5, 0.3, 0.2]]).tolist()
    [1.0, 0.0]
    """
    y_pred = xp.asarray(y_pred)
    return (_sparse_labels(y_true, y_pred) == xp.argmax(y_pred, axis=-1)).astype("float64")


def _in_top_k(labels, y_pred, k):
    target_score = xp.take_along_axis(y_pred, labels[..., None], axis=-1)
    # in the top k when fewer than k classes score strictly higher
    return ((y_pred > target_score).sum(axis=-1) < k).astype("float64")


def top_k_categorical_accuracy(y_true, y_pred, k=5):
    """1.0 where the true class (one-hot) is among the ``k`` highest scores."""
    return _in_top_k(xp.argmax(xp.asarray(y_true), axis=-1), xp.asarray(y_pred), k)


def sparse_top_k_categorical_accuracy(y_true, y_pred, k=5):
    """1.0 where the integer label is among the ``k`` highest scores."""
    y_pred = xp.asarray(y_pred)
    return _in_top_k(_sparse_labels(y_true, y_pred), y_pred, k)


BinaryAccuracy = mean_metric("BinaryAccuracy", binary_accuracy, "binary_accuracy", threshold=0.5)
CategoricalAccuracy = mean_metric(
    "CategoricalAccuracy", categorical_accuracy, "categorical_accuracy"
)
SparseCategoricalAccuracy = mean_metric(
    "SparseCategoricalAccuracy", sparse_categorical_accuracy, "sparse_categorical_accuracy"
)
TopKCategoricalAccuracy = mean_metric(
    "TopKCategoricalAccuracy", top_k_categorical_accuracy, "top_k_categorical_accuracy", k=5
)
SparseTopKCategoricalAccuracy = mean_metric(
    "SparseTopKCategoricalAccuracy",
    sparse_top_k_categorical_accuracy,
    "sparse_top_k_categorical_accuracy",
    k=5,
)
