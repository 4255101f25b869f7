"""Stochastic gradient descent with optional (Nesterov) momentum."""

from __future__ import annotations

from npkeras import backend
from npkeras.backend import xp
from npkeras.optimizers.base import Optimizer, float_arg


class SGD(Optimizer):
    """``v -= lr * g``; with momentum ``m = momentum * m - lr * g; v += m``
    (Nesterov: ``v += momentum * m - lr * g``), as in Keras.

    >>> import numpy as np
    >>> w = np.array([1.0]); SGD(learning_rate=0.1).apply([np.array([2.0])], [w]); w.tolist()
    [0.8]
    """

    default_learning_rate = 0.01

    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False, **kwargs):
        super().__init__(learning_rate, **kwargs)
        self.momentum = float_arg("SGD", "momentum", momentum, 0.0, 1.0)
        self.nesterov = bool(nesterov)
        self.slot_names = ("momentum",) if self.momentum else ()

    def update_step(self, g, v, lr, slots, tmp):
        m = slots["momentum"] if self.momentum else None
        if backend.kernels is not None:
            try:  # one pass; refused before any write for arrays it does not take
                backend.kernels.sgd(v, g, m, lr, self.momentum, self.nesterov)
                return
            except TypeError:
                pass
        xp.multiply(g, lr, out=tmp)
        if not self.momentum:
            v -= tmp
            return
        m *= self.momentum
        m -= tmp
        if self.nesterov:
            v -= tmp
            xp.multiply(m, self.momentum, out=tmp)
        else:
            tmp[...] = m
        v += tmp

    def get_config(self):
        return {**super().get_config(), "momentum": self.momentum, "nesterov": self.nesterov}
