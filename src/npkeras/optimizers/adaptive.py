"""Per-coordinate adaptive optimizers: RMSprop, Adagrad and Adadelta (Keras's rules)."""

from __future__ import annotations

from npkeras.backend import xp
from npkeras.optimizers.base import Optimizer, float_arg


class RMSprop(Optimizer):
    """``s = rho s + (1 - rho) g^2; w -= lr g / sqrt(s + epsilon)``.

    ``centered`` subtracts the squared running mean of g from s; ``momentum`` accumulates
    the increments. Keras puts epsilon inside the square root (PyTorch outside).
    """

    def __init__(
        self, learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7, centered=False, **kwargs
    ):
        super().__init__(learning_rate, **kwargs)
        self.rho = float_arg("RMSprop", "rho", rho, 0.0, 1.0)
        self.momentum = float_arg("RMSprop", "momentum", momentum, 0.0, 1.0)
        self.epsilon = float_arg("RMSprop", "epsilon", epsilon)
        self.centered = bool(centered)
        self.slot_names = (
            ("velocity",)
            + (("momentum",) if self.momentum else ())
            + (("average_gradient",) if self.centered else ())
        )

    def update_step(self, g, v, lr, slots, tmp):
        vel = slots["velocity"]
        vel *= self.rho
        xp.multiply(g, g, out=tmp)
        tmp *= 1.0 - self.rho
        vel += tmp
        if self.centered:
            avg = slots["average_gradient"]
            avg *= self.rho
            avg += (1.0 - self.rho) * g
            xp.multiply(avg, avg, out=tmp)
            xp.subtract(vel, tmp, out=tmp)
            tmp += self.epsilon
        else:
            xp.add(vel, self.epsilon, out=tmp)
        xp.sqrt(tmp, out=tmp)
        xp.divide(g, tmp, out=tmp)
        tmp *= lr
        if self.momentum:
            m = slots["momentum"]
            m *= self.momentum
            m += tmp
            v -= m
        else:
            v -= tmp

    def get_config(self):
        return {
            **super().get_config(),
            "rho": self.rho,
            "momentum": self.momentum,
            "epsilon": self.epsilon,
            "centered": self.centered,
        }


class Adagrad(Optimizer):
    """``a += g^2; w -= lr g / sqrt(a + epsilon)``, a starting at ``initial_accumulator_value``."""

    def __init__(self, learning_rate=0.001, initial_accumulator_value=0.1, epsilon=1e-7, **kwargs):
        super().__init__(learning_rate, **kwargs)
        self.initial_accumulator_value = float_arg(
            "Adagrad", "initial_accumulator_value", initial_accumulator_value
        )
        self.epsilon = float_arg("Adagrad", "epsilon", epsilon)
        self.slot_names = ("accumulator",)

    def init_slots(self, slots, variable):
        slots["accumulator"].fill(self.initial_accumulator_value)

    def update_step(self, g, v, lr, slots, tmp):
        acc = slots["accumulator"]
        xp.multiply(g, g, out=tmp)
        acc += tmp
        xp.add(acc, self.epsilon, out=tmp)
        xp.sqrt(tmp, out=tmp)
        xp.divide(g, tmp, out=tmp)
        tmp *= lr
        v -= tmp

    def get_config(self):
        return {
            **super().get_config(),
            "initial_accumulator_value": self.initial_accumulator_value,
            "epsilon": self.epsilon,
        }


class Adadelta(Optimizer):
    """Adadelta (Zeiler, 2012): steps scaled by the ratio of the running RMS of updates and
    of gradients."""

    def __init__(self, learning_rate=0.001, rho=0.95, epsilon=1e-7, **kwargs):
        super().__init__(learning_rate, **kwargs)
        self.rho = float_arg("Adadelta", "rho", rho, 0.0, 1.0)
        self.epsilon = float_arg("Adadelta", "epsilon", epsilon)
        self.slot_names = ("accumulated_grad", "accumulated_delta_var")

    def update_step(self, g, v, lr, slots, tmp):
        acc_g, acc_d = slots["accumulated_grad"], slots["accumulated_delta_var"]
        acc_g *= self.rho
        acc_g += (1.0 - self.rho) * g * g
        delta = -xp.sqrt(acc_d + self.epsilon) * g / xp.sqrt(acc_g + self.epsilon)
        acc_d *= self.rho
        acc_d += (1.0 - self.rho) * delta * delta
        v += lr * delta

    def get_config(self):
        return {**super().get_config(), "rho": self.rho, "epsilon": self.epsilon}
