"""The Metric base class, the mean-of-a-function wrapper and the shared input helpers.

A metric keeps its state in variables made with :meth:`Metric.add_variable`; the base
:meth:`Metric.reset_state` puts each back to its initial value, so a custom metric needs
only ``update_state`` and ``result`` (as in Keras 3). Tracked tensors and Variables given
to ``update_state`` are unwrapped to plain arrays once, here, for every subclass.
"""

from __future__ import annotations

import functools

from npkeras import initializers
from npkeras.backend import to_float, xp
from npkeras.naming import to_snake_case
from npkeras.ops.tape import value_of
from npkeras.ops.variable import Variable

#: metric state accumulates in float64 so epoch values over many batches stay exact
STATE_DTYPE = "float64"


def _plain(value):
    """The array behind a tensor or variable (also inside lists and tuples)."""
    if isinstance(value, (list, tuple)):
        return type(value)(_plain(v) for v in value)
    return value_of(value)


def _as_result(value):
    """A scalar result as a Python float, anything larger as an array."""
    value = value_of(value)
    if isinstance(value, dict):
        return value
    if hasattr(value, "ndim") and value.ndim == 0:
        return to_float(value)
    return value


class Metric:
    """Base class of streaming metrics, as ``keras.metrics.Metric``.

    Subclasses create their state with :meth:`add_variable` in ``__init__``, and define
    ``update_state(y_true, y_pred, sample_weight=None)`` and ``result()``;
    ``reset_state()`` defaults to restoring every variable's initial value.

    Args:
        name: the metric's name in logs (default: the class's snake-case name).
        dtype: accepted for Keras compatibility; state is kept in float64.

    >>> import numpy as np
    >>> class Count(Metric):
    ...     def __init__(self, name="count", **kwargs):
    ...         super().__init__(name=name, **kwargs)
    ...         self.n = self.add_variable(shape=(), initializer="zeros", name="n")
    ...     def update_state(self, y_true, y_pred, sample_weight=None):
    ...         self.n.assign_add(len(y_true))
    ...     def result(self):
    ...         return self.n
    >>> m = Count()
    >>> m.update_state(np.zeros(3), np.zeros(3))
    >>> m.result()
    3.0
    >>> m.reset_state(); m.result()
    0.0
    """

    #: whether larger is better (used by callbacks in mode='auto')
    direction = "down"

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        update = cls.__dict__.get("update_state")
        if update is not None and not getattr(update, "_unwraps_tensors", False):

            @functools.wraps(update)
            def update_state(self, *args, **kwargs):
                return update(self, *map(_plain, args), **{k: _plain(v) for k, v in kwargs.items()})

            update_state._unwraps_tensors = True
            cls.update_state = update_state
            # the training loop, whose arrays are plain already, calls the class's own
            # update without the unwrapping (it runs for every metric every batch)
            cls._update_arrays = update
        result = cls.__dict__.get("result")
        if result is not None and not getattr(result, "_plain_result", False):

            @functools.wraps(result)
            def plain_result(self):
                return _as_result(result(self))

            plain_result._plain_result = True
            cls.result = plain_result

    def __init__(self, name: str | None = None, dtype=None):
        if name is None:
            name = getattr(type(self), "name", None) or to_snake_case(type(self).__name__)
        self.name = name
        self.dtype = dtype
        if getattr(self, "_metric_variables", None) is None:
            self._metric_variables: list = []

    # -- state -----------------------------------------------------------------------
    def add_variable(
        self, shape=(), initializer="zeros", dtype=None, aggregation="sum", name: str | None = None
    ) -> Variable:
        """A state variable (a non-trainable :class:`~npkeras.Variable`) that
        :meth:`reset_state` restores to its initial value."""
        if getattr(self, "_metric_variables", None) is None:
            self._metric_variables = []
        shape = tuple(int(d) for d in (shape if isinstance(shape, (tuple, list)) else (shape,)))
        init = initializers.get(initializer) if isinstance(initializer, str) else initializer
        variable = Variable(
            init,
            shape=shape,
            dtype=dtype or STATE_DTYPE,
            trainable=False,
            name=name or f"variable_{len(self._metric_variables)}",
        )
        self._metric_variables.append((variable, value_of(variable).copy()))
        return variable

    def add_weight(self, shape=(), initializer=None, dtype=None, name: str | None = None):
        """Keras 2's name for :meth:`add_variable`."""
        return self.add_variable(shape, initializer or "zeros", dtype, name=name)

    @property
    def variables(self) -> list:
        return [v for v, _ in getattr(self, "_metric_variables", [])]

    def reset_state(self) -> None:
        """Put every variable made with :meth:`add_variable` back to its initial value."""
        for variable, initial in getattr(self, "_metric_variables", []):
            variable.assign(initial)

    def reset_states(self) -> None:
        """Keras 2's name for :meth:`reset_state`."""
        self.reset_state()

    def update_state(self, *args, **kwargs) -> None:
        raise NotImplementedError(f"Metric {type(self).__name__} does not define update_state().")

    _update_arrays = update_state

    def result(self):
        raise NotImplementedError(f"Metric {type(self).__name__} does not define result().")

    def __call__(self, *args, **kwargs):
        """Update the state with one batch and return the running result (as Keras)."""
        self.update_state(*args, **kwargs)
        return self.result()

    # -- config ----------------------------------------------------------------------
    def get_config(self) -> dict:
        return {"name": self.name, "dtype": self.dtype}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name}>"


