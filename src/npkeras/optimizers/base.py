"""The optimizer base: learning rate (float or schedule), clipping, decoupled weight
decay, per-variable state slots, and state that can be saved and restored.

Optimizers update variables **in place**, so arrays keep their identity; a model hands
them one flat buffer of all its trainable weights, which makes a step a handful of
vectorised calls whatever the number of layers.
"""

from __future__ import annotations

import math

from npkeras import backend
from npkeras.backend import xp
from npkeras.ops.tape import value_of
from npkeras.optimizers import schedules
from npkeras.registry import serialize_object


def _check_positive_float(owner, name, value, allow_zero=False, allow_none=False):
    if value is None and allow_none:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{owner}: `{name}` must be a float; received {name}={value!r}.") from None
    if not math.isfinite(number) or number < 0 or (number == 0 and not allow_zero):
        expected = "a finite float >= 0" if allow_zero else "a finite positive float"
        raise ValueError(f"{owner}: `{name}` must be {expected}; received {name}={value!r}.")
    return number


class Optimizer:
    """Base class. Subclasses define ``slot_names`` and ``update_step(g, v, lr, slots)``.

    Args:
        learning_rate: a float or a :class:`~npkeras.optimizers.schedules.LearningRateSchedule`.
        weight_decay: decoupled decay, ``v -= v * weight_decay * lr`` before each update.
        clipnorm: clip each variable's gradient to this L2 norm.
        clipvalue: clip every gradient element to [-clipvalue, clipvalue].
        global_clipnorm: clip all gradients together to this global L2 norm.
    """

    slot_names: tuple = ()
    default_learning_rate = 0.001

    def __init__(
        self,
        learning_rate=None,
        weight_decay=None,
        clipnorm=None,
        clipvalue=None,
        global_clipnorm=None,
        name: str | None = None,
    ):
        owner = type(self).__name__
        if learning_rate is None:
            learning_rate = self.default_learning_rate
        if isinstance(learning_rate, dict):
            learning_rate = schedules.deserialize(learning_rate)
        if not isinstance(learning_rate, schedules.LearningRateSchedule) and callable(
            learning_rate
        ):
            raise TypeError(
                f"{owner}: `learning_rate` must be a float or a LearningRateSchedule; "
                f"received {learning_rate!r}."
            )
        if not isinstance(learning_rate, schedules.LearningRateSchedule):
            learning_rate = _check_positive_float(
                owner, "learning_rate", learning_rate, allow_zero=True
            )
        self._learning_rate = learning_rate
        self.weight_decay = _check_positive_float(owner, "weight_decay", weight_decay, True, True)
        self.clipnorm = _check_positive_float(owner, "clipnorm", clipnorm, allow_none=True)
        self.clipvalue = _check_positive_float(owner, "clipvalue", clipvalue, allow_none=True)
        self.global_clipnorm = _check_positive_float(
            owner, "global_clipnorm", global_clipnorm, allow_none=True
        )
        if sum(v is not None for v in (self.clipnorm, self.clipvalue, self.global_clipnorm)) > 1:
            raise ValueError(
                f"{owner}: set only one of `clipnorm`, `clipvalue` and `global_clipnorm`."
            )
        self.name = name or type(self).__name__.lower()
        self.iterations = 0
        self.built = False
        self._slots: list[dict] = []
        self._scratch: list = []
        self._segments = None
        self._globals: dict = {}

    # -- learning rate -------------------------------------------------------------
    @property
    def learning_rate(self) -> float:
        """The learning rate the next update will use."""
        if isinstance(self._learning_rate, schedules.LearningRateSchedule):
            return float(self._learning_rate(self.iterations))
        return self._learning_rate

    @learning_rate.setter
    def learning_rate(self, value):
        if isinstance(value, schedules.LearningRateSchedule):
            self._learning_rate = value
        else:
            self._learning_rate = _check_positive_float(
                type(self).__name__, "learning_rate", value, True
            )

    # -- state ---------------------------------------------------------------------
    def build(self, variables, segments=None) -> None:
        """Allocate state for ``variables``; ``segments[i]`` splits variable i into the
        model weights it packs (used by per-weight ``clipnorm``)."""
        self._slots = [{name: xp.zeros_like(v) for name in self.slot_names} for v in variables]
        for slots, v in zip(self._slots, variables):
            self.init_slots(slots, v)
        self._scratch = [xp.empty_like(v) for v in variables]
        self._segments = segments
        self.built = True

    def init_slots(self, slots: dict, variable) -> None:
        """Set non-zero initial slot values (Adagrad's accumulator)."""

    def get_state(self) -> dict:
        """Every array needed to resume: ``iterations`` and each slot as ``'{i}/{name}'``."""
        state = {"iterations": xp.asarray(self.iterations, dtype="int64")}
        for i, slots in enumerate(self._slots):
            for name, arr in slots.items():
                state[f"{i}/{name}"] = arr
        for name, value in self._globals.items():
            state[f"global/{name}"] = xp.asarray(value)
        return state

    def set_state(self, state: dict, variables) -> None:
        """Restore :meth:`get_state` output for ``variables`` (building the slots first)."""
        self.build(variables, self._segments)
        self.iterations = int(backend.to_numpy(state["iterations"]))
        for key, value in state.items():
            if key == "iterations":
                continue
            head, _, name = key.partition("/")
            if head == "global":
                self._globals[name] = backend.to_float(value)
                continue
            index = int(head)
            if index >= len(self._slots) or name not in self._slots[index]:
                raise ValueError(
                    f"Optimizer state entry {key!r} does not fit this {type(self).__name__}."
                )
            target = self._slots[index][name]
            if target.shape != value.shape:
                raise ValueError(
                    f"Optimizer state entry {key!r} has shape {value.shape}, but the model's "
                    f"variable needs {target.shape}."
                )
            target[...] = backend.to_device(value)

    # -- updates -------------------------------------------------------------------
    def _clip(self, grads):
        if self.clipvalue is None and self.global_clipnorm is None and self.clipnorm is None:
            return grads
        if self.clipvalue is not None:
            return [xp.clip(g, -self.clipvalue, self.clipvalue) for g in grads]
        if self.global_clipnorm is not None:
            norm = math.sqrt(sum(backend.to_float((g * g).sum()) for g in grads))
            if norm > self.global_clipnorm:
                return [g * (self.global_clipnorm / norm) for g in grads]
            return grads
        if self.clipnorm is not None:
            return [self._clip_by_norm(g, i) for i, g in enumerate(grads)]
        return grads

    def _clip_by_norm(self, g, index):
        bounds = self._segments[index] if self._segments else None
        if not bounds or len(bounds) <= 2:
            norm = math.sqrt(backend.to_float((g * g).sum()))
            return g * (self.clipnorm / norm) if norm > self.clipnorm else g
        # one flat buffer holding several weights: clip each weight's slice on its own
        starts = xp.asarray(bounds[:-1])
        sq = xp.add.reduceat(g * g, starts)
        scale = self.clipnorm / xp.maximum(xp.sqrt(sq), self.clipnorm)
        return g * xp.repeat(scale, xp.diff(xp.asarray(bounds))).astype(g.dtype)

    def apply(self, grads, variables) -> None:
        """One update of every variable from its gradient (lists of equal length)."""
        grads = [value_of(g) for g in grads]
        constrained = [v for v in variables if getattr(v, "constraint", None) is not None]
        variables = [value_of(v) for v in variables]
        if len(grads) != len(variables):
            raise ValueError(
                f"{type(self).__name__}.apply needs one gradient per variable; received "
                f"{len(grads)} gradients and {len(variables)} variables."
            )
        if not self.built:
            self.build(variables)
        elif len(self._slots) != len(variables) or any(
            s[next(iter(s))].shape != v.shape for s, v in zip(self._slots, variables) if s
        ):
            raise ValueError(
                f"{type(self).__name__} was built for other variables; create a new optimizer "
                "for a different set of weights."
            )
        self._update(grads, variables)
        for variable in constrained:  # projected after the update, as Keras does
            variable.assign(variable.constraint(variable.value))

    def apply_flat(self, grad, variable) -> None:
        """:meth:`apply` for the one flat buffer a model trains, without the checks."""
        if not self.built:
            self.build([variable])
        self._update([grad], [variable])

    def _update(self, grads, variables):
        grads = self._clip(grads)
        lr = self.learning_rate
        self.before_update()
        for i, (g, v) in enumerate(zip(grads, variables)):
            if self.weight_decay:
                v *= 1.0 - self.weight_decay * lr
            self.update_step(g, v, lr, self._slots[i], self._scratch[i])
        self.iterations += 1

    def apply_gradients(self, grads_and_vars) -> None:
        """Keras spelling of :meth:`apply`: an iterable of ``(gradient, variable)`` pairs."""
        pairs = list(grads_and_vars)
        self.apply([g for g, _ in pairs], [v for _, v in pairs])

    def before_update(self) -> None:
        """Hook run once per step before the variables are updated (Nadam's schedule)."""

    def update_step(self, g, v, lr, slots, tmp) -> None:
        raise NotImplementedError

    # -- config --------------------------------------------------------------------
    def get_config(self) -> dict:
        lr = self._learning_rate
        if isinstance(lr, schedules.LearningRateSchedule):
            lr = serialize_object(lr)
        return {
            "name": self.name,
            "learning_rate": lr,
            "weight_decay": self.weight_decay,
            "clipnorm": self.clipnorm,
            "clipvalue": self.clipvalue,
            "global_clipnorm": self.global_clipnorm,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def _step_power(self, base):
        return base ** (self.iterations + 1)

    def __repr__(self):
        return (f"<{type(self).__name__} learning_rate={self.learning_rate:g}, "
                f"iterations={self.iterations}>")


def float_arg(owner, name, value, low=0.0, high=None):
    """A float hyper-parameter in [low, high) with a Keras-style error."""
    value = float(value)
    if not math.isfinite(value) or value < low or (high is not None and value >= high):
        span = f"[{low}, {high})" if high is not None else f">= {low}"
        raise ValueError(f"{owner}: `{name}` must be a float in {span}; received {name}={value}.")
    return value
