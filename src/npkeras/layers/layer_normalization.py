"""LayerNormalization: each sample normalised over its feature axes."""

from __future__ import annotations

import math

from npkeras import backend
from npkeras.backend import xp
from npkeras.layers.base import DEFAULT_BACKWARD
from npkeras.layers.standardization import (
    AffineNormalization,
    broadcast_shape,
    check_axis_argument,
    other_axes,
    resolve_axes,
    standardize,
    standardize_backward,
    sum_over,
)


class LayerNormalization(AffineNormalization):
    """Normalises each sample over ``axis``: ``(x - mean) / sqrt(var + epsilon) * gamma +
    beta`` (Ba et al., 2016, https://arxiv.org/abs/1607.06450).

    Args:
        axis: int or list of ints, the axes to normalise (default the last).
        epsilon: added to the variance.
        center, scale: learn ``beta`` / ``gamma`` (shape: the ``axis`` dimensions).
        rms_scaling: as Keras 3: ``x * gamma / sqrt(var(x) + epsilon)`` with no mean
            subtracted and no ``beta`` (``center`` and ``scale`` are ignored).
        beta_initializer, gamma_initializer: zeros, ones.
        beta_regularizer, gamma_regularizer: weight penalties.

    Shapes: output = input shape.

    >>> import numpy as np
    >>> LayerNormalization(epsilon=0.0)(np.array([[1.0, 3.0]])).tolist()
    [[-1.0, 1.0]]
    """

    def __init__(
        self,
        axis=-1,
        epsilon: float = 1e-3,
        center: bool = True,
        scale: bool = True,
        rms_scaling: bool = False,
        **kwargs,
    ):
        super().__init__(epsilon=epsilon, center=center, scale=scale, **kwargs)
        self.axis = check_axis_argument(self._owner, axis)
        self.rms_scaling = bool(rms_scaling)

    def build(self, input_shape):
        axes = resolve_axes(self._owner, self.axis, input_shape)
        shape = tuple(input_shape[a] for a in axes)
        self._build_affine(
            shape, scale=self.scale or self.rms_scaling, center=self.center and not self.rms_scaling
        )
        super().build(input_shape)

    def _by_rows(self, x, axes):
        """The compiled kernels apply: the last axis normalised, with gamma and beta, and
        arrays they take."""
        return (
            axes == (x.ndim - 1,)
            and not self.rms_scaling
            and "gamma" in self.params
            and "beta" in self.params
            and backend.kernels_accept(x, self.params["gamma"], self.params["beta"])
        )

    def forward(self, x, training=False, mask=None):
        axes = resolve_axes(self._owner, self.axis, x.shape)
        if self._by_rows(x, axes):  # a pass per row in cache: (32, 128, 64) 0.41 -> 0.12 ms
            y = xp.empty_like(x)
            mean, inv = (xp.empty(x.shape[:-1], x.dtype) for _ in range(2))
            gamma, beta = self.params["gamma"], self.params["beta"]
            backend.kernels.layer_norm_rows(x, gamma, beta, self.epsilon, y, mean, inv)
            self.cache = (x, None, (mean, inv))  # x_hat is recomputed from these
            return y
        shape = broadcast_shape(x.ndim, axes, x.shape)
        x_hat, inv, _, _ = standardize(x, axes, self.epsilon)
        self.cache = (x, x_hat, inv)
        return self._affine(x * inv if self.rms_scaling else x_hat, shape)

    def _backward_by_rows(self, dy, ctx):
        x, _, (mean, inv) = self.cache
        dy = xp.ascontiguousarray(dy, dtype=x.dtype)
        dx = xp.empty_like(x) if ctx.need_input_grad else None
        dgamma, dbeta = (xp.empty(x.shape[-1], x.dtype) for _ in range(2))
        backend.kernels.layer_norm_rows_backward(
            dy, x, mean, inv, self.params["gamma"], dx, dgamma, dbeta
        )
        self._add_affine_grads(dgamma, dbeta)
        return dx

    def backward(self, dy, ctx=DEFAULT_BACKWARD):
        x, x_hat, inv = self.cache
        if x_hat is None:
            return self._backward_by_rows(dy, ctx)
        axes = resolve_axes(self._owner, self.axis, x.shape)
        shape = broadcast_shape(x.ndim, axes, x.shape)
        sum_axes = other_axes(x.ndim, axes)
        if self.rms_scaling:
            # y = x * s * gamma with s = (var(x) + eps)^-1/2 and ds/dx = -s^3 (x - mean) / n:
            # dL/dx = s * (g - x_hat * s * mean(g * x)), g = dL/d(x * s)
            g = self._affine_backward(dy, x * inv, sum_axes, shape)
            if not ctx.need_input_grad:
                return None
            count = math.prod(x.shape[a] for a in axes)
            return inv * (g - x_hat * inv * (sum_over(axes, g, x) / count))
        dx_hat = self._affine_backward(dy, x_hat, sum_axes, shape)
        if not ctx.need_input_grad:
            return None
        return standardize_backward(dx_hat, x_hat, inv, axes)

    def get_config(self):
        return {**super().get_config(), "axis": self.axis, "rms_scaling": self.rms_scaling}
