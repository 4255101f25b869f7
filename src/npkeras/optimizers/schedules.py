"""Learning-rate schedules: callables of the optimizer step (0 for the first update)."""

from __future__ import annotations

import math

from npkeras.registry import deserialize_registered


class LearningRateSchedule:
    """Base class: ``schedule(step) -> learning rate``."""

    def __call__(self, step: int) -> float:
        raise NotImplementedError

    def get_config(self) -> dict:
        raise NotImplementedError

    @classmethod
    def from_config(cls, config):
        return cls(**config)


class _TimeDecay(LearningRateSchedule):
    """Shared arguments of the schedules that decay with ``step / decay_steps``."""

    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase=False):
        self.initial_learning_rate = float(initial_learning_rate)
        self.decay_steps = _positive("decay_steps", decay_steps)
        self.decay_rate = float(decay_rate)
        self.staircase = bool(staircase)

    def _progress(self, step):
        p = step / self.decay_steps
        return math.floor(p) if self.staircase else p

    def get_config(self):
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "decay_steps": self.decay_steps,
            "decay_rate": self.decay_rate,
            "staircase": self.staircase,
        }


class ExponentialDecay(_TimeDecay):
    """``initial_learning_rate * decay_rate ** (step / decay_steps)`` (floored if staircase).

    >>> ExponentialDecay(0.1, decay_steps=10, decay_rate=0.5)(10)
    0.05
    """

    def __call__(self, step):
        return self.initial_learning_rate * self.decay_rate ** self._progress(step)


class InverseTimeDecay(_TimeDecay):
    """``initial_learning_rate / (1 + decay_rate * step / decay_steps)``."""

    def __call__(self, step):
        return self.initial_learning_rate / (1.0 + self.decay_rate * self._progress(step))


class PiecewiseConstantDecay(LearningRateSchedule):
    """``values[i]`` while ``boundaries[i-1] < step <= boundaries[i]``.

    >>> s = PiecewiseConstantDecay([10, 20], [1.0, 0.5, 0.1])
    >>> [s(0), s(10), s(11), s(21)]
    [1.0, 1.0, 0.5, 0.1]
    """

    def __init__(self, boundaries, values):
        if len(values) != len(boundaries) + 1:
            raise ValueError(
                "PiecewiseConstantDecay needs one more value than boundaries; received "
                f"{len(boundaries)} boundaries and {len(values)} values."
            )
        self.boundaries = [int(b) for b in boundaries]
        self.values = [float(v) for v in values]

    def __call__(self, step):
        for boundary, value in zip(self.boundaries, self.values):
            if step <= boundary:
                return value
        return self.values[-1]

    def get_config(self):
        return {"boundaries": self.boundaries, "values": self.values}


class PolynomialDecay(LearningRateSchedule):
    """Polynomial decay from ``initial_learning_rate`` to ``end_learning_rate`` over
    ``decay_steps``."""

    def __init__(
        self, initial_learning_rate, decay_steps, end_learning_rate=0.0001, power=1.0, cycle=False
    ):
        self.initial_learning_rate = float(initial_learning_rate)
        self.decay_steps = _positive("decay_steps", decay_steps)
        self.end_learning_rate = float(end_learning_rate)
        self.power = float(power)
        self.cycle = bool(cycle)

    def __call__(self, step):
        decay_steps = self.decay_steps
        if self.cycle:
            decay_steps = decay_steps * max(1.0, math.ceil(step / decay_steps))
        else:
            step = min(step, decay_steps)
        frac = 1.0 - step / decay_steps
        return (
            self.initial_learning_rate - self.end_learning_rate
        ) * frac**self.power + self.end_learning_rate

    def get_config(self):
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "decay_steps": self.decay_steps,
            "end_learning_rate": self.end_learning_rate,
            "power": self.power,
            "cycle": self.cycle,
        }


class CosineDecay(LearningRateSchedule):
    """Optional linear warm-up to ``warmup_target``, then cosine decay to ``alpha`` times it.

    >>> CosineDecay(1.0, decay_steps=10)(10)
    0.0
    """

    def __init__(
        self, initial_learning_rate, decay_steps, alpha=0.0, warmup_target=None, warmup_steps=0
    ):
        self.initial_learning_rate = float(initial_learning_rate)
        self.decay_steps = _positive("decay_steps", decay_steps)
        self.alpha = float(alpha)
        self.warmup_target = None if warmup_target is None else float(warmup_target)
        self.warmup_steps = int(warmup_steps)

    def __call__(self, step):
        target = self.initial_learning_rate
        if self.warmup_target is not None:
            target = self.warmup_target
            if step < self.warmup_steps:
                frac = step / max(self.warmup_steps, 1)
                return self.initial_learning_rate + frac * (target - self.initial_learning_rate)
        step = min(
            step - (self.warmup_steps if self.warmup_target is not None else 0), self.decay_steps
        )
        cosine = 0.5 * (1.0 + math.cos(math.pi * step / self.decay_steps))
        return target * ((1.0 - self.alpha) * cosine + self.alpha)

    def get_config(self):
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "decay_steps": self.decay_steps,
            "alpha": self.alpha,
            "warmup_target": self.warmup_target,
            "warmup_steps": self.warmup_steps,
        }


def _positive(name, value):
    value = float(value)
    if not value > 0:
        raise ValueError(f"`{name}` must be positive; received {name}={value}.")
    return value


_CLASSES = {
    cls.__name__: cls
    for cls in (
        ExponentialDecay,
        InverseTimeDecay,
        PiecewiseConstantDecay,
        PolynomialDecay,
        CosineDecay,
    )
}


def deserialize(config) -> LearningRateSchedule:

    return deserialize_registered(config, "learning rate schedule", _CLASSES, LearningRateSchedule)
