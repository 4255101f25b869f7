"""BatchNormalization: batch statistics while training, moving statistics at inference."""

from __future__ import annotations

from npkeras import initializers
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


class BatchNormalization(AffineNormalization):
    """Normalises each feature over the batch (Ioffe & Szegedy, 2015,
    https://arxiv.org/abs/1502.03167).

    Training (``training=True`` and the layer trainable): ``y = (x - mean_b) /
    sqrt(var_b + epsilon) * gamma + beta`` with the batch mean and (biased) variance over
    every axis but ``axis``, and the moving statistics updated in place:
    ``moving = moving * momentum + batch * (1 - momentum)``. Inference, or a frozen layer
    (``trainable=False``, as in Keras 3): the moving statistics replace the batch ones.

    Args:
        axis: the feature axis (int; a list of ints normalises per combination).
        momentum: weight of the old moving statistics in each update.
        epsilon: added to the variance.
        center, scale: learn ``beta`` / ``gamma``.
        beta_initializer, gamma_initializer: zeros, ones.
        moving_mean_initializer, moving_variance_initializer: zeros, ones.
        beta_regularizer, gamma_regularizer: weight penalties.
        synchronized: accepted for Keras compatibility; only False (one process).

    Weights (Keras order): gamma, beta (trainable), moving_mean, moving_variance
    (non-trainable), each of shape ``(features,)``. Shapes: output = input shape.
    A mask ``(batch, ..., steps)`` (one dimension less than the inputs) leaves masked
    steps out of the batch statistics.

    >>> import numpy as np
    >>> bn = BatchNormalization(epsilon=0.0)
    >>> bn(np.array([[1.0], [5.0]]), training=True).tolist()
    [[-1.0], [1.0]]
    >>> [round(float(v[0]), 4) for v in bn.get_weights()[2:]]   # moving mean, variance
    [0.03, 1.03]
    """

    supports_masking = True

    def __init__(
        self,
        axis=-1,
        momentum: float = 0.99,
        epsilon: float = 1e-3,
        center: bool = True,
        scale: bool = True,
        beta_initializer="zeros",
        gamma_initializer="ones",
        moving_mean_initializer="zeros",
        moving_variance_initializer="ones",
        beta_regularizer=None,
        gamma_regularizer=None,
        synchronized: bool = False,
        **kwargs,
    ):
        super().__init__(
            epsilon=epsilon,
            center=center,
            scale=scale,
            beta_initializer=beta_initializer,
            gamma_initializer=gamma_initializer,
            beta_regularizer=beta_regularizer,
            gamma_regularizer=gamma_regularizer,
            **kwargs,
        )
        self.axis = check_axis_argument(self._owner, axis)
        momentum = float(momentum)
        if not 0.0 <= momentum <= 1.0:
            raise ValueError(
                f"Received an invalid value for `momentum` of {self._owner}, expected a float "
                f"in [0, 1]. Received: momentum={momentum}"
            )
        if synchronized:
            raise ValueError(
                "Argument synchronized=True is only supported with the TensorFlow backend; "
                "npkeras runs in one process, where synchronized=False is the same."
            )
        self.momentum = momentum
        self.synchronized = False
        self.moving_mean_initializer = initializers.get(moving_mean_initializer)
        self.moving_variance_initializer = initializers.get(moving_variance_initializer)

    def build(self, input_shape):
        axes = resolve_axes(self._owner, self.axis, input_shape)
        shape = tuple(input_shape[a] for a in axes)
        self._build_affine(shape)
        self.add_weight("moving_mean", shape, self.moving_mean_initializer, trainable=False)
        self.add_weight("moving_variance", shape, self.moving_variance_initializer, trainable=False)
        super().build(input_shape)

    def _layout(self, x):
        """The feature axes, the axes statistics reduce over, and the weights' broadcast
        shape, for input ``x``."""
        axes = resolve_axes(self._owner, self.axis, x.shape)
        return other_axes(x.ndim, axes), broadcast_shape(x.ndim, axes, x.shape)

    def _mask_weights(self, x, mask, reduce_axes):
        """Weights that leave masked steps out of the batch statistics: the mask (one
        dimension less than the inputs, as in Keras) divided by its count per feature."""
        mask = xp.asarray(mask)
        if mask.shape != x.shape[:-1]:
            raise ValueError(
                f"{self._owner}: the mask provided should be one dimension less than the "
                f"inputs. Received: mask.shape={mask.shape}, inputs.shape={x.shape}"
            )
        weights = xp.broadcast_to(mask[..., None].astype(x.dtype), x.shape)
        count = sum_over(reduce_axes, weights)
        return weights / xp.maximum(count, 1.0)

    def forward(self, x, training=False, mask=None):
        reduce_axes, shape = self._layout(x)
        moving_mean, moving_variance = self.params["moving_mean"], self.params["moving_variance"]
        if training and self.trainable:
            weights = None if mask is None else self._mask_weights(x, mask, reduce_axes)
            x_hat, inv, mean, var = standardize(x, reduce_axes, self.epsilon, weights)
            # in place: the moving statistics may live in the model's parameter buffer
            moving_mean *= self.momentum
            moving_mean += (1.0 - self.momentum) * mean.reshape(moving_mean.shape)
            moving_variance *= self.momentum
            moving_variance += (1.0 - self.momentum) * var.reshape(moving_variance.shape)
            self.cache = (True, x_hat, inv, weights)
        else:
            inv = (
                (1.0 / xp.sqrt(moving_variance + self.epsilon))
                .reshape(shape)
                .astype(x.dtype, copy=False)
            )
            x_hat = (x - moving_mean.reshape(shape)) * inv
            self.cache = (False, x_hat, inv, None)
        return self._affine(x_hat, shape)

    def backward(self, dy, ctx=DEFAULT_BACKWARD):
        batch_statistics, x_hat, inv, weights = self.cache
        reduce_axes, shape = self._layout(dy)
        if batch_statistics and weights is None and ctx.need_input_grad:
            # gamma is constant over the reduced axes, so the sums dx needs are the weight
            # gradients': dx = gamma * inv * (dy - mean(dy) - x_hat * mean(dy * x_hat))
            sum_dy, sum_proj = sum_over(reduce_axes, dy), sum_over(reduce_axes, dy, x_hat)
            self._add_affine_grads(sum_proj, sum_dy)
            scale = inv * self.params["gamma"].reshape(shape) if self.scale else inv
            count = dy.size // sum_dy.size
            dx = dy * scale
            dx -= x_hat * (scale * (sum_proj / count))
            dx -= scale * (sum_dy / count)
            return dx
        dx_hat = self._affine_backward(dy, x_hat, reduce_axes, shape)
        if not ctx.need_input_grad:
            return None
        if batch_statistics:  # the batch mean and variance depend on x too
            return standardize_backward(dx_hat, x_hat, inv, reduce_axes, weights)
        return dx_hat * inv  # moving statistics are constants

    def get_config(self):
        return {
            **super().get_config(),
            "axis": self.axis,
            "momentum": self.momentum,
            "moving_mean_initializer": initializers.serialize(self.moving_mean_initializer),
            "moving_variance_initializer": initializers.serialize(self.moving_variance_initializer),
            "synchronized": self.synchronized,
        }
