"""Weight constraints with Keras names: ``constraint(w) -> w`` projects a weight back onto
an allowed set after an optimizer step (MaxNorm, MinMaxNorm, NonNeg, UnitNorm).

Norms are taken along ``axis`` (Keras's default 0: over the inputs of each unit of a
Dense kernel ``(input_dim, units)``).

>>> import numpy as np
>>> from npkeras import constraints
>>> constraints.NonNeg()(np.array([-1.0, 2.0])).tolist()
[0.0, 2.0]
"""

from __future__ import annotations

from npkeras import backend
from npkeras.backend import xp
from npkeras.ops.tape import value_of
from npkeras.registry import (
    custom_object_scope,
    get_registered_object,
    registered_function_name,
    resolve,
    serialize_object,
)


class Constraint:
    """Base class: ``__call__(w)`` returns the projected weight (a new array)."""

    def __call__(self, w):
        return w

    def get_config(self) -> dict:
        return {}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def _norms(w, axis):
    return xp.sqrt((w * w).sum(axis=axis, keepdims=True))


def _check_axis(axis, owner):
    if isinstance(axis, (list, tuple)):
        return [int(a) for a in axis]
    if isinstance(axis, bool) or not isinstance(axis, int):
        raise TypeError(
            f"Invalid value for `axis` of {owner}, expected an integer or a list "
            f"of integers. Received: axis={axis!r}"
        )
    return axis


class MaxNorm(Constraint):
    """Rescale each slice along ``axis`` whose L2 norm exceeds ``max_value`` to that norm.

    Args:
        max_value: the largest norm allowed.
        axis: the axis (or axes) the norm is taken over.

    >>> import numpy as np
    >>> MaxNorm(1.0)(np.array([[3.0, 0.1], [4.0, 0.0]])).round(4).tolist()
    [[0.6, 0.1], [0.8, 0.0]]
    """

    def __init__(self, max_value=2, axis=0):
        if not max_value > 0:
            raise ValueError(
                "Invalid value for `max_value` of MaxNorm, expected a positive "
                f"number. Received: max_value={max_value!r}"
            )
        self.max_value = max_value
        self.axis = _check_axis(axis, "MaxNorm")

    def __call__(self, w):
        w = xp.asarray(value_of(w))
        axis = tuple(self.axis) if isinstance(self.axis, list) else self.axis
        norms = _norms(w, axis)
        desired = xp.clip(norms, 0, self.max_value)
        return (w * (desired / (backend.epsilon() + norms))).astype(w.dtype)

    def get_config(self):
        return {"max_value": self.max_value, "axis": self.axis}


class MinMaxNorm(Constraint):
    """Move each slice's L2 norm into ``[min_value, max_value]``, by ``rate`` of the way.

    Args:
        min_value, max_value: the allowed range of norms.
        rate: 1.0 projects fully; smaller values move part way each step.
        axis: the axis (or axes) the norm is taken over.
    """

    def __init__(self, min_value=0.0, max_value=1.0, rate=1.0, axis=0):
        if not 0 <= min_value <= max_value:
            raise ValueError(
                "MinMaxNorm needs 0 <= min_value <= max_value. Received: "
                f"min_value={min_value!r}, max_value={max_value!r}"
            )
        self.min_value, self.max_value, self.rate = min_value, max_value, rate
        self.axis = _check_axis(axis, "MinMaxNorm")

    def __call__(self, w):
        w = xp.asarray(value_of(w))
        axis = tuple(self.axis) if isinstance(self.axis, list) else self.axis
        norms = _norms(w, axis)
        desired = (
            self.rate * xp.clip(norms, self.min_value, self.max_value) + (1 - self.rate) * norms
        )
        return (w * (desired / (backend.epsilon() + norms))).astype(w.dtype)

    def get_config(self):
        return {
            "min_value": self.min_value,
            "max_value": self.max_value,
            "rate": self.rate,
            "axis": self.axis,
        }


class NonNeg(Constraint):
    """Negative entries become 0."""

    def __call__(self, w):
        w = xp.asarray(value_of(w))
        return xp.where(w >= 0, w, xp.zeros((), w.dtype))


class UnitNorm(Constraint):
    """Scale each slice along ``axis`` to unit L2 norm.

    >>> import numpy as np
    >>> UnitNorm(axis=1)(np.array([[3.0, 4.0]])).round(6).tolist()
    [[0.6, 0.8]]
    """

    def __init__(self, axis=0):
        self.axis = _check_axis(axis, "UnitNorm")

    def __call__(self, w):
        w = xp.asarray(value_of(w))
        axis = tuple(self.axis) if isinstance(self.axis, list) else self.axis
        return (w / (backend.epsilon() + _norms(w, axis))).astype(w.dtype)

    def get_config(self):
        return {"axis": self.axis}


max_norm = MaxNorm
min_max_norm = MinMaxNorm
non_neg = NonNeg
unit_norm = UnitNorm

_CLASSES = {
    "max_norm": MaxNorm,
    "min_max_norm": MinMaxNorm,
    "non_neg": NonNeg,
    "unit_norm": UnitNorm,
}


def get(identifier) -> Constraint | None:
    """A constraint from None, a name ('max_norm'), an object or a config dict."""

    if identifier is None:
        return None
    if callable(identifier) and not isinstance(identifier, (Constraint, type)):
        return identifier  # a plain function w -> w, as Keras allows
    if isinstance(identifier, str) and identifier.lower() not in _CLASSES:
        function = get_registered_object(identifier)  # a registered function's saved name
        if callable(function) and not isinstance(function, type):
            return function
    return resolve(identifier, "constraint", _CLASSES, Constraint)


def serialize(constraint):
    """A constraint's config; a plain function by the name it is registered under."""
    if constraint is None:
        return None
    if not isinstance(constraint, Constraint):
        key = registered_function_name(constraint)
        if key is None:
            raise ValueError(
                f"The constraint {getattr(constraint, '__name__', constraint)!r} cannot be "
                "saved: npkeras saves functions by registered name, never as code. Decorate "
                "it with @keras.saving.register_keras_serializable(), or subclass "
                "keras.constraints.Constraint."
            )
        return key
    return serialize_object(constraint)


def deserialize(config, custom_objects: dict | None = None):

    with custom_object_scope(custom_objects):
        return get(config)
