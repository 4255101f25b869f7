"""Rescaling: ``x * scale + offset`` (e.g. pixels from [0, 255] to [0, 1])."""

from __future__ import annotations

from npkeras.backend import xp
from npkeras.layers.base import DEFAULT_BACKWARD, BackwardContext, Layer


class Rescaling(Layer):
    """Multiply by ``scale`` and add ``offset`` (scalars, or arrays broadcasting against
    the inputs, e.g. one value per channel).

    Args:
        scale: the factor.
        offset: added after scaling (default 0).

    >>> import numpy as np
    >>> Rescaling(1.0 / 255)(np.array([[0.0, 255.0]])).tolist()
    [[0.0, 1.0]]
    >>> Rescaling(scale=2.0, offset=-1.0)(np.array([[0.5, 1.0]])).tolist()
    [[0.0, 1.0]]
    """

    def __init__(self, scale, offset=0.0, **kwargs):
        super().__init__(**kwargs)
        self.scale = scale
        self.offset = offset

    def forward(self, x, training=False):
        return x * xp.asarray(self.scale, x.dtype) + xp.asarray(self.offset, x.dtype)

    def backward(self, dy, ctx: BackwardContext = DEFAULT_BACKWARD):
        # dL/dx = dy * scale (scale broadcasts against the inputs, never beyond them)
        return dy * xp.asarray(self.scale, dy.dtype) if ctx.need_input_grad else None

    def get_config(self):
        def plain(value):
            return xp.asarray(value).tolist() if hasattr(value, "shape") else value

        return {**super().get_config(), "scale": plain(self.scale), "offset": plain(self.offset)}
