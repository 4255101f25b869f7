"""Feature-wise normalization learned from data with ``adapt``."""

from __future__ import annotations

from npkeras import backend
from npkeras.backend import xp
from npkeras.layers.base import DEFAULT_BACKWARD, BackwardContext, Layer


class Normalization(Layer):
    """``(x - mean) / max(sqrt(variance), epsilon)`` per feature, as in Keras.

    Call ``adapt(data)`` to compute the mean and variance, or pass them in. As in Keras
    3, an adapted layer keeps them as non-trainable weights (``mean``, ``variance`` and
    Keras's legacy ``count``, so weight files match Keras's); statistics passed in are
    constants of the layer's config instead.

    Args:
        axis: the feature axis (default last).
        mean, variance: fixed statistics instead of ``adapt``.
        invert: apply the inverse transform (de-normalise outputs).

    >>> import numpy as np
    >>> norm = Normalization()
    >>> norm.adapt(np.array([[0.0], [2.0]]))
    >>> norm(np.array([[1.0], [3.0]])).tolist()
    [[0.0], [2.0]]
    """

    def __init__(self, axis: int = -1, mean=None, variance=None, invert: bool = False, **kwargs):
        super().__init__(**kwargs)
        if axis != -1:
            raise ValueError(
                f"Normalization supports axis=-1 (the feature axis); received axis={axis}."
            )
        if (mean is None) != (variance is None):
            raise ValueError("Normalization needs both `mean` and `variance`, or neither.")
        self.axis = axis
        self.invert = bool(invert)
        self._init_mean = None if mean is None else xp.asarray(mean, dtype="float64").reshape(-1)
        self._init_variance = (
            None if variance is None else xp.asarray(variance, dtype="float64").reshape(-1)
        )

    def build(self, input_shape):
        features = (input_shape[-1],)
        if self._init_mean is None:
            self.add_weight("mean", features, "zeros", trainable=False)
            self.add_weight("variance", features, "ones", trainable=False)
            # Keras 3 keeps an (unused) sample count for older files' sake
            self.add_weight(
                shape=(), initializer="zeros", dtype="int32", trainable=False, name="count"
            )
            return
        dtype = self.dtype or backend.floatx()
        self._fixed = (
            xp.broadcast_to(self._init_mean, features).astype(dtype),
            xp.broadcast_to(self._init_variance, features).astype(dtype),
        )

    def statistics(self):
        """(mean, variance) per feature: the adapted weights or the fixed constants."""
        if self._init_mean is not None:
            return self._fixed
        return self.params["mean"], self.params["variance"]

    def adapt(self, data) -> None:
        """Compute the per-feature mean and variance of ``data`` (batch, ..., features)."""
        if hasattr(data, "to_numpy"):
            data = data.to_numpy()
        x = backend.as_float_array(data, "data", dtype="float64")
        if x.ndim == 1:
            x = x[:, None]
        if x.shape[0] == 0:
            raise ValueError(
                "Normalization.adapt needs at least one sample; received an empty array."
            )
        if self._init_mean is not None:
            raise ValueError(
                f"Normalization layer '{self.name}' was given `mean` and `variance`; `adapt` "
                "works only on a layer created without them."
            )
        if not self.built:
            self._maybe_build((None,) + x.shape[1:])
        flat = x.reshape(-1, x.shape[-1])
        self.params["mean"][...] = flat.mean(axis=0)
        self.params["variance"][...] = flat.var(axis=0)

    def _scale(self, dtype):
        variance = self.statistics()[1]
        return xp.maximum(xp.sqrt(variance), backend.epsilon()).astype(dtype, copy=False)

    def forward(self, x, training=False):
        mean = self.statistics()[0]
        scale = self._scale(x.dtype)
        if self.invert:
            return x * scale + mean
        return (x - mean) / scale

    def backward(self, dy, ctx: BackwardContext = DEFAULT_BACKWARD):
        if not ctx.need_input_grad:
            return None
        scale = self._scale(dy.dtype)
        return dy * scale if self.invert else dy / scale

    def get_config(self):
        fixed = self._init_mean is not None
        return {
            **super().get_config(),
            "axis": self.axis,
            "invert": self.invert,
            "mean": self._init_mean.tolist() if fixed else None,
            "variance": self._init_variance.tolist() if fixed else None,
        }
