"""GroupNormalization: each sample normalised per group of channels."""

from __future__ import annotations

from npkeras.layers.base import DEFAULT_BACKWARD
from npkeras.layers.standardization import (
    AffineNormalization,
    broadcast_shape,
    other_axes,
    resolve_axes,
    standardize,
    standardize_backward,
)


class GroupNormalization(AffineNormalization):
    """Splits the channels on ``axis`` into ``groups`` and normalises each group of each
    sample (Wu & He, 2018, https://arxiv.org/abs/1803.08494).

    Args:
        groups: number of groups; must divide the channels. ``-1``: one per channel
            (instance normalization).
        axis: the channel axis (default the last).
        epsilon, center, scale, *_initializer, *_regularizer: as LayerNormalization;
            ``gamma`` and ``beta`` have shape ``(channels,)``.

    Shapes: output = input shape.

    >>> import numpy as np
    >>> GroupNormalization(groups=2, epsilon=0.0)(np.array([[1.0, 3.0, 5.0, 9.0]])).tolist()
    [[-1.0, 1.0, -1.0, 1.0]]
    """

    def __init__(
        self,
        groups: int = 32,
        axis: int = -1,
        epsilon: float = 1e-3,
        center: bool = True,
        scale: bool = True,
        **kwargs,
    ):
        super().__init__(epsilon=epsilon, center=center, scale=scale, **kwargs)
        if (
            isinstance(groups, bool)
            or not isinstance(groups, int)
            or (groups <= 0 and groups != -1)
        ):
            raise ValueError(
                f"Received an invalid value for `groups` of {self._owner}, expected a positive "
                f"integer or -1. Received: groups={groups!r}"
            )
        if isinstance(axis, bool) or not isinstance(axis, int):
            raise TypeError(f"{self._owner} expects an int `axis`; received axis={axis!r}")
        self.groups = groups
        self.axis = axis

    def build(self, input_shape):
        (axis,) = resolve_axes(self._owner, self.axis, input_shape)
        channels = input_shape[axis]
        if self.groups == -1:
            self.groups = channels
        if channels < self.groups:
            raise ValueError(
                f"{self._owner}: number of groups ({self.groups}) cannot be more than the "
                f"number of channels ({channels})."
            )
        if channels % self.groups:
            raise ValueError(
                f"{self._owner}: number of groups ({self.groups}) must divide the number of "
                f"channels ({channels})."
            )
        self._build_affine((channels,))
        super().build(input_shape)

    def _grouping(self, shape):
        """The grouped shape ``(..., groups, channels // groups, ...)``, the axes each
        group reduces over, and the weights' broadcast shape in the grouped layout."""
        (axis,) = resolve_axes(self._owner, self.axis, shape)
        grouped = (
            tuple(shape[:axis])
            + (self.groups, shape[axis] // self.groups)
            + tuple(shape[axis + 1 :])
        )
        reduce_axes = tuple(a for a in range(1, len(grouped)) if a != axis)
        weight_shape = broadcast_shape(len(grouped), (axis, axis + 1), grouped)
        return grouped, reduce_axes, weight_shape, (axis, axis + 1)

    def forward(self, x, training=False, mask=None):
        grouped, reduce_axes, weight_shape, _ = self._grouping(x.shape)
        x_hat, inv, _, _ = standardize(x.reshape(grouped), reduce_axes, self.epsilon)
        self.cache = (x.shape, x_hat, inv)
        return self._affine(x_hat, weight_shape).reshape(x.shape)

    def backward(self, dy, ctx=DEFAULT_BACKWARD):
        shape, x_hat, inv = self.cache
        grouped, reduce_axes, weight_shape, channel_axes = self._grouping(shape)
        sum_axes = other_axes(len(grouped), channel_axes)
        dx_hat = self._affine_backward(dy.reshape(grouped), x_hat, sum_axes, weight_shape)
        if not ctx.need_input_grad:
            return None
        return standardize_backward(dx_hat, x_hat, inv, reduce_axes).reshape(shape)

    def get_config(self):
        return {**super().get_config(), "groups": self.groups, "axis": self.axis}
