"""Activation layers with arguments: ReLU, LeakyReLU, PReLU (a learned slope), ELU, Softmax.

Each has a hand-written forward and backward; PReLU's ``alpha`` is a weight of shape
``input_shape[1:]`` (1 along ``shared_axes``), as in Keras.
"""

from __future__ import annotations

from npkeras import constraints, initializers, regularizers
from npkeras.backend import xp
from npkeras.layers.base import DEFAULT_BACKWARD, BackwardContext, Layer


def _non_negative(owner, name, value, allow_none=False):
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
        raise ValueError(
            f"Received an invalid value for `{name}` of {owner}, expected a non-negative "
            f"number. Received: {name}={value!r}"
        )
    return float(value)


class ReLU(Layer):
    """Rectified linear unit with a cap, a leak and a threshold (Keras's ReLU layer).

    ``f(x) = max_value`` for ``x >= max_value``, ``x`` for ``threshold <= x < max_value``,
    and ``negative_slope * (x - threshold)`` below ``threshold``.

    Args:
        max_value: the cap (None: no cap).
        negative_slope: slope below the threshold (0: plain ReLU).
        threshold: where the unit switches on.

    Shapes: any; output like the input.

    >>> import numpy as np
    >>> ReLU(max_value=6.0, negative_slope=0.25)(np.array([[-2.0, 3.0, 9.0]])).tolist()
    [[-0.5, 3.0, 6.0]]
    """

    def __init__(self, max_value=None, negative_slope=0.0, threshold=0.0, **kwargs):
        super().__init__(**kwargs)
        owner = f"ReLU layer '{self.name}'"
        self.max_value = _non_negative(owner, "max_value", max_value, allow_none=True)
        self.negative_slope = _non_negative(owner, "negative_slope", negative_slope)
        self.threshold = _non_negative(owner, "threshold", threshold)

    def forward(self, x, training=False):
        on = x >= self.threshold
        if self.max_value is not None:
            below_cap = x < self.max_value
            slope = xp.where(on, below_cap.astype(x.dtype), x.dtype.type(self.negative_slope))
            y = xp.where(below_cap, x, x.dtype.type(self.max_value))
        else:
            slope = xp.where(on, x.dtype.type(1.0), x.dtype.type(self.negative_slope))
            y = x
        y = xp.where(on, y, self.negative_slope * (x - self.threshold)).astype(x.dtype, copy=False)
        self.cache = slope  # dy/dx: 1 in the linear part, 0 at the cap, the slope below
        return y

    def backward(self, dy, ctx: BackwardContext = DEFAULT_BACKWARD):
        return dy * self.cache if ctx.need_input_grad else None

    def get_config(self):
        return {
            **super().get_config(),
            "max_value": self.max_value,
            "negative_slope": self.negative_slope,
            "threshold": self.threshold,
        }


class LeakyReLU(Layer):
    """``x`` for ``x >= 0``, ``negative_slope * x`` below.

    Args:
        negative_slope: the slope below zero (Keras's default 0.3).

    >>> import numpy as np
    >>> LeakyReLU(negative_slope=0.5)(np.array([[-1.0, 2.0]])).tolist()
    [[-0.5, 2.0]]
    """

    def __init__(self, negative_slope=0.3, **kwargs):
        if "alpha" in kwargs:  # Keras 2's name
            negative_slope = kwargs.pop("alpha")
        super().__init__(**kwargs)
        if (
            negative_slope is None
            or isinstance(negative_slope, bool)
            or not isinstance(negative_slope, (int, float))
            or negative_slope < 0
        ):
            raise ValueError(
                "The negative_slope value of a Leaky ReLU layer cannot be None or a negative "
                f"value. Expected a float. Received: negative_slope={negative_slope!r}"
            )
        self.negative_slope = float(negative_slope)

    def forward(self, x, training=False):
        positive = x >= 0
        self.cache = positive
        return xp.where(positive, x, self.negative_slope * x).astype(x.dtype, copy=False)

    def backward(self, dy, ctx: BackwardContext = DEFAULT_BACKWARD):
        if not ctx.need_input_grad:
            return None
        return xp.where(self.cache, dy, self.negative_slope * dy)

    def get_config(self):
        return {**super().get_config(), "negative_slope": self.negative_slope}


