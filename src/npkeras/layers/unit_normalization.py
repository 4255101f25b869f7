"""UnitNormalization: each sample scaled to unit L2 norm."""

from __future__ import annotations

from npkeras.backend import xp
from npkeras.layers.base import DEFAULT_BACKWARD, Layer
from npkeras.layers.standardization import check_axis_argument, resolve_axes, sum_over


class UnitNormalization(Layer):
    """Scales each sample to unit L2 norm over ``axis``: ``x / sqrt(max(sum(x**2), 1e-12))``.

    Args:
        axis: int or list of ints (default the last).

    Shapes: output = input shape.

    >>> import numpy as np
    >>> [round(float(v), 4) for v in UnitNormalization()(np.array([[3.0, 4.0]]))[0]]
    [0.6, 0.8]
    """

    supports_masking = True
    _MIN_SQUARE_SUM = 1e-12

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        self.axis = check_axis_argument(f"UnitNormalization layer '{self.name}'", axis)

    def forward(self, x, training=False, mask=None):
        axes = resolve_axes(
            f"UnitNormalization layer '{self.name}'", self.axis, x.shape, need_known=False
        )
        square_sum = sum_over(axes, x, x)
        clamped = square_sum <= self._MIN_SQUARE_SUM
        inv_norm = 1.0 / xp.sqrt(xp.maximum(square_sum, self._MIN_SQUARE_SUM))
        y = x * inv_norm
        self.cache = (axes, y, inv_norm, clamped)
        return y

    def backward(self, dy, ctx=DEFAULT_BACKWARD):
        if not ctx.need_input_grad:
            return None
        axes, y, inv_norm, clamped = self.cache
        # y = x / |x|: dx = (dy - y * sum(dy * y)) / |x|; below the clamp |x| is a constant
        projection = xp.where(clamped, 0.0, sum_over(axes, dy, y))
        return inv_norm * (dy - y * projection)

    def get_config(self):
        return {**super().get_config(), "axis": self.axis}
