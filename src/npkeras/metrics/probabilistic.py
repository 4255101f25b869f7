"""Probabilistic metrics: streaming means of the loss functions (cross-entropies, KL...)."""

from __future__ import annotations

from npkeras import losses
from npkeras.metrics.base import mean_metric

BinaryCrossentropy = mean_metric(
    "BinaryCrossentropy",
    losses.binary_crossentropy,
    "binary_crossentropy",
    "down",
    from_logits=False,
    label_smoothing=0.0,
)
CategoricalCrossentropy = mean_metric(
    "CategoricalCrossentropy",
    losses.categorical_crossentropy,
    "categorical_crossentropy",
    "down",
    from_logits=False,
    label_smoothing=0.0,
    axis=-1,
)
SparseCategoricalCrossentropy = mean_metric(
    "SparseCategoricalCrossentropy",
    losses.sparse_categorical_crossentropy,
    "sparse_categorical_crossentropy",
    "down",
    from_logits=False,
    axis=-1,
)
KLDivergence = mean_metric("KLDivergence", losses.kl_divergence, "kl_divergence", "down")
Poisson = mean_metric("Poisson", losses.poisson, "poisson", "down")
Hinge = mean_metric("Hinge", losses.hinge, "hinge", "down")
SquaredHinge = mean_metric("SquaredHinge", losses.squared_hinge, "squared_hinge", "down")
