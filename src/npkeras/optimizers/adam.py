"""The Adam family: Adam (with AMSGrad), AdamW, Adamax and Nadam, following Keras's
update rules (epsilon added to sqrt(v) *before* the bias correction of the step size;
PyTorch adds it after, so the two differ slightly when v is tiny)."""

from __future__ import annotations

import math

from npkeras import backend
from npkeras.backend import xp
from npkeras.optimizers.base import Optimizer, float_arg


def update_moments(g, m, vel, tmp, beta_1, beta_2):
    """In place: ``m += (g - m)(1 - beta_1)`` and ``vel += (g^2 - vel)(1 - beta_2)``."""
    xp.subtract(g, m, out=tmp)
    tmp *= 1.0 - beta_1
    m += tmp
    xp.multiply(g, g, out=tmp)
    tmp -= vel
    tmp *= 1.0 - beta_2
    vel += tmp


class Adam(Optimizer):
    """Adam (Kingma & Ba, 2015).

    ``m += (g - m)(1 - beta_1); v += (g^2 - v)(1 - beta_2);``
    ``w -= lr * sqrt(1 - beta_2^t) / (1 - beta_1^t) * m / (sqrt(v) + epsilon)``.
    With ``amsgrad`` the running maximum of v is used.
    """

    def __init__(
        self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, amsgrad=False, **kwargs
    ):
        super().__init__(learning_rate, **kwargs)
        owner = type(self).__name__
        self.beta_1 = float_arg(owner, "beta_1", beta_1, 0.0, 1.0)
        self.beta_2 = float_arg(owner, "beta_2", beta_2, 0.0, 1.0)
        self.epsilon = float_arg(owner, "epsilon", epsilon)
        self.amsgrad = bool(amsgrad)
        self.slot_names = ("momentum", "velocity") + (("velocity_hat",) if self.amsgrad else ())

    def update_step(self, g, v, lr, slots, tmp):
        t = self.iterations + 1
        alpha = lr * math.sqrt(1.0 - self.beta_2**t) / (1.0 - self.beta_1**t)
        m, vel = slots["momentum"], slots["velocity"]
        vel_hat = slots["velocity_hat"] if self.amsgrad else None
        if backend.kernels is not None:
            try:  # one pass; refused before any write for arrays it does not take
                backend.kernels.adam(
                    v, g, m, vel, vel_hat, alpha, self.beta_1, self.beta_2, self.epsilon
                )
                return
            except TypeError:
                pass
        update_moments(g, m, vel, tmp, self.beta_1, self.beta_2)
        if self.amsgrad:
            xp.maximum(vel_hat, vel, out=vel_hat)
            vel = vel_hat
        xp.sqrt(vel, out=tmp)
        tmp += self.epsilon
        xp.divide(m, tmp, out=tmp)
        tmp *= alpha
        v -= tmp

    def get_config(self):
        return {
            **super().get_config(),
            "beta_1": self.beta_1,
            "beta_2": self.beta_2,
            "epsilon": self.epsilon,
            "amsgrad": self.amsgrad,
        }


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter, 2019): ``w *= 1 - lr * weight_decay``
    before each Adam update. Default ``weight_decay=0.004`` as in Keras."""

    def __init__(
        self,
        learning_rate=0.001,
        weight_decay=0.004,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-7,
        amsgrad=False,
        **kwargs,
    ):
        super().__init__(
            learning_rate, beta_1, beta_2, epsilon, amsgrad, weight_decay=weight_decay, **kwargs
        )


class Adamax(Optimizer):
    """Adamax: Adam with the infinity norm, ``u = max(beta_2 * u, |g|)``."""

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, **kwargs):
        super().__init__(learning_rate, **kwargs)
        self.beta_1 = float_arg("Adamax", "beta_1", beta_1, 0.0, 1.0)
        self.beta_2 = float_arg("Adamax", "beta_2", beta_2, 0.0, 1.0)
        self.epsilon = float_arg("Adamax", "epsilon", epsilon)
        self.slot_names = ("momentum", "norm")

    def update_step(self, g, v, lr, slots, tmp):
        m, u = slots["momentum"], slots["norm"]
        xp.subtract(g, m, out=tmp)
        tmp *= 1.0 - self.beta_1
        m += tmp
        u *= self.beta_2
        xp.maximum(u, xp.abs(g, out=tmp), out=u)
        xp.add(u, self.epsilon, out=tmp)
        xp.divide(m, tmp, out=tmp)
        tmp *= lr / (1.0 - self._step_power(self.beta_1))
        v -= tmp

    def get_config(self):
        return {
            **super().get_config(),
            "beta_1": self.beta_1,
            "beta_2": self.beta_2,
            "epsilon": self.epsilon,
        }


class Nadam(Optimizer):
    """Adam with Nesterov momentum (Dozat, 2016), with Keras's momentum schedule
    ``u_t = beta_1 (1 - 0.5 * 0.96^t)``."""

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, **kwargs):
        super().__init__(learning_rate, **kwargs)
        self.beta_1 = float_arg("Nadam", "beta_1", beta_1, 0.0, 1.0)
        self.beta_2 = float_arg("Nadam", "beta_2", beta_2, 0.0, 1.0)
        self.epsilon = float_arg("Nadam", "epsilon", epsilon)
        self.slot_names = ("momentum", "velocity")
        self._globals["u_product"] = 1.0

    def _u(self, step):
        return self.beta_1 * (1.0 - 0.5 * 0.96**step)

    def before_update(self):
        self._globals["u_product"] *= self._u(self.iterations + 1)

    def update_step(self, g, v, lr, slots, tmp):
        t = self.iterations + 1
        u_t, u_next = self._u(t), self._u(t + 1)
        u_prod = self._globals["u_product"]
        m, vel = slots["momentum"], slots["velocity"]
        update_moments(g, m, vel, tmp, self.beta_1, self.beta_2)
        m_hat = m * (u_next / (1.0 - u_prod * u_next)) + g * ((1.0 - u_t) / (1.0 - u_prod))
        xp.divide(vel, 1.0 - self.beta_2**t, out=tmp)
        xp.sqrt(tmp, out=tmp)
        tmp += self.epsilon
        xp.divide(m_hat, tmp, out=tmp)
        tmp *= lr
        v -= tmp

    def get_config(self):
        return {
            **super().get_config(),
            "beta_1": self.beta_1,
            "beta_2": self.beta_2,
            "epsilon": self.epsilon,
        }
