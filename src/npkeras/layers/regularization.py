"""Regularization layers: SpatialDropout1D/2D/3D, GaussianNoise, GaussianDropout,
AlphaDropout, ActivityRegularization.

Random only while training (``training=True``), the identity at inference. Each layer
draws from its own generator when given a ``seed``, else from ``backend.rng()`` (seeded by
``npkeras.utils.set_random_seed``). Masks pass through unchanged (``supports_masking``).
"""

from __future__ import annotations

import math

from npkeras import backend, regularizers
from npkeras.backend import xp
from npkeras.layers.base import DEFAULT_BACKWARD, Layer
from npkeras.layers.core import Dropout
from npkeras.layers.reshaping import standardize_data_format


def _noise_dtype(dtype):
    """The float type to draw noise in: the input's, or float64 below float32 (NumPy's
    generator draws float32 and float64 only)."""
    return dtype if dtype.kind == "f" and dtype.itemsize >= 4 else xp.dtype("float64")


class _SpatialDropout(Dropout):
    """Dropout of whole feature maps: one draw per (sample, channel), shared over the
    spatial axes, via Dropout's ``noise_shape``."""

    rank = 1
    supports_masking = True

    def __init__(self, rate: float, data_format=None, seed: int | None = None, **kwargs):
        super().__init__(rate, seed=seed, **kwargs)
        self.data_format = standardize_data_format(
            f"{type(self).__name__} layer '{self.name}'", data_format
        )
        spatial = (1,) * self.rank
        self.noise_shape = (
            (None,) + spatial + (None,)
            if self.data_format == "channels_last"
            else (None, None) + spatial
        )

    def forward(self, x, training=False, mask=None):
        if x.ndim != self.rank + 2:
            raise ValueError(
                f"{type(self).__name__} layer '{self.name}' expects inputs of rank "
                f"{self.rank + 2}; received shape {x.shape}."
            )
        return super().forward(x, training=training)

    def get_config(self):
        config = super().get_config()
        del config["noise_shape"]  # fixed by the class, not an argument
        if self.rank > 1:
            config["data_format"] = self.data_format
        return config


class SpatialDropout1D(_SpatialDropout):
    """Drops whole channels of ``(batch, steps, channels)``: the same channels for every
    step of a sample, kept ones scaled by ``1 / (1 - rate)``.

    Args:
        rate: fraction of channels to drop, in [0, 1).
        seed: own random seed.

    >>> import numpy as np
    >>> SpatialDropout1D(0.5)(np.ones((1, 2, 3))).tolist()   # inference: identity
    [[[1.0, 1.0, 1.0], [1.0, 1.0, 1.0]]]
    """

    rank = 1

    def __init__(self, rate: float, seed: int | None = None, **kwargs):
        super().__init__(rate, None, seed, **kwargs)


class SpatialDropout2D(_SpatialDropout):
    """Drops whole feature maps of images ``(batch, rows, cols, channels)``.

    Args:
        rate: fraction of channels to drop, in [0, 1).
        data_format: "channels_last" (default) or "channels_first".
        seed: own random seed.

    >>> import numpy as np
    >>> y = SpatialDropout2D(0.5, seed=1)(np.ones((1, 2, 2, 8)), training=True)
    >>> bool((y[0] == y[0, :1, :1]).all())   # one draw per channel
    True
    """

    rank = 2


class SpatialDropout3D(_SpatialDropout):
    """Drops whole feature maps of volumes ``(batch, d1, d2, d3, channels)``.

    Args:
        rate: fraction of channels to drop, in [0, 1).
        data_format: "channels_last" (default) or "channels_first".
        seed: own random seed.

    >>> import numpy as np
    >>> SpatialDropout3D(0.5)(np.ones((1, 1, 1, 1, 2))).tolist()
    [[[[[1.0, 1.0]]]]]
    """

    rank = 3