def weights_for(values, sample_weight):
    """``sample_weight`` broadcast to the shape of ``values`` (None stays None)."""
    if sample_weight is None:
        return None
    w = xp.asarray(sample_weight, dtype="float64")
    while w.ndim < values.ndim:
        w = w[..., None]
    while w.ndim > values.ndim and w.shape[-1] == 1:
        w = w[..., 0]
    return xp.broadcast_to(w, values.shape)


def match_targets(y_true, y_pred):
    """y_true as an array with y_pred's rank (a missing last axis is added)."""
    y_true = xp.asarray(y_true)
    if y_true.ndim == xp.ndim(y_pred) - 1:
        y_true = y_true[..., None]
    return y_true


class Mean(Metric):
    """Weighted mean of the values passed to ``update_state(values, sample_weight=None)``.

    >>> m = Mean()
    >>> m.update_state([1.0, 2.0, 3.0])
    >>> m.result()
    2.0
    """

    def __init__(self, name="mean", dtype=None):
        super().__init__(name, dtype)
        self.total = self.add_variable((), "zeros", name="total")
        self.count = self.add_variable((), "zeros", name="count")

    def update_state(self, values, sample_weight=None):
        values = xp.asarray(values, dtype="float64")
        w = weights_for(values, sample_weight)
        if w is None:
            self.total.assign_add(values.sum())
            self.count.assign_add(values.size)
        else:
            self.total.assign_add((values * w).sum())
            self.count.assign_add(w.sum())

    def result(self):
        count = to_float(self.count.value)
        return to_float(self.total.value) / count if count else 0.0


class MeanMetricWrapper(Mean):
    """Weighted mean over all samples of ``fn(y_true, y_pred, **kwargs)`` (per-sample values).

    Args:
        fn: the per-sample function.
        name: the metric's name.
        dtype: accepted for Keras compatibility.
        **kwargs: passed to ``fn`` on every call.

    >>> import numpy as np
    >>> m = MeanMetricWrapper(lambda t, p: np.abs(t - p).mean(axis=-1), name="l1")
    >>> m.update_state(np.array([[1.0], [2.0]]), np.array([[1.5], [2.0]]))
    >>> m.result()
    0.25
    """

    def __init__(self, fn, name: str | None = None, dtype=None, **kwargs):
        super().__init__(name or getattr(fn, "__name__", "metric"), dtype)
        self._fn = fn
        self._fn_kwargs = kwargs

    def update_state(self, y_true, y_pred, sample_weight=None):
        # the arguments are plain (this method is wrapped), so Mean's own update follows
        Mean._update_arrays(self, self._fn(y_true, y_pred, **self._fn_kwargs), sample_weight)

    def get_config(self):
        return {**super().get_config(), **self._fn_kwargs}


def mean_metric(class_name, fn, default_name, direction="up", doc=None, **defaults):
    """A :class:`MeanMetricWrapper` subclass with Keras's constructor
    ``(name=default_name, dtype=None, **options)``."""

    def __init__(self, name=None, dtype=None, **kwargs):
        unknown = sorted(set(kwargs) - set(defaults))
        if unknown:
            raise TypeError(
                f"{class_name} got unexpected keyword argument(s): {', '.join(unknown)}."
            )
        MeanMetricWrapper.__init__(self, fn, name or default_name, dtype, **{**defaults, **kwargs})

    def get_config(self):
        return MeanMetricWrapper.get_config(self)

    return type(
        class_name,
        (MeanMetricWrapper,),
        {
            "__init__": __init__,
            "get_config": get_config,
            "direction": direction,
            "__doc__": doc or f"Streaming weighted mean of ``{fn.__name__}`` over all samples.",
            "__module__": "npkeras.metrics",
        },
    )


class Sum(Metric):
    """Weighted sum of the values passed to ``update_state(values, sample_weight=None)``."""

    def __init__(self, name="sum", dtype=None):
        super().__init__(name, dtype)
        self.total = self.add_variable((), "zeros", name="total")

    def update_state(self, values, sample_weight=None):
        values = xp.asarray(values, dtype="float64")
        w = weights_for(values, sample_weight)
        self.total.assign_add(values.sum() if w is None else (values * w).sum())

    def result(self):
        return self.total
