"""Activation functions, each with its derivative.

An activation is an object with ``__call__(x) -> y`` and ``grad(dy, x, y) -> dx``; the
layer that applies it keeps ``x`` and ``y`` so the derivative can use whichever is
cheaper. Every form here is stable for inputs of +-1e4 (no overflow, no NaN) except
``exponential``, whose true value overflows.

>>> import numpy as np
>>> from npkeras import activations
>>> activations.relu(np.array([-1.0, 2.0])).tolist()
[0.0, 2.0]
>>> activations.get("softmax")(np.array([[0.0, 0.0]])).tolist()
[[0.5, 0.5]]
"""

from __future__ import annotations

import math

from npkeras import backend
from npkeras.backend import erf, xp
from npkeras.registry import resolve, serialize_object

_SELU_ALPHA = 1.6732632423543772
_SELU_SCALE = 1.0507009873554805
_SQRT_HALF = math.sqrt(0.5)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


class Activation:
    """Base class: subclasses define ``__call__`` and ``grad`` (dL/dx from dL/dy).

    An activation whose ``grad`` reads only ``y`` may also define
    ``apply_inplace(z, bias=None)``, which overwrites ``z`` with the output for
    ``z + bias``; layers use it to save a copy and a pass over memory.
    """

    name = "activation"
    apply_inplace = None

    def __call__(self, x):
        raise NotImplementedError

    def grad(self, dy, x, y):
        raise NotImplementedError

    def get_config(self) -> dict:
        return {}

    def __repr__(self) -> str:
        return f"<activation {self.name}>"


class Linear(Activation):
    name = "linear"

    def __call__(self, x):
        return x

    def grad(self, dy, x, y):
        return dy


class ReLU(Activation):
    name = "relu"

    def __call__(self, x):
        return xp.maximum(x, 0)

    def apply_inplace(self, z, bias=None):
        if bias is None:
            return xp.maximum(z, 0, out=z)
        if backend.kernels is not None:
            try:  # checking the arrays first costs more than the kernel on small ones
                backend.kernels.bias_relu(z, bias)  # one pass instead of two
                return z
            except TypeError:  # not C-contiguous float32/float64: nothing written
                pass
        z += bias
        return xp.maximum(z, 0, out=z)

    def grad(self, dy, x, y):
        if backend.kernels is not None:
            dx = xp.empty_like(dy)
            try:
                backend.kernels.relu_grad(dy, y, dx)  # one pass, no mask array
                return dx
            except TypeError:  # arrays the kernel does not take (see apply_inplace)
                pass
        # a product with the mask: NumPy's where() is ten times slower on large arrays
        return dy * (y > 0)


class LeakyReLU(Activation):
    """x for x > 0, ``negative_slope * x`` otherwise (Keras default slope 0.2)."""

    name = "leaky_relu"

    def __init__(self, negative_slope: float = 0.2):
        self.negative_slope = float(negative_slope)

    def _slope(self, x):
        """1 where x > 0, ``negative_slope`` elsewhere, in x's float type."""
        scale = (x > 0).astype(x.dtype)
        scale *= 1.0 - self.negative_slope
        scale += self.negative_slope
        return scale

    def __call__(self, x):
        return x * self._slope(x)

    def grad(self, dy, x, y):
        return dy * self._slope(x)

    def get_config(self):
        return {"negative_slope": self.negative_slope}


class ELU(Activation):
    name = "elu"

    def __init__(self, alpha: float = 1.0):
        self.alpha = float(alpha)

    def __call__(self, x):
        return xp.where(x > 0, x, self.alpha * xp.expm1(xp.minimum(x, 0)))

    def grad(self, dy, x, y):
        return dy * xp.where(x > 0, 1.0, y + self.alpha).astype(dy.dtype)

    def get_config(self):
        return {"alpha": self.alpha}


class SELU(Activation):
    """Scaled ELU with the self-normalising constants of Klambauer et al. (2017)."""

    name = "selu"

    def __call__(self, x):
        return _SELU_SCALE * xp.where(x > 0, x, _SELU_ALPHA * xp.expm1(xp.minimum(x, 0)))

    def grad(self, dy, x, y):
        return dy * xp.where(x > 0, _SELU_SCALE, y + _SELU_SCALE * _SELU_ALPHA).astype(dy.dtype)


class GELU(Activation):
    """Gaussian error linear unit, exact (erf) by default as in Keras and PyTorch."""

    name = "gelu"

    def __init__(self, approximate: bool = False):
        self.approximate = bool(approximate)

    def __call__(self, x):
        if self.approximate:
            inner = math.sqrt(2.0 / math.pi) * (x + 0.044715 * x**3)
            return 0.5 * x * (1.0 + xp.tanh(inner))
        return 0.5 * x * (1.0 + erf(x * _SQRT_HALF))

    def grad(self, dy, x, y):
        if self.approximate:
            c = math.sqrt(2.0 / math.pi)
            t = xp.tanh(c * (x + 0.044715 * x**3))
            d = 0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * c * (1.0 + 3 * 0.044715 * x * x)
            return dy * d
        cdf = 0.5 * (1.0 + erf(x * _SQRT_HALF))
        pdf = _INV_SQRT_2PI * xp.exp(-0.5 * x * x)
        return dy * (cdf + x * pdf)

    def get_config(self):
        return {"approximate": self.approximate}


