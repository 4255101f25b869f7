"""Masking: marks timesteps whose features all equal ``mask_value`` as padding."""

from __future__ import annotations

from npkeras.backend import xp
from npkeras.layers.base import DEFAULT_BACKWARD, Layer


class Masking(Layer):
    """Skips padded timesteps: a timestep whose features all equal ``mask_value`` is
    zeroed and masked out for the mask-consuming layers downstream (RNNs, pooling).

    Args:
        mask_value: the padding value.

    Shapes: input ``(batch, time, features)`` (any rank >= 2), output the same; the mask
    :meth:`compute_mask` returns is ``(batch, time)``.

    >>> import numpy as np
    >>> x = np.array([[[1.0, 2.0], [0.0, 0.0]]])
    >>> Masking().compute_mask(x).tolist()
    [[True, False]]
    """

    supports_masking = True

    def __init__(self, mask_value: float = 0.0, **kwargs):
        super().__init__(**kwargs)
        self.mask_value = float(mask_value)

    def _keep(self, x):
        return xp.any(x != self.mask_value, axis=-1, keepdims=True)

    def compute_mask(self, x, mask=None):
        return self._keep(xp.asarray(x))[..., 0]

    def forward(self, x, training=False, mask=None):
        keep = self._keep(x)
        self.cache = keep
        return x * keep

    def backward(self, dy, ctx=DEFAULT_BACKWARD):
        return dy * self.cache if ctx.need_input_grad else None

    def get_config(self):
        return {**super().get_config(), "mask_value": self.mask_value}