class _Noise(Layer):
    """Seed handling and argument checks shared by the noise layers."""

    supports_masking = True

    def __init__(self, seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        self.seed = seed
        self._rng = None if seed is None else xp.random.default_rng(seed)

    def _generator(self):
        return self._rng if self._rng is not None else backend.rng()

    def _check_fraction(self, name, value, high_open=True):
        value = float(value)
        if not (0.0 <= value < 1.0 if high_open else 0.0 <= value <= 1.0):
            raise ValueError(
                f"Invalid value received for argument `{name}` of {type(self).__name__} layer "
                f"'{self.name}'. Expected a float value between 0 and 1"
                f"{' (1 excluded)' if high_open else ''}. Received: {name}={value}"
            )
        return value

    def get_config(self):
        return {**super().get_config(), "seed": self.seed}


class GaussianNoise(_Noise):
    """Adds zero-mean Gaussian noise while training: ``x + N(0, stddev**2)``.

    Args:
        stddev: noise standard deviation, in [0, 1] (Keras's bounds).
        seed: own random seed.

    >>> import numpy as np
    >>> GaussianNoise(0.1)(np.ones((1, 2))).tolist()   # inference: identity
    [[1.0, 1.0]]
    """

    def __init__(self, stddev: float, seed: int | None = None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        self.stddev = self._check_fraction("stddev", stddev, high_open=False)

    def forward(self, x, training=False, mask=None):
        if not training or self.stddev == 0.0:
            return x
        noise = self._generator().standard_normal(x.shape, dtype=_noise_dtype(x.dtype))
        return x + (self.stddev * noise).astype(x.dtype, copy=False)

    def backward(self, dy, ctx=DEFAULT_BACKWARD):
        return dy if ctx.need_input_grad else None  # additive noise: dL/dx = dL/dy

    def get_config(self):
        return {**super().get_config(), "stddev": self.stddev}


class GaussianDropout(_Noise):
    """Multiplies by Gaussian noise of mean 1 while training: ``x * N(1, rate / (1 - rate))``.

    Args:
        rate: the equivalent dropout rate, in [0, 1).
        seed: own random seed.

    >>> import numpy as np
    >>> GaussianDropout(0.2)(np.ones((1, 2))).tolist()   # inference: identity
    [[1.0, 1.0]]
    """

    def __init__(self, rate: float, seed: int | None = None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        self.rate = self._check_fraction("rate", rate)

    def forward(self, x, training=False, mask=None):
        if not training or self.rate == 0.0:
            self.cache = None
            return x
        stddev = math.sqrt(self.rate / (1.0 - self.rate))
        noise = self._generator().standard_normal(x.shape, dtype=_noise_dtype(x.dtype))
        noise = (noise * stddev + 1.0).astype(x.dtype, copy=False)
        self.cache = noise
        return x * noise

    def backward(self, dy, ctx=DEFAULT_BACKWARD):
        if not ctx.need_input_grad:
            return None
        return dy if self.cache is None else dy * self.cache

    def get_config(self):
        return {**super().get_config(), "rate": self.rate}


class AlphaDropout(_Noise):
    """Dropout that keeps SELU's self-normalising mean and variance: dropped values are
    set to SELU's negative saturation ``-alpha * scale``, then ``a * x + b`` restores the
    mean and variance (Klambauer et al., 2017, https://arxiv.org/abs/1706.02515).

    Args:
        rate: fraction of inputs to drop, in [0, 1).
        noise_shape: shape of the keep mask (None entries follow the input).
        seed: own random seed.

    >>> import numpy as np
    >>> AlphaDropout(0.3)(np.ones((1, 2))).tolist()   # inference: identity
    [[1.0, 1.0]]
    """

    _ALPHA = 1.6732632423543772848170429916717
    _SCALE = 1.0507009873554804934193349852946

    def __init__(self, rate: float, noise_shape=None, seed: int | None = None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        self.rate = self._check_fraction("rate", rate)
        self.noise_shape = tuple(noise_shape) if noise_shape is not None else None

    def forward(self, x, training=False, mask=None):
        if not training or self.rate == 0.0:
            self.cache = None
            return x
        shape = x.shape
        if self.noise_shape is not None:
            if len(self.noise_shape) != x.ndim:
                raise ValueError(
                    f"AlphaDropout layer '{self.name}': noise_shape={self.noise_shape} has rank "
                    f"{len(self.noise_shape)}, but the inputs have shape {x.shape}."
                )
            shape = tuple(d if n is None else n for n, d in zip(self.noise_shape, x.shape))
        keep = self._generator().random(shape) >= self.rate
        alpha_p = -self._ALPHA * self._SCALE
        a = ((1.0 - self.rate) * (1.0 + self.rate * alpha_p**2)) ** -0.5
        b = -a * alpha_p * self.rate
        kept_scale = xp.where(keep, a, 0.0).astype(x.dtype)  # dL/dx = dy * a on kept entries
        dropped_value = xp.where(keep, b, a * alpha_p + b).astype(x.dtype)
        self.cache = kept_scale
        return x * kept_scale + dropped_value

    def backward(self, dy, ctx=DEFAULT_BACKWARD):
        if not ctx.need_input_grad:
            return None
        if self.cache is None:
            return dy
        dx = dy * self.cache
        return dx if dx.shape == dy.shape else xp.broadcast_to(dx, dy.shape).copy()

    def get_config(self):
        return {
            **super().get_config(),
            "rate": self.rate,
            "noise_shape": list(self.noise_shape) if self.noise_shape else None,
        }


class ActivityRegularization(Layer):
    """The identity, adding ``l1 * sum(|x|) + l2 * sum(x**2)`` of its input to the loss.

    Args:
        l1, l2: the penalty factors.

    >>> import numpy as np
    >>> layer = ActivityRegularization(l2=0.5)
    >>> layer(np.array([[1.0, 2.0]])).tolist(), float(layer.activity_loss)
    ([[1.0, 2.0]], 2.5)
    """

    supports_masking = True

    def __init__(self, l1: float = 0.0, l2: float = 0.0, **kwargs):
        super().__init__(**kwargs)
        self.activity_regularizer = regularizers.L1L2(l1=l1, l2=l2)
        self.l1, self.l2 = self.activity_regularizer.l1, self.activity_regularizer.l2

    def forward(self, x, training=False, mask=None):
        self.cache = x
        self.activity_loss = self.activity_regularizer(x)  # the trainer adds it to the loss
        return x

    def backward(self, dy, ctx=DEFAULT_BACKWARD):
        if not ctx.need_input_grad:
            return None
        return dy + self.activity_regularizer.grad(self.cache)

    def get_config(self):
        return {**super().get_config(), "l1": self.l1, "l2": self.l2}