class PReLU(Layer):
    """Parametric ReLU: ``x`` for ``x >= 0``, ``alpha * x`` below, with ``alpha`` learned.

    Args:
        alpha_initializer: initializer of alpha (default zeros).
        alpha_regularizer, alpha_constraint: penalty and constraint on alpha.
        shared_axes: axes (1-based, batch excluded) along which one alpha is shared,
            e.g. ``[1, 2]`` for one slope per channel of an image.

    Shapes: any ``(batch, ...)``; alpha ``input_shape[1:]`` with 1 on ``shared_axes``.

    >>> import numpy as np
    >>> layer = PReLU(alpha_initializer="ones")
    >>> layer(np.array([[-2.0, 3.0]])).tolist()
    [[-2.0, 3.0]]
    """

    def __init__(
        self,
        alpha_initializer="Zeros",
        alpha_regularizer=None,
        alpha_constraint=None,
        shared_axes=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.alpha_initializer = initializers.get(alpha_initializer)
        self.alpha_regularizer = regularizers.get(alpha_regularizer)
        self.alpha_constraint = constraints.get(alpha_constraint)
        if shared_axes is None:
            self.shared_axes = None
        elif isinstance(shared_axes, int):
            self.shared_axes = [shared_axes]
        else:
            self.shared_axes = [int(a) for a in shared_axes]

    def build(self, input_shape):
        shape = list(input_shape[1:])
        for axis in self.shared_axes or []:
            if not 1 <= axis <= len(shape):
                raise ValueError(
                    f"PReLU layer '{self.name}': shared_axes must name axes 1..{len(shape)} of "
                    f"inputs of shape {tuple(input_shape)}. Received: "
                    f"shared_axes={self.shared_axes}"
                )
            shape[axis - 1] = 1
        if any(d is None for d in shape):
            raise ValueError(
                f"PReLU layer '{self.name}' needs known dimensions outside "
                f"shared_axes; received input shape {tuple(input_shape)}."
            )
        self.add_weight(
            shape=tuple(shape),
            initializer=self.alpha_initializer,
            regularizer=self.alpha_regularizer,
            constraint=self.alpha_constraint,
            name="alpha",
        )
        self._reduce_axes = (0,) + tuple(self.shared_axes or ())
        self.built = True

    def forward(self, x, training=False):
        negative_part = xp.minimum(x, 0)
        self.cache = (x >= 0, negative_part)
        return (xp.maximum(x, 0) + self.params["alpha"] * negative_part).astype(x.dtype, copy=False)

    def backward(self, dy, ctx: BackwardContext = DEFAULT_BACKWARD):
        positive, negative_part = self.cache
        # dL/dalpha = sum over the batch and shared axes of dy * min(x, 0)
        self.grads["alpha"] += (dy * negative_part).sum(axis=self._reduce_axes, keepdims=True)[0]
        if not ctx.need_input_grad:
            return None
        return xp.where(positive, dy, dy * self.params["alpha"])

    def get_config(self):
        return {
            **super().get_config(),
            "alpha_initializer": initializers.serialize(self.alpha_initializer),
            "alpha_regularizer": regularizers.serialize(self.alpha_regularizer),
            "alpha_constraint": constraints.serialize(self.alpha_constraint),
            "shared_axes": self.shared_axes,
        }


class ELU(Layer):
    """Exponential linear unit: ``x`` for ``x > 0``, ``alpha * (exp(x) - 1)`` otherwise.

    >>> import numpy as np
    >>> ELU(alpha=2.0)(np.array([[0.0, 1.0]])).tolist()
    [[0.0, 1.0]]
    """

    def __init__(self, alpha=1.0, **kwargs):
        super().__init__(**kwargs)
        self.alpha = float(alpha)

    def forward(self, x, training=False):
        positive = x > 0
        scaled_exp = self.alpha * xp.exp(xp.minimum(x, 0))  # d/dx of the negative branch
        self.cache = (positive, scaled_exp)
        return xp.where(positive, x, scaled_exp - self.alpha).astype(x.dtype, copy=False)

    def backward(self, dy, ctx: BackwardContext = DEFAULT_BACKWARD):
        if not ctx.need_input_grad:
            return None
        positive, scaled_exp = self.cache
        return xp.where(positive, dy, dy * scaled_exp)

    def get_config(self):
        return {**super().get_config(), "alpha": self.alpha}


def _large_negative(dtype):
    # what masked logits become: small enough to vanish, finite even in float16
    return -3e4 if xp.dtype(dtype).itemsize <= 2 else -1e9


class Softmax(Layer):
    """Softmax along ``axis``; positions where ``mask`` is False get probability 0.

    Args:
        axis: the axis (or tuple of axes) normalised over.

    Call arguments:
        mask: boolean array broadcastable to the inputs (True: keep).

    >>> import numpy as np
    >>> Softmax()(np.log(np.array([[1.0, 3.0]]))).round(4).tolist()
    [[0.25, 0.75]]
    >>> Softmax()(np.zeros((1, 3)), mask=np.array([[True, True, False]])).tolist()
    [[0.5, 0.5, 0.0]]
    """

    supports_masking = True

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        self.axis = tuple(int(a) for a in axis) if isinstance(axis, (list, tuple)) else int(axis)

    def forward(self, x, training=False, mask=None):
        if mask is not None:
            mask = xp.asarray(mask)
            if mask.dtype != bool:
                mask = mask > 0.5
            x = xp.where(mask, x, x.dtype.type(_large_negative(x.dtype)))
        shifted = x - x.max(axis=self.axis, keepdims=True)
        y = xp.exp(shifted)
        y /= y.sum(axis=self.axis, keepdims=True)
        if mask is not None:
            y = y * mask  # a fully masked row gives zeros, not a uniform distribution
        self.cache = (y, mask)
        return y

    def backward(self, dy, ctx: BackwardContext = DEFAULT_BACKWARD):
        if not ctx.need_input_grad:
            return None
        y, mask = self.cache
        if mask is not None:
            dy = dy * mask
        # dL/dx = y * (dy - sum(dy * y)) along the axis; masked inputs get 0 (y is 0 there)
        return y * (dy - (dy * y).sum(axis=self.axis, keepdims=True))

    def compute_mask(self, x, mask=None):
        return mask

    def get_config(self):
        axis = list(self.axis) if isinstance(self.axis, tuple) else self.axis
        return {**super().get_config(), "axis": axis}
