"""Feature-wise normalization learned from data with ``adapt``."""

from __future__ import annotations

from npkeras import backend
from npkeras.backend import xp
from npkeras.layers.base import DEFAULT_BACKWARD, BackwardContext, Layer


class Normalization(Layer):
    """``(x - mean) / max(sqrt(variance), epsilon)`` per feature, as in Keras.

    Call ``adapt(data)`` to compute the mean and variance, or pass them in. The
    statistics are non-trainable weights, so they are saved with the model.

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
        features = input_shape[-1]
        self.add_weight("mean", (features,), "zeros", trainable=False)
        self.add_weight("variance", (features,), "ones", trainable=False)
        if self._init_mean is not None:
            self.params["mean"][...] = self._init_mean
            self.params["variance"][...] = self._init_variance

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
        if not self.built:
            self._maybe_build((None,) + x.shape[1:])
        flat = x.reshape(-1, x.shape[-1])
        self.params["mean"][...] = flat.mean(axis=0)
        self.params["variance"][...] = flat.var(axis=0)

    def _scale(self, dtype):
        return xp.maximum(xp.sqrt(self.params["variance"]), backend.epsilon()).astype(
            dtype, copy=False
        )

    def forward(self, x, training=False):
        scale = self._scale(x.dtype)
        if self.invert:
            return x * scale + self.params["mean"]
        return (x - self.params["mean"]) / scale

    def backward(self, dy, ctx: BackwardContext = DEFAULT_BACKWARD):
        if not ctx.need_input_grad:
            return None
        scale = self._scale(dy.dtype)
        return dy * scale if self.invert else dy / scale

    def get_config(self):
        return {**super().get_config(), "axis": self.axis, "invert": self.invert}
