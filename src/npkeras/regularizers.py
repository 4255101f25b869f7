"""Weight penalties added to the loss, with their gradients.

>>> import numpy as np
>>> from npkeras import regularizers
>>> float(regularizers.L2(0.5)(np.array([1.0, 2.0])))
2.5
"""

from __future__ import annotations

from npkeras import backend
from npkeras.backend import xp
from npkeras.registry import resolve, serialize_object


class Regularizer:
    """Base class: ``__call__(w)`` is the penalty, ``grad(w)`` its gradient."""

    def __call__(self, w):
        raise NotImplementedError

    def grad(self, w):
        raise NotImplementedError

    def get_config(self) -> dict:
        return {}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def _check_factor(name, value):
    value = float(value)
    if not value >= 0 or value != value:
        raise ValueError(f"`{name}` must be a non-negative float; received {name}={value}.")
    return value


class L1L2(Regularizer):
    """``l1 * sum(|w|) + l2 * sum(w**2)`` (Keras's definition: no 1/2 on the L2 term)."""

    def __init__(self, l1: float = 0.0, l2: float = 0.0):
        self.l1 = _check_factor("l1", l1)
        self.l2 = _check_factor("l2", l2)

    def __call__(self, w):
        total = 0.0
        if self.l1:
            total += self.l1 * backend.to_float(xp.abs(w).sum())
        if self.l2:
            total += self.l2 * backend.to_float((w * w).sum())
        return total

    def grad(self, w):
        g = xp.zeros_like(w)
        if self.l1:
            g += self.l1 * xp.sign(w)
        if self.l2:
            g += (2.0 * self.l2) * w
        return g

    def get_config(self):
        return {"l1": self.l1, "l2": self.l2}


class L1(L1L2):
    def __init__(self, l1: float = 0.01):
        super().__init__(l1=l1)

    def get_config(self):
        return {"l1": self.l1}


class L2(L1L2):
    def __init__(self, l2: float = 0.01):
        super().__init__(l2=l2)

    def get_config(self):
        return {"l2": self.l2}


#: Keras's lower-case aliases: ``keras.regularizers.l2(0.01)``
l1 = L1
l2 = L2
l1_l2 = L1L2

_CLASSES = {"l1": L1, "l2": L2, "l1_l2": L1L2, "l1l2": L1L2}


def get(identifier) -> Regularizer | None:
    """A regularizer from None, a name ('l2'), an object or a config dict."""

    return None if identifier is None else resolve(identifier, "regularizer", _CLASSES, Regularizer)


def serialize(regularizer):
    if regularizer is None:
        return None

    return serialize_object(regularizer)