def _sigmoid(x):
    # 0.5 * (1 + tanh(x / 2)) equals 1 / (1 + exp(-x)) and never overflows.
    return 0.5 * (1.0 + xp.tanh(0.5 * x))


class Sigmoid(Activation):
    name = "sigmoid"

    def __call__(self, x):
        return _sigmoid(x)

    def grad(self, dy, x, y):
        return dy * y * (1.0 - y)


class Tanh(Activation):
    name = "tanh"

    def __call__(self, x):
        return xp.tanh(x)

    def grad(self, dy, x, y):
        return dy * (1.0 - y * y)


class Softmax(Activation):
    """exp(x) / sum(exp(x)) along ``axis``, shifted by the max for stability."""

    name = "softmax"

    def __init__(self, axis: int = -1):
        self.axis = int(axis)

    def __call__(self, x):
        e = xp.exp(x - backend.reduce_max(x, self.axis))
        e /= backend.reduce_sum(e, self.axis)
        return e

    def grad(self, dy, x, y):
        # dL/dx = y * (dy - sum(dy * y))
        return y * (dy - backend.reduce_sum(dy * y, self.axis))

    def get_config(self):
        return {"axis": self.axis}


def logsumexp(x, axis=-1):
    """log(sum(exp(x))) along ``axis`` without overflow; keeps the reduced axis."""
    top = backend.reduce_max(x, axis)
    return top + xp.log(backend.reduce_sum(xp.exp(x - top), axis))


class LogSoftmax(Activation):
    name = "log_softmax"

    def __init__(self, axis: int = -1):
        self.axis = int(axis)

    def __call__(self, x):
        return x - logsumexp(x, self.axis)

    def grad(self, dy, x, y):
        return dy - xp.exp(y) * backend.reduce_sum(dy, self.axis)

    def get_config(self):
        return {"axis": self.axis}


class Softplus(Activation):
    name = "softplus"

    def __call__(self, x):
        return xp.logaddexp(0.0, x).astype(x.dtype, copy=False)

    def grad(self, dy, x, y):
        return dy * _sigmoid(x)


class Softsign(Activation):
    name = "softsign"

    def __call__(self, x):
        return x / (1.0 + xp.abs(x))

    def grad(self, dy, x, y):
        d = 1.0 + xp.abs(x)
        return dy / (d * d)


class SiLU(Activation):
    """x * sigmoid(x), also called swish."""

    name = "silu"

    def __call__(self, x):
        return x * _sigmoid(x)

    def grad(self, dy, x, y):
        s = _sigmoid(x)
        return dy * s * (1.0 + x * (1.0 - s))


class HardSigmoid(Activation):
    """relu6(x + 3) / 6, the Keras 3 definition."""

    name = "hard_sigmoid"

    def __call__(self, x):
        return xp.clip(x / 6.0 + 0.5, 0.0, 1.0)

    def grad(self, dy, x, y):
        return dy * ((x > -3.0) & (x < 3.0)) / 6.0


class Exponential(Activation):
    name = "exponential"

    def __call__(self, x):
        return xp.exp(x)

    def grad(self, dy, x, y):
        return dy * y


linear = Linear()
relu = ReLU()
leaky_relu = LeakyReLU()
elu = ELU()
selu = SELU()
gelu = GELU()
sigmoid = Sigmoid()
tanh = Tanh()
softmax = Softmax()
log_softmax = LogSoftmax()
softplus = Softplus()
softsign = Softsign()
silu = SiLU()
swish = silu
hard_sigmoid = HardSigmoid()
exponential = Exponential()

_CLASSES = {
    cls.name: cls
    for cls in (
        Linear,
        ReLU,
        LeakyReLU,
        ELU,
        SELU,
        GELU,
        Sigmoid,
        Tanh,
        Softmax,
        LogSoftmax,
        Softplus,
        Softsign,
        SiLU,
        HardSigmoid,
        Exponential,
    )
}
_ALIASES = {"swish": "silu", "none": "linear"}


def get(identifier) -> Activation:
    """An activation from a name, an :class:`Activation`, a config dict or None (linear)."""

    if identifier is None:
        return linear
    if callable(identifier) and not isinstance(identifier, Activation):
        raise TypeError(
            f"Activation {identifier!r} is a plain function, which has no derivative. "
            "Subclass `npkeras.activations.Activation` and define `__call__(x)` and "
            "`grad(dy, x, y)`."
        )
    return resolve(identifier, "activation", _CLASSES, Activation, _ALIASES)


def serialize(activation: Activation):
    """A name for built-in activations with default settings, else a class config."""
    config = activation.get_config()
    if type(activation) in _CLASSES.values() and config == type(activation)().get_config():
        return activation.name

    return serialize_object(activation)
